"""The AI agent for real: a `mitmdump -s ghost.py` that captured traffic through its proxy,
the model being a local server speaking the Anthropic Messages API
(tests/support/anthropic_standin.py) reached through ANTHROPIC_BASE_URL, as the SDK reads it."""

from __future__ import annotations

import asyncio
import io
import zipfile
from typing import Any

import aiohttp
import orjson
import pytest

from tests.support.anthropic_standin import AnthropicStandIn, text, tool_results, tool_use


def script(requests: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], str]:
    step = len(requests)
    last = requests[-1]
    if step == 1:
        return [text("Looking for server errors."), tool_use("q", "query_flows", q="status:>=500"),
                tool_use("j", "list_journeys")], "tool_use"
    if step == 2:
        [flow] = orjson.loads(tool_results(last)["q"]["content"])["flows"]
        journey_id = orjson.loads(tool_results(last)["j"]["content"])["journeys"][0]["id"]
        return [tool_use("f", "get_flow", flow_id=flow["id"]),
                tool_use("r", "replay_journey", journey_id=journey_id)], "tool_use"
    if step == 3:
        flow = orjson.loads(tool_results(last)["f"]["content"])
        url = flow["request"]["url"]
        return [tool_use("w", "write_report", content=f"# Server error\n\n`GET {url}` answers 500.\n"),
                tool_use("p", "write_poc_file", name="repro.sh", content=f"curl -i '{url}'\n")], "tool_use"
    return [text("Done.")], "end_turn"


@pytest.mark.timeout(120)
async def test_the_agent_reads_captured_traffic_waits_for_approval_and_writes_a_report(
        ghost_factory, target) -> None:  # type: ignore[no-untyped-def]
    standin = AnthropicStandIn(script)
    standin_url = await standin.start()
    ghost = ghost_factory(env={"ANTHROPIC_BASE_URL": standin_url}, start=False)
    await asyncio.to_thread(ghost.start)
    try:
        def setup() -> str:
            with ghost.client() as client:
                assert client.get(f"{target.http_url}/status/500").status_code == 500
                assert client.get(f"{target.http_url}/echo/fine").status_code == 200
            ghost.wait_flows(2)
            assert ghost.api("PUT", "/api/v1/settings", json={
                "llm": {"provider": "anthropic", "api_key": "test-key", "model": "claude-test"},
                "replay": {"allow_hosts": ["127.0.0.1"]}}).status_code == 200
            session_id = [s for s in ghost.api("GET", "/api/v1/sessions").json() if s["active"]][0]["id"]
            assert ghost.api("POST", "/api/v1/journeys", json={"session_id": session_id,
                                                               "name": "empty"}).status_code == 201
            return session_id

        session_id = await asyncio.to_thread(setup)
        headers = {"Authorization": "Bearer test-token"}
        events: list[tuple[str, dict]] = []
        async with aiohttp.ClientSession(headers=headers) as http:
            async with http.post(f"{ghost.api_url}/api/v1/agent/chat", json={"message": "Any server errors?"},
                                 timeout=aiohttp.ClientTimeout(total=60)) as response:
                assert response.status == 200
                name = ""
                async for raw in response.content:
                    line = raw.decode().rstrip("\n")
                    if line.startswith("event: "):
                        name = line[7:]
                    elif line.startswith("data: "):
                        events.append((name, orjson.loads(line[6:])))
                        if name == "approval_required":
                            await asyncio.sleep(0.3)
                            assert len(standin.requests) == 2  # the loop waits for the user
                            async with http.post(f"{ghost.api_url}/api/v1/agent/approvals/{events[-1][1]['id']}",
                                                 json={"approve": True}) as answer:
                                assert answer.status == 200
            async with http.get(f"{ghost.api_url}/api/v1/sessions/{session_id}/report") as response:
                assert response.status == 200 and response.content_type == "text/markdown"
                assert "answers 500" in await response.text()
            async with http.get(f"{ghost.api_url}/api/v1/sessions/{session_id}/report",
                                headers={"Accept": "text/html"}) as response:
                assert "<h1>Server error</h1>" in await response.text()
            async with http.get(f"{ghost.api_url}/api/v1/sessions/{session_id}/poc") as response:
                archive = zipfile.ZipFile(io.BytesIO(await response.read()))
        assert archive.namelist() == ["poc/repro.sh"] and b"/status/500" in archive.read("poc/repro.sh")
    finally:
        await asyncio.to_thread(ghost.stop)
        await standin.stop()

    names = [n for n, _ in events]
    assert names == ["text", "tool_call", "tool_result", "tool_call", "tool_result", "tool_call", "tool_result",
                     "tool_call", "approval_required", "tool_result", "tool_call", "tool_result", "tool_call",
                     "tool_result", "text", "done"], names
    assert events[-1][1]["reason"] == "end_turn" and len(standin.requests) == 4
    # Approved, the tool ran: a browser replay needs the extension, and this Ghost has none.
    replayed = tool_results(standin.requests[2])["r"]
    assert replayed["is_error"] and "no browser extension is connected" in replayed["content"], replayed
