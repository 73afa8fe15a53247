"""Journey records: interactions, journeys, steps, and the step data shapes of the spec.

`Interaction` is one browser event the extension captured (click, input, change, submit,
navigation). A `Journey` is a named recording in a session; its `Step`s are `action`
(an interaction and the flow it triggered), `flow` (a request nobody clicked for) or
`interaction` (a browser event with no request). Each step's `data` is a JSON string:
`StepInteractionData` for interaction steps, `StepFlowData` for flow steps, and both
merged into one flat object for action steps (so a UI exporter reads an action's
selector and an API exporter its method and URL from the same keys).
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from ghost_addons.api.http import MAX_JSON_DEPTH, nests_deeper
from ghost_addons.model import Flow, format_time, parse_time

STEP_TYPES = ("action", "flow", "interaction")
JOURNEY_STATUSES = ("recording", "completed", "failed", "replaying")

# The events the extension captures; only the correlating ones move the header.
INTERACTION_TYPES = ("click", "input", "change", "submit", "navigation")
CORRELATING_TYPES = frozenset({"click", "change", "submit"})
_TYPE_NAME = re.compile(r"^[a-z][a-z0-9_.-]{0,31}$")

# Which attribute names may hold a test ID, in the extension's order of preference.
TEST_ID_ATTRIBUTES = ("data-testid", "data-test-id", "data-test", "data-cy", "data-id")
ATTRIBUTE_KEYS = (
    "id", "name", "role", "aria_label", "placeholder", "type", "href", "title",
    "test_id", "test_id_attr", "visible_text", "tag",
)

MAX_TEXT = 10_000  # characters kept of any one interaction field


def now_utc() -> datetime:
    return datetime.now(UTC)


def ms_to_datetime(ms: float) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def datetime_to_ms(moment: datetime) -> float:
    return moment.timestamp() * 1000


def _text(raw: dict[str, Any], name: str, *, required: bool = False) -> str:
    value = raw.get(name)
    if value is None or value == "":
        if required:
            raise ValueError(f"field {name!r} is required")
        return ""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise ValueError(f"field {name!r} must be a string, got {value!r}")
    return value[:MAX_TEXT]


def parse_timestamp(value: Any) -> datetime:
    """Unix milliseconds (the extension's `Date.now()`) or an RFC 3339 string."""
    if value is None or value == "":
        return now_utc()
    if isinstance(value, bool):
        raise ValueError(f"timestamp must be Unix milliseconds or RFC 3339, got {value!r}")
    if isinstance(value, (int, float)):
        if not 0 <= value < 1e14:
            raise ValueError(f"timestamp {value!r} is not Unix milliseconds")
        return ms_to_datetime(float(value))
    if isinstance(value, str):
        try:
            return parse_time(value)
        except ValueError:
            raise ValueError(f"timestamp {value!r} is neither Unix milliseconds nor RFC 3339") from None
    raise ValueError(f"timestamp must be Unix milliseconds or RFC 3339, got {value!r}")


def clean_attributes(raw: Any) -> dict[str, str]:
    """The spec's attributes object: known keys only, string values, empty ones dropped."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ValueError(f"attributes must be an object, got {raw!r}")
    out: dict[str, str] = {}
    for key in ATTRIBUTE_KEYS:
        value = raw.get(key)
        if value is None or value == "":
            continue
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str):
            raise ValueError(f"attributes.{key} must be a string, got {value!r}")
        out[key] = value[:MAX_TEXT]
    if "test_id_attr" in out and out["test_id_attr"] not in TEST_ID_ATTRIBUTES:
        raise ValueError(
            f"attributes.test_id_attr {out['test_id_attr']!r} is not one of {', '.join(TEST_ID_ATTRIBUTES)}"
        )
    return out


def _data_json(data: Any) -> str:
    """An interaction's structured ``data`` as JSON text, as deep as a request body may be
    (the extension's messages do not pass through the API's body reader)."""
    try:
        encoded = orjson.dumps(data)
    except orjson.JSONEncodeError as e:  # e.g. nested past orjson's 254 levels
        raise ValueError(f"interaction data cannot be stored: {e}") from None
    if nests_deeper(encoded, MAX_JSON_DEPTH):
        raise ValueError(f"interaction data nests JSON deeper than {MAX_JSON_DEPTH} levels, the limit")
    return encoded.decode()


@dataclass(slots=True)
class Interaction:
    id: str
    session_id: str
    type: str
    page_url: str
    timestamp: datetime
    selector: str = ""
    element_text: str = ""
    element_type: str = ""
    page_title: str = ""
    data: str = ""
    attributes: dict[str, str] = field(default_factory=dict)
    journey_id: str = ""
    flow_id: str = ""

    @property
    def correlates(self) -> bool:
        """Clicks, changes and submits move the correlation header; nothing else does."""
        return self.type in CORRELATING_TYPES

    @property
    def timestamp_ms(self) -> float:
        return datetime_to_ms(self.timestamp)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "session_id": self.session_id,
            "journey_id": self.journey_id,
            "type": self.type,
            "selector": self.selector,
            "element_text": self.element_text,
            "element_type": self.element_type,
            "page_url": self.page_url,
            "page_title": self.page_title,
            "data": self.data,
            "attributes": dict(self.attributes),
            "flow_id": self.flow_id or None,
            "timestamp": format_time(self.timestamp),
        }

    @classmethod
    def from_payload(cls, raw: Any, *, id: str, session_id: str) -> Interaction:
        """Read an interaction from the API or the extension; ValueError names the bad field.

        `id` and `session_id` are the defaults used when the payload has none.
        """
        if not isinstance(raw, dict):
            raise ValueError("an interaction must be a JSON object")
        kind = _text(raw, "type", required=True).lower()
        if not _TYPE_NAME.match(kind):
            raise ValueError(
                f"interaction type {kind!r} is not a lowercase event name like {', '.join(INTERACTION_TYPES)}"
            )
        data = raw.get("data")
        if data is not None and not isinstance(data, str):
            data = _data_json(data)
        interaction_id = _text(raw, "id") or id
        if len(interaction_id) > 200:
            raise ValueError("interaction id is longer than 200 characters")
        return cls(
            id=interaction_id,
            session_id=_text(raw, "session_id") or session_id,
            type=kind,
            page_url=_text(raw, "page_url", required=True),
            timestamp=parse_timestamp(raw.get("timestamp")),
            selector=_text(raw, "selector"),
            element_text=_text(raw, "element_text"),
            element_type=_text(raw, "element_type").lower(),
            page_title=_text(raw, "page_title"),
            data=(data or "")[:MAX_TEXT],
            attributes=clean_attributes(raw.get("attributes")),
            journey_id=_text(raw, "journey_id"),
        )


@dataclass(slots=True)
class StepInteractionData:
    interaction_type: str
    selector: str
    element_type: str
    element_text: str
    page_url: str
    page_title: str
    attributes: dict[str, str]

    @classmethod
    def of(cls, interaction: Interaction) -> StepInteractionData:
        return cls(
            interaction_type=interaction.type,
            selector=interaction.selector,
            element_type=interaction.element_type,
            element_text=interaction.element_text,
            page_url=interaction.page_url,
            page_title=interaction.page_title,
            attributes=dict(interaction.attributes),
        )


@dataclass(slots=True)
class StepFlowData:
    method: str
    url: str
    host: str
    path: str
    status_code: int
    content_type: str
    content_length: int
    duration_ms: float

    @classmethod
    def of(cls, flow: Flow) -> StepFlowData:
        response = flow.response
        return cls(
            method=flow.request.method,
            url=flow.request.url,
            host=flow.request.host,
            path=flow.request.path,
            status_code=response.status_code if response else 0,
            content_type=response.content_type if response else "",
            content_length=response.body_size if response else 0,
            duration_ms=flow.duration_ms,
        )


def step_data(flow: Flow | None, interaction: Interaction | None) -> dict[str, Any]:
    """The data object of a step: flow fields, interaction fields, or both (action)."""
    out: dict[str, Any] = {}
    if flow is not None:
        out.update(dataclasses.asdict(StepFlowData.of(flow)))
    if interaction is not None:
        out.update(dataclasses.asdict(StepInteractionData.of(interaction)))
    return out


def step_type(flow_id: str | None, interaction_id: str | None) -> str:
    if flow_id and interaction_id:
        return "action"
    if flow_id:
        return "flow"
    if interaction_id:
        return "interaction"
    raise ValueError("a step needs a flow, an interaction or both")


@dataclass(slots=True)
class Step:
    id: str
    journey_id: str
    step_order: int
    type: str
    interaction_id: str | None
    flow_id: str | None
    data: str
    timestamp: datetime

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "journey_id": self.journey_id,
            "step_order": self.step_order,
            "type": self.type,
            "interaction_id": self.interaction_id,
            "flow_id": self.flow_id,
            "data": self.data,
            "timestamp": format_time(self.timestamp),
        }


@dataclass(slots=True)
class Journey:
    id: str
    session_id: str
    name: str
    status: str
    started_at: datetime
    created_at: datetime
    completed_at: datetime | None = None
    flow_count: int = 0
    interaction_count: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "session_id": self.session_id,
            "name": self.name,
            "status": self.status,
            "flow_count": self.flow_count,
            "interaction_count": self.interaction_count,
            "started_at": format_time(self.started_at),
            "completed_at": format_time(self.completed_at) if self.completed_at else None,
            "created_at": format_time(self.created_at),
        }

    @property
    def duration_ms(self) -> float:
        end = self.completed_at or now_utc()
        return round((end - self.started_at).total_seconds() * 1000, 3)


@dataclass(frozen=True, slots=True)
class InteractionHeader:
    """A parsed `X-Ghost-Interaction` value: `{journey}-{counter}-{ms}` or `{journey}-ambient-{ms}`."""

    raw: str
    journey_id: str
    counter: int | None  # None for an ambient value
    timestamp_ms: int

    @property
    def ambient(self) -> bool:
        return self.counter is None


def parse_interaction_header(value: str) -> InteractionHeader | None:
    """Parse the header value the extension sets; None when it is not Ghost's format."""
    parts = value.strip().rsplit("-", 2)
    if len(parts) != 3 or not parts[0]:
        return None
    journey_id, middle, stamp = parts
    if not stamp.isdigit():
        return None
    if middle == "ambient":
        counter = None
    elif middle.isdigit():
        counter = int(middle)
    else:
        return None
    return InteractionHeader(value.strip(), journey_id, counter, int(stamp))
