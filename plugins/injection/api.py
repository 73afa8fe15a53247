"""REST routes for injection rules (the active session's, unless `session_id` is given)."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from aiohttp import web

from ghost_addons.api.http import ApiError, json_response, read_json
from ghost_addons.api.lookups import found, running
from ghost_addons.ids import new_id
from ghost_addons.model import format_time
from plugins.injection import store
from plugins.injection.engine import InjectionEngine
from plugins.injection.rules import InjectionRule, check_input

if TYPE_CHECKING:
    from ghost_addons.api.routes import RouteTable
    from ghost_addons.core import Ghost

BODY_LIMIT = 1 << 20


def register(ghost: Ghost, routes: RouteTable, engine_of: Callable[[], InjectionEngine | None],
             lock: asyncio.Lock) -> None:
    def engine() -> InjectionEngine:
        return running(engine_of(), "injection rules are not loaded yet")

    def rule_or_404(rule_id: str) -> InjectionRule:
        return found(engine().rules.get(rule_id), "injection rule", rule_id)

    def checked(raw: object, *, partial: bool) -> dict:
        try:
            return check_input(raw, partial=partial)
        except ValueError as e:
            raise ApiError(400, str(e)) from None

    def publish(kind: str, data: object) -> None:
        ghost.events.publish(f"injection_rule.{kind}", data)

    async def list_rules(request: web.Request) -> web.Response:
        session_id = request.query.get("session_id") or ghost.active_session_id
        return json_response([rule.to_dict() for rule in engine().for_session(session_id)])

    async def get(request: web.Request) -> web.Response:
        return json_response(rule_or_404(request.match_info["id"]).to_dict())

    async def create(request: web.Request) -> web.Response:
        eng = engine()
        values = checked(await read_json(request, BODY_LIMIT), partial=False)
        now = format_time(datetime.now(UTC))
        session_id = ghost.active_session_id
        if not session_id:
            raise ApiError(409, "there is no active session to add the rule to")
        rule = InjectionRule(
            id=new_id(), session_id=session_id, url_pattern=values["url_pattern"],
            script=values.get("script", ""), name=values.get("name", ""), enabled=values.get("enabled", True),
            created_at=now, updated_at=now,
        )
        async with lock:
            await ghost.store.write(store.insert_rule, rule)
            eng.put(rule)
        publish("created", rule.to_dict())
        return json_response(rule.to_dict(), status=201)

    async def update(request: web.Request) -> web.Response:
        eng = engine()
        values = checked(await read_json(request, BODY_LIMIT), partial=True)
        async with lock:
            current = rule_or_404(request.match_info["id"])
            rule = dataclasses.replace(current, **values, updated_at=format_time(datetime.now(UTC)))
            if not await ghost.store.write(store.update_rule, rule):
                raise ApiError(404, f"no injection rule {current.id!r}")
            eng.put(rule)
        publish("updated", rule.to_dict())
        return json_response(rule.to_dict())

    async def toggle(request: web.Request) -> web.Response:
        eng = engine()
        async with lock:
            current = rule_or_404(request.match_info["id"])
            rule = dataclasses.replace(current, enabled=not current.enabled,
                                       updated_at=format_time(datetime.now(UTC)))
            if not await ghost.store.write(store.update_rule, rule):
                raise ApiError(404, f"no injection rule {current.id!r}")
            eng.put(rule)
        publish("updated", rule.to_dict())
        return json_response(rule.to_dict())

    async def delete(request: web.Request) -> web.Response:
        eng = engine()
        rule_id = request.match_info["id"]
        async with lock:
            rule_or_404(rule_id)
            await ghost.store.write(store.delete_rule, rule_id)
            eng.remove(rule_id)
        publish("deleted", {"id": rule_id})
        return web.Response(status=204)

    body = "{url_pattern, script? (at most 64 KB), name?, enabled? (create only)}"
    routes.add("GET", "/api/v1/injection-rules", list_rules, "List the active session's injection rules",
               query={"session_id": "another session's rules instead"}, tag="injection-rules")
    routes.add("POST", "/api/v1/injection-rules", create,
               "Create an injection rule in the active session (url_pattern required, script max 64 KB)",
               body=body, responses={201: "Created", 400: "Bad rule"})
    routes.add("GET", "/api/v1/injection-rules/{id}", get, "Get an injection rule",
               responses={200: "OK", 404: "No such rule"})
    routes.add("PUT", "/api/v1/injection-rules/{id}", update,
               "Update an injection rule (its enabled state is kept: use toggle)", body=body,
               responses={200: "OK", 400: "Bad rule", 404: "No such rule"})
    routes.add("DELETE", "/api/v1/injection-rules/{id}", delete, "Delete an injection rule",
               responses={204: "Deleted", 404: "No such rule"})
    routes.add("POST", "/api/v1/injection-rules/{id}/toggle", toggle, "Toggle an injection rule's enabled state",
               responses={200: "OK", 404: "No such rule"})
