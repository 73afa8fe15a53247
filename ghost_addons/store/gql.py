"""GQL, Ghost's flow query language, compiled to a SQL WHERE clause.

    method:POST status:>=400 host:*.example.com path:/api/* tag:error source:import "free text"

Terms are separated by spaces and ANDed; `-term` negates one; a bare word or a quoted
phrase matches the URL. Unknown fields and malformed values raise `GqlError`, which the
API turns into a 400.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

MAX_QUERY_LENGTH = 4096  # characters
MAX_TERMS = 200  # SQLite refuses an expression more than 1,000 deep; each term is one level
MAX_WILDCARDS = 8  # per term: SQLite's LIKE backtracks on every %

FIELDS = ("method", "status", "host", "path", "url", "tag", "source", "type", "duration",
          "size", "error", "interaction", "id", "device")


class GqlError(ValueError):
    pass


def tokenize(query: str) -> list[str]:
    """Split on spaces outside double quotes; quotes are kept out of the tokens' values."""
    tokens: list[str] = []
    current: list[str] = []
    in_quotes = False
    started = False
    for ch in query:
        if ch == '"':
            in_quotes = not in_quotes
            started = True
        elif ch.isspace() and not in_quotes:
            if started:
                tokens.append("".join(current))
            current, started = [], False
        else:
            current.append(ch)
            started = True
    if in_quotes:
        raise GqlError('unclosed quote in query')
    if started:
        tokens.append("".join(current))
    return tokens


def _like(value: str) -> str:
    if value.count("*") > MAX_WILDCARDS:
        raise GqlError(f"{value[:40]!r} has {value.count('*')} wildcards; a term takes at most {MAX_WILDCARDS}")
    escaped = value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped.replace("*", "%")


def _glob(column: str) -> Callable[[str], tuple[str, list[Any]]]:
    def build(value: str) -> tuple[str, list[Any]]:
        if "*" in value:
            return f"{column} LIKE ? ESCAPE '\\'", [_like(value)]
        return f"{column} = ? COLLATE NOCASE", [value]
    return build


_COMPARE = re.compile(r"^(>=|<=|>|<|=)?(\d+(?:\.\d+)?)$")
_RANGE = re.compile(r"^(\d+(?:\.\d+)?)-(\d+(?:\.\d+)?)$")


def _numeric(column: str, field: str, scale: float = 1) -> Callable[[str], tuple[str, list[Any]]]:
    def build(value: str) -> tuple[str, list[Any]]:
        if field == "status" and re.fullmatch(r"[1-5]xx", value, re.I):
            low = int(value[0]) * 100
            return f"{column} BETWEEN ? AND ?", [low, low + 99]
        if m := _RANGE.match(value):
            return f"{column} BETWEEN ? AND ?", [float(m[1]) * scale, float(m[2]) * scale]
        if m := _COMPARE.match(value):
            return f"{column} {m[1] or '='} ?", [float(m[2]) * scale]
        raise GqlError(
            f"bad value {value!r} for {field}: use a number, >=N, <N, N-M"
            + (" or 4xx" if field == "status" else "")
        )
    return build


def _tag(value: str) -> tuple[str, list[Any]]:
    if "*" in value:
        return ("EXISTS (SELECT 1 FROM json_each(flows.tags) WHERE value LIKE ? ESCAPE '\\')",
                [_like(value)])
    return "EXISTS (SELECT 1 FROM json_each(flows.tags) WHERE value = ?)", [value]


def _device(value: str) -> tuple[str, list[Any]]:
    """The device a flow came from (metadata `device`, which the devices plugin records): its
    id (client address) or its name, `*` as a wildcard ("device:iPhone*", "device:192.168.1.23")."""
    id_sql, id_params = _glob("json_extract(flows.metadata, '$.device.id')")(value)
    name_sql, name_params = _glob("json_extract(flows.metadata, '$.device.name')")(value)
    return f"({id_sql} OR {name_sql})", [*id_params, *name_params]


def _error(value: str) -> tuple[str, list[Any]]:
    if value.lower() in ("true", "yes", "1"):
        return "flows.error != ''", []
    if value.lower() in ("false", "no", "0"):
        return "flows.error = ''", []
    return "flows.error LIKE ? ESCAPE '\\'", [f"%{_like(value)}%"]


def _method(value: str) -> tuple[str, list[Any]]:
    return "flows.method = ?", [value.upper()]


def _source(value: str) -> tuple[str, list[Any]]:
    from ghost_addons.model import FLOW_SOURCES

    if value not in FLOW_SOURCES:
        raise GqlError(f"bad source {value!r}; one of {', '.join(FLOW_SOURCES)}")
    return "flows.source = ?", [value]


def _contains(column: str) -> Callable[[str], tuple[str, list[Any]]]:
    def build(value: str) -> tuple[str, list[Any]]:
        return f"{column} LIKE ? ESCAPE '\\'", [f"%{_like(value)}%"]
    return build


BUILDERS: dict[str, Callable[[str], tuple[str, list[Any]]]] = {
    "method": _method,
    "status": _numeric("flows.status_code", "status"),
    "host": _glob("flows.host"),
    "path": _glob("flows.path"),
    "url": _glob("flows.url"),
    "tag": _tag,
    "source": _source,
    "type": _contains("flows.content_type"),
    "duration": _numeric("flows.duration_us", "duration", scale=1000),
    "size": _numeric("flows.response_body_size", "size"),
    "error": _error,
    "interaction": _glob("flows.interaction_id"),
    "id": _glob("flows.id"),
    "device": _device,
}


def compile_query(query: str) -> tuple[str, list[Any]]:
    """SQL condition (over table `flows`) and its parameters; "1" for an empty query."""
    if len(query) > MAX_QUERY_LENGTH:
        raise GqlError(f"the query is {len(query):,} characters long; the limit is {MAX_QUERY_LENGTH:,}")
    tokens = tokenize(query)
    if len(tokens) > MAX_TERMS:
        raise GqlError(f"the query has {len(tokens):,} terms; the limit is {MAX_TERMS}")
    clauses: list[str] = []
    params: list[Any] = []
    for token in tokens:
        negate = token.startswith("-") and len(token) > 1
        body = token[1:] if negate else token
        field, sep, value = body.partition(":")
        if sep and re.fullmatch(r"[a-z_]+", field):
            builder = BUILDERS.get(field)
            if builder is None:
                raise GqlError(f"unknown field {field!r} in query; known fields: {', '.join(FIELDS)}")
            if not value:
                raise GqlError(f"field {field!r} needs a value, e.g. {field}:something")
            sql, values = builder(value)
        else:
            sql, values = _contains("flows.url")(body)
        clauses.append(f"NOT ({sql})" if negate else f"({sql})")
        params.extend(values)
    return (" AND ".join(clauses) or "1"), params
