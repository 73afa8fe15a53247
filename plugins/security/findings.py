"""The findings table: one row per check and endpoint (or per check and host, site-wide),
its migration, and the functions that write and read it (each takes a connection and runs
on the store's writer or a reader thread).

The dedupe key is session + check + host + method + path template; a site-wide check
uses ``*`` for method and template, so the same missing header on 300 paths is one row,
and `security_finding_endpoints` remembers the endpoints it was seen on (its ``count``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ghost_addons.ids import new_id

if TYPE_CHECKING:
    from ghost_addons.store.db import Connection

MIGRATION_OWNER = "security"
SITE_WIDE = "*"
SEVERITY_ORDER = {"high": 0, "medium": 1, "low": 2, "info": 3}

MIGRATIONS = [
    # 1: findings, deduplicated by (session, check, host, method, path template)
    """
    CREATE TABLE security_findings (
        id TEXT PRIMARY KEY,
        session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
        check_name TEXT NOT NULL,
        host TEXT NOT NULL,
        method TEXT NOT NULL,
        path_template TEXT NOT NULL,
        scope TEXT NOT NULL,
        title TEXT NOT NULL,
        severity TEXT NOT NULL,
        severity_rank INTEGER NOT NULL,
        confidence TEXT NOT NULL,
        remediation TEXT NOT NULL,
        cwe INTEGER NOT NULL DEFAULT 0,
        flow_id TEXT NOT NULL,
        url TEXT NOT NULL,
        location TEXT NOT NULL,
        evidence TEXT NOT NULL,
        occurrences INTEGER NOT NULL DEFAULT 1,
        first_seen TEXT NOT NULL,
        last_seen TEXT NOT NULL,
        UNIQUE (session_id, check_name, host, method, path_template)
    );
    CREATE INDEX security_findings_by_rank ON security_findings (severity_rank, first_seen);
    CREATE TABLE security_finding_endpoints (
        finding_id TEXT NOT NULL REFERENCES security_findings(id) ON DELETE CASCADE,
        method TEXT NOT NULL,
        path_template TEXT NOT NULL,
        PRIMARY KEY (finding_id, method, path_template)
    ) WITHOUT ROWID;
    """,
]


@dataclass(frozen=True, slots=True)
class Hit:
    """One check's evidence in one stored flow, before it is merged into a finding."""

    check: str
    title: str
    severity: str
    confidence: str
    remediation: str
    cwe: int
    scope: str
    session_id: str
    flow_id: str
    host: str
    method: str
    template: str
    url: str
    location: str
    evidence: str
    seen_at: str

    @property
    def key(self) -> tuple[str, str, str, str, str]:
        if self.scope == "site":
            return (self.session_id, self.check, self.host, SITE_WIDE, SITE_WIDE)
        return (self.session_id, self.check, self.host, self.method, self.template)


def add_hits(conn: Connection, hits: Sequence[Hit]) -> list[dict[str, Any]]:
    """Merge hits into the findings; returns the findings this call created (for
    ``finding.created``). A hit for a session deleted meanwhile is dropped with it."""
    created: list[dict[str, Any]] = []
    for hit in hits:
        row = conn.execute(
            "SELECT id FROM security_findings WHERE session_id = ? AND check_name = ? AND host = ?"
            " AND method = ? AND path_template = ?", hit.key).fetchone()
        if row is not None:
            finding_id = row[0]
            conn.execute("UPDATE security_findings SET occurrences = occurrences + 1, last_seen = ? WHERE id = ?",
                         (hit.seen_at, finding_id))
        else:
            if conn.execute("SELECT 1 FROM sessions WHERE id = ?", (hit.session_id,)).fetchone() is None:
                continue
            finding_id = new_id()
            _, _, _, method, template = hit.key
            conn.execute(
                "INSERT INTO security_findings (id, session_id, check_name, host, method, path_template, scope,"
                " title, severity, severity_rank, confidence, remediation, cwe, flow_id, url, location, evidence,"
                " first_seen, last_seen) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (finding_id, hit.session_id, hit.check, hit.host, method, template, hit.scope, hit.title,
                 hit.severity, SEVERITY_ORDER[hit.severity], hit.confidence, hit.remediation, hit.cwe,
                 hit.flow_id, hit.url, hit.location, hit.evidence, hit.seen_at, hit.seen_at))
            created.append(finding_id)  # type: ignore[arg-type]
        conn.execute("INSERT OR IGNORE INTO security_finding_endpoints (finding_id, method, path_template)"
                     " VALUES (?, ?, ?)", (finding_id, hit.method, hit.template))
    return read_findings(conn, ids=created) if created else []


_COLUMNS = ("f.id, f.session_id, f.check_name, f.host, f.method, f.path_template, f.scope, f.title, f.severity,"
            " f.confidence, f.remediation, f.cwe, f.flow_id, f.url, f.location, f.evidence, f.occurrences,"
            " f.first_seen, f.last_seen,"
            " (SELECT COUNT(*) FROM security_finding_endpoints e WHERE e.finding_id = f.id)")


def finding_dict(row: Sequence[Any]) -> dict[str, Any]:
    (fid, session_id, check, host, method, template, scope, title, severity, confidence, remediation, cwe,
     flow_id, url, location, evidence, occurrences, first_seen, last_seen, endpoints) = row
    return {
        "id": fid, "session_id": session_id, "check": check, "title": title, "severity": severity,
        "confidence": confidence, "scope": scope, "host": host, "method": method, "path": template,
        "count": endpoints, "occurrences": occurrences,
        "evidence": {"flow_id": flow_id, "url": url, "where": location, "snippet": evidence},
        "remediation": remediation, "cwe": cwe, "first_seen": first_seen, "last_seen": last_seen,
    }


@dataclass(frozen=True, slots=True)
class FindingQuery:
    session_id: str | None = None
    severities: tuple[str, ...] = ()
    checks: tuple[str, ...] = ()
    host: str | None = None
    limit: int = 1000
    offset: int = 0


def _where(query: FindingQuery) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    args: list[Any] = []
    if query.session_id is not None:
        clauses.append("f.session_id = ?")
        args.append(query.session_id)
    for column, values in (("f.severity", query.severities), ("f.check_name", query.checks)):
        if values:
            clauses.append(f"{column} IN ({','.join('?' * len(values))})")
            args.extend(values)
    if query.host is not None:
        clauses.append("f.host = ? COLLATE NOCASE")
        args.append(query.host)
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", args


def read_findings(conn: Connection, query: FindingQuery | None = None,
                  ids: Iterable[str] = ()) -> list[dict[str, Any]]:
    """Findings, most severe first, then oldest first."""
    ids = list(ids)
    if ids:
        rows = conn.execute(f"SELECT {_COLUMNS} FROM security_findings f WHERE f.id IN ({','.join('?' * len(ids))})"
                            " ORDER BY f.severity_rank, f.first_seen, f.id", ids).fetchall()
        return [finding_dict(r) for r in rows]
    query = query or FindingQuery()
    where, args = _where(query)
    rows = conn.execute(f"SELECT {_COLUMNS} FROM security_findings f{where}"
                        " ORDER BY f.severity_rank, f.first_seen, f.id LIMIT ? OFFSET ?",
                        [*args, query.limit, query.offset]).fetchall()
    return [finding_dict(r) for r in rows]


def count_findings(conn: Connection, query: FindingQuery) -> int:
    where, args = _where(query)
    return int(conn.execute(f"SELECT COUNT(*) FROM security_findings f{where}", args).fetchone()[0])
