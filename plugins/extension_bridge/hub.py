"""The connections of Ghost's browser extension and the messages both ways.

Protocol (JSON text frames, `{"type": ..., ...}`):

Extension → Ghost
    hello          {"data": {"version", "extension_id", "user_agent", "browser"}}
    interaction    {"data": {StepInteractionData fields, "id", "journey_id", "timestamp"}}
    action.result  {"id": <request id>, "ok": true, "data": {...}} | {"id", "ok": false, "error": "..."}
    ping           answered with {"type": "pong"}

Ghost → Extension
    journey.recording_start  {"data": {"journey_id", "session_id", "name"}}
    journey.recording_stop   {"data": {"journey_id"}}
    action                   {"id", "data": {"action": "screenshot" | "navigate" | "read_page" | "tabs"
                                             | "replay_step", ...}}
                             replay_step: {"step": {"action", "page_url", "selectors": [...], "text",
                             "tag", "value", "step_order"}, "tab_id"?, "reload"?, "settle_ms"?,
                             "settle_timeout_ms"?, "find_timeout_ms"?} -> {"tab_id", "url", "title",
                             "selector" (the one that matched), "navigated", "settled"}; an error
                             says why ("element not found: ...")
    inject                   {"id", "data": {"code", "tab_id"?}}
    error                    {"error": "..."} when a message from the extension was refused

Several extensions may be connected (one per browser profile); recording messages go to
all, actions to the most recently connected one.

The hub handles `hello`, `ping` and `action.result` itself; every other type goes to
`deliver` (the plugin wires it to the `ghost_extension_message` hook), and a hello to
`greeted` (`ghost_extension_connected`), so features never need the hub to hear the browser.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
from aiohttp import WSCloseCode, WSMsgType, web

from ghost_addons.errors import GhostError, InvalidInput, TimedOut, UpstreamFailed
from ghost_addons.ids import new_id
from ghost_addons.model import format_time

log = logging.getLogger("ghost.extension")

MAX_MESSAGE_BYTES = 64 * 1024 * 1024  # screenshots and page text come back in one message
HELLO_FIELDS = ("version", "extension_id", "user_agent", "browser", "name")

Publish = Callable[[str, Any], None]
Deliver = Callable[[dict[str, Any]], Awaitable[bool]]
Greeted = Callable[[dict[str, Any]], Awaitable[object]]


@dataclass(eq=False)
class ExtensionConnection:
    ws: web.WebSocketResponse
    id: str = field(default_factory=new_id)
    connected_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    info: dict[str, str] = field(default_factory=dict)
    pending: dict[str, asyncio.Future[dict[str, Any]]] = field(default_factory=dict)

    def describe(self) -> dict[str, Any]:
        return {"connection_id": self.id, "connected_at": format_time(self.connected_at), **self.info}

    async def send(self, message: dict[str, Any]) -> None:
        await self.ws.send_str(orjson.dumps(message).decode())


class ExtensionHub:
    def __init__(self, publish: Publish, deliver: Deliver, greeted: Greeted) -> None:
        """`deliver(message)` takes the types the hub does not know and says whether
        someone handled it (ValueError or GhostError refuses it); `greeted(info)` learns of
        each hello."""
        self.publish = publish
        self.deliver = deliver
        self.greeted = greeted
        self.connections: list[ExtensionConnection] = []
        # why no extension could connect, as Ghost saw it ("" once one connects)
        self.last_error = ""
        self.last_error_at = ""

    # --- what features use (ghost_addons.extension.BrowserExtension) -------------------------

    @property
    def connected(self) -> bool:
        return bool(self.connections)

    def current(self) -> ExtensionConnection | None:
        return self.connections[-1] if self.connections else None

    def status(self) -> dict[str, Any]:
        current = self.current()
        out: dict[str, Any] = {"connected": current is not None, "connections": len(self.connections),
                               "last_error": self.last_error, "last_error_at": self.last_error_at}
        if current is not None:
            out.update(current.describe())
        return out

    def note_error(self, error: str) -> None:
        """Remember why an extension could not connect (shown by `status()` until one does)."""
        self.last_error = error
        self.last_error_at = format_time(datetime.now(UTC))

    async def broadcast(self, message: dict[str, Any]) -> int:
        """Send to every connected extension; returns how many got it."""
        sent = 0
        for connection in list(self.connections):
            try:
                await connection.send(message)
                sent += 1
            except (ConnectionError, RuntimeError) as e:
                log.info("extension %s dropped while sending: %s", connection.id, e)
        return sent

    async def request(self, message_type: str, data: dict[str, Any], timeout: float) -> dict[str, Any]:
        """Send an action to the current extension and wait for its `action.result`."""
        connection = self.current()
        if connection is None:
            raise InvalidInput("no browser extension is connected to Ghost")
        request_id = new_id()
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        connection.pending[request_id] = future
        try:
            await connection.send({"type": message_type, "id": request_id, "data": data})
            reply = await asyncio.wait_for(future, timeout)
        except TimeoutError:
            raise TimedOut(f"the extension did not answer {message_type} within {timeout:g} s") from None
        except (ConnectionError, RuntimeError) as e:
            raise UpstreamFailed(f"the extension connection failed: {e}") from None
        finally:
            connection.pending.pop(request_id, None)
        if not reply.get("ok"):
            raise UpstreamFailed(f"the extension could not do it: {reply.get('error') or 'unknown error'}")
        data_out = reply.get("data")
        return data_out if isinstance(data_out, dict) else {"value": data_out}

    # --- the WebSocket ---------------------------------------------------------------------------

    async def serve(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(heartbeat=20, max_msg_size=MAX_MESSAGE_BYTES)
        await ws.prepare(request)
        connection = ExtensionConnection(ws)
        self.connections.append(connection)
        log.info("browser extension connected (%s)", connection.id)
        try:
            async for message in ws:
                if message.type == WSMsgType.TEXT:
                    await self._dispatch(connection, message.data)
                elif message.type == WSMsgType.ERROR:
                    log.info("extension connection error: %s", ws.exception())
        finally:
            self.connections.remove(connection)
            for future in connection.pending.values():
                if not future.done():
                    future.set_exception(ConnectionError("the extension disconnected"))
            log.info("browser extension disconnected (%s)", connection.id)
            self.publish("extension.disconnected", {"connection_id": connection.id,
                                                    "connected": self.connected})
        return ws

    async def close_all(self, code: int = WSCloseCode.GOING_AWAY, reason: str = "Ghost is shutting down") -> None:
        for connection in list(self.connections):
            try:
                await connection.ws.close(code=code, message=reason.encode())
            except ConnectionError as e:
                log.debug("closing an extension connection failed: %s", e)

    async def _dispatch(self, connection: ExtensionConnection, text: str) -> None:
        try:
            message = orjson.loads(text)
        except orjson.JSONDecodeError as e:
            await self._refuse(connection, f"message is not JSON: {e}")
            return
        if not isinstance(message, dict) or not isinstance(message.get("type"), str):
            await self._refuse(connection, "message must be a JSON object with a string 'type'")
            return
        kind = message["type"]
        if kind == "ping":
            await connection.send({"type": "pong"})
        elif kind == "hello":
            hello = message.get("data")
            data: dict[str, Any] = hello if isinstance(hello, dict) else {}
            connection.info = {k: str(data[k])[:500] for k in HELLO_FIELDS if data.get(k)}
            self.last_error = self.last_error_at = ""
            info = connection.describe()
            self.publish("extension.connected", info)
            await self._run(connection, self.greeted(info), kind)
        elif kind == "action.result":
            future = connection.pending.get(str(message.get("id")))
            if future is not None and not future.done():
                future.set_result(message)
        elif await self._run(connection, self.deliver(message), kind) is False:
            await self._refuse(connection, f"unknown message type {kind!r}")

    async def _run(self, connection: ExtensionConnection, work: Awaitable[object], kind: str) -> object:
        """Await a handler and return its result; a refusal or a failure goes back to the
        extension instead (and None comes back: the message was dealt with)."""
        try:
            return await work
        except (ValueError, GhostError) as e:
            await self._refuse(connection, f"{kind}: {e}")
        except Exception as e:
            log.exception("handling extension message %s failed", kind)
            await self._refuse(connection, f"{kind} failed in Ghost: {type(e).__name__}: {e}")
        return None

    async def _refuse(self, connection: ExtensionConnection, error: str) -> None:
        try:
            await connection.send({"type": "error", "error": error})
        except (ConnectionError, RuntimeError):
            pass


async def any_handled(results: Iterable[object]) -> bool:
    """Whether any hook result (awaited when it is awaitable, in order) is True. When one
    raises, the awaitables after it are closed unawaited and the error propagates."""
    pending = list(results)
    handled = False
    try:
        while pending:
            result = pending.pop(0)
            if inspect.isawaitable(result):
                result = await result
            handled = handled or result is True
    finally:
        for result in pending:
            if inspect.iscoroutine(result):
                result.close()
    return handled
