"""What goes over the wire between Ghost and an addon worker, kept small: compact answers for
handlers that changed nothing, header bytes that are not UTF-8, and frames written together."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from mitmproxy.test import tflow
from py_mini_racer import py_mini_racer as racer_errors
from py_mini_racer.py_mini_racer import MiniRacer

from ghost_addons.capture import TAGS_KEY
from plugins.js_addons import changes as ch
from plugins.js_addons.runtime import AddonRuntime, LoadedAddon, RuntimeConfig
from plugins.js_addons.worker import PRELUDE_PATH, Engine, Marker, v8_flags

pytestmark = pytest.mark.timeout(120)

VIEW = {"request": {"method": "GET", "url": "http://example.com/a", "host": "example.com", "path": "/a",
                    "headers": [["Host", "example.com"]]}}


class Failures:
    def __init__(self) -> None:
        self.errors: list[str] = []

    def addon_log(self, addon: LoadedAddon, level: str, message: str) -> None: ...

    def addon_failed(self, addon: LoadedAddon, error: str) -> None:
        self.errors.append(error)

    def addon_disabled(self, addon: LoadedAddon, reason: str) -> None: ...


@pytest.fixture
def engine() -> Iterator[Engine]:
    MiniRacer.v8_flags = v8_flags(128)
    yield Engine(MiniRacer, racer_errors, PRELUDE_PATH.read_text(encoding="utf-8"), Marker(None))


@pytest.fixture
async def runtime() -> AsyncIterator[tuple[AddonRuntime, Failures]]:
    events = Failures()
    rt = AddonRuntime(RuntimeConfig(), events)
    await rt.start()
    try:
        yield rt, events
    finally:
        await rt.stop()


def load(engine: Engine, slot: str, code: str) -> None:
    reply = engine.handle({"op": "load", "seq": 1, "slot": slot, "code": code})
    assert reply["ok"], reply


def run(engine: Engine, *slots: str) -> list[dict[str, Any]]:
    view = {"request": {**VIEW["request"], "headers": list(VIEW["request"]["headers"])}}
    return engine.handle({"op": "run", "seq": 2, "phase": "request", "calls": list(slots), "flow": view})["results"]


def test_a_handler_that_changes_and_logs_nothing_answers_only_ok(engine: Engine) -> None:
    load(engine, "quiet", "ghost.onRequest(function (flow) { var n = flow.request.method.length; });")
    load(engine, "tags", "ghost.onRequest(function (flow) { flow.tag('t'); });")
    load(engine, "logs", "ghost.onRequest(function (flow) { ghost.log('hi'); });")
    load(engine, "async", "ghost.onRequest(async function (flow) { await null; });")
    quiet, tags, logs, later = run(engine, "quiet", "tags", "logs", "async")
    assert quiet == {"slot": "quiet", "ok": True}
    assert later == {"slot": "async", "ok": True}
    assert tags == {"slot": "tags", "ok": True, "logs": [],
                    "changes": {"tags": ["t"], "headers": [], "answer": None}}
    assert logs == {"slot": "logs", "ok": True, "logs": [["info", "hi"]],
                    "changes": {"tags": [], "headers": [], "answer": None}}


def test_an_answer_without_a_change_set_is_a_success_with_no_changes() -> None:
    result = ch.parse_result({"slot": "s", "ok": True})
    assert result == ch.CallResult(True, None, "", [])
    with_logs = ch.parse_result({"slot": "s", "ok": True, "logs": [["warn", "w"]]})
    assert with_logs == ch.CallResult(True, None, "", [("warn", "w")])
    refused = ch.parse_result({"slot": "s", "ok": True, "changes": None})
    assert not refused.ok and "refused" in refused.error


async def test_a_quiet_handler_resets_the_failure_count(runtime) -> None:  # noqa: ANN001
    rt, events = runtime
    addon = await rt.load("A1", "flaky", "var n = 0; ghost.onRequest(function (flow) { if (++n === 1) throw 1; });",
                          0, "2026-01-01T00:00:00Z")
    await rt.run(tflow.tflow(), "request", rt.chain("request"))
    assert addon.failures == 1 and len(events.errors) == 1
    await rt.run(tflow.tflow(), "request", rt.chain("request"))
    assert addon.failures == 0 and addon.last_error


async def test_header_bytes_that_are_not_utf8_reach_javascript_replaced(runtime) -> None:  # noqa: ANN001
    rt, events = runtime
    await rt.load("A1", "echo", """ghost.onRequest(function (flow) {
        flow.setHeader('X-Seen', flow.request.headers['x-raw']);
    });""", 0, "2026-01-01T00:00:00Z")
    flow = tflow.tflow()
    flow.request.headers.fields = ((b"Host", b"example.com"), (b"X-Raw", b"caf\xe9 \xff"))
    await rt.run(flow, "request", rt.chain("request"))
    assert events.errors == []
    assert flow.request.headers["X-Seen"] == "caf\ufffd \ufffd"
    assert ch.header_pairs(flow.request.headers)[1] == ["X-Raw", "caf\ufffd \ufffd"]


async def test_requests_queued_in_one_loop_turn_go_out_in_one_write(runtime) -> None:  # noqa: ANN001
    rt, events = runtime
    await rt.load("A1", "tagger", "ghost.onRequest(function (flow) { flow.tag('seen'); });", 0,
                  "2026-01-01T00:00:00Z")
    worker = rt.shared
    assert worker is not None and worker.proc is not None
    flows = [tflow.tflow() for _ in range(8)]
    runs = [asyncio.ensure_future(rt.run(f, "request", rt.chain("request"))) for f in flows]
    await asyncio.sleep(0)  # every run has queued its request; the flush runs in the next turn
    queued = bytes(worker.proc.unsent)
    assert queued.count(b'"op":"run"') == len(flows)
    await asyncio.wait_for(asyncio.gather(*runs), 30)
    assert not worker.proc.unsent
    assert all(f.metadata[TAGS_KEY] == ["seen"] for f in flows)
    assert events.errors == []


def test_header_changes_are_seen_by_the_same_and_the_next_handlers(engine: Engine) -> None:
    load(engine, "headers", """ghost.onRequest(function (flow) {
        flow.setHeader('X-New', 'v');
        flow.removeHeader('host');
        var keys = Object.keys(flow.request).join(',');
        var seen = [flow.request.headers['x-new'], String(flow.request.headers.Host), 'x-new' in flow.request.headers,
                    JSON.stringify(flow.request.headers), keys];
        flow.request.headers = 'replaced';
        ghost.log(seen.join(' | '), flow.request.headers);
    });""")
    load(engine, "untouched", "ghost.onRequest(function (flow) { flow.setHeader('X-Blind', '1'); });")
    load(engine, "next", "ghost.onRequest(function (flow) { ghost.log(JSON.stringify(flow.request.headers)); });")
    first, blind, after = run(engine, "headers", "untouched", "next")
    assert first["ok"] and first["logs"] == [
        ["info", 'v | undefined | true | {"X-New":"v"} | method,url,host,path,headers,body replaced']]
    assert first["changes"]["headers"] == [["set", "X-New", "v"], ["remove", "host"]]
    assert blind["changes"]["headers"] == [["set", "X-Blind", "1"]]
    assert after["logs"] == [["info", '{"X-New":"v","X-Blind":"1"}']]
