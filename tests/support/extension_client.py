"""A scripted browser extension, for tests of Ghost in-process (the API client is
`tests/support/inprocess.Api`).

`FakeExtension` is not a mock of Ghost: it is a real WebSocket client speaking the
extension protocol (plugins/extension_bridge/hub.py) to Ghost's real API, the way
extension/background.js does.
"""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import orjson

from tests.support.inprocess import Api

__all__ = ["Api", "FakeExtension"]


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
