"""The bridge hands the extension's messages to plugins through hooks, and lends its
connection through `ghost_browser_extension`: a real Ghost, the real bridge plugin, a
plugin registered the way a third-party one is, and a real WebSocket client."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from ghost_addons.core import Ghost
from ghost_addons.errors import NotFound
from ghost_addons.extension import browser_extension
from ghost_addons.hookspecs import hookimpl
from plugins.extension_bridge.hub import any_handled
from tests.support.extension_client import Api, FakeExtension
from tests.support.ports import free_port

TOKEN = "bridge-test-token"


class Listener:
    """A plugin that knows a few message types of its own."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        self.hellos: list[dict[str, Any]] = []

    @hookimpl
    def ghost_extension_message(self, ghost: Ghost, message: dict[str, Any]) -> Awaitable[bool] | bool | None:
        kind = message["type"]
        if kind == "note":
            self.messages.append(message)
            return True
        if kind == "slow_note":
            return self._later(message)
        if kind == "bad_note":
            raise ValueError("a note needs a text")
        if kind == "missing_note":
            raise NotFound("note 7 not found")
        if kind == "broken_note":
            raise RuntimeError("the notebook is on fire")
        return None

    async def _later(self, message: dict[str, Any]) -> bool:
        await asyncio.sleep(0)
        self.messages.append(message)
        return True

    @hookimpl
    def ghost_extension_connected(self, ghost: Ghost, info: dict[str, Any]) -> None:
        self.hellos.append(info)


class Bystander:
    """Another plugin with the hook that handles nothing: it must not hide the others."""

    @hookimpl
    def ghost_extension_message(self, ghost: Ghost, message: dict[str, Any]) -> None:
        return None


@pytest.fixture
async def listener(tmp_path: Path) -> AsyncIterator[tuple[Ghost, Listener]]:
    ghost = Ghost(tmp_path / "home", api_port=free_port(), token=TOKEN,
                  default_plugins=("plugins.extension_bridge",))
    plugin = Listener()
    ghost.pm.register(plugin, name="test-listener")
    ghost.pm.register(Bystander(), name="test-bystander")
    await ghost.start()
    try:
        yield ghost, plugin
    finally:
        await ghost.stop()


@pytest.fixture
async def extension(listener: tuple[Ghost, Listener]) -> AsyncIterator[FakeExtension]:
    ghost, plugin = listener
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {TOKEN}"}) as session:
        ext = await FakeExtension(Api(ghost, session)).connect()
        try:
            for _ in range(250):
                if plugin.hellos:
                    break
                await asyncio.sleep(0.02)
            yield ext
        finally:
            await ext.close()


async def next_message(extension: FakeExtension) -> dict[str, Any]:
    return await asyncio.wait_for(extension.received.get(), 5)


async def test_hello_reaches_plugins(listener: tuple[Ghost, Listener], extension: FakeExtension) -> None:
    _, plugin = listener
    assert len(plugin.hellos) == 1
    info = plugin.hellos[0]
    assert info["version"] == "1.0.0" and info["extension_id"] == "abcdefgh" and info["connection_id"]


async def test_handled_messages_reach_the_plugin_and_get_no_error(
    listener: tuple[Ghost, Listener], extension: FakeExtension
) -> None:
    _, plugin = listener
    await extension.send({"type": "note", "data": {"text": "one"}})
    await extension.send({"type": "slow_note", "data": {"text": "two"}})
    await extension.send({"type": "ping"})
    assert await next_message(extension) == {"type": "pong"}  # no error came before it
    assert [m["data"]["text"] for m in plugin.messages] == ["one", "two"]


@pytest.mark.parametrize(("kind", "error"), [
    ("bad_note", "bad_note: a note needs a text"),
    ("missing_note", "missing_note: note 7 not found"),
    ("broken_note", "broken_note failed in Ghost: RuntimeError: the notebook is on fire"),
    ("mystery", "unknown message type 'mystery'"),
])
async def test_refused_and_unknown_messages_are_answered_with_an_error(
    listener: tuple[Ghost, Listener], extension: FakeExtension, kind: str, error: str
) -> None:
    _, plugin = listener
    await extension.send({"type": kind, "data": {}})
    assert await next_message(extension) == {"type": "error", "error": error}
    assert plugin.messages == []


async def test_malformed_messages_never_reach_plugins(
    listener: tuple[Ghost, Listener], extension: FakeExtension
) -> None:
    assert extension.ws is not None
    await extension.ws.send_str("{not json")
    assert (await next_message(extension))["error"].startswith("message is not JSON")
    await extension.send({"data": {}})
    assert await next_message(extension) == {
        "type": "error", "error": "message must be a JSON object with a string 'type'"}
    assert listener[1].messages == []


async def test_browser_extension_is_the_bridge_while_connected(listener: tuple[Ghost, Listener]) -> None:
    ghost, plugin = listener
    assert browser_extension(ghost) is None
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {TOKEN}"}) as session:
        ext = await FakeExtension(Api(ghost, session)).connect()
        try:
            for _ in range(250):
                if plugin.hellos:
                    break
                await asyncio.sleep(0.02)
            extension = browser_extension(ghost)
            assert extension is not None and extension.connected
            assert await extension.broadcast({"type": "journey.recording_stop", "data": {"journey_id": "J"}}) == 1
            assert await next_message(ext) == {"type": "journey.recording_stop", "data": {"journey_id": "J"}}
        finally:
            await ext.close()
    for _ in range(250):
        if browser_extension(ghost) is None:
            break
        await asyncio.sleep(0.02)
    assert browser_extension(ghost) is None


async def test_any_handled_awaits_in_order_and_closes_the_rest_on_error() -> None:
    order: list[str] = []

    async def answer(name: str, value: Any) -> Any:
        order.append(name)
        if isinstance(value, Exception):
            raise value
        return value

    assert await any_handled([None, answer("a", None), True]) is True
    assert await any_handled([answer("b", None), None]) is False
    later = answer("never", True)
    with pytest.raises(ValueError, match="refused"):
        await any_handled([answer("c", ValueError("refused")), later])
    assert order == ["a", "b", "c"]
    assert later.cr_frame is None  # closed, so no "never awaited" warning
