"""The devices query: flows grouped by the device their metadata names (runs on a reader)."""

from __future__ import annotations

from typing import Any

from ghost_addons.store.db import Connection


def list_devices(conn: Connection, session_id: str, limit: int) -> list[dict[str, Any]]:
    """Devices seen in a session (`all`: every session), most recently seen first; a device's
    name is the one of its latest flow."""
    where, params = "json_extract(metadata, '$.device.id') IS NOT NULL", []
    if session_id != "all":
        where += " AND session_id = ?"
        params.append(session_id)
    rows = conn.execute(
        "SELECT json_extract(metadata, '$.device.id') AS id, json_extract(metadata, '$.device.name') AS name, "
        "count(*) AS flow_count, min(started_at) AS first_seen, max(started_at) AS last_seen "
        f"FROM flows WHERE {where} GROUP BY 1, 2",
        params,
    ).fetchall()
    devices: dict[str, dict[str, Any]] = {}
    for r in sorted(rows, key=lambda r: r["last_seen"]):
        device = devices.setdefault(r["id"], {"id": r["id"], "name": "", "flow_count": 0,
                                              "first_seen": r["first_seen"], "last_seen": r["last_seen"]})
        device["flow_count"] += r["flow_count"]
        device["first_seen"] = min(device["first_seen"], r["first_seen"])
        device["last_seen"] = r["last_seen"]
        device["name"] = r["name"] or device["name"]
    return sorted(devices.values(), key=lambda d: d["last_seen"], reverse=True)[:limit]
