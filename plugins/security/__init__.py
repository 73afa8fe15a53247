"""Security: passive checks on the stored flows of `security.target_hosts`, deduplicated
into findings (`GET /api/v1/security/findings`, SARIF, the HTML report, `finding.created`).

The scanner is the last stage of the pipeline and never on the proxy's path: it runs from
`ghost_flow_stored`, in this plugin's own lane, with the checks run in a worker thread.
Findings are written in one transaction every `FLUSH_SECS`, never one per flow, so the
scanner costs the store's writer one small write a half-second at most. Repetitive
traffic is sampled: an endpoint answering the same way (status, query parameter names)
is looked at once every `RESCAN_SECS`, which is what keeps a flood of identical requests
(a load test through Ghost) from costing a scan each. Checks come from the
`ghost_security_checks` hook, so a plugin can add its own; see README.md beside this file.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import orjson
from aiohttp import web

from ghost_addons import __version__
from ghost_addons.api.http import ApiError, json_response
from ghost_addons.api.lookups import session_or_404
from ghost_addons.endpoints import path_template
from ghost_addons.hookspecs import Register, RegisterEvent, RegisterMigrations, RegisterSettings, hookimpl
from ghost_addons.matching import HostList, check_host_pattern, compile_hosts
from ghost_addons.model import format_time
from ghost_addons.plugins import declare
from ghost_addons.registry import Registry
from ghost_addons.report_sections import ReportSection
from ghost_addons.settings_schema import Setting
from plugins.security import findings
from plugins.security.checks import BUILTIN_CHECKS, SEVERITIES, check_entry
from plugins.security.findings import FindingQuery, Hit
from plugins.security.sarif import sarif_log

if TYPE_CHECKING:
    from ghost_addons.api.routes import RouteTable
    from ghost_addons.core import Ghost
    from ghost_addons.model import Flow

log = logging.getLogger("ghost.security")

FLUSH_SECS = 0.5
RESCAN_SECS = 5.0
RECENT_MAX = 20_000  # endpoint answers remembered for sampling; forgotten all at once past it
PENDING_MAX = 50_000  # hits waiting for the next write; past it new hits are dropped and counted
FINDINGS_QUERY = ("session_id", "severity", "check", "host", "format", "limit", "offset")
FORMATS = ("json", "sarif")


def target_hosts_problem(patterns: list[str]) -> str | None:
    for pattern in patterns:
        try:
            check_host_pattern("a pattern", pattern)
        except ValueError as e:
            return f"has a bad host pattern: {e}"
    return None


def run_checks(checks: Mapping[str, Any], flow: Flow) -> list[Hit]:
    """Every check over one stored flow (a worker thread runs this): the hits, one per
    piece of evidence. A check that raises is logged and the others still run."""
    template = path_template(flow.request.path)
    seen_at = format_time(flow.started_at)
    url = flow.request.url
    hits: list[Hit] = []
    for name, check in checks.items():
        try:
            evidence = list(check.run(flow))
        except Exception:
            log.exception("security check %r failed on flow %s", name, flow.id)
            continue
        for where, snippet in evidence[:1]:  # one finding per check and endpoint: the first piece
            hits.append(Hit(check=name, title=check.title, severity=check.severity, confidence=check.confidence,
                            remediation=check.remediation, cwe=int(getattr(check, "cwe", 0) or 0),
                            scope=getattr(check, "scope", "endpoint"), session_id=flow.session_id,
                            flow_id=flow.id, host=flow.request.host.lower(), method=flow.request.method.upper(),
                            template=template, url=url, location=str(where)[:200], evidence=str(snippet)[:500],
                            seen_at=seen_at))
    return hits


def sample_key(flow: Flow) -> tuple[Any, ...]:
    """What makes two flows the same for sampling: a path answering the same way. Cheap
    on purpose (no template, no parsing): it is computed for every stored flow of a target."""
    resp = flow.response
    query = flow.request.url.partition("?")[2]
    names = tuple(part.partition("=")[0] for part in query.split("&")) if query else ()
    return (flow.session_id, flow.request.method, flow.request.host, flow.request.path, names,
            resp.status_code if resp else 0)


def parse_finding_query(query: Mapping[str, str], checks: Sequence[str]) -> tuple[FindingQuery, str]:
    """The filters and format of `GET /api/v1/security/findings`, or a 400 saying what is wrong."""
    unknown = sorted(set(query) - set(FINDINGS_QUERY))
    if unknown:
        raise ApiError(400, f"unknown query parameter {unknown[0]!r}; this route takes {', '.join(FINDINGS_QUERY)}")
    fmt = query.get("format", "json")
    if fmt not in FORMATS:
        raise ApiError(400, f"format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    severities = tuple(s for s in query.get("severity", "").split(",") if s)
    for severity in severities:
        if severity not in SEVERITIES:
            raise ApiError(400, f"severity must be one of {', '.join(SEVERITIES)} (comma-separated), got {severity!r}")
    wanted = tuple(c for c in query.get("check", "").split(",") if c)
    for check in wanted:
        if check not in checks:
            raise ApiError(400, f"unknown check {check!r}; GET /api/v1/security/checks lists them")
    session_id = query.get("session_id") or None
    host = query.get("host") or None

    def number(name: str, default: int, maximum: int) -> int:
        raw = query.get(name, "")
        if raw == "":
            return default
        if not raw.isdigit() or int(raw) > maximum:
            raise ApiError(400, f"query parameter {name} must be an integer from 0 to {maximum}, got {raw!r}")
        return int(raw)

    return FindingQuery(session_id=session_id, severities=severities, checks=wanted, host=host,
                        limit=max(1, number("limit", 1000, 10_000)), offset=number("offset", 0, 10**9)), fmt


def findings_section(rows: Sequence[Mapping[str, Any]], total: int) -> ReportSection:
    table = tuple((f["severity"], f["title"], f["host"],
                   "site-wide" if f["scope"] == "site" else f"{f['method']} {f['path']}", str(f["count"]),
                   f"{f['evidence']['where']}: {f['evidence']['snippet']}", f["remediation"]) for f in rows)
    by_severity = {s: sum(1 for f in rows if f["severity"] == s) for s in SEVERITIES}
    summary = (f"{total} findings: " + ", ".join(f"{n} {s}" for s, n in by_severity.items() if n)) if total else \
        "No findings: the passive checks found nothing in this session's flows of security.target_hosts."
    return ReportSection("Security findings", summary,
                         ("Severity", "Finding", "Host", "Where", "Endpoints", "Evidence", "Remediation"), table)


class SecurityPlugin:
    """One per Ghost (`make_plugin()`): the checks, the compiled target hosts, the hits
    waiting to be written and the sampling memory."""

    def __init__(self) -> None:
        self.checks: Registry[Any] = Registry("security check", check_entry)
        self.targets: HostList = compile_hosts(())
        self.pending: list[Hit] = []
        self.recent: dict[tuple[Any, ...], float] = {}
        self.wanted_hosts: dict[tuple[str, int], bool] = {}  # targets' answer per host, as hosts repeat
        self.scanned = 0
        self.sampled_out = 0
        self.dropped_hits = 0
        self.findings_created = 0

    # --- declarations ------------------------------------------------------------------------

    @hookimpl
    def ghost_settings(self, register: RegisterSettings) -> None:
        register("security", Setting(
            "target_hosts", [], "Hosts whose flows the passive security checks examine (patterns, e.g. "
            "*.example.com; * for every host; empty: none).", check=target_hosts_problem))

    @hookimpl
    def ghost_migrations(self, register: RegisterMigrations) -> None:
        register(findings.MIGRATION_OWNER, findings.MIGRATIONS)

    @hookimpl
    def ghost_event_types(self, register: RegisterEvent) -> None:
        register("finding.created", "{id, session_id, check, title, severity, confidence, scope, host, method, "
                 "path, count, occurrences, evidence, remediation, cwe, first_seen, last_seen}",
                 "A passive security check found something new (one event per new finding; a finding "
                 "seen again only grows its count).")

    @hookimpl
    def ghost_security_checks(self, register: Register) -> None:
        for name, check in BUILTIN_CHECKS.items():
            register(name, check)

    # --- lifecycle ------------------------------------------------------------------------------

    @hookimpl
    def ghost_startup(self, ghost: Ghost) -> None:
        declare(ghost.pm, "ghost_security_checks", Registry.registrar, self.checks)
        self.apply_settings(ghost)
        ghost.spawn(self._write_every(ghost), name="security findings")

    @hookimpl
    def ghost_settings_changed(self, ghost: Ghost, changed: set[str]) -> None:
        if "security.target_hosts" in changed:
            self.apply_settings(ghost)

    def apply_settings(self, ghost: Ghost) -> None:
        self.targets = compile_hosts(ghost.settings.get("security.target_hosts"))
        self.recent.clear()
        self.wanted_hosts.clear()

    @hookimpl
    def ghost_flow_stored(self, ghost: Ghost, flow: Flow) -> Any:
        # Synchronous and quick for flows it skips: no coroutine unless there is work.
        if not self.targets:
            return None
        where = (flow.request.host, flow.request.port)
        wanted = self.wanted_hosts.get(where)
        if wanted is None:
            if len(self.wanted_hosts) >= RECENT_MAX:
                self.wanted_hosts.clear()
            wanted = self.wanted_hosts[where] = self.targets(*where)
        if not wanted:
            return None
        key = sample_key(flow)
        now = time.monotonic()
        if now - self.recent.get(key, -RESCAN_SECS) < RESCAN_SECS:
            self.sampled_out += 1
            return None
        if len(self.recent) >= RECENT_MAX:
            self.recent.clear()
        self.recent[key] = now
        return self._scan(flow)

    async def _scan(self, flow: Flow) -> None:
        checks = dict(self.checks)
        hits = await asyncio.to_thread(run_checks, checks, flow)
        self.scanned += 1
        room = PENDING_MAX - len(self.pending)
        if len(hits) > room:
            self.dropped_hits += len(hits) - max(room, 0)
            log.warning("security: %d hits waiting to be written; dropping %d", len(self.pending), len(hits) - room)
            hits = hits[:max(room, 0)]
        self.pending.extend(hits)

    async def write_findings(self, ghost: Ghost) -> None:
        """Merge the hits gathered since the last call into the findings (one transaction)
        and announce the new findings."""
        if not self.pending:
            return
        pending, self.pending = self.pending, []
        created = await ghost.store.write(findings.add_hits, pending)
        self.findings_created += len(created)
        for finding in created:
            ghost.events.publish("finding.created", finding)

    async def _write_every(self, ghost: Ghost) -> None:
        try:
            while True:
                await asyncio.sleep(FLUSH_SECS)
                try:
                    await self.write_findings(ghost)
                except Exception:
                    log.exception("writing security findings failed; these hits are lost")
        finally:
            await self.write_findings(ghost)

    # --- what users see ---------------------------------------------------------------------

    @hookimpl
    def ghost_routes(self, ghost: Ghost, routes: RouteTable) -> None:
        async def list_findings(request: web.Request) -> web.Response:
            query, fmt = parse_finding_query(request.query, list(self.checks))
            if query.session_id is not None:
                await session_or_404(ghost, query.session_id)
            await self.write_findings(ghost)  # so the answer holds every hit gathered so far
            rows = await ghost.store.read(findings.read_findings, query)
            if fmt == "sarif":
                return web.Response(body=orjson.dumps(sarif_log(rows, __version__)),
                                    content_type="application/sarif+json",
                                    headers={"Content-Disposition": 'attachment; filename="ghost-findings.sarif"'})
            total = await ghost.store.read(findings.count_findings, query)
            return json_response({"findings": rows, "total": total})

        async def list_checks(request: web.Request) -> web.Response:
            return json_response({"checks": [
                {"name": name, "title": c.title, "severity": c.severity, "confidence": c.confidence,
                 "scope": getattr(c, "scope", "endpoint"), "remediation": c.remediation,
                 "cwe": getattr(c, "cwe", 0), "plugin": self.checks.owner_of(name)}
                for name, c in self.checks.items()],
                "target_hosts": list(self.targets.patterns)})

        routes.add("GET", "/api/v1/security/findings", list_findings,
                   "Security findings of the passive checks, most severe first; ?format=sarif for SARIF 2.1.0",
                   query={"session_id": "Only this session's findings",
                          "severity": "high, medium, low or info (comma-separated)",
                          "check": "Check names (comma-separated; see /api/v1/security/checks)",
                          "host": "Only findings on this host",
                          "format": "json (default) or sarif",
                          "limit": "At most this many (default 1000, at most 10000)", "offset": "Skip this many"},
                   responses={200: "{findings: [...], total} or a SARIF 2.1.0 log", 400: "Bad query",
                              404: "No such session"})
        routes.add("GET", "/api/v1/security/checks", list_checks,
                   "The passive security checks (built-in and from plugins) and the target hosts",
                   responses={200: "{checks: [{name, title, severity, confidence, scope, remediation, cwe, plugin}], "
                                   "target_hosts}"})

    @hookimpl
    async def ghost_report_sections(self, ghost: Ghost, session_id: str) -> list[ReportSection]:
        await self.write_findings(ghost)
        query = FindingQuery(session_id=session_id, limit=1000)
        rows = await ghost.store.read(findings.read_findings, query)
        total = await ghost.store.read(findings.count_findings, query)
        return [findings_section(rows, total)]

    @hookimpl
    def ghost_monitor(self, ghost: Ghost, report: dict[str, Any]) -> None:
        report["security"] = {"checks": len(self.checks), "target_hosts": len(self.targets.patterns),
                              "flows_scanned": self.scanned, "flows_sampled_out": self.sampled_out,
                              "unwritten_hits": len(self.pending), "dropped_hits": self.dropped_hits,
                              "findings_created": self.findings_created}


def make_plugin() -> SecurityPlugin:
    return SecurityPlugin()
