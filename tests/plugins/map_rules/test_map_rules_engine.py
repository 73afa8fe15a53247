import asyncio
from pathlib import Path
from typing import Any

from mitmproxy import http
from mitmproxy.test import tflow

from ghost_addons.capture import METADATA_KEY, TAGS_KEY
from plugins.map_rules.engine import MapRulesEngine
from plugins.map_rules.rules import MapRule, validate_rule


def rule(home: Path, rule_id: str, created: str = "2026-01-01", **raw: Any) -> MapRule:
    return validate_rule(raw, rule_id=rule_id, created_at=created, updated_at=created, home=home)


def flow_to(url: str) -> http.HTTPFlow:
    flow = tflow.tflow()
    flow.request.url = url
    return flow


def test_no_rules_costs_nothing(tmp_path: Path):
    engine = MapRulesEngine(tmp_path)
    flow = flow_to("http://h/x")
    assert engine.on_request(flow) is None
    engine.on_response(flow)
    assert flow.metadata == {}


def test_priority_then_age_and_local_stops_the_phase(tmp_path: Path):
    engine = MapRulesEngine(tmp_path)
    engine.set_rules([
        rule(tmp_path, "late", created="2026-01-02", body="late", priority=1),
        rule(tmp_path, "early", created="2026-01-01", body="early", priority=1),
        rule(tmp_path, "first", body="first", priority=0, path_pattern="/only"),
        rule(tmp_path, "header", type="rewrite", target="request_header", header_name="X-After", replace="1",
             priority=9),
    ])
    assert [r.id for r in engine.ordered()] == ["first", "early", "late", "header"]
    flow = flow_to("http://h/x")
    assert engine.on_request(flow) is None
    assert flow.response is not None and flow.response.content == b"early"
    assert "x-after" not in flow.request.headers  # the local answer ended the request phase
    assert flow.metadata[TAGS_KEY] == ["map-local", "rule:early"]
    assert flow.metadata[METADATA_KEY] == {"map_rules": ["early"]}


def test_disabled_rules_skipped(tmp_path: Path):
    engine = MapRulesEngine(tmp_path)
    engine.set_rules([rule(tmp_path, "off", body="x", enabled=False)])
    flow = flow_to("http://h/x")
    assert engine.on_request(flow) is None and flow.response is None


def test_remote_then_rewrite_then_response_rewrite(tmp_path: Path):
    engine = MapRulesEngine(tmp_path)
    engine.set_rules([
        rule(tmp_path, "remote", type="remote", host_pattern="prod.example", remote_url="http://127.0.0.1:9000"),
        rule(tmp_path, "hdr", type="rewrite", target="request_header", host_pattern="prod.example",
             header_name="X-Env", replace="staging", priority=1),
        rule(tmp_path, "resp", type="rewrite", target="response_body", host_pattern="prod.example",
             match="live", replace="staged", priority=2),
    ])
    flow = flow_to("http://prod.example/api/x?y=1")
    assert engine.on_request(flow) is None
    assert flow.request.url == "http://127.0.0.1:9000/api/x?y=1"
    assert flow.request.headers["x-env"] == "staging"
    flow.response = http.Response.make(200, b"live data", {"content-type": "text/plain"})
    engine.on_response(flow)  # still matches: rules see the request as it was before map rules
    assert flow.response.content == b"staged data"
    assert flow.metadata[METADATA_KEY]["map_rules"] == ["remote", "hdr", "resp"]
    assert flow.metadata[TAGS_KEY] == ["map-remote", "rule:remote", "rewrite", "rule:hdr", "rule:resp"]


async def test_file_is_read_off_the_loop(tmp_path: Path):
    (tmp_path / "m.json").write_text('{"a": 1}')
    engine = MapRulesEngine(tmp_path)
    engine.set_rules([rule(tmp_path, "file", file_path="m.json", status_code=201, headers={"X-A": "b"})])
    flow = flow_to("http://h/x")
    pending = engine.on_request(flow)
    assert pending is not None and flow.response is None
    await asyncio.wait_for(pending, 5)
    assert flow.response.status_code == 201 and flow.response.content == b'{"a": 1}'
    assert flow.response.headers["content-type"].startswith("application/json")
    assert flow.response.headers["x-a"] == "b"
    (tmp_path / "m.json").unlink()
    again = flow_to("http://h/x")
    await asyncio.wait_for(engine.on_request(again), 5)
    assert again.response.status_code == 404
