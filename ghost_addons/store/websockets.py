"""WebSocket messages in the store: one row per message, one row of totals per flow.

Both tables hang off `flows` (ON DELETE CASCADE): deleting a flow, purging old flows or
deleting a session takes its messages with it. Rows are written by the flow writer process
(`flow_process`): captured messages in batches of their own, imported ones in the same
transaction as their flow. A row whose flow is not stored (it was refused, or deleted while
its socket was still open) is not inserted: `WHERE EXISTS` keeps a late batch from failing.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ghost_addons.model import Flow, WebSocketLog, WebSocketMessage
from ghost_addons.store.db import Connection

MIGRATION_SQL = """
CREATE TABLE websocket_messages (
    flow_id TEXT NOT NULL REFERENCES flows(id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    from_client INTEGER NOT NULL,
    opcode INTEGER NOT NULL,
    timestamp REAL NOT NULL,
    content BLOB NOT NULL,
    PRIMARY KEY (flow_id, seq)
);
CREATE TABLE websocket_totals (
    flow_id TEXT PRIMARY KEY REFERENCES flows(id) ON DELETE CASCADE,
    stored INTEGER NOT NULL DEFAULT 0,
    dropped INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
"""

MessageRow = tuple[str, int, int, int, float, bytes]
# (flow id, messages stored so far, messages dropped so far): the totals are absolute, so a
# batch replaces them rather than adding to them
TotalsRow = tuple[str, int, int]

INSERT_MESSAGE = (
    "INSERT OR IGNORE INTO websocket_messages (flow_id, seq, from_client, opcode, timestamp, content) "
    "SELECT ?1, ?2, ?3, ?4, ?5, ?6 WHERE EXISTS (SELECT 1 FROM flows WHERE id = ?1)"
)
UPSERT_TOTALS = (
    "INSERT INTO websocket_totals (flow_id, stored, dropped) "
    "SELECT ?1, ?2, ?3 WHERE EXISTS (SELECT 1 FROM flows WHERE id = ?1) "
    "ON CONFLICT (flow_id) DO UPDATE SET stored = excluded.stored, dropped = excluded.dropped"
)


def message_row(flow_id: str, message: WebSocketMessage) -> MessageRow:
    return (flow_id, message.seq, int(message.from_client), message.opcode, message.timestamp, message.content)


def flow_rows(flows: Iterable[Flow]) -> tuple[list[MessageRow], list[TotalsRow]]:
    """The rows of the messages flows carry (imports)."""
    messages: list[MessageRow] = []
    totals: list[TotalsRow] = []
    for flow in flows:
        log = flow.websocket
        if log is None:
            continue
        messages.extend(message_row(flow.id, m) for m in log.messages)
        totals.append((flow.id, len(log.messages), log.dropped))
    return messages, totals


def insert(conn: Connection, messages: list[MessageRow], totals: list[TotalsRow]) -> None:
    """Insert on the caller's transaction (the flow writer process)."""
    conn.executemany(INSERT_MESSAGE, messages)
    conn.executemany(UPSERT_TOTALS, totals)


def _message(row: Any) -> WebSocketMessage:
    return WebSocketMessage(seq=row["seq"], from_client=bool(row["from_client"]), opcode=row["opcode"],
                            timestamp=row["timestamp"], content=bytes(row["content"]))


def page(conn: Connection, flow_id: str, after: int, limit: int) -> dict[str, Any] | None:
    """Messages with seq > `after`, oldest first, at most `limit`; with the flow's totals.
    `next_after` is the seq to ask after for the next page (None on the last page). None
    when there is no such flow; a flow that is no WebSocket has no messages."""
    if conn.execute("SELECT 1 FROM flows WHERE id = ?", (flow_id,)).fetchone() is None:
        return None
    rows = conn.execute(
        "SELECT seq, from_client, opcode, timestamp, content FROM websocket_messages "
        "WHERE flow_id = ? AND seq > ? ORDER BY seq LIMIT ?", (flow_id, after, limit + 1)).fetchall()
    totals = conn.execute("SELECT stored, dropped FROM websocket_totals WHERE flow_id = ?", (flow_id,)).fetchone()
    messages = [_message(r).to_dict() for r in rows[:limit]]
    return {
        "flow_id": flow_id,
        "messages": messages,
        "next_after": messages[-1]["seq"] if len(rows) > limit else None,
        "stored": totals["stored"] if totals else 0,
        "dropped": totals["dropped"] if totals else 0,
    }


def logs_for(conn: Connection, flow_ids: list[str]) -> dict[str, WebSocketLog]:
    """The stored messages of those of `flow_ids` that have any (exports read them with
    their flows); flows without a totals row are not WebSocket flows and are absent."""
    result: dict[str, WebSocketLog] = {}
    for start in range(0, len(flow_ids), 500):  # SQLite's bound-parameter limit
        chunk = flow_ids[start:start + 500]
        marks = ",".join("?" * len(chunk))
        for total in conn.execute(
                f"SELECT flow_id, dropped FROM websocket_totals WHERE flow_id IN ({marks})", chunk).fetchall():
            rows = conn.execute("SELECT seq, from_client, opcode, timestamp, content FROM websocket_messages "
                                "WHERE flow_id = ? ORDER BY seq", (total["flow_id"],))
            result[total["flow_id"]] = WebSocketLog(tuple(_message(r) for r in rows), total["dropped"])
    return result
