"""REST routes for map rules; every change is stored first, then applied, then announced."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from aiohttp import web

from ghost_addons.api.http import ApiError, json_response, read_json
from ghost_addons.api.lookups import found, running
from ghost_addons.ids import new_id
from ghost_addons.model import format_time
from plugins.map_rules import store
from plugins.map_rules.engine import MapRulesEngine
from plugins.map_rules.rules import MapRule, merged_input, validate_rule

if TYPE_CHECKING:
    from ghost_addons.api.routes import RouteTable
    from ghost_addons.core import Ghost

BODY_LIMIT = 4 << 20  # an inline body of up to 1 MB, base64 or JSON-escaped


def register(ghost: Ghost, routes: RouteTable, engine_of: Callable[[], MapRulesEngine | None],
             lock: asyncio.Lock) -> None:
    def engine() -> MapRulesEngine:
        return running(engine_of(), "map rules are not loaded yet")

    def rule_or_404(rule_id: str) -> MapRule:
        return found(engine().rules.get(rule_id), "map rule", rule_id)

    def check(raw: object, *, rule_id: str, created_at: str) -> MapRule:
        try:
            rule = validate_rule(
                raw, rule_id=rule_id, created_at=created_at, updated_at=format_time(datetime.now(UTC)),
                home=ghost.home, is_api=ghost.targets_api,
            )
        except ValueError as e:
            raise ApiError(400, str(e)) from None
        return rule

    def publish(kind: str, data: object) -> None:
        ghost.events.publish(f"rule.{kind}", data)

    async def list_rules(request: web.Request) -> web.Response:
        return json_response([rule.to_dict() for rule in engine().ordered()])

    async def get(request: web.Request) -> web.Response:
        return json_response(rule_or_404(request.match_info["id"]).to_dict())

    async def create(request: web.Request) -> web.Response:
        eng = engine()
        raw = await read_json(request, BODY_LIMIT)
        now = format_time(datetime.now(UTC))
        rule = await asyncio.to_thread(check, raw, rule_id=new_id(), created_at=now)
        async with lock:
            await ghost.store.write(store.insert_rule, rule)
            eng.set_rules([*eng.ordered(), rule])
        publish("created", rule.to_dict())
        return json_response(rule.to_dict(), status=201)

    async def update(request: web.Request) -> web.Response:
        eng = engine()
        raw = await read_json(request, BODY_LIMIT)
        async with lock:
            current = rule_or_404(request.match_info["id"])
            try:
                merged = merged_input(current, raw)
            except ValueError as e:
                raise ApiError(400, str(e)) from None
            rule = await asyncio.to_thread(check, merged, rule_id=current.id, created_at=current.created_at)
            if not await ghost.store.write(store.update_rule, rule):
                raise ApiError(404, f"no map rule {current.id!r}")
            eng.set_rules([rule if r.id == rule.id else r for r in eng.ordered()])
        publish("updated", rule.to_dict())
        return json_response(rule.to_dict())

    async def toggle(request: web.Request) -> web.Response:
        eng = engine()
        async with lock:
            current = rule_or_404(request.match_info["id"])
            # switched on again: a fresh start (the timeouts and why Ghost switched it off go)
            rule = MapRule(
                id=current.id, type=current.type, config=current.config, name=current.name,
                enabled=not current.enabled, priority=current.priority, host_pattern=current.host_pattern,
                path_pattern=current.path_pattern, method=current.method, created_at=current.created_at,
                updated_at=format_time(datetime.now(UTC)),
                last_error="" if not current.enabled else current.last_error,
            )
            await ghost.store.write(store.update_rule, rule)
            eng.set_rules([rule if r.id == rule.id else r for r in eng.ordered()])
        publish("updated", rule.to_dict())
        return json_response(rule.to_dict())

    async def delete(request: web.Request) -> web.Response:
        eng = engine()
        rule_id = request.match_info["id"]
        async with lock:
            rule_or_404(rule_id)
            await ghost.store.write(store.delete_rule, rule_id)
            eng.set_rules([r for r in eng.ordered() if r.id != rule_id])
        publish("deleted", {"id": rule_id})
        return web.Response(status=204)

    body = ("{name?, type?: local|remote|rewrite, enabled?, priority?, host_pattern?, path_pattern?, method?, "
            "local: status_code?, content_type?, file_path?, body?, body_encoding?, headers?; "
            "remote: remote_url, preserve_path?, preserve_query?; "
            "rewrite: target, match, replace?, header_name?}")
    routes.add("GET", "/api/v1/rules", list_rules, "List all map rules in priority order", tag="rules")
    routes.add("POST", "/api/v1/rules", create,
               "Create a map rule (type defaults to local; local file paths are checked against traversal)",
               body=body, responses={201: "Created", 400: "Bad rule"})
    routes.add("GET", "/api/v1/rules/{id}", get, "Get a map rule", responses={200: "OK", 404: "No such rule"})
    routes.add("PUT", "/api/v1/rules/{id}", update, "Update a map rule (fields left out are kept)", body=body,
               responses={200: "OK", 400: "Bad rule", 404: "No such rule"})
    routes.add("DELETE", "/api/v1/rules/{id}", delete, "Delete a map rule",
               responses={204: "Deleted", 404: "No such rule"})
    routes.add("POST", "/api/v1/rules/{id}/toggle", toggle, "Toggle a map rule's enabled state",
               responses={200: "OK", 404: "No such rule"})
