"""Sessions and the key-value table, as functions on a connection."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from ghost_addons.ids import new_id
from ghost_addons.model import format_time
from ghost_addons.store.db import Connection

ACTIVE_SESSION_KEY = "active_session_id"


def now() -> str:
    return format_time(datetime.now(UTC))


def _session_dict(row: Any, flow_count: int) -> dict[str, Any]:
    return {
        "id": row["id"],
        "name": row["name"],
        "description": row["description"],
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
        "flow_count": flow_count,
    }


def create_session(conn: Connection, name: str, description: str = "") -> dict[str, Any]:
    session_id = new_id()
    stamp = now()
    conn.execute(
        "INSERT INTO sessions (id, name, description, created_at, updated_at) VALUES (?, ?, ?, ?, ?)",
        (session_id, name, description, stamp, stamp),
    )
    return {"id": session_id, "name": name, "description": description,
            "created_at": stamp, "updated_at": stamp, "flow_count": 0}


def get_session(conn: Connection, session_id: str) -> dict[str, Any] | None:
    row = conn.execute("SELECT * FROM sessions WHERE id = ?", (session_id,)).fetchone()
    if row is None:
        return None
    count = conn.execute("SELECT COUNT(*) FROM flows WHERE session_id = ?", (session_id,)).fetchone()[0]
    return _session_dict(row, count)


def list_sessions(conn: Connection) -> list[dict[str, Any]]:
    rows = conn.execute(
        "SELECT s.*, (SELECT COUNT(*) FROM flows f WHERE f.session_id = s.id) AS flow_count "
        "FROM sessions s ORDER BY s.id DESC"
    ).fetchall()
    return [_session_dict(r, r["flow_count"]) for r in rows]


def update_session(conn: Connection, session_id: str, fields: dict[str, str]) -> dict[str, Any] | None:
    if fields:
        sets = ", ".join(f"{k} = ?" for k in fields)
        conn.execute(
            f"UPDATE sessions SET {sets}, updated_at = ? WHERE id = ?",
            [*fields.values(), now(), session_id],
        )
    return get_session(conn, session_id)


def delete_session(conn: Connection, session_id: str) -> bool:
    return conn.execute("DELETE FROM sessions WHERE id = ?", (session_id,)).rowcount > 0


def get_kv(conn: Connection, key: str) -> str | None:
    row = conn.execute("SELECT value FROM kv WHERE key = ?", (key,)).fetchone()
    return row[0] if row else None


def set_kv(conn: Connection, key: str, value: str) -> None:
    conn.execute(
        "INSERT INTO kv (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        (key, value),
    )


def ensure_active_session(conn: Connection) -> str:
    """The active session's id; makes one on first start (or if it was lost)."""
    active = get_kv(conn, ACTIVE_SESSION_KEY)
    if active and conn.execute("SELECT 1 FROM sessions WHERE id = ?", (active,)).fetchone():
        return active
    row = conn.execute("SELECT id FROM sessions ORDER BY id DESC LIMIT 1").fetchone()
    session_id = row[0] if row else create_session(conn, "Default session")["id"]
    set_kv(conn, ACTIVE_SESSION_KEY, session_id)
    return session_id
