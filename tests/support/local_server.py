"""A local aiohttp server on a free 127.0.0.1 port, for stand-ins of remote APIs."""

from __future__ import annotations

from aiohttp import web

from tests.support.ports import free_port


class LocalServer:
    """Subclasses say which POST routes they answer (`routes`); `start()` gives the base URL,
    `stop()` ends it."""

    def __init__(self) -> None:
        self.runner: web.AppRunner | None = None

    def routes(self) -> dict[str, web.Handler]:
        raise NotImplementedError

    async def start(self) -> str:
        app = web.Application()
        for path, handler in self.routes().items():
            app.router.add_post(path, handler)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        port = free_port()
        await web.TCPSite(self.runner, "127.0.0.1", port).start()
        return f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
