"""A fixed report input (the golden file `golden/report.html` is its report): the sample
session, flows of every method and status class, escaping cases, tags, long paths."""

from __future__ import annotations

from datetime import UTC, datetime

from ghost_addons.model import Flow
from plugins.exporters.contract import ExportInfo
from plugins.exporters.report import REPORT_MAX_FLOWS
from tests.plugins.exporters.flows import make_flow, sample_session


def varied_flow(i: int, session_id: str = "01HWSESSION0000000000000000", flow_id: str = "") -> Flow:
    method = ("GET", "POST", "PUT", "DELETE", "PATCH")[i % 5]
    status = (200, 201, 302, 404, 500, None, 101, 999)[i % 8]
    return make_flow(method, f"https://api{i % 7}.example.com/v1/items/{i}?page={i % 13}",
                     status=status, response_body=b"x" * (i * 37 % 3000), tags=[f"t{i % 5}"] * (i % 3),
                     id=flow_id or f"01HWVARIED{i:016d}", session_id=session_id,
                     duration_us=1000 + i * 7919, error="refused" if status is None else "")


def golden_input() -> tuple[ExportInfo, list[Flow]]:
    evil = make_flow("GET", "https://h/<script>alert(1)</script>/" + "é" * 80,
                     tags=['"><img src=x onerror=alert(1)>', "a&b"], id="01HWEVIL000000000000000000")
    evil.request.host = "<b>host</b>"
    flows = [*sample_session(), evil, *(varied_flow(i) for i in range(60))]
    info = ExportInfo("01HWSESSION0000000000000000", "Golden <report> & \"quotes\"",
                      exported_at=datetime(2026, 3, 8, 14, 30, 22, tzinfo=UTC),
                      total_flows=REPORT_MAX_FLOWS + 1)
    return info, flows
