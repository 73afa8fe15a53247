"""Applying map rules to live flows, in priority order.

Request phase: the request (as breakpoints left it) is matched once against the enabled
local, remote and request-rewrite rules; they apply in order; a map-local rule answers
the flow and ends the request phase (mitmproxy never contacts the server). Response
phase: response-rewrite rules match the request as it was before map rules changed it
(so a map-remote rule does not hide the flow from its own response rewrites).

Every rule that applies tags the flow (``map-local``, ``map-remote`` or ``rewrite``, and
``rule:<id>``) and is listed under ``map_rules`` in the flow's metadata.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from pathlib import Path

from mitmproxy import http

from ghost_addons.capture import METADATA_KEY, set_flow_metadata, tag_flow
from ghost_addons.matching import RuleIndex, build_index
from plugins.map_rules.local import read_local, sniff_content_type
from plugins.map_rules.remote import build_remote_url
from plugins.map_rules.rewrite import Refused, apply_rewrite
from plugins.map_rules.rules import LocalConfig, MapRule, RemoteConfig, RewriteConfig

log = logging.getLogger("ghost.map_rules")

MATCH_KEY = "ghost_map_rules_match"  # flow.metadata: the request identity the rules matched
APPLIED_KEY = "map_rules"  # the Ghost flow metadata key listing applied rule ids
TYPE_TAGS = {"local": "map-local", "remote": "map-remote", "rewrite": "rewrite"}


def sort_key(rule: MapRule) -> tuple[int, str, str]:
    return (rule.priority, rule.created_at, rule.id)


def mark(flow: http.HTTPFlow, rule: MapRule) -> None:
    tag_flow(flow, TYPE_TAGS[rule.type])
    tag_flow(flow, f"rule:{rule.id}")
    applied = flow.metadata.get(METADATA_KEY, {}).get(APPLIED_KEY)
    if applied is None:
        applied = []
        set_flow_metadata(flow, APPLIED_KEY, applied)
    if rule.id not in applied:
        applied.append(rule.id)


def local_response(config: LocalConfig, body: bytes, content_type: str) -> http.Response:
    headers = {"Content-Type": config.content_type or content_type or sniff_content_type(body)}
    headers.update(config.headers)
    return http.Response.make(config.status_code, body, headers)


def missing_file_response(status: int, reason: str) -> http.Response:
    log.warning("map local: %s", reason)
    text = "Ghost map local: the mapped file was not found" if status == 404 else "Ghost map local: file refused"
    return http.Response.make(status, text.encode(), {"Content-Type": "text/plain; charset=utf-8"})


def _never(host: str, port: int) -> bool:
    return False


class MapRulesEngine:
    def __init__(self, home: Path, refused: Refused = _never) -> None:
        """`refused(host, port)` names addresses no rule may send a request to (Ghost's API)."""
        self.home = home
        self.refused = refused
        self.rules: dict[str, MapRule] = {}
        self.request_index: RuleIndex[MapRule] = RuleIndex(())
        self.response_index: RuleIndex[MapRule] = RuleIndex(())

    def set_rules(self, rules: list[MapRule]) -> None:
        self.rules = {rule.id: rule for rule in sorted(rules, key=sort_key)}
        ordered = list(self.rules.values())
        self.request_index = build_index(ordered, lambda r: r.matcher, lambda r: r.enabled and r.phase == "request")
        self.response_index = build_index(ordered, lambda r: r.matcher, lambda r: r.enabled and r.phase == "response")

    def ordered(self) -> list[MapRule]:
        return list(self.rules.values())

    # --- request phase -------------------------------------------------------------------

    def on_request(self, flow: http.HTTPFlow) -> Awaitable[None] | None:
        request_index, response_index = self.request_index, self.response_index
        if not request_index and not response_index:
            return None
        req = flow.request
        key = (req.method, req.host, req.port, req.path)
        if response_index:
            flow.metadata[MATCH_KEY] = key
        if not request_index:
            return None
        matches = request_index.find(*key)
        for rule in matches:
            config = rule.config
            if isinstance(config, LocalConfig):
                mark(flow, rule)
                if config.file_path:
                    return self._serve_file(flow, rule, config)
                flow.response = local_response(config, config.body, "")
                return None
            if isinstance(config, RemoteConfig):
                flow.request.url = build_remote_url(
                    config.remote_url,
                    flow.request.path,
                    preserve_path=config.preserve_path,
                    preserve_query=config.preserve_query,
                )
                mark(flow, rule)
            elif isinstance(config, RewriteConfig):
                apply_rewrite(flow, config, self.refused)
                mark(flow, rule)
        return None

    async def _serve_file(self, flow: http.HTTPFlow, rule: MapRule, config: LocalConfig) -> None:
        path_only = flow.request.path
        found = await asyncio.to_thread(read_local, self.home, config.file_path, rule.path_pattern, path_only)
        if found.status != 200:
            flow.response = missing_file_response(found.status, f"rule {rule.id}: {found.reason}")
            return
        flow.response = local_response(config, found.body, found.content_type)

    # --- response phase ------------------------------------------------------------------

    def on_response(self, flow: http.HTTPFlow) -> None:
        index = self.response_index
        if not index or flow.response is None:
            return
        key = flow.metadata.get(MATCH_KEY)
        if key is None:
            req = flow.request
            key = (req.method, req.host, req.port, req.path)
        for rule in index.find(*key):
            assert isinstance(rule.config, RewriteConfig)
            apply_rewrite(flow, rule.config)
            mark(flow, rule)
