"""`scripts/ghost mcp` for real: the Python `mcp` client starts it over stdio against a real
`mitmdump -s ghost.py` with captured traffic, lists its tools and calls them."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

from tests.plugins.journeys.export.journeys import login_flows
from tests.support.extension_client import FakeExtension

REPO = Path(__file__).resolve().parents[2]
TOOLS = {"list_sessions", "query_flows", "get_flow", "security_findings", "list_journeys", "get_journey_steps",
         "journey_export"}


def server_params(ghost, *extra: str) -> StdioServerParameters:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return StdioServerParameters(command=sys.executable, args=[str(REPO / "scripts" / "ghost_mcp.py"), *extra],
                                 env=env, cwd=str(REPO))


def payload(result) -> dict:
    assert not result.isError, result.content
    return json.loads(result.content[0].text)


@pytest.mark.timeout(120)
async def test_an_mcp_client_lists_the_tools_and_queries_flows_with_gql(ghost, target) -> None:
    with ghost.client() as client:
        assert client.post(f"{target.http_url}/echo/orders", json={"item": 1}).status_code == 200
        assert client.get(f"{target.http_url}/status/404").status_code == 404
    ghost.wait_flows(2)
    params = server_params(ghost, "--home", str(ghost.home))  # the token and address from the home
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        tools = {t.name: t for t in (await session.list_tools()).tools}
        assert set(tools) == TOOLS
        assert all(t.annotations.readOnlyHint for t in tools.values())

        found = payload(await session.call_tool("query_flows", {"q": "method:POST path:/echo/*"}))
        [summary] = found["flows"]
        assert summary["method"] == "POST" and summary["path"] == "/echo/orders"
        flow = payload(await session.call_tool("get_flow", {"flow_id": summary["id"]}))
        assert '"item": 1' in flow["request"]["body"].replace('"item":1', '"item": 1')
        assert [f["status_code"] for f in payload(await session.call_tool("query_flows", {"q": "status:>=400"}))["flows"]] \
            == [404]

        sessions = payload(await session.call_tool("list_sessions", {}))["sessions"]
        assert [s["active"] for s in sessions] == [True]
        journeys = payload(await session.call_tool("list_journeys", {}))
        assert journeys["items"] == [] and journeys["session_id"] == sessions[0]["id"]
        assert payload(await session.call_tool("security_findings", {}))["findings"] == []

        bad = await session.call_tool("query_flows", {"q": "colour:red"})
        assert bad.isError and "400" in bad.content[0].text and "colour" in bad.content[0].text
        missing = await session.call_tool("get_journey_steps", {"journey_id": "nope"})
        assert missing.isError and "404" in missing.content[0].text


async def test_a_wrong_token_is_a_tool_error_not_a_crash(ghost) -> None:
    params = server_params(ghost, "--api-url", ghost.api_url, "--token", "wrong")
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        result = await session.call_tool("list_sessions", {})
        assert result.isError and "401" in result.content[0].text


async def test_the_journey_tools_read_a_recorded_journey(ghost_app) -> None:
    """A journey recorded into a Ghost (a scripted extension starts and stops it, the flows
    come through the store as captured ones), read through the MCP server over stdio."""
    api = await ghost_app(("plugins.extension_bridge", "plugins.journeys"))
    extension = await FakeExtension(api).connect()
    try:
        for _ in range(100):
            if (await api.ok("GET", "/api/v1/extension/status"))["connected"]:
                break
            await asyncio.sleep(0.02)
        sid = api.ghost.active_session_id
        journey = await api.ok("POST", "/api/v1/journeys/start", json={"session_id": sid, "name": "Sign in"})
        flows = login_flows("http://app.test", "tok3n-value-123456", "n0te1d", start=datetime.now(UTC),
                            session_id=sid, ids="01JT00MCP0")
        await api.ghost.store.add_flows(flows)
        await asyncio.sleep(0.2)
        await api.ok("POST", "/api/v1/journeys/stop", json={"session_id": sid})
    finally:
        await extension.close()
    params = StdioServerParameters(command=sys.executable, cwd=str(REPO),
                                   args=[str(REPO / "scripts" / "ghost_mcp.py")],
                                   env={**os.environ, "PYTHONPATH": str(REPO), "GHOST_API_URL": api.base,
                                        "GHOST_API_TOKEN": api.token})
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        journeys = payload(await session.call_tool("list_journeys", {}))
        assert [j["id"] for j in journeys["items"]] == [journey["id"]] and journeys["truncated"] is False
        steps = payload(await session.call_tool("get_journey_steps", {"journey_id": journey["id"]}))
        assert [s["flow_id"] for s in steps["items"]] == [f.id for f in flows]
        script = payload(await session.call_tool("journey_export", {"journey_id": journey["id"], "format": "curl"}))
        assert script["content"].startswith("#!") and "http://app.test" in script["content"]
        assert script["lines"] == script["content"].count("\n") and script["size"] == len(script["content"].encode())
        bad = await session.call_tool("journey_export", {"journey_id": journey["id"], "format": "word"})
        assert bad.isError and "400" in bad.content[0].text
