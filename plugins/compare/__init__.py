"""Session compare: ``GET /api/v1/sessions/compare?a=ID&b=ID`` says which endpoints
(method + path template, ids collapsed) were added or removed from A to B and which changed
status, response size or timing beyond a threshold. Endpoints that differ only a little
(a renamed query parameter, an id in the path) are matched by shape vector in sqlite-vec.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from aiohttp import web

from ghost_addons.api.http import ApiError, json_response
from ghost_addons.hookspecs import hookimpl
from plugins.compare.diff import Thresholds, compare_endpoints
from plugins.compare.endpoints import Endpoint, path_template

if TYPE_CHECKING:
    from ghost_addons.api.routes import RouteTable
    from ghost_addons.core import Ghost
    from ghost_addons.store.db import Connection

COMPARE_MAX_FLOWS = 100_000


def session_endpoints(conn: Connection, session_id: str,
                      limit: int = COMPARE_MAX_FLOWS) -> dict[tuple[str, str, str], Endpoint]:
    """Group a session's flows into endpoints straight from the flows table (no bodies)."""
    rows = conn.execute(
        "SELECT method, host, path, url, status_code, duration_us, response_body_size, "
        "content_type FROM flows WHERE session_id = ? ORDER BY id LIMIT ?",
        (session_id, limit))
    endpoints: dict[tuple[str, str, str], Endpoint] = {}
    for method, host, path, url, status, duration_us, size, content_type in rows:
        key = (method, host, path_template(path))
        endpoint = endpoints.get(key)
        if endpoint is None:
            endpoint = endpoints[key] = Endpoint(*key)
        endpoint.record(url=url, status=status or 0, duration_ms=(duration_us or 0) / 1000,
                        size=size or 0, response_type=content_type or "")
    return endpoints


def _float(request: web.Request, name: str, default: float, maximum: float) -> float:
    raw = request.query.get(name)
    if raw in (None, ""):
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ApiError(400, f"query parameter {name} must be a number, got {raw!r}") from None
    if not 0 <= value <= maximum:
        raise ApiError(400, f"query parameter {name} must be between 0 and {maximum}, got {raw}")
    return value


@hookimpl
def ghost_routes(ghost: Ghost, routes: RouteTable) -> None:
    async def compare(request: web.Request) -> web.Response:
        ids = {}
        for name in ("a", "b"):
            value = request.query.get(name, "")
            if not value:
                raise ApiError(400, f"query parameter {name!r} is required: a session id")
            ids[name] = value
        default = Thresholds()
        thresholds = Thresholds(
            size_ratio=_float(request, "size_ratio", default.size_ratio, 100),
            size_min_bytes=int(_float(request, "size_min_bytes", default.size_min_bytes, 1e12)),
            timing_ratio=_float(request, "timing_ratio", default.timing_ratio, 100),
            timing_min_ms=_float(request, "timing_min_ms", default.timing_min_ms, 1e9),
        )
        sessions: dict[str, Any] = {}
        for name, session_id in ids.items():
            session = await ghost.store.get_session(session_id)
            if session is None:
                raise ApiError(404, f"no session {session_id!r} (query parameter {name})")
            sessions[name] = session
        endpoints_a = await ghost.store.read(session_endpoints, ids["a"])
        endpoints_b = await ghost.store.read(session_endpoints, ids["b"])
        result = await asyncio.to_thread(compare_endpoints, endpoints_a, endpoints_b, thresholds)
        for name, eps in (("a", endpoints_a), ("b", endpoints_b)):
            session = sessions[name]
            result[name] = {"id": session["id"], "name": session["name"],
                            "flow_count": sum(e.count for e in eps.values()),
                            "endpoint_count": len(eps)}
        return json_response(result)

    routes.add("GET", "/api/v1/sessions/compare", compare,
               "Compare two sessions: endpoints added, removed, and changed in status, size "
               "or timing", query={"a": "the baseline session id", "b": "the session to compare",
                                   "size_ratio": "relative size change that counts (0.2)",
                                   "size_min_bytes": "absolute size change that counts (100)",
                                   "timing_ratio": "relative duration change that counts (0.5)",
                                   "timing_min_ms": "absolute duration change that counts (50)"})
