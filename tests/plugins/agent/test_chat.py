"""The agent's loop against a real in-process Ghost with captured traffic and a recorded
journey, the model being a local stand-in for the Anthropic Messages API
(tests/support/anthropic_standin.py) reached through ANTHROPIC_BASE_URL."""

from __future__ import annotations

import asyncio
import base64
import io
import time
import zipfile
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
from aiohttp import web

from tests.plugins.journeys.helpers import make_flow
from tests.support.anthropic_standin import AnthropicStandIn, text, tool_results, tool_use
from tests.support.extension_client import FakeExtension
from tests.support.inprocess import Api

PLUGINS = ("plugins.extension_bridge", "plugins.journeys", "plugins.security", "plugins.integrations",
           "plugins.agent")


@pytest.fixture
async def target(aiohttp_server):  # type: ignore[no-untyped-def]
    """The site the captured traffic came from; a replay reaches it again."""
    hits: list[str] = []

    async def items(request: web.Request) -> web.Response:
        hits.append(f"{request.method} {request.path}")
        return web.json_response([{"id": 1}])

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", items)
    server = await aiohttp_server(app, host="127.0.0.1")
    server.hits = hits
    return server


async def read_events(response: aiohttp.ClientResponse, on_event: Any = None) -> list[tuple[str, dict]]:
    events, name = [], ""
    async for raw in response.content:
        line = raw.decode().rstrip("\n")
        if line.startswith("event: "):
            name = line[7:]
        elif line.startswith("data: "):
            events.append((name, orjson.loads(line[6:])))
            if on_event is not None:
                await on_event(name, events[-1][1])
    return events


async def ghost_with_llm(ghost_app, monkeypatch, base_url: str, **agent: int) -> Api:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("ANTHROPIC_BASE_URL", base_url)
    api = await ghost_app(PLUGINS)
    settings: dict[str, Any] = {"llm": {"provider": "anthropic", "api_key": "test-key", "model": "claude-test"},
                                "replay": {"allow_hosts": ["127.0.0.1"]}}
    if agent:
        settings["agent"] = agent
    await api.ok("PUT", "/api/v1/settings", json=settings)
    return api


async def capture(api: Api, target_port: int) -> tuple[str, str]:
    """Captured traffic: a failing login and a journey of two requests recorded through the
    (scripted) extension. (failing flow id, journey id)"""
    ghost = api.ghost
    base = f"http://127.0.0.1:{target_port}"
    failing = make_flow(f"{base}/api/login", "POST", status=500, body=b'{"error":"Traceback (most recent call"}',
                        session_id=ghost.active_session_id)
    await ghost.store.add_flows([failing])
    extension = await FakeExtension(api).connect()
    try:
        for _ in range(100):
            if (await api.ok("GET", "/api/v1/extension/status"))["connected"]:
                break
            await asyncio.sleep(0.02)
        journey = await api.ok("POST", "/api/v1/journeys/start",
                               json={"session_id": ghost.active_session_id, "name": "Browse items"})
        t0 = time.time() * 1000
        await extension.send({"type": "interaction", "data": {
            "id": f"{journey['id']}-1-{int(t0)}", "journey_id": journey["id"], "type": "click",
            "selector": "#items", "element_type": "button", "element_text": "Items",
            "page_url": f"{base}/", "page_title": "Shop", "timestamp": t0, "attributes": {"tag": "button"}}})
        await asyncio.sleep(0.05)
        await ghost.store.add_flows([make_flow(f"{base}/api/items", header=f"{journey['id']}-1-{int(t0)}",
                                               at_ms=t0 + 5, session_id=ghost.active_session_id)])
        await asyncio.sleep(0.05)
        await api.ok("POST", "/api/v1/journeys/stop", json={"session_id": ghost.active_session_id})
    finally:
        await extension.close()
    return failing.id, journey["id"]


def result_json(request: dict[str, Any], call_id: str) -> Any:
    return orjson.loads(tool_results(request)[call_id]["content"])


def analysis_script(requests: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], str]:
    """Look at the failures, then the journey, replay it (approval), write a report and a PoC."""
    last = requests[-1]
    step = len(requests)
    if step == 1:
        return [text("Looking at the failures."), tool_use("c1", "query_flows", q="status:>=500"),
                tool_use("c2", "list_journeys")], "tool_use"
    if step == 2:  # the ids come from the tool results the agent sent back
        flow_id = result_json(last, "c1")["flows"][0]["id"]
        journey_id = result_json(last, "c2")["journeys"][0]["id"]
        return [tool_use("c3", "get_flow", flow_id=flow_id), tool_use("c4", "get_journey_steps", journey_id=journey_id),
                tool_use("c5", "journey_export", journey_id=journey_id, format="curl"),
                tool_use("c6", "security_findings")], "tool_use"
    if step == 3:
        journey_id = result_json(last, "c4")["journey_id"]
        return [tool_use("c7", "replay_journey", journey_id=journey_id)], "tool_use"
    if step == 4:
        return [tool_use("c8", "write_report", content="# Login fails\n\n<script>x</script> `POST /api/login` "
                         "answers **500** with a stack trace.\n"),
                tool_use("c9", "write_poc_file", name="../../../etc/login 500.sh",
                         content="curl -X POST http://shop.test/api/login\n")], "tool_use"
    return [text("The report and the PoC are written.")], "end_turn"


PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)


async def play_the_browser(extension: FakeExtension, target_port: int) -> None:
    """The extension's side of a browser replay: each replayed click makes the page fetch
    what it fetched when recorded (the journey's one click loaded /api/items); screenshots."""
    async with aiohttp.ClientSession() as page:
        while True:
            message = await extension.expect("action", timeout=60)
            data = message["data"]
            if data["action"] == "replay_step":
                async with page.get(f"http://127.0.0.1:{target_port}/api/items") as response:
                    await response.read()
                reply = {"tab_id": 1, "url": data["step"]["page_url"], "selector": data["step"]["selectors"][0]}
            else:
                reply = {"tab_id": 1, "format": "png", "data": base64.b64encode(PNG).decode()}
            await extension.send({"type": "action.result", "id": message["id"], "ok": True, "data": reply})


async def test_the_loop_runs_tools_waits_for_approval_and_writes_a_report_and_a_poc(
        ghost_app, monkeypatch, target) -> None:  # type: ignore[no-untyped-def]
    standin = AnthropicStandIn(analysis_script)
    api = await ghost_with_llm(ghost_app, monkeypatch, await standin.start())
    browser = await FakeExtension(api).connect()
    playing = asyncio.ensure_future(play_the_browser(browser, target.port))
    try:
        failing_id, journey_id = await capture(api, target.port)
        session_id = api.ghost.active_session_id
        hits_at_approval: list[str] = []

        async def on_event(name: str, data: dict) -> None:
            if name == "approval_required":
                assert data["tool"] == "replay_journey" and data["input"] == {"journey_id": journey_id}
                waiting = await api.ok("GET", "/api/v1/agent/approvals")
                assert [a["id"] for a in waiting["approvals"]] == [data["id"]]
                monitor = (await api.ok("GET", "/api/v1/monitor"))["agent"]
                assert monitor == {"chats_started": 1, "chats_running": 1, "approvals_waiting": 1}
                await asyncio.sleep(0.3)
                hits_at_approval.extend(target.hits)  # nothing replayed while it waits
                await api.ok("POST", f"/api/v1/agent/approvals/{data['id']}", json={"approve": True})
                status, body = await api.call("POST", f"/api/v1/agent/approvals/{data['id']}",
                                              json={"approve": True})
                assert status in (404, 409), body  # answered once

        async with api.session.post(f"{api.base}/api/v1/agent/chat",
                                    json={"message": "Why does login fail? Write a report."}) as response:
            assert response.status == 200 and response.content_type == "text/event-stream"
            events = await asyncio.wait_for(read_events(response, on_event), 60)
    finally:
        playing.cancel()
        await browser.close()
        await standin.stop()

    names = [name for name, _ in events]
    assert names[0] == "text" and names[-1] == "done", names
    assert names.count("tool_call") == names.count("tool_result") == 9
    assert names.index("approval_required") < names.index("tool_result", names.index("approval_required"))
    assert hits_at_approval == [] and target.hits == ["GET /api/items"]  # replayed once, after approval
    done = events[-1][1]
    assert done == {"reason": "end_turn", "iterations": 5, "input_tokens": 500, "output_tokens": 100}
    results = {d["name"]: d for n, d in events if n == "tool_result"}
    assert not any(r["is_error"] for r in results.values()), results
    assert events[-2] == ("text", {"text": "The report and the PoC are written."})

    # what went back to the model: the tools, the key, and each result in the next request
    first, second, third = standin.requests[:3]
    assert {t["name"] for t in first["tools"]} >= {"query_flows", "get_flow", "list_sessions", "security_findings",
                                                    "list_journeys", "get_journey_steps", "journey_export",
                                                    "write_report", "write_poc_file", "record_journey",
                                                    "replay_journey"}
    assert first["model"] == "claude-test" and standin.headers[0]["x-api-key"] == "test-key"
    assert [f["id"] for f in result_json(second, "c1")["flows"]] == [failing_id]
    assert result_json(third, "c3")["response"]["status_code"] == 500
    assert [s["type"] for s in result_json(third, "c4")["steps"]] == ["action"]  # the click and the flow it caused
    export = result_json(third, "c5")
    assert export["path"].endswith(f"workspaces/{session_id}/exports/journey-{journey_id[:8]}.sh")
    assert "curl" in Path(export["path"]).read_text() and export["lines"] >= 1  # noqa: ASYNC240 (a test)
    replay = result_json(standin.requests[3], "c7")
    assert replay["summary"] == {"steps_run": 1, "failed": 0, "changed": 0, "changed_steps": [],
                                 "baselines_stored": 0}
    assert replay["failed_steps"] == replay["changed_steps"] == []
    assert second["messages"][1]["content"][1] == {"type": "tool_use", "id": "c1", "name": "query_flows",
                                                   "input": {"q": "status:>=500"}}

    # the report and the PoC, downloadable
    async with api.session.get(f"{api.base}/api/v1/sessions/{session_id}/report") as response:
        assert response.status == 200 and response.content_type == "text/markdown"
        assert "attachment" in response.headers["Content-Disposition"]
        assert (await response.text()).startswith("# Login fails")
    async with api.session.get(f"{api.base}/api/v1/sessions/{session_id}/report",
                                headers={"Accept": "text/html,*/*;q=0.8"}) as response:
        page = await response.text()
        assert response.content_type == "text/html" and "<h1>Login fails</h1>" in page
        assert "<script>x" not in page and "&lt;script&gt;x" in page  # raw HTML in the Markdown is escaped
    async with api.session.get(f"{api.base}/api/v1/sessions/{session_id}/poc") as response:
        assert response.status == 200 and response.content_type == "application/zip"
        archive = zipfile.ZipFile(io.BytesIO(await response.read()))
    assert archive.namelist() == ["poc/login_500.sh"]  # the name reduced; no way out of poc/
    assert archive.read("poc/login_500.sh") == b"curl -X POST http://shop.test/api/login\n"


def replay_then_stop(journey_id: str) -> Any:
    def script(requests: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], str]:
        if len(requests) == 1:
            return [tool_use("r1", "replay_journey", journey_id=journey_id)], "tool_use"
        return [text("ok")], "end_turn"
    return script


async def test_a_refused_call_does_not_run_and_the_model_is_told(ghost_app, monkeypatch, target) -> None:  # type: ignore[no-untyped-def]
    holder: dict[str, str] = {}
    standin = AnthropicStandIn(lambda requests: replay_then_stop(holder["journey"])(requests))
    api = await ghost_with_llm(ghost_app, monkeypatch, await standin.start())
    try:
        _, holder["journey"] = await capture(api, target.port)

        async def refuse(name: str, data: dict) -> None:
            if name == "approval_required":
                await api.ok("POST", f"/api/v1/agent/approvals/{data['id']}", json={"approve": False})

        async with api.session.ws_connect(api.ws_url("/api/v1/ws")) as ws:
            async with api.session.post(f"{api.base}/api/v1/agent/chat", json={"message": "replay it"}) as response:
                events = await asyncio.wait_for(read_events(response, refuse), 30)
            announced = []
            while len(announced) < 2:
                message = await asyncio.wait_for(ws.receive_json(), 10)
                if message["type"].startswith("agent."):
                    announced.append((message["type"], message["data"]))
        [approval_id] = [d["id"] for n, d in events if n == "approval_required"]
        assert announced == [
            ("agent.approval_required", {"id": approval_id, "tool": "replay_journey",
                                         "input": {"journey_id": holder["journey"]},
                                         "session_id": api.ghost.active_session_id}),
            ("agent.approval_resolved", {"id": approval_id, "approved": False})]
    finally:
        await standin.stop()
    assert target.hits == []
    [result] = [d for n, d in events if n == "tool_result"]
    assert result["is_error"] and "did not approve" in result["content"]
    assert tool_results(standin.requests[1])["r1"]["is_error"] is True
    assert events[-1][0] == "done"


async def test_a_client_going_away_cancels_the_run(ghost_app, monkeypatch, target) -> None:  # type: ignore[no-untyped-def]
    holder: dict[str, str] = {}
    standin = AnthropicStandIn(lambda requests: replay_then_stop(holder["journey"])(requests))
    api = await ghost_with_llm(ghost_app, monkeypatch, await standin.start())
    try:
        _, holder["journey"] = await capture(api, target.port)
        async with api.session.ws_connect(api.ws_url("/api/v1/ws")) as ws:
            async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {api.token}"}) as client:
                response = await client.post(f"{api.base}/api/v1/agent/chat", json={"message": "replay it"})
                async for raw in response.content:
                    if raw.startswith(b"event: approval_required"):
                        break
                response.close()  # the user closes the chat while the call waits
            while (message := await asyncio.wait_for(ws.receive_json(), 10))["type"] != "agent.approval_resolved":
                pass
        assert message["data"]["approved"] is False
        assert (await api.ok("GET", "/api/v1/agent/approvals"))["approvals"] == []
        await asyncio.sleep(0.2)
    finally:
        await standin.stop()
    assert target.hits == [] and len(standin.requests) == 1  # never run, never asked again
    assert (await api.ok("GET", "/api/v1/monitor"))["agent"]["chats_running"] == 0


def endless(requests: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], str]:
    return [tool_use(f"l{len(requests)}", "list_sessions")], "tool_use"


async def chat_events(api: Api, message: str = "go") -> list[tuple[str, dict]]:
    async with api.session.post(f"{api.base}/api/v1/agent/chat", json={"message": message}) as response:
        assert response.status == 200
        return await asyncio.wait_for(read_events(response), 30)


async def test_the_iteration_limit_stops_the_loop(ghost_app, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    standin = AnthropicStandIn(endless)
    api = await ghost_with_llm(ghost_app, monkeypatch, await standin.start(), max_iterations=3)
    try:
        events = await chat_events(api)
    finally:
        await standin.stop()
    assert events[-1] == ("done", {"reason": "iteration_limit", "iterations": 3, "input_tokens": 300,
                                   "output_tokens": 60})
    assert len(standin.requests) == 3
    sessions = orjson.loads(tool_results(standin.requests[1])["l1"]["content"])["sessions"]
    assert [s["id"] for s in sessions] == [api.ghost.active_session_id]


async def test_the_token_budget_stops_the_loop(ghost_app, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    standin = AnthropicStandIn(endless, usage=(900, 200))
    api = await ghost_with_llm(ghost_app, monkeypatch, await standin.start(), token_budget=2000)
    try:
        events = await chat_events(api)
    finally:
        await standin.stop()
    assert events[-1][1]["reason"] == "token_budget" and len(standin.requests) == 2


async def test_a_tool_error_goes_back_to_the_model(ghost_app, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    def script(requests: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], str]:
        if len(requests) == 1:
            return [tool_use("e1", "get_flow", flow_id="NOPE"), tool_use("e2", "query_flows", q="status:>>x"),
                    tool_use("e3", "no_such_tool")], "tool_use"
        return [text("sorry")], "end_turn"
    standin = AnthropicStandIn(script)
    api = await ghost_with_llm(ghost_app, monkeypatch, await standin.start())
    try:
        events = await chat_events(api)
    finally:
        await standin.stop()
    results = tool_results(standin.requests[1])
    assert all(r["is_error"] for r in results.values())
    assert "404" in results["e1"]["content"] and "no tool named" in results["e3"]["content"]
    assert events[-1][0] == "done"


async def test_the_provider_failing_is_an_error_event(ghost_app, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    standin = AnthropicStandIn(endless)
    api = await ghost_with_llm(ghost_app, monkeypatch, await standin.start())
    await api.ok("PUT", "/api/v1/settings", json={"llm": {"api_key": "wrong-key"}})  # the client is rebuilt
    try:
        events = await chat_events(api)
    finally:
        await standin.stop()
    assert [n for n, _ in events] == ["error"] and "invalid x-api-key" in events[0][1]["error"]


async def test_bad_chats_are_4xx(ghost_app, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    standin = AnthropicStandIn(endless)
    url = await standin.start()
    try:
        api = await ghost_with_llm(ghost_app, monkeypatch, url)
        for body, status, says in (({}, 400, "message is required"), ({"message": 5}, 400, "message is required"),
                                   ({"message": "x" * 40_000}, 400, "limit"),
                                   ({"message": "hi", "session_id": "01NOSUCHSESSION"}, 404, "session")):
            got, answer = await api.call("POST", "/api/v1/agent/chat", json=body)
            assert (got, says in answer["error"]) == (status, True), answer
        got, answer = await api.call("POST", "/api/v1/agent/approvals/nothing", json={"approve": True})
        assert got == 404
        got, answer = await api.call("POST", "/api/v1/agent/approvals/nothing", json={"approve": "yes"})
        assert got == 400 and "true or false" in answer["error"]
        await api.ok("PUT", "/api/v1/settings", json={"replay": {"allow_hosts": []}})
        got, answer = await api.call("POST", "/api/v1/agent/chat", json={"message": "hi"})
        assert got == 400 and "refused" in answer["error"] and "replay.allow_hosts" in answer["error"]
        await api.ok("PUT", "/api/v1/settings", json={"llm": {"provider": "openai"}})
        got, answer = await api.call("POST", "/api/v1/agent/chat", json={"message": "hi"})
        assert got == 400 and "anthropic" in answer["error"]
    finally:
        await standin.stop()
    assert standin.requests == []


@pytest.mark.parametrize(("host", "url"), [("0.0.0.0", "http://127.0.0.1:5565"), ("::", "http://[::1]:5565"),
                                           ("127.0.0.1", "http://127.0.0.1:5565")])
def test_the_tools_reach_the_api_on_loopback(host: str, url: str, tmp_path: Path) -> None:
    from ghost_addons.core import Ghost
    from plugins.agent import loopback_api_url
    assert loopback_api_url(Ghost(tmp_path, api_host=host, api_port=5565)) == url


async def test_the_models_stop_reason_is_the_reason(ghost_app, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    standin = AnthropicStandIn(lambda requests: ([text("cut off mid")], "max_tokens"))
    api = await ghost_with_llm(ghost_app, monkeypatch, await standin.start())
    try:
        events = await chat_events(api)
    finally:
        await standin.stop()
    assert events == [("text", {"text": "cut off mid"}), ("done", {"reason": "max_tokens", "iterations": 1,
                                                                   "input_tokens": 100, "output_tokens": 20})]
