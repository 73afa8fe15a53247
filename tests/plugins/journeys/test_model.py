from datetime import UTC, datetime

import orjson
import pytest

from plugins.journeys.model import (
    Interaction,
    Journey,
    clean_attributes,
    parse_interaction_header,
    parse_timestamp,
    step_data,
    step_type,
)

from .helpers import make_flow, make_interaction


def test_parse_counter_and_ambient_headers() -> None:
    h = parse_interaction_header("01JABCDEF-3-1763000000123")
    assert h is not None
    assert (h.journey_id, h.counter, h.timestamp_ms, h.ambient) == ("01JABCDEF", 3, 1763000000123, False)
    a = parse_interaction_header(" 01JABCDEF-ambient-1763000000999 ")
    assert a is not None
    assert a.ambient and a.counter is None and a.raw == "01JABCDEF-ambient-1763000000999"
    # A journey id with dashes still parses (split from the right).
    d = parse_interaction_header("my-journey-7-5")
    assert d is not None and d.journey_id == "my-journey" and d.counter == 7


@pytest.mark.parametrize("value", ["", "abc", "J-x-1", "J-1-x", "-1-2", "J-ambient", "J--1"])
def test_foreign_header_values_are_not_parsed(value: str) -> None:
    assert parse_interaction_header(value) is None


def test_interaction_from_extension_payload() -> None:
    raw = {
        "id": "J-1-1763000000000",
        "type": "Click",
        "selector": "button[data-testid=\"login\"]",
        "element_type": "BUTTON",
        "element_text": "Sign in",
        "page_url": "http://app.test/login",
        "page_title": "Login",
        "timestamp": 1763000000000,
        "journey_id": "J",
        "attributes": {
            "id": "login", "name": "", "role": "button", "aria_label": "Sign in",
            "test_id": "login", "test_id_attr": "data-testid", "visible_text": "Sign in",
            "tag": "button", "unknown": "dropped",
        },
        "data": {"value": "x"},
    }
    i = Interaction.from_payload(raw, id="fallback", session_id="S")
    assert i.id == "J-1-1763000000000" and i.session_id == "S" and i.type == "click"
    assert i.element_type == "button" and i.correlates
    assert i.timestamp == datetime(2025, 11, 13, 2, 13, 20, tzinfo=UTC)
    assert i.attributes == {
        "id": "login", "role": "button", "aria_label": "Sign in", "test_id": "login",
        "test_id_attr": "data-testid", "visible_text": "Sign in", "tag": "button",
    }
    assert orjson.loads(i.data) == {"value": "x"}
    d = i.to_dict()
    assert d["timestamp"] == "2025-11-13T02:13:20.000000Z" and d["flow_id"] is None


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"page_url": "http://a"}, "field 'type' is required"),
        ({"type": "click"}, "field 'page_url' is required"),
        ({"type": "Not A Type!", "page_url": "http://a"}, "is not a lowercase event name"),
        ({"type": "click", "page_url": 5.5j}, "must be a string"),
        ({"type": "click", "page_url": "http://a", "timestamp": "yesterday"}, "neither Unix milliseconds"),
        ({"type": "click", "page_url": "http://a", "timestamp": -1}, "is not Unix milliseconds"),
        ({"type": "click", "page_url": "http://a", "attributes": []}, "attributes must be an object"),
        ({"type": "click", "page_url": "http://a", "attributes": {"id": {}}}, "attributes.id must be a string"),
        ({"type": "click", "page_url": "http://a", "attributes": {"test_id_attr": "class"}}, "is not one of"),
    ],
)
def test_bad_interactions_name_the_field(raw: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Interaction.from_payload(raw, id="x", session_id="S")


def test_input_and_navigation_do_not_correlate() -> None:
    for kind in ("input", "navigation", "hover", "focus"):
        assert not make_interaction(kind, at_ms=1).correlates
    for kind in ("click", "change", "submit"):
        assert make_interaction(kind, at_ms=1).correlates


def test_timestamp_forms() -> None:
    assert parse_timestamp("2026-03-09T14:32:00.123456789Z") == datetime(2026, 3, 9, 14, 32, 0, 123456, tzinfo=UTC)
    assert parse_timestamp(0) == datetime(1970, 1, 1, tzinfo=UTC)
    assert (datetime.now(UTC) - parse_timestamp(None)).total_seconds() < 5


def test_attributes_keep_every_spec_key() -> None:
    keys = ["id", "name", "role", "aria_label", "placeholder", "type", "href", "title",
            "test_id", "test_id_attr", "visible_text", "tag"]
    raw = {k: "data-cy" if k == "test_id_attr" else f"v-{k}" for k in keys}
    assert list(clean_attributes(raw)) == keys


def test_step_data_shapes() -> None:
    flow = make_flow("http://app.test/api/auth?next=%2F", "POST", status=201, body=b'{"ok":true}')
    interaction = make_interaction("click", at_ms=1_000)
    flow_data = step_data(flow, None)
    assert flow_data == {
        "method": "POST", "url": "http://app.test/api/auth?next=%2F", "host": "app.test",
        "path": "/api/auth", "status_code": 201, "content_type": "application/json",
        "content_length": 11, "duration_ms": 12.0,
    }
    interaction_data = step_data(None, interaction)
    assert interaction_data == {
        "interaction_type": "click", "selector": "#login", "element_type": "button",
        "element_text": "Sign in", "page_url": "http://app.test/login", "page_title": "Login",
        "attributes": {"id": "login", "tag": "button", "visible_text": "Sign in"},
    }
    assert step_data(flow, interaction) == {**flow_data, **interaction_data}
    failed = step_data(make_flow(response=False), None)
    assert failed["status_code"] == 0 and failed["content_length"] == 0


def test_step_type() -> None:
    assert step_type("f", "i") == "action"
    assert step_type("f", None) == "flow"
    assert step_type(None, "i") == "interaction"
    with pytest.raises(ValueError):
        step_type(None, None)


def test_journey_shape() -> None:
    start = datetime(2026, 3, 9, 14, 32, tzinfo=UTC)
    j = Journey("J", "S", "Checkout", "recording", start, start)
    assert j.to_dict() == {
        "id": "J", "session_id": "S", "name": "Checkout", "status": "recording",
        "flow_count": 0, "interaction_count": 0, "started_at": "2026-03-09T14:32:00.000000Z",
        "completed_at": None, "created_at": "2026-03-09T14:32:00.000000Z",
    }
