"""`scripts/ghost browser` end to end, and the extension behind other proxy flags.

Debian's Chromium (headless), a real `mitmdump -s ghost.py` trusting only the local app's
own CA upstream, and the app over HTTPS: the browser must trust Ghost's CA through the
profile's SPKI list alone (no --ignore-certificate-errors).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.ghostproc import GhostProcess
from tests.support.tls_app import TlsApp, VerifyingGhost

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
SCRIPT = REPO / "scripts" / "ghost_browser.py"
HEADLESS = ("--headless=new", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--disable-default-apps", "--no-pings")

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed")


@pytest.fixture
def app(tmp_path: Path) -> Iterator[TlsApp]:
    directory = tmp_path / "app-ca"
    directory.mkdir()
    with TlsApp(directory) as served:
        yield served


@pytest.fixture
def ghost(tmp_path: Path, app: TlsApp) -> Iterator[GhostProcess]:
    # Ghost trusts the app through the app's own CA only.
    proc = VerifyingGhost(tmp_path / "ghost-home", extra_args=("--set", f"ssl_verify_upstream_trusted_ca={app.ca}"))
    proc.start()
    try:
        yield proc
    finally:
        proc.stop()


def wait_for(check: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise TimeoutError(f"timed out after {timeout} s waiting for {what}")


def tree(path: Path) -> dict[str, int]:
    return {str(p.relative_to(path)): p.stat().st_mtime_ns for p in path.rglob("*") if not p.is_symlink()}


class BrowserRun:
    """`scripts/ghost browser` as a child process; its output lines are read as they come."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        self.started = time.monotonic()
        self.proc = subprocess.Popen([sys.executable, str(SCRIPT), *args], stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True, env=env, start_new_session=True)
        self.lines: list[str] = []

    def until(self, text: str, timeout: float) -> float:
        """Read output until a line holds `text`; returns the seconds since start."""
        import selectors
        selector = selectors.DefaultSelector()
        selector.register(self.proc.stdout, selectors.EVENT_READ)  # type: ignore[arg-type]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if selector.select(timeout=0.2):
                line = self.proc.stdout.readline()  # type: ignore[union-attr]
                if not line:
                    break
                self.lines.append(line)
                if text in line:
                    return time.monotonic() - self.started
        raise AssertionError(f"no {text!r} in the output of scripts/ghost browser:\n{''.join(self.lines)}")

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            return self.proc.wait(10)


def test_ghost_browser_opens_a_captured_trusted_page_and_records_a_journey(
        ghost: GhostProcess, app: TlsApp, tmp_path: Path) -> None:
    user_home = tmp_path / "user-home"
    user_home.mkdir()
    before = tree(user_home)
    # short: Chromium's singleton socket path must fit in a sun_path
    temp = Path(tempfile.mkdtemp(prefix="gb-", dir="/tmp"))
    env = {**os.environ, "HOME": str(user_home), "TMPDIR": str(temp), "XDG_CONFIG_HOME": str(user_home / ".config"),
           "XDG_CACHE_HOME": str(user_home / ".cache"), "PYTHONPATH": str(REPO)}
    run = BrowserRun([f"{app.url}/", "--home", str(ghost.home), "--", *HEADLESS], env)
    try:
        run.until("Extension connected", 30)
        connected_after = float(run.lines[-1].split()[2])
        run.until("Opened", 60)
        output = "".join(run.lines)
        assert "--ignore-certificate-errors" not in output
        profile = Path(next(line.split()[1] for line in run.lines if line.strip().startswith("profile")))
        assert profile.parent == temp and profile.is_dir()
        status = ghost.api("GET", "/api/v1/extension/status").json()
        assert status["connected"] and status["last_error"] == ""
        # The page came through Ghost with Ghost's certificate, which the profile trusted.
        def page_flows() -> list[dict]:
            flows = ghost.api("GET", "/api/v1/flows", params={"q": "host:127.0.0.1"}).json()["flows"]
            return [f for f in flows if f["url"] == f"{app.url}/" and f["status_code"] == 200]

        wait_for(page_flows, 10, "the page's flow")
        read = ghost.api("POST", "/api/v1/extension/actions", json={"action": "read_page"}).json()
        assert "Hello over TLS" in read["result"]["text"]
        # A journey records from this browser at once.
        session_id = next(s["id"] for s in ghost.api("GET", "/api/v1/sessions").json() if s["active"])
        journey = ghost.api("POST", "/api/v1/journeys/start", json={"session_id": session_id, "name": "ping"}).json()
        time.sleep(0.3)
        clicked = ghost.api("POST", "/api/v1/extension/inject",
                            json={"code": "document.getElementById('ping').click(); true"})
        assert clicked.status_code == 200, clicked.text
        wait_for(lambda: ghost.api("GET", "/api/v1/flows", params={"q": "path:/api/ping"}).json()["flows"], 15, "the ping")
        time.sleep(1.0)
        ghost.api("POST", "/api/v1/journeys/stop", json={"session_id": session_id})
        steps = ghost.api("GET", f"/api/v1/journeys/{journey['id']}/steps").json()
        assert any("click" in str(s.get("data")) for s in steps), steps
    finally:
        code = run.stop()
    assert code in (0, -signal.SIGTERM, 143), "".join(run.lines)
    assert not profile.exists(), "the temporary profile outlived the browser"
    changed = sorted(set(tree(user_home)) - set(before))
    assert not changed, f"changed outside the profile: {changed}"
    leftovers = list(temp.iterdir())
    shutil.rmtree(temp, ignore_errors=True)
    assert not leftovers, f"left in TMPDIR: {leftovers}"
    assert connected_after <= 5, f"the extension connected only {connected_after:.1f} s after Chromium started"
