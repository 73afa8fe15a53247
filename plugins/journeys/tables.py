"""The journeys plugin's tables and queries; every function runs on a store thread.

`interactions`, `journeys` and `journey_steps` follow the spec's schema: a session owns
its interactions and journeys (CASCADE), a journey owns its steps (CASCADE), and a step
outlives the flow or interaction it points at (SET NULL), so a journey keeps its shape
when old flows are purged.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson

from ghost_addons.ids import new_id
from ghost_addons.model import Flow, format_time, parse_time
from ghost_addons.store.db import Connection
from ghost_addons.store.flows import flow_from_row
from plugins.journeys.correlation import StepDraft
from plugins.journeys.model import Interaction, Journey, Step

MIGRATIONS: list[str] = [
    # 1: interactions, journeys and their steps
    """
    CREATE TABLE interactions (
        id TEXT PRIMARY KEY,
        session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
        journey_id TEXT NOT NULL DEFAULT '',
        type TEXT NOT NULL,
        selector TEXT NOT NULL DEFAULT '',
        element_text TEXT NOT NULL DEFAULT '',
        element_type TEXT NOT NULL DEFAULT '',
        page_url TEXT NOT NULL,
        page_title TEXT NOT NULL DEFAULT '',
        data TEXT NOT NULL DEFAULT '',
        attributes TEXT NOT NULL DEFAULT '{}',
        flow_id TEXT REFERENCES flows(id) ON DELETE SET NULL,
        timestamp DATETIME NOT NULL,
        created_at DATETIME NOT NULL
    );
    CREATE INDEX idx_interactions_session ON interactions(session_id, timestamp);
    CREATE INDEX idx_interactions_flow ON interactions(flow_id);
    CREATE TABLE journeys (
        id TEXT PRIMARY KEY,
        session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'recording',
        flow_count INTEGER DEFAULT 0,
        interaction_count INTEGER DEFAULT 0,
        started_at DATETIME NOT NULL,
        completed_at DATETIME,
        created_at DATETIME NOT NULL
    );
    CREATE INDEX idx_journeys_session_id ON journeys(session_id);
    CREATE TABLE journey_steps (
        id TEXT PRIMARY KEY,
        journey_id TEXT NOT NULL REFERENCES journeys(id) ON DELETE CASCADE,
        step_order INTEGER NOT NULL,
        type TEXT NOT NULL,
        interaction_id TEXT REFERENCES interactions(id) ON DELETE SET NULL,
        flow_id TEXT REFERENCES flows(id) ON DELETE SET NULL,
        data TEXT,
        timestamp DATETIME NOT NULL
    );
    CREATE INDEX idx_journey_steps_journey_order ON journey_steps(journey_id, step_order);
    CREATE INDEX idx_journey_steps_flow ON journey_steps(flow_id);
    CREATE INDEX idx_journey_steps_interaction ON journey_steps(interaction_id);
    """,
    # 2: screenshots of browser replays: the baselines later replays are compared with (the
    # spec's screenshot_baselines, keyed by journey + step), and each step's latest screenshot
    """
    CREATE TABLE screenshot_baselines (
        id TEXT PRIMARY KEY,
        journey_id TEXT REFERENCES journeys(id) ON DELETE SET NULL,
        step_order INTEGER NOT NULL,
        png BLOB NOT NULL,
        width INTEGER NOT NULL,
        height INTEGER NOT NULL,
        created_at DATETIME NOT NULL
    );
    CREATE UNIQUE INDEX idx_screenshot_baselines_journey_step ON screenshot_baselines(journey_id, step_order);
    CREATE TABLE journey_step_screenshots (
        journey_id TEXT NOT NULL REFERENCES journeys(id) ON DELETE CASCADE,
        step_order INTEGER NOT NULL,
        png BLOB NOT NULL,
        width INTEGER NOT NULL,
        height INTEGER NOT NULL,
        taken_at DATETIME NOT NULL,
        PRIMARY KEY (journey_id, step_order)
    );
    """,
]


def _time(value: str | None) -> datetime | None:
    return parse_time(value) if value else None


# --- journeys ---------------------------------------------------------------------------


def _journey(row: Any) -> Journey:
    return Journey(
        id=row["id"],
        session_id=row["session_id"],
        name=row["name"],
        status=row["status"],
        started_at=parse_time(row["started_at"]),
        created_at=parse_time(row["created_at"]),
        completed_at=_time(row["completed_at"]),
        flow_count=row["flow_count"] or 0,
        interaction_count=row["interaction_count"] or 0,
    )


def session_exists(conn: Connection, session_id: str) -> bool:
    return conn.execute("SELECT 1 FROM sessions WHERE id = ?", (session_id,)).fetchone() is not None


def insert_journey(conn: Connection, journey: Journey) -> None:
    conn.execute(
        "INSERT INTO journeys (id, session_id, name, status, flow_count, interaction_count,"
        " started_at, completed_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            journey.id, journey.session_id, journey.name, journey.status, journey.flow_count,
            journey.interaction_count, format_time(journey.started_at),
            format_time(journey.completed_at) if journey.completed_at else None,
            format_time(journey.created_at),
        ),
    )


def get_journey(conn: Connection, journey_id: str) -> Journey | None:
    row = conn.execute("SELECT * FROM journeys WHERE id = ?", (journey_id,)).fetchone()
    return _journey(row) if row else None


def list_journeys(conn: Connection, session_id: str) -> list[Journey]:
    rows = conn.execute(
        "SELECT * FROM journeys WHERE session_id = ? ORDER BY started_at DESC, id DESC", (session_id,)
    ).fetchall()
    return [_journey(r) for r in rows]


def rename_journey(conn: Connection, journey_id: str, name: str) -> Journey | None:
    """The journey under its new name; None when there is no such journey."""
    if conn.execute("UPDATE journeys SET name = ? WHERE id = ?", (name, journey_id)).rowcount == 0:
        return None
    return get_journey(conn, journey_id)


def delete_journey(conn: Connection, journey_id: str) -> bool:
    return conn.execute("DELETE FROM journeys WHERE id = ?", (journey_id,)).rowcount > 0


def finalize_steps(conn: Connection, journey_id: str) -> None:
    """Put a finished recording's steps in the order the user acted.

    Steps are written as they settle, but a flow is only known once its response has come
    back: a request slower than the settle window arrives after later events were written,
    and its interaction may already stand as an `interaction` step. So, once the recording
    ends: an `interaction` step whose interaction has an `action` step goes (it would be
    clicked twice), and the steps are renumbered by when they happened (a flow by when its
    request started)."""
    conn.execute(
        "DELETE FROM journey_steps WHERE journey_id = ? AND type = 'interaction' AND interaction_id IN"
        " (SELECT interaction_id FROM journey_steps WHERE journey_id = ? AND type = 'action')",
        (journey_id, journey_id),
    )
    ids = [row[0] for row in conn.execute(
        "SELECT id FROM journey_steps WHERE journey_id = ? ORDER BY timestamp, step_order, id", (journey_id,))]
    conn.executemany("UPDATE journey_steps SET step_order = ? WHERE id = ?",
                     [(order, step_id) for order, step_id in enumerate(ids, start=1)])


def complete_journey(conn: Connection, journey_id: str, at: datetime) -> Journey | None:
    """The spec's single UPDATE: status, completed_at and both counts from the steps (put in
    order first, `finalize_steps`)."""
    finalize_steps(conn, journey_id)
    conn.execute(
        "UPDATE journeys SET status = 'completed', completed_at = ?,"
        " flow_count = (SELECT COUNT(*) FROM journey_steps WHERE journey_id = ? AND flow_id IS NOT NULL),"
        " interaction_count = (SELECT COUNT(*) FROM journey_steps"
        "   WHERE journey_id = ? AND interaction_id IS NOT NULL)"
        " WHERE id = ?",
        (format_time(at), journey_id, journey_id, journey_id),
    )
    return get_journey(conn, journey_id)


def set_status(conn: Connection, journey_id: str, status: str, only_from: tuple[str, ...]) -> Journey | None:
    """Change the status if it is one of `only_from`; returns the journey after (None if absent)."""
    marks = ", ".join("?" for _ in only_from)
    conn.execute(
        f"UPDATE journeys SET status = ? WHERE id = ? AND status IN ({marks})",
        (status, journey_id, *only_from),
    )
    return get_journey(conn, journey_id)


def recover_orphans(conn: Connection) -> dict[str, list[str]]:
    """At start-up: recordings nobody will finish become `failed`; an interrupted replay
    leaves its journey `completed` again. Returns the ids changed, by new status."""
    failed = [r[0] for r in conn.execute("SELECT id FROM journeys WHERE status = 'recording'")]
    replayed = [r[0] for r in conn.execute("SELECT id FROM journeys WHERE status = 'replaying'")]
    conn.execute("UPDATE journeys SET status = 'failed' WHERE status = 'recording'")
    conn.execute("UPDATE journeys SET status = 'completed' WHERE status = 'replaying'")
    # Baselines whose journey was deleted with its session (SET NULL) can never be compared again.
    conn.execute("DELETE FROM screenshot_baselines WHERE journey_id IS NULL")
    return {"failed": failed, "completed": replayed}


# --- steps -----------------------------------------------------------------------------------


def _step(row: Any) -> Step:
    return Step(
        id=row["id"],
        journey_id=row["journey_id"],
        step_order=row["step_order"],
        type=row["type"],
        interaction_id=row["interaction_id"],
        flow_id=row["flow_id"],
        data=row["data"] or "",
        timestamp=parse_time(row["timestamp"]),
    )


def next_step_order(conn: Connection, journey_id: str) -> int:
    row = conn.execute(
        "SELECT COALESCE(MAX(step_order), 0) FROM journey_steps WHERE journey_id = ?", (journey_id,)
    ).fetchone()
    return int(row[0]) + 1


def insert_steps(conn: Connection, journey_id: str, drafts: list[StepDraft]) -> list[Step]:
    """Store drafted steps; an action also marks its interaction with its first flow."""
    steps = [
        Step(
            id=new_id(),
            journey_id=journey_id,
            step_order=d.step_order,
            type=d.type,
            interaction_id=d.interaction_id,
            flow_id=d.flow_id,
            data=orjson.dumps(d.data).decode(),
            timestamp=d.timestamp,
        )
        for d in drafts
    ]
    # A flow or interaction deleted meanwhile leaves the step in place without it.
    flows = {s.flow_id for s in steps if s.flow_id}
    interactions = {s.interaction_id for s in steps if s.interaction_id}
    live_flows = _existing(conn, "flows", flows)
    live_interactions = _existing(conn, "interactions", interactions)
    for step in steps:
        if step.flow_id and step.flow_id not in live_flows:
            step.flow_id = None
        if step.interaction_id and step.interaction_id not in live_interactions:
            step.interaction_id = None
    conn.executemany(
        "INSERT INTO journey_steps (id, journey_id, step_order, type, interaction_id, flow_id, data, timestamp)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (s.id, s.journey_id, s.step_order, s.type, s.interaction_id, s.flow_id, s.data,
             format_time(s.timestamp))
            for s in steps
        ],
    )
    conn.executemany(
        "UPDATE interactions SET flow_id = ? WHERE id = ? AND flow_id IS NULL",
        [(s.flow_id, s.interaction_id) for s in steps if s.flow_id and s.interaction_id],
    )
    return steps


def _existing(conn: Connection, table: str, ids: set[str]) -> set[str]:
    if not ids:
        return set()
    wanted = list(ids)
    found: set[str] = set()
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        marks = ", ".join("?" for _ in chunk)
        found.update(r[0] for r in conn.execute(f"SELECT id FROM {table} WHERE id IN ({marks})", chunk))
    return found


def journey_flows(conn: Connection, journey_id: str) -> dict[str, Flow]:
    """The full flows (bodies included) the journey's steps point at, by id: one query
    however many steps (an export of 500 steps is not 1,000 round trips)."""
    rows = conn.execute(
        "SELECT f.*, b.request_body, b.response_body FROM flows f LEFT JOIN flow_bodies b ON b.flow_id = f.id"
        " WHERE f.id IN (SELECT flow_id FROM journey_steps WHERE journey_id = ? AND flow_id IS NOT NULL)",
        (journey_id,),
    ).fetchall()
    return {r["id"]: flow_from_row(r, r if r["request_body"] is not None else None) for r in rows}


def journey_interactions(conn: Connection, journey_id: str) -> dict[str, Interaction]:
    """The interactions the journey's steps point at, by id, in one query."""
    rows = conn.execute(
        "SELECT * FROM interactions WHERE id IN"
        " (SELECT interaction_id FROM journey_steps WHERE journey_id = ? AND interaction_id IS NOT NULL)",
        (journey_id,),
    ).fetchall()
    return {r["id"]: _interaction(r) for r in rows}


def list_steps(conn: Connection, journey_id: str) -> list[Step]:
    rows = conn.execute(
        "SELECT * FROM journey_steps WHERE journey_id = ? ORDER BY step_order, id", (journey_id,)
    ).fetchall()
    return [_step(r) for r in rows]


# --- interactions ---------------------------------------------------------------------------------


def _interaction(row: Any) -> Interaction:
    return Interaction(
        id=row["id"],
        session_id=row["session_id"],
        type=row["type"],
        page_url=row["page_url"],
        timestamp=parse_time(row["timestamp"]),
        selector=row["selector"],
        element_text=row["element_text"],
        element_type=row["element_type"],
        page_title=row["page_title"],
        data=row["data"],
        attributes=orjson.loads(row["attributes"] or "{}"),
        journey_id=row["journey_id"],
        flow_id=row["flow_id"] or "",
    )


def insert_interaction(conn: Connection, interaction: Interaction, created_at: datetime) -> bool:
    """Store an interaction; False when its id is already stored (the extension resent it)."""
    cursor = conn.execute(
        "INSERT OR IGNORE INTO interactions (id, session_id, journey_id, type, selector, element_text,"
        " element_type, page_url, page_title, data, attributes, flow_id, timestamp, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            interaction.id, interaction.session_id, interaction.journey_id, interaction.type,
            interaction.selector, interaction.element_text, interaction.element_type,
            interaction.page_url, interaction.page_title, interaction.data,
            orjson.dumps(interaction.attributes).decode(), interaction.flow_id or None,
            format_time(interaction.timestamp), format_time(created_at),
        ),
    )
    return cursor.rowcount > 0


def get_interaction(conn: Connection, interaction_id: str) -> Interaction | None:
    row = conn.execute("SELECT * FROM interactions WHERE id = ?", (interaction_id,)).fetchone()
    return _interaction(row) if row else None


def list_interactions(
    conn: Connection, session_id: str, flow_id: str = "", limit: int = 100, offset: int = 0
) -> list[Interaction]:
    sql = "SELECT * FROM interactions WHERE session_id = ?"
    args: list[Any] = [session_id]
    if flow_id:
        sql += " AND flow_id = ?"
        args.append(flow_id)
    sql += " ORDER BY timestamp, id LIMIT ? OFFSET ?"
    args += [limit, offset]
    return [_interaction(r) for r in conn.execute(sql, args).fetchall()]


# --- screenshots of browser replays ------------------------------------------------------------


def get_baseline(conn: Connection, journey_id: str, step_order: int) -> bytes | None:
    row = conn.execute("SELECT png FROM screenshot_baselines WHERE journey_id = ? AND step_order = ?",
                       (journey_id, step_order)).fetchone()
    return bytes(row[0]) if row else None


def put_baseline(conn: Connection, journey_id: str, step_order: int, png: bytes, width: int, height: int,
                 moment: datetime) -> None:
    conn.execute("DELETE FROM screenshot_baselines WHERE journey_id = ? AND step_order = ?", (journey_id, step_order))
    conn.execute(
        "INSERT INTO screenshot_baselines (id, journey_id, step_order, png, width, height, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        (new_id(), journey_id, step_order, png, width, height, format_time(moment)),
    )


def list_baselines(conn: Connection, journey_id: str) -> list[dict[str, Any]]:
    rows = conn.execute(
        "SELECT step_order, width, height, length(png) AS size, created_at FROM screenshot_baselines"
        " WHERE journey_id = ? ORDER BY step_order", (journey_id,)).fetchall()
    return [{"step_order": r["step_order"], "width": r["width"], "height": r["height"], "size": r["size"],
             "created_at": r["created_at"]} for r in rows]


def delete_baselines(conn: Connection, journey_id: str, step_order: int | None = None) -> int:
    if step_order is None:
        cursor = conn.execute("DELETE FROM screenshot_baselines WHERE journey_id = ?", (journey_id,))
    else:
        cursor = conn.execute("DELETE FROM screenshot_baselines WHERE journey_id = ? AND step_order = ?",
                              (journey_id, step_order))
    return cursor.rowcount


def put_screenshot(conn: Connection, journey_id: str, step_order: int, png: bytes, width: int, height: int,
                   moment: datetime) -> None:
    conn.execute(
        "INSERT OR REPLACE INTO journey_step_screenshots (journey_id, step_order, png, width, height, taken_at)"
        " VALUES (?, ?, ?, ?, ?, ?)", (journey_id, step_order, png, width, height, format_time(moment)))


def get_screenshot(conn: Connection, journey_id: str, step_order: int) -> bytes | None:
    row = conn.execute("SELECT png FROM journey_step_screenshots WHERE journey_id = ? AND step_order = ?",
                       (journey_id, step_order)).fetchone()
    return bytes(row[0]) if row else None
