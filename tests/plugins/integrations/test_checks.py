"""The integration checks' pure parts: which request, and what the answer means."""

from __future__ import annotations

import base64

import pytest

from plugins.integrations import checks  # not `from ... import testrail_*`: pytest would collect them
from plugins.integrations.checks import llm_request, llm_verdict, merged

LLM = {"provider": "anthropic", "api_key": "stored-key", "model": "claude-x", "ollama_endpoint": ""}


def test_given_fields_replace_the_stored_ones_and_empty_ones_fall_back() -> None:
    assert merged(LLM, {"api_key": "new", "model": ""}, tuple(LLM)) == {**LLM, "api_key": "new"}
    with pytest.raises(ValueError, match="'model' must be a string"):
        merged(LLM, {"model": 4}, tuple(LLM))


def test_anthropic_request_uses_the_messages_api_and_the_base_url_from_the_environment() -> None:
    out = llm_request(LLM, {})
    assert out.url == "https://api.anthropic.com/v1/messages"
    assert out.headers == {"x-api-key": "stored-key", "anthropic-version": "2023-06-01"}
    assert out.json == {"model": "claude-x", "max_tokens": 8, "messages": [{"role": "user", "content": "Say ok"}]}
    assert llm_request(LLM, {"ANTHROPIC_BASE_URL": "http://127.0.0.1:9/"}).url == "http://127.0.0.1:9/v1/messages"


def test_openai_and_ollama_requests() -> None:
    openai = llm_request({**LLM, "provider": "openai", "model": "gpt-x"}, {"OPENAI_BASE_URL": "https://gw.test"})
    assert (openai.method, openai.url) == ("POST", "https://gw.test/v1/chat/completions")
    assert openai.headers == {"Authorization": "Bearer stored-key"}
    ollama = llm_request({**LLM, "provider": "ollama", "api_key": "", "model": "llama3"}, {})
    assert ollama.url == "http://localhost:11434/api/chat"   # no key needed
    assert ollama.json is not None and ollama.json["stream"] is False
    custom = llm_request({**LLM, "provider": "ollama", "ollama_endpoint": "http://box:11434/"}, {})
    assert custom.url == "http://box:11434/api/chat"


@pytest.mark.parametrize("config, message", [
    ({**LLM, "provider": "bard"}, "provider must be one of anthropic, openai, ollama"),
    ({**LLM, "api_key": ""}, "api_key is required for anthropic"),
    ({**LLM, "model": ""}, "model is required"),
    ({**LLM, "provider": "ollama", "ollama_endpoint": "file:///etc"}, "ollama_endpoint must be an http"),
])
def test_llm_requests_refuse_what_cannot_work(config: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        llm_request(config, {})


def test_testrail_request_is_get_projects_with_basic_auth() -> None:
    out = checks.testrail_request({"url": "https://acme.testrail.io/", "email": "qa@acme.test", "api_key": "k"})
    assert (out.method, out.url) == ("GET", "https://acme.testrail.io/index.php?/api/v2/get_projects")
    assert out.headers["Authorization"] == "Basic " + base64.b64encode(b"qa@acme.test:k").decode()
    with pytest.raises(ValueError, match="email is required"):
        checks.testrail_request({"url": "https://acme.testrail.io", "email": "", "api_key": "k"})
    with pytest.raises(ValueError, match="url must be an http"):
        checks.testrail_request({"url": "acme.testrail.io", "email": "e", "api_key": "k"})


def test_llm_verdicts() -> None:
    assert llm_verdict("anthropic", 200, {"content": [{"type": "text", "text": "ok"}]}) == {"valid": True}
    assert llm_verdict("openai", 200, {"choices": [{"message": {"content": "ok"}}]}) == {"valid": True}
    assert llm_verdict("ollama", 200, {"message": {"content": "ok"}}) == {"valid": True}
    assert llm_verdict("anthropic", 401, {"type": "error", "error": {"type": "authentication_error",
                                                                      "message": "invalid x-api-key"}}) == {
        "valid": False, "error": "authentication failed: invalid x-api-key"}
    assert llm_verdict("ollama", 404, {"error": "model 'x' not found"}) == {
        "valid": False, "error": "not found: model 'x' not found"}
    assert llm_verdict("openai", 200, "<html>")["valid"] is False


def test_testrail_verdicts_for_paged_and_plain_lists() -> None:
    paged = {"offset": 0, "limit": 250, "size": 2, "projects": [{"id": 1, "name": "Web"}, {"id": 2, "name": "App"}]}
    assert checks.testrail_verdict(200, paged) == {"valid": True, "project_count": 2,
                                            "projects": [{"id": 1, "name": "Web"}, {"id": 2, "name": "App"}]}
    assert checks.testrail_verdict(200, [{"id": 3, "name": "Old"}])["project_count"] == 1
    assert checks.testrail_verdict(401, {"error": "Authentication failed: invalid or missing user/password"}) == {
        "valid": False,
        "error": "TestRail connection failed: authentication failed: Authentication failed: invalid or missing user/password"}
    assert checks.testrail_verdict(200, {"nothing": 1})["valid"] is False
