"""Injection rules in the database (run on store threads). Rules belong to a session and go
when it is deleted."""

from __future__ import annotations

import logging
import re
from typing import Any

from ghost_addons.store.db import Connection
from plugins.injection.rules import InjectionRule

log = logging.getLogger("ghost.injection")

MIGRATIONS = [
    """
    CREATE TABLE injection_rules (
        id TEXT PRIMARY KEY,
        session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
        name TEXT NOT NULL DEFAULT '',
        url_pattern TEXT NOT NULL,
        script TEXT NOT NULL DEFAULT '',
        enabled INTEGER NOT NULL DEFAULT 1,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE INDEX idx_injection_rules_session ON injection_rules(session_id, created_at);
    """,
]


def rule_from_row(row: Any) -> InjectionRule:
    return InjectionRule(
        id=row["id"],
        session_id=row["session_id"],
        name=row["name"],
        url_pattern=row["url_pattern"],
        script=row["script"],
        enabled=bool(row["enabled"]),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def load_rules(conn: Connection) -> list[InjectionRule]:
    rules = []
    for row in conn.execute("SELECT * FROM injection_rules ORDER BY session_id, created_at, id"):
        try:
            rules.append(rule_from_row(row))
        except (ValueError, re.error) as e:
            log.error("injection rule %s in the database cannot be read and is skipped: %s", row["id"], e)
    return rules


def session_exists(conn: Connection, session_id: str) -> bool:
    return conn.execute("SELECT 1 FROM sessions WHERE id = ?", (session_id,)).fetchone() is not None


def insert_rule(conn: Connection, rule: InjectionRule) -> None:
    conn.execute(
        "INSERT INTO injection_rules (id, session_id, name, url_pattern, script, enabled, created_at, updated_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (rule.id, rule.session_id, rule.name, rule.url_pattern, rule.script, int(rule.enabled),
         rule.created_at, rule.updated_at),
    )


def update_rule(conn: Connection, rule: InjectionRule) -> bool:
    cursor = conn.execute(
        "UPDATE injection_rules SET name = ?, url_pattern = ?, script = ?, enabled = ?, updated_at = ?"
        " WHERE id = ?",
        (rule.name, rule.url_pattern, rule.script, int(rule.enabled), rule.updated_at, rule.id),
    )
    return cursor.rowcount > 0


def delete_rule(conn: Connection, rule_id: str) -> bool:
    return conn.execute("DELETE FROM injection_rules WHERE id = ?", (rule_id,)).rowcount > 0
