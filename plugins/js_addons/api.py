"""REST routes for addons: `/api/v1/addons` CRUD. Code is checked (compiled and its top level
run in a throwaway context) before anything is stored; enabled addons are loaded before the
change is committed, so a stored enabled addon is always a loadable one."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from aiohttp import web

from ghost_addons.api.http import ApiError, json_response, read_json_object
from ghost_addons.api.lookups import found, running
from ghost_addons.ids import new_id
from ghost_addons.model import format_time
from plugins.js_addons import store
from plugins.js_addons.runtime import AddonLoadError, AddonRuntime

if TYPE_CHECKING:
    from ghost_addons.api.routes import RouteTable
    from ghost_addons.core import Ghost
    from plugins.js_addons import JsAddonsPlugin

MAX_NAME = 200
MAX_PRIORITY = 1_000_000


def _now() -> str:
    return format_time(datetime.now(UTC))


def _name(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ApiError(400, f"field 'name' must be a non-empty string, got {value!r}")
    if len(value) > MAX_NAME:
        raise ApiError(400, f"field 'name' must be at most {MAX_NAME} characters, got {len(value)}")
    return value.strip()


def _code(value: Any) -> str:
    if not isinstance(value, str):
        raise ApiError(400, f"field 'code' must be a string of JavaScript, got {type(value).__name__}")
    return value


def _enabled(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ApiError(400, f"field 'enabled' must be true or false, got {value!r}")
    return value


def _priority(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or abs(value) > MAX_PRIORITY:
        raise ApiError(400, f"field 'priority' must be an integer from {-MAX_PRIORITY} to {MAX_PRIORITY},"
                            f" got {value!r}")
    return value


def load_error_response(error: AddonLoadError) -> web.Response:
    return json_response({"error": f"addon code does not load: {error.message}", "line": error.line,
                          "column": error.column}, status=400)


def with_status(addon: store.Addon, runtime: AddonRuntime | None, off_reason: str) -> dict[str, Any]:
    """The addon as stored, plus whether it runs now: `status` is `loaded`, `loading`,
    `disabled` (`status_reason`: why, when Ghost disabled it), or `off` when the addon
    runtime is not running, with `status_reason` saying why (say, an address-space limit)."""
    item = addon.to_dict()
    if runtime is None:
        item["status"] = "off"
        item["status_reason"] = off_reason or "the JavaScript addon runtime is not running (Ghost is starting or stopping)"
    else:
        loaded = addon.id in runtime.addons
        item["status"] = "loaded" if loaded else "disabled" if not addon.enabled else "loading"
        item["status_reason"] = addon.disabled_reason if item["status"] == "disabled" else ""
    return item


def register(ghost: Ghost, routes: RouteTable, plugin: JsAddonsPlugin) -> None:
    def runtime() -> AddonRuntime:
        why = plugin.off_reason or "Ghost is starting or stopping"
        return running(plugin.runtime, f"the JavaScript addon runtime is not running: {why}")

    async def addon_or_404(addon_id: str) -> store.Addon:
        return found(await ghost.store.read(store.get_addon, addon_id), "addon", addon_id)

    async def list_addons(request: web.Request) -> web.Response:
        return json_response([with_status(a, plugin.runtime, plugin.off_reason)
                              for a in await ghost.store.read(store.load_addons)])

    async def get(request: web.Request) -> web.Response:
        addon = await addon_or_404(request.match_info["id"])
        return json_response(with_status(addon, plugin.runtime, plugin.off_reason))

    async def create(request: web.Request) -> web.Response:
        body = await read_json_object(request)
        if body.get("name") is None:
            raise ApiError(400, "field 'name' is required")
        now = _now()
        addon = store.Addon(
            id=new_id(), name=_name(body["name"]),
            code=_code(body["code"]) if body.get("code") is not None else "",
            enabled=_enabled(body["enabled"]) if body.get("enabled") is not None else True,
            priority=_priority(body["priority"]) if body.get("priority") is not None else 0,
            last_error="", disabled_reason="", created_at=now, updated_at=now,
        )
        async with plugin.lock:
            rt = runtime()
            loaded = None
            try:
                await rt.check(addon.code)
                if addon.enabled:
                    loaded = await rt.load(addon.id, addon.name, addon.code, addon.priority, addon.created_at,
                                           announce=False)
            except AddonLoadError as e:
                return load_error_response(e)
            try:
                await ghost.store.write(store.insert_addon, addon)
            except BaseException:
                rt.unload(addon.id)
                raise
        ghost.events.publish("addon.created", addon.to_dict())
        if loaded is not None:
            rt.announce(loaded)
        return json_response(with_status(addon, rt, ""), status=201)

    async def update(request: web.Request) -> web.Response:
        body = await read_json_object(request)
        async with plugin.lock:
            rt = runtime()
            current = await addon_or_404(request.match_info["id"])
            changes: dict[str, Any] = {"updated_at": _now()}
            if body.get("name") is not None:
                changes["name"] = _name(body["name"])
            if body.get("code") is not None:
                changes["code"] = _code(body["code"])
            if body.get("enabled") is not None:
                changes["enabled"] = _enabled(body["enabled"])
            if body.get("priority") is not None:
                changes["priority"] = _priority(body["priority"])
            addon = dataclasses.replace(current, **changes)
            if addon.code != current.code:
                addon.last_error = ""
            if addon.enabled:
                addon.disabled_reason = ""
            loaded = None
            try:
                if addon.code != current.code:
                    await rt.check(addon.code)
                if addon.enabled:  # hot reload: a new context, so the addon's store starts empty
                    loaded = await rt.load(addon.id, addon.name, addon.code, addon.priority, addon.created_at,
                                           announce=False)
            except AddonLoadError as e:
                return load_error_response(e)
            if not addon.enabled:
                rt.unload(addon.id)
            await ghost.store.write(store.update_addon, addon)
        ghost.events.publish("addon.updated", addon.to_dict())
        if loaded is not None:
            rt.announce(loaded)
        return json_response(with_status(addon, rt, ""))

    async def delete(request: web.Request) -> web.Response:
        addon_id = request.match_info["id"]
        async with plugin.lock:
            await addon_or_404(addon_id)
            if plugin.runtime is not None:
                plugin.runtime.unload(addon_id)
            await ghost.store.write(store.delete_addon, addon_id)
        ghost.events.publish("addon.deleted", {"id": addon_id})
        return web.Response(status=204)

    body = "name (required), code, enabled (default true), priority (default 0, lower runs first)"
    routes.add("GET", "/api/v1/addons", list_addons, "List JavaScript addons (by priority)")
    routes.add("POST", "/api/v1/addons", create, "Create a JavaScript addon (loaded at once when enabled)",
               body=body, responses={201: "Created", 400: "Bad input or code that does not load (line, column)",
                                     413: "Body over 1 MB"})
    routes.add("GET", "/api/v1/addons/{id}", get, "Get an addon", responses={200: "OK", 404: "Unknown addon"})
    routes.add("PUT", "/api/v1/addons/{id}", update,
               "Update an addon (fields given only); hot-reloads it, which clears its store",
               body=body, responses={200: "OK", 400: "Bad input or code that does not load (line, column)",
                                     404: "Unknown addon"})
    routes.add("DELETE", "/api/v1/addons/{id}", delete, "Delete an addon and unload it",
               responses={204: "Deleted", 404: "Unknown addon"})
