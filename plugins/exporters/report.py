"""Self-contained HTML report (Jinja2, autoescaped): statistics and a searchable,
sortable traffic table that works offline. At most 10,000 flows, streamed as it renders."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2

from ghost_addons.model import Flow, format_time
from plugins.exporters.contract import Exporter, ExportInfo, human_size
from plugins.exporters.report_charts import ChartData, ChartFlow, ReportCharts, report_charts

REPORT_MAX_FLOWS = 10_000
PATH_MAX_CHARS = 60
TEMPLATES_DIR = Path(__file__).resolve().parents[2] / "templates"
REPORT_TEMPLATE = "report.html.j2"
# About 2 ms of rendering per chunk here; the exporter yields to the loop between chunks.
RENDER_CHUNK_CHARS = 16 * 1024
ROWS_PER_YIELD = 100


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


def chart_flow(flow: Flow) -> ChartFlow:
    return ChartFlow(
        started_ts=flow.started_at.timestamp(),
        method=flow.request.method,
        host=flow.request.host,
        path=flow.request.path,
        status=flow.response.status_code if flow.response else 0,
        duration_ms=flow.duration_ms,
    )


class ReportStats:
    """The statistics at the top of the report, counted one flow at a time as batches
    arrive (the same figures, in the same order, as counting the whole list at once)."""

    def __init__(self) -> None:
        self.methods: Counter[str] = Counter()
        self.statuses: Counter[str] = Counter()
        self.total = 0
        self.total_size = 0
        self.errors = 0

    def add(self, flow: Flow) -> None:
        self.total += 1
        self.methods[flow.request.method] += 1
        status = flow.response.status_code if flow.response else 0
        self.statuses[f"{status // 100}xx" if 100 <= status < 600 else "no response"] += 1
        self.total_size += flow.request.body_size + (flow.response.body_size if flow.response else 0)
        if flow.error or status >= 400 or status == 0:
            self.errors += 1

    def summary(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "total_size": human_size(self.total_size),
            "errors": self.errors,
            "methods": self.methods.most_common(),
            "statuses": sorted(self.statuses.items()),
        }


def report_stats(flows: Iterable[Flow]) -> dict[str, Any]:
    stats = ReportStats()
    for flow in flows:
        stats.add(flow)
    return stats.summary()


def report_template() -> jinja2.Template:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    return env.get_template(REPORT_TEMPLATE)


def report_context(info: ExportInfo, stats: dict[str, Any], rows: list[ReportRow],
                   capped: bool, charts: ReportCharts) -> dict[str, Any]:
    return {
        "session_name": info.session_name or "Ghost session",
        "generated_at": format_time(info.exported_at)[:19].replace("T", " ") + " UTC",
        "stats": stats,
        "rows": rows,
        "charts": charts,
        "capped": capped,
        "max_flows": REPORT_MAX_FLOWS,
        "sections": info.sections,
    }


def report_pieces(info: ExportInfo, stats: dict[str, Any], rows: list[ReportRow], capped: bool,
                  charts: ReportCharts, chunk_chars: int = RENDER_CHUNK_CHARS) -> Iterator[bytes]:
    """The report as UTF-8 chunks of about ``chunk_chars`` characters, rendered as they are
    asked for (Jinja2's ``generate``, which ``render`` joins): the caller gets each chunk
    after a few milliseconds of rendering instead of the whole file after a second."""
    pending: list[str] = []
    size = 0
    for piece in report_template().generate(report_context(info, stats, rows, capped, charts)):
        pending.append(piece)
        size += len(piece)
        if size >= chunk_chars:
            yield "".join(pending).encode("utf-8", "replace")
            pending, size = [], 0
    if pending:
        yield "".join(pending).encode("utf-8", "replace")


def render_report(info: ExportInfo, flows: Sequence[Flow], capped: bool = False) -> str:
    """The whole report as one string (scripts, tests); Ghost's API streams it instead."""
    rows = [report_row(flow) for flow in flows]
    charts = report_charts([chart_flow(flow) for flow in flows])
    return b"".join(report_pieces(info, report_stats(flows), rows, capped, charts)).decode("utf-8")


class ReportWriter:
    """Turns each flow into its table row and counts it as batches arrive, keeping the
    (at most 10,000) rows but not the flows and their bodies; streams the file on close,
    since the statistics at the top need every flow.

    Both steps yield as they go (``write`` an empty chunk every ``ROWS_PER_YIELD`` flows,
    ``close`` a chunk of HTML at a time), so the exporter gives the event loop a turn in
    between: 10,000 rows rendered in one call held the proxy for about a second.
    """

    def __init__(self, info: ExportInfo) -> None:
        self.info = info
        self.rows: list[ReportRow] = []
        self.chart_data = ChartData()
        self.stats = ReportStats()
        self.capped = info.total_flows > REPORT_MAX_FLOWS

    def write(self, flows: Sequence[Flow]) -> Iterator[bytes]:
        room = REPORT_MAX_FLOWS - len(self.rows)
        if len(flows) > room:
            self.capped = True
        for index, flow in enumerate(flows[:max(room, 0)], 1):
            self.stats.add(flow)
            self.rows.append(report_row(flow))
            self.chart_data.add(chart_flow(flow))
            if index % ROWS_PER_YIELD == 0:
                yield b""  # nothing to send yet: only a turn for the event loop

    def close(self) -> Iterator[bytes]:
        yield b""  # the loop's turn before the charts are drawn (a few ms for 10,000 flows)
        charts = self.chart_data.charts()
        yield from report_pieces(self.info, self.stats.summary(), self.rows, self.capped, charts)


REPORT_EXPORTER = Exporter(
    name="report",
    title="HTML Report",
    extension="html",
    content_type="text/html; charset=utf-8",
    artifact_format="html",
    open=ReportWriter,
    max_flows=REPORT_MAX_FLOWS,
    wants_sections=True,
)
