"""Request composer: ``POST /api/v1/compose`` sends one ephemeral request (not stored) and
returns the response (body cut at 1 MB); ``POST /api/v1/compose/import/curl`` turns a
"Copy as cURL" command into the composer's fields.

Every request the composer sends passes the SSRF guard (``ghost_addons.ssrf``):
loopback, private, link-local, metadata and tunnelled addresses are refused unless the
setting ``replay.allow_hosts`` names the host or its network; Ghost's own API never.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from ghost_addons.api.http import ApiError, json_response, read_json_object
from ghost_addons.api.lookups import outbound_guard
from ghost_addons.hookspecs import hookimpl
from plugins.compose.composer import ComposeError, parse_compose, send
from plugins.compose.curl_import import parse_curl

if TYPE_CHECKING:
    from ghost_addons.api.routes import RouteTable
    from ghost_addons.core import Ghost

COMPOSE_BODY_LIMIT = 2 * 1024 * 1024
CURL_BODY_LIMIT = 1024 * 1024


@hookimpl
def ghost_routes(ghost: Ghost, routes: RouteTable) -> None:
    async def compose(request: web.Request) -> web.Response:
        body = await read_json_object(request, limit=COMPOSE_BODY_LIMIT)
        try:
            req = parse_compose(body)
        except ValueError as exc:
            raise ApiError(400, str(exc)) from None
        try:
            result = await send(req, outbound_guard(ghost))
        except ComposeError as exc:
            raise ApiError(exc.status, exc.message) from None
        return json_response(result)

    async def import_curl(request: web.Request) -> web.Response:
        body = await read_json_object(request, limit=CURL_BODY_LIMIT)
        command = body.get("curl")
        if not isinstance(command, str):
            raise ApiError(400, "field 'curl' is required: the curl command as a string")
        try:
            parsed = parse_curl(command)
        except ValueError as exc:
            raise ApiError(400, f"cannot import this curl command: {exc}") from None
        return json_response(parsed.to_dict())

    routes.add("POST", "/api/v1/compose", compose,
               "Send an ephemeral request (not stored); the response body is cut at 1 MB",
               body="{method, url, headers, body, body_encoding?, follow_redirects?, timeout_ms?, "
                    "insecure?}"
                    " (2 MB limit)",
               responses={200: "{status_code, status_text, headers, body, body_encoding, "
                               "duration_ms}", 403: "Refused by the SSRF guard",
                          502: "Could not connect", 504: "Timed out"})
    routes.add("POST", "/api/v1/compose/import/curl", import_curl,
               "Parse a cURL command (bash or Windows cmd quoting) into method, url, headers, "
               "body, insecure, warnings and files to supply", body="{curl}")
