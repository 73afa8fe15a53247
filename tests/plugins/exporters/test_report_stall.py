"""The HTML report of 10,000 flows, exported through the real API of an in-process Ghost,
must not freeze the event loop (which is also the proxy's): a task that wants to run every
millisecond measures the loop's longest stall while the report is downloaded."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from html.parser import HTMLParser
from pathlib import Path

import aiohttp
import pytest

from ghost_addons.core import Ghost
from ghost_addons.ids import new_id
from plugins.exporters.report import REPORT_MAX_FLOWS
from tests.plugins.exporters.report_input import varied_flow
from tests.support.ports import free_port

TOKEN = "report-stall-token"
# The old single `template.render` stalled the loop ~900 ms here; streamed, it stays in
# slices of a few ms. The bound is generous for a loaded 2-core VM.
STALL_BOUND = 0.25


class Rows(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.rows = 0
        self._in_tbody = False

    def handle_starttag(self, tag, attrs):  # type: ignore[no-untyped-def]
        if tag == "tbody":
            self._in_tbody = True
        elif tag == "tr" and self._in_tbody:
            self.rows += 1

    def handle_endtag(self, tag):  # type: ignore[no-untyped-def]
        if tag == "tbody":
            self._in_tbody = False


class StallMeter:
    """Runs beside the work; records the longest gap between its 1 ms sleeps."""

    def __init__(self) -> None:
        self.longest = 0.0
        self._task: asyncio.Task[None] | None = None

    async def _tick(self) -> None:
        last = time.perf_counter()
        while True:
            await asyncio.sleep(0.001)
            now = time.perf_counter()
            self.longest, last = max(self.longest, now - last), now

    async def __aenter__(self) -> StallMeter:
        self._task = asyncio.ensure_future(self._tick())
        await asyncio.sleep(0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        try:
            await self._task
        except asyncio.CancelledError:
            pass


@pytest.fixture
async def ghost(tmp_path: Path) -> AsyncIterator[Ghost]:
    instance = Ghost(tmp_path / "home", api_port=free_port(), token=TOKEN,
                     default_plugins=("plugins.exporters",))
    await instance.start()
    try:
        yield instance
    finally:
        await instance.stop()


async def test_a_10000_flow_report_streams_without_stalling_the_loop(ghost: Ghost) -> None:
    session_id = ghost.active_session_id
    for start in range(0, REPORT_MAX_FLOWS, 1000):
        await ghost.store.add_flows([varied_flow(i, session_id, new_id())
                                     for i in range(start, start + 1000)])

    url = f"{ghost.api_url}/api/v1/sessions/{session_id}/export/report"
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {TOKEN}"}) as http:
        async with StallMeter() as meter:
            started = time.perf_counter()
            async with http.get(url) as response:
                assert response.status == 200
                body = await response.read()
            took = time.perf_counter() - started
    print(f"\nreport of {REPORT_MAX_FLOWS} flows: {len(body):,} bytes in {took * 1000:.0f} ms; "
          f"longest event-loop stall {meter.longest * 1000:.0f} ms")
    parser = Rows()
    parser.feed(body.decode())
    assert parser.rows == REPORT_MAX_FLOWS
    assert meter.longest < STALL_BOUND, f"the loop stalled {meter.longest * 1000:.0f} ms"
