"""The HTML report's inline SVG charts: the arithmetic, each picture against a golden file,
bounded sizes, escaping, and a whole report that references nothing outside itself.

To accept a deliberate change: GHOST_UPDATE_GOLDEN=1 (then review `git diff tests/data/golden/report_charts/`).
"""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime, timedelta
from html import unescape
from html.parser import HTMLParser
from pathlib import Path

import pytest

from plugins.exporters.contract import ExportInfo, export_chunks
from plugins.exporters.report import REPORT_EXPORTER
from plugins.exporters.report_charts import (
    LABEL_MAX_CHARS,
    SLOWEST_LIMIT,
    TIMELINE_BINS,
    ChartFlow,
    bin_width_label,
    duration_histogram,
    endpoint_label,
    histogram_svg,
    path_template,
    slowest_endpoints,
    slowest_svg,
    timeline_bins,
    timeline_svg,
)
from tests.plugins.exporters.flows import make_flow

GOLDEN_DIR = Path(__file__).resolve().parents[2] / "data" / "golden" / "report_charts"
UPDATE = os.environ.get("GHOST_UPDATE_GOLDEN") == "1"
START = datetime(2026, 3, 8, 14, 30, tzinfo=UTC).timestamp()


def chart_flows() -> list[ChartFlow]:
    """Ten minutes of a shop: a burst of 5xx in the middle, a slow search, a hostile host."""
    flows = []
    for i in range(240):
        status = (200, 200, 201, 304, 404, 200)[i % 6]
        if 100 <= i < 120:
            status = 503
        if i % 37 == 0:
            status = 0
        path = (f"/api/items/{i}", "/api/search?q=x", "/cart", "/u/0b7e1d2a-52c4-4a8e-9d55-0f1b2c3d4e5f")[i % 4]
        duration = (4, 30, 80, 190, 420, 900, 1500, 3800, 7200)[i % 9] + (i % 5)
        flows.append(ChartFlow(START + i * 2.5, ("GET", "POST")[i % 2], "shop.test", path, status, duration))
    flows.append(ChartFlow(START + 300, "GET", '<script>alert("h")</script>.test',
                           "/<img src=x onerror=alert(1)>/" + "é" * 200, 500, 99_000))
    return flows


def check_golden(name: str, got: str) -> None:
    path = GOLDEN_DIR / name
    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(got + "\n", encoding="utf-8")
        pytest.skip(f"GHOST_UPDATE_GOLDEN=1: wrote {path}")
    assert path.read_text(encoding="utf-8") == got + "\n", f"{name} differs (GHOST_UPDATE_GOLDEN=1 rewrites it)"


def test_ids_collapse_as_in_the_web_ui() -> None:
    # The same cases as tests/plugins/webui/charts.test.mjs, plus the query string.
    assert path_template("/v1/items/17/reviews") == "/v1/items/{id}/reviews"
    assert path_template("/u/0b7e1d2a-52c4-4a8e-9d55-0f1b2c3d4e5f") == "/u/{id}"
    assert path_template("/j/01JEXP0R2ZQ3V4W5X6Y7Z8A9BC") == "/j/{id}"
    assert path_template("/api/v2/login") == "/api/v2/login"
    assert path_template("/items/17?page=2") == "/items/{id}"
    assert path_template("/٣") == "/٣"  # only ASCII digits are an id, as in JavaScript


def test_a_columns_width_reads_as_in_the_web_ui() -> None:
    assert (bin_width_label(14.9), bin_width_label(2), bin_width_label(0.0166)) == ("14.9 s", "2 s", "17 ms")


def test_durations_fall_in_the_web_uis_buckets() -> None:
    buckets = duration_histogram([1, 9.9, 10, 49, 700, 6000])
    assert [count for _, count in buckets] == [2, 2, 0, 0, 0, 1, 0, 0, 1]
    assert buckets[0][0] == "< 10 ms" and buckets[-1][0] == "≥ 5 s" and buckets[5][0] == "500 ms–1 s"


def test_slowest_endpoints_rank_by_p95_over_collapsed_paths() -> None:
    def flow(path: str, ms: float) -> ChartFlow:
        return ChartFlow(START, "GET", "shop.test", path, 200, ms)

    ranked = slowest_endpoints([flow("/items/1", 10), flow("/items/2", 900), flow("/cart", 300), flow("/cart", 310)])
    assert [(e.label, e.count, e.max) for e in ranked] == [("GET shop.test/items/{id}", 2, 900),
                                                          ("GET shop.test/cart", 2, 310)]
    many = [flow(f"/p{i}", i) for i in range(50)]
    assert len(slowest_endpoints(many)) == SLOWEST_LIMIT


def test_timeline_counts_every_flow_by_status_class_in_bounded_columns() -> None:
    flows = chart_flows()
    timeline = timeline_bins(flows)
    assert len(timeline.bins) == TIMELINE_BINS
    assert sum(sum(column.values()) for column in timeline.bins) == len(flows)
    assert sum(column.get("5xx", 0) for column in timeline.bins) == 19 + 1  # 111 is an error
    assert sum(column.get("err", 0) for column in timeline.bins) == 7
    assert timeline_bins([]).bins == []
    one = timeline_bins([flows[0], flows[0]])  # no span: everything in the first column
    assert one.bins[0] == {"err": 2}


def test_timeline_golden() -> None:
    check_golden("timeline.svg", str(timeline_svg(timeline_bins(chart_flows()))))


def test_histogram_golden() -> None:
    check_golden("histogram.svg", str(histogram_svg(duration_histogram(f.duration_ms for f in chart_flows()))))


def test_slowest_golden() -> None:
    check_golden("slowest.svg", str(slowest_svg(slowest_endpoints(chart_flows()))))


def test_chart_size_does_not_grow_with_the_session() -> None:
    small = chart_flows()
    big = [ChartFlow(START + i * 0.01, "GET", f"h{i % 500}.test", f"/x{i}", 200 + i % 400, i % 9000)
           for i in range(10_000)]
    for flows in (small, big):
        timeline = str(timeline_svg(timeline_bins(flows)))
        assert timeline.count("<rect") <= TIMELINE_BINS * 6 + 6
        assert len(timeline) < 60_000
        slowest = str(slowest_svg(slowest_endpoints(flows)))
        assert slowest.count("<rect") == min(SLOWEST_LIMIT, len({endpoint_label(f) for f in flows}))
        assert len(slowest) < 10_000


def test_hostile_labels_are_escaped_and_shortened() -> None:
    svg = str(slowest_svg(slowest_endpoints(chart_flows())))
    assert "<script" not in svg and "<img" not in svg
    assert "&lt;script&gt;alert(&quot;h&quot;)&lt;/script&gt;.test" in svg
    shown = re.findall(r'class="endpoint-label"><title>[^<]*</title>([^<]*)</text>', svg)
    assert shown and all(len(unescape(label)) <= LABEL_MAX_CHARS for label in shown)


class References(HTMLParser):
    """Every tag and every attribute that could load something or run something."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.loading: list[tuple[str, str, str]] = []
        self.handlers: list[str] = []

    def handle_starttag(self, tag, attrs):  # type: ignore[no-untyped-def]
        self.tags.append(tag)
        for name, value in attrs:
            if name in ("src", "href", "xlink:href", "srcset", "action", "data", "poster", "background"):
                self.loading.append((tag, name, value or ""))
            if name.startswith("on"):
                self.handlers.append(f"{tag} {name}")


def test_the_report_with_charts_references_nothing_and_hostile_values_stay_inert() -> None:
    flows = [make_flow("GET", f"https://shop.test/items/{i}", id=f"01HWCHART{i:017d}",
                       started_at=datetime(2026, 3, 8, 14, 30, tzinfo=UTC) + timedelta(seconds=i),
                       duration_us=1000 * (i * 53 % 3000), status=(200, 404, 500, None)[i % 4]) for i in range(80)]
    evil = make_flow("POST", 'https://x/"><svg onload=alert(1)><script>alert(2)</script>/1',
                     id="01HWCHARTEVIL0000000000000", duration_us=9_000_000)
    evil.request.host = '"><img src=https://evil.test/x.png onerror=alert(3)>'
    html = b"".join(export_chunks(REPORT_EXPORTER, ExportInfo("s", "charts"), [*flows, evil])).decode()
    assert html.count("<svg") == 3 and "Slowest endpoints" in html
    parser = References()
    parser.feed(html)
    assert parser.loading == [] and parser.handlers == []
    assert parser.tags.count("script") == 1  # the report's own sorting and filtering
    assert "img" not in parser.tags
    assert not re.search(r"url\(|@import", html)  # nothing from CSS either
    assert "&lt;img src=https://evil.test/x.png onerror=alert(3)&gt;" in html
