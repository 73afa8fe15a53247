"""The HTML report's pictures as inline SVG: requests over time (stacked by status class),
the duration distribution and the slowest endpoints.

Pure functions from the report's flows to an SVG string. The report stays one file that
needs no network and no script: the SVG is markup in the page, not an image it fetches.
Every text that comes from traffic (host, path, method) is XML-escaped here, and every
chart has a bounded size whatever the session holds: at most ``TIMELINE_BINS`` columns of
at most six boxes (one per status class), ``len(DURATION_BOUNDS_MS)`` bars, ``SLOWEST_LIMIT`` endpoints with
labels of at most ``LABEL_MAX_CHARS`` characters.

The same three pictures, in the same colours and with the same buckets, ids collapsing and
ranking, are drawn by the web UI (plugins/webui/static/charts.js).
"""

from __future__ import annotations

import math
import re
from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from html import escape

from markupsafe import Markup

TIMELINE_BINS = 60
SLOWEST_LIMIT = 10
LABEL_MAX_CHARS = 70
# Upper bounds of the duration buckets in ms, as in the web UI's charts.js.
DURATION_BOUNDS_MS: tuple[float, ...] = (10, 50, 100, 250, 500, 1000, 2000, 5000, math.inf)
# Drawn bottom to top in each timeline column; "err" is a flow with no (valid) response.
STATUS_CLASSES = ("2xx", "3xx", "1xx", "4xx", "5xx", "err")

WIDTH = 900
# A path segment that is an id, as in charts.js: a number, a UUID, long hex, a ULID (upper
# case only). One pattern, so a segment costs one match.
_ID_PART = re.compile(r"[0-9]+|(?i:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})"
                      r"|(?i:[0-9a-f]{16,})|[0-9A-HJKMNP-TV-Z]{26}")


@dataclass(frozen=True, slots=True)
class ChartFlow:
    """What the charts need of one flow."""

    started_ts: float  # seconds since the epoch
    method: str
    host: str
    path: str
    status: int  # 0: no response
    duration_ms: float


@dataclass(frozen=True, slots=True)
class Endpoint:
    label: str
    count: int
    p50: float
    p95: float
    max: float


@dataclass(frozen=True, slots=True)
class ReportCharts:
    timeline: Markup
    histogram: Markup
    slowest: Markup


def status_class(status: int) -> str:
    return f"{status // 100}xx" if 100 <= status < 600 else "err"


def path_template(path: str) -> str:
    """Ids collapse so /items/17 and /items/18 are one endpoint: numbers, UUIDs, long hex,
    ULIDs. The query string is left out."""
    path = path.split("?", 1)[0] or "/"
    return "/".join("{id}" if _ID_PART.fullmatch(part) else part for part in path.split("/"))


def format_duration(ms: float) -> str:
    """As the web UI shows durations: whole ms below a second, seconds with two decimals."""
    return f"{round(ms)} ms" if ms < 1000 else f"{ms / 1000:.2f} s"


def _bound_label(ms: float) -> str:
    return f"{ms / 1000:g} s" if ms >= 1000 else f"{ms:g} ms"


def duration_histogram(durations: Iterable[float],
                       bounds: Sequence[float] = DURATION_BOUNDS_MS) -> list[tuple[str, int]]:
    """(label, count) per bucket; a duration falls in the first bucket whose bound exceeds it."""
    counts = [0] * len(bounds)
    for ms in durations:
        counts[min(bisect_right(bounds, ms), len(bounds) - 1)] += 1
    return list(zip(bucket_labels(bounds), counts, strict=True))


def bucket_labels(bounds: Sequence[float] = DURATION_BOUNDS_MS) -> list[str]:
    labels = []
    for i, bound in enumerate(bounds):
        if i == 0:
            labels.append(f"< {_bound_label(bound)}")
        elif math.isinf(bound):
            labels.append(f"≥ {_bound_label(bounds[i - 1])}")
        else:
            labels.append(f"{_bound_label(bounds[i - 1])}–{_bound_label(bound)}")
    return labels


def _percentile(ordered: Sequence[float], p: float) -> float:
    return ordered[min(len(ordered) - 1, math.floor(p / 100 * len(ordered)))] if ordered else 0.0


def endpoint_label(flow: ChartFlow) -> str:
    return f"{flow.method} {flow.host}{path_template(flow.path)}"


def slowest_endpoints(flows: Iterable[ChartFlow], limit: int = SLOWEST_LIMIT) -> list[Endpoint]:
    """Endpoints (method, host, path template) ranked by p95 duration, then max."""
    groups: dict[str, list[float]] = {}
    for flow in flows:
        groups.setdefault(endpoint_label(flow), []).append(flow.duration_ms)
    return rank_endpoints(groups, limit)


def rank_endpoints(groups: dict[str, list[float]], limit: int = SLOWEST_LIMIT) -> list[Endpoint]:
    ranked = []
    for label, durations in groups.items():
        durations.sort()
        ranked.append(Endpoint(label, len(durations), _percentile(durations, 50),
                               _percentile(durations, 95), durations[-1]))
    ranked.sort(key=lambda e: (-e.p95, -e.max))
    return ranked[:limit]


@dataclass(frozen=True, slots=True)
class Timeline:
    start_ts: float
    end_ts: float
    bins: list[dict[str, int]]  # per column: status class -> requests started in it


def timeline_bins(flows: Sequence[ChartFlow], bins: int = TIMELINE_BINS) -> Timeline:
    """Requests per time column, by status class, over the span of the flows."""
    if not flows:
        return Timeline(0.0, 0.0, [])
    start = min(f.started_ts for f in flows)
    end = max(f.started_ts for f in flows)
    span = end - start
    columns: list[dict[str, int]] = [{} for _ in range(bins)]
    for flow in flows:
        index = min(bins - 1, int((flow.started_ts - start) / span * bins)) if span > 0 else 0
        name = status_class(flow.status)
        columns[index][name] = columns[index].get(name, 0) + 1
    return Timeline(start, end, columns)


def _text(value: object) -> str:
    return escape(str(value), quote=True)


def _num(value: float) -> str:
    return f"{value:.1f}".removesuffix(".0")


def _clock(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%H:%M:%S")


def _svg(height: int, css_class: str, label: str, body: list[str]) -> Markup:
    # No xmlns: SVG inline in HTML needs none, and the report then holds no address at all.
    return Markup(f'<svg viewBox="0 0 {WIDTH} {height}" '
                  f'class="chart {css_class}" role="img" aria-label="{_text(label)}">'
                  + "".join(body) + "</svg>")


def timeline_svg(timeline: Timeline) -> Markup:
    height, pad, top = 180, 30, 20
    plot_height = height - pad - top
    tallest = max((sum(column.values()) for column in timeline.bins), default=0)
    body = [f'<line x1="{pad}" y1="{height - pad}" x2="{WIDTH - 10}" y2="{height - pad}" class="axis"/>']
    if timeline.bins:
        column_width = (WIDTH - pad - 10) / len(timeline.bins)
        span = timeline.end_ts - timeline.start_ts
        for i, column in enumerate(timeline.bins):
            y = float(height - pad)
            for name in STATUS_CLASSES:
                count = column.get(name, 0)
                if not count:
                    continue
                box = count / tallest * plot_height
                y -= box
                when = _clock(timeline.start_ts + span * i / len(timeline.bins))
                body.append(f'<rect x="{_num(pad + i * column_width)}" y="{_num(y)}" '
                            f'width="{_num(max(column_width - 1, 1))}" height="{_num(box)}" class="st-{name}">'
                            f"<title>{when}: {count} × {name}</title></rect>")
        body.append(f'<text x="{pad}" y="{height - 10}" class="axis-label">{_clock(timeline.start_ts)} UTC</text>')
        body.append(f'<text x="{WIDTH - 10}" y="{height - 10}" class="axis-label" text-anchor="end">'
                    f"{_clock(timeline.end_ts)} UTC</text>")
    body.append(f'<text x="{pad}" y="14" class="axis-label">requests per {bin_width_label(_bin_seconds(timeline))}, '
                f"at most {tallest}</text>")
    legend_x = WIDTH - 10 - 60 * len(STATUS_CLASSES)
    for i, name in enumerate(STATUS_CLASSES):
        x = legend_x + 60 * i
        body.append(f'<rect x="{x}" y="5" width="10" height="10" class="st-{name}"/>'
                    f'<text x="{x + 14}" y="14" class="axis-label">{name}</text>')
    return _svg(height, "timeline-chart", "Requests over time, coloured by status class", body)


def bin_width_label(seconds: float) -> str:
    """A column's width in time: "2.5 s", or "17 ms" below a second."""
    return f"{_num(seconds)} s" if seconds >= 1 else f"{round(seconds * 1000)} ms"


def _bin_seconds(timeline: Timeline) -> float:
    return (timeline.end_ts - timeline.start_ts) / len(timeline.bins) if timeline.bins else 0.0


def histogram_svg(buckets: Sequence[tuple[str, int]]) -> Markup:
    height, pad, gap = 160, 24, 6
    tallest = max([1, *(count for _, count in buckets)])
    bar_width = (WIDTH - 2 * pad) / max(len(buckets), 1) - gap
    body = []
    for i, (label, count) in enumerate(buckets):
        bar_height = count / tallest * (height - 2 * pad - 10)
        x = pad + i * (bar_width + gap)
        middle = _num(x + bar_width / 2)
        body.append(f'<rect x="{_num(x)}" y="{_num(height - pad - bar_height)}" width="{_num(bar_width)}" '
                    f'height="{_num(bar_height)}" class="bar-fill"><title>{_text(label)}: {count}</title></rect>'
                    f'<text x="{middle}" y="{height - 8}" text-anchor="middle" class="axis-label">{_text(label)}</text>'
                    f'<text x="{middle}" y="{_num(height - pad - bar_height - 4)}" text-anchor="middle" '
                    f'class="axis-label">{count}</text>')
    return _svg(height, "histogram", "Duration distribution", body)


def _shorten(label: str) -> str:
    return label if len(label) <= LABEL_MAX_CHARS else label[:LABEL_MAX_CHARS - 1] + "…"


def slowest_svg(endpoints: Sequence[Endpoint]) -> Markup:
    row, top, label_width, value_width = 22, 8, 380, 240
    height = top * 2 + row * max(len(endpoints), 1)
    longest = max([1.0, *(e.p95 for e in endpoints)])
    body = []
    for i, endpoint in enumerate(endpoints):
        y = top + i * row
        bar = endpoint.p95 / longest * (WIDTH - label_width - value_width)
        body.append(f'<text x="{label_width - 8}" y="{y + 15}" text-anchor="end" class="endpoint-label">'
                    f"<title>{_text(endpoint.label)}</title>{_text(_shorten(endpoint.label))}</text>"
                    f'<rect x="{label_width}" y="{y + 4}" width="{_num(max(bar, 1))}" height="{row - 8}" class="bar-fill">'
                    f"<title>{_text(endpoint.label)}: p95 {format_duration(endpoint.p95)}, "
                    f"max {format_duration(endpoint.max)}</title></rect>"
                    f'<text x="{_num(label_width + max(bar, 1) + 6)}" y="{y + 15}" class="axis-label">'
                    f"p95 {format_duration(endpoint.p95)} · p50 {format_duration(endpoint.p50)} · "
                    f"{endpoint.count}×</text>")
    return _svg(height, "slowest-chart", "Slowest endpoints by p95 duration", body)


def report_charts(flows: Sequence[ChartFlow]) -> ReportCharts:
    data = ChartData()
    for flow in flows:
        data.add(flow)
    return data.charts()


class ChartData:
    """The charts' figures counted one flow at a time as the report's batches arrive (the
    work per flow is a few regex matches), so that drawing at the end is quick: the
    exporter's steps between two turns of the event loop stay short."""

    def __init__(self) -> None:
        self.flows: list[ChartFlow] = []
        self.durations = [0] * len(DURATION_BOUNDS_MS)
        self.groups: dict[str, list[float]] = {}

    def add(self, flow: ChartFlow) -> None:
        self.flows.append(flow)
        self.durations[min(bisect_right(DURATION_BOUNDS_MS, flow.duration_ms), len(DURATION_BOUNDS_MS) - 1)] += 1
        self.groups.setdefault(endpoint_label(flow), []).append(flow.duration_ms)

    def charts(self) -> ReportCharts:
        return ReportCharts(
            timeline=timeline_svg(timeline_bins(self.flows)),
            histogram=histogram_svg(list(zip(bucket_labels(), self.durations, strict=True))),
            slowest=slowest_svg(rank_endpoints(self.groups)),
        )
