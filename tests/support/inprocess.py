"""A real Ghost in the test's own event loop: store, plugins, API server, no mitmproxy.

For plugin tests that need Ghost's API or store but not the proxy. The Ghost is the
production class, started and stopped exactly as the addon does (`start()`/`stop()`),
with only the plugins the test names, a temporary home and a free API port.

    async def test_x(ghost_app):                       # the fixture in tests/conftest.py
        api = await ghost_app(("plugins.journeys",))
        await api.ok("GET", "/api/v1/journeys/active?session_id=" + api.ghost.active_session_id)

or, when a test restarts Ghost on the same home::

    async with running_ghost(home, PLUGINS) as ghost, api_client(ghost) as api:
        ...
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Protocol

import aiohttp
import orjson

from ghost_addons.core import Ghost
from tests.support.ports import free_port

TOKEN = "inprocess-test-token"


def make_ghost(home: Path, plugins: tuple[str, ...], *, api_port: int, token: str) -> Ghost:
    """The one place tests build an in-process Ghost: when `Ghost(...)`'s signature
    changes (how default plugins are passed), this is the line to change."""
    return Ghost(home, api_port=api_port, token=token, default_plugins=plugins)


@asynccontextmanager
async def running_ghost(home: Path, plugins: tuple[str, ...] = (), *, token: str = TOKEN,
                        api_port: int = 0) -> AsyncIterator[Ghost]:
    """A started Ghost with exactly `plugins` (module names); stopped on exit, which drains
    the flow queue and closes the store. `api_port=0` picks a free port."""
    ghost = make_ghost(home, plugins, api_port=api_port or free_port(), token=token)
    await ghost.start()
    try:
        yield ghost
    finally:
        await ghost.stop()


class Api:
    """A client of a running Ghost's API, authorised with its token."""

    def __init__(self, ghost: Ghost, session: aiohttp.ClientSession) -> None:
        self.ghost = ghost
        self.session = session
        self.base = ghost.api_url

    @property
    def token(self) -> str:
        return self.ghost.token

    def ws_url(self, path: str) -> str:
        """A WebSocket URL for `path` with the token as its query parameter."""
        separator = "&" if "?" in path else "?"
        return self.base.replace("http://", "ws://", 1) + f"{path}{separator}token={self.token}"

    async def call(self, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
        """(status, body): JSON bodies parsed, anything else as bytes."""
        async with self.session.request(method, self.base + path, **kwargs) as response:
            body = await response.read()
            data = orjson.loads(body) if body and response.content_type == "application/json" else body
            return response.status, data

    async def ok(self, method: str, path: str, status: int = 200, **kwargs: Any) -> Any:
        """The body of a call that must answer `status`; fails with the body otherwise."""
        got, data = await self.call(method, path, **kwargs)
        assert got == status, (method, path, got, data)
        return data


@asynccontextmanager
async def api_client(ghost: Ghost) -> AsyncIterator[Api]:
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {ghost.token}"}) as session:
        yield Api(ghost, session)


class StartGhostApp(Protocol):
    """The `ghost_app` fixture: start a Ghost with these plugins, get a client of its API
    (`api.ghost` is the Ghost). Each call starts another Ghost; all stop after the test."""

    async def __call__(self, plugins: tuple[str, ...] = (), *, home: Path | None = None,
                       token: str = TOKEN) -> Api: ...
