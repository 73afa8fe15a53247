"""What a journey exporter is given: the journey and its ordered steps, with their full
flows and interactions, as plain data (no store, no I/O).

An exporter is a pure function `generate(journey_export: JourneyExport) -> str`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from ghost_addons.model import Flow
from plugins.journeys.model import Interaction, Journey, Step, parse_interaction_header


@dataclass(frozen=True, slots=True)
class ExportStep:
    """One step of the journey: `flow` and `interaction` are None when the step has none
    (or when what it pointed at was deleted)."""

    step: Step
    flow: Flow | None = None
    interaction: Interaction | None = None


@dataclass(frozen=True, slots=True)
class JourneyExport:
    """A journey and its steps in `step_order`. `test_id_attribute` is the attribute the UI
    formats' test-ID locators read (the `journeys.test_id_attribute` setting)."""

    journey: Journey
    steps: list[ExportStep] = field(default_factory=list)
    test_id_attribute: str = "data-testid"

    def flows(self) -> list[Flow]:
        """The flows API formats export, in step order: those with a response and an absolute
        http(s) URL (incomplete flows and pure interaction steps are left out).

        When some flows carry this journey's `X-Ghost-Interaction` value (the extension
        tags what the recorded tab sends), flows without it are left out too: they are the
        browser's own requests (account and password-leak checks) or other clients', not
        the application's. A journey without tagged flows (built through the API, or
        recorded without the extension's header) keeps them all."""
        flows = [s.flow for s in self.steps if s.flow is not None and exportable(s.flow)]
        tagged = [f for f in flows if self.sent_by_recorded_tab(f)]
        return tagged or flows

    def sent_by_recorded_tab(self, flow: Flow) -> bool:
        header = parse_interaction_header(flow.interaction_id) if flow.interaction_id else None
        return header is not None and header.journey_id == self.journey.id


def exportable(flow: Flow) -> bool:
    if flow.response is None or not flow.request.method or not flow.request.url:
        return False
    return urlsplit(flow.request.url).scheme in ("http", "https")


@dataclass(frozen=True, slots=True)
class JourneyExporter:
    """A registered journey export format: `GET /api/v1/journeys/{id}/export?format=NAME`
    answers `generate(journey_export)` as `content_type`, saved as `journey-{id8}{extension}`.
    `needs` is "flows" for API formats (422 when the journey has no exportable flows) or
    "interactions" for UI formats (422 when it has no interaction steps)."""

    generate: Callable[[JourneyExport], str]
    content_type: str
    extension: str
    needs: str = "flows"


def check_exporter(name: str, entry: object) -> None:
    """The registry's check: any object with `generate`, `content_type` and `extension` (and
    optionally `needs`) will do, so a plugin need not import this one to register a format."""
    if not callable(getattr(entry, "generate", None)):
        raise TypeError(f"expected an exporter with a callable generate, got {type(entry).__name__}")
    content_type, extension = getattr(entry, "content_type", ""), getattr(entry, "extension", "")
    if not isinstance(content_type, str) or not content_type:
        raise ValueError("a content_type is required")
    if not isinstance(extension, str) or not extension.startswith(".") or "/" in extension or '"' in extension:
        raise ValueError(f"extension {extension!r} must start with '.' (e.g. '.sh')")
    needs = getattr(entry, "needs", "flows")
    if needs not in ("flows", "interactions"):
        raise ValueError(f"needs is {needs!r}; use 'flows' or 'interactions'")


def filename(journey_id: str, extension: str) -> str:
    return f"journey-{journey_id[:8]}{extension}"
