"""Export a session of real captured traffic and run each file through the tool it is for:
har-validator and mitmproxy read the HAR, newman runs the Postman collection, bash, python,
HTTPie and node run the code snippets, the csv module reads the CSV, Chromium renders the
report."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import pty
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.support.captured_session import (
    FORMULA_TAG,
    Captured,
    capture_session,
    ensure_node_tools,
    export,
    har_validator,
)
from tests.support.ghostproc import MITMDUMP, GhostProcess
from tests.support.target import Target

SKIPPED = {"host", "content-length", "connection", "keep-alive", "transfer-encoding",
           "proxy-authorization", "proxy-authenticate", "proxy-connection", "te", "trailers",
           "upgrade"}


@pytest.fixture(scope="module")
def captured(tmp_path_factory: pytest.TempPathFactory, target_server: Target) -> Iterator[Captured]:
    ensure_node_tools()
    target_server.reset()
    ghost = GhostProcess(tmp_path_factory.mktemp("export") / "home").start()
    try:
        yield capture_session(ghost, target_server)
    finally:
        ghost.stop()


@pytest.fixture
def files(tmp_path: Path) -> Path:
    return tmp_path


def new_session(ghost: GhostProcess, name: str) -> str:
    r = ghost.api("POST", "/api/v1/sessions", json={"name": name})
    assert r.status_code == 201, r.text
    return r.json()["id"]


def session_flows(ghost: GhostProcess, session_id: str) -> list[dict[str, Any]]:
    summaries = ghost.flows(session_id=session_id)
    summaries.sort(key=lambda f: f["id"])
    return [ghost.api("GET", f"/api/v1/flows/{s['id']}").json() for s in summaries]


# --- HAR ---------------------------------------------------------------------------------


def test_har_passes_har_validator_and_mitmproxy_reads_it(captured: Captured, files: Path) -> None:
    path, response = export(captured.ghost, captured.session_id, "har", files)
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    assert re.fullmatch(r'attachment; filename="Default_session_\d{4}-\d\d-\d\d-\d{6}\.har".*',
                        response.headers["content-disposition"])
    result = har_validator(path)
    assert result.returncode == 0, result.stderr
    assert "valid" in result.stdout
    doc = json.loads(path.read_bytes())
    assert len(doc["log"]["entries"]) == len(captured.flows) == 10
    read = subprocess.run([MITMDUMP, "-n", "-r", str(path), "--set", "flow_detail=1"],
                          capture_output=True, text=True, timeout=60)
    assert read.returncode == 0, read.stderr + read.stdout
    for needle in ("/json", "/echo/form", "/image.png", "/status/500", "/gzip"):
        assert needle in read.stdout


def test_har_reimports_with_every_field_equal(captured: Captured, files: Path) -> None:
    path, _ = export(captured.ghost, captured.session_id, "har", files)
    target_session = new_session(captured.ghost, "HAR reimport")
    r = captured.ghost.api("POST", f"/api/v1/sessions/{target_session}/import/har",
                           files={"file": ("export.har", path.read_bytes(), "application/json")})
    assert r.status_code == 200, r.text
    assert r.json() == {"imported": 10, "skipped": 0, "errors": []}
    imported = session_flows(captured.ghost, target_session)
    assert len(imported) == 10
    for original, back in zip(captured.flows, imported, strict=True):
        assert back["id"] != original["id"]
        assert back["session_id"] == target_session
        assert back["source"] == "import"
        assert back["metadata"]["import_source"] == "har"
        assert set(back["metadata"]) == {"import_source", "har_entry"}  # the entry as imported
        for key in ("started_at", "duration_ms", "timings", "error"):
            assert back[key] == original[key], key
        for key in ("method", "url", "host", "path", "port", "http_version", "headers", "body",
                    "body_encoding"):
            assert back["request"][key] == original["request"][key], key
        if original["response"] is None:
            assert back["response"] is None
        else:
            for key in ("status_code", "status_text", "http_version", "headers", "body",
                        "body_encoding", "body_size", "content_type"):
                assert back["response"][key] == original["response"][key], key


def test_json_export_reimports_with_tags(captured: Captured, files: Path) -> None:
    path, _ = export(captured.ghost, captured.session_id, "json", files)
    assert path.read_bytes().startswith(b"[\n  {\n")
    target_session = new_session(captured.ghost, "JSON reimport")
    r = captured.ghost.api("POST", f"/api/v1/sessions/{target_session}/import/json",
                           content=path.read_bytes())
    assert r.status_code == 200 and r.json()["imported"] == 10, r.text
    imported = session_flows(captured.ghost, target_session)
    assert [f["tags"] for f in imported] == [f["tags"] for f in captured.flows]
    assert all(f["metadata"]["import_source"] == "json" for f in imported)
    assert [f["response"] and f["response"]["body"] for f in imported] == \
        [f["response"] and f["response"]["body"] for f in captured.flows]


def test_compare_original_and_reimport_finds_no_change(captured: Captured, files: Path) -> None:
    path, _ = export(captured.ghost, captured.session_id, "har", files)
    other = new_session(captured.ghost, "baseline")
    captured.ghost.api("POST", f"/api/v1/sessions/{other}/import/har", content=path.read_bytes())
    r = captured.ghost.api("GET", "/api/v1/sessions/compare",
                           params={"a": captured.session_id, "b": other})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["added"] == [] and body["removed"] == [] and body["changed"] == []
    assert body["a"]["flow_count"] == body["b"]["flow_count"] == 10


# --- Postman -----------------------------------------------------------------------------


def test_newman_runs_the_postman_collection_with_the_same_statuses(captured: Captured,
                                                                   files: Path) -> None:
    path, response = export(captured.ghost, captured.session_id, "postman", files)
    assert "_postman_collection.json" in response.headers["content-disposition"]
    report = files / "newman.json"
    newman = Path(ensure_node_tools()) / ".bin" / "newman"
    run = subprocess.run([str(newman), "run", str(path), "--ignore-redirects", "--insecure",
                          "--reporters", "json", "--reporter-json-export", str(report),
                          "--timeout-request", "10000"], capture_output=True, text=True,
                         timeout=120)
    executions = json.loads(report.read_text())["run"]["executions"]
    assert len(executions) == 10, run.stdout + run.stderr
    for flow, execution in zip(captured.flows, executions, strict=True):
        assert execution["item"]["name"] == f"{flow['request']['method']} {flow['request']['path']}"
        if flow["response"] is None:
            assert "response" not in execution or execution.get("requestError"), execution
        else:
            assert execution["response"]["code"] == flow["response"]["status_code"]


# --- code snippets -----------------------------------------------------------------------


def snippet(captured: Captured, flow: dict[str, Any], fmt: str) -> str:
    r = captured.ghost.api("GET", f"/api/v1/flows/{flow['id']}/export/{fmt}")
    assert r.status_code == 200, r.text
    return r.text


def run_tty(command: list[str]) -> subprocess.CompletedProcess[bytes]:
    """Run with a terminal as stdin, as a person pasting the command would."""
    main, secondary = pty.openpty()
    try:
        return subprocess.run(command, stdin=secondary, capture_output=True, timeout=60)
    finally:
        os.close(main)
        os.close(secondary)


def run_snippet(fmt: str, code: str, files: Path) -> subprocess.CompletedProcess[bytes]:
    if fmt == "curl":
        return subprocess.run(["bash", "-c", code], capture_output=True, timeout=60)
    if fmt == "python":
        return subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=60)
    if fmt == "fetch":
        return subprocess.run(["node", "-e", code], capture_output=True, timeout=60)
    script = files / "httpie.sh"
    bin_dir = str(Path(sys.executable).parent)
    script.write_text(f"export PATH={bin_dir}:$PATH\n{code}\n")
    return run_tty(["bash", str(script)])


@pytest.mark.parametrize("fmt", ["curl", "python", "httpie", "fetch"])
@pytest.mark.parametrize("path", ["/echo/api", "/echo/form"])
def test_code_snippets_send_the_same_request(captured: Captured, files: Path, fmt: str,
                                             path: str) -> None:
    flow = captured.by_path(path, "POST")
    code = snippet(captured, flow, fmt)
    captured.target.seen.clear()
    result = run_snippet(fmt, code, files)
    assert result.returncode == 0, (code, result.stdout[-2000:], result.stderr[-2000:])
    assert len(captured.target.seen) == 1, code
    seen = captured.target.seen[0]
    original = flow["request"]
    assert seen.method == original["method"]
    assert seen.path == original["path"]
    assert seen.query == (original["url"].split("?", 1)[1] if "?" in original["url"] else "")
    first_values: dict[str, str] = {}
    for header in original["headers"]:
        first_values.setdefault(header["name"].lower(), header["value"])
    for name, value in first_values.items():
        if name in SKIPPED:
            continue
        assert seen.header(name) == value, (fmt, name, code)
    if "json" in (seen.header("content-type") or ""):
        assert json.loads(seen.body) == json.loads(original["body"])
    else:
        assert seen.body.decode() == original["body"]


def test_markdown_masks_the_token(captured: Captured) -> None:
    text = snippet(captured, captured.by_path("/echo/api", "POST"), "markdown")
    header_rows = [line for line in text.splitlines() if line.startswith("| ")]
    assert "| Authorization | Bearer *** |" in header_rows
    assert not any("t0k3n" in row for row in header_rows)  # (the echoed body may show it)
    assert text.rstrip().endswith("*")


def test_code_export_errors(captured: Captured) -> None:
    flow = captured.flows[0]
    r = captured.ghost.api("GET", f"/api/v1/flows/{flow['id']}/export/cobol")
    assert r.status_code == 400 and "curl" in r.json()["error"]
    r = captured.ghost.api("GET", "/api/v1/flows/01HWNOSUCHFLOW0000000000000/export/curl")
    assert r.status_code == 404


# --- CSV -----------------------------------------------------------------------------------


def test_csv_reads_with_the_csv_module_and_formulas_are_quoted(captured: Captured,
                                                               files: Path) -> None:
    path, response = export(captured.ghost, captured.session_id, "csv", files)
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    rows = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))
    assert len(rows) == 10
    assert list(rows[0]) == ["id", "method", "url", "host", "path", "status", "duration_ms",
                             "request_size", "response_size", "content_type", "tags", "error"]
    by_path = {row["path"]: row for row in rows}
    assert by_path["/status/500"]["tags"] == "'" + FORMULA_TAG + ";error"
    assert by_path["/status/404"]["status"] == "404"
    assert by_path["/nothing-here"]["status"] == "0" and by_path["/nothing-here"]["error"]
    assert re.fullmatch(r"\d+\.\d", by_path["/json"]["duration_ms"])


# --- HTML report ------------------------------------------------------------------------------


def test_html_report_renders_in_chromium_and_search_filters(captured: Captured,
                                                            files: Path) -> None:
    from playwright.sync_api import sync_playwright

    path, response = export(captured.ghost, captured.session_id, "report", files)
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    problems: list[str] = []
    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(files / "chromium-profile"), executable_path="/usr/bin/chromium", headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync"])
        try:
            page = context.new_page()
            page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: problems.append(str(e)))
            page.on("request", lambda r: problems.append(f"network: {r.url}")
                    if not r.url.startswith("file:") else None)
            page.goto(path.as_uri())
            rows = page.locator("#flows tbody tr")
            assert rows.count() == 10
            assert page.locator("#stat-total").inner_text() == "10"
            page.fill("#search", "status/50")
            page.wait_for_function("document.querySelectorAll('#flows tbody tr:not([hidden])')"
                                   ".length === 1", timeout=5000)
            assert page.locator("#count").inner_text() == "1 of 10 flows"
            page.fill("#search", "")
            page.click("th:has-text('Status')")
            statuses = page.locator("#flows tbody tr td:nth-child(3)").all_inner_texts()
            numbers = [int(s) if s.isdigit() else 0 for s in statuses]
            assert numbers == sorted(numbers)
            page.screenshot(path=str(files / "report.png"), full_page=True)
        finally:
            context.close()
    assert problems == []


# --- artifacts and events ------------------------------------------------------------------


def test_export_saves_an_artifact_and_announces_it(captured: Captured, files: Path) -> None:
    ghost = captured.ghost

    async def watch() -> dict[str, Any]:
        async with aiohttp.ClientSession() as session:
            async with session.ws_connect(f"{ghost.api_url}/api/v1/ws?token={ghost.token}") as ws:
                await asyncio.sleep(0.2)
                await asyncio.to_thread(export, ghost, captured.session_id, "csv", files)
                while True:
                    msg = await asyncio.wait_for(ws.receive_json(), 10)
                    if msg["type"] == "artifact.created":
                        return msg["data"]

    artifact = asyncio.run(watch())
    assert artifact["type"] == "session_export"
    assert artifact["title"] == "Default session — CSV Export"
    assert artifact["summary"].startswith("10 flows, ")
    assert artifact["metadata"]["flow_count"] == 10
    assert artifact["metadata"]["session_name"] == "Default session"
    content = ghost.api("GET", f"/api/v1/artifacts/{artifact['id']}/download").content
    assert content == (files / "export.csv").read_bytes()


def test_export_errors(captured: Captured) -> None:
    r = captured.ghost.api("GET", f"/api/v1/sessions/{captured.session_id}/export/xlsx")
    assert r.status_code == 400 and "har" in r.json()["error"]
    r = captured.ghost.api("GET", "/api/v1/sessions/01HWNOSUCHSESSION000000000/export/har")
    assert r.status_code == 404


# --- large sessions: no artifact above 20 MB, cancellation ----------------------------------


def big_session(ghost: GhostProcess, count: int, body_bytes: int) -> str:
    session = new_session(ghost, f"big {count}")
    flows = []
    for i in range(count):
        flows.append({
            "started_at": "2026-03-08T14:30:22.000000Z", "duration_ms": 5,
            "request": {"method": "GET", "url": f"http://big.test/items/{i}", "headers": []},
            "response": {"status_code": 200, "headers": [{"name": "Content-Type",
                                                          "value": "text/plain"}],
                         "body": "x" * body_bytes},
        })
    r = ghost.api("POST", f"/api/v1/sessions/{session}/import/json", content=json.dumps(flows),
                  timeout=120)
    assert r.status_code == 200 and r.json()["imported"] == count, r.text
    return session


def artifact_count(ghost: GhostProcess, session_id: str) -> int:
    return len(ghost.api("GET", "/api/v1/artifacts", params={"session_id": session_id}).json())


def test_exports_above_20_mb_are_not_kept_as_artifacts(captured: Captured) -> None:
    ghost = captured.ghost
    session = big_session(ghost, 8_000, 3_000)
    r = ghost.api("GET", f"/api/v1/sessions/{session}/export/json", timeout=120)
    assert r.status_code == 200 and len(r.content) > 20 * 1024 * 1024
    assert len(json.loads(r.content)) == 8_000
    small = ghost.api("GET", f"/api/v1/sessions/{session}/export/csv", timeout=120)
    assert small.status_code == 200 and len(small.content) < 20 * 1024 * 1024
    titles = [a["title"] for a in ghost.api("GET", "/api/v1/artifacts",
                                            params={"session_id": session}).json()]
    assert titles == ["big 8000 — CSV Export"]


def test_export_stops_when_the_client_goes_away(captured: Captured) -> None:
    import httpx

    ghost = captured.ghost
    session = big_session(ghost, 12_000, 1_000)
    with httpx.Client(timeout=30) as client:
        with client.stream("GET", f"{ghost.api_url}/api/v1/sessions/{session}/export/har",
                           headers={"Authorization": f"Bearer {ghost.token}"}) as response:
            assert response.status_code == 200
            next(response.iter_bytes())
    # the rest is never read: Ghost notices, stops, and keeps no (partial) artifact
    assert ghost.api("GET", "/api/v1/health").status_code == 200
    assert artifact_count(ghost, session) == 0
    full = ghost.api("GET", f"/api/v1/sessions/{session}/export/har", timeout=120)
    assert len(json.loads(full.content)["log"]["entries"]) == 12_000


# --- a third-party plugin adds formats through the same hooks ------------------------------

PLUGIN = '''
import orjson
from ghost_addons.hookspecs import hookimpl
from plugins.exporters.contract import Exporter


class NdjsonWriter:
    def __init__(self, info):
        self.info = info

    def write(self, flows):
        for flow in flows:
            yield orjson.dumps(flow.to_dict(include_bodies=False)) + b"\\n"

    def close(self):
        return iter(())


@hookimpl
def ghost_exporters(register):
    register("ndjson", Exporter(name="ndjson", title="NDJSON", extension="ndjson",
                                content_type="application/x-ndjson", artifact_format="json",
                                open=NdjsonWriter))


@hookimpl
def ghost_code_generators(register):
    register("wget", lambda flow: f"wget {flow.request.url}")
'''


def test_a_plugin_adds_an_exporter_and_a_code_generator(ghost_factory, target: Target,
                                                        tmp_path: Path) -> None:
    plugin = tmp_path / "ndjson_plugin.py"
    plugin.write_text(PLUGIN)
    ghost = ghost_factory(extra_args=("--set", f"ghost_plugins={plugin}"))
    with ghost.client() as client:
        client.get(f"{target.http_url}/json")
    flow = ghost.wait_flows(1)[0]
    r = ghost.api("GET", f"/api/v1/sessions/{flow['session_id']}/export/ndjson")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/x-ndjson")
    assert r.headers["content-disposition"].startswith('attachment; filename="Default_session_')
    assert json.loads(r.text.splitlines()[0])["id"] == flow["id"]
    code = ghost.api("GET", f"/api/v1/flows/{flow['id']}/export/wget")
    assert code.status_code == 200 and code.text == f"wget {target.http_url}/json"
