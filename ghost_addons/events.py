"""The event hub: every event goes to the `ghost_event` hook and to each WebSocket client.

Every event type is declared, with its payload: the core's below, each plugin's through the
`ghost_event_types` hook. Publishing an undeclared type raises `UnknownEvent`, so the list
in `GET /api/v1/events/types` (and the README, checked by a test) is every event there is.

Each client has its own bounded queue and sender task, so a slow client never slows the
proxy; a client that falls too far behind is disconnected (it can reconnect and re-list).
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson
from aiohttp import WSCloseCode, web

from ghost_addons.registry import Registry

if TYPE_CHECKING:
    from ghost_addons.core import Ghost

log = logging.getLogger("ghost.events")

CLIENT_QUEUE_SIZE = 10_000


class EventClient:
    def __init__(self, ws: web.WebSocketResponse) -> None:
        self.ws = ws
        self.queue: asyncio.Queue[bytes | None] = asyncio.Queue(maxsize=CLIENT_QUEUE_SIZE)
        self.overflowed = False
        self.revoked = ""

    def revoke(self, reason: str, notice: bytes | None = None) -> None:
        """Close this client at once: what is still queued is no longer its to read, only
        `notice` (the event that says why) goes out before the close."""
        self.revoked = reason
        while not self.queue.empty():
            self.queue.get_nowait()
        if notice is not None and self.queue.maxsize != 1:  # an overflowed client gets the close only
            self.queue.put_nowait(notice)
        self.queue.put_nowait(None)

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
                if self.revoked:
                    await self.ws.close(code=WSCloseCode.POLICY_VIOLATION, message=self.revoked.encode())
                    return
                reason = "event queue overflow" if self.overflowed else "shutdown"
                await self.ws.close(code=WSCloseCode.GOING_AWAY, message=reason.encode())
                return
            await self.ws.send_str(message.decode())


@dataclass(frozen=True, slots=True)
class EventType:
    """One kind of event: its name (`flow.created`, `journey:started`), what its `data`
    holds, and when it is published."""

    name: str
    payload: str
    summary: str


class UnknownEvent(ValueError):
    """An event was published that no plugin declared (`ghost_event_types`)."""


# The core's own events; each plugin declares its own through `ghost_event_types`.
CORE_EVENT_TYPES = (
    EventType("flow.created", "flow summary {id, session_id, method, url, host, path, status_code, ...}",
              "A flow was stored (captured, replayed or imported)."),
    EventType("flow.updated", "flow summary", "A flow's tags or annotations changed."),
    EventType("flow.deleted", "{id}", "A flow was deleted."),
    EventType("flow.websocket_messages", "{id, new, stored, dropped, open}",
              "A batch of a WebSocket flow's messages was stored (about twice a second while it talks)."),
    EventType("session.created", "session {id, name, ...}", "A session was created."),
    EventType("session.updated", "session", "A session was renamed or changed."),
    EventType("session.deleted", "{id}", "A session and its flows were deleted."),
    EventType("session.activated", "{id}", "New flows now land in this session."),
    EventType("settings.updated", "{changed: [dotted names]}", "Settings were changed and applied."),
    EventType("api.token_rotated", "{}", "The API token was rotated: every WebSocket opened with the old "
              "token is closed (code 1008) right after this event; reconnect with the new token."),
    EventType("artifact.created", "artifact summary", "An artifact (report, export) was stored."),
    EventType("artifact.deleted", "{id}", "An artifact was deleted."),
    EventType("store.full", "{reason, since}", "The database is full (the disk, or `store.max_db_size`): "
              "captured flows are not stored, the proxy keeps proxying; `store_full` in the monitor is true."),
    EventType("store.resumed", "{flows_not_stored}", "Captured flows are stored again after the database was "
              "full; `flows_not_stored` counts those lost while it was."),
    EventType("proxy.api_refused", "{client_addr, target, user_agent}",
              "The proxy refused a request to Ghost's own API (the client sends its API traffic "
              "through Ghost's proxy; it must reach the API directly)."),
)


def core_event_types() -> Registry[EventType]:
    registry: Registry[EventType] = Registry("event type")
    for event in CORE_EVENT_TYPES:
        registry.add("core", event.name, event)
    return registry


def event_registrar(registry: Registry[EventType], owner: str) -> Callable[[str, str, str], None]:
    """The `register(type, payload, summary)` handed to `owner`'s `ghost_event_types`."""

    def register(name: str, payload: str, summary: str) -> None:
        registry.add(owner, name, EventType(name, payload, summary))

    return register


class EventHub:
    def __init__(self, ghost: Ghost, types: Registry[EventType]) -> None:
        self.ghost = ghost
        self.types = types
        self.clients: weakref.WeakSet[EventClient] = weakref.WeakSet()
        self.published = 0

    def publish(self, type: str, data: Any) -> None:
        if type not in self.types:
            raise UnknownEvent(f"event type {type!r} was published but no plugin declared it "
                               "(declare it in a ghost_event_types hook)")
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

    def revoke_all(self, reason: str, type: str = "", data: Any = None) -> None:
        """Close every events WebSocket now (the token they were opened with is void); the
        event `type` (already published) is the last message they get."""
        notice = orjson.dumps({"type": type, "data": data}) if type else None
        for client in list(self.clients):
            client.revoke(reason, notice)

    async def close_all(self) -> None:
        for client in list(self.clients):
            try:
                await client.ws.close(code=WSCloseCode.GOING_AWAY, message=b"Ghost is shutting down")
            except ConnectionError as e:
                log.debug("closing an event client failed: %s", e)
