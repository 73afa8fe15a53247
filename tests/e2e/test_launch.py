"""`scripts/ghost` starts Ghost on its own port even when mitmproxy's default 8080 is taken."""

from __future__ import annotations

import errno
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.ghostproc import MITMDUMP, REPO, START_TIMEOUT, GhostProcess
from tests.support.ports import free_port
from tests.support.target import Target

MITMPROXY_DEFAULT_PORT = 8080


@pytest.fixture
def default_port_taken() -> Iterator[None]:
    """Something listens on 127.0.0.1:8080 (this test's socket, or whatever had it already)."""
    sock = socket.socket()
    try:
        sock.bind(("127.0.0.1", MITMPROXY_DEFAULT_PORT))
        sock.listen()
    except OSError as e:
        if e.errno != errno.EADDRINUSE:
            raise
    try:
        yield
    finally:
        sock.close()


class LaunchedGhost(GhostProcess):
    """Ghost as a user starts it: `scripts/ghost`, no -p; the port comes from the settings."""

    def command(self) -> list[str]:
        return [str(REPO / "scripts" / "ghost"), "--set", f"ghost_home={self.home}",
                "--set", f"ghost_api_port={self.api_port}", "--set", f"ghost_api_token={self.token}"]


def test_plain_mitmdump_cannot_start_while_8080_is_taken(tmp_path: Path, default_port_taken: None) -> None:
    """Why the launcher passes the port: mitmproxy binds before it loads ghost.py."""
    home = tmp_path / "home"
    run = subprocess.run([MITMDUMP, "-s", str(REPO / "ghost.py"), "--set", f"ghost_home={home}",
                          "--set", f"ghost_api_port={free_port()}"],
                         capture_output=True, text=True, timeout=START_TIMEOUT, cwd=REPO)
    assert run.returncode != 0
    assert "8080" in run.stdout + run.stderr


def test_scripts_ghost_listens_on_the_settings_port_while_8080_is_taken(
    tmp_path: Path, default_port_taken: None, target: Target
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    port = free_port()
    (home / "config.yaml").write_text(f"proxy:\n  port: {port}\n")
    ghost = LaunchedGhost(home, proxy_port=port)
    try:
        ghost.start()
        status = ghost.api("GET", "/api/v1/proxy/status").json()
        assert status["listen"] == [f"127.0.0.1:{port}"]
        with httpx.Client(proxy=ghost.proxy_url, timeout=30) as client:
            assert client.get(f"{target.http_url}/echo/launched").status_code == 200
        assert ghost.wait_flows(1, "path:/echo/launched")
    finally:
        ghost.stop()
