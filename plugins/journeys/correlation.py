"""Turning a recording's flows and interactions into ordered steps (no I/O here).

The extension sets `X-Ghost-Interaction` to `{journey}-{counter}-{ms}` for 600 ms after a
click, change or submit, and to `{journey}-ambient-{ms}` otherwise. A flow carrying a
counter value is an `action` of that interaction; one carrying an ambient value or none
is a `flow`; an interaction no flow answered is an `interaction` step.

One race the header alone cannot win: a page's click handler calls `fetch()` in the very
task that dispatched the click, before the extension's service worker has had a chance to
update its rule. Such a request leaves with the *previous* header value, whose timestamp
is older than the interaction. So a flow whose header (of this journey) was set before an
interaction that happened at most `window_ms` (the backend's 500 ms window) before the
request started belongs to that interaction. Flows without any header (other clients,
resource types the rule does not cover) are never correlated by time.

Events are held for `settle_ms` after they happened and released in the order they
happened, so step order follows the user's timeline even though a flow is only known
when its response has completed, and an interaction's fate (action or interaction step)
is only known once its window has passed. Stopping a recording releases everything.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ghost_addons.model import Flow
from plugins.journeys.model import (
    Interaction,
    InteractionHeader,
    datetime_to_ms,
    parse_interaction_header,
    step_data,
    step_type,
)

CORRELATION_WINDOW_MS = 500  # backend window; the extension's 600 ms exceeds it on purpose
EXTENSION_WINDOW_MS = 600
SETTLE_MS = 1500  # how long an event waits for late flows before it becomes a step
CLOCK_SLACK_MS = 10  # page clock (ms) vs proxy clock (µs) rounding
MAX_REMEMBERED_INTERACTIONS = 5000


@dataclass(slots=True)
class StepDraft:
    """A step ready to store: the buffer has decided its type and its place."""

    step_order: int
    type: str
    flow_id: str | None
    interaction_id: str | None
    data: dict[str, Any]
    timestamp: datetime


@dataclass(slots=True)
class _Pending:
    at_ms: float
    seq: int
    flow: Flow | None = None
    interaction: Interaction | None = None
    resolved: bool = False
    correlated_to: str | None = None


def correlate(
    header: InteractionHeader | None,
    flow_started_ms: float,
    journey_id: str,
    interactions: Iterable[Interaction],
    window_ms: float = CORRELATION_WINDOW_MS,
) -> str | None:
    """The id of the interaction that caused a flow, or None for a standalone flow.

    `interactions` are the correlating interactions of the journey seen so far.
    """
    if header is None or header.journey_id != journey_id:
        return None
    by_id: dict[str, Interaction] = {}
    stale_match: Interaction | None = None
    for interaction in interactions:
        by_id[interaction.id] = interaction
        at = interaction.timestamp_ms
        if (
            header.timestamp_ms < at <= flow_started_ms + CLOCK_SLACK_MS
            and flow_started_ms - at <= window_ms
            and (stale_match is None or at > stale_match.timestamp_ms)
        ):
            stale_match = interaction
    if stale_match is not None:
        return stale_match.id
    if not header.ambient and header.raw in by_id:
        return header.raw
    return None


class RecordingBuffer:
    """The pending events of one recording and the monotonic step counter."""

    def __init__(
        self,
        journey_id: str,
        *,
        settle_ms: float = SETTLE_MS,
        window_ms: float = CORRELATION_WINDOW_MS,
        first_order: int = 1,
    ) -> None:
        self.journey_id = journey_id
        self.settle_ms = settle_ms
        self.window_ms = window_ms
        self.next_order = first_order
        self._pending: list[_Pending] = []
        self._seq = 0
        self._interactions: dict[str, Interaction] = {}  # correlating ones, oldest first
        self._answered: set[str] = set()  # interactions that already have an action step

    def __len__(self) -> int:
        return len(self._pending)

    def add_flow(self, flow: Flow) -> None:
        self._add(_Pending(datetime_to_ms(flow.started_at), self._next_seq(), flow=flow))

    def add_interaction(self, interaction: Interaction) -> None:
        if interaction.correlates:
            self._interactions[interaction.id] = interaction
            while len(self._interactions) > MAX_REMEMBERED_INTERACTIONS:
                del self._interactions[next(iter(self._interactions))]
        self._add(_Pending(interaction.timestamp_ms, self._next_seq(), interaction=interaction))

    def next_due_ms(self) -> float | None:
        """When the earliest pending event may be released (epoch milliseconds)."""
        if not self._pending:
            return None
        return min(p.at_ms for p in self._pending) + self.settle_ms

    def release(self, now_ms: float | None) -> list[StepDraft]:
        """Steps for every event settled by `now_ms` (all of them when None), in time order."""
        self._pending.sort(key=lambda p: (p.at_ms, p.seq))
        if now_ms is None:
            due, self._pending = self._pending, []
        else:
            cut = 0
            while cut < len(self._pending) and self._pending[cut].at_ms + self.settle_ms <= now_ms:
                cut += 1
            due, self._pending = self._pending[:cut], self._pending[cut:]
        drafts: list[StepDraft] = []
        for index, event in enumerate(due):
            later = due[index + 1 :] + self._pending
            draft = self._draft(event, later)
            if draft is not None:
                drafts.append(draft)
        return drafts

    # --- internals -----------------------------------------------------------------------

    def _next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def _add(self, event: _Pending) -> None:
        self._pending.append(event)

    def _resolve(self, event: _Pending) -> str | None:
        if not event.resolved:
            assert event.flow is not None
            header = parse_interaction_header(event.flow.interaction_id) if event.flow.interaction_id else None
            event.correlated_to = correlate(
                header, event.at_ms, self.journey_id, self._interactions.values(), self.window_ms
            )
            event.resolved = True
        return event.correlated_to

    def _draft(self, event: _Pending, later: list[_Pending]) -> StepDraft | None:
        if event.flow is not None:
            flow = event.flow
            interaction_id = self._resolve(event)
            interaction = self._interactions.get(interaction_id) if interaction_id else None
            if interaction is not None:
                self._answered.add(interaction.id)
            return self._make(
                flow.id, interaction.id if interaction else None, step_data(flow, interaction), flow.started_at
            )
        interaction = event.interaction
        assert interaction is not None
        if interaction.correlates and (
            interaction.id in self._answered
            or any(p.flow is not None and self._resolve(p) == interaction.id for p in later)
        ):
            return None  # its flows carry it as `action` steps
        return self._make(None, interaction.id, step_data(None, interaction), interaction.timestamp)

    def _make(
        self, flow_id: str | None, interaction_id: str | None, data: dict[str, Any], at: datetime
    ) -> StepDraft:
        draft = StepDraft(self.next_order, step_type(flow_id, interaction_id), flow_id, interaction_id, data, at)
        self.next_order += 1
        return draft
