"""A local server speaking the Anthropic Messages API (`POST /v1/messages`, non-streaming),
for tests of the AI agent: no LLM is reachable from the test machines.

It is the one stand-in the house rules allow (a remote API that cannot be reached). The
SDK reaches it through `ANTHROPIC_BASE_URL`. Its answers come from a script: a function
given every request received so far (parsed JSON) that returns the next answer's content
blocks and stop reason, so a script can read the tool results the agent sent back.

    standin = AnthropicStandIn(script)
    url = await standin.start()          # http://127.0.0.1:PORT
    ... standin.requests ...             # what the agent sent, in order
    await standin.stop()
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiohttp import web

from tests.support.local_server import LocalServer

Script = Callable[[list[dict[str, Any]]], tuple[list[dict[str, Any]], str]]


def text(value: str) -> dict[str, Any]:
    return {"type": "text", "text": value}


def tool_use(call_id: str, name: str, /, **arguments: Any) -> dict[str, Any]:
    return {"type": "tool_use", "id": call_id, "name": name, "input": arguments}


def tool_results(request: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The tool_result blocks of a request's last (user) message, by tool_use_id."""
    last = request["messages"][-1]
    if last["role"] != "user" or not isinstance(last["content"], list):
        return {}
    return {b["tool_use_id"]: b for b in last["content"] if b.get("type") == "tool_result"}


class AnthropicStandIn(LocalServer):
    def __init__(self, script: Script, *, usage: tuple[int, int] = (100, 20)) -> None:
        super().__init__()
        self.script = script
        self.usage = usage
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []

    async def messages(self, request: web.Request) -> web.Response:
        if request.headers.get("x-api-key") != "test-key":
            return web.json_response({"type": "error", "error": {"type": "authentication_error",
                                                                 "message": "invalid x-api-key"}}, status=401)
        body = await request.json()
        self.requests.append(body)
        self.headers.append({k.lower(): v for k, v in request.headers.items()})
        content, stop_reason = self.script(self.requests)
        return web.json_response({
            "id": f"msg_{len(self.requests)}", "type": "message", "role": "assistant", "model": body["model"],
            "content": content, "stop_reason": stop_reason, "stop_sequence": None,
            "usage": {"input_tokens": self.usage[0], "output_tokens": self.usage[1]},
        })

    def routes(self) -> dict[str, web.Handler]:
        return {"/v1/messages": self.messages}
