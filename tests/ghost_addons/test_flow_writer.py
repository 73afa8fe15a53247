"""The flow writer with real plugins on a real in-process Ghost: a slow `ghost_flow_stored`
implementation runs in its plugin's lane and never holds commits, events or other plugins."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from ghost_addons.core import Ghost
from ghost_addons.hookspecs import hookimpl
from ghost_addons.ids import new_id
from ghost_addons.model import Flow
from ghost_addons.store import FLOW_BATCH_WINDOW
from tests.ghost_addons.factories import make_flow
from tests.support.ports import free_port

TOKEN = "flow-writer-token"


class Events:
    """Records when each `flow.created` went out."""

    def __init__(self) -> None:
        self.created: dict[str, float] = {}

    @hookimpl
    def ghost_event(self, ghost: Ghost, type: str, data: Any) -> None:
        if type == "flow.created":
            self.created[data["id"]] = time.monotonic()


class Gated:
    """Async work that waits for the test to open the gate, then records the flow."""

    def __init__(self) -> None:
        self.gate = asyncio.Event()
        self.started: list[str] = []
        self.finished: list[str] = []

    async def work(self, flow: Flow) -> None:
        self.started.append(flow.id)
        await self.gate.wait()
        self.finished.append(flow.id)

    @hookimpl
    def ghost_flow_stored(self, flow: Flow) -> Any:
        return self.work(flow)


class Quick:
    """Async work that does not wait: a plugin that must not queue behind `Gated`."""

    def __init__(self) -> None:
        self.finished: list[str] = []

    async def work(self, flow: Flow) -> None:
        await asyncio.sleep(0)
        self.finished.append(flow.id)

    @hookimpl
    def ghost_flow_stored(self, ghost: Ghost, flow: Flow) -> Any:
        return self.work(flow)


class Broken:
    @hookimpl(tryfirst=True)
    def ghost_flow_stored(self, ghost: Ghost, flow: Flow) -> None:
        raise ValueError("a plugin bug")


@pytest.fixture
async def ghost(tmp_path: Path) -> AsyncIterator[Ghost]:
    instance = Ghost(tmp_path / "home", api_port=free_port(), token=TOKEN, default_plugins=())
    await instance.start()
    try:
        yield instance
    finally:
        if instance.running:
            await instance.stop()


def flows_for(ghost: Ghost, count: int) -> list[Flow]:
    return [make_flow(new_id(), session_id=ghost.active_session_id) for _ in range(count)]


async def until(condition: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


async def capture(ghost: Ghost, flow: Flow) -> None:
    """What the addon does for a captured flow: queue it for the writer."""
    waiting = ghost.flow_writer.put(flow)
    if waiting is not None:
        await waiting


async def test_a_slow_plugin_holds_neither_commits_nor_events_nor_other_plugins(ghost: Ghost) -> None:
    events, gated, quick = Events(), Gated(), Quick()
    for name, plugin in (("events", events), ("gated", gated), ("quick", quick)):
        ghost.pm.register(plugin, name=name)
    flows = flows_for(ghost, 3)
    for flow in flows:  # one batch each: the writer goes round its loop three times
        queued = time.monotonic()
        await capture(ghost, flow)
        await until(lambda flow=flow: flow.id in events.created)
        assert events.created[flow.id] - queued < FLOW_BATCH_WINDOW + 1.0
        assert await ghost.store.get_flow(flow.id) is not None  # committed
    await until(lambda: len(quick.finished) == 3)  # its own lane: not behind the gated one
    assert gated.started == [flows[0].id] and gated.finished == []
    report = ghost.flow_writer.lanes.report()
    assert report["lanes"]["gated"]["queued"] == 2 and report["dropped"] == 0

    gated.gate.set()
    await asyncio.wait_for(ghost.flow_writer.lanes.idle(), 5)
    ids = [flow.id for flow in flows]
    assert gated.finished == ids and quick.finished == ids  # each plugin in commit order


async def test_a_full_lane_drops_and_counts_and_the_monitor_shows_it(ghost: Ghost, caplog) -> None:
    gated = Gated()
    ghost.pm.register(gated, name="gated")
    ghost.flow_writer.lanes.size = 2
    flows = flows_for(ghost, 6)
    with caplog.at_level(logging.WARNING, logger="ghost.lanes"):
        for flow in flows:
            ghost.flow_writer.put(flow)
        await until(lambda: ghost.flow_writer.written == 6)
    lane = ghost.flow_writer.lanes.report()["lanes"]["gated"]
    assert lane["dropped"] >= 3 and lane["dropped"] + lane["queued"] + len(gated.started) == 6
    warnings = [r for r in caplog.records if "is full" in r.getMessage()]
    assert len(warnings) == 1  # one warning per overflow, not one per flow

    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with aiohttp.ClientSession(headers=headers) as http:
        async with http.get(ghost.api_url + "/api/v1/monitor") as response:
            monitor = await response.json()
    assert monitor["flow_stored"]["dropped"] == lane["dropped"]
    assert monitor["flow_stored"]["lanes"]["gated"]["dropped"] == lane["dropped"]

    gated.gate.set()
    await asyncio.wait_for(ghost.flow_writer.lanes.idle(), 5)
    kept = [flow.id for flow in flows if flow.id in gated.finished]
    assert gated.finished == kept  # what was kept ran in order


async def test_imports_wait_for_room_instead_of_dropping(ghost: Ghost) -> None:
    gated = Gated()
    ghost.pm.register(gated, name="gated")
    ghost.flow_writer.lanes.size = 1
    flows = flows_for(ghost, 4)
    adding = asyncio.ensure_future(ghost.store.add_flows(flows))
    await asyncio.sleep(0.2)
    assert not adding.done()  # the lane is full; the importer waits, the proxy would not
    gated.gate.set()
    await asyncio.wait_for(adding, 5)
    await asyncio.wait_for(ghost.flow_writer.lanes.idle(), 5)
    assert gated.finished == [flow.id for flow in flows]
    assert ghost.flow_writer.lanes.report()["dropped"] == 0


async def test_a_failing_implementation_is_logged_and_the_others_still_run(ghost: Ghost, caplog) -> None:
    quick = Quick()
    ghost.pm.register(Broken(), name="broken")
    ghost.pm.register(quick, name="quick")
    flows = flows_for(ghost, 2)
    with caplog.at_level(logging.ERROR, logger="ghost.store"):
        await ghost.store.add_flows(flows)
        await ghost.flow_writer.lanes.idle()
    assert quick.finished == [flow.id for flow in flows]
    assert sum("ghost_flow_stored of plugin 'broken'" in r.getMessage() for r in caplog.records) == 2


async def test_shutdown_drains_the_lanes(ghost: Ghost) -> None:
    finished: list[str] = []

    class Slow:
        async def work(self, flow: Flow) -> None:
            await asyncio.sleep(0.02)
            finished.append(flow.id)

        @hookimpl
        def ghost_flow_stored(self, flow: Flow) -> Any:
            return self.work(flow)

    ghost.pm.register(Slow(), name="slow")
    flows = flows_for(ghost, 10)
    for flow in flows:
        ghost.flow_writer.put(flow)
    await ghost.stop()  # the queue is drained, then the lane
    assert finished == [flow.id for flow in flows]


async def test_shutdown_cancels_a_lane_that_overruns(ghost: Ghost, caplog) -> None:
    gated = Gated()  # never opened
    ghost.pm.register(gated, name="gated")
    await ghost.store.add_flows(flows_for(ghost, 3))
    started = time.monotonic()
    with caplog.at_level(logging.ERROR, logger="ghost.lanes"):
        await ghost.flow_writer.drain(lanes_timeout=0.2)
    assert time.monotonic() - started < 2
    assert gated.finished == []
    assert any("not drained" in r.getMessage() and "2 waiting" in r.getMessage() for r in caplog.records)
    assert ghost.flow_writer.lanes.report()["queued"] == 0


async def test_sync_implementations_return_nothing_and_start_no_lane(ghost: Ghost) -> None:
    seen: list[str] = []

    class Sync:
        @hookimpl
        def ghost_flow_stored(self, flow: Flow) -> None:
            seen.append(flow.id)

    ghost.pm.register(Sync(), name="sync")
    flows = flows_for(ghost, 3)
    await ghost.store.add_flows(flows)
    assert seen == [flow.id for flow in flows]  # inline: done when add_flows returns
    assert ghost.flow_writer.lanes.lanes == {}


async def test_a_wrapper_keeps_pluggy_and_the_work_shares_one_lane(ghost: Ghost) -> None:
    seen: list[str] = []

    class Wrapper:
        @hookimpl(wrapper=True)
        def ghost_flow_stored(self, flow: Flow) -> Any:
            seen.append("before")
            return (yield)

    quick = Quick()
    ghost.pm.register(quick, name="quick")
    ghost.pm.register(Wrapper(), name="wrapper")
    flows = flows_for(ghost, 2)
    await ghost.store.add_flows(flows)
    await ghost.flow_writer.lanes.idle()
    assert seen == ["before", "before"]
    assert quick.finished == [flow.id for flow in flows]
    assert list(ghost.flow_writer.lanes.lanes) == ["ghost_flow_stored"]


async def test_work_cancelled_by_someone_else_counts_as_failed_and_the_lane_goes_on(ghost: Ghost) -> None:
    quick = Quick()
    futures: list[asyncio.Future[None]] = []

    class Waits:
        @hookimpl
        def ghost_flow_stored(self, flow: Flow) -> Any:
            future = asyncio.get_running_loop().create_future()
            futures.append(future)
            return future

    ghost.pm.register(Waits(), name="waits")
    ghost.pm.register(quick, name="quick")
    await ghost.store.add_flows(flows_for(ghost, 2))
    futures[0].cancel()
    futures[1].set_result(None)
    await asyncio.wait_for(ghost.flow_writer.lanes.idle(), 5)
    lane = ghost.flow_writer.lanes.report()["lanes"]["waits"]
    assert lane["failed"] == 1 and lane["done"] == 1


async def test_flows_that_cannot_be_stored_are_announced_as_stored_and_counted(ghost: Ghost) -> None:
    """An error record goes out as stored (escaped, so the event's JSON holds it); a flow
    refused even as an error record is counted in the monitor; the others go on as usual."""
    async with aiohttp.ClientSession() as http, http.ws_connect(
            f"{ghost.api_url.replace('http://', 'ws://')}/api/v1/ws?token={TOKEN}") as ws:
        await until(lambda: len(ghost.events.clients) == 1)
        good = flows_for(ghost, 3)
        odd = make_flow(new_id(), session_id=ghost.active_session_id, url="http://h/caf\udcff")
        orphan = make_flow(new_id(), session_id="no-such-session")
        for flow in (good[0], odd, good[1], orphan, good[2]):
            await capture(ghost, flow)
        seen: dict[str, dict[str, Any]] = {}
        while len(seen) < 4:
            message = await asyncio.wait_for(ws.receive_json(), 5)
            if message["type"] == "flow.created":
                seen[message["data"]["id"]] = message["data"]
    assert set(seen) == {good[0].id, good[1].id, good[2].id, odd.id}
    assert seen[odd.id]["url"] == "http://h/caf\\udcff" and seen[odd.id]["tags"] == ["store-error"]
    stored = await ghost.store.get_flow(odd.id)
    assert stored is not None and stored.request.url == "http://h/caf\\udcff" and stored.error
    assert (ghost.flow_writer.error_records, ghost.flow_writer.skipped) == (1, 1)
    assert orphan.id in ghost.flow_writer.last_skip_reason


class StoreEvents:
    """Records the `store.full` and `store.resumed` events."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, Any]] = []

    @hookimpl
    def ghost_event(self, ghost: Ghost, type: str, data: Any) -> None:
        if type.startswith("store."):
            self.seen.append((type, data))


async def test_a_full_database_stops_storing_with_an_event_and_resumes_when_there_is_room(ghost: Ghost) -> None:
    """`store.max_db_size` is SQLite's `max_page_count` in the writer process: past it,
    batches are lost (counted), `store.full` goes out once and the monitor flag is up; once
    the limit is raised the next batch is stored and `store.resumed` says how many were lost."""
    events = StoreEvents()
    ghost.pm.register(events)
    await ghost.settings_changed(ghost.settings.update({"store": {"max_db_size": 1}}))  # at once full
    big = [make_flow(new_id(), session_id=ghost.active_session_id, response_body=b"x" * 200_000)
           for _ in range(3)]
    for flow in big:
        await capture(ghost, flow)
    await until(lambda: ghost.flow_writer.skipped == 3)
    assert ghost.flow_writer.full and "database or disk is full" in ghost.flow_writer.full_reason
    assert [t for t, _ in events.seen] == ["store.full"]   # once, not per batch
    assert events.seen[0][1]["since"] == ghost.flow_writer.full_since
    assert [await ghost.store.get_flow(f.id) for f in big] == [None, None, None]
    await ghost.settings_changed(ghost.settings.update({"store": {"max_db_size": 0}}))
    after = flows_for(ghost, 2)
    for flow in after:
        await capture(ghost, flow)
    await until(lambda: not ghost.flow_writer.full)
    await until(lambda: ghost.flow_writer.depth == 0)
    assert [(await ghost.store.get_flow(f.id)) == f for f in after] == [True, True]
    assert events.seen[1] == ("store.resumed", {"flows_not_stored": 3})


async def test_committed_answers_once_the_row_is_in_and_false_when_it_is_not(ghost: Ghost) -> None:
    """What `store.answer_after_commit` waits on: True only after the row can be read; False
    when the database is full, so the addon kills that response instead of sending it."""
    flow = flows_for(ghost, 1)[0]
    assert await asyncio.wait_for(ghost.flow_writer.committed(flow), 5) is True
    assert await ghost.store.get_flow(flow.id) is not None
    assert ghost.flow_writer.depth == 0
    await ghost.settings_changed(ghost.settings.update({"store": {"max_db_size": 1}}))
    refused = make_flow(new_id(), session_id=ghost.active_session_id, response_body=b"x" * 500_000)
    assert await asyncio.wait_for(ghost.flow_writer.committed(refused), 5) is False
    orphan = make_flow(new_id(), session_id="no-such-session")
    await ghost.settings_changed(ghost.settings.update({"store": {"max_db_size": 0}}))
    assert await asyncio.wait_for(ghost.flow_writer.committed(orphan), 5) is False   # skipped


async def test_depth_counts_a_flow_from_the_moment_it_leaves_the_queue(ghost: Ghost) -> None:
    """`depth` bounds what a kill -9 loses, so the flow the writer has taken off the queue
    and holds through its batch window (before the commit starts) still counts: whenever
    `depth` reads 0 the row is already committed."""
    flow = flows_for(ghost, 1)[0]
    await capture(ghost, flow)
    await until(lambda: ghost.flow_writer.queue.empty())
    depth_when_taken = ghost.flow_writer.depth  # read at once: within the 50 ms window
    if depth_when_taken == 0:
        assert await ghost.store.get_flow(flow.id) is not None
    else:
        assert depth_when_taken == 1
    await until(lambda: ghost.flow_writer.depth == 0)
    assert await ghost.store.get_flow(flow.id) is not None


async def test_the_queue_is_bounded_in_body_bytes_so_a_writer_behind_holds_the_proxy_not_memory(
        ghost: Ghost, monkeypatch: pytest.MonkeyPatch) -> None:
    """Past FLOW_QUEUE_BYTES of queued bodies `put` hands back an awaitable (the proxy's
    response waits), which ends once the flows before it are committed; a single flow
    larger than the bound is let in alone rather than never."""
    import ghost_addons.store as store_module

    monkeypatch.setattr(store_module, "FLOW_QUEUE_BYTES", 1_000)
    first, second, huge = (make_flow(new_id(), session_id=ghost.active_session_id, response_body=b"x" * size)
                           for size in (800, 800, 5_000))
    assert ghost.flow_writer.put(first) is None
    waiting = ghost.flow_writer.put(second)
    assert waiting is not None and ghost.flow_writer.queued_bytes == 800
    await asyncio.wait_for(waiting, 5)
    assert await ghost.store.get_flow(first.id) is not None
    await until(lambda: ghost.flow_writer.queued_bytes == 0)
    assert await ghost.store.get_flow(second.id) is not None
    assert ghost.flow_writer.put(huge) is None  # the queue is empty: in it goes
    await until(lambda: ghost.flow_writer.depth == 0 and ghost.flow_writer.queued_bytes == 0)
    assert await ghost.store.get_flow(huge.id) is not None
