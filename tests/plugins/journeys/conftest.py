"""Journeys tests: an in-process Ghost with the journeys and extension plugins (the shared
`ghost_app` fixture, tests/support/inprocess.py), and a scripted extension
(`tests/support/extension_client.py`).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from ghost_addons.core import Ghost
from tests.support.extension_client import FakeExtension
from tests.support.inprocess import Api, StartGhostApp

__all__ = ["PLUGINS", "TOKEN", "Api", "FakeExtension"]

TOKEN = "journey-test-token"
PLUGINS = ("plugins.extension_bridge", "plugins.journeys")


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
