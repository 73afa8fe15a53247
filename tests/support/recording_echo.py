"""A local HTTP server that records every request byte for byte (method, raw path, raw
headers in order, body) and answers "ok": what a client really sent, to compare with what it
should have sent."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiohttp import web

from tests.support.ports import free_port

Seen = tuple[str, str, list[tuple[str, str]], bytes]


@asynccontextmanager
async def recording_echo(max_body: int = 64 * 1024 * 1024) -> AsyncIterator[tuple[int, list[Seen]]]:
    """(port, requests seen so far) of a server on 127.0.0.1, stopped when the block ends."""
    seen: list[Seen] = []

    async def record(request: web.Request) -> web.Response:
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in request.raw_headers]
        seen.append((request.method, request.raw_path, headers, await request.read()))
        return web.Response(text="ok")

    app = web.Application(client_max_size=max_body)
    app.router.add_route("*", "/{tail:.*}", record)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield port, seen
    finally:
        await runner.cleanup()
