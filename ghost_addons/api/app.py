"""The aiohttp application: middlewares, the route table, and its start/stop in mitmproxy's loop."""

from __future__ import annotations

import hmac
import logging
from collections.abc import Collection
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from aiohttp import web

from ghost_addons.api import core_routes
from ghost_addons.api.http import AUTHORISED_TOKEN, ApiError, error_response
from ghost_addons.api.routes import RouteTable
from ghost_addons.errors import Conflict, GhostError, InvalidInput, NotFound, TimedOut, Unavailable, UpstreamFailed
from ghost_addons.plugins import call_each
from ghost_addons.ssrf import host_address, is_localhost_name

if TYPE_CHECKING:
    from ghost_addons.core import Ghost

log = logging.getLogger("ghost.api")

MAX_UPLOAD = 257 * (1 << 20)  # imports accept 256 MB; each route enforces its own cap
EXTENSION_SCHEMES = ("chrome-extension", "moz-extension")

# The one place a domain error becomes an HTTP status (a subclass takes its nearest base's).
ERROR_STATUS: dict[type[GhostError], int] = {
    InvalidInput: 400,
    NotFound: 404,
    Conflict: 409,
    UpstreamFailed: 502,
    Unavailable: 503,
    TimedOut: 504,
}


def is_loopback_name(host: str) -> bool:
    """`localhost`, a name under `.localhost` (with or without the root's trailing dot), or
    a loopback address in any spelling (`127.1`, `0x7f000001`, `[::ffff:7f00:1]`)."""
    if is_localhost_name(host):
        return True
    address = host_address(host)
    return address is not None and address.is_loopback


def host_allowed(host_header: str, allowed: list[str]) -> bool:
    """The Host header names a loopback address or a configured host (DNS rebinding guard)."""
    hostname = urlsplit(f"//{host_header}").hostname or ""
    return is_loopback_name(hostname) or hostname in {h.lower() for h in allowed}


def origin_allowed(origin: str, allowed: list[str]) -> bool:
    if origin in ("", "null"):
        return origin == ""
    parts = urlsplit(origin)
    if parts.scheme in EXTENSION_SCHEMES:
        return True
    return bool(parts.hostname) and (
        is_loopback_name(parts.hostname or "") or (parts.hostname or "") in {h.lower() for h in allowed}
    )


def bearer_token(request: web.Request, query_token_paths: Collection[str] = ()) -> str:
    """The token from `Authorization: Bearer`, or from `?token=` on a GET that opens a
    stream (WebSocket upgrade or `Accept: text/event-stream`) on a route that declares a
    `token` query parameter (browsers cannot set headers there). A query token anywhere
    else is ignored: it leaks through logs and history, and must never authorise a write."""
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value:
        return value.strip()
    if request.method != "GET" or route_path(request) not in query_token_paths:
        return ""
    streaming = (
        request.headers.get("Upgrade", "").lower() == "websocket"
        or "text/event-stream" in request.headers.get("Accept", "")
    )
    return request.query.get("token", "") if streaming else ""


def route_path(request: web.Request) -> str:
    """The path template of the route that matched (`/api/v1/flows/{id}`), or ""."""
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else ""


def status_of(error: GhostError) -> int | None:
    """The status of a domain error by its nearest kind in ERROR_STATUS; None for a
    GhostError of no mapped kind (a bug: it becomes a 500)."""
    for kind in type(error).__mro__:
        status = ERROR_STATUS.get(kind)
        if status is not None:
            return status
    return None


@web.middleware
async def errors(request: web.Request, handler: core_routes.Handler) -> web.StreamResponse:
    """Every failure of a handler becomes `{"error": message}` with its status: ApiError
    carries its own, a domain error gets its kind's, anything else is a 500 (a bug)."""
    try:
        return await handler(request)
    except ApiError as e:
        return error_response(e.status, e.message)
    except web.HTTPException as e:
        if e.status < 400:
            raise
        message = e.text if e.text and not e.text.startswith(f"{e.status}:") else e.reason
        if e.status == 404:
            message = f"not found: {request.method} {request.path}"
        elif e.status == 405:
            message = f"method {request.method} is not allowed on {request.path}"
        return error_response(e.status, message)
    except ConnectionResetError:
        raise
    except Exception as e:
        status = status_of(e) if isinstance(e, GhostError) else None
        if status is not None:
            return error_response(status, str(e))
        log.exception("API %s %s failed", request.method, request.path)
        return error_response(500, f"internal error: {type(e).__name__}: {e}")


def make_app(ghost: Ghost) -> web.Application:
    routes = RouteTable()
    core_routes.register(ghost, routes)
    call_each(ghost.pm, "ghost_routes", lambda owner: {"ghost": ghost, "routes": routes.owned_by(owner)})
    public = routes.public_paths()
    query_token_paths = {r.path for r in routes.routes if r.method == "GET" and "token" in r.query}

    @web.middleware
    async def guard(request: web.Request, handler: core_routes.Handler) -> web.StreamResponse:
        allowed = ghost.settings.get("api.allowed_hosts")
        if not host_allowed(request.host, allowed):
            raise ApiError(403, f"Host {request.host!r} is not allowed; use localhost or add it to api.allowed_hosts")
        origin = request.headers.get("Origin", "")
        if origin and not origin_allowed(origin, allowed):
            raise ApiError(403, f"Origin {origin!r} is not allowed")
        if request.path.startswith("/api/") and request.path not in public:
            token = bearer_token(request, query_token_paths)
            if token:
                if not hmac.compare_digest(token.encode(), ghost.settings.token.encode()):
                    raise ApiError(401, "wrong token")
                request[AUTHORISED_TOKEN] = token
            elif not ghost.pm.hook.ghost_api_authorized(ghost=ghost, request=request):
                raise ApiError(401, "missing token: send 'Authorization: Bearer <token>' (token is in config.yaml)")
        return await handler(request)

    app = web.Application(middlewares=[errors, guard], client_max_size=MAX_UPLOAD)
    app[core_routes.ROUTES_KEY] = routes
    routes.install(app)
    return app


class ApiServer:
    def __init__(self, ghost: Ghost, host: str, port: int) -> None:
        self.ghost = ghost
        self.host = host
        self.port = port
        self.runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = make_app(self.ghost)
        self.runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=2.0)
        await self.runner.setup()
        site = web.TCPSite(self.runner, self.host, self.port, reuse_address=True)
        await site.start()

    async def stop(self) -> None:
        if self.runner is not None:
            await self.ghost.events.close_all()
            await self.runner.cleanup()
            self.runner = None
