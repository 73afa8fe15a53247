"""The journeys and extension API on an in-process Ghost, with a scripted extension."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
from aiohttp import web

from ghost_addons.core import Ghost
from plugins.journeys import tables
from tests.support.inprocess import Api, api_client, running_ghost
from tests.support.ports import free_port

from .conftest import PLUGINS, TOKEN, FakeExtension
from .helpers import make_flow


async def session_id(api: Api) -> str:
    return api.ghost.active_session_id


async def start(api: Api, name: str = "Login flow") -> dict[str, Any]:
    return await api.ok("POST", "/api/v1/journeys/start", json={"session_id": await session_id(api), "name": name})


async def stop(api: Api) -> dict[str, Any]:
    return await api.ok("POST", "/api/v1/journeys/stop", json={"session_id": await session_id(api)})


async def add_flow(ghost: Ghost, url: str, method: str = "GET", *, header: str = "", at_ms: float | None = None,
                   **kwargs: Any):  # type: ignore[no-untyped-def]
    flow = make_flow(url, method, header=header, at_ms=at_ms if at_ms is not None else time.time() * 1000,
                     session_id=ghost.active_session_id, **kwargs)
    await ghost.store.add_flows([flow])
    return flow


def click(journey_id: str, counter: int, at_ms: float, selector: str, text: str, kind: str = "click") -> dict:
    return {
        "type": "interaction",
        "data": {
            "id": f"{journey_id}-{counter}-{int(at_ms)}", "journey_id": journey_id, "type": kind,
            "selector": selector, "element_type": "button", "element_text": text,
            "page_url": "http://app.test/login", "page_title": "Login", "timestamp": at_ms,
            "attributes": {"tag": "button", "visible_text": text, "test_id": selector.strip("#"),
                           "test_id_attr": "data-testid"},
        },
    }


async def test_migrations_follow_the_spec_schema(ghost: Ghost) -> None:
    def schema(conn):  # type: ignore[no-untyped-def]
        fks = {t: [(r["from"], r["table"], r["on_delete"]) for r in conn.execute(f"PRAGMA foreign_key_list({t})")]
               for t in ("interactions", "journeys", "journey_steps")}
        indexes = {r["name"] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
        columns = [r["name"] for r in conn.execute("PRAGMA table_info(journeys)")]
        return fks, indexes, columns

    fks, indexes, columns = await ghost.store.read(schema)
    assert ("session_id", "sessions", "CASCADE") in fks["journeys"]
    assert sorted(fks["journey_steps"]) == [
        ("flow_id", "flows", "SET NULL"), ("interaction_id", "interactions", "SET NULL"),
        ("journey_id", "journeys", "CASCADE")]
    assert ("session_id", "sessions", "CASCADE") in fks["interactions"]
    assert {"idx_journeys_session_id", "idx_journey_steps_journey_order"} <= indexes
    assert columns == ["id", "session_id", "name", "status", "flow_count", "interaction_count",
                       "started_at", "completed_at", "created_at"]


async def test_recording_control_status_codes(api: Api) -> None:
    sid = await session_id(api)
    status, body = await api.call("POST", "/api/v1/journeys/start", json={"session_id": sid, "name": "x"})
    assert status == 400 and "extension is not connected" in body["error"]
    status, body = await api.call("POST", "/api/v1/journeys/stop", json={"session_id": sid})
    assert status == 404 and "no active recording" in body["error"]
    assert await api.ok("GET", f"/api/v1/journeys/active?session_id={sid}") == {"is_recording": False}
    assert (await api.ok("GET", "/api/v1/extension/status"))["connected"] is False
    status, body = await api.call("GET", "/api/v1/extension/info")
    assert status == 404


async def test_start_stop_with_extension(api: Api, extension: FakeExtension) -> None:
    sid = await session_id(api)
    for bad, message in (({"name": "x"}, "'session_id' is required"), ({"session_id": sid}, "'name' is required"),
                         ({"session_id": sid, "name": " "}, "must not be empty")):
        status, body = await api.call("POST", "/api/v1/journeys/start", json=bad)
        assert status == 400 and message in body["error"]
    status, body = await api.call("POST", "/api/v1/journeys/start", json={"session_id": "nope", "name": "x"})
    assert status == 404
    journey = await start(api)
    assert journey["status"] == "recording" and journey["session_id"] == sid and journey["completed_at"] is None
    message = await extension.expect("journey.recording_start")
    assert message["data"] == {"journey_id": journey["id"], "session_id": sid, "name": "Login flow"}
    status, body = await api.call("POST", "/api/v1/journeys/start", json={"session_id": sid, "name": "again"})
    assert status == 409 and journey["id"] in body["error"]
    assert await api.ok("GET", f"/api/v1/journeys/active?session_id={sid}") == {
        "is_recording": True, "journey_id": journey["id"], "session_id": sid}
    done = await stop(api)
    assert done["status"] == "completed" and done["completed_at"] is not None
    assert (await extension.expect("journey.recording_stop"))["data"] == {"journey_id": journey["id"]}
    status, _ = await api.call("POST", "/api/v1/journeys/stop", json={"session_id": sid})
    assert status == 404


async def test_a_recording_becomes_ordered_steps(api: Api, extension: FakeExtension) -> None:
    ghost = api.ghost
    events: list[dict] = []
    async with api.session.ws_connect(api.base.replace("http", "ws") + f"/api/v1/ws?token={TOKEN}") as ws:
        journey = await start(api)
        jid = journey["id"]
        t0 = time.time() * 1000
        await extension.send({"type": "interaction", "data": {
            "id": f"{jid}-1-{int(t0)}", "journey_id": jid, "type": "input", "selector": "#user",
            "element_type": "input", "element_text": "ann", "page_url": "http://app.test/login",
            "timestamp": t0, "attributes": {"name": "user", "tag": "input", "type": "text"}}})
        login = click(jid, 2, t0 + 100, "#login", "Sign in")
        await extension.send(login)
        await asyncio.sleep(0.1)  # the interaction is stored before the flows arrive
        auth = await add_flow(ghost, "http://app.test/api/auth", "POST", header=login["data"]["id"], at_ms=t0 + 120)
        await add_flow(ghost, "http://app.test/favicon.ico", header=f"{jid}-ambient-{int(t0)}", at_ms=t0 + 130)
        await add_flow(ghost, "http://app.test/fonts/inter.woff2", at_ms=t0 + 140, content_type="font/woff2")
        await add_flow(ghost, "http://app.test/api/auth", "OPTIONS", at_ms=t0 + 141)
        items = await add_flow(ghost, "http://app.test/api/items", header=f"{jid}-ambient-{int(t0 + 700)}",
                               at_ms=t0 + 900)
        toggle = click(jid, 3, t0 + 1000, "#toggle", "Dark mode")
        await extension.send(toggle)
        # Another session's flow is not part of the recording.
        other = await api.ok("POST", "/api/v1/sessions", status=201, json={"name": "other"})
        foreign = make_flow("http://app.test/api/elsewhere", session_id=other["id"], at_ms=t0 + 150)
        await ghost.store.add_flows([foreign])
        await asyncio.sleep(0.2)
        done = await stop(api)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not any(e["type"] == "journey:completed" for e in events):
            try:
                message = await ws.receive(timeout=1)
            except TimeoutError:
                continue
            if message.type == aiohttp.WSMsgType.TEXT:
                event = orjson.loads(message.data)
                if event["type"].startswith("journey:"):
                    events.append(event)

    steps = await api.ok("GET", f"/api/v1/journeys/{jid}/steps")
    assert [(s["step_order"], s["type"]) for s in steps] == [
        (1, "interaction"), (2, "action"), (3, "flow"), (4, "interaction")]
    assert steps[1]["flow_id"] == auth.id and steps[1]["interaction_id"] == login["data"]["id"]
    action = orjson.loads(steps[1]["data"])
    assert action["method"] == "POST" and action["path"] == "/api/auth" and action["selector"] == "#login"
    assert action["interaction_type"] == "click" and action["attributes"]["test_id"] == "login"
    assert steps[2]["flow_id"] == items.id and steps[2]["interaction_id"] is None
    assert orjson.loads(steps[0]["data"])["element_text"] == "ann"
    assert steps[3]["interaction_id"] == toggle["data"]["id"] and steps[3]["flow_id"] is None
    assert (done["flow_count"], done["interaction_count"]) == (2, 3)
    assert [e["type"] for e in events] == ["journey:started"] + ["journey:step_added"] * 4 + ["journey:completed"]
    assert events[2]["data"] == {"journey_id": jid, "step_order": 2, "type": "action",
                                 "flow_id": auth.id, "interaction_id": login["data"]["id"]}
    completed = events[-1]["data"]
    assert completed["flow_count"] == 2 and completed["interaction_count"] == 3 and completed["duration_ms"] > 0
    # The interaction remembers the flow it triggered.
    sid = await session_id(api)
    linked = await api.ok("GET", f"/api/v1/interactions?session_id={sid}&flow_id={auth.id}")
    assert [i["id"] for i in linked] == [login["data"]["id"]]


async def test_a_slow_request_is_one_action_in_request_order(api: Api, extension: FakeExtension) -> None:
    """A click whose request outlives the settle window: its interaction step was already
    written when the flow came back. Once stopped, the journey holds one `action` for it
    (no `interaction` step too), ordered by when the request started."""
    ghost = api.ghost
    jid = (await start(api))["id"]
    t0 = time.time() * 1000
    slow_click = click(jid, 1, t0, "#save", "Save")
    await extension.send(slow_click)
    quick = await add_flow(ghost, "http://app.test/api/quick", header=f"{jid}-ambient-{int(t0 + 300)}",
                           at_ms=t0 + 400)
    await asyncio.sleep(1.9)  # past the 1.5 s settle window: both are written as steps
    early = await api.ok("GET", f"/api/v1/journeys/{jid}/steps")
    assert [s["type"] for s in early] == ["interaction", "flow"]
    slow = await add_flow(ghost, "http://app.test/api/save", "POST", header=slow_click["data"]["id"],
                          at_ms=t0 + 20)  # sent right after the click, answered 2 s later
    done = await stop(api)
    steps = await api.ok("GET", f"/api/v1/journeys/{jid}/steps")
    assert [(s["step_order"], s["type"], s["flow_id"]) for s in steps] == [
        (1, "action", slow.id), (2, "flow", quick.id)]
    assert steps[0]["interaction_id"] == slow_click["data"]["id"]
    assert (done["flow_count"], done["interaction_count"]) == (2, 1)


async def test_a_recording_starts_only_in_the_active_session_and_alone(api: Api, extension: FakeExtension) -> None:
    other = await api.ok("POST", "/api/v1/sessions", status=201, json={"name": "elsewhere"})
    status, body = await api.call("POST", "/api/v1/journeys/start", json={"session_id": other["id"], "name": "x"})
    assert status == 400 and "not the active session" in body["error"] and "/activate" in body["error"]
    first = await start(api)
    await api.ok("POST", f"/api/v1/sessions/{other['id']}/activate")
    status, body = await api.call("POST", "/api/v1/journeys/start", json={"session_id": other["id"], "name": "y"})
    assert status == 409 and first["id"] in body["error"] and "stop it first" in body["error"]
    assert await api.ok("GET", f"/api/v1/journeys?session_id={other['id']}") == []


async def test_steps_settle_while_recording(api: Api, extension: FakeExtension) -> None:
    journey = await start(api)
    jid = journey["id"]
    t0 = time.time() * 1000
    await extension.send(click(jid, 1, t0, "#local", "Toggle"))
    deadline = time.monotonic() + 10
    steps: list = []
    while time.monotonic() < deadline and not steps:
        steps = await api.ok("GET", f"/api/v1/journeys/{jid}/steps")
        await asyncio.sleep(0.1)
    assert [s["type"] for s in steps] == ["interaction"]
    assert time.time() * 1000 - t0 >= 1500  # held for the settle time first
    await stop(api)


async def test_rename_validates_and_announces(api: Api) -> None:
    sid = await session_id(api)
    created = await api.ok("POST", "/api/v1/journeys", status=201, json={"session_id": sid, "name": "Manual"})
    path = f"/api/v1/journeys/{created['id']}"
    async with api.session.ws_connect(api.base.replace("http", "ws") + f"/api/v1/ws?token={TOKEN}") as ws:
        renamed = await api.ok("PUT", path, json={"name": "  Checkout <happy> path  "})
        event = None
        deadline = time.monotonic() + 5
        while event is None and time.monotonic() < deadline:
            message = await ws.receive(timeout=5)
            if message.type == aiohttp.WSMsgType.TEXT and orjson.loads(message.data)["type"] == "journey:updated":
                event = orjson.loads(message.data)
    assert renamed["name"] == "Checkout <happy> path" and renamed["id"] == created["id"]
    assert renamed["status"] == created["status"] and renamed["started_at"] == created["started_at"]
    assert event is not None and event["data"] == {"journey_id": created["id"], "session_id": sid,
                                                   "name": "Checkout <happy> path"}
    assert (await api.ok("GET", path))["name"] == "Checkout <happy> path"
    for body, error in (({"name": "   "}, "must not be empty"), ({"name": "x" * 201}, "the limit is 200"),
                        ({}, "name"), ({"name": 5}, "name")):
        status, answer = await api.call("PUT", path, json=body)
        assert status == 400 and error in answer["error"], (body, answer)
    status, _ = await api.call("PUT", path, data=b"not json")
    assert status == 400
    assert (await api.ok("PUT", path, json={"name": "x" * 200}))["name"] == "x" * 200
    status, answer = await api.call("PUT", "/api/v1/journeys/nope", json={"name": "New"})
    assert status == 404 and "nope" in answer["error"]


async def test_crud_and_cascades(api: Api, extension: FakeExtension) -> None:
    ghost = api.ghost
    sid = await session_id(api)
    status, body = await api.call("GET", "/api/v1/journeys")
    assert status == 400 and "session_id" in body["error"]
    assert await api.ok("GET", "/api/v1/journeys?session_id=unknown") == []
    created = await api.ok("POST", "/api/v1/journeys", status=201, json={"session_id": sid, "name": "Manual"})
    assert created["name"] == "Manual"
    status, _ = await api.call("POST", "/api/v1/journeys", json={"session_id": sid})
    assert status == 400
    status, _ = await api.call("POST", "/api/v1/journeys", data=b"not json")
    assert status == 400
    status, _ = await api.call("GET", "/api/v1/journeys/nope")
    assert status == 404
    assert await api.ok("GET", f"/api/v1/journeys/{created['id']}/steps") == []

    recorded = await start(api, "Recorded")
    flow = await add_flow(ghost, "http://app.test/api/items")
    await stop(api)
    listed = await api.ok("GET", f"/api/v1/journeys?session_id={sid}")
    assert [j["name"] for j in listed] == ["Recorded", "Manual"]  # newest first

    # Deleting the flow keeps the step, without its flow.
    await api.ok("DELETE", f"/api/v1/flows/{flow.id}", status=204)
    steps = await api.ok("GET", f"/api/v1/journeys/{recorded['id']}/steps")
    assert len(steps) == 1 and steps[0]["flow_id"] is None and steps[0]["type"] == "flow"
    again = await api.ok("POST", f"/api/v1/journeys/{recorded['id']}/complete")
    assert again["flow_count"] == 0  # counts follow what the steps still point at

    await api.ok("DELETE", f"/api/v1/journeys/{created['id']}", status=204)
    status, _ = await api.call("DELETE", f"/api/v1/journeys/{created['id']}")
    assert status == 404

    # Deleting the session deletes its journeys and their steps.
    other = await api.ok("POST", "/api/v1/sessions", status=201, json={"name": "doomed"})
    doomed = await api.ok("POST", "/api/v1/journeys", status=201, json={"session_id": other["id"], "name": "d"})
    await api.ok("DELETE", f"/api/v1/sessions/{other['id']}", status=204)
    status, _ = await api.call("GET", f"/api/v1/journeys/{doomed['id']}")
    assert status == 404


async def test_deleting_an_active_recording_stops_it(api: Api, extension: FakeExtension) -> None:
    journey = await start(api)
    await api.ok("DELETE", f"/api/v1/journeys/{journey['id']}", status=204)
    assert (await extension.expect("journey.recording_stop"))["data"]["journey_id"] == journey["id"]
    sid = await session_id(api)
    assert await api.ok("GET", f"/api/v1/journeys/active?session_id={sid}") == {"is_recording": False}
    await start(api, "next")  # the session can record again
    await stop(api)


async def test_complete_stops_an_active_recording(api: Api, extension: FakeExtension) -> None:
    journey = await start(api)
    await add_flow(api.ghost, "http://app.test/api/items")
    done = await api.ok("POST", f"/api/v1/journeys/{journey['id']}/complete")
    assert done["status"] == "completed" and done["flow_count"] == 1
    await extension.expect("journey.recording_stop")


async def test_interactions_api(api: Api) -> None:
    sid = await session_id(api)
    created = await api.ok("POST", "/api/v1/interactions", status=201, json={
        "type": "click", "selector": "#submit-button", "element_text": "Submit", "element_type": "button",
        "page_url": "https://example.com/checkout", "page_title": "Checkout", "data": "",
        "timestamp": 1705312815000})
    assert created["session_id"] == sid and created["timestamp"] == "2024-01-15T10:00:15.000000Z"
    for bad in ({"page_url": "x"}, {"type": "click"}, {"type": "click", "page_url": "x", "session_id": "nope"},
                {"type": "click", "page_url": "x", "attributes": "no"}):
        status, body = await api.call("POST", "/api/v1/interactions", json=bad)
        assert status == 400, bad
        assert body["error"]
    listed = await api.ok("GET", f"/api/v1/interactions?session_id={sid}")
    assert [i["id"] for i in listed] == [created["id"]]
    status, _ = await api.call("GET", "/api/v1/interactions")
    assert status == 400


async def test_orphaned_recording_fails_at_start_up(tmp_path: Path) -> None:
    home = tmp_path / "home"
    port = free_port()
    async with running_ghost(home, PLUGINS, token=TOKEN, api_port=port) as ghost, api_client(ghost) as api:
        extension = await FakeExtension(api).connect()
        await asyncio.sleep(0.1)
        journey = await start(api)
        flow = await add_flow(ghost, "http://app.test/api/items")
        await extension.close()
    # stopped: steps still pending are written; the journey stays `recording`

    async with running_ghost(home, PLUGINS, token=TOKEN, api_port=port) as again, api_client(again) as api:
        failed = await api.ok("GET", f"/api/v1/journeys/{journey['id']}")
        assert failed["status"] == "failed"
        sid = again.active_session_id
        assert await api.ok("GET", f"/api/v1/journeys/active?session_id={sid}") == {"is_recording": False}
        steps = await api.ok("GET", f"/api/v1/journeys/{journey['id']}/steps")
        assert [(s["type"], s["flow_id"]) for s in steps] == [("flow", flow.id)]
        completed = await api.ok("POST", f"/api/v1/journeys/{journey['id']}/complete")
        assert completed["status"] == "completed" and completed["flow_count"] == 1


# --- replay --------------------------------------------------------------------------------------


@pytest.fixture
async def app_server(aiohttp_server):  # type: ignore[no-untyped-def]
    state = {"broken": False, "hits": []}

    async def items(request: web.Request) -> web.Response:
        state["hits"].append((request.method, request.path, dict(request.headers)))
        if state["broken"]:
            return web.json_response({"error": "boom"}, status=500)
        return web.json_response([{"id": 1}])

    async def auth(request: web.Request) -> web.Response:
        state["hits"].append((request.method, request.path, dict(request.headers)))
        return web.json_response({"token": "t"})

    async def slow(request: web.Request) -> web.Response:
        state["hits"].append((request.method, request.path, dict(request.headers)))
        await asyncio.sleep(30)
        return web.json_response({})

    app = web.Application()
    app.router.add_get("/api/items", items)
    app.router.add_post("/api/auth", auth)
    app.router.add_get("/api/slow", slow)
    server = await aiohttp_server(app, host="127.0.0.1")
    server.state = state
    return server


async def read_sse(response: aiohttp.ClientResponse) -> list[tuple[str, dict]]:
    events, name = [], ""
    async for raw in response.content:
        line = raw.decode().rstrip("\n")
        if line.startswith("event: "):
            name = line[7:]
        elif line.startswith("data: "):
            events.append((name, orjson.loads(line[6:])))
    return events


async def recorded_journey(api: Api, extension: FakeExtension, base: str) -> dict:
    journey = await start(api, "Replayable")
    t0 = time.time() * 1000
    await extension.send(click(journey["id"], 1, t0, "#login", "Sign in"))
    await asyncio.sleep(0.05)
    await add_flow(api.ghost, f"{base}/api/auth", "POST", header=f"{journey['id']}-1-{int(t0)}", at_ms=t0 + 5,
                   request_body=b'{"u":"ann"}', body=b'{"token": "t"}',
                   request_headers=[("Content-Type", "application/json"), ("Cookie", "sid=1")])
    await add_flow(api.ghost, f"{base}/api/items", at_ms=t0 + 800, body=b'[{"id": 1}]')
    await extension.send(click(journey["id"], 2, t0 + 900, "#toggle", "Dark"))
    await asyncio.sleep(0.05)
    return await stop(api)


async def test_replay_streams_diffs_and_restores_status(api: Api, extension: FakeExtension, app_server) -> None:  # type: ignore[no-untyped-def]
    base = f"http://127.0.0.1:{app_server.port}"
    journey = await recorded_journey(api, extension, base)
    jid = journey["id"]

    # Without the allow-list, loopback is refused for every step.
    async with api.session.get(f"{api.base}/api/v1/journeys/{jid}/replay") as response:
        assert response.status == 200
        assert response.headers["Content-Type"] == "text/event-stream"
        assert response.headers["Cache-Control"] == "no-cache"
        assert response.headers["X-Accel-Buffering"] == "no"
        events = await read_sse(response)
    assert [n for n, _ in events] == ["step_start", "step_error", "step_start", "step_error", "done"]
    assert "loopback" in events[1][1]["error"] and "replay.allow_hosts" in events[1][1]["error"]
    assert app_server.state["hits"] == []

    await api.ok("PUT", "/api/v1/settings", json={"replay": {"allow_hosts": ["127.0.0.1"]}})
    app_server.state["broken"] = True
    async with api.session.get(f"{api.base}/api/v1/journeys/{jid}/replay?delay_ms=-50") as response:
        events = await read_sse(response)
    assert [n for n, _ in events] == ["step_start", "step_complete", "step_start", "step_complete", "done"]
    auth, items = events[1][1], events[3][1]
    assert auth["diff"] == {"status_changed": False, "body_size_delta": 0,
                            "duration_delta_ms": auth["diff"]["duration_delta_ms"]}
    assert auth["method"] == "POST" and auth["total"] == 2 and auth["step"] == 1
    assert items["diff"]["status_changed"] is True and items["replayed"]["status_code"] == 500
    assert items["original"]["status_code"] == 200
    assert events[-1][1] == {"type": "done", "total": 2}
    method, path, headers = app_server.state["hits"][0]
    assert (method, path) == ("POST", "/api/auth") and headers["Cookie"] == "sid=1"
    assert "X-Ghost-Interaction" not in headers
    assert (await api.ok("GET", f"/api/v1/journeys/{jid}"))["status"] == "completed"

    status, body = await api.call("GET", f"/api/v1/journeys/{jid}/replay?delay_ms=soon")
    assert status == 400 and "delay_ms" in body["error"]


async def test_replay_refused_while_recording_and_cancelled_on_disconnect(
    api: Api, extension: FakeExtension, app_server  # type: ignore[no-untyped-def]
) -> None:
    base = f"http://127.0.0.1:{app_server.port}"
    await api.ok("PUT", "/api/v1/settings", json={"replay": {"allow_hosts": ["127.0.0.1"]}})
    journey = await start(api, "Slow")
    status, _ = await api.call("GET", f"/api/v1/journeys/{journey['id']}/replay")
    assert status == 409
    await add_flow(api.ghost, f"{base}/api/slow")
    await add_flow(api.ghost, f"{base}/api/items")
    await stop(api)

    response = await api.session.get(f"{api.base}/api/v1/journeys/{journey['id']}/replay")
    first = await asyncio.wait_for(response.content.readline(), 5)
    assert first == b"event: step_start\n"
    for _ in range(50):
        if app_server.state["hits"]:
            break
        await asyncio.sleep(0.05)
    assert (await api.ok("GET", f"/api/v1/journeys/{journey['id']}"))["status"] == "replaying"
    status, _ = await api.call("GET", f"/api/v1/journeys/{journey['id']}/replay")
    assert status == 409
    response.close()  # the client goes away mid-step
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if (await api.ok("GET", f"/api/v1/journeys/{journey['id']}"))["status"] == "completed":
            break
        await asyncio.sleep(0.05)
    assert (await api.ok("GET", f"/api/v1/journeys/{journey['id']}"))["status"] == "completed"
    assert [h[1] for h in app_server.state["hits"]] == ["/api/slow"]  # the next step never ran


# --- extension actions -------------------------------------------------------------------------


async def test_extension_actions_and_inject(api: Api, extension: FakeExtension) -> None:
    info = await api.ok("GET", "/api/v1/extension/info")
    assert info["connected"] is True and info["version"] == "1.0.0" and info["extension_id"] == "abcdefgh"

    async def answer(ok: bool, data: Any = None, error: str = "") -> dict:
        message = await extension.expect("action")
        await extension.send({"type": "action.result", "id": message["id"], "ok": ok, "data": data, "error": error})
        return message

    task = asyncio.ensure_future(api.call("POST", "/api/v1/extension/actions",
                                          json={"action": "navigate", "url": "http://app.test/x"}))
    sent = await answer(True, {"tab_id": 3, "url": "http://app.test/x", "title": "X"})
    assert sent["data"] == {"action": "navigate", "url": "http://app.test/x"}
    status, body = await task
    assert status == 200 and body == {"action": "navigate", "result": {"tab_id": 3, "url": "http://app.test/x",
                                                                       "title": "X"}}

    task = asyncio.ensure_future(api.call("POST", "/api/v1/extension/actions", json={"action": "screenshot"}))
    await answer(False, error="no active tab")
    status, body = await task
    assert status == 502 and "no active tab" in body["error"]

    status, body = await api.call("POST", "/api/v1/extension/actions",
                                  json={"action": "read_page", "timeout_ms": 200})
    assert status == 504 and "did not answer" in body["error"]

    for bad in ({"action": "fly"}, {}, {"action": "navigate"}, {"action": "navigate", "url": "file:///etc"},
                {"action": "screenshot", "format": "gif"}, {"action": "tabs", "timeout_ms": 0}):
        status, body = await api.call("POST", "/api/v1/extension/actions", json=bad)
        assert status == 400, bad

    task = asyncio.ensure_future(api.call("POST", "/api/v1/extension/inject",
                                          json={"code": "document.title", "tab_id": 3}))
    message = await extension.expect("inject")
    assert message["data"] == {"code": "document.title", "tab_id": 3}
    await extension.send({"type": "action.result", "id": message["id"], "ok": True, "data": {"value": "X"}})
    status, body = await task
    assert status == 200 and body == {"result": {"value": "X"}}
    status, _ = await api.call("POST", "/api/v1/extension/inject", json={"code": "  "})
    assert status == 400


async def test_extension_protocol_errors_and_reconnect(api: Api, extension: FakeExtension) -> None:
    await extension.send({"type": "ping"})
    assert (await extension.expect("pong"))["type"] == "pong"
    await extension.send({"type": "teleport"})
    assert "unknown message type" in (await extension.expect("error"))["error"]
    assert extension.ws is not None
    await extension.ws.send_str("{nope")
    assert "not JSON" in (await extension.expect("error"))["error"]
    await extension.send({"type": "interaction", "data": {"type": "click"}})
    assert "page_url" in (await extension.expect("error"))["error"]

    journey = await start(api)
    await extension.expect("journey.recording_start")
    # A service worker restart: a new connection gets the running recording again.
    second = await FakeExtension(api).connect()
    try:
        resumed = await second.expect("journey.recording_start")
        assert resumed["data"]["journey_id"] == journey["id"]
    finally:
        await second.close()
    await stop(api)


async def test_extension_websocket_needs_the_token(api: Api) -> None:
    url = api.base.replace("http://", "ws://") + "/api/v1/extension/ws?token=wrong"
    async with aiohttp.ClientSession() as anonymous:
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await anonymous.ws_connect(url)
    assert refused.value.status == 401


async def test_store_level_recovery_rules(ghost: Ghost) -> None:
    changed = await ghost.store.write(tables.recover_orphans)
    assert changed == {"failed": [], "completed": []}


async def test_replay_never_reaches_ghosts_own_api(api: Api, extension: FakeExtension) -> None:
    await api.ok("PUT", "/api/v1/settings", json={"replay": {"allow_hosts": ["127.0.0.0/8", "localhost"]}})
    journey = await start(api, "Sneaky")
    await add_flow(api.ghost, f"{api.base}/api/v1/settings/rotate-token", "POST",
                   request_headers=[("Authorization", f"Bearer {TOKEN}")])
    await stop(api)
    async with api.session.get(f"{api.base}/api/v1/journeys/{journey['id']}/replay") as response:
        events = await read_sse(response)
    assert [n for n, _ in events] == ["step_start", "step_error", "done"]
    assert "Ghost's own API" in events[1][1]["error"]
    assert api.ghost.settings.token == TOKEN


async def test_replay_stream_takes_the_token_as_a_query_parameter(api: Api) -> None:
    """EventSource cannot send an Authorization header: the replay stream, and only GET on
    it, takes ?token=."""
    url = f"{api.base}/api/v1/journeys/01NOSUCHJOURNEY00000000000/replay?token={api.token}"
    async with aiohttp.ClientSession() as anonymous:
        async with anonymous.get(url, headers={"Accept": "text/event-stream"}) as response:
            assert response.status == 404  # past the token check: there is no such journey
        async with anonymous.get(url.replace(api.token, "wrong"), headers={"Accept": "text/event-stream"}) as r:
            assert r.status == 401
