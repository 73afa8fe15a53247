"""Each built-in format's generator on a fixed journey, against its golden file.

Regenerate after an intended change with GHOST_UPDATE_GOLDEN=1 and read the diff.
"""

from __future__ import annotations

import os
from pathlib import Path

import orjson
import pytest

from plugins.journeys.export import BUILTIN
from plugins.journeys.export.model import filename

from .journeys import JOURNEY_ID, flow, login_journey

GOLDEN = Path(__file__).resolve().parents[3] / "data" / "golden" / "journey_export"
TOKEN = "a3f1c0ffee5eed5ca1ab1e0123456789"
NOTE = "5eedfeed0badcafe"


@pytest.mark.parametrize("fmt", sorted(BUILTIN))
def test_matches_the_golden_file(fmt: str) -> None:
    exporter = BUILTIN[fmt]
    text = exporter.generate(login_journey(token=TOKEN, note_id=NOTE))
    path = GOLDEN / filename(JOURNEY_ID, exporter.extension)
    if os.environ.get("GHOST_UPDATE_GOLDEN"):
        path.write_text(text)
    assert text == path.read_text()


@pytest.mark.parametrize("fmt", ["curl", "postman", "k6", "playwright-api", "cypress-api"])
def test_api_formats_never_print_what_the_app_handed_out(fmt: str) -> None:
    text = BUILTIN[fmt].generate(login_journey(token=TOKEN, note_id=NOTE))
    assert TOKEN not in text and NOTE not in text
    assert text.count("secret") == 1  # the password, once, as the default of PASSWORD
    for skipped in ("User-Agent", "Cookie", "recorded-cookie", "X-Ghost-Interaction", "Referer", "Origin",
                    "Accept-Language", "Sec-Fetch-Mode", "Host"):
        assert skipped not in text, skipped
    assert "/api/slow" not in text  # a flow with no response is not exported


def test_har_keeps_every_answered_flow_in_step_order() -> None:
    doc = orjson.loads(BUILTIN["har"].generate(login_journey()))
    entries = doc["log"]["entries"]
    assert [(e["request"]["method"], e["response"]["status"]) for e in entries] == [
        ("POST", 200), ("GET", 200), ("POST", 201), ("GET", 200)]
    assert entries[2]["response"]["redirectURL"].startswith("/api/notes/")
    assert entries[0]["request"]["cookies"] == [{"name": "sid", "value": "recorded-cookie"}]
    assert doc["log"]["creator"] == {"name": "Ghost", "version": "1.0"}


def test_har_pages_are_the_browser_pages_titled_as_the_extension_saw_them(tmp_path: Path) -> None:
    from ghost_addons.model import Timings
    from plugins.journeys.export.model import ExportStep
    from plugins.journeys.model import Interaction
    from tests.support.captured_session import ensure_node_tools, har_validator

    journey = login_journey()
    base = "http://127.0.0.1:8080"
    page = flow(9, base, "GET", "/dashboard", 200, "<html>", headers=[("Sec-Fetch-Dest", "document")])
    page.timings = Timings(dns_us=1_000, connect_us=2_000, tls_us=3_000, send_us=100, wait_us=4_000, receive_us=500)
    titled = Interaction("01JEXP0RTI0000000000000009", "S", "click", base + "/dashboard#notes", page.started_at,
                         page_title="Dashboard")
    steps = [ExportStep(journey.steps[0].step, page, None), ExportStep(journey.steps[1].step, None, titled),
             *journey.steps]
    text = BUILTIN["har"].generate(type(journey)(journey.journey, steps))
    ensure_node_tools()
    (tmp_path / "journey.har").write_text(text)
    checked = har_validator(tmp_path / "journey.har")
    assert checked.returncode == 0, checked.stderr
    log = orjson.loads(text)["log"]
    assert [(p["id"], p["title"]) for p in log["pages"]] == [(f"page_{page.id}", "Dashboard")]
    entries = log["entries"]
    # the flows recorded before the navigation started have no page; the ones after it are on it
    assert [e.get("pageref") for e in entries] == [f"page_{page.id}", None, None, None, None]
    timings = entries[0]["timings"]
    assert timings["connect"] == 5.0 and timings["ssl"] == 3.0  # HAR 1.2: connect includes ssl
    assert entries[0]["time"] == 1.0 + 5.0 + 0.1 + 4.0 + 0.5  # the measured phases, added


def test_postman_dedupes_by_method_and_url() -> None:
    journey = login_journey()
    again = journey.steps[2]  # GET /api/items a second time, e.g. a refresh
    twice = type(journey)(journey.journey, [*journey.steps[:4], again, *journey.steps[4:]])
    curl = BUILTIN["curl"].generate(twice)
    postman = orjson.loads(BUILTIN["postman"].generate(twice))
    assert curl.count("# Step ") == 5
    assert [i["name"].split(" — ")[1] for i in postman["item"]] == [
        "POST /api/auth", "GET /api/items", "POST /api/notes", "GET {LOCATION}"]


def test_the_browser_s_own_requests_are_left_out_of_a_tagged_journey() -> None:
    import dataclasses

    journey = login_journey()
    tag = f"{JOURNEY_ID}-ambient-1764763200000"
    steps = [dataclasses.replace(s, flow=dataclasses.replace(s.flow, interaction_id=tag))
             if s.flow is not None and "/api/" in s.flow.request.url else s for s in journey.steps]
    browser_own = flow(9, "https://accounts.google.com", "POST", "/ListAccounts", 502, {})
    tagged = type(journey)(journey.journey, [journey.steps[0].__class__(journey.steps[0].step, browser_own), *steps])
    assert [f.request.url for f in tagged.flows()] == [f.request.url for f in journey.flows()]
    assert "accounts.google.com" not in BUILTIN["curl"].generate(tagged)


def test_a_redirect_and_a_binary_body() -> None:
    import dataclasses

    journey = login_journey()
    redirect = flow(7, "http://127.0.0.1:8080", "GET", "/old", 302, {}, response_headers=[("Location", "/new")])
    upload = dataclasses.replace(flow(8, "http://127.0.0.1:8080", "PUT", "/api/blob", 204, {}),
                                 request=dataclasses.replace(journey.steps[0].flow.request, method="PUT",  # type: ignore[union-attr]
                                                             url="http://127.0.0.1:8080/api/blob", body=b"\xff\x00\xfe"))
    steps = [*journey.steps, *(type(journey.steps[0])(journey.steps[0].step, f) for f in (redirect, upload))]
    export = type(journey)(journey.journey, steps)
    curl = BUILTIN["curl"].generate(export)
    assert "-L \\\n" in curl and 'check_redirected 5 "$status"  # recorded 302, followed with -L' in curl
    assert "printf '%s' '/wD+' | base64 -d > \"$work/request-6\"" in curl
    k6 = BUILTIN["k6"].generate(export)
    assert 'encoding.b64decode("/wD+", "std", "b")' in k6 and "maxRedirects: 0" in k6
    assert 'Buffer.from("/wD+", "base64")' in BUILTIN["playwright-api"].generate(export)
    import subprocess

    assert subprocess.run(["bash", "-n"], input=curl, text=True, capture_output=True).returncode == 0
