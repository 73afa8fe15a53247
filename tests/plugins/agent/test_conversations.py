"""Multi-turn chats: the pure history rules, the bounded store, and a conversation continued
through the chat route against the Anthropic stand-in."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp

from plugins.agent.conversations import (
    INTERRUPTED,
    Conversations,
    close_tail,
    size_of,
    start_turn,
    trim,
)
from tests.support.anthropic_standin import AnthropicStandIn, text, tool_results, tool_use

from .test_chat import ghost_with_llm, read_events

# --- the history ---------------------------------------------------------------------------------


def turn(question: str, answer: str) -> list[dict[str, Any]]:
    return [{"role": "user", "content": question},
            {"role": "assistant", "content": [tool_use(f"t-{question}", "list_sessions")]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": f"t-{question}", "content": "[]"}]},
            {"role": "assistant", "content": [text(answer)]}]


def test_a_new_message_takes_its_turn_or_joins_the_users_last_one() -> None:
    messages: list[dict[str, Any]] = []
    start_turn(messages, "hi")
    assert messages == [{"role": "user", "content": "hi"}]
    start_turn(messages, "again")  # the model never answered "hi" (the provider failed)
    assert messages == [{"role": "user", "content": [text("hi"), text("again")]}]
    messages = turn("a", "b")[:3]  # stopped on tool results (the iteration limit)
    start_turn(messages, "go on")
    assert messages[-1]["content"][-1] == text("go on") and messages[-1]["content"][0]["type"] == "tool_result"


def test_a_tool_call_cut_short_gets_a_result_saying_so() -> None:
    messages = turn("a", "b")[:2]
    close_tail(messages)
    assert messages[-1] == {"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": "t-a", "content": INTERRUPTED, "is_error": True}]}
    finished = turn("a", "b")
    close_tail(finished)
    assert finished == turn("a", "b")


def test_trimming_drops_whole_turns_oldest_first_and_keeps_the_last() -> None:
    history = turn("1", "one") + turn("2", "two") + turn("3", "three")
    assert trim(history, max_messages=100) == history
    assert trim(history, max_messages=8) == history[4:]  # a turn is 4 messages
    assert trim(history, max_messages=5) == history[8:]
    assert trim(history, max_messages=1) == history[8:]  # the latest turn stays whole
    assert trim(history, max_bytes=size_of(history[4:])) == history[4:]
    # a turn starts at the user's text, never at a tool result
    assert all(kept[0]["role"] == "user" and isinstance(kept[0]["content"], str)
               for kept in (trim(history, max_messages=n) for n in range(1, 13)))


def test_conversations_expire_and_the_least_recently_used_goes_first() -> None:
    now = [0.0]
    store = Conversations(clock=lambda: now[0], ttl_secs=60, max_conversations=2)
    a, b = store.new("a", "S"), store.new("b", "S")
    now[0] = 10
    assert store.get("a") is a  # used: b is now the least recently used
    store.new("c", "S")
    assert set(store.items) == {"a", "c"}
    a.busy = True
    now[0] = 100
    assert store.get("c") is None and store.get("a") is a  # a busy conversation never expires
    store.finish(a)
    assert a.busy is False and b is not None
    assert store.forget("a") and not store.forget("a")


# --- through the route -------------------------------------------------------------------------------


def remembering(requests: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], str]:
    """First chat: list the sessions, then answer. Second chat: answer from what it was told."""
    last = requests[-1]["messages"][-1]
    if last["role"] == "user" and tool_results(requests[-1]):
        return [text("There is one session.")], "end_turn"
    if len(requests[-1]["messages"]) == 1:
        return [tool_use("s1", "list_sessions")], "tool_use"
    return [text(f"You asked {len(requests[-1]['messages'])} messages in.")], "end_turn"


async def chat(api: Any, body: dict[str, Any]) -> tuple[str, list[tuple[str, dict]]]:
    async with api.session.post(f"{api.base}/api/v1/agent/chat", json=body) as response:
        assert response.status == 200, await response.text()
        return response.headers["X-Ghost-Conversation-Id"], await asyncio.wait_for(read_events(response), 30)


async def test_a_conversation_continues_with_its_messages_and_tool_results(ghost_app, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    standin = AnthropicStandIn(remembering)
    api = await ghost_with_llm(ghost_app, monkeypatch, await standin.start())
    try:
        first_id, events = await chat(api, {"message": "How many sessions?"})
        assert events[-2] == ("text", {"text": "There is one session."})
        second_id, events = await chat(api, {"message": "And now?", "conversation_id": first_id})
        assert second_id == first_id and events[-1][0] == "done"
        sent = standin.requests[-1]["messages"]
        # everything of the first chat went back to the model, the tool's result included
        assert [m["role"] for m in sent] == ["user", "assistant", "user", "assistant", "user"]
        assert sent[0]["content"] == "How many sessions?" and sent[-1]["content"] == "And now?"
        assert tool_results({"messages": sent[:3]})["s1"]["content"].startswith('{"sessions"')
        assert events[-2] == ("text", {"text": "You asked 5 messages in."})

        other_id, _ = await chat(api, {"message": "How many sessions?"})  # no id: a new conversation
        assert other_id != first_id and len(standin.requests[-1]["messages"]) == 3

        listed = (await api.ok("GET", "/api/v1/agent/conversations"))["conversations"]
        assert {c["id"]: c["messages"] for c in listed} == {first_id: 6, other_id: 4}
        status, answer = await api.call("POST", "/api/v1/agent/chat",
                                        json={"message": "hi", "conversation_id": first_id,
                                              "session_id": "01OTHERSESSION"})
        assert status == 400 and "is about session" in answer["error"]
        await api.ok("DELETE", f"/api/v1/agent/conversations/{first_id}", status=204)
        status, answer = await api.call("POST", "/api/v1/agent/chat",
                                        json={"message": "hi", "conversation_id": first_id})
        assert status == 404 and "start a new one" in answer["error"]
        status, answer = await api.call("POST", "/api/v1/agent/chat", json={"message": "hi", "conversation_id": 5})
        assert status == 400
    finally:
        await standin.stop()


async def test_one_message_at_a_time_and_a_chat_cut_short_can_be_continued(ghost_app, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    def script(requests: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], str]:
        if len(requests) == 1:
            return [tool_use("r1", "record_journey", action="start", name="x")], "tool_use"  # waits for approval
        return [text("ok")], "end_turn"

    standin = AnthropicStandIn(script)
    api = await ghost_with_llm(ghost_app, monkeypatch, await standin.start())
    try:
        async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {api.token}"}) as client:
            response = await client.post(f"{api.base}/api/v1/agent/chat", json={"message": "record"})
            conversation_id = response.headers["X-Ghost-Conversation-Id"]
            async for raw in response.content:
                if raw.startswith(b"event: approval_required"):
                    break
            status, answer = await api.call("POST", "/api/v1/agent/chat",
                                            json={"message": "two", "conversation_id": conversation_id})
            assert status == 409 and "answering a message" in answer["error"]
            response.close()  # the user goes away while the tool waits for approval
        for _ in range(100):
            listed = (await api.ok("GET", "/api/v1/agent/conversations"))["conversations"]
            if not listed[0]["busy"]:
                break
            await asyncio.sleep(0.05)
        _, events = await chat(api, {"message": "go on", "conversation_id": conversation_id})
        assert events[-1][0] == "done"
        # the unanswered tool call went back to the model with a result saying it never ran
        assert tool_results(standin.requests[-1])["r1"] == {
            "type": "tool_result", "tool_use_id": "r1", "content": INTERRUPTED, "is_error": True}
        assert standin.requests[-1]["messages"][-1]["content"][-1] == text("go on")
    finally:
        await standin.stop()
