"""`scripts/ghost run -- COMMAND`: curl, Python (requests, httpx, urllib) and Node's fetch
reach a local HTTPS app with its own CA through Ghost, trusting only what the environment
gives them; each flow is stored tagged with the command, and the Proxy-Authorization that
carries the tag never reaches the app."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.tls_app import TlsApp, VerifyingGhost

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "ghost_run.py"


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsApp]:
    with TlsApp(tmp_path_factory.mktemp("app-ca")) as served:
        yield served


@pytest.fixture(scope="module")
def ghost(tmp_path_factory: pytest.TempPathFactory, app: TlsApp) -> Iterator[VerifyingGhost]:
    proc = VerifyingGhost(tmp_path_factory.mktemp("run") / "ghost-home",
                          extra_args=("--set", f"ssl_verify_upstream_trusted_ca={app.ca}"))
    proc.start()
    try:
        yield proc
    finally:
        proc.stop()


def run(ghost: VerifyingGhost, *command: str, name: str = "") -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    env["PYTHONPATH"] = str(REPO)
    extra = ["--name", name] if name else []
    return subprocess.run([sys.executable, str(SCRIPT), "--home", str(ghost.home), *extra, "--", *command],
                          capture_output=True, text=True, timeout=60, env=env)


def flows_tagged(ghost: VerifyingGhost, tag: str, path: str) -> list[dict]:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        found = ghost.api("GET", "/api/v1/flows", params={"q": f"tag:{tag} path:{path}"}).json()["flows"]
        if found:
            return found
        time.sleep(0.1)
    return []


def check_captured(ghost: VerifyingGhost, out: subprocess.CompletedProcess[str], tag: str, path: str) -> None:
    assert out.returncode == 0, out.stdout + out.stderr
    assert "pong" in out.stdout
    found = flows_tagged(ghost, tag, path)
    assert found and found[0]["status_code"] == 200, found
    flow = ghost.api("GET", f"/api/v1/flows/{found[0]['id']}").json()
    assert tag in flow["tags"]
    names = [h["name"].lower() for h in flow["request"]["headers"]]
    assert "proxy-authorization" not in names, names


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_curl(ghost: VerifyingGhost, app: TlsApp) -> None:
    out = run(ghost, "curl", "-sS", "--fail", f"{app.url}/api/ping?c=curl")
    check_captured(ghost, out, "client:curl", "/api/ping")


def test_python_requests_httpx_and_urllib(ghost: VerifyingGhost, app: TlsApp) -> None:
    code = (
        "import sys, urllib.request, requests, httpx\n"
        f"print(requests.get('{app.url}/api/ping?c=requests', timeout=20).text)\n"
        f"print(httpx.get('{app.url}/api/ping?c=httpx', timeout=20).text)\n"
        f"print(urllib.request.urlopen('{app.url}/api/ping?c=urllib', timeout=20).read().decode())\n"
    )
    out = run(ghost, sys.executable, "-c", code, name="py-check")
    check_captured(ghost, out, "client:py-check", "/api/ping")
    assert out.stdout.split() == ["pong", "pong", "pong"]
    assert len(flows_tagged(ghost, "client:py-check", "/api/ping")) == 3


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_node_fetch(ghost: VerifyingGhost, app: TlsApp) -> None:
    out = run(ghost, "node", "-e", f"fetch('{app.url}/api/ping?c=node').then(r => r.text()).then(console.log)")
    check_captured(ghost, out, "client:node", "/api/ping")


def test_plain_http_keeps_the_tag_and_drops_the_header(ghost: VerifyingGhost, tmp_path: Path) -> None:
    """Plain HTTP sends Proxy-Authorization on every request (no CONNECT): Ghost takes it off."""
    from tests.support.target import TargetServer
    server = TargetServer()
    target = server.start(tmp_path)
    try:
        out = run(ghost, sys.executable, "-c",
                  f"import requests; print(requests.get('{target.http_url}/echo', timeout=20).text)", name="plain")
        assert out.returncode == 0, out.stderr
        seen = [s for s in target.seen if s.path == "/echo"]
        assert seen and seen[0].header("Proxy-Authorization") is None
        assert flows_tagged(ghost, "client:plain", "/echo")
    finally:
        server.stop()
