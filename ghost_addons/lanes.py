"""Lanes: ordered background work per owner, so one slow owner never holds another.

The flow writer hands each plugin's `ghost_flow_stored` awaitables to that plugin's lane
instead of awaiting them itself: a plugin that takes a second per flow then delays only
its own work, never the commits of later flows, the `flow.created` events, or the proxy
(whose back-pressure starts at the writer's queue). Within a lane the work runs one item
at a time in the order it was handed over, so a plugin still sees its flows in commit
order. A lane is bounded: when its owner falls too far behind, new work is dropped,
counted (`GET /api/v1/monitor`) and logged, rather than held in memory without limit.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger("ghost.lanes")

LANE_SIZE = 5_000
DRAIN_SECONDS = 10.0

Spawn = Callable[[Coroutine[Any, Any, None], str], "asyncio.Task[None]"]


def discard(work: Awaitable[Any]) -> None:
    """Forget work that will never run: a coroutine is closed, or Python warns at
    collection that it was never awaited (an error under the test suite's settings)."""
    if inspect.iscoroutine(work):
        work.close()


@dataclass(slots=True)
class LaneFigures:
    """What the monitor shows per lane."""

    queued: int = 0
    done: int = 0
    failed: int = 0
    dropped: int = 0


@dataclass(slots=True)
class Lane:
    """One owner's bounded queue of work and the task that runs it, in order."""

    name: str
    size: int
    queue: asyncio.Queue[Awaitable[Any]] = field(init=False)
    figures: LaneFigures = field(default_factory=LaneFigures)
    task: asyncio.Task[None] | None = None
    overflowing: bool = False  # between the first drop and the moment the lane catches up

    def __post_init__(self) -> None:
        self.queue = asyncio.Queue(maxsize=self.size)

    def offer(self, work: Awaitable[Any]) -> bool:
        """Queue work without waiting; False (work discarded, counted) when the lane is full."""
        try:
            self.queue.put_nowait(work)
            return True
        except asyncio.QueueFull:
            discard(work)
            self.figures.dropped += 1
            if not self.overflowing:  # one warning per episode, not one per flow
                self.overflowing = True
                log.warning("lane %r is full (%d waiting): its work for new flows is dropped "
                            "until it catches up; %d dropped so far",
                            self.name, self.size, self.figures.dropped)
            return False

    async def run(self) -> None:
        while True:
            work = await self.queue.get()
            try:
                await work
                self.figures.done += 1
            except asyncio.CancelledError:
                task = asyncio.current_task()
                if task is not None and task.cancelling():
                    raise  # the lane itself is stopping
                self.figures.failed += 1  # the work was a future someone else cancelled
                log.warning("lane %r: background work was cancelled", self.name)
            except Exception:
                self.figures.failed += 1
                log.exception("lane %r: background work failed", self.name)
            finally:
                self.queue.task_done()
            if self.overflowing and self.queue.empty():
                self.overflowing = False
                log.warning("lane %r caught up; %d items dropped in all", self.name, self.figures.dropped)


class Lanes:
    """The lanes of one Ghost, each started on first use and kept referenced by `spawn`
    (Ghost's task set, cancelled at shutdown)."""

    def __init__(self, spawn: Spawn, purpose: str, size: int = LANE_SIZE) -> None:
        self._spawn = spawn
        self.purpose = purpose  # "ghost_flow_stored": names the tasks and the log lines
        self.size = size
        self.lanes: dict[str, Lane] = {}

    def lane(self, name: str) -> Lane:
        lane = self.lanes.get(name)
        if lane is None:
            lane = self.lanes[name] = Lane(name, self.size)
        if lane.task is None or lane.task.done():
            lane.task = self._spawn(lane.run(), f"{self.purpose} lane {name}")
        return lane

    def offer(self, name: str, work: Awaitable[Any]) -> bool:
        """Hand work to lane `name` without waiting (the flow writer's path)."""
        return self.lane(name).offer(work)

    async def put(self, name: str, work: Awaitable[Any]) -> None:
        """Hand work to lane `name`, waiting for room (callers that may be slowed: imports)."""
        await self.lane(name).queue.put(work)

    async def idle(self) -> None:
        """Wait until every lane has finished the work it holds (tests, tools)."""
        for lane in list(self.lanes.values()):
            await lane.queue.join()

    def report(self) -> dict[str, Any]:
        """Figures for the monitor: totals and each lane's."""
        lanes = {name: {"queued": lane.queue.qsize(), "done": lane.figures.done,
                        "failed": lane.figures.failed, "dropped": lane.figures.dropped}
                 for name, lane in self.lanes.items()}
        return {
            "queued": sum(lane["queued"] for lane in lanes.values()),
            "dropped": sum(lane["dropped"] for lane in lanes.values()),
            "failed": sum(lane["failed"] for lane in lanes.values()),
            "lanes": lanes,
        }

    async def drain(self, timeout: float = DRAIN_SECONDS) -> None:
        """Let every lane finish what it holds, all at once, for at most `timeout` seconds;
        then cancel the lanes (what was still waiting is logged as lost)."""
        started = time.monotonic()
        running = [lane for lane in self.lanes.values() if lane.task is not None and not lane.task.done()]
        joins = {asyncio.ensure_future(lane.queue.join()): lane for lane in running}
        late: set[asyncio.Future[None]] = set()
        if joins:
            _, late = await asyncio.wait(joins, timeout=timeout)
            for join in late:
                join.cancel()
        tasks = [lane.task for lane in running if lane.task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, *joins, return_exceptions=True)
        for join in late:
            lane = joins[join]
            lost = lane.queue.qsize()
            while not lane.queue.empty():
                discard(lane.queue.get_nowait())
                lane.queue.task_done()
            log.error("lane %r not drained within %.0f s: the running item and %d waiting are lost",
                      lane.name, timeout, lost)
        if running:
            log.info("%s lanes drained in %.2f s", self.purpose, time.monotonic() - started)
