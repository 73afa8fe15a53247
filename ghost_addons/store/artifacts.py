"""Artifacts: files Ghost made (exports, reports), kept in the database."""

from __future__ import annotations

from typing import Any

import orjson

from ghost_addons.ids import new_id
from ghost_addons.store.db import Connection
from ghost_addons.store.sessions import now

SUMMARY_COLUMNS = (
    "id, type, title, summary, format, device_id, device_name, session_id, size_bytes, "
    "metadata, created_at"
)


def _artifact_dict(row: Any) -> dict[str, Any]:
    out = {k: row[k] for k in row.keys() if k not in ("content", "metadata")}
    out["metadata"] = orjson.loads(row["metadata"])
    return out


def insert_artifact(
    conn: Connection, *, type: str, title: str, summary: str, format: str, content: bytes,
    session_id: str | None = None, metadata: dict[str, Any] | None = None,
    device_id: str = "", device_name: str = "",
) -> dict[str, Any]:
    artifact_id = new_id()
    conn.execute(
        "INSERT INTO artifacts (id, type, title, summary, format, device_id, device_name, "
        "session_id, size_bytes, metadata, content, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (artifact_id, type, title, summary, format, device_id, device_name, session_id,
         len(content), orjson.dumps(metadata or {}).decode(), content, now()),
    )
    row = conn.execute(f"SELECT {SUMMARY_COLUMNS} FROM artifacts WHERE id = ?", (artifact_id,)).fetchone()
    return _artifact_dict(row)


def list_artifacts(
    conn: Connection, session_id: str | None, type: str | None, limit: int, offset: int
) -> list[dict[str, Any]]:
    where, params = [], []
    if session_id:
        where.append("session_id = ?")
        params.append(session_id)
    if type:
        where.append("type = ?")
        params.append(type)
    clause = " AND ".join(where) or "1"
    rows = conn.execute(
        f"SELECT {SUMMARY_COLUMNS} FROM artifacts WHERE {clause} ORDER BY id DESC LIMIT ? OFFSET ?",
        [*params, limit, offset],
    ).fetchall()
    return [_artifact_dict(r) for r in rows]


def get_artifact(conn: Connection, artifact_id: str) -> tuple[dict[str, Any], bytes] | None:
    row = conn.execute("SELECT * FROM artifacts WHERE id = ?", (artifact_id,)).fetchone()
    if row is None:
        return None
    return _artifact_dict(row), bytes(row["content"])


def delete_artifact(conn: Connection, artifact_id: str) -> bool:
    return conn.execute("DELETE FROM artifacts WHERE id = ?", (artifact_id,)).rowcount > 0
