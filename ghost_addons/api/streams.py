"""Long answers under way (SSE streams), so that rotating the API token ends them at once.

A WebSocket is closed through the event hub; an SSE stream is an ordinary response that
keeps writing, authorised once when it was opened, whether by the bearer token or by a
plugin's credential (the web UI's cookie). Rotation revokes both, so every stream opened
before it must end too, not only refuse new requests. A handler that streams wraps its
writing in ``ghost.streams.hold(request, response)``; ``end_all`` cancels each held
handler, whose ``finally`` blocks clean up as on a client that went away, and the stream
is then finished and its connection closed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from contextlib import contextmanager

from aiohttp import web

log = logging.getLogger("ghost.api")


class OpenStreams:
    def __init__(self) -> None:
        # By id(): aiohttp's Request is not hashable; a request stays held only while alive.
        self._held: dict[int, tuple[web.StreamResponse, asyncio.Task[object] | None]] = {}
        self._ended: set[int] = set()

    def __len__(self) -> int:
        return len(self._held)

    @contextmanager
    def hold(self, request: web.Request, response: web.StreamResponse) -> Iterator[None]:
        """Keep the stream answering `request` known while it is written. Ended by
        `end_all`, the block is left as if the stream had come to its end: the response
        is finished properly (the client reads a complete stream) and the connection
        closed after it."""
        key = id(request)
        task = asyncio.current_task()
        self._held[key] = (response, task)
        try:
            yield
        except asyncio.CancelledError:
            if key not in self._ended or task is None or task.uncancel() > 0:
                raise  # cancelled for another reason too (the client left, Ghost stops)
            response.force_close()
        finally:
            self._held.pop(key, None)
            self._ended.discard(key)

    def end_all(self, reason: str) -> int:
        """End every held stream (see `hold`); how many there were. The caller's own task
        (the rotate request, were it a stream) is left alone."""
        current = asyncio.current_task()
        ended = 0
        for key, (_, task) in list(self._held.items()):
            if task is None or task is current or key in self._ended:
                continue
            self._ended.add(key)
            task.cancel(reason)
            ended += 1
        if ended:
            log.info("%s: %d stream(s) opened before it were ended", reason, ended)
        return ended
