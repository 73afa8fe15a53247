"""Journeys tests: an in-process Ghost with the journeys and extension plugins (the shared
`ghost_app` fixture, tests/support/inprocess.py), and a scripted extension.

`FakeExtension` is not a mock of Ghost: it is a real WebSocket client speaking the
extension protocol to Ghost's real API, the way extension/background.js does.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import orjson
import pytest

from ghost_addons.core import Ghost
from tests.support.inprocess import Api, StartGhostApp

TOKEN = "journey-test-token"
PLUGINS = ("plugins.extension_bridge", "plugins.journeys")


class FakeExtension:
    def __init__(self, api: Api) -> None:
        self.api = api
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self.received: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._reader: asyncio.Task[None] | None = None

    async def connect(self) -> FakeExtension:
        url = self.api.ws_url("/api/v1/extension/ws")
        self.ws = await self.api.session.ws_connect(url, headers={"Origin": "chrome-extension://abcdefgh"})
        self._reader = asyncio.ensure_future(self._read())
        await self.send({"type": "hello", "data": {"version": "1.0.0", "extension_id": "abcdefgh",
                                                   "user_agent": "Test"}})
        return self

    async def _read(self) -> None:
        assert self.ws is not None
        async for message in self.ws:
            if message.type == aiohttp.WSMsgType.TEXT:
                await self.received.put(orjson.loads(message.data))

    async def send(self, message: dict[str, Any]) -> None:
        assert self.ws is not None
        await self.ws.send_str(orjson.dumps(message).decode())

    async def expect(self, kind: str, timeout: float = 5.0) -> dict[str, Any]:
        while True:
            message = await asyncio.wait_for(self.received.get(), timeout)
            if message["type"] == kind:
                return message

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
        if self._reader is not None:
            await asyncio.wait_for(self._reader, 5)


@pytest.fixture
async def api(ghost_app: StartGhostApp) -> Api:
    return await ghost_app(PLUGINS, token=TOKEN)


@pytest.fixture
def ghost(api: Api) -> Ghost:
    return api.ghost


@pytest.fixture
async def extension(api: Api) -> AsyncIterator[FakeExtension]:
    ext = await FakeExtension(api).connect()
    try:
        for _ in range(100):
            if (await api.ok("GET", "/api/v1/extension/status"))["connected"]:
                break
            await asyncio.sleep(0.02)
        yield ext
    finally:
        await ext.close()
