"""Replay: header filtering, diffs, delay clamping, and re-sending to a local server."""

import asyncio
import time

import orjson
import pytest
from aiohttp import web

from ghost_addons.ssrf import AllowList, OutboundGuard
from plugins.journeys.replay import (
    SKIPPED_REPLAY_HEADERS,
    Outcome,
    clamp_delay,
    compare,
    original_outcome,
    replay_events,
    replay_headers,
    replay_session,
    send_flow,
    sse_message,
)

from .helpers import make_flow


def test_skipped_headers_are_lowercase_and_complete() -> None:
    for name in ("host", "content-length", "transfer-encoding", "connection", "proxy-connection",
                 "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
                 "upgrade", "x-ghost-interaction", "accept-encoding"):
        assert name in SKIPPED_REPLAY_HEADERS
    assert all(name == name.lower() for name in SKIPPED_REPLAY_HEADERS)
    kept = replay_headers([
        ("Host", "app.test"), ("X-Ghost-Interaction", "J-1-2"), ("CONNECTION", "keep-alive"),
        ("Content-Length", "5"), ("Accept-Encoding", "br"), (":authority", "app.test"),
        ("Cookie", "sid=1"), ("Authorization", "Bearer t"), ("Content-Type", "application/json"),
        ("User-Agent", "Chrome"),
    ])
    assert kept == [("Cookie", "sid=1"), ("Authorization", "Bearer t"),
                    ("Content-Type", "application/json"), ("User-Agent", "Chrome")]


@pytest.mark.parametrize(("raw", "value"), [(None, 0), ("", 0), ("250", 250), ("-5", 0), ("10000", 10000), ("99999", 10000)])
def test_delay_is_clamped(raw: str | None, value: int) -> None:
    assert clamp_delay(raw) == value


def test_delay_must_be_an_integer() -> None:
    with pytest.raises(ValueError, match="delay_ms must be an integer"):
        clamp_delay("fast")


def test_compare() -> None:
    original = Outcome(200, "application/json", 100, 40.0)
    assert compare(original, Outcome(200, "application/json", 96, 52.5)) == {
        "status_changed": False, "body_size_delta": -4, "duration_delta_ms": 12.5}
    assert compare(original, Outcome(500, "text/plain", 21, 10.0))["status_changed"] is True
    assert compare(None, Outcome(200, "", 3, 1.0))["status_changed"] is True
    flow = make_flow(body=b"12345", duration_us=45_000)
    assert original_outcome(flow) == Outcome(200, "application/json", 5, 45.0)
    assert original_outcome(make_flow(response=False)) is None


def test_sse_message_format() -> None:
    assert sse_message("done", {"type": "done", "total": 2}) == b'event: done\ndata: {"type":"done","total":2}\n\n'


@pytest.fixture
async def target(aiohttp_server):  # type: ignore[no-untyped-def]
    seen: list[dict] = []

    async def record(request: web.Request) -> None:
        seen.append({"method": request.method, "path": request.path, "headers": dict(request.headers),
                     "body": await request.read()})

    async def auth(request: web.Request) -> web.Response:
        await record(request)
        return web.json_response({"token": "abc"})

    async def items(request: web.Request) -> web.Response:
        await record(request)
        return web.json_response([{"id": 1}, {"id": 2}])

    async def broken(request: web.Request) -> web.Response:
        await record(request)
        return web.Response(status=500, text="boom")

    async def big(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        await response.prepare(request)
        chunk = b"x" * 65536
        for _ in range(12 * 16):  # 12 MB, more than the cap
            await response.write(chunk)
        return response

    async def moved(request: web.Request) -> web.Response:
        await record(request)
        raise web.HTTPSeeOther(request.query.get("to", "/api/items"))

    app = web.Application()
    app.router.add_post("/api/auth", auth)
    app.router.add_get("/api/items", items)
    app.router.add_get("/api/broken", broken)
    app.router.add_get("/big", big)
    app.router.add_post("/moved", moved)
    server = await aiohttp_server(app, host="127.0.0.1")
    server.seen = seen
    return server


def allowed_guard() -> OutboundGuard:
    return OutboundGuard(lambda host, port: False, AllowList.parse(["127.0.0.1"]))


async def test_send_flow_replays_method_body_and_headers(target) -> None:  # type: ignore[no-untyped-def]
    base = f"http://127.0.0.1:{target.port}"
    flow = make_flow(f"{base}/api/auth", "POST", request_body=b'{"user":"ann"}', request_headers=[
        ("Host", "elsewhere"), ("Content-Type", "application/json"), ("X-Ghost-Interaction", "J-1-1"),
        ("Cookie", "sid=1"), ("Accept-Encoding", "br, zstd"), ("Content-Length", "14"),
    ])
    guard = allowed_guard()
    async with replay_session(guard) as session:
        outcome = await send_flow(session, guard, flow)
    assert outcome.status_code == 200 and outcome.content_type.startswith("application/json")
    assert outcome.body_size == len(b'{"token": "abc"}') and outcome.duration_ms > 0
    sent = target.seen[-1]
    assert sent["method"] == "POST" and sent["body"] == b'{"user":"ann"}'
    assert "X-Ghost-Interaction" not in sent["headers"] and sent["headers"]["Cookie"] == "sid=1"
    assert sent["headers"]["Host"] == f"127.0.0.1:{target.port}"
    assert sent["headers"].get("Accept-Encoding") != "br, zstd"  # the client negotiates its own


async def test_body_is_capped_at_10_mb(target) -> None:  # type: ignore[no-untyped-def]
    guard = allowed_guard()
    async with replay_session(guard) as session:
        outcome = await send_flow(session, guard, make_flow(f"http://127.0.0.1:{target.port}/big"))
    assert outcome.body_size == 10 * 1024 * 1024


async def test_redirects_are_followed_and_checked(target) -> None:  # type: ignore[no-untyped-def]
    base = f"http://127.0.0.1:{target.port}"
    guard = allowed_guard()
    async with replay_session(guard) as session:
        outcome = await send_flow(session, guard, make_flow(f"{base}/moved", "POST", request_body=b"x"))
        assert outcome.status_code == 200  # 303 -> GET /api/items
        assert [s["method"] + " " + s["path"] for s in target.seen[-2:]] == ["POST /moved", "GET /api/items"]
        with pytest.raises(Exception, match="127.0.0.2"):
            await send_flow(session, guard, make_flow(f"{base}/moved?to=http://127.0.0.2:{target.port}/api/items", "POST"))
    assert target.seen[-1]["path"] == "/moved"  # nothing reached the refused address


async def test_replay_events_stream(target) -> None:  # type: ignore[no-untyped-def]
    base = f"http://127.0.0.1:{target.port}"
    flows = [
        make_flow(f"{base}/api/items", body=b'[{"id": 1}, {"id": 2}]'),
        make_flow(f"{base}/api/broken", body=b"[]"),
        make_flow("http://10.0.0.1/api/items"),
    ]
    guard = allowed_guard()
    started = time.monotonic()
    async with replay_session(guard) as session:
        events = [e async for e in replay_events(flows, lambda f: send_flow(session, guard, f), guard, delay_ms=100)]
    assert time.monotonic() - started >= 0.2  # two delays between three steps
    assert [name for name, _ in events] == [
        "step_start", "step_complete", "step_start", "step_complete", "step_start", "step_error", "done"]
    first = events[1][1]
    assert first["step"] == 1 and first["total"] == 3 and first["flow_id"] == flows[0].id
    assert first["diff"]["status_changed"] is False and first["diff"]["body_size_delta"] == 0
    assert set(first["original"]) == {"status_code", "content_type", "body_size", "duration_ms"}
    broken = events[3][1]
    assert broken["diff"]["status_changed"] is True and broken["replayed"]["status_code"] == 500
    error = events[5][1]
    assert "private network" in error["error"] and error["original"]["status_code"] == 200
    assert events[-1][1] == {"type": "done", "total": 3}
    orjson.dumps(events)  # every payload is JSON


async def test_replay_can_be_cancelled_mid_request(aiohttp_server) -> None:  # type: ignore[no-untyped-def]
    entered = asyncio.Event()

    async def slow(request: web.Request) -> web.Response:
        entered.set()
        await asyncio.sleep(30)
        return web.Response(text="late")

    app = web.Application()
    app.router.add_get("/slow", slow)
    server = await aiohttp_server(app, host="127.0.0.1")
    guard = allowed_guard()

    async def run() -> list:
        async with replay_session(guard) as session:
            return [e async for e in replay_events(
                [make_flow(f"http://127.0.0.1:{server.port}/slow")], lambda f: send_flow(session, guard, f), guard)]

    task = asyncio.ensure_future(run())
    await asyncio.wait_for(entered.wait(), 10)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, 5)
