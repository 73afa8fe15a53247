"""The extension behind the README's old flags, `--proxy-bypass-list=<-loopback>` with no
bypass for Ghost's API: its WebSocket to the API would go through Ghost's proxy, which refuses
it. The extension keeps the API direct (extension proxy settings override the command line);
when it may not change the proxy settings, Ghost's status and the extension's popup say why.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.ghostproc import GhostProcess

playwright_sync = pytest.importorskip("playwright.sync_api")

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed")


def write_extension(ghost: GhostProcess, target: Path, *, may_set_proxy: bool) -> Path:
    out = subprocess.run([sys.executable, str(REPO / "scripts" / "ghost_extension.py"), str(target),
                          "--home", str(ghost.home)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    if not may_set_proxy:  # as when a policy holds the proxy settings: the extension cannot change them
        manifest = json.loads((target / "manifest.json").read_text())
        manifest["permissions"].remove("proxy")
        (target / "manifest.json").write_text(json.dumps(manifest))
    return target


@pytest.fixture
def launch(tmp_path: Path) -> Iterator[Callable[[Path, str], Any]]:
    """Chromium with `--proxy-server=Ghost --proxy-bypass-list=<-loopback>` and an extension."""
    contexts: list[Any] = []
    with playwright_sync.sync_playwright() as p:
        def start(extension: Path, proxy_url: str) -> Any:
            args = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--headless=new",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync",
                    f"--disable-extensions-except={extension}", f"--load-extension={extension}",
                    f"--proxy-server={proxy_url}", "--proxy-bypass-list=<-loopback>"]
            context = p.chromium.launch_persistent_context(
                str(tmp_path / f"profile{len(contexts)}"), executable_path=CHROMIUM, headless=True, args=args,
                timeout=60_000)
            contexts.append(context)
            return context

        try:
            yield start
        finally:
            for context in contexts:
                context.close()
    for index in range(len(contexts)):
        shutil.rmtree(tmp_path / f"profile{index}", ignore_errors=True)


def wait_for(check: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    raise TimeoutError(f"timed out after {timeout} s waiting for {what}")


def test_the_extension_keeps_the_api_direct_behind_loopback_capture(
        ghost: GhostProcess, launch: Callable[[Path, str], Any], tmp_path: Path) -> None:
    launch(write_extension(ghost, tmp_path / "ext", may_set_proxy=True), ghost.proxy_url)
    status = wait_for(lambda: (s := ghost.api("GET", "/api/v1/extension/status").json())["connected"] and s,
                      30, "the extension to connect")
    assert status["last_error"] == ""


def test_last_error_names_the_cause_when_the_extension_cannot_keep_the_api_direct(
        ghost: GhostProcess, launch: Callable[[Path, str], Any], tmp_path: Path) -> None:
    context = launch(write_extension(ghost, tmp_path / "ext", may_set_proxy=False), ghost.proxy_url)
    status = wait_for(lambda: (s := ghost.api("GET", "/api/v1/extension/status").json())["last_error"] and s,
                      30, "Ghost to record why the extension cannot connect")
    assert not status["connected"]
    assert status["last_error"].startswith("Ghost refused: a browser sends its connection to Ghost's API")
    assert f"127.0.0.1:{ghost.api_port}" in status["last_error"]
    # The extension's popup (its options page) says it too.
    worker = context.service_workers[0] if context.service_workers else context.wait_for_event("serviceworker")
    extension_id = worker.url.split("/")[2]
    page = context.new_page()
    page.goto(f"chrome-extension://{extension_id}/options.html")
    page.wait_for_function("document.getElementById('status').textContent.includes('Ghost refused')",
                           timeout=30_000)
    text = page.text_content("#status") or ""
    assert "through Ghost's proxy" in text, text
