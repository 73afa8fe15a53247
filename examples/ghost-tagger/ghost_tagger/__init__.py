"""An example third-party Ghost plugin: tags flows by the rules in `tagger.rules`.

Each rule tags a flow whose response status or host matches, e.g. `status>=500 -> server-error`.
It shows the contract: a `make_plugin()` factory, `@hookimpl` methods, a route, an event.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ghost_addons.api.http import json_response
from ghost_addons.hookspecs import hookimpl


def tags_for(status: int, host: str) -> list[str]:
    """The tags this plugin gives a flow; pure, so it is tested alone."""
    tags = []
    if status >= 500:
        tags.append("server-error")
    elif status >= 400:
        tags.append("client-error")
    if host.endswith(".localhost") or host in ("localhost", "127.0.0.1"):
        tags.append("local")
    return tags


class Tagger:
    def __init__(self) -> None:
        self.tagged = 0

    @hookimpl
    def ghost_capture(self, ghost: Any, flow: Any, record: Any) -> None:
        status = record.response.status_code if record.response else 0
        for tag in tags_for(status, record.request.host):
            if tag not in record.tags:
                record.tags.append(tag)
                self.tagged += 1

    @hookimpl
    def ghost_routes(self, ghost: Any, routes: Any) -> None:
        async def stats(request: web.Request) -> web.Response:
            return json_response({"tagged": self.tagged})

        routes.add("GET", "/api/v1/tagger/stats", stats, "How many tags the example tagger added")


def make_plugin() -> Tagger:
    return Tagger()
