"""Sessions: list, create, read, rename, delete, activate."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from ghost_addons.api.http import ApiError, field, json_response, read_json_object
from ghost_addons.api.lookups import session_or_404
from ghost_addons.store import sessions

if TYPE_CHECKING:
    from ghost_addons.api.routes import RouteTable
    from ghost_addons.core import Ghost

NAME_LIMIT = 200
DESCRIPTION_LIMIT = 10_000


def _text(body: dict, name: str, limit: int, required: bool = False) -> str | None:
    value = field(body, name, str, required=required)
    if value is None:
        return None
    value = value.strip()
    if required and not value:
        raise ApiError(400, f"field {name!r} must not be empty")
    if len(value) > limit:
        raise ApiError(400, f"field {name!r} is {len(value)} characters; the limit is {limit}")
    return value


def register(ghost: Ghost, routes: RouteTable) -> None:
    async def list_(request: web.Request) -> web.Response:
        items = await ghost.store.read(sessions.list_sessions)
        for item in items:
            item["active"] = item["id"] == ghost.active_session_id
        return json_response(items)

    async def create(request: web.Request) -> web.Response:
        body = await read_json_object(request)
        name = _text(body, "name", NAME_LIMIT, required=True)
        description = _text(body, "description", DESCRIPTION_LIMIT) or ""
        session = await ghost.store.write(sessions.create_session, name, description)
        ghost.events.publish("session.created", session)
        return json_response(session, status=201)

    async def get(request: web.Request) -> web.Response:
        session = await _existing(request.match_info["id"])
        session["active"] = session["id"] == ghost.active_session_id
        return json_response(session)

    async def update(request: web.Request) -> web.Response:
        body = await read_json_object(request)
        unknown = set(body) - {"name", "description"}
        if unknown:
            raise ApiError(400, f"unknown fields {sorted(unknown)}; sessions have name and description")
        fields = {}
        if (name := _text(body, "name", NAME_LIMIT)) is not None:
            if not name:
                raise ApiError(400, "field 'name' must not be empty")
            fields["name"] = name
        if (description := _text(body, "description", DESCRIPTION_LIMIT)) is not None:
            fields["description"] = description
        session = await ghost.store.write(sessions.update_session, request.match_info["id"], fields)
        if session is None:
            raise ApiError(404, f"no session {request.match_info['id']!r}")
        ghost.events.publish("session.updated", session)
        return json_response(session)

    async def delete(request: web.Request) -> web.Response:
        session_id = request.match_info["id"]
        if session_id == ghost.active_session_id:
            raise ApiError(409, "cannot delete the active session; activate another session first")
        if not await ghost.store.write(sessions.delete_session, session_id):
            raise ApiError(404, f"no session {session_id!r}")
        ghost.events.publish("session.deleted", {"id": session_id})
        return web.Response(status=204)

    async def activate(request: web.Request) -> web.Response:
        session = await _existing(request.match_info["id"])
        await ghost.activate_session(session["id"])
        return json_response({"ok": True, "active_session_id": session["id"]})

    async def _existing(session_id: str) -> dict:
        return await session_or_404(ghost, session_id)

    routes.add("GET", "/api/v1/sessions", list_, "List sessions, newest first, with flow counts")
    routes.add("POST", "/api/v1/sessions", create, "Create a session", body="{name, description?}",
               responses={201: "Created"})
    routes.add("GET", "/api/v1/sessions/{id}", get, "Get a session")
    routes.add("PUT", "/api/v1/sessions/{id}", update, "Rename or describe a session",
               body="{name?, description?}")
    routes.add("DELETE", "/api/v1/sessions/{id}", delete, "Delete a session and its flows",
               responses={204: "Deleted", 404: "No such session", 409: "Session is active"})
    routes.add("POST", "/api/v1/sessions/{id}/activate", activate,
               "Make a session the one new flows land in")
