"""Long imports and exports in the web UI (Debian's Chromium, Playwright) against a real
Ghost: a multi-MB HAR uploads with a progress bar, the flows are counted as Ghost stores
them (flow.created), and the bar reaches done; an upload slowed by Chromium's network
emulation is cancelled and its session removed; exports download as a stream with a bar.
Screenshots go to $GHOST_UI_SCREENSHOTS (or the test's temporary directory)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from playwright.sync_api import expect

from tests.e2e.test_webui import browser, open_ui, shots  # noqa: F401 - pytest fixtures
from tests.support.target import Target

HAR_FLOWS = 3_000


def big_har(path: Path, flows: int = HAR_FLOWS) -> Path:
    """A HAR of `flows` entries with 1 KB bodies: about 4 MB."""
    body = "x" * 1024
    entries = [{
        "startedDateTime": f"2026-03-08T14:{i // 60 % 60:02d}:{i % 60:02d}.000Z", "time": 5 + i % 300,
        "request": {"method": ("GET", "POST")[i % 2], "url": f"https://shop.test/items/{i}?page={i % 9}",
                    "httpVersion": "HTTP/1.1", "headers": [{"name": "Accept", "value": "*/*"}], "queryString": [],
                    "cookies": [], "headersSize": -1, "bodySize": 0},
        "response": {"status": (200, 201, 404, 500)[i % 4], "statusText": "", "httpVersion": "HTTP/1.1",
                     "headers": [{"name": "Content-Type", "value": "text/plain"}], "cookies": [],
                     "content": {"size": len(body), "mimeType": "text/plain", "text": body},
                     "redirectURL": "", "headersSize": -1, "bodySize": len(body)},
        "cache": {}, "timings": {"send": 1, "wait": 3, "receive": 1},
    } for i in range(flows)]
    path.write_text(json.dumps({"log": {"version": "1.2", "creator": {"name": "test", "version": "1"},
                                        "entries": entries}}))
    return path


def session_names(ghost: Any) -> list[str]:
    return [s["name"] for s in ghost.api("GET", "/api/v1/sessions").json()]


def test_a_multi_mb_har_imports_with_progress_and_exports_download_with_progress(
        ghost, target: Target, browser, shots: Path, tmp_path: Path) -> None:  # noqa: F811
    har = big_har(tmp_path / "big-capture.har")
    assert har.stat().st_size > 3_000_000
    page, trouble = open_ui(browser, ghost)
    page.wait_for_selector("body[data-traffic-loaded]")
    page.set_input_files("input[type=file]", str(har))
    progress = page.locator(".transfer.import-progress")
    progress.wait_for()
    assert "Importing big-capture.har" in (progress.text_content() or "")
    expect(progress).to_have_attribute("data-state", "done", timeout=120_000)
    expect(progress.locator(".transfer-figures")).to_have_text(f"{HAR_FLOWS:,} flows imported")
    assert int(progress.get_attribute("data-updates") or 0) >= 1  # the upload reported its progress
    # Every flow Ghost stored was counted live from flow.created (the last few may land
    # just after the import's answer).
    expect(progress).to_have_attribute("data-flows", str(HAR_FLOWS), timeout=30_000)
    assert progress.locator("progress").evaluate("bar => bar.value === bar.max")
    page.screenshot(path=str(shots / "import-progress.png"))
    assert "big-capture.har (imported)" in session_names(ghost)
    page.locator(".toast button", has_text="Open").click()
    expect(page.locator("#session-select option:checked")).to_contain_text("big-capture.har (imported)")

    # Exports download as a stream, with a bar that reaches done.
    for fmt, marker in (("har", '"entries"'), ("report", "<svg")):
        with page.expect_download(timeout=120_000) as download:
            page.locator("select[aria-label='Export session']").select_option(fmt)
        saved = tmp_path / f"export.{fmt}"
        download.value.save_as(saved)
        text = saved.read_text()
        assert marker in text
        bar = page.locator(".transfer", has_text=f"({fmt})").last
        expect(bar).to_have_attribute("data-state", "done")
        assert download.value.suggested_filename in (bar.locator(".transfer-figures").text_content() or "")
    page.screenshot(path=str(shots / "export-progress.png"))

    # The report opens offline as one file: its charts drawn, nothing else fetched.
    report = browser.new_page()
    fetched: list[str] = []
    report.on("request", lambda request: fetched.append(request.url))
    report.goto(_as_html(tmp_path / "export.report"))
    for chart in (".timeline-chart", ".histogram", ".slowest-chart"):
        expect(report.locator(chart)).to_be_visible()
    assert report.locator(".timeline-chart rect.st-5xx").count() >= 2  # the HAR's 500s, and the legend
    slowest = report.locator(".slowest-chart .endpoint-label").first.text_content() or ""
    assert slowest.endswith((" shop.test/items/{id}",)), slowest  # its <title> and its text: the same label
    report.screenshot(path=str(shots / "report-charts.png"), full_page=False)
    assert len(fetched) == 1 and fetched[0].startswith("file://")
    report.close()
    assert not trouble, trouble


def _as_html(path: Path) -> str:
    """The saved report under an .html name, as a browser opens a downloaded report."""
    html = path.with_name(path.name + ".html")
    html.write_bytes(path.read_bytes())
    return html.as_uri()


def test_a_slow_import_can_be_cancelled_and_its_session_goes(ghost, browser, tmp_path: Path) -> None:  # noqa: F811
    har = big_har(tmp_path / "slow.har")
    page, trouble = open_ui(browser, ghost)
    page.wait_for_selector("body[data-traffic-loaded]")
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.emulateNetworkConditions", {"offline": False, "latency": 20,
                                                  "downloadThroughput": -1, "uploadThroughput": 256 * 1024})
    page.set_input_files("input[type=file]", str(har))
    progress = page.locator(".transfer.import-progress")
    expect(progress.locator(".transfer-figures")).to_contain_text(" of ")  # bytes of the whole
    expect(progress).to_have_attribute("data-state", "running")
    assert "slow.har (imported)" in session_names(ghost)
    progress.locator("button", has_text="Cancel").click()
    expect(progress).to_have_attribute("data-state", "cancelled")
    page.locator(".toast", has_text="Import of slow.har cancelled").wait_for()
    assert "slow.har (imported)" not in session_names(ghost)
    assert not trouble, trouble


def test_an_import_cancelled_while_ghost_stores_its_flows_stops_and_its_session_goes(
        ghost, browser, tmp_path: Path) -> None:  # noqa: F811
    har = big_har(tmp_path / "long.har", flows=20_000)
    page, trouble = open_ui(browser, ghost)
    page.wait_for_selector("body[data-traffic-loaded]")
    page.set_input_files("input[type=file]", str(har))
    progress = page.locator(".transfer.import-progress")
    expect(progress).to_have_attribute("data-flows", re.compile(r"^[1-9]"), timeout=60_000)  # storing has begun
    progress.locator("button", has_text="Cancel").click()
    expect(progress).to_have_attribute("data-state", "cancelled")
    page.locator(".toast", has_text="Import of long.har cancelled").wait_for(timeout=30_000)
    assert "long.har (imported)" not in session_names(ghost)
    stored = int(progress.get_attribute("data-flows") or 0)
    assert 0 < stored < 20_000
    assert ghost.flows(session_id="all", limit=1) == []  # nothing left behind
    assert "Traceback" not in ghost.log() and "Internal Server Error" not in ghost.log()
    assert not trouble, trouble
