"""An in-process Ghost with the journeys and extension plugins, and a scripted extension
(`tests/support/extension_client.py`).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from ghost_addons.core import Ghost
from tests.support.extension_client import Api, FakeExtension
from tests.support.ports import free_port

__all__ = ["PLUGINS", "TOKEN", "Api", "FakeExtension"]

TOKEN = "journey-test-token"
PLUGINS = ("plugins.extension_bridge", "plugins.journeys")


@pytest.fixture
async def ghost(tmp_path: Path) -> AsyncIterator[Ghost]:
    instance = Ghost(tmp_path / "home", api_port=free_port(), token=TOKEN, default_plugins=PLUGINS)
    await instance.start()
    try:
        yield instance
    finally:
        await instance.stop()


@pytest.fixture
async def api(ghost: Ghost) -> AsyncIterator[Api]:
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {TOKEN}"}) as session:
        yield Api(ghost, session)


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
