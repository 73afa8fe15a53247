"""A local server speaking Ollama's chat API (`POST /api/chat`, non-streaming, with
tools), for tests of the AI agent. Like tests/support/anthropic_standin.py: answers come
from a script given every request received so far (parsed JSON)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiohttp import web

from tests.support.local_server import LocalServer

Script = Callable[[list[dict[str, Any]]], dict[str, Any]]


def call(name: str, /, **arguments: Any) -> dict[str, Any]:
    return {"function": {"name": name, "arguments": arguments}}


class OllamaStandIn(LocalServer):
    def __init__(self, script: Script) -> None:
        super().__init__()
        self.script = script
        self.requests: list[dict[str, Any]] = []

    async def chat(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.requests.append(body)
        message = {"role": "assistant", "content": "", **self.script(self.requests)}
        return web.json_response({"model": body["model"], "created_at": "2026-12-03T12:00:00Z", "message": message,
                                  "done": True, "done_reason": "stop", "prompt_eval_count": 50, "eval_count": 10})

    def routes(self) -> dict[str, web.Handler]:
        return {"/api/chat": self.chat}
