"""What issue 17 lists for a user, checked in Debian's Chromium against a real Ghost where
the other web UI tests do not: every export format in the menus, Mark Complete on a journey
a restart left failed, a replay stopped half-way, and the LLM and TestRail Check buttons
(against the local stand-ins of tests/e2e/test_integrations.py). Screenshots go to
$GHOST_UI_SCREENSHOTS (or the test's temporary directory)."""

from __future__ import annotations

import signal
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from playwright.sync_api import expect

from tests.e2e.test_integrations import StandIn, ghost_with_stand_in, stand_in  # noqa: F401 - fixtures
from tests.e2e.test_webui import ExtensionConnection, browser, open_ui, shots  # noqa: F401 - fixtures
from tests.support.target import Target

JOURNEY_FORMATS = ["curl", "har", "postman", "k6", "playwright-api", "cypress-api", "playwright-ui", "cypress-ui"]


def registered_exporters(ghost: Any) -> set[str]:
    loaded = ghost.api("GET", "/api/v1/plugins").json()
    return {name for plugin in loaded["plugins"] for name in plugin["registered"].get("exporters", [])}


def recorded_journey(ghost: Any, target: Target, name: str, paths: list[str]) -> str:
    """A journey recorded through Ghost's extension protocol and the proxy; its id once
    every flow is a step."""
    connection = ExtensionConnection(ghost)
    try:
        assert connection.hello_sent.wait(10)
        session_id = ghost.api("GET", "/api/v1/sessions").json()[0]["id"]
        started = ghost.api("POST", "/api/v1/journeys/start", json={"session_id": session_id, "name": name})
        assert started.status_code == 200, started.text
        journey_id = started.json()["id"]
        with ghost.client() as client:
            for path in paths:
                assert client.get(f"{target.http_url}{path}").status_code == 200
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            steps = ghost.api("GET", f"/api/v1/journeys/{journey_id}/steps").json()
            if sum(step["type"] == "flow" for step in steps) == len(paths):
                return journey_id
            time.sleep(0.2)
        raise AssertionError(f"the journey's steps did not arrive: {steps}")
    finally:
        connection.close()


def test_a_failed_journey_is_marked_complete_exported_in_every_format_and_a_replay_stops(
        ghost, target: Target, browser, shots: Path) -> None:  # noqa: F811
    assert ghost.api("PUT", "/api/v1/settings", json={"replay": {"allow_hosts": ["127.0.0.1"]}}).status_code == 200
    journey_id = recorded_journey(ghost, target, "Slow checkout", ["/slow?ms=1500", "/slow?ms=1500", "/json"])
    # Ghost dies while recording; on the next start the journey is failed.
    ghost.stop(signal.SIGKILL)
    ghost.log_path.unlink()
    ghost.start()
    assert ghost.api("GET", f"/api/v1/journeys/{journey_id}").json()["status"] == "failed"

    page, trouble = open_ui(browser, ghost)
    assert sorted(page.locator("select[aria-label='Export session'] option").evaluate_all(
        "options => options.map(o => o.value).filter(Boolean)")) == sorted(registered_exporters(ghost))
    page.locator("#tabs .tab", has_text="Journeys").click()
    row = page.locator(".journey-row", has_text="Slow checkout")
    expect(row.locator("button", has_text="Delete")).to_be_hidden()  # shown on hover, as the spec draws it
    row.hover()
    expect(row.locator("button", has_text="Delete")).to_be_visible()
    page.locator(".journey-row button.link", has_text="Slow checkout").click()
    detail = page.locator(".journey-detail")
    expect(detail.locator(".badge.j-failed")).to_have_text("failed")
    expect(detail.locator("#journey-replay")).to_have_count(0)  # a failed journey is finished first
    page.screenshot(path=str(shots / "journey-failed.png"))
    detail.locator("button", has_text="Mark Complete").click()
    expect(detail.locator(".badge.j-completed")).to_have_text("completed")
    assert ghost.api("GET", f"/api/v1/journeys/{journey_id}").json()["status"] == "completed"

    formats = detail.locator(".journey-actions select option").evaluate_all(
        "options => options.map(o => o.value).filter(Boolean)")
    assert formats == JOURNEY_FORMATS
    for fmt, marker in (("cypress-api", "cy.request"), ("k6", "k6/http")):
        with page.expect_download() as download:
            detail.locator(".journey-actions select").select_option(fmt)
        saved = shots / f"journey-{fmt}.txt"
        download.value.save_as(saved)
        assert marker in saved.read_text(), fmt
    detail.locator(".journey-actions select").select_option("playwright-ui")  # no interactions recorded
    page.locator(".toast.error", has_text="no interactions").wait_for()
    expect(page.locator(".transfer", has_text="(playwright-ui)")).to_have_count(0)  # the error toast says it

    seen_before = len(target.seen)
    detail.locator("#journey-replay").click()
    expect(page.locator(".replay-head .meta")).to_have_text("replaying…")
    page.locator(".replay-head button", has_text="Stop").click()
    expect(page.locator(".replay-head .meta")).to_have_text("stopped")
    expect(page.locator(".replay-head button", has_text="Stop")).to_be_disabled()
    time.sleep(3.5)  # long enough for all three steps, had the replay gone on
    assert page.locator(".replay-results tbody tr").count() < 3
    assert len(target.seen) - seen_before < 3
    page.screenshot(path=str(shots / "journey-replay-stopped.png"))
    assert not trouble, trouble


def test_the_llm_and_testrail_check_buttons_show_the_verdict(
        ghost_with_stand_in, stand_in: StandIn, browser, shots: Path) -> None:  # noqa: F811
    ghost = ghost_with_stand_in
    settings = {"replay": {"allow_hosts": ["127.0.0.1"]},
                "llm": {"provider": "ollama", "ollama_endpoint": stand_in.url, "model": "llama3"},
                "testrail": {"url": stand_in.url, "email": "qa@acme.test", "api_key": "old-key"}}
    assert ghost.api("PUT", "/api/v1/settings", json=settings).status_code == 200
    page, trouble = open_ui(browser, ghost)
    page.locator("#tabs .tab", has_text="Settings").click()

    llm = page.locator("section[data-section=llm]")
    llm.locator("button", has_text="Check").click()
    page.locator(".toast", has_text="llm: valid").wait_for()
    llm.locator("input[name='llm.model']").fill("nope")  # checked as typed, not saved
    llm.locator("button", has_text="Check").click()
    page.locator(".toast.error", has_text="llm: not valid").wait_for()
    assert stand_in.seen[-1]["body"]["model"] == "nope"
    assert ghost.api("GET", "/api/v1/settings").json()["llm"]["model"] == "llama3"

    testrail = page.locator("section[data-section=testrail]")
    expect(testrail.locator("input[name='testrail.api_key']")).to_have_value("****-key")
    testrail.locator("button", has_text="Check").click()  # the stored (wrong) key behind the mask
    page.locator(".toast.error", has_text="testrail: not valid: TestRail connection failed").wait_for()
    testrail.locator("input[name='testrail.api_key']").fill("tr-key")
    testrail.locator("button", has_text="Check").click()
    page.locator(".toast", has_text="testrail: valid").wait_for()
    page.screenshot(path=str(shots / "settings-checks.png"))
    assert ghost.api("GET", "/api/v1/settings").json()["testrail"]["api_key"] == "****-key"  # nothing saved
    assert not trouble, trouble


def test_sessions_breakpoint_strip_and_shortcuts_as_a_user_drives_them(
        ghost, target: Target, browser, shots: Path) -> None:  # noqa: F811
    page, trouble = open_ui(browser, ghost)
    select = page.locator("#session-select")

    def sessions() -> dict[str, dict[str, Any]]:
        return {s["name"]: s for s in ghost.api("GET", "/api/v1/sessions").json()}

    # Sessions: create (and switch to it), rename, switch back, delete the other one.
    page.locator("#session-controls button", has_text="New").click()
    page.locator(".modal input").fill("Sprint 12")
    page.locator(".modal button", has_text="OK").click()
    expect(select.locator("option:checked")).to_contain_text("Sprint 12")
    assert sessions()["Sprint 12"]["active"] is True
    with ghost.client() as client:
        client.get(f"{target.http_url}/json")
    expect(select.locator("option:checked")).to_have_text("Sprint 12 (1)", timeout=10_000)
    page.locator("#session-controls button", has_text="Rename").click()
    page.locator(".modal input").fill("Sprint 12 <regression>")
    page.locator(".modal button", has_text="OK").click()
    expect(select.locator("option:checked")).to_contain_text("Sprint 12 <regression>")
    default = next(name for name in sessions() if name != "Sprint 12 <regression>")
    select.select_option(label=next(o for o in select.locator("option").all_text_contents() if o.startswith(default)))
    expect(select.locator("option:checked")).to_contain_text(default)
    assert sessions()[default]["active"] is True
    page.locator("#session-controls button", has_text="Delete").click()
    dialog = page.locator(".modal", has_text="Delete a session")
    assert "Sprint 12 <regression> (1 flows)" in (dialog.locator("select").text_content() or "")
    dialog.locator("button", has_text="Delete").click()
    expect(select.locator("option")).to_have_count(1)
    assert list(sessions()) == [default]

    # Breakpoints: a rule toggled off and on, a held flow continued from the strip, clear all.
    page.keyboard.press("g")
    page.keyboard.press("b")  # g b: Breakpoints
    expect(page.locator("#tabs .tab", has_text="Breakpoints")).to_have_class("tab active")
    page.fill("input[name=path_pattern]", "/echo/strip*")
    page.locator("button", has_text="Add breakpoint").click()
    toggle = page.locator("table.rules tr", has_text="/echo/strip*").locator("input[type=checkbox]")
    toggle.uncheck()
    expect(toggle).not_to_be_checked()
    assert ghost.api("GET", "/api/v1/breakpoints").json()[0]["enabled"] is False
    toggle.check()
    expect(toggle).to_be_checked()
    with ThreadPoolExecutor(1) as pool:
        def post() -> Any:
            with ghost.client() as client:
                return client.post(f"{target.http_url}/echo/strip-1", content=b"held")

        reply = pool.submit(post)
        page.wait_for_selector(".editor")
        page.keyboard.press("Escape")  # the editor closes; the flow stays held in the strip
        strip = page.locator("#pending-strip")
        expect(strip).to_contain_text("1 held")
        page.screenshot(path=str(shots / "held-strip.png"))
        strip.locator("button", has_text="Continue").click()
        assert reply.result(timeout=15).status_code == 200
    expect(strip).to_be_hidden()
    page.locator("button", has_text="Clear all").click()
    expect(page.locator("table.rules tr", has_text="/echo/strip*")).to_have_count(0)
    assert ghost.api("GET", "/api/v1/breakpoints").json() == []

    # Keyboard: ? lists the shortcuts; g o opens the Overview.
    page.locator("body").click()
    page.keyboard.press("?")
    expect(page.locator(".modal", has_text="Keyboard shortcuts")).to_contain_text("edit the first held flow")
    page.keyboard.press("Escape")
    page.keyboard.press("g")
    page.keyboard.press("o")
    expect(page.locator("#tabs .tab", has_text="Overview")).to_have_class("tab active")
    assert not trouble, trouble


def test_an_injection_rule_made_in_the_ui_reaches_a_page_and_can_be_switched_off(
        ghost, target: Target, browser) -> None:  # noqa: F811
    page, trouble = open_ui(browser, ghost)
    page.keyboard.press("g")
    page.keyboard.press("r")  # g r: Rules
    page.locator("button", has_text="New injection rule").click()
    editor = page.locator(".rules-editor")
    editor.locator("input[name=name]").fill("banner <qa>")
    editor.locator("input[name=url_pattern]").fill("*://127.0.0.1:*/page*")
    editor.locator("textarea[name=script]").fill("window.__qaBanner = 'from the web UI';")
    editor.locator("button", has_text="Create").click()
    row = page.locator("section[data-kind=injection] tr", has_text="banner <qa>")
    expect(row).to_have_count(1)
    with ghost.client() as client:
        html = client.get(f"{target.http_url}/page").text
    assert "window.__qaBanner = 'from the web UI';" in html
    row.locator("input[type=checkbox]").uncheck()
    expect(row.locator("input[type=checkbox]")).not_to_be_checked()
    with ghost.client() as client:
        assert "__qaBanner" not in client.get(f"{target.http_url}/page").text
    assert not trouble, trouble
