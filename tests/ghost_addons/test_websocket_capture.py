"""GhostAddon's WebSocket hooks over a real in-process Ghost: the upgrade is stored, its
messages follow it into the store within the caps, and mitmproxy's own list stays short."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from mitmproxy import http
from mitmproxy.proxy.layers.websocket import WebsocketEndHook, WebsocketMessageHook
from mitmproxy.test import taddons, tflow, tutils
from mitmproxy.websocket import WebSocketData, WebSocketMessage
from wsproto.frame_protocol import Opcode

from ghost_addons.addon import GhostAddon
from ghost_addons.core import Ghost
from ghost_addons.hookspecs import hookimpl
from ghost_addons.store import db, websockets
from tests.ghost_addons.test_pipeline import Lifecycle, addon_for, exchange
from tests.support.inprocess import StartGhostApp, running_ghost


@pytest.fixture
async def ghost(ghost_app: StartGhostApp) -> Ghost:
    """A running Ghost with no plugins but the ones each test registers."""
    return (await ghost_app(())).ghost


class Listener:
    def __init__(self, events: list[dict[str, Any]]) -> None:
        self.events = events

    @hookimpl
    def ghost_event(self, type: str, data: Any) -> None:
        if type == "flow.websocket_messages":
            self.events.append(data)


def upgrade() -> tuple[http.HTTPFlow, http.Response]:
    flow = tflow.tflow()
    flow.request.headers.update({"Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Version": "13"})
    response = tutils.tresp(status_code=101, reason=b"Switching Protocols", content=b"",
                            headers=http.Headers(Upgrade="websocket", Connection="Upgrade"))
    flow.websocket = WebSocketData()  # mitmproxy sets it before the response hook
    return flow, response


async def talk(tctx: taddons.context, addon: GhostAddon, flow: http.HTTPFlow,
               messages: list[tuple[bool, bytes | str]]) -> None:
    invoke = tctx.master.addons.invoke_addon
    assert flow.websocket is not None
    for from_client, content in messages:
        opcode = Opcode.TEXT if isinstance(content, str) else Opcode.BINARY
        data = content.encode() if isinstance(content, str) else content
        flow.websocket.messages.append(WebSocketMessage(opcode, from_client, data))
        await invoke(addon, WebsocketMessageHook(flow))
        assert len(flow.websocket.messages) == 1  # only the current one stays in memory
    await invoke(addon, WebsocketEndHook(flow))


async def stored_page(ghost: Ghost, flow_id: str, count: int, timeout: float = 10.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        page = await ghost.store.read(websockets.page, flow_id, -1, 1000)
        if page is not None and page["stored"] + page["dropped"] >= count or time.monotonic() > deadline:
            return page
        await asyncio.sleep(0.05)


async def test_messages_follow_their_upgrade_into_the_store(ghost: Ghost) -> None:
    events: list[dict[str, Any]] = []
    lifecycle = Lifecycle()
    with addon_for(ghost, lifecycle) as (addon, tctx):
        flow, response = upgrade()
        await exchange(tctx, addon, flow, response)
        ghost.pm.register(Listener(events), name="listener")
        await talk(tctx, addon, flow, [(True, "hello"), (False, b"\x00\xff"), (False, "bye")])
        stored = await lifecycle.next_stored()
    page = await stored_page(ghost, stored.id, 3)
    for _ in range(100):  # announced once the batch is committed, just after the rows can be read
        if events:
            break
        await asyncio.sleep(0.05)
    assert [(m["direction"], m["type"], m["content"]) for m in page["messages"]] == [
        ("client_to_server", "text", "hello"), ("server_to_client", "binary", "AP8="),
        ("server_to_client", "text", "bye")]
    assert events and events[-1]["id"] == stored.id and events[-1]["stored"] == 3 and not events[-1]["open"]
    assert not ghost.websockets.sockets  # ended and stored: forgotten


async def test_caps_and_a_flow_not_stored(ghost: Ghost) -> None:
    ghost.settings.update({"store": {"websocket_max_messages": 2}})
    vetoing = Lifecycle(store=False)
    with addon_for(ghost, vetoing) as (addon, tctx):
        skipped, response = upgrade()
        await exchange(tctx, addon, skipped, response)
        assert not ghost.websockets.sockets  # ghost_should_store said no: nothing is recorded
        vetoing.store = True
        flow, response = upgrade()
        await exchange(tctx, addon, flow, response)
        await talk(tctx, addon, flow, [(True, "a"), (False, "b"), (True, "c"), (False, "d")])
        stored = await vetoing.next_stored()
    page = await stored_page(ghost, stored.id, 4)
    assert (page["stored"], page["dropped"]) == (2, 2)
    assert [m["content"] for m in page["messages"]] == ["a", "b"]


async def test_a_socket_still_open_at_stop_keeps_what_it_said(tmp_path) -> None:
    """Stopping Ghost stores the messages waiting for their batch, even of a socket that
    never ended; what it says after the stop is not recorded."""
    lifecycle = Lifecycle()
    async with running_ghost(tmp_path / "home") as running:
        with addon_for(running, lifecycle) as (addon, tctx):
            flow, response = upgrade()
            await exchange(tctx, addon, flow, response)
            stored = await lifecycle.next_stored()
            invoke = tctx.master.addons.invoke_addon
            assert flow.websocket is not None
            for text in ("one", "two"):
                flow.websocket.messages.append(WebSocketMessage(Opcode.TEXT, True, text.encode()))
                await invoke(addon, WebsocketMessageHook(flow))
    assert running.websockets.closed
    running.websockets.message(stored.id, True, 1, 0.0, b"after the stop")  # ignored
    conn = db.connect(tmp_path / "home" / "ghost.db", readonly=True)
    try:
        page = websockets.page(conn, stored.id, -1, 10)
    finally:
        conn.close()
    assert page is not None and [m["content"] for m in page["messages"]] == ["one", "two"]


async def test_messages_a_full_database_refused_count_as_dropped(ghost: Ghost) -> None:
    lifecycle = Lifecycle()
    with addon_for(ghost, lifecycle) as (addon, tctx):
        flow, response = upgrade()
        await exchange(tctx, addon, flow, response)
        stored = await lifecycle.next_stored()
        invoke = tctx.master.addons.invoke_addon
        assert flow.websocket is not None
        ghost.settings.update({"store": {"max_db_size": 4096}})  # far below what the database holds
        flow.websocket.messages.append(WebSocketMessage(Opcode.BINARY, False, b"x" * 200_000))
        await invoke(addon, WebsocketMessageHook(flow))
        assert await ghost.websockets.flush() == 0  # refused: the database is full
        ghost.settings.update({"store": {"max_db_size": 0}})
        await talk(tctx, addon, flow, [(True, "after")])
    page = await stored_page(ghost, stored.id, 2)
    assert (page["stored"], page["dropped"]) == (1, 1)
    assert [(m["seq"], m["content"]) for m in page["messages"]] == [(1, "after")]
