"""What issue 17 lists for a user, checked in Debian's Chromium against a real Ghost where
the other web UI tests do not: every export format in the menus, Mark Complete on a journey
a restart left failed, a replay stopped half-way, and the LLM and TestRail Check buttons
(against the local stand-ins of tests/e2e/test_integrations.py). Screenshots go to
$GHOST_UI_SCREENSHOTS (or the test's temporary directory)."""

from __future__ import annotations

import signal
import time
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
