"""Injection rules: JavaScript put into the HTML pages of the active session's traffic,
compressed or not, with Content-Length and Content-Security-Policy fixed so it runs."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any

from ghost_addons.hookspecs import Register, RegisterEvent, hookimpl
from plugins.injection import api, store
from plugins.injection.engine import InjectionEngine

if TYPE_CHECKING:
    from mitmproxy import http

    from ghost_addons.api.routes import RouteTable
    from ghost_addons.core import Ghost


class InjectionPlugin:
    def __init__(self) -> None:
        self.engine: InjectionEngine | None = None
        self.lock = asyncio.Lock()

    @hookimpl
    def ghost_migrations(self, register: Register) -> None:
        register("injection", store.MIGRATIONS)

    @hookimpl
    async def ghost_startup(self, ghost: Ghost) -> None:
        engine = InjectionEngine()
        engine.set_rules(await ghost.store.read(store.load_rules))
        self.engine = engine

    @hookimpl
    def ghost_shutdown(self, ghost: Ghost) -> None:
        self.engine = None

    @hookimpl
    def ghost_routes(self, ghost: Ghost, routes: RouteTable) -> None:
        api.register(ghost, routes, lambda: self.engine, self.lock)

    @hookimpl
    def ghost_event(self, ghost: Ghost, type: str, data: Any) -> None:
        if type == "session.deleted" and self.engine is not None and isinstance(data, dict):
            self.engine.drop_session(str(data.get("id", "")))  # the database cascaded already

    # trylast: after map rules' response rewrites, so a rewritten CSP header is the one adjusted
    @hookimpl(trylast=True)
    def ghost_map_rules(self, ghost: Ghost, flow: http.HTTPFlow, phase: str) -> Awaitable[None] | None:
        engine = self.engine
        if engine is None or phase != "response":
            return None
        return engine.on_response(flow, ghost.active_session_id)

    @hookimpl
    def ghost_event_types(self, register: RegisterEvent) -> None:
        register("injection_rule.created", "injection rule", "An injection rule was created.")
        register("injection_rule.updated", "injection rule", "An injection rule was changed or toggled.")
        register("injection_rule.deleted", "{id}", "An injection rule was deleted.")


def make_plugin() -> InjectionPlugin:
    return InjectionPlugin()
