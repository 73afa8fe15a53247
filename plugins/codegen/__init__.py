"""Per-flow code: cURL, fetch(), Python requests, HTTPie, Markdown.

``GET /api/v1/flows/{id}/export/{format}`` returns the snippet as text. Generators come
from the ``ghost_code_generators`` hook: ``register(name, generate)`` with
``generate(flow) -> str``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from ghost_addons.api.lookups import flow_or_404, registered
from ghost_addons.hookspecs import Register, hookimpl
from plugins.codegen.generators import CODE_GENERATORS

if TYPE_CHECKING:
    from ghost_addons.api.routes import RouteTable
    from ghost_addons.core import Ghost

CONTENT_TYPES = {
    "curl": "text/x-shellscript; charset=utf-8",
    "markdown": "text/markdown; charset=utf-8",
    "python": "text/x-python; charset=utf-8",
    "fetch": "text/javascript; charset=utf-8",
}


@hookimpl
def ghost_code_generators(register: Register) -> None:
    for name, generate in CODE_GENERATORS.items():
        register(name, generate)


@hookimpl
def ghost_routes(ghost: Ghost, routes: RouteTable) -> None:
    async def export(request: web.Request) -> web.Response:
        fmt = request.match_info["format"]
        generate = registered(ghost.code_generators, fmt, "code format")
        flow = await flow_or_404(ghost, request.match_info["id"])
        return web.Response(body=generate(flow).encode("utf-8"),
                            headers={"Content-Type": CONTENT_TYPES.get(fmt, "text/plain; charset=utf-8")})

    routes.add("GET", "/api/v1/flows/{id}/export/{format}", export,
               "A flow as code: curl, fetch, python, httpie or markdown (secrets masked)",
               responses={200: "The snippet as text", 400: "Unknown format", 404: "No such flow"})
