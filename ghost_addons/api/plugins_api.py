"""What is loaded: `GET /api/v1/plugins` (who registered what) and `GET /api/v1/events/types`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

from ghost_addons.api.http import json_response

if TYPE_CHECKING:
    from ghost_addons.api.routes import RouteTable
    from ghost_addons.core import Ghost


def contributions(ghost: Ghost, routes: RouteTable) -> dict[str, dict[str, list[str]]]:
    """Plugin name -> {what it registered: [names]}, from every registry Ghost keeps."""
    out: dict[str, dict[str, list[str]]] = {}

    def add(kind: str, owners: dict[str, list[str]]) -> None:
        for owner, names in owners.items():
            out.setdefault(owner, {})[kind] = list(names)

    add("settings", ghost.settings.schema.owners())
    add("event_types", ghost.events.types.by_owner())
    add("exporters", ghost.exporters.by_owner())
    add("importers", ghost.importers.by_owner())
    add("code_generators", ghost.code_generators.by_owner())
    add("migrations", ghost.migration_owners)
    by_route: dict[str, list[str]] = {}
    for route in routes.routes:
        by_route.setdefault(route.owner, []).append(f"{route.method} {route.path}")
    add("routes", by_route)
    return out


def describe_plugins(ghost: Ghost, routes: RouteTable) -> dict[str, Any]:
    registered = contributions(ghost, routes)
    plugins = []
    for name, plugin in ghost.pm.list_name_plugin():
        if plugin is None:  # a blocked name
            continue
        origin = ghost.pm.origins.get(name)
        plugins.append({
            "name": name,
            "version": origin.version if origin else ghost.version,
            "kind": origin.kind if origin else "core",
            "source": origin.source if origin else "ghost_addons",
            "distribution": origin.distribution if origin else "",
            "hooks": sorted(caller.name for caller in ghost.pm.get_hookcallers(plugin) or ()),
            "registered": registered.get(name, {}),
        })
    return {"plugins": plugins, "core": registered.get("core", {}), "disabled": list(ghost.disabled_plugins)}


def register(ghost: Ghost, routes: RouteTable) -> None:
    async def plugins(request: web.Request) -> web.Response:
        return json_response(describe_plugins(ghost, routes))

    async def event_types(request: web.Request) -> web.Response:
        types = ghost.events.types
        return json_response([
            {"type": name, "payload": event.payload, "summary": event.summary, "owner": types.owner_of(name)}
            for name, event in types.items()
        ])

    routes.add("GET", "/api/v1/plugins", plugins,
               "Loaded plugins: name, version, where from, hooks implemented, what each registered; "
               "and the names disabled with ghost_disable_plugins")
    routes.add("GET", "/api/v1/events/types", event_types,
               "Every event type the events WebSocket can send, with its payload and the plugin that declared it")
