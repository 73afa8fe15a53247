"""The route table: every route added here is served and described in the OpenAPI document."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


@dataclass(slots=True)
class Route:
    method: str
    path: str
    handler: Handler
    summary: str
    public: bool = False
    query: dict[str, str] = field(default_factory=dict)
    body: str = ""
    responses: dict[int, str] = field(default_factory=dict)
    tag: str = ""
    owner: str = "core"
    body_schema: dict[str, Any] | None = None


class RouteTable:
    def __init__(self, owner: str = "core") -> None:
        self.routes: list[Route] = []
        self.owner = owner

    def owned_by(self, owner: str) -> RouteTable:
        """A view of this table whose `add` records `owner` (the plugin adding routes)."""
        view = RouteTable(owner)
        view.routes = self.routes
        return view

    def add(
        self,
        method: str,
        path: str,
        handler: Handler,
        summary: str,
        *,
        public: bool = False,
        query: dict[str, str] | None = None,
        body: str = "",
        responses: dict[int, str] | None = None,
        tag: str = "",
        body_schema: dict[str, Any] | None = None,
    ) -> None:
        """Add a route. `query` maps parameter names to descriptions; `body` describes the
        JSON body (`body_schema`: its JSON Schema, when one is known); `public` routes skip the
        token (only health, CA and PAC are)."""
        method = method.upper()
        if method not in METHODS:
            raise ValueError(f"unsupported method {method!r}")
        taken = next((r for r in self.routes if r.method == method and r.path == path), None)
        if taken is not None:
            raise ValueError(f"route {method} {path} is registered by both {taken.owner!r} and {self.owner!r}")
        self.routes.append(Route(method, path, handler, summary, public, query or {}, body,
                                 responses or {}, tag or _tag_of(path), self.owner, body_schema))

    def public_paths(self) -> set[str]:
        return {r.path for r in self.routes if r.public}

    def install(self, app: web.Application) -> None:
        # Static paths first so /sessions/compare wins over /sessions/{id}.
        for route in sorted(self.routes, key=lambda r: "{" in r.path):
            app.router.add_route(route.method, route.path, route.handler)

    def openapi(self, version: str) -> dict[str, Any]:
        paths: dict[str, dict[str, Any]] = {}
        for route in self.routes:
            op: dict[str, Any] = {
                "summary": route.summary,
                "operationId": _operation_id(route),
                "tags": [route.tag],
                "responses": {str(k): {"description": v} for k, v in
                              (route.responses or {200: "OK"}).items()},
            }
            params = [
                {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
                for name in re.findall(r"{(\w+)}", route.path)
            ]
            params += [
                {"name": name, "in": "query", "required": False, "description": text,
                 "schema": {"type": "string"}}
                for name, text in route.query.items()
            ]
            if params:
                op["parameters"] = params
            if route.body:
                op["requestBody"] = {
                    "description": route.body,
                    "content": {"application/json": {"schema": route.body_schema or {"type": "object"}}},
                }
            if not route.public:
                op["security"] = [{"bearer": []}]
            for code, text in ((400, "Bad input"), (401, "Missing or wrong token")):
                if not route.public:
                    op["responses"].setdefault(str(code), {"description": text})
            paths.setdefault(route.path, {})[route.method.lower()] = op
        return {
            "openapi": "3.1.0",
            "info": {"title": "Ghost API", "version": version},
            "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
            "paths": paths,
        }


def _tag_of(path: str) -> str:
    parts = [p for p in path.split("/") if p and not p.startswith("{")]
    return parts[2] if len(parts) > 2 and parts[0] == "api" else (parts[-1] if parts else "root")


def _operation_id(route: Route) -> str:
    words = re.sub(r"[{}]", "", route.path.removeprefix("/api/v1")).strip("/").replace("-", "_")
    return f"{route.method.lower()}_{words.replace('/', '_') or 'root'}"
