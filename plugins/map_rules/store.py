"""Map rules in the database: the table, and reading and writing rules (run on store threads)."""

from __future__ import annotations

import base64
import logging
from typing import Any

import orjson
import regex

from ghost_addons.store.db import Connection
from plugins.map_rules.rules import Config, LocalConfig, MapRule, RemoteConfig, RewriteConfig

log = logging.getLogger("ghost.map_rules")

MIGRATIONS = [
    """
    CREATE TABLE map_rules (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL DEFAULT '',
        type TEXT NOT NULL CHECK (type IN ('local', 'remote', 'rewrite')),
        enabled INTEGER NOT NULL DEFAULT 1,
        priority INTEGER NOT NULL DEFAULT 0,
        host_pattern TEXT NOT NULL DEFAULT '',
        path_pattern TEXT NOT NULL DEFAULT '',
        method TEXT NOT NULL DEFAULT '',
        config TEXT NOT NULL DEFAULT '{}',
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE INDEX idx_map_rules_order ON map_rules(priority, created_at, id);
    """,
    # why Ghost switched a rule off (regex timeouts), and the error that led there
    """
    ALTER TABLE map_rules ADD COLUMN last_error TEXT NOT NULL DEFAULT '';
    ALTER TABLE map_rules ADD COLUMN disabled_reason TEXT NOT NULL DEFAULT '';
    """,
]

ORDER = "ORDER BY priority, created_at, id"


def _config_from(rule_type: str, raw: dict[str, Any]) -> Config:
    if rule_type == "local":
        is_text = raw.get("body_encoding", "utf8") != "base64"
        text = raw.get("body", "")
        return LocalConfig(
            status_code=int(raw.get("status_code", 200)),
            content_type=raw.get("content_type", ""),
            file_path=raw.get("file_path", ""),
            body=text.encode("utf-8") if is_text else base64.b64decode(text),
            body_is_text=is_text,
            headers=dict(raw.get("headers") or {}),
        )
    if rule_type == "remote":
        return RemoteConfig(
            remote_url=raw["remote_url"],
            preserve_path=bool(raw.get("preserve_path", True)),
            preserve_query=bool(raw.get("preserve_query", True)),
        )
    return RewriteConfig(
        target=raw["target"],
        match=raw.get("match", ""),
        replace=raw.get("replace", ""),
        header_name=raw.get("header_name", ""),
    )


def rule_from_row(row: Any) -> MapRule:
    """A stored rule. Not re-validated against the file system: a map-local file that went
    missing answers 404 when served, it does not make the rule vanish."""
    return MapRule(
        id=row["id"],
        type=row["type"],
        config=_config_from(row["type"], orjson.loads(row["config"])),
        name=row["name"],
        enabled=bool(row["enabled"]),
        priority=row["priority"],
        host_pattern=row["host_pattern"],
        path_pattern=row["path_pattern"],
        method=row["method"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        last_error=row["last_error"],
        disabled_reason=row["disabled_reason"],
    )


def load_rules(conn: Connection) -> list[MapRule]:
    rules = []
    for row in conn.execute(f"SELECT * FROM map_rules {ORDER}"):
        try:
            rules.append(rule_from_row(row))
        except (KeyError, ValueError, TypeError, RecursionError, regex.error) as e:
            log.error("map rule %s in the database cannot be read and is skipped: %s", row["id"], e)
    return rules


def _values(rule: MapRule) -> tuple[Any, ...]:
    return (
        rule.name,
        rule.type,
        int(rule.enabled),
        rule.priority,
        rule.host_pattern,
        rule.path_pattern,
        rule.method,
        orjson.dumps(rule.config.to_dict()).decode(),
        rule.created_at,
        rule.updated_at,
        rule.last_error,
        rule.disabled_reason,
    )


def insert_rule(conn: Connection, rule: MapRule) -> None:
    conn.execute(
        "INSERT INTO map_rules (name, type, enabled, priority, host_pattern, path_pattern, method, config,"
        " created_at, updated_at, last_error, disabled_reason, id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (*_values(rule), rule.id),
    )


def update_rule(conn: Connection, rule: MapRule) -> bool:
    cursor = conn.execute(
        "UPDATE map_rules SET name = ?, type = ?, enabled = ?, priority = ?, host_pattern = ?,"
        " path_pattern = ?, method = ?, config = ?, created_at = ?, updated_at = ?, last_error = ?,"
        " disabled_reason = ? WHERE id = ?",
        (*_values(rule), rule.id),
    )
    return cursor.rowcount > 0


def delete_rule(conn: Connection, rule_id: str) -> bool:
    return conn.execute("DELETE FROM map_rules WHERE id = ?", (rule_id,)).rowcount > 0
