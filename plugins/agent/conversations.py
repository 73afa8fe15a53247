"""Multi-turn chats: the messages of a conversation (the user's, the model's, the tool
results) kept in memory between `POST /api/v1/agent/chat` calls, so the next message
continues it.

Bounded: at most `MAX_CONVERSATIONS` (the least recently used goes first), each at most
`MAX_MESSAGES` messages and `MAX_BYTES` of JSON (the oldest turns go first, a turn being
the user's message and everything up to the next one), and forgotten `TTL_SECS` after
its last use. Nothing is written to disk: a restart forgets every conversation.

The pure parts (`start_turn`, `close_tail`, `trim`) keep the history a valid Messages API
conversation: it starts with a user turn, no tool_use is left without its tool_result.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

MAX_CONVERSATIONS = 100
MAX_MESSAGES = 200
MAX_BYTES = 2 * 1024 * 1024
TTL_SECS = 3600.0
INTERRUPTED = "the chat was interrupted before this tool ran; it did not run"

Message = dict[str, Any]


def _blocks(content: Any) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    return list(content)


def start_turn(messages: list[Message], text: str) -> None:
    """Append the user's message. After a chat that stopped on tool results or failed
    before the model answered, the last message is the user's already: the text joins it
    (the API wants user and assistant to take turns)."""
    if messages and messages[-1]["role"] == "user":
        messages[-1] = {"role": "user", "content": [*_blocks(messages[-1]["content"]), {"type": "text", "text": text}]}
    else:
        messages.append({"role": "user", "content": text})


def close_tail(messages: list[Message]) -> None:
    """A chat cancelled while a tool waited (for approval) leaves the model's tool_use
    without a result, which the API refuses: each gets a result saying it did not run."""
    if not messages or messages[-1]["role"] != "assistant":
        return
    calls = [b for b in _blocks(messages[-1]["content"]) if isinstance(b, dict) and b.get("type") == "tool_use"]
    if calls:
        messages.append({"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": c["id"], "content": INTERRUPTED, "is_error": True} for c in calls]})


def _turn_starts(messages: list[Message]) -> list[int]:
    """Where each turn begins: a user message that carries the user's text, not only tool results."""
    starts = []
    for i, m in enumerate(messages):
        if m["role"] == "user" and any(b.get("type") == "text" for b in _blocks(m["content"]) if isinstance(b, dict)):
            starts.append(i)
    return starts


def size_of(messages: list[Message]) -> int:
    return len(orjson.dumps(messages))


def trim(messages: list[Message], max_messages: int = MAX_MESSAGES, max_bytes: int = MAX_BYTES) -> list[Message]:
    """The history without its oldest turns, until it fits; the latest turn is always kept
    (it is bounded by the loop's iteration limit and token budget)."""
    starts = _turn_starts(messages)
    kept = messages
    for start in starts[1:]:
        if len(kept) <= max_messages and size_of(kept) <= max_bytes:
            break
        kept = messages[start:]
    return kept


@dataclass
class Conversation:
    id: str
    session_id: str
    messages: list[Message] = field(default_factory=list)
    used_at: float = 0.0
    busy: bool = False  # a chat runs on it: another one on the same conversation waits its turn

    def describe(self) -> dict[str, Any]:
        return {"id": self.id, "session_id": self.session_id, "messages": len(self.messages),
                "bytes": size_of(self.messages), "busy": self.busy}


class Conversations:
    """The conversations of one Ghost (the agent plugin holds one)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, ttl_secs: float = TTL_SECS,
                 max_conversations: int = MAX_CONVERSATIONS) -> None:
        self.clock = clock
        self.ttl_secs = ttl_secs
        self.max_conversations = max_conversations
        self.items: OrderedDict[str, Conversation] = OrderedDict()

    def expire(self) -> None:
        now = self.clock()
        for key in [k for k, c in self.items.items() if not c.busy and now - c.used_at > self.ttl_secs]:
            del self.items[key]

    def new(self, conversation_id: str, session_id: str) -> Conversation:
        self.expire()
        idle = [k for k, c in self.items.items() if not c.busy]
        while len(self.items) >= self.max_conversations and idle:
            del self.items[idle.pop(0)]  # the least recently used first
        conversation = Conversation(conversation_id, session_id, used_at=self.clock())
        self.items[conversation_id] = conversation
        return conversation

    def get(self, conversation_id: str) -> Conversation | None:
        self.expire()
        conversation = self.items.get(conversation_id)
        if conversation is not None:
            conversation.used_at = self.clock()
            self.items.move_to_end(conversation_id)
        return conversation

    def finish(self, conversation: Conversation) -> None:
        """After a chat: the history made resumable and cut to its bounds."""
        close_tail(conversation.messages)
        conversation.messages = trim(conversation.messages)
        conversation.used_at = self.clock()
        conversation.busy = False

    def forget(self, conversation_id: str) -> bool:
        return self.items.pop(conversation_id, None) is not None
