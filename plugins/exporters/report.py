"""Self-contained HTML report (Jinja2, autoescaped): statistics and a searchable,
sortable traffic table that works offline. At most 10,000 flows."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2

from ghost_addons.model import Flow, format_time
from plugins.exporters.contract import Exporter, ExportInfo, human_size

REPORT_MAX_FLOWS = 10_000
PATH_MAX_CHARS = 60
TEMPLATES_DIR = Path(__file__).resolve().parents[2] / "templates"
REPORT_TEMPLATE = "report.html.j2"


def truncate_path(path: str, limit: int = PATH_MAX_CHARS) -> str:
    """Cut at ``limit`` characters (code points, so UTF-8 is never split) with an ellipsis."""
    return path if len(path) <= limit else path[:limit] + "…"


@dataclass(slots=True)
class ReportRow:
    started: str
    time: str
    method: str
    status: int
    status_class: int
    host: str
    path: str
    path_short: str
    duration_ms: float
    size: int
    size_human: str
    tags: list[str]


def report_row(flow: Flow) -> ReportRow:
    resp = flow.response
    status = resp.status_code if resp else 0
    size = flow.request.body_size + (resp.body_size if resp else 0)
    started = format_time(flow.started_at)
    return ReportRow(
        started=started,
        time=started[:23].replace("T", " "),
        method=flow.request.method,
        status=status,
        status_class=status // 100 if 100 <= status < 600 else 0,
        host=flow.request.host,
        path=flow.request.path,
        path_short=truncate_path(flow.request.path),
        duration_ms=flow.duration_ms,
        size=size,
        size_human=human_size(size),
        tags=list(flow.tags),
    )


def report_stats(flows: Sequence[Flow]) -> dict[str, Any]:
    methods: Counter[str] = Counter()
    statuses: Counter[str] = Counter()
    total_size = 0
    errors = 0
    for flow in flows:
        methods[flow.request.method] += 1
        status = flow.response.status_code if flow.response else 0
        statuses[f"{status // 100}xx" if 100 <= status < 600 else "no response"] += 1
        total_size += flow.request.body_size + (flow.response.body_size if flow.response else 0)
        if flow.error or status >= 400 or status == 0:
            errors += 1
    return {
        "total": len(flows),
        "total_size": human_size(total_size),
        "errors": errors,
        "methods": methods.most_common(),
        "statuses": sorted(statuses.items()),
    }


def render_report(info: ExportInfo, flows: Sequence[Flow], capped: bool = False) -> str:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    template = env.get_template(REPORT_TEMPLATE)
    return template.render(
        session_name=info.session_name or "Ghost session",
        generated_at=format_time(info.exported_at)[:19].replace("T", " ") + " UTC",
        stats=report_stats(flows),
        rows=[report_row(f) for f in flows],
        capped=capped,
        max_flows=REPORT_MAX_FLOWS,
    )


class ReportWriter:
    """Collects the (at most 10,000) flows, renders once on close: the statistics at the
    top need every flow."""

    def __init__(self, info: ExportInfo) -> None:
        self.info = info
        self.flows: list[Flow] = []
        self.capped = info.total_flows > REPORT_MAX_FLOWS

    def write(self, flows: Sequence[Flow]) -> Iterator[bytes]:
        room = REPORT_MAX_FLOWS - len(self.flows)
        if len(flows) > room:
            self.capped = True
        self.flows.extend(flows[:max(room, 0)])
        return iter(())

    def close(self) -> Iterator[bytes]:
        yield render_report(self.info, self.flows, self.capped).encode("utf-8")


REPORT_EXPORTER = Exporter(
    name="report",
    title="HTML Report",
    extension="html",
    content_type="text/html; charset=utf-8",
    artifact_format="html",
    open=ReportWriter,
    max_flows=REPORT_MAX_FLOWS,
)
