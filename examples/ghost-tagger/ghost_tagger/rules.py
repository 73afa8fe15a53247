"""The rule language of `tagger.rules`: parsed and matched by pure functions, tested alone.

One rule is one string, conditions on the left of `->`, what to do on the right:

    status:5xx -> server-error
    host:*.localhost,127.0.0.1 -> local
    method:POST,PUT path:/api/* -> write
    host:ads.example.com,*.doubleclick.net -> block

A condition is `field:value` with the fields and value forms of GQL, Ghost's flow query
language, so a user writes what `GET /api/v1/flows?q=` already taught them:

    method:GET,POST          any of these methods (case-insensitive)
    host:*.example.com,h     any of these host globs (`*.example.com` also matches example.com)
    path:/api/*              any of these path globs (the path without the query)
    status:404 status:>=500 status:4xx status:500-503   any of these (comma-separated)

Conditions are ANDed; each field appears at most once (`host:a,b` is "a or b"). The action
is a tag to give the stored flow, or `block`: answer the request at once, never reaching
the server (a block rule may not look at `status`: there is no response yet).
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from ghost_addons.matching import compile_hosts

BLOCK = "block"
FIELDS = ("method", "host", "path", "status")
MAX_TAG_LENGTH = 64

_TAG = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]*")
_METHOD = re.compile(r"[A-Za-z]+")
_STATUS_CLASS = re.compile(r"([1-5])xx", re.IGNORECASE)
_STATUS_COMPARE = re.compile(r"(>=|<=|>|<)?(\d{3})")
_STATUS_RANGE = re.compile(r"(\d{3})-(\d{3})")


class RuleError(ValueError):
    """A rule that cannot be parsed; the message says what is wrong and what is allowed."""


@dataclass(frozen=True, slots=True)
class Rule:
    """One parsed rule. A condition left as None matches every flow."""

    text: str
    action: str  # a tag, or BLOCK
    methods: frozenset[str] | None = None
    host: Callable[[str], bool] | None = None
    path: re.Pattern[str] | None = None
    statuses: tuple[tuple[int, int], ...] | None = None  # inclusive ranges

    def matches(self, method: str, host: str, path: str, status: int | None) -> bool:
        """Whether a flow with these parts matches; `status` is None before the response
        (or when there was none), and then no `status:` condition matches."""
        if self.methods is not None and method.upper() not in self.methods:
            return False
        if self.host is not None and not self.host(host):
            return False
        if self.path is not None and self.path.match(path) is None:
            return False
        if self.statuses is not None:
            return status is not None and any(low <= status <= high for low, high in self.statuses)
        return True


@dataclass(frozen=True, slots=True)
class Rules:
    """A parsed `tagger.rules`: the tagging rules and the blocking rules, each in order."""

    tagging: tuple[Rule, ...] = ()
    blocking: tuple[Rule, ...] = ()

    def tags_for(self, method: str, host: str, path: str, status: int | None) -> list[str]:
        """The tags the rules give a flow, in rule order, each once."""
        tags: list[str] = []
        for rule in self.tagging:
            if rule.action not in tags and rule.matches(method, host, path, status):
                tags.append(rule.action)
        return tags

    def block_for(self, method: str, host: str, path: str) -> Rule | None:
        """The first block rule a request matches, or None."""
        for rule in self.blocking:
            if rule.matches(method, host, path, None):
                return rule
        return None


def parse_rules(texts: Iterable[str]) -> Rules:
    """Parse every rule; the first bad one raises RuleError naming it."""
    parsed = [parse_rule(text) for text in texts]
    return Rules(tuple(r for r in parsed if r.action != BLOCK), tuple(r for r in parsed if r.action == BLOCK))


def rules_problem(texts: list[str]) -> str | None:
    """The `check` of the `tagger.rules` setting: what is wrong with the first bad rule, or
    None. Ghost turns it into the 400 of `PUT /api/v1/settings`, so nothing bad is saved."""
    for text in texts:
        try:
            parse_rule(text)
        except RuleError as e:
            return f"has a bad rule {text!r}: {e}"
    return None


def parse_rule(text: str) -> Rule:
    """One rule string -> Rule, or RuleError saying what is wrong."""
    left, arrow, action = text.partition("->")
    if not arrow:
        raise RuleError("a rule is CONDITIONS -> TAG (or -> block), e.g. 'status:5xx -> server-error'")
    action = action.strip()
    if "->" in action:
        raise RuleError("a rule has one '->'")
    if action != BLOCK and not valid_tag(action):
        raise RuleError(f"the tag {action!r} must be 1-{MAX_TAG_LENGTH} letters, digits or . _ : - "
                        "and start with a letter or digit")
    terms = left.split()
    if not terms:
        raise RuleError("a rule needs at least one condition, e.g. host:*.example.com")
    conditions: dict[str, str] = {}
    for term in terms:
        field, colon, value = term.partition(":")
        field = field.lower()
        if not colon or field not in FIELDS:
            raise RuleError(f"unknown condition {term!r}; use {', '.join(f + ':' for f in FIELDS)}")
        if not value:
            raise RuleError(f"condition {term!r} has no value")
        if field in conditions:
            raise RuleError(f"{field} appears twice; write {field}:a,b for either")
        conditions[field] = value
    if action == BLOCK and "status" in conditions:
        raise RuleError("a block rule answers the request before there is a status; drop status:")
    return Rule(
        text=text,
        action=action,
        methods=_methods(conditions["method"]) if "method" in conditions else None,
        host=_hosts(conditions["host"]) if "host" in conditions else None,
        path=_paths(conditions["path"]) if "path" in conditions else None,
        statuses=_statuses(conditions["status"]) if "status" in conditions else None,
    )


def valid_tag(tag: str) -> bool:
    return len(tag) <= MAX_TAG_LENGTH and _TAG.fullmatch(tag) is not None


def _alternatives(field: str, value: str) -> list[str]:
    parts = value.split(",")
    if any(not p for p in parts):
        raise RuleError(f"{field}:{value} has an empty alternative")
    return parts


def _methods(value: str) -> frozenset[str]:
    methods = _alternatives("method", value)
    bad = next((m for m in methods if not _METHOD.fullmatch(m)), None)
    if bad is not None:
        raise RuleError(f"method {bad!r} is not an HTTP method name")
    return frozenset(m.upper() for m in methods)


def _hosts(value: str) -> Callable[[str], bool]:
    return compile_hosts(_alternatives("host", value))


def _paths(value: str) -> re.Pattern[str]:
    globs = _alternatives("path", value)
    bad = next((g for g in globs if not g.startswith(("/", "*"))), None)
    if bad is not None:
        raise RuleError(f"path {bad!r} must start with / (or *)")
    return re.compile("|".join(f"(?:{fnmatch.translate(g)})" for g in globs))


def _statuses(value: str) -> tuple[tuple[int, int], ...]:
    return tuple(_status_range(part) for part in _alternatives("status", value))


def _status_range(value: str) -> tuple[int, int]:
    """`4xx`, `404`, `>=500`, `<400`, `500-503` -> an inclusive (low, high) range."""
    if m := _STATUS_CLASS.fullmatch(value):
        low = int(m[1]) * 100
        return low, low + 99
    if m := _STATUS_RANGE.fullmatch(value):
        low, high = int(m[1]), int(m[2])
        if low > high:
            raise RuleError(f"status range {value!r} runs backwards")
        return low, high
    if m := _STATUS_COMPARE.fullmatch(value):
        n = int(m[2])
        return {">=": (n, 999), ">": (n + 1, 999), "<=": (0, n), "<": (0, n - 1)}.get(m[1] or "", (n, n))
    raise RuleError(f"bad status {value!r}: use 404, >=500, <400, 500-503 or 4xx")
