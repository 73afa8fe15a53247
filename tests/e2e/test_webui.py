"""The web UI in Debian's Chromium (Playwright) against a real `mitmdump -s ghost.py` with
real traffic through the proxy: login by the logged link, the live list and inspector, a
held request edited in the overlay, hostile flows rendered inert, a HAR dropped on the page.
Screenshots go to $GHOST_UI_SCREENSHOTS (or the test's temporary directory), never the repo."""

from __future__ import annotations

import os
import re
import shutil
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.support.target import Target

CHROMIUM = "/usr/bin/chromium"
WAIT_MS = 15_000
XSS = '<img src=x onerror="window.__pwned=1;alert(1)"><script>window.__pwned=2;alert(2)</script>'


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("GHOST_UI_SCREENSHOTS") or tmp_path / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    if not Path(CHROMIUM).exists() or shutil.which("chromium") is None:
        pytest.fail("Debian's chromium is required for this test: apt-get install -y chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"), executable_path=CHROMIUM, headless=True,
            viewport={"width": 1280, "height": 720},
            args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"],
            timeout=30_000)
        context.set_default_timeout(WAIT_MS)
        try:
            yield context
        finally:
            context.close()


@pytest.fixture
def pool() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(4) as executor:
        yield executor


def logged_link(ghost: Any) -> str:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        found = re.search(r"Web UI: open (http://\S+/login\?code=\S+)", ghost.log())
        if found:
            return found.group(1)
        time.sleep(0.1)
    raise AssertionError(f"no login link in the log:\n{ghost.log()}")


def open_ui(browser: Any, ghost: Any, *, first_run: bool = False) -> tuple[Any, list[str]]:
    """A logged-in page; the list of dialogs and page errors it raises (must stay empty).
    Unless `first_run`, the setup wizard was already completed (as by a returning user)."""
    if not first_run:
        assert ghost.api("POST", "/api/v1/setup/complete", json={"proxy_method": "manual"}).status_code == 200
    page = browser.new_page()
    trouble: list[str] = []
    page.on("dialog", lambda dialog: (trouble.append(f"dialog: {dialog.message}"), dialog.dismiss()))
    page.on("pageerror", lambda error: trouble.append(f"page error: {error}"))
    page.goto(logged_link(ghost))
    assert page.url == f"{ghost.api_url}/", "the code must not stay in the address bar"
    page.wait_for_selector("#connection.up")
    return page, trouble


def test_the_list_shows_live_flows_and_the_inspector_shows_them(ghost, target: Target, browser, shots: Path) -> None:
    page, trouble = open_ui(browser, ghost)
    page.wait_for_selector("body[data-traffic-loaded]")
    with ghost.client() as client:
        client.get(f"{target.http_url}/json")
        client.post(f"{target.http_url}/echo/created", json={"name": "widget"})
        client.get(f"{target.http_url}/status/404")
        client.get(f"{target.http_url}/image.png")
    rows = page.locator(".rows .row:not([hidden])")
    expect(page.locator(".count")).to_have_text("4 flows")  # arrived live, no reload
    assert rows.nth(0).locator(".c-path").text_content() == "/image.png"  # newest first
    status_404 = page.locator(".rows .row:not([hidden]) .c-status", has_text="404")
    assert "s-4xx" in (status_404.get_attribute("class") or "")
    assert "m-POST" in (page.locator(".rows .c-method", has_text="POST").get_attribute("class") or "")

    page.locator(".rows .row:has(.c-path:text-is('/json'))").click()
    page.locator(".subtab", has_text="Response").click()
    assert '"items": [\n    1,' in page.locator(".body pre").text_content()  # JSON pretty-printed
    page.locator(".subtab", has_text="Timings").click()
    assert page.locator(".wf-row").count() == 6
    page.locator(".rows .row:has(.c-path:text-is('/image.png'))").click()
    page.locator(".subtab", has_text="Response").click()
    assert page.locator("img.body-image").get_attribute("src", timeout=WAIT_MS).startswith("data:image/png;base64,")
    page.screenshot(path=str(shots / "traffic.png"))

    page.fill("#search", "nosuchfield:1")
    page.keyboard.press("Enter")
    page.wait_for_selector(".search-error:not([hidden])")
    assert "unknown field" in page.locator(".search-error").text_content()
    page.fill("#search", "status:404")
    page.keyboard.press("Enter")
    expect(page.locator(".count")).to_have_text("1 flows")
    assert page.locator(".search-error").is_hidden()

    page.locator("#tabs .tab", has_text="Overview").click()
    expect(page.locator(".timeline-chart rect.st-4xx")).to_have_count(2)  # the column and the legend
    assert page.locator(".timeline-chart rect.st-2xx").count() >= 2  # 200, 201 (and the legend)
    assert page.locator(".histogram rect").count() == 9
    expect(page.locator(".slowest-chart .bar-fill")).to_have_count(4)
    assert "127.0.0.1" in (page.locator(".slowest-chart .endpoint-label").first.text_content() or "")
    page.screenshot(path=str(shots / "overview.png"))
    assert not trouble, trouble


def test_a_held_request_edited_in_the_overlay_reaches_the_target_edited(
        ghost, target: Target, browser, pool: ThreadPoolExecutor, shots: Path) -> None:
    page, trouble = open_ui(browser, ghost)
    page.locator("#tabs .tab", has_text="Breakpoints").click()
    page.fill("input[name=path_pattern]", "/echo/held*")
    page.select_option("select[name=method]", "POST")
    page.locator("button", has_text="Add breakpoint").click()
    page.wait_for_selector("table.rules td:text('/echo/held*')")
    assert [r["method"] for r in ghost.api("GET", "/api/v1/breakpoints").json()] == ["POST"]

    def post(path: str, body: str) -> Any:
        with ghost.client() as client:
            return client.post(f"{target.http_url}{path}", content=body, headers={"Content-Type": "text/plain"})

    first = pool.submit(post, "/echo/held-1", "original body")
    page.wait_for_selector(".editor")  # a hit opens the editor
    second = pool.submit(post, "/echo/held-2", "second body")
    expect(page.locator(".dots .dot-button")).to_have_count(2)
    assert page.locator(".editor input[name=url]").input_value().endswith("/echo/held-1")
    countdown = page.locator(".editor .countdown")
    assert re.fullmatch(r"\d+ s", countdown.text_content() or "")
    page.screenshot(path=str(shots / "breakpoint-editor.png"))

    page.fill(".editor input[name=url]", f"{target.http_url}/echo/edited?by=ui")
    headers = page.locator(".editor textarea[name=headers]")
    headers.fill(headers.input_value() + "\nX-Edited-By: ghost-ui")
    page.fill(".editor textarea[name=body]", "edited in the overlay")
    page.locator("#bp-modify").click()
    reply = first.result(timeout=15)
    assert reply.status_code == 200
    seen = next(s for s in target.seen if s.path == "/echo/edited")
    assert seen.query == "by=ui" and seen.body == b"edited in the overlay" and seen.header("X-Edited-By") == "ghost-ui"
    assert not any(s.path == "/echo/held-1" for s in target.seen)

    # The editor moved on to the other held flow; drop it from there.
    expect(page.locator(".editor input[name=url]")).to_have_value(re.compile(r"/echo/held-2$"))
    page.locator("#bp-drop").click()
    page.wait_for_selector(".editor", state="detached")
    with pytest.raises(Exception):  # noqa: B017 - the proxy closes the dropped connection, whatever httpx calls it
        second.result(timeout=15).raise_for_status()
    assert not any(s.path == "/echo/held-2" for s in target.seen)
    assert not trouble, trouble


def test_the_countdown_turns_amber_then_red(ghost, target: Target, browser, pool: ThreadPoolExecutor) -> None:
    assert ghost.api("PUT", "/api/v1/settings", json={"breakpoints": {"timeout_secs": 12}}).status_code == 200
    assert ghost.api("POST", "/api/v1/breakpoints", json={"path_pattern": "/slow"}).status_code == 201
    page, trouble = open_ui(browser, ghost)

    def get() -> Any:
        with ghost.client() as client:
            return client.get(f"{target.http_url}/slow?ms=1")

    held = pool.submit(get)
    page.wait_for_selector(".editor .countdown")
    assert page.get_attribute(".editor .countdown", "class") == "countdown"
    page.wait_for_selector(".editor .countdown.amber", timeout=6_000)
    page.wait_for_selector(".editor .countdown.red", timeout=8_000)
    assert page.eval_on_selector(".editor .countdown.red", "el => getComputedStyle(el).animationName") == "urgent"
    page.locator("#bp-continue").click()
    assert held.result(timeout=15).status_code == 200
    assert not trouble, trouble


def test_a_flow_full_of_script_payloads_renders_inert(ghost, target: Target, browser, shots: Path) -> None:
    with ghost.client() as client:
        client.post(f"{target.http_url}/echo/x", params={"q": XSS}, content=XSS.encode(),
                    headers={"Content-Type": "text/html", "X-Evil": XSS})
    flow = ghost.wait_flows(1)[0]
    assert ghost.api("POST", f"/api/v1/flows/{flow['id']}/tags", json={"tag": XSS}).status_code in (200, 201)
    assert ghost.api("PATCH", f"/api/v1/flows/{flow['id']}", json={"annotation": XSS}).status_code == 200
    page, trouble = open_ui(browser, ghost)
    expect(page.locator(".count")).to_have_text("1 flows")
    page.locator(".rows .row:not([hidden])").first.click()
    for tab in ("Request", "Response", "Timings", "Tags & notes"):
        page.locator(".subtab", has_text=tab).click()
        page.wait_for_timeout(100)
    page.screenshot(path=str(shots / "xss-inert.png"))
    assert "window.__pwned=2" in page.locator(".tags").text_content() or XSS in page.locator(".tags").text_content()
    assert page.evaluate("window.__pwned === undefined")
    assert page.locator("img[src=x]").count() == 0
    assert page.evaluate("[...document.scripts].map(s => s.getAttribute('src'))") == ["/ui/main.js"]
    page.locator(".subtab", has_text="Request").click()
    assert XSS in page.locator(".body pre").text_content()  # shown as text, exactly
    assert not trouble, trouble


def test_dropping_a_har_makes_a_session_and_compare_shows_the_diff(
        ghost, target: Target, browser, shots: Path, tmp_path: Path) -> None:
    with ghost.client() as client:
        client.get(f"{target.http_url}/json")
        client.get(f"{target.http_url}/status/201")
    ghost.wait_flows(2)
    session = ghost.api("GET", "/api/v1/sessions").json()[0]
    har = ghost.api("GET", f"/api/v1/sessions/{session['id']}/export/har").text
    with ghost.client() as client:
        client.get(f"{target.http_url}/gzip")  # only in the baseline session now
    page, trouble = open_ui(browser, ghost)
    page.wait_for_selector("body[data-traffic-loaded]")
    transfer = page.evaluate_handle(
        """(text) => { const data = new DataTransfer();
             data.items.add(new File([text], "capture.har", {type: "application/json"})); return data; }""", har)
    page.dispatch_event("body", "dragenter", {"dataTransfer": transfer})
    assert page.locator("#drop-zone").is_visible()
    page.dispatch_event("body", "drop", {"dataTransfer": transfer})
    toast = page.locator(".toast", has_text="Imported 2 flows from capture.har")
    toast.wait_for()
    names = [s["name"] for s in ghost.api("GET", "/api/v1/sessions").json()]
    assert "capture.har (imported)" in names
    toast.locator("button", has_text="Compare").click()
    dialog = page.locator(".modal", has_text="Compare:")
    dialog.wait_for()
    assert "Removed (1)" in dialog.text_content() and "/gzip" in dialog.text_content()
    page.screenshot(path=str(shots / "compare.png"))
    dialog.locator("button", has_text="Close").click()

    def drop(text: str, name: str) -> None:
        dropped = page.evaluate_handle(
            """([text, name]) => { const data = new DataTransfer();
                 data.items.add(new File([text], name, {type: "application/json"})); return data; }""", [text, name])
        page.dispatch_event("body", "drop", {"dataTransfer": dropped})

    drop("{not json", "broken.har")  # refused by its first KB, before any session is made
    page.locator(".toast.error", has_text="broken.har: Invalid file format — expected JSON array or HAR object").wait_for()
    drop('{"log": {"version": "1.2", "entries": [{"request": ', "truncated.har")  # refused by Ghost
    page.locator(".toast.error", has_text="Import of truncated.har failed").wait_for()
    names = [s["name"] for s in ghost.api("GET", "/api/v1/sessions").json()]
    assert "broken.har (imported)" not in names and "truncated.har (imported)" not in names
    imported = next(s for s in ghost.api("GET", "/api/v1/sessions").json() if s["name"] == "capture.har (imported)")
    assert imported["description"] == "Imported from capture.har"
    assert not trouble, trouble


class ExtensionConnection:
    """Ghost's extension protocol spoken from a thread (hello, then listening), so Ghost
    sees a connected browser extension and lets journeys record; the real extension does
    the same over this WebSocket (tests/e2e/test_journeys.py drives that one)."""

    def __init__(self, ghost: Any) -> None:
        import asyncio
        import threading

        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.task = asyncio.run_coroutine_threadsafe(self._run(ghost), self.loop)
        self.hello_sent = threading.Event()
        self.stopped = False

    async def _run(self, ghost: Any) -> None:
        import aiohttp

        url = ghost.api_url.replace("http://", "ws://") + f"/api/v1/extension/ws?token={ghost.token}"
        async with aiohttp.ClientSession() as session, session.ws_connect(
                url, headers={"Origin": "chrome-extension://ghosttestextension"}) as ws:
            await ws.send_json({"type": "hello", "data": {"version": "1.0.0", "extension_id": "ghosttestextension",
                                                          "user_agent": "ui-test"}})
            self.hello_sent.set()
            async for _ in ws:
                pass

    def close(self) -> None:
        import asyncio

        async def end() -> None:  # cancel the connection and wait until it has closed
            others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in others:
                task.cancel()
            await asyncio.gather(*others, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(end(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@pytest.fixture
def extension(ghost) -> Iterator[ExtensionConnection]:
    connection = ExtensionConnection(ghost)
    assert connection.hello_sent.wait(10)
    try:
        yield connection
    finally:
        connection.close()


def test_recording_a_journey_shows_the_pill_the_timeline_and_the_replay(
        ghost, target: Target, browser, extension, shots: Path) -> None:
    assert ghost.api("PUT", "/api/v1/settings", json={"replay": {"allow_hosts": ["127.0.0.1"]}}).status_code == 200
    page, trouble = open_ui(browser, ghost)
    record = page.locator("#record")
    expect(record).to_be_enabled()
    assert record.get_attribute("title") == "Record a journey"
    record.click()
    page.locator(".modal input").fill("Checkout")
    page.locator(".modal button", has_text="OK").click()
    pill = page.locator(".recording-pill")
    expect(pill.locator(".pill-name")).to_have_text("Checkout")
    expect(pill.locator(".pill-time")).to_have_text(re.compile(r"^\d+:\d\d$"))
    with ghost.client() as client:
        client.get(f"{target.http_url}/json")
        client.post(f"{target.http_url}/echo/order", json={"sku": 1})
    expect(pill.locator(".pill-steps")).to_have_text("2 steps")
    shown = pill.locator(".pill-time").text_content()
    expect(pill.locator(".pill-time")).not_to_have_text(shown or "", timeout=5_000)  # the clock runs
    page.screenshot(path=str(shots / "recording-pill.png"))
    pill.locator("button", has_text="Stop").click()
    expect(page.locator("#record")).to_be_visible()

    page.locator("#tabs .tab", has_text="Journeys").click()
    page.locator(".journey-row button.link", has_text="Checkout").click()
    page.locator("#journey-rename").click()
    page.locator(".modal input").fill("   ")
    page.locator(".modal button", has_text="OK").click()
    page.locator(".toast.error", has_text="must not be empty").wait_for()  # the API's 400
    page.locator("#journey-rename").click()
    page.locator(".modal input").fill("Checkout <b>renamed</b>")
    page.locator(".modal button", has_text="OK").click()
    expect(page.locator(".journey-detail h2")).to_have_text("Checkout <b>renamed</b>")
    session_id = ghost.api("GET", "/api/v1/sessions").json()[0]["id"]
    journey = ghost.api("GET", f"/api/v1/journeys?session_id={session_id}").json()[0]
    assert journey["name"] == "Checkout <b>renamed</b>"
    steps = page.locator("ol.timeline li.step.t-flow")
    expect(steps).to_have_count(2)
    assert "/echo/order" in steps.nth(1).text_content()
    page.locator("#journey-replay").click()
    results = page.locator(".replay-results tbody tr")
    expect(results).to_have_count(2)
    expect(page.locator(".replay-head .meta")).to_have_text("done: 2 steps")
    assert results.nth(0).get_attribute("class") == "match" and "200 → 200" in results.nth(0).text_content()
    assert results.nth(0).locator(".delta").get_attribute("class") == "delta delta-same"  # within ±500 ms: grey
    page.screenshot(path=str(shots / "journey-timeline.png"))
    with page.expect_download() as download:
        page.locator(".journey-actions select").select_option("har")
    saved = shots / "journey.har"
    download.value.save_as(saved)
    assert '"entries"' in saved.read_text()
    assert not trouble, trouble


def test_the_record_button_says_why_it_is_off(ghost, browser) -> None:
    page, trouble = open_ui(browser, ghost)
    record = page.locator("#record")
    expect(record).to_be_disabled()
    assert record.get_attribute("title") == "Connect browser extension to record journeys"
    assert not trouble, trouble


def test_settings_show_secrets_masked_save_changes_and_rotate_the_token(ghost, browser, shots: Path) -> None:
    secret = "sk-ant-do-not-show-1234"
    assert ghost.api("PUT", "/api/v1/settings", json={"llm": {"api_key": secret}}).status_code == 200
    page, trouble = open_ui(browser, ghost)
    page.locator("#tabs .tab", has_text="Settings").click()
    key = page.locator("input[name='llm.api_key']")
    expect(key).to_have_value("****1234")
    assert secret not in page.content()

    timeout = page.locator("input[name='breakpoints.timeout_secs']")
    timeout.fill("0")
    section = page.locator("section[data-section=breakpoints]")
    section.locator("button", has_text="Save breakpoints").click()
    expect(section.locator(".editor-error")).to_contain_text("timeout_secs")  # the API's 400, inline
    timeout.fill("45")
    section.locator("button", has_text="Save breakpoints").click()
    page.locator(".toast", has_text="breakpoints: saved").wait_for()
    settings = ghost.api("GET", "/api/v1/settings").json()
    assert settings["breakpoints"]["timeout_secs"] == 45
    page.locator("section[data-section=llm] button", has_text="Save llm").click()
    page.locator(".toast", has_text="llm: nothing changed").wait_for()  # the mask is no change
    page.screenshot(path=str(shots / "settings.png"))

    page.locator("#rotate-token").click()
    page.locator(".modal button", has_text="Rotate").click()
    new_token = page.locator("#new-token").text_content() or ""
    assert len(new_token) >= 32
    assert ghost.api("GET", "/api/v1/sessions").status_code == 401  # the old token is dead
    assert ghost.api("GET", "/api/v1/sessions", token=new_token).status_code == 200
    page.locator(".modal button", has_text="Done").click()
    page.wait_for_url(f"{ghost.api_url}/")
    page.wait_for_selector("#connection.up")  # logged in again, by a fresh one-time link
    assert ghost.api("GET", "/api/v1/settings", token=new_token).json()["llm"]["api_key"] == "****1234"
    assert not trouble, trouble


def test_rules_and_addons_are_made_in_the_ui_and_change_real_traffic(ghost, target: Target, browser, shots: Path) -> None:
    page, trouble = open_ui(browser, ghost)
    page.locator("#tabs .tab", has_text="Rules").click()

    page.locator("button", has_text="New map rule").click()
    editor = page.locator(".rules-editor")
    editor.locator("input[name=name]").fill("mock cart")
    editor.locator("input[name=path_pattern]").fill("/cart")
    editor.locator("input[name=content_type]").fill("application/json")
    editor.locator("textarea[name=body]").fill('{"items": ["mocked"]}')
    editor.locator("textarea[name=headers]").fill("X-Mocked: yes")
    editor.locator("button", has_text="Create").click()
    expect(page.locator("section[data-kind=map] tr", has_text="mock cart")).to_have_count(1)
    with ghost.client() as client:
        reply = client.get(f"{target.http_url}/cart")
    assert reply.json() == {"items": ["mocked"]} and reply.headers["x-mocked"] == "yes"
    assert not any(s.path == "/cart" for s in target.seen)  # answered by the rule, not the server
    page.locator("section[data-kind=map] tr", has_text="mock cart").locator("input[type=checkbox]").uncheck()
    expect(page.locator("section[data-kind=map] tr", has_text="mock cart").locator("input[type=checkbox]")).not_to_be_checked()
    assert ghost.api("GET", "/api/v1/rules").json()[0]["enabled"] is False

    page.locator("button", has_text="New addon").click()
    editor.locator("input[name=name]").fill("logger")
    editor.locator("textarea[name=code]").fill(
        'ghost.onResponse(function (flow) { ghost.log("saw " + flow.response.status_code); flow.tag("seen-by-addon"); });')
    editor.locator("button", has_text="Create").click()
    log = editor.locator(".addon-log")
    expect(log).to_contain_text("nothing logged yet")
    with ghost.client() as client:
        client.get(f"{target.http_url}/status/201")
    expect(log).to_contain_text("info saw 201")  # addon.log, live
    editor.locator("input[name=name]").fill("logger (renamed)")
    editor.locator("button", has_text="Save").click()
    expect(page.locator("section[data-kind=addon] tr", has_text="logger (renamed)")).to_have_count(1)
    editor.locator("textarea[name=code]").fill("this is not javascript (")
    editor.locator("button", has_text="Save").click()
    expect(editor.locator(".editor-error")).not_to_be_empty()  # the API's 400, shown in the editor
    page.screenshot(path=str(shots / "rules.png"))
    assert "null" not in (editor.text_content() or "")  # nothing left out is shown as "null"
    assert not trouble, trouble


def test_a_held_response_edited_in_the_overlay_reaches_the_client_edited(
        ghost, target: Target, browser, pool: ThreadPoolExecutor) -> None:
    assert ghost.api("POST", "/api/v1/breakpoints",
                     json={"phase": "response", "path_pattern": "/json"}).status_code == 201
    page, trouble = open_ui(browser, ghost)

    def get() -> Any:
        with ghost.client() as client:
            return client.get(f"{target.http_url}/json")

    reply = pool.submit(get)
    editor = page.locator(".editor")
    expect(editor.locator(".phase-badge")).to_have_text("Response held")
    expect(editor.locator("input[name=url]")).to_have_attribute("readonly", "")
    assert '"items"' in editor.locator("textarea[name=response_body]").input_value()
    editor.locator("input[name=status_code]").fill("abc")
    editor.locator("#bp-modify").click()
    expect(editor.locator(".editor-error")).to_contain_text("status must be a number")  # still held
    editor.locator("input[name=status_code]").fill("503")
    editor.locator("textarea[name=response_body]").fill('{"error": "edited in the UI"}')
    editor.locator("#bp-modify").click()
    answer = reply.result(timeout=15)
    assert answer.status_code == 503 and answer.json() == {"error": "edited in the UI"}
    expect(page.locator(".editor")).to_have_count(0)
    assert not trouble, trouble


def test_compose_from_a_flow_and_from_pasted_curl(ghost, target: Target, browser) -> None:
    assert ghost.api("PUT", "/api/v1/settings", json={"replay": {"allow_hosts": ["127.0.0.1"]}}).status_code == 200
    with ghost.client() as client:
        client.post(f"{target.http_url}/echo/original", json={"qty": 1})
    page, trouble = open_ui(browser, ghost)
    page.locator(".rows .row:not([hidden])").first.click()
    page.locator("#compose-from-flow").click()
    composer = page.locator("#view-compose")
    expect(composer.locator("input[name=url]")).to_have_value(f"{target.http_url}/echo/original")
    assert composer.locator("input[name=method]").input_value() == "POST"
    composer.locator("textarea[name=body]").fill('{"qty": 2}')
    page.locator("#compose-send").click()
    expect(composer.locator(".compose-answer .status-line")).to_contain_text("200")
    assert '"body": "{\\"qty\\": 2}"' in composer.locator(".compose-answer pre").text_content()
    assert target.seen[-1].path == "/echo/original" and target.seen[-1].body == b'{"qty": 2}'

    composer.locator("textarea[name=curl]").fill(f"curl '{target.http_url}/echo/pasted' -H 'X-From: curl'")
    composer.locator("button", has_text="Import cURL").click()
    expect(composer.locator("input[name=url]")).to_have_value(f"{target.http_url}/echo/pasted")
    page.locator("#compose-send").click()
    expect(composer.locator(".compose-answer pre")).to_contain_text('"X-From": "curl"')
    composer.locator("textarea[name=curl]").fill("curl -F a=@file http://x")
    composer.locator("button", has_text="Import cURL").click()
    expect(composer.locator(".editor-error")).to_contain_text("supply the file")  # imported, and said
    composer.locator("textarea[name=curl]").fill("curl")
    composer.locator("button", has_text="Import cURL").click()
    expect(composer.locator(".editor-error")).not_to_be_empty()  # refused, with the reason
    assert not trouble, trouble


def test_first_run_shows_the_setup_wizard_and_settings_show_the_monitor(ghost, target: Target, browser) -> None:
    page, trouble = open_ui(browser, ghost, first_run=True)
    wizard = page.locator(".modal", has_text="Welcome to Ghost")
    wizard.wait_for()
    assert wizard.locator("a", has_text="download it").get_attribute("href") == "/api/v1/proxy/ca"
    wizard.locator("input[value=device]").check()
    wizard.locator("button", has_text="Done").click()
    page.locator(".toast", has_text="Setup complete").wait_for()
    assert ghost.api("GET", "/api/v1/setup/status").json() == {"completed": True, "proxy_method": "device"}
    page.reload()
    page.wait_for_selector("#connection.up")
    expect(page.locator(".modal")).to_have_count(0)  # once is enough

    with ghost.client() as client:
        client.get(f"{target.http_url}/json")
    ghost.wait_flows(1)
    page.locator("#tabs .tab", has_text="Settings").click()
    expect(page.locator("table.monitor td[data-figure='Flows stored']")).to_have_text("1")
    assert not trouble, trouble
