"""GQL, Ghost's flow query language, compiled to a SQL WHERE clause.

    method:POST status:>=400 host:*.example.com path:/api/* tag:error source:import "free text"
    body:"item-999" resp.body:token header:x-request-id header:content-type:json body~:"order-[0-9]+"

Terms are separated by spaces and ANDed; `-term` negates one; a bare word or a quoted
phrase matches the URL. `body:`, `req.body:`, `resp.body:` and `header:` search words in
the full-text index (see `search.py`); a field followed by `~` (`body~:`, `header~:`,
`url~:`, `path~:`, `host~:`) takes a regular expression, bounded in time per value.
Unknown fields and malformed values raise `GqlError`, which the API turns into a 400.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import orjson

from ghost_addons.store import search

MAX_QUERY_LENGTH = 4096  # characters
MAX_TERMS = 200  # SQLite refuses an expression more than 1,000 deep; each term is one level
MAX_WILDCARDS = 8  # per term: SQLite's LIKE backtracks on every %

FIELDS = ("method", "status", "host", "path", "url", "tag", "source", "type", "duration",
          "size", "error", "interaction", "id", "device", "body", "req.body", "resp.body", "header", "ws")
REGEX_FIELDS = ("body", "req.body", "resp.body", "header", "url", "path", "host")


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


def _glob(column: str, indexed: bool = False) -> Callable[[str], tuple[str, list[Any]]]:
    """`*` for any run of characters, case folded. On an indexed column the fixed start of
    a pattern also becomes a range, which the index reads instead of the whole session."""
    def build(value: str) -> tuple[str, list[Any]]:
        if "*" not in value:
            return f"{column} = ? COLLATE NOCASE", [value]
        sql, params = f"{column} LIKE ? ESCAPE '\\'", [_like(value)]
        start = value.split("*", 1)[0].lower()
        if indexed and start and ord(start[-1]) < 0x10FFFF:
            upper = start[:-1] + chr(ord(start[-1]) + 1)
            sql += f" AND {column} >= ? COLLATE NOCASE AND {column} < ? COLLATE NOCASE"
            params += [start, upper]
        return sql, params
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
        return "flows.id IN (SELECT flow_id FROM flow_tags WHERE tag LIKE ? ESCAPE '\\')", [_like(value)]
    return "flows.id IN (SELECT flow_id FROM flow_tags WHERE tag = ?)", [value]


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


_TEXT_MATCH = ("flows.id IN (SELECT t.flow_id FROM flow_text_ids t WHERE t.id IN "
               "(SELECT rowid FROM flow_text WHERE flow_text MATCH ?))")


def _words(value: str) -> tuple[list[str], bool]:
    try:
        return search.phrase_of(value)
    except search.SearchError as e:
        raise GqlError(str(e)) from None


def _body(columns: tuple[str, ...]) -> Callable[[str], tuple[str, list[Any]]]:
    def build(value: str) -> tuple[str, list[Any]]:
        words, prefix = _words(value)
        return _TEXT_MATCH, [search.match_expression(columns, words, prefix)]
    return build


def _header(value: str) -> tuple[str, list[Any]]:
    """`header:NAME` (a header of that name, any case) or `header:NAME:WORDS` (its value
    holds the words): the index finds candidates, the stored headers decide."""
    name, _, wanted = value.partition(":")
    name = name.strip().lower()
    if not name or not search.tokens(name):
        raise GqlError(f"header:{value[:40]!r} needs a header name, e.g. header:content-type:json")
    words, prefix = _words(wanted) if wanted.strip() else ([], False)
    candidates = (search.match_expression(search.HEADER_COLUMNS, words, prefix, also=search.tokens(name)) if words
                  else search.match_expression(search.HEADER_COLUMNS, search.tokens(name), False))
    exact = orjson.dumps([words, prefix]).decode()
    return (f"{_TEXT_MATCH} AND (ghost_header_matches(flows.request_headers, ?, ?) "
            "OR ghost_header_matches(flows.response_headers, ?, ?))",
            [candidates, name, exact, name, exact])


def _websocket(value: str) -> tuple[str, list[Any]]:
    """`ws:true` (a flow with WebSocket messages stored), `ws:false`, or `ws:TEXT` (one of
    its text messages contains TEXT, any case): a scan of the messages, bounded in time as
    every query is."""
    if value.lower() in ("true", "yes", "1"):
        return "flows.id IN (SELECT flow_id FROM websocket_totals)", []
    if value.lower() in ("false", "no", "0"):
        return "flows.id NOT IN (SELECT flow_id FROM websocket_totals)", []
    return ("flows.id IN (SELECT flow_id FROM websocket_messages WHERE opcode = 1 "
            "AND CAST(content AS TEXT) LIKE ? ESCAPE '\\')"), [f"%{_like(value)}%"]


def _regex(field: str, value: str) -> tuple[str, list[Any]]:
    try:
        search.compile_pattern(value)
    except search.SearchError as e:
        raise GqlError(str(e)) from None
    if field in search.BODY_COLUMNS:
        sides = {"body": ("request_body", "response_body"), "req.body": ("request_body",),
                 "resp.body": ("response_body",)}[field]
        test = " OR ".join(f"ghost_regexp(?, b.{side})" for side in sides)
        return f"EXISTS (SELECT 1 FROM flow_bodies b WHERE b.flow_id = flows.id AND ({test}))", [value] * len(sides)
    if field == "header":
        return ("(ghost_regexp(?, ghost_headers_text(flows.request_headers)) "
                "OR ghost_regexp(?, ghost_headers_text(flows.response_headers)))", [value, value])
    return f"ghost_regexp(?, flows.{field})", [value]


BUILDERS: dict[str, Callable[[str], tuple[str, list[Any]]]] = {
    "method": _method,
    "status": _numeric("flows.status_code", "status"),
    "host": _glob("flows.host", indexed=True),
    "path": _glob("flows.path", indexed=True),
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
    "body": _body(search.BODY_COLUMNS["body"]),
    "req.body": _body(search.BODY_COLUMNS["req.body"]),
    "resp.body": _body(search.BODY_COLUMNS["resp.body"]),
    "header": _header,
    "ws": _websocket,
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
        if sep and re.fullmatch(r"[a-z_.]+~?", field):
            name = field.removesuffix("~")
            if name not in BUILDERS:
                raise GqlError(f"unknown field {name!r} in query; known fields: {', '.join(FIELDS)}")
            if not value:
                raise GqlError(f"field {field!r} needs a value, e.g. {field}:something")
            if field.endswith("~"):
                if name not in REGEX_FIELDS:
                    raise GqlError(f"field {name!r} takes no regular expression; these do: "
                                   f"{', '.join(f + '~' for f in REGEX_FIELDS)}")
                sql, values = _regex(name, value)
            else:
                sql, values = BUILDERS[name](value)
        else:
            sql, values = _contains("flows.url")(body)
        clauses.append(f"NOT ({sql})" if negate else f"({sql})")
        params.extend(values)
    return (" AND ".join(clauses) or "1"), params
