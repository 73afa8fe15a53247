"""Benchmark: Ghost capturing (all built-in plugins loaded) vs bare `mitmdump -q`.

Same machine, same run, same local target, keep-alive HTTP, 16 concurrent connections
(wrk, 16 connections). Runs alternate bare/Ghost rounds and keeps the median
of each. Then counts the stored rows: every request must be in the store.

    .venv/bin/python scripts/bench_core.py [--seconds 10] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
TOKEN = "bench-token"

TARGET_CODE = """
import sys
from aiohttp import web
body = b"x" * int(sys.argv[2])
async def bench(request):
    return web.Response(body=body, content_type="application/json")
app = web.Application()
app.router.add_get("/bench", bench)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), access_log=None, print=None)
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), 0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"nothing listens on {port} after {timeout} s")


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


WRK_SCRIPT = """
wrk.method = "GET"
wrk.path = "http://127.0.0.1:%d/bench"
wrk.headers["Host"] = "127.0.0.1:%d"
"""


def load(proxy_port: int, target_port: int, seconds: float, workdir: Path, connections: int = 16) -> tuple[float, int]:
    """(requests per second, completed requests) from wrk sending absolute-form requests to the proxy."""
    script = workdir / "proxy.lua"
    script.write_text(WRK_SCRIPT % (target_port, target_port))
    out = subprocess.run(
        ["wrk", "-t", "1", "-c", str(connections), "-d", f"{int(seconds)}s", "-s", str(script),
         f"http://127.0.0.1:{proxy_port}"],
        capture_output=True, text=True, timeout=seconds + 120,
    )
    if out.returncode != 0:
        raise RuntimeError(f"wrk failed: {out.stderr or out.stdout}")
    if "Non-2xx" in out.stdout or "Socket errors" in out.stdout:
        raise RuntimeError(f"wrk saw errors: {out.stdout}")
    completed = int(re.search(r"(\d+) requests in", out.stdout).group(1))
    return float(re.search(r"Requests/sec:\s+([\d.]+)", out.stdout).group(1)), completed


def start_bare(workdir: Path) -> tuple[subprocess.Popen, int]:
    port = free_port()
    proc = subprocess.Popen([str(BIN / "mitmdump"), "-q", "-p", str(port), "--set", f"confdir={workdir / 'bare'}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_port(port)
    return proc, port


def start_ghost(workdir: Path, extra: list[str]) -> tuple[subprocess.Popen, int, int, Path]:
    home = Path(tempfile.mkdtemp(prefix="ghost-home-", dir=workdir))
    # every request must be stored: noise sampling off
    (home / "config.yaml").write_text("proxy:\n  noise_enabled: false\n")
    port, api = free_port(), free_port()
    proc = subprocess.Popen(
        [str(BIN / "mitmdump"), "-q", "-s", str(REPO / "ghost.py"), "-p", str(port), "--set", f"ghost_home={home}",
         "--set", f"ghost_api_port={api}", "--set", f"ghost_api_token={TOKEN}", *extra],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=REPO,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{api}/api/v1/health", timeout=1).status_code == 200:
                return proc, port, api, home
        except httpx.HTTPError:
            time.sleep(0.1)
    stop(proc)
    raise TimeoutError("Ghost did not become healthy")


def stored_rows(api: int, expected: int, timeout: float = 120.0) -> int:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    deadline = time.monotonic() + timeout
    total = 0
    while time.monotonic() < deadline:
        monitor = httpx.get(f"http://127.0.0.1:{api}/api/v1/monitor", headers=headers, timeout=30).json()
        total = monitor["total_flows"]
        if total >= expected and monitor["flow_queue_depth"] == 0:
            break
        time.sleep(0.2)
    return total


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--body", type=int, default=2048, help="response body bytes")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        print("wrk is missing: apt-get install -y wrk", file=sys.stderr)
        return 2
    workdir = Path(tempfile.mkdtemp(prefix="ghost-bench-"))
    target_port = free_port()
    target = subprocess.Popen([sys.executable, "-c", TARGET_CODE, str(target_port), str(args.body)])
    bare_rps: list[float] = []
    ghost_rps: list[float] = []
    lost = 0
    try:
        wait_port(target_port)
        for round_no in range(1, args.rounds + 1):
            proc, port = start_bare(workdir)
            try:
                load(port, target_port, 2, workdir)  # warm-up
                bare_rps.append(load(port, target_port, args.seconds, workdir)[0])
            finally:
                stop(proc)
            proc, port, api, _home = start_ghost(workdir, [])
            try:
                _, warm = load(port, target_port, 2, workdir)
                rps, completed = load(port, target_port, args.seconds, workdir)
                ghost_rps.append(rps)
                rows = stored_rows(api, warm + completed)
                lost += max(0, warm + completed - rows)
            finally:
                stop(proc)
            print(f"round {round_no}: bare {bare_rps[-1]:.0f} req/s, ghost {ghost_rps[-1]:.0f} req/s, "
                  f"stored {rows} of {warm + completed} answered", flush=True)
    finally:
        stop(target)
        shutil.rmtree(workdir, ignore_errors=True)
    bare, ghost = statistics.median(bare_rps), statistics.median(ghost_rps)
    print(f"core capture: bare mitmdump {bare:.0f} req/s, Ghost {ghost:.0f} req/s, "
          f"ratio {ghost / bare:.2f} (target >= 0.90); rows missing: {lost}")
    return 0 if lost == 0 else 1


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
