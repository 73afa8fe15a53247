"""The tagger's table: how many stored flows of each session carry each tag its rules gave.

Functions here take a connection and run on Ghost's store threads (`ghost.store.write(fn,
...)`, `ghost.store.read(fn, ...)`), never on the event loop. The table belongs to a session
(ON DELETE CASCADE), so deleting a session deletes its counts with it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ghost_addons.store.db import Connection

MIGRATION_OWNER = "tagger"

MIGRATIONS = [
    # 1: one row per (session, tag); counts only grow (a flow deleted later is not uncounted)
    """
    CREATE TABLE tagger_counts (
        session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
        tag TEXT NOT NULL,
        count INTEGER NOT NULL,
        PRIMARY KEY (session_id, tag)
    ) WITHOUT ROWID;
    """,
]


def add_counts(conn: Connection, counts: Iterable[tuple[str, str, int]]) -> None:
    """Add (session_id, tag, n) to the counts. A session deleted since its flows were
    stored is skipped: its counts went with it."""
    conn.executemany(
        "INSERT INTO tagger_counts (session_id, tag, count)"
        " SELECT ?1, ?2, ?3 WHERE EXISTS (SELECT 1 FROM sessions WHERE id = ?1)"
        " ON CONFLICT (session_id, tag) DO UPDATE SET count = count + excluded.count",
        list(counts),
    )


def read_counts(conn: Connection, session_id: str | None) -> dict[str, int]:
    """Tag -> count, for one session or (None) for all, sorted by tag."""
    if session_id is None:
        rows = conn.execute("SELECT tag, SUM(count) FROM tagger_counts GROUP BY tag ORDER BY tag")
    else:
        rows = conn.execute("SELECT tag, count FROM tagger_counts WHERE session_id = ? ORDER BY tag",
                            (session_id,))
    return {tag: count for tag, count in rows}
