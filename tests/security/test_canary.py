"""A secret setting (the LLM and TestRail API keys) set to a canary never comes back out:
not in any route's response (every GET in the router table, with real ids and every export
format), not in a settings export, a report or a code export, not in an event, not in a log."""

from __future__ import annotations

import asyncio
import itertools
import logging
import re

import aiohttp
import pytest
from aiohttp import WSMsgType

from tests.security.helpers import ALL_PLUGINS, journey_of, served_routes, stored_flow

LLM_CANARY = "sk-ant-canary-3f9c1d7e5b2a4c6e8f0a1b3c5d7e9f11"
TESTRAIL_CANARY = "trcanary-8e6c4a2f0d1b3957"
CANARIES = (LLM_CANARY, TESTRAIL_CANARY)


def leaks(text: str) -> list[str]:
    """Each canary, and each 16-character piece of one, found in `text` (a prefix or a
    slice that a masking routine left visible counts too)."""
    found = []
    for canary in CANARIES:
        pieces = {canary[i:i + 16] for i in range(len(canary) - 15)}
        found += [piece for piece in pieces if piece in text]
    return sorted(found)


async def test_secret_settings_never_leave_ghost(ghost_app, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    api = await ghost_app(ALL_PLUGINS)
    async with aiohttp.ClientSession() as client:
        events = await client.ws_connect(api.ws_url("/api/v1/ws"))
        await api.ok("PUT", "/api/v1/settings", json={
            "llm": {"provider": "ollama", "api_key": LLM_CANARY, "ollama_endpoint": "http://127.0.0.1:9"},
            "testrail": {"url": "http://127.0.0.1:9", "email": "qa@example.com", "api_key": TESTRAIL_CANARY},
        })
        assert api.ghost.settings.get("llm.api_key") == LLM_CANARY  # the canary is really set

        session = api.ghost.active_session_id
        flow = await stored_flow(api.ghost, "http://app.test/api/items", request_body=b'{"q": 1}')
        journey = await journey_of(api.ghost, ["http://app.test/api/items"])
        _, no_format = await api.call("GET", f"/api/v1/journeys/{journey}/export")
        journey_formats = re.findall(r"[\w-]+", no_format["error"].rsplit("one of", 1)[1])
        formats = sorted({*api.ghost.exporters, *api.ghost.code_generators, *journey_formats})
        ids = {"id": [session, flow, journey], "flow_id": [flow], "format": formats, "tag": ["t"],
               "name": ["app.js", "index.html"], "step": ["1"]}

        bodies: list[str] = []
        calls = 0
        for method, path in served_routes(api.ghost):
            if method != "GET" or path.endswith("/ws"):
                continue
            names = re.findall(r"{(\w+)}", path)
            for values in itertools.product(*(ids[name] for name in names)):
                concrete = path
                for name, value in zip(names, values, strict=True):
                    concrete = concrete.replace("{" + name + "}", value)
                query = f"?session_id={session}&a={session}&b={session}"
                status, body = await api.call("GET", concrete + query)
                calls += 1
                # In process there is no proxy: health says so with a 503, the only one expected.
                assert status < 500 or (concrete, status) == ("/api/v1/health", 503), (concrete, status, body)
                bodies.append(f"{concrete} {status} {body!r}")
        # The checks that use the keys answer with what went wrong, never with the key.
        for check in ("llm", "testrail"):
            status, body = await api.call("POST", f"/api/v1/settings/{check}/validate", json={})
            assert status < 500
            bodies.append(f"{check} validate {status} {body!r}")
        await api.ok("POST", "/api/v1/settings/rotate-token")  # the last event the socket gets

        seen = []
        async with asyncio.timeout(5):
            while (message := await events.receive()).type == WSMsgType.TEXT:
                seen.append(message.data)
    assert calls > 60 and len(seen) >= 2, (calls, seen)
    assert leaks("\n".join(bodies)) == []
    assert leaks("\n".join(seen)) == []
    assert leaks(caplog.text) == []
