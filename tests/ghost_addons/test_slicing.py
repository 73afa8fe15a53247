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


async def test_drain_gives_the_loop_back_between_slices() -> None:
    turns = 0

    async def other_task() -> None:
        nonlocal turns
        while True:
            await asyncio.sleep(0)
            turns += 1

    other = asyncio.ensure_future(other_task())
    await asyncio.sleep(0)
    turns = 0
    await drain(busy(1000, 0.0001), Slicer(0.005))  # 100 ms of work in slices of 5 ms
    other.cancel()
    assert 5 <= turns <= 500  # about one turn per slice (20 here), not one per item


async def test_tick_returns_at_once_inside_the_budget() -> None:
    slicer = Slicer(budget=60)
    ran = []
    other = asyncio.get_running_loop().call_soon(ran.append, 1)
    for _ in range(1000):
        await slicer.tick()
    assert ran == []  # never yielded: the budget was not spent
    other.cancel()
