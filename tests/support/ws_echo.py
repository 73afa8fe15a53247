"""A local WebSocket echo server (plain ws and wss) on its own event loop in a thread.

`/ws` answers each message with the same message (text as text, binary as binary);
the text `burst N` is answered with N numbered text messages instead.
"""

from __future__ import annotations

import asyncio
import ssl
import threading
from pathlib import Path

from aiohttp import WSMsgType, web

from tests.support.ports import free_port
from tests.support.target import make_cert

BURST_MAX = 100_000


async def echo(request: web.Request) -> web.WebSocketResponse:
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    async for msg in ws:
        if msg.type == WSMsgType.TEXT:
            if msg.data.startswith("burst "):
                for i in range(min(int(msg.data.split()[1]), BURST_MAX)):
                    await ws.send_str(f"burst {i}")
            else:
                await ws.send_str(msg.data)
        elif msg.type == WSMsgType.BINARY:
            await ws.send_bytes(msg.data)
    return ws


class WebSocketEchoServer:
    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True, name="ws-echo")
        self.runner: web.AppRunner | None = None
        self.http_port = free_port()
        self.https_port = free_port()

    # http(s):// rather than ws(s)://: through a proxy aiohttp sends a plain ws:// URL as the
    # request target (`GET ws://...`), which mitmproxy refuses; an http:// one is the upgrade
    # a proxy expects (a browser sends CONNECT for both, as aiohttp does for https://).
    @property
    def ws_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}/ws"

    @property
    def wss_url(self) -> str:
        return f"https://localhost:{self.https_port}/ws"

    def start(self, directory: Path) -> WebSocketEchoServer:
        cert, key = make_cert(directory)
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(cert, key)
        self.thread.start()

        async def up() -> None:
            app = web.Application()
            app.router.add_get("/ws", echo)
            self.runner = web.AppRunner(app, access_log=None)
            await self.runner.setup()
            await web.TCPSite(self.runner, "127.0.0.1", self.http_port).start()
            await web.TCPSite(self.runner, "127.0.0.1", self.https_port, ssl_context=ctx).start()

        asyncio.run_coroutine_threadsafe(up(), self.loop).result(15)
        return self

    def stop(self) -> None:
        if self.runner is not None:
            asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(15)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(15)
