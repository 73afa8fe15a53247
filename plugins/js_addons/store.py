"""Addons in the database: the table and its reads and writes (run on the store's threads)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from ghost_addons.store.db import Connection

MIGRATIONS = [
    """
    CREATE TABLE addons (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        code TEXT NOT NULL DEFAULT '',
        enabled INTEGER NOT NULL DEFAULT 1,
        priority INTEGER NOT NULL DEFAULT 0,
        last_error TEXT NOT NULL DEFAULT '',
        disabled_reason TEXT NOT NULL DEFAULT '',
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE INDEX idx_addons_order ON addons(priority, created_at, id);
    """,
]

COLUMNS = "id, name, code, enabled, priority, last_error, disabled_reason, created_at, updated_at"


@dataclass(slots=True)
class Addon:
    """An addon as stored and as the API shows it (`to_dict`)."""

    id: str
    name: str
    code: str
    enabled: bool
    priority: int
    last_error: str
    disabled_reason: str
    created_at: str
    updated_at: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _addon(row: Any) -> Addon:
    return Addon(row[0], row[1], row[2], bool(row[3]), int(row[4]), row[5], row[6], row[7], row[8])


def load_addons(conn: Connection) -> list[Addon]:
    rows = conn.execute(f"SELECT {COLUMNS} FROM addons ORDER BY priority, created_at, id").fetchall()
    return [_addon(row) for row in rows]


def get_addon(conn: Connection, addon_id: str) -> Addon | None:
    row = conn.execute(f"SELECT {COLUMNS} FROM addons WHERE id = ?", (addon_id,)).fetchone()
    return _addon(row) if row else None


def insert_addon(conn: Connection, addon: Addon) -> None:
    conn.execute(
        f"INSERT INTO addons ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (addon.id, addon.name, addon.code, int(addon.enabled), addon.priority, addon.last_error,
         addon.disabled_reason, addon.created_at, addon.updated_at),
    )


def update_addon(conn: Connection, addon: Addon) -> bool:
    cursor = conn.execute(
        "UPDATE addons SET name = ?, code = ?, enabled = ?, priority = ?, last_error = ?, disabled_reason = ?,"
        " updated_at = ? WHERE id = ?",
        (addon.name, addon.code, int(addon.enabled), addon.priority, addon.last_error, addon.disabled_reason,
         addon.updated_at, addon.id),
    )
    return cursor.rowcount > 0


def disable_addon(conn: Connection, addon_id: str, error: str, reason: str, updated_at: str) -> Addon | None:
    conn.execute(
        "UPDATE addons SET enabled = 0, last_error = ?, disabled_reason = ?, updated_at = ? WHERE id = ?",
        (error, reason, updated_at, addon_id),
    )
    return get_addon(conn, addon_id)


def delete_addon(conn: Connection, addon_id: str) -> bool:
    return conn.execute("DELETE FROM addons WHERE id = ?", (addon_id,)).rowcount > 0


def set_last_errors(conn: Connection, errors: dict[str, str]) -> None:
    conn.executemany("UPDATE addons SET last_error = ? WHERE id = ?", [(e, i) for i, e in errors.items()])
