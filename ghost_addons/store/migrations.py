"""Numbered schema migrations: the core's, then each plugin's (`ghost_migrations` hook).

Every migration runs once, in order, in its own transaction, and is recorded in
`schema_migrations` under its owner's name. Append new migrations; never edit old ones.
"""

from __future__ import annotations

from collections.abc import Iterable

from ghost_addons.store import search, websockets
from ghost_addons.store.db import Connection

CORE = "core"

CORE_MIGRATIONS: list[str] = [
    # 1: sessions, flows (bodies apart so list queries never touch them), artifacts, kv
    """
    CREATE TABLE sessions (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        description TEXT NOT NULL DEFAULT '',
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE TABLE flows (
        id TEXT PRIMARY KEY,
        session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
        started_at TEXT NOT NULL,
        duration_us INTEGER NOT NULL DEFAULT 0,
        method TEXT NOT NULL,
        url TEXT NOT NULL,
        scheme TEXT NOT NULL,
        host TEXT NOT NULL,
        port INTEGER NOT NULL,
        path TEXT NOT NULL,
        http_version TEXT NOT NULL,
        request_headers TEXT NOT NULL,
        request_body_size INTEGER NOT NULL DEFAULT 0,
        status_code INTEGER,
        status_text TEXT,
        response_http_version TEXT,
        response_headers TEXT,
        response_body_size INTEGER,
        content_type TEXT NOT NULL DEFAULT '',
        timings TEXT,
        error TEXT NOT NULL DEFAULT '',
        client_addr TEXT NOT NULL DEFAULT '',
        server_addr TEXT NOT NULL DEFAULT '',
        tags TEXT NOT NULL DEFAULT '[]',
        metadata TEXT NOT NULL DEFAULT '{}',
        source TEXT NOT NULL DEFAULT 'proxy',
        interaction_id TEXT NOT NULL DEFAULT '',
        annotation TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX idx_flows_session_id ON flows(session_id, id);
    CREATE TABLE flow_bodies (
        flow_id TEXT PRIMARY KEY REFERENCES flows(id) ON DELETE CASCADE,
        request_body BLOB NOT NULL,
        response_body BLOB
    );
    CREATE TABLE artifacts (
        id TEXT PRIMARY KEY,
        type TEXT NOT NULL,
        title TEXT NOT NULL DEFAULT '',
        summary TEXT NOT NULL DEFAULT '',
        format TEXT NOT NULL,
        device_id TEXT NOT NULL DEFAULT '',
        device_name TEXT NOT NULL DEFAULT '',
        session_id TEXT REFERENCES sessions(id) ON DELETE SET NULL,
        size_bytes INTEGER NOT NULL,
        metadata TEXT NOT NULL DEFAULT '{}',
        content BLOB NOT NULL,
        created_at TEXT NOT NULL
    );
    CREATE INDEX idx_artifacts_session ON artifacts(session_id, created_at);
    CREATE TABLE kv (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    """,
    # 2: the full-text index of headers and bodies (see store/search.py), existing flows included
    search.INDEX_TABLES_SQL + search.INDEX_EXISTING_SQL,
    # 3: the fields GQL filters on most, per session, each ending in the flow id: `host:x` or
    # `method:DELETE` is read newest first straight off its index, with no sort, and a count
    # reads the index alone. Host and path fold case as GQL does, so a glob's fixed start is
    # a range of the index.
    """
    CREATE INDEX idx_flows_session_host ON flows(session_id, host COLLATE NOCASE, id);
    CREATE INDEX idx_flows_session_path ON flows(session_id, path COLLATE NOCASE, id);
    CREATE INDEX idx_flows_session_method ON flows(session_id, method, id);
    CREATE INDEX idx_flows_session_status ON flows(session_id, status_code, id);
    CREATE INDEX idx_flows_session_duration ON flows(session_id, duration_us, id);
    -- Tags, one row each, kept by triggers: `tag:x` reads its rows instead of parsing the
    -- JSON of every flow of the session.
    CREATE TABLE flow_tags (
        tag TEXT NOT NULL, flow_id TEXT NOT NULL REFERENCES flows(id) ON DELETE CASCADE,
        PRIMARY KEY (tag, flow_id)
    ) WITHOUT ROWID;
    CREATE INDEX idx_flow_tags_flow ON flow_tags(flow_id);
    CREATE TRIGGER flow_tags_insert AFTER INSERT ON flows WHEN new.tags != '[]' BEGIN
        INSERT OR IGNORE INTO flow_tags (tag, flow_id) SELECT value, new.id FROM json_each(new.tags);
    END;
    CREATE TRIGGER flow_tags_update AFTER UPDATE OF tags ON flows BEGIN
        DELETE FROM flow_tags WHERE flow_id = new.id;
        INSERT OR IGNORE INTO flow_tags (tag, flow_id) SELECT value, new.id FROM json_each(new.tags);
    END;
    INSERT OR IGNORE INTO flow_tags (tag, flow_id)
        SELECT j.value, f.id FROM flows f, json_each(f.tags) j WHERE f.tags != '[]';
    ANALYZE;
    """,
    # 4: WebSocket messages of a flow, and its totals (stored, dropped for the caps)
    websockets.MIGRATION_SQL,
]


def apply(conn: Connection, owners: Iterable[tuple[str, list[str]]]) -> list[str]:
    """Apply what is missing; returns the names `owner#N` applied now."""
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        " owner TEXT NOT NULL, version INTEGER NOT NULL, applied_at TEXT NOT NULL"
        " DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')), PRIMARY KEY (owner, version))"
    )
    applied_now = []
    for owner, statements in owners:
        done = {
            row[0]
            for row in conn.execute(
                "SELECT version FROM schema_migrations WHERE owner = ?", (owner,)
            )
        }
        for version, sql in enumerate(statements, start=1):
            if version in done:
                continue
            try:
                conn.executescript(f"BEGIN IMMEDIATE;\n{sql}\n;")
                conn.execute(
                    "INSERT INTO schema_migrations (owner, version) VALUES (?, ?)",
                    (owner, version),
                )
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            applied_now.append(f"{owner}#{version}")
    return applied_now
