"""Injection rules in memory, by session, and their application to HTML responses."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable

from mitmproxy import http

from ghost_addons.capture import set_flow_metadata, tag_flow
from plugins.injection.html import inject_response, is_html
from plugins.injection.rules import InjectionRule

INJECTED_TAG = "injected"
APPLIED_KEY = "injection_rules"
THREAD_THRESHOLD = 256 * 1024  # larger pages are decompressed and searched off the event loop
NO_BODY_STATUSES = (204, 205, 304)


class InjectionEngine:
    def __init__(self) -> None:
        self.rules: dict[str, InjectionRule] = {}
        self._enabled_by_session: dict[str, tuple[InjectionRule, ...]] = {}

    def set_rules(self, rules: list[InjectionRule]) -> None:
        self.rules = {rule.id: rule for rule in sorted(rules, key=lambda r: (r.created_at, r.id))}
        by_session: dict[str, list[InjectionRule]] = {}
        for rule in self.rules.values():
            if rule.enabled:
                by_session.setdefault(rule.session_id, []).append(rule)
        self._enabled_by_session = {sid: tuple(found) for sid, found in by_session.items()}

    def put(self, rule: InjectionRule) -> None:
        self.set_rules([*(r for r in self.rules.values() if r.id != rule.id), rule])

    def remove(self, rule_id: str) -> None:
        self.set_rules([r for r in self.rules.values() if r.id != rule_id])

    def drop_session(self, session_id: str) -> None:
        self.set_rules([r for r in self.rules.values() if r.session_id != session_id])

    def for_session(self, session_id: str) -> list[InjectionRule]:
        return [r for r in self.rules.values() if r.session_id == session_id]

    def on_response(self, flow: http.HTTPFlow, session_id: str) -> Awaitable[None] | None:
        rules = self._enabled_by_session.get(session_id)
        response = flow.response
        if not rules or response is None:
            return None
        if (
            flow.request.method == "HEAD"
            or response.status_code < 200
            or response.status_code in NO_BODY_STATUSES
            or not response.raw_content
            or not is_html(response.headers.get("content-type", ""))
        ):
            return None
        req = flow.request
        scripts = [(rule.id, rule.script) for rule in rules if rule.matches(req.scheme, req.host, req.port, req.path)]
        if not scripts:
            return None
        if len(response.raw_content) > THREAD_THRESHOLD:
            return self._inject_in_thread(flow, response, scripts)
        self._inject(flow, response, scripts)
        return None

    def _inject(self, flow: http.HTTPFlow, response: http.Response, scripts: list[tuple[str, str]]) -> None:
        if inject_response(response, scripts):
            self._mark(flow, scripts)

    async def _inject_in_thread(
        self, flow: http.HTTPFlow, response: http.Response, scripts: list[tuple[str, str]]
    ) -> None:
        if await asyncio.to_thread(inject_response, response, scripts):
            self._mark(flow, scripts)

    @staticmethod
    def _mark(flow: http.HTTPFlow, scripts: list[tuple[str, str]]) -> None:
        tag_flow(flow, INJECTED_TAG)
        set_flow_metadata(flow, APPLIED_KEY, [rule_id for rule_id, _ in scripts])
