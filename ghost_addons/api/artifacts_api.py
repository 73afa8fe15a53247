"""Artifacts: files Ghost generated, listed, read, downloaded and deleted."""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING

from aiohttp import web

from ghost_addons.api.http import ApiError, json_response, query_int
from ghost_addons.store import artifacts

if TYPE_CHECKING:
    from ghost_addons.api.routes import RouteTable
    from ghost_addons.core import Ghost

DOWNLOAD_TYPES = {
    "json": ("application/json; charset=utf-8", "json"),
    "har": ("application/json; charset=utf-8", "har"),
    "csv": ("text/csv; charset=utf-8", "csv"),
    "html": ("text/html; charset=utf-8", "html"),
    "markdown": ("text/markdown; charset=utf-8", "md"),
}


def download_type(fmt: str) -> tuple[str, str]:
    """(Content-Type, file extension) for an artifact format, per the spec's table."""
    return DOWNLOAD_TYPES.get(fmt, ("application/octet-stream", fmt or "bin"))


def register(ghost: Ghost, routes: RouteTable) -> None:
    async def list_(request: web.Request) -> web.Response:
        items = await ghost.store.read(
            artifacts.list_artifacts,
            request.query.get("session_id") or None,
            request.query.get("type") or None,
            query_int(request, "limit", 100, 1, 1000),
            query_int(request, "offset", 0, 0, 10**9),
        )
        return json_response(items)

    async def _load(artifact_id: str) -> tuple[dict, bytes]:
        found = await ghost.store.read(artifacts.get_artifact, artifact_id)
        if found is None:
            raise ApiError(404, f"no artifact {artifact_id!r}")
        return found

    async def get(request: web.Request) -> web.Response:
        meta, content = await _load(request.match_info["id"])
        try:
            meta["content"], meta["content_encoding"] = content.decode("utf-8"), "utf8"
        except UnicodeDecodeError:
            meta["content"], meta["content_encoding"] = base64.b64encode(content).decode(), "base64"
        return json_response(meta)

    async def download(request: web.Request) -> web.Response:
        meta, content = await _load(request.match_info["id"])
        content_type, ext = download_type(meta["format"])
        filename = f"artifact-{meta['id'][:8]}.{ext}"
        return web.Response(body=content, headers={
            "Content-Type": content_type,
            "Content-Disposition": f'attachment; filename="{filename}"',
        })

    async def delete(request: web.Request) -> web.Response:
        artifact_id = request.match_info["id"]
        if not await ghost.store.write(artifacts.delete_artifact, artifact_id):
            raise ApiError(404, f"no artifact {artifact_id!r}")
        ghost.events.publish("artifact.deleted", {"id": artifact_id})
        return json_response({"ok": True})

    routes.add("GET", "/api/v1/artifacts", list_, "List artifacts without content",
               query={"session_id": "filter", "type": "filter, e.g. session_export",
                      "limit": "1-1000", "offset": "default 0"})
    routes.add("GET", "/api/v1/artifacts/{id}", get, "Get an artifact with its content")
    routes.add("GET", "/api/v1/artifacts/{id}/download", download, "Download an artifact as a file")
    routes.add("DELETE", "/api/v1/artifacts/{id}", delete, "Delete an artifact")
