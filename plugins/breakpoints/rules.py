"""Breakpoint rules: the record, its JSON shape and validation of user input.

JSON shape::

    {"id": "01J...", "phase": "request", "host_pattern": "*.example.com",
     "path_pattern": "/api/*", "method": "POST", "enabled": true,
     "created_at": "2026-11-25T10:00:00.000000Z"}

Patterns follow `ghost_addons.matching` (one glob semantics for every feature); empty
patterns and method match everything. Rules live in memory only.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ghost_addons.ids import new_id
from ghost_addons.matching import Matcher, check_host_pattern, check_method, check_pattern
from ghost_addons.model import format_time

PHASES = ("request", "response")
MAX_ID_LENGTH = 128

_FIELDS = {"phase", "host_pattern", "path_pattern", "method", "enabled"}
_READ_ONLY = {"id", "created_at"}


@dataclass(slots=True)
class BreakpointRule:
    id: str
    phase: str = "request"
    host_pattern: str = ""
    path_pattern: str = ""
    method: str = ""
    enabled: bool = True
    created_at: str = ""
    matcher: Matcher = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.matcher = Matcher.compile(self.host_pattern, self.path_pattern, self.method)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "phase": self.phase,
            "host_pattern": self.host_pattern,
            "path_pattern": self.path_pattern,
            "method": self.method,
            "enabled": self.enabled,
            "created_at": self.created_at,
        }


def _check_fields(raw: dict[str, Any], allowed: set[str]) -> None:
    unknown = sorted(set(raw) - allowed - _READ_ONLY)
    if unknown:
        raise ValueError(f"unknown field(s) {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}")


def _check_values(raw: dict[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    if "phase" in raw:
        phase = raw["phase"] or "request"
        if phase not in PHASES:
            raise ValueError(f"phase {phase!r} is not one of: request, response")
        values["phase"] = phase
    if "host_pattern" in raw:
        values["host_pattern"] = check_host_pattern("host_pattern", raw["host_pattern"])
    if "path_pattern" in raw:
        values["path_pattern"] = check_pattern("path_pattern", raw["path_pattern"])
    if "method" in raw:
        values["method"] = check_method(raw["method"])
    if "enabled" in raw:
        if not isinstance(raw["enabled"], bool):
            raise ValueError(f"enabled must be true or false, got {raw['enabled']!r}")
        values["enabled"] = raw["enabled"]
    return values


def rule_from_input(raw: Any) -> BreakpointRule:
    """A new rule from a POST body; the id defaults to a new ULID, the phase to request."""
    if not isinstance(raw, dict):
        raise ValueError("a breakpoint rule must be a JSON object")
    _check_fields(raw, _FIELDS)
    rule_id = raw.get("id") or new_id()
    if not isinstance(rule_id, str) or len(rule_id) > MAX_ID_LENGTH or not rule_id.isprintable():
        raise ValueError(f"id must be a printable string of at most {MAX_ID_LENGTH} characters")
    return BreakpointRule(id=rule_id, created_at=format_time(datetime.now(UTC)), **_check_values(raw))


def rule_updated(rule: BreakpointRule, raw: Any) -> BreakpointRule:
    """The rule with the fields of a PUT body applied (fields left out are kept)."""
    if not isinstance(raw, dict):
        raise ValueError("a breakpoint rule must be a JSON object")
    _check_fields(raw, _FIELDS)
    if "id" in raw and raw["id"] not in (None, "", rule.id):
        raise ValueError(f"id {raw['id']!r} does not match the rule being updated ({rule.id})")
    changes = _check_values(raw)
    return dataclasses.replace(rule, **changes)
