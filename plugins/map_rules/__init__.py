"""Map rules: map local (answer from a file or inline body), map remote (send elsewhere) and
rewrite (regex on URL, headers, bodies), persisted, in priority order. See README.md."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TYPE_CHECKING

from ghost_addons.hookspecs import Register, RegisterEvent, RegisterSettings, hookimpl
from ghost_addons.settings_schema import Setting
from plugins.map_rules import api, store
from plugins.map_rules.engine import MAX_TIMEOUTS, MapRulesEngine
from plugins.map_rules.rules import MapRule

if TYPE_CHECKING:
    from mitmproxy import http

    from ghost_addons.api.routes import RouteTable
    from ghost_addons.core import Ghost

TIMEOUT_SETTING = "rules.regex_timeout_ms"


def regex_limit(ghost: Ghost) -> float:
    return int(ghost.settings.get(TIMEOUT_SETTING)) / 1000


class MapRulesPlugin:
    def __init__(self) -> None:
        self.engine: MapRulesEngine | None = None
        self.ghost: Ghost | None = None
        self.lock = asyncio.Lock()

    @hookimpl
    def ghost_settings(self, register: RegisterSettings) -> None:
        register("rules", Setting(
            "regex_timeout_ms", 100,
            "Time limit of a rewrite rule's regex on one flow; a rule that overruns is skipped for that flow, "
            f"and switched off after {MAX_TIMEOUTS} timeouts in a row.",
            minimum=10, maximum=10000))

    @hookimpl
    def ghost_settings_changed(self, ghost: Ghost, changed: set[str]) -> None:
        if TIMEOUT_SETTING in changed and self.engine is not None:
            self.engine.limit = regex_limit(ghost)

    @hookimpl
    def ghost_migrations(self, register: Register) -> None:
        register("map_rules", store.MIGRATIONS)

    @hookimpl
    async def ghost_startup(self, ghost: Ghost) -> None:
        self.ghost = ghost
        engine = MapRulesEngine(ghost.home, ghost.targets_api, limit=regex_limit(ghost), on_disabled=self.rule_disabled)
        engine.set_rules(await ghost.store.read(store.load_rules))
        self.engine = engine

    @hookimpl
    def ghost_shutdown(self, ghost: Ghost) -> None:
        if self.engine is not None:
            self.engine.close()
        self.engine = None

    def rule_disabled(self, rule: MapRule) -> None:
        """The engine switched a rule off (regex timeouts): store it and announce it."""
        if self.ghost is not None:
            self.ghost.spawn(self._store_disabled(self.ghost, rule), f"disable map rule {rule.id}")

    async def _store_disabled(self, ghost: Ghost, rule: MapRule) -> None:
        async with self.lock:
            if self.engine is None or self.engine.rules.get(rule.id) is not rule:
                return  # changed or deleted since: what the user did stands
            await ghost.store.write(store.update_rule, rule)
        ghost.events.publish("rule.updated", rule.to_dict())

    @hookimpl
    def ghost_routes(self, ghost: Ghost, routes: RouteTable) -> None:
        api.register(ghost, routes, lambda: self.engine, self.lock)

    @hookimpl
    def ghost_map_rules(self, ghost: Ghost, flow: http.HTTPFlow, phase: str) -> Awaitable[None] | None:
        engine = self.engine
        if engine is None:
            return None
        if phase == "request":
            return engine.on_request(flow)  # a coroutine only when a file is read or a regex runs
        return engine.on_response(flow)

    @hookimpl
    def ghost_event_types(self, register: RegisterEvent) -> None:
        register("rule.created", "map rule", "A map rule was created.")
        register("rule.updated", "map rule", "A map rule was changed or toggled.")
        register("rule.deleted", "{id}", "A map rule was deleted.")


def make_plugin() -> MapRulesPlugin:
    return MapRulesPlugin()
