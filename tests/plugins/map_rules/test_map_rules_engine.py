import asyncio
import time
from pathlib import Path
from typing import Any

from mitmproxy import http
from mitmproxy.test import tflow

from ghost_addons.capture import METADATA_KEY, TAGS_KEY
from plugins.map_rules.engine import WORKERS, MapRulesEngine
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
    assert engine.on_response(flow) is None  # still matches: rules see the request as it was before map rules
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


EVIL = "a" * 26 + "!"  # Python's re spends about 16 s on "(a|a)+$" here


async def test_a_regex_that_backtracks_runs_off_the_loop_and_is_skipped(tmp_path: Path):
    engine = MapRulesEngine(tmp_path, limit=0.1)
    engine.set_rules([
        rule(tmp_path, "evil", type="rewrite", target="request_body", match="(a|a)+$", replace="x"),
        rule(tmp_path, "after", type="rewrite", target="request_header", match="v", header_name="X-A",
             replace="w", priority=1),
    ])
    flow = flow_to("http://h/x")
    flow.request.content = EVIL.encode()
    flow.request.headers["x-a"] = "v"
    gaps: list[float] = []

    async def ticker() -> None:
        last = time.monotonic()
        while True:
            await asyncio.sleep(0.005)
            now = time.monotonic()
            gaps.append(now - last)
            last = now

    ticking = asyncio.create_task(ticker())
    started = time.monotonic()
    try:
        pending = engine.on_request(flow)
        assert pending is not None
        await asyncio.wait_for(pending, 5)
    finally:
        ticking.cancel()
        engine.close()
    assert time.monotonic() - started < 1.0
    assert len(gaps) > 5 and max(gaps) < 0.05  # the loop kept running meanwhile
    assert flow.request.content == EVIL.encode()  # skipped ...
    assert flow.request.headers["x-a"] == "w"  # ... and the rules after it still applied
    assert flow.metadata[METADATA_KEY] == {"map_rules_skipped": ["evil"], "map_rules": ["after"]}
    evil = engine.rules["evil"]
    assert evil.enabled and evil.timeouts == 1
    assert "did not finish within its 100 ms limit on the request_body" in evil.last_error
    assert "GET http://h/x" in evil.last_error
    assert evil.to_dict()["timeouts"] == 1


async def test_timeouts_in_a_row_switch_the_rule_off(tmp_path: Path):
    disabled: list[MapRule] = []
    engine = MapRulesEngine(tmp_path, limit=0.02, max_timeouts=3, on_disabled=disabled.append)
    engine.set_rules([rule(tmp_path, "evil", type="rewrite", target="response_body", match="(a|a)+$",
                           replace="x")])

    async def respond(body: str) -> http.HTTPFlow:
        flow = flow_to("http://h/x")
        flow.response = http.Response.make(200, body.encode(), {"content-type": "text/plain"})
        pending = engine.on_response(flow)
        if pending is not None:
            await asyncio.wait_for(pending, 5)
        await engine.settled()
        return flow

    try:
        await respond(EVIL)
        await respond(EVIL)
        assert (await respond("aaa")).response.content == b"x"  # a success ends the run ...
        assert engine.rules["evil"].timeouts_in_a_row == 0
        for _ in range(3):
            await respond(EVIL)
        assert [r.id for r in disabled] == ["evil"]  # ... three in a row switch it off
        off = engine.rules["evil"]
        assert off is disabled[0] and not off.enabled and off.timeouts == 5
        assert off.disabled_reason.startswith("switched off after 3 regex timeouts in a row; last: the regex")
        assert off.to_dict()["disabled_reason"] == off.disabled_reason
        started = time.monotonic()
        assert engine.on_response(flow_to("http://h/x")) is None  # no longer runs at all
        assert (await respond("aaa")).response.content == b"aaa"
        assert time.monotonic() - started < 0.05
    finally:
        engine.close()


async def test_cheap_rewrites_stay_on_the_loop_and_slow_ones_move_to_a_worker(tmp_path: Path):
    engine = MapRulesEngine(tmp_path, limit=0.5)
    engine.set_rules([rule(tmp_path, "r", type="rewrite", target="request_body", match="(a|a)+$", replace="x")])

    def post(body: bytes) -> tuple[http.HTTPFlow, object]:
        flow = flow_to("http://h/x")
        flow.request.content = body
        return flow, engine.on_request(flow)

    try:
        for _ in range(5):  # on a loaded machine one try can pass the 1 ms and go to a worker
            flow, pending = post(b"aaa")
            if pending is None:
                break
            await asyncio.wait_for(pending, 5)
        assert pending is None and flow.request.content == b"x"  # done in place, no thread hop
        flow, pending = post(b"b" * 65 * 1024 + b"aa")  # a large body goes to a worker at once ...
        assert pending is not None
        await asyncio.wait_for(pending, 5)
        assert flow.request.content == b"b" * 65 * 1024 + b"x" and not engine.rules["r"].slow
        flow, pending = post(b"a" * 16 + b"!")  # ... and a regex over 1 ms (some 50 ms here) moves its
        assert pending is not None  # rule there for good, once the worker saw it take that long
        await asyncio.wait_for(pending, 5)
        assert flow.request.content == b"a" * 16 + b"!" and engine.rules["r"].timeouts == 0
        assert engine.rules["r"].slow
        flow, pending = post(b"aaa")
        assert pending is not None
        await asyncio.wait_for(pending, 5)
        assert flow.request.content == b"x"
    finally:
        engine.close()


async def test_a_flow_waits_the_limit_in_wall_clock_time_but_only_a_regex_that_overruns_is_blamed(tmp_path: Path):
    engine = MapRulesEngine(tmp_path, limit=0.05, max_timeouts=1)
    engine.set_rules([rule(tmp_path, "r", type="rewrite", target="request_body", match="a", replace="b")])
    cheap = engine.rules["r"]
    cheap.slow = True  # straight to a worker
    hogs = [engine._workers().submit(time.sleep, 0.3) for _ in range(WORKERS)]  # a queue of work
    try:
        flow = flow_to("http://h/x")
        flow.request.content = b"aaa"
        started = time.monotonic()
        await asyncio.wait_for(engine.on_request(flow), 5)
        assert time.monotonic() - started < 0.25  # the flow did not wait for the queue
        assert flow.request.content == b"aaa" and flow.metadata[METADATA_KEY] == {"map_rules_skipped": ["r"]}
        assert cheap.timeouts == 1 and "did not finish within its 50 ms limit" in cheap.last_error
        await engine.settled()
        assert not hogs[0].done()  # its job was dropped from the queue: it never ran, so no blame
        assert engine.rules["r"] is cheap and cheap.enabled and cheap.timeouts_in_a_row == 0
    finally:
        engine.close()


async def test_a_rewrite_too_large_leaves_the_flow_and_is_switched_off(tmp_path: Path):
    """An empty match replaced by a long text on a 256 KB body would make 51 MB: the flow
    goes on unchanged, and after `max_timeouts` such flows in a row the rule is off."""
    disabled: list = []
    engine = MapRulesEngine(tmp_path, limit=5, max_timeouts=2, on_disabled=disabled.append)
    engine.set_rules([rule(tmp_path, "grow", type="rewrite", target="response_body", match="(?:)",
                           replace="y" * 200)])
    body = b"x" * (1 << 18)
    try:
        for _ in range(2):
            flow = flow_to("http://h/x")
            flow.response = http.Response.make(200, body, {"content-type": "text/plain"})
            pending = engine.on_response(flow)
            if pending is not None:
                await asyncio.wait_for(pending, 30)
            await engine.settled()
            assert flow.response.content == body
        assert [r.id for r in disabled] == ["grow"]
        assert disabled[0].disabled_reason.startswith("switched off after 2 failed rewrites in a row; last: the rewrite")
        assert "larger than 33,554,432 characters" in disabled[0].disabled_reason
    finally:
        engine.close()
