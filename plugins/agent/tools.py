"""The agent's tools: what each one is (for the model), whether it needs the user's
approval, and how it runs.

Tools reach Ghost through its own REST API on loopback with the API token, exactly as any
client (or the MCP server) would: the agent has no privilege a REST client lacks, and
every argument the model makes up is checked by the same route that checks a person's.
Answers are bounded (`RESULT_MAX_CHARS`) so one tool result cannot eat the token budget.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import orjson

from plugins.agent import workspace

TIMEOUT_SECS = 60
REPLAY_TIMEOUT_SECS = 900  # a browser replay waits for each page to settle
RESULT_MAX_CHARS = 64 * 1024
BODY_MAX_CHARS = 16 * 1024
FLOWS_MAX = 200
JOURNEYS_MAX = 100
STEPS_MAX = 500
REPLAY_STEPS_MAX = 200


class ToolFailed(Exception):
    """The tool could not do what was asked; the message goes back to the model."""


@dataclass(frozen=True)
class Tool:
    name: str
    description: str
    properties: dict[str, Any]
    required: tuple[str, ...] = ()
    needs_approval: bool = False  # mutating or executing: sends traffic, drives the browser

    def schema(self) -> dict[str, Any]:
        """The tool as the Anthropic Messages API takes it."""
        return {"name": self.name, "description": self.description,
                "input_schema": {"type": "object", "properties": self.properties, "required": list(self.required)}}


def _s(description: str) -> dict[str, Any]:
    return {"type": "string", "description": description}


TOOLS: tuple[Tool, ...] = (
    Tool("list_sessions", "List Ghost's capture sessions with flow counts; `active` marks the current one.", {}),
    Tool("query_flows", "Captured flows (summaries, newest first) matching a GQL query, e.g. "
         "`method:POST status:>=400 host:*.example.com path:/api/*`. session_id: one session (default the "
         "active one; 'all' for every session). At most 200 a call.",
         {"q": _s("GQL query"), "session_id": _s("session id"),
          "limit": {"type": "integer", "minimum": 1, "maximum": FLOWS_MAX}}),
    Tool("get_flow", "One flow in full: request and response headers and bodies (cut at 16 KB each).",
         {"flow_id": _s("flow id")}, ("flow_id",)),
    Tool("security_findings", "Findings of Ghost's passive security checks, most severe first, with "
         "evidence and remediation. Filters: session_id, severity (high,medium,low,info), check, host.",
         {"session_id": _s("session id"), "severity": _s("comma-separated severities"),
          "check": _s("check name"), "host": _s("host")}),
    Tool("list_journeys", "Recorded browser journeys of a session (default: the active one). At most 100.",
         {"session_id": _s("session id")}),
    Tool("get_journey_steps", "A journey's steps in order: interactions and the HTTP flows they caused. "
         "At most 500.", {"journey_id": _s("journey id")}, ("journey_id",)),
    Tool("journey_export", "Export a journey as deterministic test code (curl, har, postman, k6, "
         "playwright-api, playwright-ui, cypress-api, cypress-ui); the file is written to the session "
         "workspace's exports/ folder and its path, size and line count returned.",
         {"journey_id": _s("journey id"), "format": _s("export format")}, ("journey_id", "format")),
    Tool("write_report", "Write the session's report (Markdown) as report.md in the session workspace, "
         "replacing any earlier one; downloadable at GET /api/v1/sessions/{id}/report.",
         {"content": _s("the report in Markdown"), "session_id": _s("session id (default: the active one)")},
         ("content",)),
    Tool("write_poc_file", "Write one proof-of-concept file as poc/<name> in the session workspace "
         "(the name is reduced to letters, digits, . _ -); all of them download as a zip at "
         "GET /api/v1/sessions/{id}/poc.",
         {"name": _s("file name, e.g. exploit.sh"), "content": _s("the file's text"),
          "session_id": _s("session id (default: the active one)")}, ("name", "content")),
    Tool("record_journey", "Start or stop recording a browser journey in the active session (needs the "
         "browser extension). Needs the user's approval.",
         {"action": {"type": "string", "enum": ["start", "stop"]}, "name": _s("journey name (to start)")},
         ("action",), needs_approval=True),
    Tool("replay_journey", "Replay a recorded journey in the browser (needs the browser extension): each "
         "recorded click, input, change, submit and navigation is done again in a tab, so the page sends its "
         "requests again. With compare, each step's screenshot is compared with the journey's baselines (the "
         "first compared replay stores them) and the steps that changed are reported. Returns the summary "
         "(steps run, failed, changed) and the failed and changed steps. Needs the user's approval.",
         {"journey_id": _s("journey id"), "compare": {"type": "boolean", "description":
                                                      "compare each step's screenshot with its baseline"}},
         ("journey_id",), needs_approval=True),
)
TOOLS_BY_NAME = {tool.name: tool for tool in TOOLS}


def bounded(value: Any, limit: int = RESULT_MAX_CHARS) -> str:
    """A tool result as the text the model reads, cut (and said so) past `limit`."""
    text = value if isinstance(value, str) else orjson.dumps(value).decode()
    if len(text) <= limit:
        return text
    return text[:limit] + f"\n[cut: the result is {len(text)} characters; ask for less]"


def trim_bodies(flow: dict[str, Any], limit: int = BODY_MAX_CHARS) -> dict[str, Any]:
    for part in ("request", "response"):
        message = flow.get(part)
        if isinstance(message, dict) and isinstance(message.get("body"), str) and len(message["body"]) > limit:
            message["body"] = message["body"][:limit] + f"[cut at {limit} characters]"
    return flow


def text_arg(args: dict[str, Any], name: str, required: bool = False) -> str:
    value = args.get(name, "")
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise ToolFailed(f"{name} must be a string")
    if required and not value:
        raise ToolFailed(f"{name} is required")
    return value


def sse_events(raw: str) -> list[dict[str, Any]]:
    """The `data:` payloads of an SSE text, as JSON objects (other lines ignored)."""
    events = []
    for block in raw.split("\n\n"):
        data = "\n".join(line[5:].lstrip() for line in block.splitlines() if line.startswith("data:"))
        if data:
            try:
                events.append(orjson.loads(data))
            except orjson.JSONDecodeError:
                events.append({"text": data[:500]})
    return events


def replay_summary(journey_id: str, events: list[dict[str, Any]]) -> dict[str, Any]:
    """What the model reads of a browser replay: the summary, the failed steps and the
    changed ones (not every event: a long journey would eat the token budget)."""
    done = next((e for e in events if e.get("type") == "done"), None)
    if done is None:
        raise ToolFailed("the replay ended before its done event (the browser or Ghost went away)")
    failed = [{k: e.get(k) for k in ("step_order", "action", "page_url", "selector", "error")}
              for e in events if e.get("type") == "step_error"]
    changed = [{"step_order": e.get("step_order"), "action": e.get("action"), "page_url": e.get("page_url"),
                "diff_percent": e["screenshot_diff"].get("diff_percent")}
               for e in events if e.get("type") == "step_complete"
               and isinstance(e.get("screenshot_diff"), dict) and e["screenshot_diff"].get("changed")]
    return {"journey_id": journey_id, "summary": done.get("summary"), "failed_steps": failed[:REPLAY_STEPS_MAX],
            "changed_steps": changed[:REPLAY_STEPS_MAX],
            "screenshots": f"/api/v1/journeys/{journey_id}/screenshots/{{step_order}}"}


class GhostClient:
    """Ghost's REST API on loopback, with the token read at each call (it may be rotated)."""

    def __init__(self, base_url: Callable[[], str], token: Callable[[], str]) -> None:
        self.base_url = base_url
        self.token = token

    async def request(self, method: str, path: str, params: dict[str, Any] | None = None,
                      body: Any = None, timeout_secs: float = TIMEOUT_SECS) -> tuple[bytes, dict[str, str]]:
        """(body, headers) of a call; ToolFailed saying what Ghost answered for a 4xx/5xx."""
        query = {k: str(v) for k, v in (params or {}).items() if v not in (None, "")}
        timeout = aiohttp.ClientTimeout(total=timeout_secs)
        headers = {"Authorization": f"Bearer {self.token()}"}
        try:
            async with aiohttp.ClientSession(timeout=timeout, headers=headers) as session, \
                    session.request(method, self.base_url() + path, params=query, json=body) as response:
                data = await response.read()
                if response.status >= 400:
                    raise ToolFailed(f"Ghost answered {response.status} to {method} {path}: {error_text(data)}")
                return data, {k.lower(): v for k, v in response.headers.items()}
        except (aiohttp.ClientError, TimeoutError) as e:
            raise ToolFailed(f"cannot reach Ghost's API: {e!r}") from None

    async def json(self, method: str, path: str, params: dict[str, Any] | None = None, body: Any = None) -> Any:
        data, _ = await self.request(method, path, params, body)
        return orjson.loads(data)


def disposition_filename(value: str) -> str:
    """The filename of a Content-Disposition header ("" when none)."""
    match = re.search(r'filename="([^"]*)"', value)
    return match.group(1) if match else ""


def error_text(body: bytes) -> str:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return body[:300].decode("utf-8", "replace")
    return str(data.get("error", data)) if isinstance(data, dict) else str(data)


class ToolRunner:
    """Runs the tools for one chat: its session (the active one unless the chat names
    another) and the home whose workspaces/ the files go to."""

    def __init__(self, api: GhostClient, home: Path, session_id: str) -> None:
        self.api = api
        self.home = home
        self.session_id = session_id
        self.handlers: dict[str, Callable[[dict[str, Any]], Awaitable[Any]]] = {
            "list_sessions": self.list_sessions, "query_flows": self.query_flows, "get_flow": self.get_flow,
            "security_findings": self.security_findings, "list_journeys": self.list_journeys,
            "get_journey_steps": self.get_journey_steps, "journey_export": self.journey_export,
            "write_report": self.write_report, "write_poc_file": self.write_poc_file,
            "record_journey": self.record_journey, "replay_journey": self.replay_journey,
        }

    async def run(self, name: str, args: dict[str, Any]) -> Any:
        handler = self.handlers.get(name)
        if handler is None:
            raise ToolFailed(f"no tool named {name!r}; the tools are {', '.join(self.handlers)}")
        return await handler(args)

    def _session(self, args: dict[str, Any]) -> str:
        return text_arg(args, "session_id") or self.session_id

    def _workspace(self, session_id: str) -> Path:
        try:
            return workspace.workspace_dir(self.home, session_id)
        except ValueError as e:
            raise ToolFailed(str(e)) from None

    async def list_sessions(self, args: dict[str, Any]) -> Any:
        return {"sessions": await self.api.json("GET", "/api/v1/sessions")}

    async def query_flows(self, args: dict[str, Any]) -> Any:
        limit = args.get("limit", 50)
        if not isinstance(limit, int) or not 1 <= limit <= FLOWS_MAX:
            raise ToolFailed(f"limit must be an integer 1-{FLOWS_MAX}")
        return await self.api.json("GET", "/api/v1/flows", {"q": text_arg(args, "q"),
                                                            "session_id": self._session(args), "limit": limit})

    async def get_flow(self, args: dict[str, Any]) -> Any:
        return trim_bodies(await self.api.json("GET", f"/api/v1/flows/{text_arg(args, 'flow_id', True)}"))

    async def security_findings(self, args: dict[str, Any]) -> Any:
        return await self.api.json("GET", "/api/v1/security/findings", {
            "session_id": self._session(args), "severity": text_arg(args, "severity"),
            "check": text_arg(args, "check"), "host": text_arg(args, "host"), "limit": 200})

    async def list_journeys(self, args: dict[str, Any]) -> Any:
        session_id = self._session(args)
        journeys = await self.api.json("GET", "/api/v1/journeys", {"session_id": session_id})
        return {"session_id": session_id, "journeys": journeys[:JOURNEYS_MAX],
                "truncated": len(journeys) > JOURNEYS_MAX}

    async def get_journey_steps(self, args: dict[str, Any]) -> Any:
        journey_id = text_arg(args, "journey_id", True)
        steps = await self.api.json("GET", f"/api/v1/journeys/{journey_id}/steps")
        return {"journey_id": journey_id, "steps": steps[:STEPS_MAX], "truncated": len(steps) > STEPS_MAX}

    async def journey_export(self, args: dict[str, Any]) -> Any:
        journey_id = text_arg(args, "journey_id", True)
        fmt = text_arg(args, "format", True)
        journey = await self.api.json("GET", f"/api/v1/journeys/{journey_id}")
        data, headers = await self.api.request("GET", f"/api/v1/journeys/{journey_id}/export", {"format": fmt})
        text = data.decode("utf-8", "replace")
        root = self._workspace(self.session_id)
        try:
            files = workspace.export_files(fmt, journey_id, str(journey.get("name", "")),
                                           disposition_filename(headers.get("content-disposition", "")), text)
            paths = [await asyncio.to_thread(workspace.write_file, root / folder, name, content)
                     for folder, name, content in files]
        except ValueError as e:
            raise ToolFailed(str(e)) from None
        return {"path": str(paths[0]) if len(paths) == 1 else str(root / files[0][0]),
                "files": [str(p) for p in paths], "size": len(data),
                "lines": text.count("\n") + (0 if text.endswith("\n") or not text else 1)}

    async def write_report(self, args: dict[str, Any]) -> Any:
        session_id = self._session(args)
        await self.api.json("GET", f"/api/v1/sessions/{session_id}")  # a 404 for a session that is not there
        try:
            path = await asyncio.to_thread(workspace.write_report, self._workspace(session_id),
                                           text_arg(args, "content", True))
        except ValueError as e:
            raise ToolFailed(str(e)) from None
        return {"path": str(path), "download": f"/api/v1/sessions/{session_id}/report"}

    async def write_poc_file(self, args: dict[str, Any]) -> Any:
        session_id = self._session(args)
        await self.api.json("GET", f"/api/v1/sessions/{session_id}")
        try:
            path = await asyncio.to_thread(workspace.write_poc, self._workspace(session_id),
                                           text_arg(args, "name", True), text_arg(args, "content", True))
        except ValueError as e:
            raise ToolFailed(str(e)) from None
        return {"path": str(path), "name": path.name, "download": f"/api/v1/sessions/{session_id}/poc"}

    async def record_journey(self, args: dict[str, Any]) -> Any:
        action = text_arg(args, "action", True)
        if action == "start":
            return await self.api.json("POST", "/api/v1/journeys/start",
                                       body={"session_id": self.session_id, "name": text_arg(args, "name", True)})
        if action == "stop":
            return await self.api.json("POST", "/api/v1/journeys/stop", body={"session_id": self.session_id})
        raise ToolFailed("action must be start or stop")

    async def replay_journey(self, args: dict[str, Any]) -> Any:
        journey_id = text_arg(args, "journey_id", True)
        compare = args.get("compare", False)
        if not isinstance(compare, bool):
            raise ToolFailed("compare must be true or false")
        data, _ = await self.api.request("POST", f"/api/v1/journeys/{journey_id}/replay/browser",
                                         body={"compare": compare}, timeout_secs=REPLAY_TIMEOUT_SECS)
        return replay_summary(journey_id, sse_events(data.decode("utf-8", "replace")))

