"""The integration checks against local stand-ins for the LLM providers and TestRail.

Anthropic, OpenAI and TestRail cannot be reached from here, so small local servers speak
their APIs (the allowed stand-in); Ghost reaches the LLM ones through ANTHROPIC_BASE_URL and
OPENAI_BASE_URL, as the providers' SDKs do.
"""

from __future__ import annotations

import asyncio
import base64
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web

from tests.support.ghostproc import GhostProcess
from tests.support.ports import free_port

GOOD_KEY = "sk-good"
TESTRAIL_AUTH = "Basic " + base64.b64encode(b"qa@acme.test:tr-key").decode()


@dataclass
class StandIn:
    """One aiohttp app on 127.0.0.1 speaking the providers' APIs; `seen` keeps each request."""

    port: int = field(default_factory=free_port)
    seen: list[dict[str, Any]] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def app(self) -> web.Application:
        async def anthropic(request: web.Request) -> web.Response:
            body = await request.json()
            self.seen.append({"api": "anthropic", "headers": dict(request.headers), "body": body})
            if request.headers.get("x-api-key") != GOOD_KEY:
                return web.json_response({"type": "error", "error": {"type": "authentication_error",
                                                                     "message": "invalid x-api-key"}}, status=401)
            return web.json_response({"type": "message", "content": [{"type": "text", "text": "ok"}]})

        async def openai(request: web.Request) -> web.Response:
            body = await request.json()
            self.seen.append({"api": "openai", "headers": dict(request.headers), "body": body})
            if request.headers.get("Authorization") != f"Bearer {GOOD_KEY}":
                return web.json_response({"error": {"message": "Incorrect API key provided"}}, status=401)
            return web.json_response({"choices": [{"message": {"role": "assistant", "content": "ok"}}]})

        async def ollama(request: web.Request) -> web.Response:
            body = await request.json()
            self.seen.append({"api": "ollama", "body": body})
            if body.get("model") != "llama3":
                return web.json_response({"error": f"model '{body.get('model')}' not found"}, status=404)
            return web.json_response({"message": {"role": "assistant", "content": "ok"}, "done": True})

        async def testrail(request: web.Request) -> web.Response:
            self.seen.append({"api": "testrail", "query": request.query_string,
                              "headers": dict(request.headers)})
            if request.headers.get("Authorization") != TESTRAIL_AUTH:
                return web.json_response({"error": "Authentication failed: invalid or missing user/password"},
                                         status=401)
            return web.json_response({"offset": 0, "limit": 250, "size": 2,
                                      "projects": [{"id": 1, "name": "Web"}, {"id": 2, "name": "Mobile"}]})

        app = web.Application()
        app.router.add_post("/v1/messages", anthropic)
        app.router.add_post("/v1/chat/completions", openai)
        app.router.add_post("/api/chat", ollama)
        app.router.add_get("/index.php", testrail)
        return app


@pytest.fixture
def stand_in() -> Iterator[StandIn]:
    server = StandIn()
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True, name="stand-in")
    thread.start()
    runner = web.AppRunner(server.app(), access_log=None)

    async def up() -> None:
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", server.port).start()

    asyncio.run_coroutine_threadsafe(up(), loop).result(15)
    try:
        yield server
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(15)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(15)


@pytest.fixture
def ghost_with_stand_in(ghost_factory: Any, stand_in: StandIn) -> GhostProcess:
    return ghost_factory(env={"ANTHROPIC_BASE_URL": stand_in.url, "OPENAI_BASE_URL": stand_in.url})


def allow_local(ghost: GhostProcess) -> None:
    assert ghost.api("PUT", "/api/v1/settings", json={"replay": {"allow_hosts": ["127.0.0.1"]}}).status_code == 200


def test_llm_checks_reach_each_provider_and_report_the_verdict(ghost_with_stand_in: GhostProcess,
                                                               stand_in: StandIn) -> None:
    ghost = ghost_with_stand_in
    refused = ghost.api("POST", "/api/v1/settings/llm/validate", json={"api_key": GOOD_KEY})
    assert refused.status_code == 200
    assert refused.json()["valid"] is False and "replay.allow_hosts" in refused.json()["error"]
    assert stand_in.seen == []   # the SSRF guard stopped it before anything was sent
    allow_local(ghost)

    ok = ghost.api("POST", "/api/v1/settings/llm/validate",
                   json={"provider": "anthropic", "api_key": GOOD_KEY, "model": "claude-test"})
    assert ok.status_code == 200 and ok.json() == {"valid": True}
    sent = stand_in.seen[-1]
    assert sent["headers"]["anthropic-version"] == "2023-06-01"
    assert sent["body"]["model"] == "claude-test"
    assert sent["body"]["messages"] == [{"role": "user", "content": "Say ok"}]

    bad = ghost.api("POST", "/api/v1/settings/llm/validate", json={"api_key": "sk-wrong"})
    assert bad.status_code == 200
    assert bad.json() == {"valid": False, "error": "authentication failed: invalid x-api-key"}

    assert ghost.api("POST", "/api/v1/settings/llm/validate",
                     json={"provider": "openai", "api_key": GOOD_KEY, "model": "gpt-test"}).json() == {"valid": True}
    assert stand_in.seen[-1]["api"] == "openai"

    ollama = {"provider": "ollama", "model": "llama3", "ollama_endpoint": stand_in.url}
    assert ghost.api("POST", "/api/v1/settings/llm/validate", json=ollama).json() == {"valid": True}
    missing = ghost.api("POST", "/api/v1/settings/llm/validate", json={**ollama, "model": "nope"}).json()
    assert missing == {"valid": False, "error": "not found: model 'nope' not found"}

    llm = ghost.api("GET", "/api/v1/settings").json()["llm"]
    assert (llm["provider"], llm["api_key"]) == ("anthropic", "")   # nothing was saved


def test_missing_llm_fields_fall_back_to_the_stored_settings(ghost_with_stand_in: GhostProcess,
                                                             stand_in: StandIn) -> None:
    ghost = ghost_with_stand_in
    allow_local(ghost)
    saved = {"llm": {"provider": "openai", "api_key": GOOD_KEY, "model": "gpt-stored"}}
    assert ghost.api("PUT", "/api/v1/settings", json=saved).status_code == 200
    assert ghost.api("POST", "/api/v1/settings/llm/validate", json={}).json() == {"valid": True}
    assert stand_in.seen[-1]["body"]["model"] == "gpt-stored"


def test_testrail_check_lists_projects_and_falls_back_to_stored_fields(ghost_with_stand_in: GhostProcess,
                                                                       stand_in: StandIn) -> None:
    ghost = ghost_with_stand_in
    allow_local(ghost)
    stored = {"testrail": {"url": stand_in.url, "email": "qa@acme.test", "api_key": "old-key"}}
    assert ghost.api("PUT", "/api/v1/settings", json=stored).status_code == 200

    ok = ghost.api("POST", "/api/v1/settings/testrail/validate", json={"api_key": "tr-key"})
    assert ok.status_code == 200
    assert ok.json() == {"valid": True, "project_count": 2,
                         "projects": [{"id": 1, "name": "Web"}, {"id": 2, "name": "Mobile"}]}
    assert stand_in.seen[-1]["query"] == "/api/v2/get_projects"

    bad = ghost.api("POST", "/api/v1/settings/testrail/validate", json={}).json()   # the stored old-key
    assert bad["valid"] is False and bad["error"].startswith("TestRail connection failed: authentication failed")
    assert ghost.api("GET", "/api/v1/settings").json()["testrail"]["api_key"] == "****-key"   # still old-key


def test_testrail_check_refuses_private_addresses_unless_allowed(ghost: GhostProcess) -> None:
    body = {"url": "http://10.0.0.7", "email": "qa@acme.test", "api_key": "k"}
    refused = ghost.api("POST", "/api/v1/settings/testrail/validate", json=body)
    assert refused.status_code == 200
    assert refused.json()["valid"] is False
    assert "private network" in refused.json()["error"] and "TestRail connection failed" in refused.json()["error"]


@pytest.mark.parametrize(("path", "body", "status", "message"), [
    ("/api/v1/settings/llm/validate", b"{not json", 400, "not valid JSON"),
    ("/api/v1/settings/llm/validate", b'{"provider": "bard", "api_key": "k"}', 400, "provider must be one of"),
    ("/api/v1/settings/llm/validate", b'{"model": 7}', 400, "'model' must be a string"),
    ("/api/v1/settings/testrail/validate", b'{"url": "ftp://x", "email": "e", "api_key": "k"}', 400,
     "url must be an http"),
    ("/api/v1/settings/testrail/validate", b'{"api_key": "' + b"k" * 5000 + b'"}', 413, "limit"),
])
def test_bad_bodies_are_4xx_with_a_message(ghost: GhostProcess, path: str, body: bytes, status: int,
                                           message: str) -> None:
    r = ghost.api("POST", path, content=body)
    assert r.status_code == status
    assert message in r.json()["error"]
