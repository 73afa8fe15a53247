"""The addon runtime with real V8 in real worker processes."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from mitmproxy.test import tflow

from ghost_addons.capture import METADATA_KEY, TAGS_KEY
from plugins.js_addons.runtime import AddonLoadError, AddonRuntime, LoadedAddon, RuntimeConfig

pytestmark = pytest.mark.timeout(120)


@dataclass
class Recorder:
    logs: list[tuple[str, str, str]] = field(default_factory=list)
    failures: list[tuple[str, str]] = field(default_factory=list)
    disabled: list[tuple[str, str]] = field(default_factory=list)

    def addon_log(self, addon: LoadedAddon, level: str, message: str) -> None:
        self.logs.append((addon.name, level, message))

    def addon_failed(self, addon: LoadedAddon, error: str) -> None:
        self.failures.append((addon.name, error))

    def addon_disabled(self, addon: LoadedAddon, reason: str) -> None:
        self.disabled.append((addon.name, reason))


@pytest.fixture
async def runtime() -> AsyncIterator[tuple[AddonRuntime, Recorder]]:
    events = Recorder()
    rt = AddonRuntime(RuntimeConfig(call_timeout_ms=50, load_timeout_ms=2000), events)
    await rt.start()
    try:
        yield rt, events
    finally:
        await rt.stop()


_ids = iter(range(1, 10_000))


async def load(rt: AddonRuntime, code: str, name: str = "", priority: int = 0) -> LoadedAddon:
    n = next(_ids)
    return await rt.load(f"A{n:05d}", name or f"addon{n}", code, priority, f"2026-01-01T00:00:{n % 60:02d}Z")


def make_flow(path: str = "/api/items", resp: bool = False):  # noqa: ANN201
    flow = tflow.tflow(resp=resp)
    flow.request.path = path
    return flow


async def run(rt: AddonRuntime, flow, phase: str = "request") -> None:  # noqa: ANN001
    await rt.run(flow, phase, rt.chain(phase))


async def test_handlers_tag_set_headers_and_block_by_priority(runtime) -> None:  # noqa: ANN001
    rt, events = runtime
    await load(rt, "ghost.onRequest(function (flow) { flow.tag('seen'); flow.setHeader('X-Ghost', 'one'); })",
               "first", priority=1)
    await load(rt, """ghost.onRequest(function (flow) {
        ghost.log('sees', flow.request.headers['x-ghost'], flow.request.method, flow.request.path);
        if (flow.request.path.startsWith('/admin')) flow.block();
    })""", "second", priority=2)
    flow = make_flow("/api/items?x=1")
    await run(rt, flow)
    assert flow.request.headers["X-Ghost"] == "one"
    assert flow.metadata[TAGS_KEY] == ["seen"]
    assert flow.response is None
    assert events.logs == [("second", "info", "sees one GET /api/items")]

    blocked = make_flow("/admin/users")
    await run(rt, blocked)
    assert blocked.response is not None and blocked.response.status_code == 403
    assert blocked.metadata[METADATA_KEY]["addon_blocked"] == "second"
    assert events.failures == []


async def test_respond_first_answer_wins_and_response_phase(runtime) -> None:  # noqa: ANN001
    rt, _ = runtime
    await load(rt, """ghost.onRequest(function (flow) {
        flow.respond(201, {hello: 'world'}, {'X-From': 'addon'});
        flow.block(404);
    })""", priority=1)
    await load(rt, "ghost.onRequest(function (flow) { flow.respond(500, 'late'); })", priority=2)
    await load(rt, """ghost.onResponse(function (flow) {
        if (flow.response.status_code >= 400) flow.tag('error');
        flow.setHeader('X-Seen-Status', String(flow.response.status_code));
        flow.respond(299, 'ignored: the request phase answered first');
    })""", priority=3)
    flow = make_flow()
    await run(rt, flow)
    assert flow.response.status_code == 201
    assert flow.response.headers["X-From"] == "addon"
    assert flow.response.headers["Content-Type"] == "application/json"
    assert flow.response.content == b'{"hello":"world"}'
    await run(rt, flow, "response")
    assert flow.response.status_code == 201
    assert flow.response.headers["X-Seen-Status"] == "201"

    errored = make_flow(resp=True)
    errored.response.status_code = 502
    await run(rt, errored, "response")
    assert errored.metadata[TAGS_KEY] == ["error"]
    assert errored.response.status_code == 299
    assert errored.response.content == b"ignored: the request phase answered first"


async def test_only_registered_hooks_are_chained(runtime) -> None:  # noqa: ANN001
    rt, _ = runtime
    a = await load(rt, "ghost.onResponse(function (flow) { flow.tag('r'); })")
    b = await load(rt, "ghost.onRequest(function (flow) {}); ghost.onResponse(function (flow) {})")
    c = await load(rt, "var nothing = 1;")
    assert rt.chain("request") == (b,)
    assert rt.chain("response") == (a, b)
    assert c.hooks == frozenset()


async def test_store_counts_per_addon_and_reload_clears_it(runtime) -> None:  # noqa: ANN001
    rt, _ = runtime
    code = """ghost.onRequest(function (flow) {
        var n = (ghost.store.get('count') || 0) + 1;
        ghost.store.set('count', n);
        flow.setHeader('X-Count', String(n));
    })"""
    first = await load(rt, code)
    other = await load(rt, code)
    for expected in ("1", "2", "3"):
        flow = make_flow()
        await rt.run(flow, "request", (first,))
        assert flow.request.headers["X-Count"] == expected
    flow = make_flow()
    await rt.run(flow, "request", (other,))
    assert flow.request.headers["X-Count"] == "1"
    reloaded = await rt.load(first.id, first.name, code, 0, first.created_at)
    flow = make_flow()
    await rt.run(flow, "request", (reloaded,))
    assert flow.request.headers["X-Count"] == "1"


async def test_async_handler_and_bodies_only_when_mentioned(runtime) -> None:  # noqa: ANN001
    rt, _ = runtime
    await load(rt, """ghost.onRequest(async function (flow) {
        await Promise.resolve();
        flow.tag(typeof flow.request.body === 'string' ? 'body:' + flow.request.body : 'nobody');
    })""")
    await load(rt, "ghost.onRequest(function (flow) { flow.tag('keys:' + Object.keys(flow.request).join(',')); })")
    flow = make_flow()
    flow.request.content = b"hello"
    await run(rt, flow)
    assert flow.metadata[TAGS_KEY] == ["body:hello", "keys:method,url,host,path,headers,body"]
    assert rt.chain("request")[1].wants_body is False


async def test_compile_errors_have_line_and_column(runtime) -> None:  # noqa: ANN001
    rt, _ = runtime
    with pytest.raises(AddonLoadError) as e:
        await rt.check("ghost.onRequest(function (flow) {\n  if (x {\n})")
    assert (e.value.line, e.value.column) == (2, 9)
    assert "SyntaxError" in e.value.message and "line 2, column 9" in e.value.message
    with pytest.raises(AddonLoadError) as e:
        await load(rt, "var a = 1;\n\n  null.foo;")
    assert (e.value.line, e.value.column) == (3, 8)
    assert "TypeError" in e.value.message
    with pytest.raises(AddonLoadError, match="needs a function"):
        await rt.check("ghost.onRequest(42)")
    assert await rt.check("ghost.onResponse(function () {})") == ["response"]


async def test_no_globals_beyond_ecmascript_and_ghost(runtime) -> None:  # noqa: ANN001
    rt, events = runtime
    await load(rt, """(function () {
        var names = ['require', 'process', 'setTimeout', 'setInterval', 'setImmediate', 'clearTimeout',
                     'queueMicrotask', 'fetch', 'XMLHttpRequest', 'WebSocket', 'console', 'print', 'load',
                     'read', 'readbuffer', 'quit', 'gc', 'd8', 'os', 'WebAssembly', 'global', 'module',
                     'exports', 'Deno', 'Bun', 'importScripts', 'postMessage', 'Intl'];
        ghost.log(names.filter(function (n) { return typeof globalThis[n] !== 'undefined'; }).join(','));
        ghost.log(Object.getOwnPropertyNames(globalThis).sort().join(','));
        ghost.log(Object.keys(ghost).join(','), Object.keys(ghost.store).join(','));
    })()""", "globals")
    present, names, api = (message for _, _, message in events.logs)
    assert present == ""
    allowed = {
        "globalThis", "Infinity", "NaN", "undefined", "eval", "isFinite", "isNaN", "parseFloat", "parseInt",
        "decodeURI", "decodeURIComponent", "encodeURI", "encodeURIComponent", "escape", "unescape",
        "AggregateError", "Array", "ArrayBuffer", "Atomics", "BigInt", "BigInt64Array", "BigUint64Array",
        "Boolean", "DataView", "Date", "Error", "EvalError", "FinalizationRegistry", "Float32Array",
        "Float64Array", "Function", "Int8Array", "Int16Array", "Int32Array", "JSON", "Map", "Math", "Number",
        "Object", "Promise", "Proxy", "RangeError", "ReferenceError", "Reflect", "RegExp", "Set",
        "SharedArrayBuffer", "String", "Symbol", "SyntaxError", "TypeError", "Uint8Array",
        "Uint8ClampedArray", "Uint16Array", "Uint32Array", "URIError", "WeakMap", "WeakRef", "WeakSet",
        "ghost",
    }
    assert set(names.split(",")) <= allowed
    assert api == "onRequest,onResponse,log,warn,error,store get,set,delete"


async def test_the_ghost_global_cannot_be_replaced(runtime) -> None:  # noqa: ANN001
    rt, _ = runtime
    with pytest.raises(AddonLoadError, match="SyntaxError"):
        await rt.check("let ghost = {};")
    await load(rt, "'use strict'; try { ghost = 1 } catch (e) { }\n"
                   "ghost.onRequest(function (flow) { flow.tag('still-ghost'); })")
    flow = make_flow()
    await run(rt, flow)
    assert flow.metadata[TAGS_KEY] == ["still-ghost"]


async def test_throw_in_every_call_disables_after_five(runtime) -> None:  # noqa: ANN001
    rt, events = runtime
    bad = await load(rt, "ghost.onRequest(function (flow) {\n  flow.tag('partial');\n  undefinedThing();\n})", "bad")
    good = await load(rt, "ghost.onRequest(function (flow) { flow.tag('good'); })", "good")
    for _ in range(5):
        flow = make_flow()
        await run(rt, flow)
        assert flow.metadata[TAGS_KEY] == ["good"]  # the failed addon's partial changes are dropped
    assert len(events.failures) == 5
    assert events.failures[0] == ("bad", "onRequest handler threw ReferenceError: undefinedThing is not defined"
                                         " (line 3, column 3)")
    assert events.disabled and events.disabled[0][0] == "bad"
    assert "5 failures in a row" in events.disabled[0][1]
    assert rt.chain("request") == (good,)
    assert bad.last_error.startswith("onRequest handler threw ReferenceError")


async def test_success_resets_the_failure_count(runtime) -> None:  # noqa: ANN001
    rt, events = runtime
    flaky = await load(rt, "var n = 0; ghost.onRequest(function (flow) { if (++n % 2) throw new Error('odd'); })")
    for _ in range(12):
        await run(rt, make_flow())
    assert len(events.failures) == 6 and events.disabled == []
    assert flaky.failures == 0


async def _hammer(rt: AddonRuntime, good: LoadedAddon, seconds: float) -> tuple[int, int]:
    """Run the good addon on many flows concurrently; count the flows it tagged."""
    done = tagged = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        flows = [make_flow() for _ in range(20)]
        await asyncio.wait_for(asyncio.gather(*(rt.run(f, "request", (good,)) for f in flows)), 10)
        done += len(flows)
        tagged += sum(1 for f in flows if f.metadata.get(TAGS_KEY) == ["good"])
    return done, tagged


@pytest.mark.parametrize("name, code, expect", [
    ("loop", "ghost.onRequest(function (flow) { while (true) {} })", "timed out"),
    ("microtasks", "ghost.onRequest(function (flow) { (async function () { for (;;) await null; })(); })",
     "timed out"),
    ("arraybuffer", "ghost.onRequest(function (flow) { var b = new ArrayBuffer(1024 * 1024 * 1024); flow.tag('x'); })",
     "RangeError"),
    ("string", "ghost.onRequest(function (flow) { var s = 'x'.repeat(1 << 29); s = s + s; })", "RangeError"),
    ("array", "ghost.onRequest(function (flow) { var a = []; for (var i = 0; ; i++) a.push('x'.repeat(1e6) + i); })",
     ""),
])
async def test_bad_addons_are_contained_while_others_keep_working(runtime, name, code, expect) -> None:  # noqa: ANN001
    rt, events = runtime
    good = await load(rt, "ghost.onRequest(function (flow) { flow.tag('good'); })", "good", priority=1)
    bad = await load(rt, code, name, priority=0)
    deadline = time.monotonic() + 30
    flows = 0
    while not events.disabled and time.monotonic() < deadline:
        flow = make_flow()
        await asyncio.wait_for(run(rt, flow), 30)
        assert flow.metadata.get(TAGS_KEY) == ["good"], flow.metadata
        flows += 1
    assert [n for n, _ in events.failures] == [name] * 5, (flows, events.failures)
    assert expect in events.failures[0][1]
    assert events.disabled and events.disabled[0][0] == name
    assert rt.chain("request") == (good,)
    assert bad.id not in rt.addons
    done, tagged = await _hammer(rt, good, 0.5)
    assert done == tagged > 0


async def test_flows_in_flight_complete_while_a_worker_is_killed(runtime) -> None:  # noqa: ANN001
    rt, events = runtime
    good = await load(rt, "ghost.onRequest(function (flow) { flow.tag('good'); })", "good", priority=1)
    await load(rt, "var n = 0; ghost.onRequest(function (flow) { if (++n % 50 === 0) while (true) {} })",
               "sometimes-loops", priority=0)
    flows = [make_flow() for _ in range(300)]
    await asyncio.wait_for(asyncio.gather(*(run(rt, f) for f in flows)), 60)
    assert all(f.metadata.get(TAGS_KEY) == ["good"] for f in flows)
    assert events.failures and all(n == "sometimes-loops" for n, _ in events.failures)
    # After its first overrun the looping addon has a worker of its own.
    assert "sometimes-loops" not in {a.name for a in rt.addons.values() if a.worker is rt.shared}
    assert good.worker is rt.shared


async def test_a_crash_restarts_the_worker_and_reloads_the_others() -> None:
    events = Recorder()
    rt = AddonRuntime(RuntimeConfig(call_timeout_ms=10_000), events)  # time enough to hit the heap cap
    await rt.start()
    try:
        counter = await load(rt, """ghost.onRequest(function (flow) {
            var n = (ghost.store.get('n') || 0) + 1; ghost.store.set('n', n); flow.setHeader('X-N', String(n));
        })""", "counter")
        await load(rt, "ghost.onRequest(function (flow) { if (flow.request.path === '/boom') {"
                       " var a = []; for (;;) a.push(new Array(1e5).fill(1.5)); } })", "bomb")
        first = make_flow()
        await run(rt, first)
        assert first.request.headers["X-N"] == "1"
        shared_pid = rt.shared.proc.pid
        boom = make_flow("/boom")
        await asyncio.wait_for(run(rt, boom), 60)
        # The counter ran again on the restarted worker, without the bomb: its store is new.
        assert boom.request.headers["X-N"] == "1"
        assert events.failures and events.failures[0][0] == "bomb"
        assert "OOM" in events.failures[0][1], events.failures
        after = make_flow()
        await asyncio.wait_for(run(rt, after), 30)
        assert after.request.headers["X-N"] == "2"
        assert rt.shared.proc.pid != shared_pid
        assert counter.worker is rt.shared
    finally:
        await rt.stop()


async def test_worker_limits(runtime) -> None:  # noqa: ANN001
    rt, _ = runtime
    pid = rt.shared.proc.pid
    limits = await asyncio.to_thread(Path(f"/proc/{pid}/limits").read_text)
    data = next(line for line in limits.splitlines() if line.startswith("Max data size"))
    assert str(1024 << 20) in data
    core = next(line for line in limits.splitlines() if line.startswith("Max core file size"))
    assert core.split()[4] == "0"
    assert rt.v8_version.startswith("8.")
    assert rt.shared.sandboxed  # the seccomp filter is on
    # Stopping the runtime ends the worker process.
    await rt.stop()
    assert not await asyncio.to_thread(Path(f"/proc/{pid}").exists)  # stop() waited for it


FILTER_PROBE = """
import os, socket, subprocess, sys
sys.path.insert(0, sys.argv[1])
from plugins.js_addons.worker import install_syscall_filter, v8_flags
from py_mini_racer.py_mini_racer import MiniRacer
MiniRacer.v8_flags = v8_flags(128)
MiniRacer()
assert install_syscall_filter()
for name, attempt in [("socket", lambda: socket.socket()), ("open", lambda: open("/etc/hostname")),
                      ("fork", os.fork), ("exec", lambda: subprocess.run(["true"])),
                      ("signal the parent", lambda: os.kill(os.getppid(), 0)),
                      ("mkdir", lambda: os.mkdir("/tmp/ghost-seccomp-probe"))]:
    try:
        attempt()
        print(name, "allowed")
    except PermissionError:
        print(name, "refused")
os.kill(os.getpid(), 0)
print("V8 after the filter:", MiniRacer().eval("[1, 2, 3].map(function (x) { return x * 2; }).join()"))
"""


def test_the_syscall_filter_refuses_what_an_escape_would_need() -> None:
    import subprocess
    import sys

    repo = str(Path(__file__).resolve().parents[3])
    out = subprocess.run([sys.executable, "-c", FILTER_PROBE, repo], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == [
        "socket refused", "open refused", "fork refused", "exec refused", "signal the parent refused",
        "mkdir refused", "V8 after the filter: 2,4,6",
    ]
