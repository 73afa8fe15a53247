"""Settings (masked read, partial update with hot reload, export, import, token rotation)
and the setup wizard."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import orjson
from aiohttp import web

from ghost_addons.api.http import ApiError, field, json_response, parse_json, read_json, read_json_object
from ghost_addons.api.lookups import outbound_guard
from ghost_addons.settings_schema import SettingsError
from ghost_addons.ssrf import check_reachable

if TYPE_CHECKING:
    from ghost_addons.api.routes import RouteTable
    from ghost_addons.core import Ghost

PROXY_METHODS = ("system_proxy", "manual", "device")
SETUP_BODY_LIMIT = 1024


async def _import_payload(request: web.Request) -> object:
    """A settings file sent raw or as multipart field `file`."""
    if request.content_type.startswith("multipart/"):
        try:
            reader = await request.multipart()
        except (ValueError, AssertionError) as e:
            raise ApiError(400, f"the multipart upload is malformed: {e}") from None
        async for part in reader:
            if getattr(part, "name", None) == "file":
                data = bytearray()
                while chunk := await part.read_chunk(64 * 1024):  # type: ignore[union-attr]
                    data += chunk
                    if len(data) > 1 << 20:  # read no further: part.read() would take it all
                        raise ApiError(413, "settings file is larger than 1 MB")
                return parse_json(bytes(data), "settings file")
        raise ApiError(400, "multipart upload has no field named 'file'")
    return await read_json(request)


def register(ghost: Ghost, routes: RouteTable) -> None:
    async def get(request: web.Request) -> web.Response:
        return json_response(ghost.settings.masked())

    async def schema(request: web.Request) -> web.Response:
        return json_response(ghost.settings.schema.describe())

    def checked(check: Callable[[Any], dict[str, dict[str, Any]]], payload: Any) -> dict[str, dict[str, Any]]:
        try:
            return check(payload)
        except SettingsError as e:
            raise ApiError(400, str(e)) from None

    async def apply(update: dict[str, dict[str, Any]]) -> web.Response:
        """Save a checked update (nothing changes on a 4xx), then hot-reload what changed."""
        await ghost.settings_changed(ghost.settings.apply(update))
        return json_response({"ok": True})

    async def put(request: web.Request) -> web.Response:
        return await apply(checked(ghost.settings.check_update, await read_json(request)))

    async def export(request: web.Request) -> web.Response:
        data = orjson.dumps(ghost.settings.exported(), option=orjson.OPT_INDENT_2)
        return web.Response(
            body=data, content_type="application/json",
            headers={"Content-Disposition": 'attachment; filename="ghost-settings.json"'},
        )

    async def import_(request: web.Request) -> web.Response:
        update = checked(ghost.settings.check_import, await _import_payload(request))
        # A settings file is someone else's word: the URLs Ghost will connect to must pass
        # the SSRF guard under the allow-list in force now, not the one the file brings.
        guard = outbound_guard(ghost)
        for name, url in ghost.settings.schema.outbound_urls(update):
            problem = await check_reachable(guard, url)
            if problem:
                raise ApiError(400, f"{name} is not imported: {problem}")
        return await apply(update)

    async def rotate(request: web.Request) -> web.Response:
        token = ghost.rotate_token()  # also closes the WebSockets opened with the old token
        return json_response({
            "token": token,
            "message": "Token rotated successfully. Update your clients with the new token.",
        })

    async def setup_status(request: web.Request) -> web.Response:
        return json_response(dict(ghost.settings.setup))

    async def setup_complete(request: web.Request) -> web.Response:
        body = await read_json_object(request, SETUP_BODY_LIMIT)
        method = field(body, "proxy_method", str, required=True)
        if method not in PROXY_METHODS:
            raise ApiError(400, f"proxy_method must be one of {', '.join(PROXY_METHODS)}, got {method!r}")
        ghost.settings.complete_setup(method)
        return json_response({"ok": True, "pac_url": f"{ghost.api_url}/proxy.pac"})

    routes.add("GET", "/api/v1/settings", get, "All settings; API keys masked, the token omitted")
    routes.add("PUT", "/api/v1/settings", put, "Update some settings; applied at once",
               body="{section: {key: value}} for the sections to change",
               body_schema=ghost.settings.schema.json_schema())
    routes.add("GET", "/api/v1/settings/schema", schema,
               "Every setting: name, type, default, range or choices, help, which plugin declared it")
    routes.add("GET", "/api/v1/settings/export", export, "Download settings without secrets")
    routes.add("POST", "/api/v1/settings/import", import_, "Apply an exported settings file",
               body="settings JSON (raw or multipart field 'file')")
    routes.add("POST", "/api/v1/settings/rotate-token", rotate, "Make a new API token; the old one stops working")
    routes.add("GET", "/api/v1/setup/status", setup_status, "Whether the setup wizard was completed")
    routes.add("POST", "/api/v1/setup/complete", setup_complete, "Complete the setup wizard",
               body="{proxy_method: system_proxy|manual|device}")
