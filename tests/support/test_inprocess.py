"""The in-process Ghost the plugin tests share (tests/support/inprocess.py)."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest

from tests.support.inprocess import StartGhostApp, api_client, running_ghost


async def test_running_ghost_has_only_the_plugins_asked_for_and_stops_cleanly(tmp_path: Path) -> None:
    async with running_ghost(tmp_path / "home", ("plugins.exporters",), token="t0ken") as ghost:
        async with api_client(ghost) as api:
            assert api.token == "t0ken" and api.ws_url("/api/v1/ws?x=1").endswith("/api/v1/ws?x=1&token=t0ken")
            sessions = await api.ok("GET", "/api/v1/sessions")
            assert [s["id"] for s in sessions] == [ghost.active_session_id]
            assert set(ghost.exporters) == {"har", "json", "csv", "postman", "report"}
            assert ghost.pm.get_plugin("plugins.journeys") is None
        async with aiohttp.ClientSession() as anonymous:
            async with anonymous.get(ghost.api_url + "/api/v1/sessions") as refused:
                assert refused.status == 401
        assert ghost.running_file.exists()
    assert not ghost.running and not ghost.running_file.exists()
    async with aiohttp.ClientSession() as client:
        with pytest.raises(aiohttp.ClientConnectionError):
            await client.get(ghost.api_url + "/api/v1/sessions")


async def test_ghost_app_starts_independent_ghosts(ghost_app: StartGhostApp) -> None:
    first = await ghost_app(())
    second = await ghost_app(("plugins.exporters",))
    assert first.ghost.home != second.ghost.home and first.base != second.base
    assert first.ghost.exporters == {} and "har" in second.ghost.exporters
    for api in (first, second):
        assert await api.ok("GET", "/api/v1/sessions")
