"""The core's own routes: sessions, flows, settings, setup, monitor, artifacts, proxy, events."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from aiohttp import web

from ghost_addons.api import artifacts_api, flows_api, plugins_api, sessions_api, settings_api, system_api
from ghost_addons.api.routes import RouteTable

if TYPE_CHECKING:
    from ghost_addons.core import Ghost

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
ROUTES_KEY = web.AppKey("routes", RouteTable)  # the served table, for the OpenAPI document


def register(ghost: Ghost, routes: RouteTable) -> None:
    for module in (system_api, sessions_api, flows_api, settings_api, artifacts_api, plugins_api):
        module.register(ghost, routes)
