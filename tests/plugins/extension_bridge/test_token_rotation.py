"""Rotating the API token closes every WebSocket opened with the old one: the events socket
(the core's) and the extension's (this plugin's, told through the `api.token_rotated` event)."""

from __future__ import annotations

import asyncio
import time

import aiohttp
from aiohttp import WSCloseCode, WSMsgType

PLUGINS = ("plugins.extension_bridge",)


async def closed_within(ws: aiohttp.ClientWebSocketResponse, seconds: float) -> tuple[float, list[str]]:
    """Read until the server closes; (how long it took, event types seen). Fails after `seconds`."""
    started = time.monotonic()
    seen: list[str] = []
    async with asyncio.timeout(seconds):
        while True:
            message = await ws.receive()
            if message.type == WSMsgType.TEXT:
                seen.append(message.json().get("type", ""))
                continue
            assert message.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED), message
            return time.monotonic() - started, seen


async def test_rotating_the_token_closes_both_websockets_within_a_second(ghost_app) -> None:
    api = await ghost_app(PLUGINS)
    old = api.token
    async with aiohttp.ClientSession() as client:
        events = await client.ws_connect(api.ws_url("/api/v1/ws"))
        extension = await client.ws_connect(api.ws_url("/api/v1/extension/ws"))
        await extension.send_json({"type": "hello", "data": {"version": "1"}})
        assert (await events.receive_json(timeout=5))["type"] == "extension.connected"

        rotated = await api.ok("POST", "/api/v1/settings/rotate-token")
        assert rotated["token"] != old

        took, seen = await closed_within(events, 1.0)
        assert seen == ["api.token_rotated"] and took < 1.0
        assert events.close_code == WSCloseCode.POLICY_VIOLATION
        took, _ = await closed_within(extension, 1.0)
        assert took < 1.0 and extension.close_code == WSCloseCode.POLICY_VIOLATION

        # The old token opens nothing now; the new one does.
        async with client.get(f"{api.base}/api/v1/ws?token={old}", headers={"Upgrade": "websocket"}) as r:
            assert r.status == 401
        fresh = await client.ws_connect(f"{api.base}/api/v1/extension/ws?token={rotated['token']}")
        await fresh.close()


async def test_events_still_flow_to_clients_when_no_token_changes(ghost_app) -> None:
    api = await ghost_app(PLUGINS)
    async with aiohttp.ClientSession() as client:
        events = await client.ws_connect(api.ws_url("/api/v1/ws"))
        api.ghost.events.publish("settings.updated", {"changed": []})
        assert (await events.receive_json(timeout=5))["type"] == "settings.updated"
        await asyncio.sleep(0.2)
        assert not events.closed
        await events.close()
