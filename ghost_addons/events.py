"""The event hub: every event goes to the `ghost_event` hook and to each WebSocket client.

Each client has its own bounded queue and sender task, so a slow client never slows the
proxy; a client that falls too far behind is disconnected (it can reconnect and re-list).
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from typing import TYPE_CHECKING, Any

import orjson
from aiohttp import WSCloseCode, web

if TYPE_CHECKING:
    from ghost_addons.core import Ghost

log = logging.getLogger("ghost.events")

CLIENT_QUEUE_SIZE = 10_000


class EventClient:
    def __init__(self, ws: web.WebSocketResponse) -> None:
        self.ws = ws
        self.queue: asyncio.Queue[bytes | None] = asyncio.Queue(maxsize=CLIENT_QUEUE_SIZE)
        self.overflowed = False

    def offer(self, message: bytes) -> None:
        try:
            self.queue.put_nowait(message)
        except asyncio.QueueFull:
            self.overflowed = True
            self.queue = asyncio.Queue(maxsize=1)
            self.queue.put_nowait(None)

    async def pump(self) -> None:
        while True:
            message = await self.queue.get()
            if message is None:
                reason = "event queue overflow" if self.overflowed else "shutdown"
                await self.ws.close(code=WSCloseCode.GOING_AWAY, message=reason.encode())
                return
            await self.ws.send_str(message.decode())


class EventHub:
    def __init__(self, ghost: Ghost) -> None:
        self.ghost = ghost
        self.clients: weakref.WeakSet[EventClient] = weakref.WeakSet()
        self.published = 0

    def publish(self, type: str, data: Any) -> None:
        self.published += 1
        self.ghost.pm.direct("ghost_event")(ghost=self.ghost, type=type, data=data)
        if not self.clients:
            return
        message = orjson.dumps({"type": type, "data": data})
        for client in list(self.clients):
            client.offer(message)

    async def serve(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(heartbeat=30)
        await ws.prepare(request)
        client = EventClient(ws)
        self.clients.add(client)
        sender = asyncio.ensure_future(client.pump())
        try:
            async for _ in ws:  # clients only listen; reading keeps pings and close flowing
                pass
        finally:
            self.clients.discard(client)
            sender.cancel()
            try:
                await sender
            except asyncio.CancelledError:
                pass
        return ws

    async def close_all(self) -> None:
        for client in list(self.clients):
            try:
                await client.ws.close(code=WSCloseCode.GOING_AWAY, message=b"Ghost is shutting down")
            except ConnectionError as e:
                log.debug("closing an event client failed: %s", e)
