"""REST routes for breakpoint rules and held flows (all 503 while the manager is not up)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from aiohttp import web

from ghost_addons.api.http import ApiError, json_response, read_json
from ghost_addons.api.lookups import found, running
from plugins.breakpoints.edits import parse_resolution
from plugins.breakpoints.manager import BreakpointManager, NotHeld
from plugins.breakpoints.rules import rule_from_input, rule_updated

if TYPE_CHECKING:
    from ghost_addons.api.routes import RouteTable

BODY_LIMIT = 1 << 20
RESUME_BODY_LIMIT = 16 << 20  # a held body may be large; edits send it back whole


def register(routes: RouteTable, manager_of: Callable[[], BreakpointManager | None]) -> None:
    def manager() -> BreakpointManager:
        return running(manager_of(), "the breakpoint manager is not running")

    def rule_or_404(mgr: BreakpointManager, rule_id: str):  # noqa: ANN202
        return found(mgr.rules.get(rule_id), "breakpoint rule", rule_id)

    async def list_rules(request: web.Request) -> web.Response:
        return json_response([rule.to_dict() for rule in manager().list_rules()])

    async def create(request: web.Request) -> web.Response:
        mgr = manager()
        body = await read_json(request, BODY_LIMIT)
        try:
            rule = rule_from_input(body)
        except ValueError as e:
            raise ApiError(400, str(e)) from None
        if rule.id in mgr.rules:
            raise ApiError(409, f"a breakpoint rule with id {rule.id!r} already exists")
        mgr.put_rule(rule)
        return json_response(rule.to_dict(), status=201)

    async def update(request: web.Request) -> web.Response:
        mgr = manager()
        rule = rule_or_404(mgr, request.match_info["id"])
        body = await read_json(request, BODY_LIMIT)
        try:
            updated = rule_updated(rule, body)
        except ValueError as e:
            raise ApiError(400, str(e)) from None
        mgr.put_rule(updated)
        return json_response(updated.to_dict())

    async def delete(request: web.Request) -> web.Response:
        mgr = manager()
        rule_id = request.match_info["id"]
        if not mgr.delete_rule(rule_id):
            raise ApiError(404, f"no breakpoint rule {rule_id!r}")
        return web.Response(status=204)

    async def toggle(request: web.Request) -> web.Response:
        mgr = manager()
        rule = rule_or_404(mgr, request.match_info["id"])
        updated = rule_updated(rule, {"enabled": not rule.enabled})
        mgr.put_rule(updated)
        return json_response(updated.to_dict())

    async def clear(request: web.Request) -> web.Response:
        return json_response({"ok": True, "deleted": manager().clear_rules()})

    async def pending(request: web.Request) -> web.Response:
        return json_response([held.to_dict() for held in manager().held.values()])

    async def pending_one(request: web.Request) -> web.Response:
        flow_id = request.match_info["flow_id"]
        try:
            return json_response(manager().get_held(flow_id).to_dict())
        except NotHeld:
            raise ApiError(404, f"flow {flow_id!r} is not held at a breakpoint") from None

    async def resume(request: web.Request) -> web.Response:
        mgr = manager()
        flow_id = request.match_info["flow_id"]
        raw = await read_json(request, RESUME_BODY_LIMIT) if request.body_exists else {}
        try:
            resolution = parse_resolution(raw)
        except ValueError as e:
            raise ApiError(400, str(e)) from None
        try:
            event = mgr.resume(flow_id, resolution)
        except NotHeld:
            raise ApiError(404, f"flow {flow_id!r} is not held (already resumed or timed out)") from None
        except (ValueError, TypeError) as e:
            raise ApiError(400, f"cannot apply the edits to flow {flow_id}: {e}") from None
        return json_response({"ok": True, **event})

    rule_body = "{id?, phase?: request|response, host_pattern?, path_pattern?, method?, enabled?}"
    routes.add("GET", "/api/v1/breakpoints", list_rules, "List all breakpoint rules", tag="breakpoints")
    routes.add("POST", "/api/v1/breakpoints", create,
               "Create a breakpoint rule (id defaults to a ULID, phase to request)",
               body=rule_body, responses={201: "Created", 409: "Id taken", 503: "Manager not running"})
    routes.add("DELETE", "/api/v1/breakpoints", clear, "Clear all breakpoint rules")
    routes.add("GET", "/api/v1/breakpoints/pending", pending,
               "List the flows held at breakpoints now, with their data and remaining time")
    routes.add("GET", "/api/v1/breakpoints/pending/{flow_id}", pending_one, "Get one held flow",
               responses={200: "OK", 404: "Not held"})
    routes.add("POST", "/api/v1/breakpoints/resume/{flow_id}", resume,
               "Resume a held flow: continue, modify (with edits) or drop",
               body="{action: continue|modify|drop, method?, url?, headers?, body?, status_code?, "
                    "response_headers?, response_body?}",
               responses={200: "Resumed", 404: "Flow not held", 503: "Manager not running"})
    routes.add("PUT", "/api/v1/breakpoints/{id}", update, "Update a breakpoint rule", body=rule_body,
               responses={200: "OK", 404: "No such rule"})
    routes.add("DELETE", "/api/v1/breakpoints/{id}", delete, "Delete a breakpoint rule",
               responses={204: "Deleted", 404: "No such rule"})
    routes.add("POST", "/api/v1/breakpoints/{id}/toggle", toggle, "Toggle a breakpoint rule's enabled state",
               responses={200: "OK", 404: "No such rule"})
