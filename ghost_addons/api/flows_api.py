"""Flows: query with GQL, read one, tag and annotate, delete, replay."""

from __future__ import annotations

import asyncio
import re
from typing import TYPE_CHECKING, Any

from aiohttp import web

from ghost_addons.api.http import ApiError, field, json_response, query_int, read_json_object
from ghost_addons.api.lookups import flow_or_404, found
from ghost_addons.model import Flow, flow_summary
from ghost_addons.store import flows, websockets
from ghost_addons.store.gql import GqlError, compile_query

if TYPE_CHECKING:
    from ghost_addons.api.routes import RouteTable
    from ghost_addons.core import Ghost

TAG_LIMIT = 100
ANNOTATION_LIMIT = 10_000
REPLAY_TIMEOUT = 60.0
WEBSOCKET_PAGE_LIMIT = 1_000


def flow_query(session_id: str, q: str) -> tuple[str, list[Any]]:
    """WHERE clause for a flow list: the session (or all) and the GQL query."""
    try:
        where, params = compile_query(q)
    except GqlError as e:
        raise ApiError(400, f"bad query: {e}") from None
    if session_id != "all":
        where, params = f"flows.session_id = ? AND ({where})", [session_id, *params]
    return where, params


def _flow_id_param(request: web.Request, name: str) -> str:
    value = request.query.get(name, "")
    if value and (len(value) > 64 or not re.fullmatch(r"[A-Za-z0-9-]+", value)):
        raise ApiError(400, f"query parameter {name} must be a flow id, got {value[:40]!r}")
    return value


def _tags(value: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(t, str) and t.strip() for t in value):
        raise ApiError(400, "field 'tags' must be a list of non-empty strings")
    if len(value) > TAG_LIMIT:
        raise ApiError(400, f"a flow takes at most {TAG_LIMIT} tags")
    return list(dict.fromkeys(t.strip() for t in value))


def register(ghost: Ghost, routes: RouteTable) -> None:
    async def list_(request: web.Request) -> web.Response:
        session_id = request.query.get("session_id") or ghost.active_session_id
        limit = query_int(request, "limit", 100, 1, 10_000)
        offset = query_int(request, "offset", 0, 0, 10**9)
        before = _flow_id_param(request, "before")
        count = request.query.get("count", "")
        if count not in ("", "capped", "exact"):
            raise ApiError(400, f"query parameter count must be capped or exact, got {count[:40]!r}")
        where, params = flow_query(session_id, request.query.get("q", ""))
        try:  # the page and its count side by side, each on its own reader connection
            items, counted = await asyncio.gather(
                ghost.store.read(flows.query_page, where, params, limit, offset, before),
                ghost.store.read(flows.count_matches, where, params, before, count == "exact"))
        except flows.QueryError as e:
            raise ApiError(400, f"bad query: {e}") from None
        return json_response({**flows.flow_page(items, counted, limit, offset), "limit": limit, "offset": offset})

    async def get(request: web.Request) -> web.Response:
        return json_response((await _existing(request.match_info["id"])).to_dict())

    async def update(request: web.Request) -> web.Response:
        flow_id = request.match_info["id"]
        body = await read_json_object(request)
        unknown = set(body) - {"tags", "annotation", "metadata"}
        if unknown:
            raise ApiError(400, f"unknown fields {sorted(unknown)}; a flow's tags, annotation and metadata can change")
        fields: dict[str, Any] = {}
        if "tags" in body:
            fields["tags"] = _tags(body["tags"])
        if (annotation := field(body, "annotation", str)) is not None:
            if len(annotation) > ANNOTATION_LIMIT:
                raise ApiError(400, f"annotation is longer than {ANNOTATION_LIMIT} characters")
            fields["annotation"] = annotation
        if (metadata := field(body, "metadata", dict)) is not None:
            fields["metadata"] = metadata
        if not fields:
            raise ApiError(400, "nothing to change: send tags, annotation or metadata")
        if not await ghost.store.write(flows.update_flow_fields, flow_id, fields):
            raise ApiError(404, f"no flow {flow_id!r}")
        flow = await _existing(flow_id)
        ghost.events.publish("flow.updated", flow_summary(flow))
        return json_response(flow.to_dict(include_bodies=False))

    async def add_tag(request: web.Request) -> web.Response:
        body = await read_json_object(request)
        tag = field(body, "tag", str, required=True).strip()
        if not tag:
            raise ApiError(400, "field 'tag' must not be empty")
        flow = await _existing(request.match_info["id"])
        tags = _tags([*flow.tags, tag])
        await ghost.store.write(flows.update_flow_fields, flow.id, {"tags": tags})
        ghost.events.publish("flow.updated", flow_summary(flow.replace(tags=tags)))
        return json_response({"id": flow.id, "tags": tags})

    async def remove_tag(request: web.Request) -> web.Response:
        flow = await _existing(request.match_info["id"])
        tag = request.match_info["tag"]
        if tag not in flow.tags:
            raise ApiError(404, f"flow {flow.id} has no tag {tag!r}")
        tags = [t for t in flow.tags if t != tag]
        await ghost.store.write(flows.update_flow_fields, flow.id, {"tags": tags})
        ghost.events.publish("flow.updated", flow_summary(flow.replace(tags=tags)))
        return json_response({"id": flow.id, "tags": tags})

    async def delete(request: web.Request) -> web.Response:
        flow_id = request.match_info["id"]
        if not await ghost.store.write(flows.delete_flow, flow_id):
            raise ApiError(404, f"no flow {flow_id!r}")
        ghost.events.publish("flow.deleted", {"id": flow_id})
        return web.Response(status=204)

    async def replay(request: web.Request) -> web.Response:
        original = await _existing(request.match_info["id"])
        new = await ghost.replay(original, timeout=REPLAY_TIMEOUT)
        return json_response(new.to_dict(include_bodies=False), status=201)

    async def websocket(request: web.Request) -> web.Response:
        flow_id = request.match_info["id"]
        after = query_int(request, "after", -1, -1, 2**62)
        limit = query_int(request, "limit", 100, 1, WEBSOCKET_PAGE_LIMIT)
        page = found(await ghost.store.read(websockets.page, flow_id, after, limit), "flow", flow_id)
        return json_response(page)

    async def _existing(flow_id: str) -> Flow:
        return await flow_or_404(ghost, flow_id)

    routes.add("GET", "/api/v1/flows", list_, "List flow summaries, newest first",
               query={"session_id": "session (default: the active one; 'all' for every session)",
                      "q": "GQL query, e.g. method:POST status:>=400 host:*.example.com",
                      "limit": "1-10000, default 100", "offset": "default 0"})
    routes.add("GET", "/api/v1/flows/{id}", get, "Get a flow with headers, bodies and timings")
    routes.add("GET", "/api/v1/flows/{id}/websocket", websocket,
               "A WebSocket flow's messages, oldest first (text as text, binary as base64), and how many "
               "were dropped for the caps; an empty list for other flows",
               query={"after": "seq to start after (next_after of the previous page; default: the start)",
                      "limit": f"1-{WEBSOCKET_PAGE_LIMIT}, default 100"})
    routes.add("PATCH", "/api/v1/flows/{id}", update, "Set a flow's tags, annotation or metadata",
               body="{tags?, annotation?, metadata?}")
    routes.add("POST", "/api/v1/flows/{id}/tags", add_tag, "Add a tag to a flow", body="{tag}")
    routes.add("DELETE", "/api/v1/flows/{id}/tags/{tag}", remove_tag, "Remove a tag from a flow")
    routes.add("DELETE", "/api/v1/flows/{id}", delete, "Delete a flow", responses={204: "Deleted"})
    routes.add("POST", "/api/v1/flows/{id}/replay", replay,
               "Send a flow's request again through the proxy; stored as a new flow with source replay",
               responses={201: "The new flow", 504: "No answer in time"})
