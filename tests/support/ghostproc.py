"""A real `mitmdump -s ghost.py` process on free ports with its own home."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from tests.support.ports import free_port

REPO = Path(__file__).resolve().parents[2]
MITMDUMP = str(Path(sys.executable).with_name("mitmdump"))
START_TIMEOUT = 30.0
STOP_TIMEOUT = 20.0


class GhostProcess:
    """Start, query and stop Ghost. Every wait has a timeout; `stop()` always reaps it."""

    def __init__(self, home: Path, *, token: str = "test-token", extra_args: tuple[str, ...] = (),
                 proxy_port: int | None = None, api_port: int | None = None,
                 env: dict[str, str] | None = None) -> None:
        self.home = home
        self.token = token
        self.proxy_port = proxy_port or free_port()
        self.api_port = api_port or free_port()
        self.extra_args = extra_args
        self.env = env
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = home.parent / f"{home.name}-mitmdump.log"

    @property
    def proxy_url(self) -> str:
        return f"http://127.0.0.1:{self.proxy_port}"

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def ca_path(self) -> Path:
        return self.home / "mitmproxy-ca-cert.pem"

    def command(self) -> list[str]:
        args = [MITMDUMP, "-s", str(REPO / "ghost.py"), "-p", str(self.proxy_port),
                "--set", f"ghost_home={self.home}", "--set", f"ghost_api_port={self.api_port}",
                "--set", "ssl_insecure=true", "--set", "termlog_verbosity=info"]
        if self.token:
            args += ["--set", f"ghost_api_token={self.token}"]
        return args + list(self.extra_args)

    def start(self) -> GhostProcess:
        env = {**os.environ, "PYTHONUNBUFFERED": "1", **(self.env or {})}
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(self.command(), cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
                                     env=env, start_new_session=True)
        log.close()
        self.wait_healthy()
        return self

    def wait_healthy(self, timeout: float = START_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"Ghost exited with {self.proc.returncode}:\n{self.log()}")
            try:
                if httpx.get(f"{self.api_url}/api/v1/health", timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise TimeoutError(f"Ghost not healthy after {timeout} s:\n{self.log()}")

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-8000:]
        except OSError:
            return ""

    def api(self, method: str, path: str, *, token: str | None = None, **kwargs: Any) -> httpx.Response:
        headers = dict(kwargs.pop("headers", {}) or {})
        use = self.token if token is None else token
        if use:
            headers.setdefault("Authorization", f"Bearer {use}")
        kwargs.setdefault("timeout", 30.0)
        return httpx.request(method, f"{self.api_url}{path}", headers=headers, **kwargs)

    def client(self, **kwargs: Any) -> httpx.Client:
        """An httpx client that goes through the proxy and trusts Ghost's CA."""
        kwargs.setdefault("timeout", 30.0)
        return httpx.Client(proxy=self.proxy_url, verify=str(self.ca_path), **kwargs)

    def flows(self, q: str = "", session_id: str = "all", limit: int = 1000) -> list[dict[str, Any]]:
        r = self.api("GET", "/api/v1/flows", params={"q": q, "session_id": session_id, "limit": limit})
        r.raise_for_status()
        return r.json()["flows"]

    def wait_flows(self, count: int, q: str = "", timeout: float = 15.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        found: list[dict[str, Any]] = []
        while time.monotonic() < deadline:
            found = self.flows(q)
            if len(found) >= count:
                return found
            time.sleep(0.05)
        raise TimeoutError(f"expected {count} flows for {q!r}, have {len(found)}")

    def stop(self, sig: int = signal.SIGTERM) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(STOP_TIMEOUT)
        code = self.proc.returncode
        self.proc = None
        return code

    def kill(self) -> None:
        self.stop(signal.SIGKILL)
