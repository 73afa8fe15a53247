"""The breakpoint manager: rules in memory, and the live flows held at them.

A matching flow is held for real: ``flow.intercept()`` makes mitmproxy wait, and the stage
hook awaits ``flow.wait_for_resume()`` under Ghost's own timer (mitmproxy would wait
forever). Each held flow has its own timer; when it runs out the flow continues untouched
with the action ``timeout``. Resolutions come from the API on the same event loop.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from mitmproxy import http

from ghost_addons.capture import flow_id
from ghost_addons.matching import RuleIndex
from ghost_addons.model import format_time
from plugins.breakpoints.edits import Resolution, apply_request_edits, apply_response_edits, held_flow_data
from plugins.breakpoints.rules import BreakpointRule

if TYPE_CHECKING:
    from ghost_addons.core import Ghost

log = logging.getLogger("ghost.breakpoints")

DEFAULT_TIMEOUT_SECS = 30


class NotHeld(LookupError):
    """The flow is not held (it was never held, or was resumed or timed out)."""


@dataclass(slots=True)
class Held:
    flow: http.HTTPFlow
    flow_id: str
    phase: str
    rule_id: str
    held_at: str
    timeout_secs: float
    deadline: float  # time.monotonic()

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.flow_id,
            "flow_id": self.flow_id,
            "rule_id": self.rule_id,
            "held_at": self.held_at,
            "timeout_secs": self.timeout_secs,
            "remaining_secs": max(0.0, round(self.deadline - time.monotonic(), 3)),
            **held_flow_data(self.flow, self.phase),
        }


def _never(host: str, port: int) -> bool:
    return False


class BreakpointManager:
    def __init__(self, ghost: Ghost, refused: Callable[[str, int], bool] = _never) -> None:
        """`refused(host, port)` names addresses an edited URL may not point at (Ghost's API)."""
        self.ghost = ghost
        self.refused = refused
        self.rules: dict[str, BreakpointRule] = {}
        self.held: dict[str, Held] = {}
        self._index: dict[str, RuleIndex[BreakpointRule]] = {"request": RuleIndex(()), "response": RuleIndex(())}

    # --- rules ---------------------------------------------------------------------------

    def _reindex(self) -> None:
        ordered = list(self.rules.values())
        for phase in self._index:
            enabled = [rule for rule in ordered if rule.enabled and rule.phase == phase]
            self._index[phase] = RuleIndex((rule, rule.matcher) for rule in enabled)

    def list_rules(self) -> list[BreakpointRule]:
        return list(self.rules.values())

    def put_rule(self, rule: BreakpointRule) -> None:
        self.rules[rule.id] = rule
        self._reindex()

    def delete_rule(self, rule_id: str) -> bool:
        found = self.rules.pop(rule_id, None) is not None
        if found:
            self._reindex()
        return found

    def clear_rules(self) -> int:
        count = len(self.rules)
        self.rules.clear()
        self._reindex()
        return count

    # --- the pipeline stage -----------------------------------------------------------

    def match(self, flow: http.HTTPFlow, phase: str) -> BreakpointRule | None:
        index = self._index[phase]
        if not index:
            return None
        req = flow.request
        return index.first(req.method, req.host, req.port, req.path)

    def timeout_secs(self) -> float:
        try:
            value = self.ghost.settings.get("breakpoints.timeout_secs")
        except KeyError:
            return DEFAULT_TIMEOUT_SECS
        return float(value) if value and value > 0 else DEFAULT_TIMEOUT_SECS

    async def hold(self, flow: http.HTTPFlow, phase: str, rule: BreakpointRule) -> None:
        """Hold `flow` until it is resumed through the API, released, or its timer runs out."""
        fid = flow_id(flow)
        if fid in self.held or not flow.live:
            return
        timeout = self.timeout_secs()
        held = Held(
            flow=flow,
            flow_id=fid,
            phase=phase,
            rule_id=rule.id,
            held_at=format_time(datetime.now(UTC)),
            timeout_secs=timeout,
            deadline=time.monotonic() + timeout,
        )
        self.held[fid] = held
        flow.intercept()
        self.ghost.events.publish("flow.breakpoint", held.to_dict())
        try:
            async with asyncio.timeout(timeout):
                await flow.wait_for_resume()
        except TimeoutError:
            if self.held.get(fid) is held:
                self._release(held, "timeout")
        finally:
            if self.held.get(fid) is held:
                # resumed by someone else (mitmweb's UI), or the connection task was cancelled
                self._release(held, "continue")

    # --- resolutions ------------------------------------------------------------------

    def get_held(self, fid: str) -> Held:
        held = self.held.get(fid)
        if held is None:
            raise NotHeld(fid)
        return held

    def resume(self, fid: str, resolution: Resolution) -> dict[str, Any]:
        """Apply a resolution to a held flow; ValueError (flow stays held) for edits that fail."""
        held = self.get_held(fid)
        flow = held.flow
        if resolution.action == "modify" and held.phase == "request" and resolution.url is not None:
            parts = urlsplit(resolution.url)
            port = parts.port or (443 if parts.scheme == "https" else 80)
            if self.refused((parts.hostname or "").lower(), port):
                raise ValueError(f"url {resolution.url!r} points at Ghost's own API; the proxy never forwards there")
        if resolution.action == "modify":
            if held.phase == "request":
                apply_request_edits(flow.request, resolution)
            elif flow.response is not None:
                apply_response_edits(flow.response, resolution)
        return self._release(held, resolution.action)

    def _release(self, held: Held, action: str, reason: str = "") -> dict[str, Any]:
        self.held.pop(held.flow_id, None)
        flow = held.flow
        flow.resume()
        if action == "drop" and flow.killable:
            flow.kill()
        event: dict[str, Any] = {"id": held.flow_id, "flow_id": held.flow_id, "phase": held.phase, "action": action}
        if reason:
            event["reason"] = reason
        self.ghost.events.publish("flow.resumed", event)
        return event

    def release_all(self, reason: str) -> int:
        """Let every held flow continue unmodified (shutdown)."""
        held = list(self.held.values())
        for item in held:
            try:
                self._release(item, "continue", reason)
            except Exception:  # noqa: BLE001 - one failing flow must not keep the others held
                log.exception("releasing held flow %s failed", item.flow_id)
        return len(held)
