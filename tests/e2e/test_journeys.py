"""Journey recording end to end: headless Chromium with Ghost's extension, its traffic
through a real `mitmdump -s ghost.py`, a small local web app, and replay against it.

The browser is Debian's Chromium driven by Playwright (`executable_path`, never a
downloaded browser). The extension is written by `scripts/ghost_extension.py` from the
Ghost home and loaded with `--load-extension`. Ghost runs with the offline sandbox plugin
and `connection_strategy=lazy`, so nothing the browser sends leaves the machine.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.plugins.journeys.webapp import JourneyApp, JourneyAppServer
from tests.support.captured_session import ensure_node_tools
from tests.support.ghostproc import GhostProcess
from tests.support.ports import free_port

playwright_sync = pytest.importorskip("playwright.sync_api")

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
SANDBOX = REPO / "tests" / "plugins" / "journeys" / "offline_sandbox.py"
GHOST_ARGS = ("--set", "connection_strategy=lazy", "--set", f"ghost_plugins={SANDBOX}")
HEADER = "x-ghost-interaction"

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed")


# --- fixtures -----------------------------------------------------------------------------


@pytest.fixture
def journey_app() -> Iterator[JourneyApp]:
    server = JourneyAppServer()
    state = server.start()
    try:
        yield state
    finally:
        server.stop()


@pytest.fixture
def ports() -> tuple[int, int]:
    return free_port(), free_port()


@pytest.fixture
def home(tmp_path: Path, ports: tuple[int, int]) -> Path:
    """A Ghost home whose config.yaml names the API port the test Ghost listens on."""
    path = tmp_path / "ghost-home"
    path.mkdir()
    (path / "config.yaml").write_text(yaml.safe_dump({"api": {"port": ports[1]}}))
    return path


@pytest.fixture
def start_ghost(ghost_factory: Callable[..., GhostProcess], home: Path, ports: tuple[int, int]
                ) -> Callable[[], GhostProcess]:
    def start() -> GhostProcess:
        return ghost_factory(home=home, proxy_port=ports[0], api_port=ports[1], extra_args=GHOST_ARGS)

    return start


@pytest.fixture
def ghost(start_ghost: Callable[[], GhostProcess]) -> GhostProcess:
    return start_ghost()


@pytest.fixture
def browser(ghost: GhostProcess, tmp_path: Path) -> Iterator[Any]:
    """Chromium with the extension written for this Ghost by `scripts/ghost extension`."""
    extension = tmp_path / "extension"
    out = subprocess.run([sys.executable, str(REPO / "scripts" / "ghost_extension.py"), str(extension),
                          "--home", str(ghost.home)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert json.loads((extension / "config.json").read_text())["api_url"] == ghost.api_url
    args = [
        "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--headless=new", "--ignore-certificate-errors",
        "--disable-client-side-phishing-detection", "--disable-default-apps", "--no-pings",
        f"--disable-extensions-except={extension}", f"--load-extension={extension}",
        f"--proxy-server={ghost.proxy_url}",
        # Loopback goes through Ghost too, except Ghost's own API (Ghost refuses to proxy it).
        f"--proxy-bypass-list=<-loopback>;127.0.0.1:{ghost.api_port}",
    ]
    with playwright_sync.sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(tmp_path / "profile"), executable_path=CHROMIUM, headless=True, args=args, timeout=60_000)
        try:
            yield context
        finally:
            context.close()
    shutil.rmtree(tmp_path / "profile", ignore_errors=True)


# --- helpers --------------------------------------------------------------------------------


def wait_for(check: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = check()
        except httpx.HTTPError:
            value = None
        if value:
            return value
        time.sleep(0.1)
    raise TimeoutError(f"timed out after {timeout} s waiting for {what}")


def wait_connected(ghost: GhostProcess, timeout: float = 30) -> dict:
    """The extension connected and said hello."""
    return wait_for(lambda: (s := ghost.api("GET", "/api/v1/extension/status").json()).get("extension_id") and s,
                    timeout, "the extension to connect")


def active_session(ghost: GhostProcess) -> str:
    return next(s["id"] for s in ghost.api("GET", "/api/v1/sessions").json() if s["active"])


def loads(page: Any) -> int:
    return int(page.text_content("#loads") or "0")


def record_login_journey(ghost: GhostProcess, app: JourneyApp, browser: Any, *, add_note: bool = False
                         ) -> tuple[dict, Any]:
    """Start a recording, log in, watch the dashboard poll, click the local-only button
    (and, with `add_note`, add a note: the token and the note's Location go back to the app)."""
    wait_connected(ghost)
    session_id = active_session(ghost)
    started = ghost.api("POST", "/api/v1/journeys/start", json={"session_id": session_id, "name": "Login"})
    assert started.status_code == 200, started.text
    journey = started.json()
    time.sleep(0.3)  # the extension sets its rule
    page = browser.new_page()
    page.goto(f"{app.url}/")
    page.fill("[data-testid=username]", "ann")
    page.fill("[data-testid=password]", "secret")
    page.click("[data-testid=login-button]")
    page.wait_for_url("**/dashboard", timeout=15_000)
    page.wait_for_function("Number(document.getElementById('loads').textContent) >= 2", timeout=15_000)
    # Right after a poll, the next one is 2 s away: the toggle's 600 ms window stays quiet.
    polled = loads(page)
    page.wait_for_function(f"Number(document.getElementById('loads').textContent) > {polled}", timeout=15_000)
    page.click("[data-testid=toggle-details]")
    assert page.is_visible("#details")
    if add_note:
        page.click("[data-testid=add-note]")
        page.wait_for_function("document.getElementById('note').textContent === 'Buy milk'", timeout=15_000)
    time.sleep(1.0)
    stopped = ghost.api("POST", "/api/v1/journeys/stop", json={"session_id": session_id})
    assert stopped.status_code == 200, stopped.text
    assert stopped.json()["id"] == journey["id"]
    return stopped.json(), page


def steps_of(ghost: GhostProcess, journey_id: str) -> list[dict]:
    steps = ghost.api("GET", f"/api/v1/journeys/{journey_id}/steps").json()
    for step in steps:
        step["data"] = json.loads(step["data"])
    return steps


def read_sse(ghost: GhostProcess, journey_id: str, query: str = "") -> list[tuple[str, dict]]:
    events, name = [], ""
    with httpx.stream("GET", f"{ghost.api_url}/api/v1/journeys/{journey_id}/replay{query}",
                      headers={"Authorization": f"Bearer {ghost.token}"}, timeout=60) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"] == "text/event-stream"
        for line in response.iter_lines():
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: "):
                events.append((name, json.loads(line[6:])))
    return events


# --- tests ----------------------------------------------------------------------------------------


def test_recording_a_login_journey(ghost: GhostProcess, journey_app: JourneyApp, browser: Any) -> None:
    status = wait_connected(ghost)
    assert status["version"] == "1.0.0" and "Chrome" in status["user_agent"]
    journey, page = record_login_journey(ghost, journey_app, browser)
    app_host = f"127.0.0.1:{journey_app.port}"
    steps = steps_of(ghost, journey["id"])
    assert [s["step_order"] for s in steps] == list(range(1, len(steps) + 1))

    # The login click is an action tied to POST /api/auth.
    auth = [s for s in steps if s["data"].get("path") == "/api/auth"]
    assert len(auth) == 1, steps
    login = auth[0]
    assert login["type"] == "action" and login["data"]["method"] == "POST" and login["data"]["status_code"] == 200
    assert login["data"]["interaction_type"] == "click" and login["data"]["element_text"] == "Sign in"
    assert login["data"]["selector"] == 'button[data-testid="login-button"]'
    attrs = login["data"]["attributes"]
    assert (attrs["test_id"], attrs["test_id_attr"], attrs["tag"], attrs["role"], attrs["type"]) == (
        "login-button", "data-testid", "button", "button", "submit")
    assert attrs["visible_text"] == "Sign in"
    session_id = active_session(ghost)
    interactions = {i["id"]: i for i in ghost.api("GET", f"/api/v1/interactions?session_id={session_id}").json()}
    assert interactions[login["interaction_id"]]["type"] == "click"
    assert interactions[login["interaction_id"]]["flow_id"] == login["flow_id"]

    # The dashboard's polling fetch is a plain flow; the local-only button an interaction.
    polls = [s for s in steps if s["data"].get("path") == "/api/items" and s["type"] == "flow"]
    assert polls and all(s["interaction_id"] is None for s in polls)
    toggles = [s for s in steps if s["data"].get("selector") == 'button[data-testid="toggle-details"]']
    assert [(s["type"], s["flow_id"]) for s in toggles] == [("interaction", None)]
    assert toggles[0]["data"]["element_text"] == "Toggle details"

    # What was typed, with the attributes a test generator needs.
    typed = {s["data"]["attributes"].get("name"): s for s in steps if s["data"].get("interaction_type") == "input"}
    assert typed["username"]["type"] == "interaction" and typed["username"]["data"]["element_text"] == "ann"
    assert typed["password"]["data"]["attributes"]["type"] == "password"
    assert typed["password"]["data"]["attributes"]["placeholder"] == "Password"
    navigations = [s["data"]["page_url"] for s in steps if s["data"].get("interaction_type") == "navigation"]
    assert navigations == [f"{journey_app.url}/", f"{journey_app.url}/dashboard"]

    # None of the noise, although the browser fetched all of it through Ghost.
    urls = [f["url"] for f in ghost.flows()]
    for noisy in ("/static/app.css", "/static/app.js", "/static/font.woff2", "/static/logo.png",
                  "/static/avatar", "/favicon.ico", "/manifest.json", "google-analytics.com/g/collect"):
        assert any(noisy in u for u in urls), f"the page did not load {noisy}"
        assert not any(noisy in s["data"].get("url", "") for s in steps), f"{noisy} is in the journey"
    app_steps = [s for s in steps if s["data"].get("host") == "127.0.0.1"]
    assert {s["data"]["path"] for s in app_steps} <= {"/", "/dashboard", "/api/auth", "/api/items"}
    assert not [s for s in steps if s["data"].get("method") == "OPTIONS"]

    # Counts are the steps that point at a flow / an interaction.
    assert journey["flow_count"] == sum(1 for s in steps if s["flow_id"])
    assert journey["interaction_count"] == sum(1 for s in steps if s["interaction_id"])

    # The header was really sent (Ghost stored it) and the target never saw it.
    tagged = [f for f in ghost.flows() if f["interaction_id"].startswith(journey["id"])]
    assert any(f"{app_host}/api/" in f["url"] for f in tagged)
    assert journey_app.seen and not [s for s in journey_app.seen if any(k.lower() == HEADER for k in s.headers)]

    # After stop the rule is gone (the extension drops it a moment after Ghost's message):
    # new requests carry no header.
    time.sleep(0.5)

    def item_flows() -> list[dict]:
        return [f for f in ghost.flows() if f["url"].endswith("/api/items")]

    before = len(item_flows())
    page.click("[data-testid=refresh]")
    newest = wait_for(lambda: (found := item_flows()) and len(found) > before and found, 10, "the refresh flow")
    assert newest[0]["interaction_id"] == ""  # flows are listed newest first


def test_killed_recording_is_failed_and_recoverable(
    ghost: GhostProcess, start_ghost: Callable[[], GhostProcess], journey_app: JourneyApp, browser: Any
) -> None:
    wait_connected(ghost)
    session_id = active_session(ghost)
    journey = ghost.api("POST", "/api/v1/journeys/start", json={"session_id": session_id, "name": "Crash"}).json()
    time.sleep(0.3)
    page = browser.new_page()
    page.goto(f"{journey_app.url}/")
    page.fill("[data-testid=username]", "ann")
    page.fill("[data-testid=password]", "secret")
    page.click("[data-testid=login-button]")
    page.wait_for_url("**/dashboard", timeout=15_000)
    # Wait until the login is on disk (steps settle 1.5 s after they happen).
    wait_for(lambda: any(json.loads(s["data"]).get("path") == "/api/auth"
                         for s in ghost.api("GET", f"/api/v1/journeys/{journey['id']}/steps").json()),
             15, "the login step to be stored")
    before = ghost.api("GET", f"/api/v1/journeys/{journey['id']}/steps").json()

    ghost.kill()
    again = start_ghost()
    failed = again.api("GET", f"/api/v1/journeys/{journey['id']}").json()
    assert failed["status"] == "failed" and failed["completed_at"] is None
    after = again.api("GET", f"/api/v1/journeys/{journey['id']}/steps").json()
    assert after[: len(before)] == before  # what was stored survived the kill
    assert again.api("GET", f"/api/v1/journeys/active?session_id={session_id}").json() == {"is_recording": False}

    completed = again.api("POST", f"/api/v1/journeys/{journey['id']}/complete").json()
    assert completed["status"] == "completed" and completed["completed_at"]
    assert completed["flow_count"] == sum(1 for s in after if s["flow_id"]) >= 1
    assert completed["interaction_count"] == sum(1 for s in after if s["interaction_id"]) >= 1

    # The extension finds the new Ghost by itself; its rule was dropped with the old one.
    wait_connected(again, timeout=60)
    home_page = f"{journey_app.url}/"
    # the session also holds the page load recorded before the kill: wait for a newer one
    recorded_loads = len([f for f in again.flows() if f["url"] == home_page])
    page.goto(home_page)
    loaded = wait_for(lambda: (found := [f for f in again.flows() if f["url"] == home_page])
                      and len(found) > recorded_loads and found, 15, "a page load through the new Ghost")
    assert loaded[0]["interaction_id"] == ""  # flows are listed newest first
    restarted = again.api("POST", "/api/v1/journeys/start", json={"session_id": session_id, "name": "Again"})
    assert restarted.status_code == 200
    again.api("POST", "/api/v1/journeys/stop", json={"session_id": session_id})


def test_replay_against_the_local_app(ghost: GhostProcess, journey_app: JourneyApp, browser: Any) -> None:
    journey, _ = record_login_journey(ghost, journey_app, browser)
    steps = steps_of(ghost, journey["id"])
    flows = [s for s in steps if s["flow_id"]]
    paths = [s["data"]["path"] for s in flows if s["data"]["host"] == "127.0.0.1"]
    assert "/api/auth" in paths and "/api/items" in paths

    # Without the allow-list, the local app is out of reach: nothing is sent.
    seen = len(journey_app.seen)
    events = read_sse(ghost, journey["id"])
    assert events[-1] == ("done", {"type": "done", "total": len(flows)})
    errors = [d for n, d in events if n == "step_error"]
    local = [d for d in errors if "127.0.0.1" in d["url"]]
    assert len(local) == len(paths) and all("loopback" in d["error"] for d in local)
    assert len(journey_app.seen) == seen

    ghost.api("PUT", "/api/v1/settings", json={"replay": {"allow_hosts": ["127.0.0.1"]}}).raise_for_status()
    started = time.monotonic()
    events = read_sse(ghost, journey["id"], "?delay_ms=100")
    assert time.monotonic() - started >= 0.1 * (len(flows) - 1)
    complete = {d["url"].split(str(journey_app.port), 1)[-1]: d for n, d in events if n == "step_complete"}
    starts = [d for n, d in events if n == "step_start"]
    assert [d["step"] for d in starts] == list(range(1, len(flows) + 1))
    auth = complete["/api/auth"]
    assert auth["method"] == "POST" and auth["original"]["status_code"] == auth["replayed"]["status_code"] == 200
    assert auth["diff"]["status_changed"] is False and auth["diff"]["body_size_delta"] == 0
    assert set(auth["diff"]) == {"status_changed", "body_size_delta", "duration_delta_ms"}
    assert not [s for s in journey_app.seen[seen:] if any(k.lower() == HEADER for k in s.headers)]
    assert ghost.api("GET", f"/api/v1/journeys/{journey['id']}").json()["status"] == "completed"

    # The API breaks: the replay shows it.
    journey_app.items_status = 500
    events = read_sse(ghost, journey["id"])
    items = [d for n, d in events if n == "step_complete" and d["url"].endswith("/api/items")]
    assert items and all(d["diff"]["status_changed"] is True and d["replayed"]["status_code"] == 500 for d in items)
    others = [d for n, d in events if n == "step_complete" and d["url"].endswith("/api/auth")]
    assert others and others[0]["diff"]["status_changed"] is False

    # A redirect to a private address is refused, even with 127.0.0.1 allowed.
    journey_app.items_status = 200
    journey_app.items_redirect = f"http://127.0.0.2:{journey_app.port}/api/items"
    events = read_sse(ghost, journey["id"])
    refused = [d for n, d in events if n == "step_error" and d["url"].endswith("/api/items")]
    assert refused and all("refusing" in d["error"] and "127.0.0.2" in d["error"] for d in refused)
    assert ghost.api("GET", f"/api/v1/journeys/{journey['id']}").json()["status"] == "completed"


@pytest.fixture
def restartable_app() -> Iterator[JourneyAppServer]:
    server = JourneyAppServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


def run_tool(command: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=180)


def test_exported_journey_passes_against_the_restarted_app(
    ghost: GhostProcess, restartable_app: JourneyAppServer, browser: Any, tmp_path: Path
) -> None:
    """Recorded through Chromium: the app hands out a fresh token at sign-in and a fresh note
    id; after a restart it knows neither. bash runs the cURL export, newman the Postman one,
    k6 the k6 one: each passes (they read the token and the Location from the live
    responses) and each fails once the app answers a recorded step with another status."""
    app = restartable_app.state
    journey, _ = record_login_journey(ghost, app, browser, add_note=True)
    token, = app.tokens
    note_id, = app.notes
    steps = steps_of(ghost, journey["id"])
    assert {"/api/auth", "/api/notes", f"/api/notes/{note_id}"} <= {s["data"].get("path") for s in steps}

    files: dict[str, Path] = {}
    for fmt in ("curl", "postman", "k6", "har"):
        response = ghost.api("GET", f"/api/v1/journeys/{journey['id']}/export", params={"format": fmt})
        assert response.status_code == 200, response.text
        name = response.headers["content-disposition"].split('filename="', 1)[1].rstrip('"')
        assert name.startswith(f"journey-{journey['id'][:8]}.")
        files[fmt] = tmp_path / name
        files[fmt].write_bytes(response.content)
        if fmt != "har":
            assert token not in response.text and note_id not in response.text, fmt
            assert response.text.count("secret") == 1, fmt  # the typed password, once, as a default

    restartable_app.stop()
    restarted = JourneyAppServer(port=app.port)
    fresh = restarted.start()
    try:
        k6 = Path(sys.executable).parent / "k6"
        commands = {
            "curl": ["bash", str(files["curl"])],
            "postman": [str(ensure_node_tools() / ".bin" / "newman"), "run", str(files["postman"]), "--color", "off"],
            "k6": [str(k6 if k6.exists() else shutil.which("k6")), "run", "--vus", "1", "--iterations", "1",
                   "--quiet", str(files["k6"])],
        }
        for fmt, command in commands.items():
            result = run_tool(command, tmp_path)
            assert result.returncode == 0, (fmt, result.stdout[-4000:], result.stderr[-4000:])
        assert len(fresh.tokens) == len(fresh.notes) == 3  # each tool signed in and added a note

        fresh.items_status = 503
        for fmt, command in commands.items():
            result = run_tool(command, tmp_path)
            assert result.returncode != 0, (fmt, result.stdout[-4000:])
    finally:
        restarted.stop()


def test_browser_actions_and_script_injection(ghost: GhostProcess, journey_app: JourneyApp, browser: Any) -> None:
    wait_connected(ghost)
    browser.new_page()

    def act(body: dict, path: str = "/api/v1/extension/actions") -> httpx.Response:
        return ghost.api("POST", path, json=body, timeout=60)

    navigated = act({"action": "navigate", "url": f"{journey_app.url}/"})
    assert navigated.status_code == 200, navigated.text
    result = navigated.json()["result"]
    assert result["url"] == f"{journey_app.url}/" and result["title"] == "Login - Journey App"
    tab_id = result["tab_id"]

    page = act({"action": "read_page", "tab_id": tab_id, "include_html": True}).json()["result"]
    assert "Sign in" in page["text"] and page["title"] == "Login - Journey App"
    assert 'data-testid="login-button"' in page["html"] and page["text_truncated"] is False

    tabs = act({"action": "tabs"}).json()["result"]["tabs"]
    assert any(t["tab_id"] == tab_id and t["url"] == f"{journey_app.url}/" for t in tabs)

    shot = act({"action": "screenshot", "tab_id": tab_id})
    assert shot.status_code == 200, shot.text
    image = base64.b64decode(shot.json()["result"]["data"])
    assert image.startswith(b"\x89PNG\r\n\x1a\n") and len(image) > 1000

    injected = act({"code": "document.querySelector('[data-testid=username]').value = 'bob'; "
                            "({title: document.title, user: document.forms[0].username.value})",
                    "tab_id": tab_id}, "/api/v1/extension/inject")
    assert injected.status_code == 200, injected.text
    assert injected.json()["result"]["value"] == {"title": "Login - Journey App", "user": "bob"}
    awaited = act({"code": "fetch('/api/items').then(r => r.json())", "tab_id": tab_id}, "/api/v1/extension/inject")
    assert awaited.json()["result"]["value"] == [{"id": 1, "name": "Apples"}, {"id": 2, "name": "Pears"}]
    broken = act({"code": "throw new TypeError('nope')", "tab_id": tab_id}, "/api/v1/extension/inject")
    assert broken.status_code == 502 and "TypeError: nope" in broken.json()["error"]
    missing = act({"action": "read_page", "tab_id": 987654})
    assert missing.status_code == 502 and "987654" in missing.json()["error"]


def test_what_the_content_script_captures(ghost: GhostProcess, journey_app: JourneyApp, browser: Any) -> None:
    wait_connected(ghost)
    session_id = active_session(ghost)
    journey = ghost.api("POST", "/api/v1/journeys/start", json={"session_id": session_id, "name": "Widgets"}).json()
    time.sleep(0.3)
    page = browser.new_page()
    page.goto(f"{journey_app.url}/widgets")
    page.click("text=Mordor")
    page.select_option("select[name=country]", "de")
    page.check("#agree")
    page.fill("input[name=email]", "ann@example.com")
    page.click("input[name=q]")
    page.keyboard.type("hobbits")
    page.keyboard.press("Enter")
    page.click("#dialog-text")
    page.click("text=Go to section 2")
    page.click("#next")
    page.wait_for_url("**/widgets/step-2")
    time.sleep(1.0)  # the typed text is reported 400 ms after the last key
    ghost.api("POST", "/api/v1/journeys/stop", json={"session_id": session_id}).raise_for_status()

    got = [i for i in ghost.api("GET", f"/api/v1/interactions?session_id={session_id}&limit=1000").json()
           if i["journey_id"] == journey["id"]]

    def one(kind: str, selector: str) -> dict:
        found = [i for i in got if i["type"] == kind and i["selector"] == selector]
        assert len(found) == 1, (kind, selector, [(i["type"], i["selector"]) for i in got])
        return found[0]

    mordor = one("click", 'div[data-cy="tag_type"] > div:nth-of-type(2)')
    assert mordor["element_text"] == "Mordor" and mordor["element_type"] == "div"
    country = one("change", 'select[data-test="country"]')
    assert country["element_text"] == "Germany"
    assert country["attributes"] == {"name": "country", "test_id": "country", "test_id_attr": "data-test",
                                     "tag": "select"}
    agree = one("change", "#agree")
    assert agree["element_text"] == "checked" and agree["attributes"]["type"] == "checkbox"
    email = one("input", 'input[name="email"]')
    assert email["element_text"] == "ann@example.com"
    assert (email["attributes"]["aria_label"], email["attributes"]["placeholder"], email["attributes"]["type"]) == (
        "Email address", "you@example.com", "email")
    query = one("input", 'input[data-id="search-box"]')
    assert query["element_text"] == "hobbits"
    # One interaction per field edit: no `change` for typed fields, no `input` for choices.
    for selector in ('input[name="email"]', 'input[data-id="search-box"]'):
        assert not [i for i in got if i["type"] == "change" and i["selector"] == selector], selector
    for selector in ('select[data-test="country"]', "#agree"):
        assert not [i for i in got if i["type"] == "input" and i["selector"] == selector], selector
    assert query["attributes"]["test_id"] == "search-box" and query["attributes"]["test_id_attr"] == "data-id"
    submitted = one("submit", "#search")  # Enter with no button: nobody clicked for it
    assert submitted["element_type"] == "form"
    dialog = one("click", "#dialog-text")
    assert dialog["element_type"] == "p" and dialog["element_text"] == "Text in a dialog"
    link = one("click", 'body > a')
    assert link["attributes"]["href"] == "#section-2" and link["attributes"]["title"] == "Jump"
    assert link["attributes"]["role"] == "link" and link["element_text"] == "Go to section 2"
    assert one("click", "#next")["attributes"]["visible_text"] == "Next step"
    navigations = [i["page_url"] for i in got if i["type"] == "navigation"]
    assert navigations == [f"{journey_app.url}/widgets", f"{journey_app.url}/widgets#section-2",
                           f"{journey_app.url}/widgets/step-2"]
    assert all(i["page_title"] == "Widgets - Journey App" for i in got)
    # Nothing here sent a request: every interaction is an `interaction` step, in time order.
    steps = steps_of(ghost, journey["id"])
    kinds = [s["data"]["interaction_type"] for s in steps if s["type"] == "interaction"]
    in_order = sorted(got, key=lambda i: (i["timestamp"], int(i["id"].rsplit("-", 2)[1])))
    assert kinds == [i["type"] for i in in_order]


# --- UI exports: the Page Object Model formats run against the restarted app ---------------------

PLAYWRIGHT_CONFIG = """import { defineConfig } from '@playwright/test';

export default defineConfig({
  timeout: 60000,
  use: { headless: true, actionTimeout: 10000, launchOptions: { executablePath: '%s' } },
});
"""
CREDENTIAL_ENV = ("BASE_URL", "USERNAME", "PASSWORD", "EMAIL")
_JS = r"'((?:[^'\\]|\\.)*)'"
_GETTER = re.compile(r"^  (get\w+)\(\) \{\n    return (cy\..*);$", re.MULTILINE)
_CHAINS = [
    ("get_contains", re.compile(rf"^cy\.get\({_JS}\)\.contains\({_JS}\)(\.first\(\))?$")),
    ("contains_tag", re.compile(rf"^cy\.contains\({_JS}, {_JS}\)(\.first\(\))?$")),
    ("contains", re.compile(rf"^cy\.contains\({_JS}\)(\.first\(\))?$")),
    ("get", re.compile(rf"^cy\.get\({_JS}\)(\.first\(\))?$")),
]
# What cy.get / cy.contains find, as DOM queries: `contains` yields the deepest elements
# whose text holds the text (within the roots `get` found, or matching the tag).
COUNT_JS = """([kind, a, b]) => {
  const deepest = (elements, text) => {
    const holding = elements.filter((el) => el.textContent.includes(text));
    return holding.filter((el) => !holding.some((other) => other !== el && el.contains(other)));
  };
  const all = (root) => [root, ...root.querySelectorAll('*')];
  if (kind === 'get') return document.querySelectorAll(a).length;
  if (kind === 'contains') return deepest(all(document.body), a).length;
  if (kind === 'contains_tag') return deepest([...document.querySelectorAll(a)], b).length;
  return [...document.querySelectorAll(a)].flatMap((root) => deepest(all(root), b)).length;
}"""


def playwright_test_modules() -> Path:
    """A node_modules holding @playwright/test: GHOST_PLAYWRIGHT_TEST_MODULES, or tests/node's."""
    for candidate in (os.environ.get("GHOST_PLAYWRIGHT_TEST_MODULES", ""), str(REPO / "tests" / "node" / "node_modules")):
        if candidate and (Path(candidate) / "@playwright" / "test").is_dir():
            return Path(candidate)
    pytest.skip("@playwright/test is not installed (tests/node or GHOST_PLAYWRIGHT_TEST_MODULES)")


def js_literal(text: str) -> str:
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t", "r": "\r"}.get(m.group(1), m.group(1)), text)


def cypress_selectors(folder: Path) -> dict[str, tuple[str, list[tuple[str, str, list[str], bool]]]]:
    """Each page object's visit path and its getters as (getter, kind, arguments, first)."""
    pages = {}
    for path in sorted((folder / "pages").glob("*.js")):
        text = path.read_text()
        visit = re.search(rf"cy\.visit\(BASE_URL \+ {_JS}\)", text)
        assert visit, path
        getters = []
        for name, chain in _GETTER.findall(text):
            kind, match = next((k, m) for k, pattern in _CHAINS if (m := pattern.match(chain)))
            *args, first = match.groups()
            getters.append((name, kind, [js_literal(a) for a in args], bool(first)))
        pages[path.stem] = (js_literal(visit.group(1)), getters)
    return pages


def check_cypress_selectors(browser: Any, base: str, folder: Path) -> list[str]:
    """The getters whose selector finds nothing, or several elements without .first()."""
    wrong = []
    page = browser.new_page()
    try:
        for class_name, (path, getters) in cypress_selectors(folder).items():
            page.goto(base + path)
            for name, kind, args, first in getters:
                found = page.evaluate(COUNT_JS, [kind, *args, ""][:3])
                if found == 0 or (found > 1 and not first):
                    wrong.append(f"{class_name}.{name}: {found} elements")
    finally:
        page.close()
    return wrong


def record_pick_journey(ghost: GhostProcess, app: JourneyApp, browser: Any) -> dict:
    """Sign in, add a note, follow the link to the pick page, choose two realms of one
    dropdown, click the date and the Turkish-labelled button, save the pick."""
    wait_connected(ghost)
    session_id = active_session(ghost)
    started = ghost.api("POST", "/api/v1/journeys/start", json={"session_id": session_id, "name": "Pick a realm"})
    assert started.status_code == 200, started.text
    time.sleep(0.3)  # the extension sets its rule
    page = browser.new_page()
    page.goto(f"{app.url}/")
    page.click("[data-testid=username]")
    page.keyboard.type("ann")
    page.fill("[data-testid=password]", "secret")
    page.click("[data-testid=login-button]")
    page.wait_for_url("**/dashboard", timeout=15_000)
    page.click("[data-testid=add-note]")
    page.wait_for_function("document.getElementById('note').textContent === 'Buy milk'", timeout=15_000)
    page.click("text=Pick a realm")
    page.wait_for_url("**/pick", timeout=15_000)
    page.click("text=Shire")
    page.click("text=Mordor")
    page.click(f"text={app.today}")
    page.click("text=Giriş Yap")
    page.click("text=Save pick")
    page.wait_for_function("document.getElementById('saved').textContent === 'Saved Mordor'", timeout=15_000)
    time.sleep(1.0)
    stopped = ghost.api("POST", "/api/v1/journeys/stop", json={"session_id": session_id})
    assert stopped.status_code == 200, stopped.text
    page.close()
    return stopped.json()


def export_files(ghost: GhostProcess, journey_id: str, fmt: str, folder: Path) -> str:
    """The export saved and split into `folder` with the documented split command."""
    response = ghost.api("GET", f"/api/v1/journeys/{journey_id}/export", params={"format": fmt})
    assert response.status_code == 200, response.text
    saved = folder.parent / f"{folder.name}.export"
    saved.write_bytes(response.content)
    split = subprocess.run([sys.executable, "-m", "plugins.journeys.export.pom.multifile", str(saved), str(folder)],
                           cwd=REPO, capture_output=True, text=True, timeout=60)
    assert split.returncode == 0, split.stderr
    return response.text


def test_ui_exports_pass_against_the_restarted_app_and_fail_on_a_changed_test_id(
    ghost: GhostProcess, restartable_app: JourneyAppServer, browser: Any, tmp_path: Path
) -> None:
    """Recorded through Chromium with the extension. The playwright-ui export, split into a
    folder, passes under @playwright/test (Debian's Chromium) against the restarted app,
    which shows another date and hands out other tokens; once the save button's test id
    changes it fails at that step. The cypress-ui selectors each find one element on the
    real pages, and the renamed test id is caught."""
    modules = playwright_test_modules()
    app = restartable_app.state
    journey = record_pick_journey(ghost, app, browser)
    token, = app.tokens
    playwright_dir, cypress_dir = tmp_path / "playwright", tmp_path / "cypress"
    texts = {fmt: export_files(ghost, journey["id"], fmt, folder)
             for fmt, folder in (("playwright-ui", playwright_dir), ("cypress-ui", cypress_dir))}
    for fmt, text in texts.items():
        assert token not in text and text.count("'secret'") == 1, fmt  # the password once, as a default
        assert app.today not in text, fmt  # a date is never a selector
    assert "page.waitForResponse('**/api/picks*')" in texts["playwright-ui"]
    assert "cy.intercept('POST', '**/api/picks*').as('picksReq');" in texts["cypress-ui"]
    assert "girisYapButton" in texts["playwright-ui"] and "getGirisYapButton" in texts["cypress-ui"]

    (playwright_dir / "playwright.config.ts").write_text(PLAYWRIGHT_CONFIG % CHROMIUM)
    (playwright_dir / "node_modules").symlink_to(modules)
    command = [str(modules / ".bin" / "playwright"), "test", "--reporter=line"]
    env = {k: v for k, v in os.environ.items() if k not in CREDENTIAL_ENV}

    restartable_app.stop()
    restarted = JourneyAppServer(port=app.port)
    fresh = restarted.start()
    fresh.today = "04-12-2026"
    try:
        result = subprocess.run(command, cwd=playwright_dir, capture_output=True, text=True, timeout=180, env=env)
        assert result.returncode == 0, (result.stdout[-4000:], result.stderr[-4000:])
        assert fresh.picks == ["Mordor"] and len(fresh.tokens) == len(fresh.notes) == 1
        assert check_cypress_selectors(browser, fresh.url, cypress_dir) == []

        fresh.save_pick_test_id = "store-pick"
        result = subprocess.run(command, cwd=playwright_dir, capture_output=True, text=True, timeout=180, env=env)
        assert result.returncode != 0 and "getByTestId('save-pick')" in result.stdout, result.stdout[-4000:]
        assert fresh.picks == ["Mordor"]  # it stopped at the renamed button
        assert check_cypress_selectors(browser, fresh.url, cypress_dir) == ["PickPage.getSavePickButton: 0 elements"]
    finally:
        restarted.stop()


# --- browser replay ------------------------------------------------------------------------------------


def replay_in_browser(ghost: GhostProcess, journey_id: str, body: dict) -> list[tuple[str, dict]]:
    events, name = [], ""
    with httpx.stream("POST", f"{ghost.api_url}/api/v1/journeys/{journey_id}/replay/browser", json=body,
                      headers={"Authorization": f"Bearer {ghost.token}"}, timeout=60) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"] == "text/event-stream"
        for line in response.iter_lines():
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: "):
                events.append((name, json.loads(line[6:])))
    return events


def flows_to(ghost: GhostProcess, url: str) -> int:
    return len([f for f in ghost.flows() if f["url"] == url])


@pytest.mark.timeout(120)
def test_a_journey_replays_in_the_browser_and_its_screenshots_are_compared(
        ghost: GhostProcess, journey_app: JourneyApp, browser: Any) -> None:
    wait_connected(ghost)
    session_id = active_session(ghost)
    journey = ghost.api("POST", "/api/v1/journeys/start", json={"session_id": session_id, "name": "Greet"}).json()
    time.sleep(0.3)  # the extension sets its rule
    page = browser.new_page()
    page.goto(f"{journey_app.url}/greet")
    page.fill("[data-testid=name]", "ann")
    page.click("[data-testid=greet]")
    page.wait_for_function("document.getElementById('greeting').textContent === 'Hello, ann'", timeout=15_000)
    page.click("[data-testid=show-items]")
    page.wait_for_function("document.querySelectorAll('#items li').length === 2", timeout=15_000)
    time.sleep(1.0)
    assert ghost.api("POST", "/api/v1/journeys/stop", json={"session_id": session_id}).status_code == 200
    replayed = [s for s in steps_of(ghost, journey["id"]) if s["data"].get("interaction_type")]
    assert [s["data"]["interaction_type"] for s in replayed] == ["navigation", "input", "click", "click"]
    greet_url, items_url = f"{journey_app.url}/api/greet", f"{journey_app.url}/api/items"
    assert journey_app.greeted == ["ann"] and flows_to(ghost, greet_url) == 1
    page.goto("about:blank")  # the replay starts from the recorded page, wherever the tab is

    # First replay with compare: each step runs in the browser, its clicks call the API again
    # (through Ghost's proxy: new flows; Ghost's HTTP replay would send them past it), and
    # the screenshots become the baselines.
    events = replay_in_browser(ghost, journey["id"], {"compare": True})
    names = [n for n, _ in events]
    assert names == ["step_start", "step_complete"] * 4 + ["done"], events
    complete = [d for n, d in events if n == "step_complete"]
    assert [d["action"] for d in complete] == ["navigation", "input", "click", "click"]
    assert [d["selector"] for d in complete[1:]] == ['input[data-testid="name"]', 'button[data-testid="greet"]',
                                                    'button[data-testid="show-items"]']  # as recorded
    assert all(d["ok"] and d["screenshot_diff"] == {"baseline": "stored", "changed": False} for d in complete)
    assert events[-1][1]["summary"] == {"steps_run": 4, "failed": 0, "changed": 0, "changed_steps": [],
                                        "baselines_stored": 4}
    assert journey_app.greeted == ["ann", "ann"]  # the typed name, sent by the page's own click handler
    wait_for(lambda: flows_to(ghost, greet_url) == 2 and flows_to(ghost, items_url) >= 2, 10,
             "the replayed clicks' requests in Ghost")
    assert page.text_content("#greeting") == "Hello, ann"  # the replay drove this very tab
    assert ghost.api("GET", f"/api/v1/journeys/{journey['id']}").json()["status"] == "completed"
    baselines = ghost.api("GET", f"/api/v1/journeys/{journey['id']}/baselines").json()
    assert [b["step_order"] for b in baselines] == [d["step_order"] for d in complete]
    shot = ghost.api("GET", f"/api/v1/journeys/{journey['id']}/screenshots/{complete[2]['step_order']}")
    assert shot.status_code == 200 and shot.content.startswith(b"\x89PNG")

    # The app unchanged: nothing changed.
    events = replay_in_browser(ghost, journey["id"], {"compare": True})
    summary = events[-1][1]["summary"]
    assert summary["failed"] == 0 and summary["changed"] == 0, events
    assert all(d["screenshot_diff"]["baseline"] == "compared" for n, d in events if n == "step_complete")

    # The banner's colour changes: the steps that show it are reported, the others are not.
    journey_app.greeting_colour = "#c62828"
    events = replay_in_browser(ghost, journey["id"], {"compare": True})
    summary = events[-1][1]["summary"]
    complete = [d for n, d in events if n == "step_complete"]
    assert summary["failed"] == 0 and summary["changed_steps"] == [d["step_order"] for d in complete[2:]], events
    assert all(d["screenshot_diff"]["diff_percent"] > 1 for d in complete[2:])
    assert journey_app.greeted == ["ann"] * 4

    # The button's test id changes: the recorded selector finds nothing, the next one of the
    # chain (the button's recorded id) does.
    journey_app.greet_test_id, journey_app.greeting_colour = "say-hello", "#2e7d32"
    events = replay_in_browser(ghost, journey["id"], {})
    complete = [d for n, d in events if n == "step_complete"]
    assert events[-1][1]["summary"]["failed"] == 0 and complete[2]["selector"] == "#greet-button", events
    assert journey_app.greeted == ["ann"] * 5
    page.close()
