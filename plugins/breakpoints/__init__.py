"""Breakpoints: pause live flows that match a rule, let a person edit them, then continue,
modify or drop. Rules are in memory only. See README.md beside this file."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TYPE_CHECKING

from ghost_addons.hookspecs import RegisterEvent, RegisterSettings, hookimpl
from ghost_addons.settings_schema import Setting
from plugins.breakpoints import api
from plugins.breakpoints.manager import BreakpointManager

if TYPE_CHECKING:
    from mitmproxy import http

    from ghost_addons.api.routes import RouteTable
    from ghost_addons.core import Ghost


class BreakpointsPlugin:
    def __init__(self) -> None:
        self.manager: BreakpointManager | None = None

    @hookimpl
    def ghost_startup(self, ghost: Ghost) -> None:
        self.manager = BreakpointManager(ghost, ghost.targets_api)

    @hookimpl
    def ghost_shutdown(self, ghost: Ghost) -> None:
        manager, self.manager = self.manager, None
        if manager is not None:
            manager.release_all("shutdown")

    @hookimpl
    def ghost_routes(self, ghost: Ghost, routes: RouteTable) -> None:
        api.register(routes, lambda: self.manager)

    @hookimpl
    def ghost_breakpoints(self, ghost: Ghost, flow: http.HTTPFlow, phase: str) -> Awaitable[None] | None:
        manager = self.manager
        if manager is None:
            return None
        rule = manager.match(flow, phase)  # cheap when no rule matches: no coroutine is made
        if rule is None:
            return None
        return manager.hold(flow, phase, rule)

    @hookimpl
    def ghost_settings(self, register: RegisterSettings) -> None:
        register("breakpoints", Setting("timeout_secs", 30, "How long a held flow waits for a person before "
                                        "it continues unchanged.", minimum=1, maximum=3600))

    @hookimpl
    def ghost_event_types(self, register: RegisterEvent) -> None:
        register("flow.breakpoint", "held flow {flow_id, rule_id, phase, held_at, timeout_secs, request, ...}",
                 "A flow is held by a breakpoint and waits for a person.")
        register("flow.resumed", "{id, flow_id, phase, action, reason?}", "A held flow went on (continued, modified, "
                 "dropped or timed out).")


def make_plugin() -> BreakpointsPlugin:
    return BreakpointsPlugin()
