"""The tagger's hook implementations: each one a few lines over `rules` and `counts`.

What happens to a flow:

    request stage (ghost_map_rules)  a `block` rule answers it with `tagger.block_status`
    ghost_capture                    the tagging rules add their tags to the record
    ghost_flow_stored                the stored flow's tags are counted in memory
    every second (ghost.spawn)       the counts go to the `tagger_counts` table in one write,
                                     and one `tagger.tagged` event per session goes out

Counting happens once the flow is stored, not at capture, so the counts agree with the
store: a flow the noise filter kept out is not counted, and its session row exists.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from aiohttp import web
from mitmproxy import http

from ghost_addons.api.http import ApiError, json_response
from ghost_addons.api.lookups import session_or_404
from ghost_addons.hookspecs import RegisterEvent, RegisterMigrations, RegisterSettings, hookimpl
from ghost_addons.settings_schema import Setting

from . import counts
from .rules import Rules, parse_rules, rules_problem

if TYPE_CHECKING:
    from ghost_addons.api.routes import RouteTable
    from ghost_addons.core import Ghost
    from ghost_addons.model import Flow

log = logging.getLogger("ghost.tagger")

FLUSH_SECS = 1.0
BLOCKED_HEADER = "X-Ghost-Blocked-By"

DEFAULT_RULES = [
    "status:5xx -> server-error",
    "status:4xx -> client-error",
    "host:*.localhost,127.0.0.1 -> local",
]

SETTINGS = (
    Setting("rules", DEFAULT_RULES,
            "Tagging rules, CONDITIONS -> TAG, or -> block to answer the request at once; conditions "
            "method:, host:, path:, status: as in GQL, e.g. 'status:5xx -> server-error', "
            "'host:ads.example.com -> block'.",
            check=rules_problem),
    Setting("block_status", 403, "The status Ghost answers a request a block rule matches with.",
            minimum=400, maximum=599),
)

STATS_QUERY = {"session_id": "one session's counts (default: every session's)"}


def stats_session(query: Mapping[str, str]) -> str | None:
    """The session `GET /api/v1/tagger/stats` asks about (None: all), or a 400 for a bad query."""
    unknown = sorted(set(query) - set(STATS_QUERY))
    if unknown:
        raise ApiError(400, f"unknown query parameter {unknown[0]!r}; this route takes {', '.join(STATS_QUERY)}")
    session_id = query.get("session_id")
    if session_id is not None and not session_id.strip():
        raise ApiError(400, "query parameter session_id must not be empty; leave it out for every session")
    return session_id


def by_session(pending: Mapping[tuple[str, str], int]) -> dict[str, dict[str, int]]:
    """{(session_id, tag): n} -> {session_id: {tag: n}}: one event per session."""
    out: dict[str, dict[str, int]] = {}
    for (session_id, tag), n in pending.items():
        out.setdefault(session_id, {})[tag] = n
    return out


def blocked_response(status: int, rule_text: str) -> http.Response:
    return http.Response.make(
        status,
        f"Blocked by the ghost-tagger rule {rule_text!r}\n".encode(),
        {"Content-Type": "text/plain; charset=utf-8", BLOCKED_HEADER: "tagger"},
    )


class Tagger:
    """One per Ghost (`make_plugin()`), so nothing is shared between runs or reloads."""

    def __init__(self) -> None:
        self.rules = Rules()
        self.block_status = 403
        self.pending: dict[tuple[str, str], int] = {}
        self.blocked = 0

    # --- declarations: read before Ghost starts ------------------------------------------------

    @hookimpl
    def ghost_settings(self, register: RegisterSettings) -> None:
        register("tagger", *SETTINGS)

    @hookimpl
    def ghost_event_types(self, register: RegisterEvent) -> None:
        register("tagger.tagged", "{session_id, tags: {tag: count}}",
                 "Stored flows got tags from tagger.rules (counts since the last event; "
                 "at most one event a second per session).")

    @hookimpl
    def ghost_migrations(self, register: RegisterMigrations) -> None:
        register(counts.MIGRATION_OWNER, counts.MIGRATIONS)

    # --- lifecycle ---------------------------------------------------------------------------

    @hookimpl
    def ghost_startup(self, ghost: Ghost) -> None:
        self.apply_settings(ghost)
        ghost.spawn(self._write_every(ghost, FLUSH_SECS), name="tagger counts")

    @hookimpl
    def ghost_settings_changed(self, ghost: Ghost, changed: set[str]) -> None:
        if any(name.startswith("tagger.") for name in changed):
            self.apply_settings(ghost)

    def apply_settings(self, ghost: Ghost) -> None:
        # Ghost ran rules_problem on every value it accepted, so this does not raise.
        self.rules = parse_rules(ghost.settings.get("tagger.rules"))
        self.block_status = ghost.settings.get("tagger.block_status")

    # --- the proxy path: cheap when no rule matches, never a coroutine ----------------------

    @hookimpl
    def ghost_map_rules(self, ghost: Ghost, flow: http.HTTPFlow, phase: str) -> None:
        if phase != "request" or not self.rules.blocking:
            return
        request = flow.request
        rule = self.rules.block_for(request.method, request.host, request.path.partition("?")[0])
        if rule is not None:
            flow.response = blocked_response(self.block_status, rule.text)
            self.blocked += 1

    @hookimpl
    def ghost_capture(self, ghost: Ghost, flow: http.HTTPFlow, record: Flow) -> None:
        if not self.rules.tagging:
            return
        for tag in self._tags_of(record):
            if tag not in record.tags:
                record.tags.append(tag)

    @hookimpl
    def ghost_flow_stored(self, ghost: Ghost, flow: Flow) -> None:
        if not self.rules.tagging:
            return
        for tag in self._tags_of(flow):
            if tag in flow.tags:
                key = (flow.session_id, tag)
                self.pending[key] = self.pending.get(key, 0) + 1

    def _tags_of(self, record: Flow) -> list[str]:
        request, response = record.request, record.response
        return self.rules.tags_for(request.method, request.host, request.path,
                                   response.status_code if response else None)

    # --- the table and the event ---------------------------------------------------------------

    async def write_counts(self, ghost: Ghost) -> None:
        """Add the counts gathered since the last call to the table, in one transaction on
        the store's writer thread, then announce them."""
        if not self.pending:
            return
        pending, self.pending = self.pending, {}
        await ghost.store.write(counts.add_counts, [(s, tag, n) for (s, tag), n in pending.items()])
        for session_id, tags in by_session(pending).items():
            ghost.events.publish("tagger.tagged", {"session_id": session_id, "tags": tags})

    async def _write_every(self, ghost: Ghost, interval: float) -> None:
        try:
            while True:
                await asyncio.sleep(interval)
                try:
                    await self.write_counts(ghost)
                except Exception:
                    log.exception("writing tag counts failed; they are lost")
        finally:
            # Ghost cancels its tasks after the flow queue has drained and before the store
            # closes: the last flows' counts are written now.
            await self.write_counts(ghost)

    # --- API and monitor -------------------------------------------------------------------------

    @hookimpl
    def ghost_routes(self, ghost: Ghost, routes: RouteTable) -> None:
        async def stats(request: web.Request) -> web.Response:
            session_id = stats_session(request.query)
            if session_id is not None:
                await session_or_404(ghost, session_id)
            await self.write_counts(ghost)  # so the answer counts every flow stored so far
            tags = await ghost.store.read(counts.read_counts, session_id)
            return json_response({"session_id": session_id, "tagged": sum(tags.values()), "tags": tags})

        routes.add("GET", "/api/v1/tagger/stats", stats,
                   "How many stored flows carry each tag the tagger's rules gave",
                   query=STATS_QUERY, responses={200: "{session_id, tagged, tags: {tag: count}}",
                                                 400: "Bad query", 404: "No such session"})

    @hookimpl
    def ghost_monitor(self, ghost: Ghost, report: dict[str, Any]) -> None:
        report["tagger"] = {
            "rules": len(self.rules.tagging) + len(self.rules.blocking),
            "blocked_requests": self.blocked,
            "unwritten_counts": sum(self.pending.values()),
        }


def make_plugin() -> Tagger:
    return Tagger()
