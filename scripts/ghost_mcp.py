#!/usr/bin/env python3
"""Ghost's read-only tools for other agents: an MCP server on stdio.

    scripts/ghost mcp [--home HOME] [--api-url URL --token TOKEN]

Any MCP client (Claude Desktop, an IDE, the Python `mcp` client) starts this as a stdio
server. It talks to a running Ghost's REST API with the API token, read from
HOME/config.yaml (HOME defaults to ~/.ghost) unless given, or from GHOST_API_URL and
GHOST_API_TOKEN. Its tools only read: sessions, flows by GQL, one flow, security findings,
journeys, a journey's steps and a journey's export. Every answer is bounded (flows 500 a
call, bodies 64 KB each, journeys 100, steps 500, an export 1 MB), and a 4xx from Ghost
becomes a tool error carrying Ghost's message, so the agent can correct its call.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

import aiohttp
import orjson
from mcp.server.fastmcp import FastMCP
from mcp.server.fastmcp.exceptions import ToolError
from mcp.types import ToolAnnotations

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ghost_extension import ExtensionSetupError, check_api_url, read_home  # noqa: E402

from ghost_addons.config import DEFAULT_HOME  # noqa: E402

TIMEOUT_SECS = 30
FLOWS_MAX = 500
BODY_MAX_CHARS = 64 * 1024
JOURNEYS_MAX = 100
STEPS_MAX = 500
EXPORT_MAX_BYTES = 1024 * 1024
READ_ONLY = ToolAnnotations(readOnlyHint=True, destructiveHint=False, idempotentHint=True, openWorldHint=False)
INSTRUCTIONS = (
    "Ghost is an intercepting HTTP(S) proxy. These tools read what it captured: sessions, flows "
    "(query them with GQL, e.g. 'method:POST status:>=400 host:*.example.com path:/api/*'), passive "
    "security findings, and recorded browser journeys (steps and exports as test code)."
)


class GhostApi:
    """A client of one Ghost's REST API, authorised with its token."""

    def __init__(self, base_url: str, token: str) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token

    async def get(self, path: str, params: dict[str, Any] | None = None) -> tuple[bytes, str]:
        """(body, content type) of a GET; a tool error saying what Ghost answered otherwise."""
        query = {k: str(v) for k, v in (params or {}).items() if v is not None and v != ""}
        timeout = aiohttp.ClientTimeout(total=TIMEOUT_SECS)
        try:
            async with aiohttp.ClientSession(timeout=timeout, headers={"Authorization": f"Bearer {self.token}"}) as s, \
                    s.get(f"{self.base_url}{path}", params=query) as response:
                body = await response.read()
                if response.status >= 400:
                    raise ToolError(f"Ghost answered {response.status} to GET {path}: {error_text(body)}")
                return body, response.content_type
        except aiohttp.ClientError as e:
            raise ToolError(f"cannot reach Ghost's API at {self.base_url}: {e}") from None

    async def json(self, path: str, params: dict[str, Any] | None = None) -> Any:
        body, _ = await self.get(path, params)
        return orjson.loads(body)


def error_text(body: bytes) -> str:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return body[:300].decode("utf-8", "replace")
    return str(data.get("error", data)) if isinstance(data, dict) else str(data)


def trim_bodies(flow: dict[str, Any], limit: int = BODY_MAX_CHARS) -> dict[str, Any]:
    """The flow with each body cut to `limit` characters (marked), so one answer stays small."""
    for part in ("request", "response"):
        message = flow.get(part)
        if isinstance(message, dict) and isinstance(message.get("body"), str) and len(message["body"]) > limit:
            message["body"] = message["body"][:limit]
            message["body_cut_by_mcp"] = f"the body is longer than {limit} characters; ask the REST API for all of it"
    return flow


def capped(items: list[Any], limit: int) -> dict[str, Any]:
    return {"items": items[:limit], "count": min(len(items), limit), "truncated": len(items) > limit}


def build_server(api: GhostApi) -> FastMCP:
    server = FastMCP("ghost", instructions=INSTRUCTIONS)

    @server.tool(annotations=READ_ONLY)
    async def list_sessions() -> dict[str, Any]:
        """List Ghost's capture sessions, newest first, with flow counts; `active` marks the
        one new traffic lands in."""
        return {"sessions": await api.json("/api/v1/sessions")}

    @server.tool(annotations=READ_ONLY)
    async def query_flows(q: str = "", session_id: str = "", limit: int = 50, offset: int = 0) -> dict[str, Any]:
        """Captured flows (summaries, newest first) matching a GQL query: space-separated
        terms ANDed, e.g. `method:POST status:>=400 host:*.example.com path:/api/* tag:error
        "free text"`, `-term` negates. session_id: one session (default: the active one;
        "all" for every session). At most 500 a call; page with offset."""
        if not 1 <= limit <= FLOWS_MAX:
            raise ToolError(f"limit must be 1-{FLOWS_MAX}, got {limit}")
        if offset < 0:
            raise ToolError(f"offset must be 0 or more, got {offset}")
        return await api.json("/api/v1/flows", {"q": q, "session_id": session_id, "limit": limit, "offset": offset})

    @server.tool(annotations=READ_ONLY)
    async def get_flow(flow_id: str) -> dict[str, Any]:
        """One flow in full: request and response headers and bodies (each body cut at
        64 KB), timings, tags, metadata."""
        return trim_bodies(await api.json(f"/api/v1/flows/{flow_id}"))

    @server.tool(annotations=READ_ONLY)
    async def security_findings(session_id: str = "", severity: str = "", check: str = "",
                                host: str = "") -> dict[str, Any]:
        """Findings of Ghost's passive security checks, most severe first: severity,
        confidence, the endpoint, evidence (flow id, header or snippet) and remediation.
        Filters: session_id, severity (high,medium,low,info; comma-separated), check, host."""
        return await api.json("/api/v1/security/findings",
                              {"session_id": session_id, "severity": severity, "check": check, "host": host,
                               "limit": 1000})

    @server.tool(annotations=READ_ONLY)
    async def list_journeys(session_id: str = "") -> dict[str, Any]:
        """Recorded browser journeys of a session (default: the active one): id, name,
        status, flow and interaction counts, start and end. At most 100."""
        if not session_id:
            active = [s for s in await api.json("/api/v1/sessions") if s.get("active")]
            if not active:
                raise ToolError("no active session; pass session_id (list_sessions lists them)")
            session_id = active[0]["id"]
        journeys = await api.json("/api/v1/journeys", {"session_id": session_id})
        return {"session_id": session_id, **capped(journeys, JOURNEYS_MAX)}

    @server.tool(annotations=READ_ONLY)
    async def get_journey_steps(journey_id: str) -> dict[str, Any]:
        """A journey's steps in order: interactions (clicks, inputs, submits with selector,
        element and page URL) and the HTTP flows they caused. At most 500."""
        steps = await api.json(f"/api/v1/journeys/{journey_id}/steps")
        return {"journey_id": journey_id, **capped(steps, STEPS_MAX)}

    @server.tool(annotations=READ_ONLY)
    async def journey_export(journey_id: str, format: str) -> dict[str, Any]:  # noqa: A002 (the API's name)
        """A journey exported as deterministic test code or a file another tool runs, the
        same exporter as Ghost's UI. format: curl, har, postman, k6, playwright-api,
        playwright-ui, cypress-api, cypress-ui (Ghost's error names the ones it has).
        Returns the file's name, size, line count and content (at most 1 MB)."""
        body, content_type = await api.get(f"/api/v1/journeys/{journey_id}/export", {"format": format})
        if len(body) > EXPORT_MAX_BYTES:
            raise ToolError(f"the export is {len(body)} bytes, more than this tool returns ({EXPORT_MAX_BYTES}); "
                            "download it from the REST API")
        text = body.decode("utf-8", "replace")
        return {"journey_id": journey_id, "format": format, "content_type": content_type, "size": len(body),
                "lines": text.count("\n") + (0 if text.endswith("\n") or not text else 1), "content": text}

    return server


def connection(args: argparse.Namespace) -> tuple[str, str]:
    """(api_url, token): the flags, then GHOST_API_URL/GHOST_API_TOKEN, then the home's config."""
    api_url = args.api_url or os.environ.get("GHOST_API_URL", "")
    token = args.token or os.environ.get("GHOST_API_TOKEN", "")
    if api_url and token:
        return check_api_url(api_url), token
    home_url, home_token = read_home(Path(args.home).expanduser())
    return check_api_url(api_url or home_url), token or home_token


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--home", default=DEFAULT_HOME, help="Ghost's home (default %(default)s)")
    parser.add_argument("--api-url", default="", help="Ghost's API, e.g. http://127.0.0.1:5565")
    parser.add_argument("--token", default="", help="the API token (default: from the home's config.yaml)")
    args = parser.parse_args(argv)
    try:
        api_url, token = connection(args)
    except ExtensionSetupError as e:
        print(f"ghost mcp: {e}", file=sys.stderr)
        return 2
    build_server(GhostApi(api_url, token)).run("stdio")
    return 0


if __name__ == "__main__":
    sys.exit(main())
