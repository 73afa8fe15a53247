from mitmproxy.test import tflow

from ghost_addons.capture import ConnectionsSeen, flow_record, tag_flow, take_interaction_header


def test_record_from_a_mitmproxy_flow() -> None:
    f = tflow.tflow(resp=True)
    f.request.headers["X-Ghost-Interaction"] = "int-7"
    take_interaction_header(f)
    tag_flow(f, "rule:x")
    f.response.content = b"x" * 50
    record = flow_record(f, "s1", max_body_size=10)
    assert "X-Ghost-Interaction" not in f.request.headers
    assert record.interaction_id == "int-7" and record.tags == ["rule:x"] and record.session_id == "s1"
    assert record.response.body == b"x" * 10 and record.response.body_size == 50
    assert record.request.method == f.request.method and record.request.path == "/path"
    assert record.id == flow_record(f, "s1").id   # stable per live flow


def test_error_flow_has_no_response() -> None:
    f = tflow.tflow(err=True)
    record = flow_record(f, "s")
    assert record.response is None and record.error


def test_connections_seen_once() -> None:
    seen = ConnectionsSeen(capacity=2)
    assert seen.first_use("a") and not seen.first_use("a")
    seen.first_use("b"), seen.first_use("c")
    assert seen.first_use("a")   # forgotten beyond capacity
