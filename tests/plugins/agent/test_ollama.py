"""The agent on Ollama's chat API: the same loop, the conversation translated each way,
against a local stand-in for Ollama (tests/support/ollama_standin.py)."""

from __future__ import annotations

from typing import Any

import orjson

from plugins.agent.ollama import LlmFailed, from_ollama, to_ollama
from tests.plugins.agent.test_chat import PLUGINS, read_events
from tests.plugins.journeys.helpers import make_flow
from tests.support.ollama_standin import OllamaStandIn, call


def script(requests: list[dict[str, Any]]) -> dict[str, Any]:
    if len(requests) == 1:
        return {"content": "Let me look.", "tool_calls": [call("query_flows", q="status:>=500")]}
    if len(requests) == 2:
        flows = orjson.loads(requests[-1]["messages"][-1]["content"])["flows"]
        return {"tool_calls": [call("write_report", content=f"# {len(flows)} failing: {flows[0]['path']}\n")]}
    return {"content": "Written."}


async def test_the_loop_runs_on_ollama(ghost_app) -> None:  # type: ignore[no-untyped-def]
    standin = OllamaStandIn(script)
    url = await standin.start()
    api = await ghost_app(PLUGINS)
    await api.ok("PUT", "/api/v1/settings", json={
        "llm": {"provider": "ollama", "model": "llama-test", "ollama_endpoint": url},
        "replay": {"allow_hosts": ["127.0.0.1"]}})
    await api.ghost.store.add_flows([make_flow("http://shop.test/api/pay", "POST", status=502,
                                               session_id=api.ghost.active_session_id)])
    try:
        async with api.session.post(f"{api.base}/api/v1/agent/chat", json={"message": "what fails?"}) as response:
            events = await read_events(response)
    finally:
        await standin.stop()
    assert [n for n, _ in events] == ["text", "tool_call", "tool_result", "tool_call", "tool_result", "text", "done"]
    assert events[-1][1] == {"reason": "end_turn", "iterations": 3, "input_tokens": 150, "output_tokens": 30}
    first, second, _ = standin.requests
    assert first["model"] == "llama-test" and first["stream"] is False
    assert first["messages"][0]["role"] == "system" and first["messages"][1] == {"role": "user",
                                                                                   "content": "what fails?"}
    assert {t["function"]["name"] for t in first["tools"]} >= {"query_flows", "write_report", "replay_journey"}
    assert second["messages"][2]["tool_calls"] == [{"function": {"name": "query_flows",
                                                                 "arguments": {"q": "status:>=500"}}}]
    assert second["messages"][3]["role"] == "tool" and second["messages"][3]["tool_name"] == "query_flows"
    report = await api.ok("GET", f"/api/v1/sessions/{api.ghost.active_session_id}/report")
    assert report == b"# 1 failing: /api/pay\n"


async def test_ollama_unreachable_or_refused_is_said(ghost_app) -> None:  # type: ignore[no-untyped-def]
    api = await ghost_app(PLUGINS)
    await api.ok("PUT", "/api/v1/settings", json={"llm": {"provider": "ollama", "model": "m",
                                                          "ollama_endpoint": "http://127.0.0.1:9"}})
    status, body = await api.call("POST", "/api/v1/agent/chat", json={"message": "hi"})
    assert status == 400 and "replay.allow_hosts" in body["error"]
    await api.ok("PUT", "/api/v1/settings", json={"replay": {"allow_hosts": ["127.0.0.1"]}})
    async with api.session.post(f"{api.base}/api/v1/agent/chat", json={"message": "hi"}) as response:
        events = await read_events(response)
    assert [n for n, _ in events] == ["error"] and "cannot reach Ollama" in events[0][1]["error"]


def test_translation_both_ways() -> None:
    messages = [
        {"role": "user", "content": "go"},
        {"role": "assistant", "content": [{"type": "text", "text": "ok"},
                                          {"type": "tool_use", "id": "a", "name": "get_flow", "input": {"flow_id": "F"}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "a", "content": "{}", "is_error": False}]},
    ]
    assert to_ollama("sys", messages) == [
        {"role": "system", "content": "sys"}, {"role": "user", "content": "go"},
        {"role": "assistant", "content": "ok", "tool_calls": [{"function": {"name": "get_flow",
                                                                            "arguments": {"flow_id": "F"}}}]},
        {"role": "tool", "tool_name": "get_flow", "content": "{}"}]
    answer = from_ollama({"message": {"content": "", "tool_calls": [
        {"function": {"name": "get_flow", "arguments": '{"flow_id": "F"}'}}]}, "eval_count": 3}, 2)
    assert answer.content == [{"type": "tool_use", "id": "ollama_2_0", "name": "get_flow", "input": {"flow_id": "F"}}]
    assert (answer.stop_reason, answer.usage.output_tokens) == ("tool_use", 3)
    for bad in ({"nope": 1}, {"message": {"tool_calls": [{"function": {}}]}}, "text"):
        try:
            from_ollama(bad, 1)
        except LlmFailed:
            continue
        raise AssertionError(f"{bad!r} was taken")
