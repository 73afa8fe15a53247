"""Ollama's chat API (`POST /api/chat`, non-streaming, with tools) behind the same
`create` as the Anthropic client, so the loop does not know which provider answers.

The loop keeps the conversation in the Messages API's shape; `to_ollama` translates it
for each request and `from_ollama` turns Ollama's answer back into content blocks. Both
are pure. The request goes through Ghost's SSRF guard (`llm.ollama_endpoint`; a local
Ollama needs `localhost` in `replay.allow_hosts`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import orjson

from ghost_addons.ssrf import OutboundGuard, SsrfRefused

ANSWER_MAX_BYTES = 4 * 1024 * 1024


class LlmFailed(Exception):
    """The provider could not be reached or refused; the message is for the user."""


@dataclass(frozen=True)
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0


@dataclass(frozen=True)
class Answer:
    """An answer in the Messages API's shape: content blocks (dicts) and usage."""

    content: list[dict[str, Any]]
    stop_reason: str
    usage: Usage = field(default_factory=Usage)


def ollama_tools(tools: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"type": "function", "function": {"name": t["name"], "description": t["description"],
                                              "parameters": t["input_schema"]}} for t in tools]


def to_ollama(system: str, messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The conversation as Ollama's messages: tool calls on the assistant message, each
    tool result a `tool` message naming its tool."""
    out: list[dict[str, Any]] = [{"role": "system", "content": system}]
    names: dict[str, str] = {}
    for message in messages:
        content = message["content"]
        if isinstance(content, str):
            out.append({"role": message["role"], "content": content})
            continue
        if message["role"] == "assistant":
            calls = [b for b in content if b["type"] == "tool_use"]
            names.update({c["id"]: c["name"] for c in calls})
            entry: dict[str, Any] = {"role": "assistant",
                                     "content": "".join(b["text"] for b in content if b["type"] == "text")}
            if calls:
                entry["tool_calls"] = [{"function": {"name": c["name"], "arguments": c["input"]}} for c in calls]
            out.append(entry)
            continue
        for block in content:
            if block["type"] == "tool_result":
                out.append({"role": "tool", "tool_name": names.get(block["tool_use_id"], ""),
                            "content": block["content"]})
            elif block["type"] == "text":
                out.append({"role": "user", "content": block["text"]})
    return out


def from_ollama(answer: Any, turn: int) -> Answer:
    """Ollama's answer as content blocks; ids are made up (Ollama gives none), unique per turn."""
    message = answer.get("message") if isinstance(answer, dict) else None
    if not isinstance(message, dict):
        raise LlmFailed("the Ollama endpoint answered, but not like Ollama's chat API")
    blocks: list[dict[str, Any]] = []
    if isinstance(message.get("content"), str) and message["content"]:
        blocks.append({"type": "text", "text": message["content"]})
    for n, call in enumerate(message.get("tool_calls") or []):
        function = call.get("function") if isinstance(call, dict) else None
        if not isinstance(function, dict) or not isinstance(function.get("name"), str):
            raise LlmFailed(f"Ollama sent a tool call without a function name: {str(call)[:200]}")
        arguments = function.get("arguments") or {}
        if isinstance(arguments, str):  # some models send the arguments as JSON text
            try:
                arguments = orjson.loads(arguments)
            except orjson.JSONDecodeError:
                arguments = {"_unparsed": arguments}
        blocks.append({"type": "tool_use", "id": f"ollama_{turn}_{n}", "name": function["name"],
                       "input": arguments})
    usage = Usage(int(answer.get("prompt_eval_count") or 0), int(answer.get("eval_count") or 0))
    return Answer(blocks, "tool_use" if any(b["type"] == "tool_use" for b in blocks) else "end_turn", usage)


class OllamaLlm:
    def __init__(self, endpoint: str, model: str, guard: Callable[[], OutboundGuard], timeout: float) -> None:
        self.endpoint = endpoint.rstrip("/")
        self.model = model
        self.guard = guard
        self.timeout = timeout
        self.turns = 0

    @property
    def base_url(self) -> str:
        return self.endpoint

    async def create(self, *, system: str, messages: list[dict[str, Any]], tools: list[dict[str, Any]],
                     max_tokens: int) -> Answer:
        self.turns += 1
        body = {"model": self.model, "messages": to_ollama(system, messages), "tools": ollama_tools(tools),
                "stream": False, "options": {"num_predict": max_tokens}}
        guard = self.guard()
        try:
            async with guard.client_session(timeout=aiohttp.ClientTimeout(total=self.timeout)) as session, \
                    session.post(f"{self.endpoint}/api/chat", json=body, allow_redirects=False) as response:
                raw = await response.content.read(ANSWER_MAX_BYTES)
                status = response.status
        except SsrfRefused as e:
            raise LlmFailed(f"refused: {e}") from None
        except TimeoutError:
            raise LlmFailed(f"Ollama did not answer within {self.timeout:.0f} s") from None
        except (aiohttp.ClientError, OSError) as e:
            raise LlmFailed(f"cannot reach Ollama at {self.endpoint}: {guard.refusals[-1] if guard.refusals else e}") \
                from None
        try:
            answer = orjson.loads(raw)
        except orjson.JSONDecodeError:
            answer = raw[:300].decode("utf-8", "replace")
        if status != 200:
            detail = answer.get("error") if isinstance(answer, dict) else answer
            raise LlmFailed(f"Ollama answered {status}: {detail}")
        return from_ollama(answer, self.turns)

    async def close(self) -> None:
        return None
