import asyncio
import time
from collections.abc import Iterator

from ghost_addons.slicing import Slicer, drain


def busy(items: int, seconds_each: float) -> Iterator[int]:
    for i in range(items):
        end = time.perf_counter() + seconds_each
        while time.perf_counter() < end:
            pass
        yield i


async def longest_stall_during(work: asyncio.Future[None]) -> float:
    """The longest gap between ticks of a task that wants to run every millisecond."""
    longest, last = 0.0, time.perf_counter()
    while not work.done():
        await asyncio.sleep(0.001)
        now = time.perf_counter()
        longest, last = max(longest, now - last), now
    await work
    return longest


async def test_drain_gives_the_loop_back_between_slices() -> None:
    work = asyncio.ensure_future(drain(busy(200, 0.001), Slicer(0.005)))
    assert await longest_stall_during(work) < 0.05  # 200 ms of work, slices of ~5 ms


async def test_tick_returns_at_once_inside_the_budget() -> None:
    slicer = Slicer(budget=60)
    ran = []
    other = asyncio.get_running_loop().call_soon(ran.append, 1)
    for _ in range(1000):
        await slicer.tick()
    assert ran == []  # never yielded: the budget was not spent
    other.cancel()
