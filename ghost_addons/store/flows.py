"""Flows in SQLite: rows to records and back, and the queries the API needs.

All functions take a connection and run on a store thread, never on the event loop.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import orjson

from ghost_addons.model import (
    Flow,
    Headers,
    Request,
    Response,
    Timings,
    format_time,
    has_surrogates,
    header_bytes,
    header_text,
    parse_time,
)
from ghost_addons.store import websockets
from ghost_addons.store.db import Connection, OperationalError
from ghost_addons.store.search import REGEX_TIMEOUT, index_flows

FLOW_COLUMNS = (
    "id", "session_id", "started_at", "duration_us", "method", "url", "scheme", "host",
    "port", "path", "http_version", "request_headers", "request_body_size", "status_code",
    "status_text", "response_http_version", "response_headers", "response_body_size",
    "content_type", "timings", "error", "client_addr", "server_addr", "tags", "metadata",
    "source", "interaction_id", "annotation",
)
INSERT_FLOW = (
    f"INSERT INTO flows ({', '.join(FLOW_COLUMNS)}) "
    f"VALUES ({', '.join('?' for _ in FLOW_COLUMNS)})"
)
INSERT_BODIES = "INSERT INTO flow_bodies (flow_id, request_body, response_body) VALUES (?, ?, ?)"
SUMMARY_COLUMNS = ", ".join(c for c in FLOW_COLUMNS if c not in ("request_headers", "response_headers"))


def _dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


# A stored header is a [name, value] pair; one whose bytes are not UTF-8 (held as lone
# surrogates, which JSON cannot carry) is stored as [base64(name), base64(value), "b64"].
_B64 = "b64"


def _dump_headers(headers: Headers) -> str:
    try:
        return orjson.dumps(headers).decode()
    except TypeError:  # orjson.JSONEncodeError: a lone surrogate, i.e. a byte that is not UTF-8
        return orjson.dumps([
            [base64.b64encode(header_bytes(k)).decode(), base64.b64encode(header_bytes(v)).decode(), _B64]
            if has_surrogates(k) or has_surrogates(v) else [k, v]
            for k, v in headers
        ]).decode()


def _load_headers(text: str) -> Headers:
    return [(header_text(base64.b64decode(h[0])), header_text(base64.b64decode(h[1])))
            if len(h) == 3 and h[2] == _B64 else (h[0], h[1])
            for h in orjson.loads(text)]


def escaped_text(value: str) -> str:
    """Text SQLite and JSON will take: lone surrogates (bytes that were not UTF-8) escaped."""
    return value.encode("utf-8", "backslashreplace").decode("utf-8", "backslashreplace")


def _printable(value: Any) -> Any:
    return escaped_text(value) if isinstance(value, str) else value


def escaped(request: Request) -> Request:
    """A request whose method, URL, host and path are escaped as in an error record."""
    return Request(method=escaped_text(request.method), url=escaped_text(request.url), scheme=request.scheme,
                   host=escaped_text(request.host), port=request.port, path=escaped_text(request.path),
                   http_version=escaped_text(request.http_version), body_size=request.body_size)


def error_rows(flow_row_values: tuple[Any, ...], reason: str) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
    """A flow that cannot be stored as it is, as an error record: its identity, method,
    URL, status and sizes (bad characters escaped), no headers or bodies, the reason in
    `error` and the tag `store-error`. Takes what `flow_row` gives, or a shorter tuple of its
    first columns when even that failed."""
    values = dict(zip(FLOW_COLUMNS, flow_row_values, strict=False))
    row = {column: None for column in FLOW_COLUMNS}
    for column in ("id", "session_id", "started_at", "duration_us", "method", "url", "scheme", "host",
                   "port", "path", "http_version", "request_body_size", "status_code", "status_text",
                   "response_http_version", "response_body_size", "client_addr", "server_addr",
                   "source", "interaction_id"):
        value = values.get(column)
        row[column] = _printable(value) if isinstance(value, (str, int)) or value is None else str(value)
    defaults = {"duration_us": 0, "method": "", "url": "", "scheme": "", "host": "", "port": 0, "path": "/",
                "http_version": "", "request_body_size": 0, "client_addr": "", "server_addr": "",
                "source": "proxy", "interaction_id": "", "annotation": "", "content_type": ""}
    for column, default in defaults.items():
        if row[column] is None:
            row[column] = default
    row["request_headers"] = "[]"
    row["response_headers"] = "[]" if row["status_code"] is not None else None
    row["error"] = _printable(f"Ghost could not store this flow as captured: {reason}")
    row["tags"], row["metadata"] = '["store-error"]', "{}"
    has_response = row["status_code"] is not None
    return tuple(row[c] for c in FLOW_COLUMNS), (row["id"], b"", b"" if has_response else None)


def identity_row(flow: Flow) -> tuple[Any, ...]:
    """The first columns of `flow_row`, for `error_rows` when `flow_row` itself failed."""
    req, resp = flow.request, flow.response
    return (flow.id, flow.session_id, format_time(flow.started_at), flow.duration_us, req.method, req.url,
            req.scheme, req.host, req.port, req.path, req.http_version, None, req.body_size,
            resp.status_code if resp else None, resp.status_text if resp else None,
            resp.http_version if resp else None, None, resp.body_size if resp else None)


def flow_row(flow: Flow) -> tuple[Any, ...]:
    req, resp = flow.request, flow.response
    timings = flow.timings
    return (
        flow.id, flow.session_id, format_time(flow.started_at), flow.duration_us,
        req.method, req.url, req.scheme, req.host, req.port, req.path, req.http_version,
        _dump_headers(req.headers), req.body_size,
        resp.status_code if resp else None,
        resp.status_text if resp else None,
        resp.http_version if resp else None,
        _dump_headers(resp.headers) if resp else None,
        resp.body_size if resp else None,
        resp.content_type if resp else "",
        _dumps([timings.dns_us, timings.connect_us, timings.tls_us, timings.send_us,
                timings.wait_us, timings.receive_us]) if timings else None,
        flow.error, flow.client_addr, flow.server_addr, _dumps(flow.tags),
        _dumps(flow.metadata), flow.source, flow.interaction_id, flow.annotation,
    )


def body_row(flow: Flow) -> tuple[str, bytes, bytes | None]:
    return (flow.id, flow.request.body, flow.response.body if flow.response else None)


def insert_flows(conn: Connection, flows: list[Flow]) -> None:
    """Store and index flows on this connection (the flow writer process does the same)."""
    conn.executemany(INSERT_FLOW, [flow_row(f) for f in flows])
    conn.executemany(INSERT_BODIES, [body_row(f) for f in flows])
    index_flows(conn, [f.id for f in flows])


def flow_from_row(row: Any, bodies: Any = None) -> Flow:
    headers = row["request_headers"] if "request_headers" in row.keys() else None
    request = Request(
        method=row["method"], url=row["url"], scheme=row["scheme"], host=row["host"],
        port=row["port"], path=row["path"], http_version=row["http_version"],
        headers=_load_headers(headers) if headers else [],
        body=bytes(bodies["request_body"]) if bodies is not None else b"",
        body_size=row["request_body_size"],
    )
    response = None
    if row["status_code"] is not None:
        resp_headers = row["response_headers"] if "response_headers" in row.keys() else None
        response = Response(
            status_code=row["status_code"], status_text=row["status_text"] or "",
            http_version=row["response_http_version"] or "HTTP/1.1",
            headers=_load_headers(resp_headers) if resp_headers else [],
            body=bytes(bodies["response_body"] or b"") if bodies is not None else b"",
            body_size=row["response_body_size"] or 0,
        )
        if resp_headers is None and row["content_type"]:
            response.headers = [("Content-Type", row["content_type"])]
    timings = None
    if row["timings"]:
        timings = Timings(*orjson.loads(row["timings"]))
    return Flow(
        id=row["id"], session_id=row["session_id"], started_at=parse_time(row["started_at"]),
        request=request, response=response, duration_us=row["duration_us"], timings=timings,
        error=row["error"], client_addr=row["client_addr"], server_addr=row["server_addr"],
        tags=orjson.loads(row["tags"]), metadata=orjson.loads(row["metadata"]),
        source=row["source"], interaction_id=row["interaction_id"], annotation=row["annotation"],
    )


def get_flow(conn: Connection, flow_id: str) -> Flow | None:
    row = conn.execute("SELECT * FROM flows WHERE id = ?", (flow_id,)).fetchone()
    if row is None:
        return None
    bodies = conn.execute(
        "SELECT request_body, response_body FROM flow_bodies WHERE flow_id = ?", (flow_id,)
    ).fetchone()
    return flow_from_row(row, bodies)


def summary_from_row(row: Any) -> dict[str, Any]:
    """`flow_summary(flow_from_row(row))` read straight off the row: a page of a list is
    built without making a Flow per row (stored times are already in `format_time`'s form)."""
    answered = row["status_code"] is not None
    return {
        "id": row["id"], "session_id": row["session_id"], "started_at": row["started_at"],
        "method": row["method"], "url": row["url"], "host": row["host"], "path": row["path"],
        "status_code": row["status_code"] if answered else 0,
        "duration_ms": round(row["duration_us"] / 1000, 3),
        "request_size": row["request_body_size"],
        "response_size": (row["response_body_size"] or 0) if answered else 0,
        "content_type": row["content_type"] if answered else "",
        "tags": orjson.loads(row["tags"]), "source": row["source"], "error": row["error"],
        "interaction_id": row["interaction_id"],
    }


def list_flow_summaries(
    conn: Connection, where: str, params: list[Any], limit: int, offset: int
) -> list[dict[str, Any]]:
    rows = conn.execute(
        f"SELECT {SUMMARY_COLUMNS} FROM flows WHERE {where} ORDER BY id DESC LIMIT ? OFFSET ?",
        [*params, limit, offset],
    ).fetchall()
    return [summary_from_row(r) for r in rows]


# Above this many matches a page says "more than" instead of counting them all, so a page of
# a million-flow session never waits for a count (`count=exact` asks for it).
COUNT_CAP = 10_000
# Nor for a count that takes longer than this (a filter on two fields of a million flows may
# have to read tens of thousands of rows to count them): the page then says how many it
# knows of at least, `total_exact: false`, and `count=exact` counts them all.
COUNT_SECONDS = 0.1
# A flow query that runs longer than this is stopped: a regular expression or a word that
# matches nearly every flow of a huge session must not hold a reader thread for minutes.
QUERY_SECONDS = 10.0


def query_flows(conn: Connection, where: str, params: list[Any], limit: int, offset: int = 0,
                before: str = "", exact_count: bool = False, deadline: float = QUERY_SECONDS) -> dict[str, Any]:
    """One page of flow summaries (newest first) with the count of all matches, one after
    the other on one connection. The API runs the two halves, `query_page` and
    `count_matches`, on two reader connections at once and joins them with `flow_page`."""
    items = query_page(conn, where, params, limit, offset, before, deadline)
    return flow_page(items, count_matches(conn, where, params, before, exact_count, deadline), limit, offset)


def query_page(conn: Connection, where: str, params: list[Any], limit: int, offset: int = 0,
               before: str = "", deadline: float = QUERY_SECONDS) -> list[dict[str, Any]]:
    """One page of flow summaries, newest first. `before` (a flow id) pages by key: flows
    older than it, as fast on the ten-thousandth page as on the first, where `offset` walks
    every row it skips. Raises `QueryError` when a regular expression times out or the query
    runs past `deadline` seconds."""
    where, params = _older_than(where, params, before)
    with _stopped_after(conn, deadline):
        return list_flow_summaries(conn, where, params, limit, offset)


def count_matches(conn: Connection, where: str, params: list[Any], before: str = "", exact: bool = False,
                  deadline: float = QUERY_SECONDS) -> tuple[int, bool] | None:
    """(matches, whether that is exact). Unless `exact`, counting stops at COUNT_CAP
    matches (then COUNT_CAP, False) or after COUNT_SECONDS (then None: the page says how
    many it knows of)."""
    where, params = _older_than(where, params, before)
    if exact:
        with _stopped_after(conn, deadline):
            return count_flows(conn, where, params), True
    try:
        with _stopped_after(conn, min(deadline, COUNT_SECONDS), interrupted_is_error=False):
            counted = conn.execute(f"SELECT COUNT(*) FROM (SELECT 1 FROM flows WHERE {where} LIMIT ?)",
                                   [*params, COUNT_CAP + 1]).fetchone()[0]
    except _Interrupted:
        return None
    return min(counted, COUNT_CAP), counted <= COUNT_CAP


def flow_page(items: list[dict[str, Any]], count: tuple[int, bool] | None, limit: int, offset: int) -> dict[str, Any]:
    """The answer of a flow query: a page and its count (None: the capped count ran out of
    time, so at least the flows up to this page)."""
    total, total_exact = count if count is not None else (offset + len(items), False)
    return {"flows": items, "total": total, "total_exact": total_exact,
            "next_before": items[-1]["id"] if len(items) == limit else None}


def _older_than(where: str, params: list[Any], before: str) -> tuple[str, list[Any]]:
    return (f"flows.id < ? AND ({where})", [before, *params]) if before else (where, params)


class _Interrupted(Exception):
    """The capped count ran out of its time."""


@contextmanager
def _stopped_after(conn: Connection, seconds: float, interrupted_is_error: bool = True) -> Iterator[None]:
    """Run the block's statements for at most `seconds`: past it SQLite interrupts them, a
    `QueryError` saying why (or `_Interrupted`, for a count that may give up)."""
    stop_at = time.monotonic() + seconds
    conn.set_progress_handler(lambda: time.monotonic() > stop_at, 10_000)
    try:
        yield
    except OperationalError as e:
        if not interrupted_is_error and "interrupted" in str(e):
            raise _Interrupted from None
        raise QueryError(_query_failure(e, seconds)) from None
    finally:
        conn.set_progress_handler(None, 0)


class QueryError(ValueError):
    """A flow query the store stopped; the message says why and what to do."""


def _query_failure(error: Exception, deadline: float) -> str:
    message = str(error)
    if "interrupted" in message:
        return (f"the query ran longer than {deadline:.0f} s and was stopped; narrow it with more terms "
                "(host:, path:, status:) or a more specific word")
    if "user-defined function raised exception" in message:
        return (f"a regular expression in the query ran longer than {REGEX_TIMEOUT} s on one value; "
                "make it simpler (avoid nested repetition such as (a+)+)")
    raise error


def count_flows(conn: Connection, where: str = "1", params: list[Any] | None = None) -> int:
    return conn.execute(f"SELECT COUNT(*) FROM flows WHERE {where}", params or []).fetchone()[0]


def session_flow_batch(
    conn: Connection, session_id: str, after_id: str, limit: int, max_bytes: int = 0,
    where: str = "1", params: tuple[Any, ...] = (),
) -> list[Flow]:
    """Up to `limit` full flows of a session with id > after_id, oldest first; with
    `max_bytes`, the batch ends once its bodies pass that many bytes (always at least one
    flow), so a session of large bodies is read a few at a time, not 5,000. `where` (over
    `flows`, as GQL compiles it) narrows them."""
    cursor = conn.execute(
        "SELECT flows.*, b.request_body, b.response_body FROM flows "
        "LEFT JOIN flow_bodies b ON b.flow_id = flows.id "
        f"WHERE flows.session_id = ? AND flows.id > ? AND ({where}) ORDER BY flows.id LIMIT ?",
        (session_id, after_id, *params, limit),
    )
    batch, size = [], 0
    for r in cursor:  # rows are stepped one at a time: stopping early reads no further
        batch.append(flow_from_row(r, r if r["request_body"] is not None else None))
        size += len(r["request_body"] or b"") + len(r["response_body"] or b"")
        if max_bytes and size >= max_bytes:
            break
    cursor.close()
    # WebSocket messages go with their flows (HAR's _webSocketMessages, Ghost JSON's websocket);
    # any flow may have them (an imported entry need not say 101), and asking costs one
    # look-up in websocket_totals per 500 flows
    logs = websockets.logs_for(conn, [f.id for f in batch]) if batch else {}
    if logs:
        batch = [f.replace(websocket=logs[f.id]) if f.id in logs else f for f in batch]
    return batch


def delete_flow(conn: Connection, flow_id: str) -> bool:
    return conn.execute("DELETE FROM flows WHERE id = ?", (flow_id,)).rowcount > 0


def update_flow_fields(conn: Connection, flow_id: str, fields: dict[str, Any]) -> bool:
    """Update tags / annotation / metadata; the names are checked by the caller."""
    sets, params = [], []
    for name, value in fields.items():
        sets.append(f"{name} = ?")
        params.append(_dumps(value) if name in ("tags", "metadata") else value)
    cur = conn.execute(f"UPDATE flows SET {', '.join(sets)} WHERE id = ?", [*params, flow_id])
    return cur.rowcount > 0


def ulid_floor(timestamp: str) -> str:
    """The smallest ULID of a moment: every id made before it sorts lower."""
    from ulid import ULID

    moment = parse_time(timestamp)
    return str(ULID.from_timestamp(moment.timestamp()))[:10] + "0" * 16


def purge_flows(conn: Connection, older_than: str | None, keep_newest: int) -> int:
    """Delete flows started before `older_than` and all but the newest `keep_newest`."""
    deleted = 0
    if older_than:
        # A flow's age is the time Ghost stored it, which its ULID encodes: the primary key
        # finds old flows without an index (an imported flow is as old as its import).
        deleted += conn.execute("DELETE FROM flows WHERE id < ?", (ulid_floor(older_than),)).rowcount
    if keep_newest > 0:
        deleted += conn.execute(
            "DELETE FROM flows WHERE id IN (SELECT id FROM flows ORDER BY id DESC LIMIT -1 OFFSET ?)",
            (keep_newest,),
        ).rowcount
    return deleted
