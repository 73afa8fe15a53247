"""The tool-using loop: ask the model, run the tools it calls, send the results back,
until it answers without a tool call, the iteration limit or the token budget.

The loop only talks to the model through `LlmClient` (one method, `create`) and to the
user through `emit(event, data)`; it never touches HTTP itself, so the chat route streams
what it emits and a test can drive it with any client. Tools that need approval wait on
`approve(call_id, tool, args)`, which the chat route ties to
`POST /api/v1/agent/approvals/{id}`.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from plugins.agent.conversations import start_turn
from plugins.agent.tools import TOOLS, TOOLS_BY_NAME, ToolFailed, ToolRunner, bounded

log = logging.getLogger("ghost.agent")

SYSTEM_PROMPT = (
    "You are Ghost's security and API analysis agent. Ghost is an intercepting HTTP(S) proxy; "
    "use the tools to look at the captured traffic, security findings and recorded journeys. "
    "Write your conclusions with write_report (Markdown) and any proof of concept with "
    "write_poc_file. Tools that send traffic or drive the browser wait for the user's approval."
)

Emit = Callable[[str, dict[str, Any]], Awaitable[None]]
Approve = Callable[[str, str, dict[str, Any]], Awaitable[bool]]


class LlmClient(Protocol):
    async def create(self, *, system: str, messages: list[dict[str, Any]],
                     tools: list[dict[str, Any]], max_tokens: int) -> Any: ...


@dataclass(frozen=True)
class Limits:
    max_iterations: int
    token_budget: int
    max_tokens: int  # per answer


@dataclass
class Outcome:
    reason: str  # the model's stop reason (end_turn, max_tokens...) | iteration_limit | token_budget
    iterations: int
    input_tokens: int
    output_tokens: int

    def to_dict(self) -> dict[str, Any]:
        return {"reason": self.reason, "iterations": self.iterations, "input_tokens": self.input_tokens,
                "output_tokens": self.output_tokens}


def block_dict(block: Any) -> dict[str, Any]:
    """An SDK content block as the plain dict the next request carries back."""
    if isinstance(block, dict):
        return block
    if block.type == "text":
        return {"type": "text", "text": block.text}
    if block.type == "tool_use":
        return {"type": "tool_use", "id": block.id, "name": block.name, "input": block.input}
    return block.model_dump(exclude_none=True)


async def run_tool(runner: ToolRunner, approve: Approve, emit: Emit, call_id: str, name: str,
                   args: Any) -> dict[str, Any]:
    """One tool call, approved first if it needs it: the `tool_result` block for the model."""
    tool = TOOLS_BY_NAME.get(name)
    await emit("tool_call", {"id": call_id, "name": name, "input": args,
                             "needs_approval": bool(tool and tool.needs_approval)})
    is_error = False
    if not isinstance(args, dict):
        result: Any = "the tool input must be a JSON object"
        is_error = True
    elif tool is not None and tool.needs_approval and not await approve(call_id, name, args):
        result, is_error = "the user did not approve this call; do not retry it", True
    else:
        try:
            result = await runner.run(name, args)
        except ToolFailed as e:
            result, is_error = str(e), True
    content = bounded(result)
    await emit("tool_result", {"id": call_id, "name": name, "is_error": is_error, "content": content})
    return {"type": "tool_result", "tool_use_id": call_id, "content": content, "is_error": is_error}


async def agent_loop(llm: LlmClient, runner: ToolRunner, message: str, limits: Limits, emit: Emit,
                     approve: Approve, messages: list[dict[str, Any]] | None = None) -> Outcome:
    """Run one chat. `messages`: the conversation so far, which the chat continues; the
    user's message and everything after it are appended to it as they happen (so a chat
    cut short leaves what it got to)."""
    if messages is None:
        messages = []
    start_turn(messages, message)
    tools = [tool.schema() for tool in TOOLS]
    outcome = Outcome("iteration_limit", 0, 0, 0)
    while outcome.iterations < limits.max_iterations:
        if outcome.input_tokens + outcome.output_tokens >= limits.token_budget:
            outcome.reason = "token_budget"
            return outcome
        outcome.iterations += 1
        answer = await llm.create(system=SYSTEM_PROMPT, messages=messages, tools=tools,
                                  max_tokens=limits.max_tokens)
        outcome.input_tokens += int(getattr(answer.usage, "input_tokens", 0) or 0)
        outcome.output_tokens += int(getattr(answer.usage, "output_tokens", 0) or 0)
        blocks = [block_dict(b) for b in answer.content]
        messages.append({"role": "assistant", "content": blocks})
        for block in blocks:
            if block["type"] == "text" and block["text"]:
                await emit("text", {"text": block["text"]})
        calls = [b for b in blocks if b["type"] == "tool_use"]
        if not calls:
            outcome.reason = str(getattr(answer, "stop_reason", "") or "end_turn")  # end_turn, max_tokens...
            return outcome
        # in order, one at a time: an approval never races another call's effects
        results = [await run_tool(runner, approve, emit, c["id"], c["name"], c["input"]) for c in calls]
        messages.append({"role": "user", "content": results})
    return outcome
