"""Compare two sessions endpoint by endpoint.

Endpoints with the same method, host and path template match directly. The rest are
matched by nearest shape vector (sqlite-vec, cosine distance) among endpoints of the same
method, so a renamed query parameter or an id the template missed does not turn one
endpoint into an "added" and a "removed" one.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlite_vec import serialize_float32

from ghost_addons.store import db
from plugins.compare.endpoints import SHAPE_DIMENSIONS, Endpoint

MATCH_DISTANCE = 0.2
NEIGHBOURS = 5


@dataclass(frozen=True, slots=True)
class Thresholds:
    size_ratio: float = 0.2  # a median response size change above 20%...
    size_min_bytes: int = 100  # ...and above 100 bytes
    timing_ratio: float = 0.5  # a median duration change above 50%...
    timing_min_ms: float = 50.0  # ...and above 50 ms


def similar_pairs(left: list[Endpoint], right: list[Endpoint],
                  max_distance: float = MATCH_DISTANCE) -> list[tuple[Endpoint, Endpoint, float]]:
    """Pair endpoints of ``right`` with their nearest same-method endpoint of ``left``
    by shape (greedy, closest first, each endpoint used once)."""
    if not left or not right:
        return []
    conn = db.connect(Path(":memory:"))
    try:
        conn.execute(f"CREATE VIRTUAL TABLE shapes USING vec0("
                     f"embedding float[{SHAPE_DIMENSIONS}] distance_metric=cosine)")
        conn.executemany("INSERT INTO shapes(rowid, embedding) VALUES (?, ?)",
                         [(i, serialize_float32(e.shape())) for i, e in enumerate(left)])
        k = min(NEIGHBOURS, len(left))
        candidates: list[tuple[float, int, int]] = []
        for j, endpoint in enumerate(right):
            rows = conn.execute(
                "SELECT rowid, distance FROM shapes WHERE embedding MATCH ? AND k = ? "
                "ORDER BY distance", (serialize_float32(endpoint.shape()), k)).fetchall()
            for row in rows:
                i, distance = int(row[0]), float(row[1])
                if distance <= max_distance and left[i].method == endpoint.method:
                    candidates.append((distance, i, j))
    finally:
        conn.close()
    candidates.sort()
    used_left: set[int] = set()
    used_right: set[int] = set()
    pairs = []
    for distance, i, j in candidates:
        if i in used_left or j in used_right:
            continue
        used_left.add(i)
        used_right.add(j)
        pairs.append((left[i], right[j], round(distance, 4)))
    return pairs


def endpoint_changes(a: Endpoint, b: Endpoint, t: Thresholds) -> list[str]:
    changes = []
    if a.host != b.host:
        changes.append("host")
    if a.template != b.template:
        changes.append("path")
    if set(a.query_names) != set(b.query_names):
        changes.append("query")
    if a.status != b.status:
        changes.append("status")
    size_a, size_b = a.median_size, b.median_size
    if abs(size_b - size_a) > t.size_min_bytes and abs(size_b - size_a) > t.size_ratio * max(size_a, 1):
        changes.append("size")
    dur_a, dur_b = a.median_duration_ms, b.median_duration_ms
    if abs(dur_b - dur_a) > t.timing_min_ms and abs(dur_b - dur_a) > t.timing_ratio * max(dur_a, 0.001):
        changes.append("timing")
    return changes


def compare_endpoints(a: dict[tuple[str, str, str], Endpoint],
                      b: dict[tuple[str, str, str], Endpoint],
                      thresholds: Thresholds | None = None) -> dict[str, Any]:
    """What changed from session A to session B."""
    t = thresholds or Thresholds()
    pairs: list[tuple[Endpoint, Endpoint, str, float]] = [
        (a[key], b[key], "exact", 0.0) for key in a if key in b]
    only_a = [e for key, e in a.items() if key not in b]
    only_b = [e for key, e in b.items() if key not in a]
    for ea, eb, distance in similar_pairs(only_a, only_b):
        pairs.append((ea, eb, "similar", distance))
    matched_a = {id(p[0]) for p in pairs}
    matched_b = {id(p[1]) for p in pairs}
    changed = []
    unchanged = 0
    for ea, eb, how, distance in pairs:
        changes = endpoint_changes(ea, eb, t)
        if not changes:
            unchanged += 1
            continue
        changed.append({
            "method": eb.method,
            "path": eb.template,
            "host": eb.host,
            "match": how,
            "distance": distance,
            "changes": changes,
            "a": ea.summary(),
            "b": eb.summary(),
        })
    def order(e: dict[str, Any]) -> tuple[str, str, str]:
        return (e["host"], e["path"], e["method"])
    return {
        "added": sorted((e.summary() for e in only_b if id(e) not in matched_b), key=order),
        "removed": sorted((e.summary() for e in only_a if id(e) not in matched_a), key=order),
        "changed": sorted(changed, key=order),
        "unchanged": unchanged,
        "thresholds": {"size_ratio": t.size_ratio, "size_min_bytes": t.size_min_bytes,
                       "timing_ratio": t.timing_ratio, "timing_min_ms": t.timing_min_ms,
                       "match_distance": MATCH_DISTANCE},
    }
