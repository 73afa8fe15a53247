"""Long work on the event loop, cut into slices so the proxy and the API keep being served.

A loop that turns 10,000 flows into bytes, or walks a 100 MB import, would freeze the
proxy for its whole run if it never gave the loop back. Such loops call `Slicer.tick()`
once per item: it returns at once until ``SLICE_SECONDS`` of work have passed, then
yields to the loop (one `asyncio.sleep(0)`), so the loop waits at most a slice plus one
item. Ticking costs a clock read, so it is cheap enough to call per flow.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

SLICE_SECONDS = 0.005


class Slicer:
    """Yields to the event loop once ``budget`` seconds of work have passed."""

    def __init__(self, budget: float = SLICE_SECONDS) -> None:
        self.budget = budget
        self.started = time.perf_counter()

    async def tick(self) -> None:
        if time.perf_counter() - self.started >= self.budget:
            await asyncio.sleep(0)
            self.started = time.perf_counter()


async def drain(gen: Iterator[object], slicer: Slicer | None = None) -> None:
    """Advance a generator to its end, yielding to the loop between slices."""
    slicer = slicer or Slicer()
    for _ in gen:
        await slicer.tick()
