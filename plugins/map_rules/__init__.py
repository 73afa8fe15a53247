"""Map rules: map local (answer from a file or inline body), map remote (send elsewhere) and
rewrite (regex on URL, headers, bodies), persisted, in priority order. See README.md."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TYPE_CHECKING

from ghost_addons.hookspecs import Register, RegisterEvent, hookimpl
from plugins.map_rules import api, store
from plugins.map_rules.engine import MapRulesEngine

if TYPE_CHECKING:
    from mitmproxy import http

    from ghost_addons.api.routes import RouteTable
    from ghost_addons.core import Ghost


class MapRulesPlugin:
    def __init__(self) -> None:
        self.engine: MapRulesEngine | None = None
        self.lock = asyncio.Lock()

    @hookimpl
    def ghost_migrations(self, register: Register) -> None:
        register("map_rules", store.MIGRATIONS)

    @hookimpl
    async def ghost_startup(self, ghost: Ghost) -> None:
        engine = MapRulesEngine(ghost.home, ghost.targets_api)
        engine.set_rules(await ghost.store.read(store.load_rules))
        self.engine = engine

    @hookimpl
    def ghost_shutdown(self, ghost: Ghost) -> None:
        self.engine = None

    @hookimpl
    def ghost_routes(self, ghost: Ghost, routes: RouteTable) -> None:
        api.register(ghost, routes, lambda: self.engine, self.lock)

    @hookimpl
    def ghost_map_rules(self, ghost: Ghost, flow: http.HTTPFlow, phase: str) -> Awaitable[None] | None:
        engine = self.engine
        if engine is None:
            return None
        if phase == "request":
            return engine.on_request(flow)  # a coroutine only when a file must be read
        engine.on_response(flow)
        return None

    @hookimpl
    def ghost_event_types(self, register: RegisterEvent) -> None:
        register("rule.created", "map rule", "A map rule was created.")
        register("rule.updated", "map rule", "A map rule was changed or toggled.")
        register("rule.deleted", "{id}", "A map rule was deleted.")


def make_plugin() -> MapRulesPlugin:
    return MapRulesPlugin()
