"""Benchmark: the cost of JavaScript addons, and the per-call Python <-> V8 round trip.

1. Throughput. Two real `mitmdump -s ghost.py` processes run side by side against the same
   local target: one with no addon, one with three simple enabled addons (tag error
   responses, set a request header, count requests in the addon store). wrk drives
   keep-alive HTTP with 16 concurrent connections, alternating between the two in short
   rounds so drift on the machine hits both alike, waiting for each Ghost's store queue to
   drain between rounds. Printed per round and as medians: requests/s and the ratio, Ghost's
   CPU per request (the proxy process) and the addon workers' CPU per request.

2. Round trip. The runtime alone (real worker process, real V8): one addon's handler on a
   live mitmproxy flow, through the framed pipe protocol and back with its change-set
   applied, sequentially and 16 at a time.

    .venv/bin/python scripts/bench_addons.py [--seconds 5] [--rounds 5] [--max-cost 0.15]

Exit status: 0 when the throughput cost is within --max-cost, 1 when not, 2 when wrk is missing.
"""

from __future__ import annotations

import argparse
import asyncio
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
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
BIN = Path(sys.executable).parent
TOKEN = "bench-addons-token"

ADDONS = [
    {"name": "Tag errors", "priority": 1,
     "code": "ghost.onResponse(function (flow) { if (flow.response.status_code >= 400) flow.tag('error'); });"},
    {"name": "Mark requests", "priority": 2,
     "code": "ghost.onRequest(function (flow) { flow.setHeader('X-Ghost-Bench', '1'); });"},
    {"name": "Count requests", "priority": 3,
     "code": "ghost.onRequest(function (flow) { ghost.store.set('n', (ghost.store.get('n') || 0) + 1); });"},
]

TARGET_CODE = """
import sys
from aiohttp import web
body = b'{"ok": true, "pad": "' + b"x" * int(sys.argv[2]) + b'"}'
async def bench(request):
    return web.Response(body=body, content_type="application/json")
app = web.Application()
app.router.add_get("/api/items", bench)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), access_log=None, print=None)
"""

WRK_SCRIPT = """
wrk.method = "GET"
wrk.path = "http://127.0.0.1:%d/api/items?page=1"
wrk.headers["Host"] = "127.0.0.1:%d"
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


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, all its threads (Linux /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            found += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            pass
    return found


class Ghost:
    """One Ghost process with its own home, API and proxy port."""

    def __init__(self, workdir: Path, name: str) -> None:
        self.home = workdir / name
        self.home.mkdir()
        # every request is stored (noise sampling off): the store's work is part of the cost
        (self.home / "config.yaml").write_text("proxy:\n  noise_enabled: false\n")
        self.port, self.api_port = free_port(), free_port()
        self.proc = subprocess.Popen(
            [str(BIN / "mitmdump"), "-q", "-s", str(REPO / "ghost.py"), "-p", str(self.port),
             "--set", f"ghost_home={self.home}", "--set", f"ghost_api_port={self.api_port}",
             "--set", f"ghost_api_token={TOKEN}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=REPO,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if self.api("GET", "/api/v1/health").status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        stop(self.proc)
        raise TimeoutError(f"Ghost {name} did not become healthy")

    def api(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return httpx.request(method, f"http://127.0.0.1:{self.api_port}{path}",
                             headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30, **kwargs)

    def drained(self, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.api("GET", "/api/v1/monitor").json().get("flow_queue_depth", 0) == 0:
                return
            time.sleep(0.1)
        raise TimeoutError("Ghost's store queue did not drain")

    def worker_cpu(self) -> float:
        return sum(cpu_seconds(pid) for pid in children(self.proc.pid))


def load(proxy_port: int, target_port: int, seconds: float, workdir: Path,
         connections: int = 16) -> tuple[float, int]:
    """(requests per second, requests completed) through the proxy."""
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
    rate = re.search(r"Requests/sec:\s+([\d.]+)", out.stdout)
    count = re.search(r"(\d+) requests in", out.stdout)
    if rate is None or count is None:
        raise RuntimeError(f"cannot read wrk's output: {out.stdout}")
    return float(rate.group(1)), int(count.group(1))


def measured_round(ghost: Ghost, target_port: int, seconds: float, workdir: Path) -> tuple[float, float, float]:
    """(requests per second, Ghost CPU us per request, worker CPU us per request), store drained."""
    before, workers_before = cpu_seconds(ghost.proc.pid), ghost.worker_cpu()
    rps, count = load(ghost.port, target_port, seconds, workdir)
    ghost.drained()
    used = cpu_seconds(ghost.proc.pid) - before
    workers = ghost.worker_cpu() - workers_before
    return rps, used / max(count, 1) * 1e6, workers / max(count, 1) * 1e6


async def round_trip(calls: int) -> None:
    """The per-call cost of one addon handler on a live flow, through a real worker."""
    from mitmproxy.test import tflow

    from plugins.js_addons.runtime import AddonRuntime, LoadedAddon, RuntimeConfig

    class Quiet:
        def addon_log(self, addon: LoadedAddon, level: str, message: str) -> None: ...

        def addon_failed(self, addon: LoadedAddon, error: str) -> None:
            raise RuntimeError(f"the benchmark addon failed: {error}")

        def addon_disabled(self, addon: LoadedAddon, reason: str) -> None: ...

    runtime = AddonRuntime(RuntimeConfig(), Quiet())
    await runtime.start()
    try:
        await runtime.load("bench", "bench", ADDONS[1]["code"], 0, "")
        chain = runtime.chain("request")

        def flow() -> Any:
            f = tflow.tflow()
            f.request.headers["Accept"] = "application/json"
            f.request.headers["User-Agent"] = "bench/1.0"
            return f

        for _ in range(200):
            await runtime.run(flow(), "request", chain)
        flows = [flow() for _ in range(calls)]
        cpu, wall = time.process_time(), time.perf_counter()
        for f in flows:
            await runtime.run(f, "request", chain)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        assert all(f.request.headers.get("X-Ghost-Bench") == "1" for f in flows)
        print(f"round trip, one at a time: {wall / calls * 1e6:.0f} us wall per call, "
              f"{cpu / calls * 1e6:.0f} us of Ghost's CPU per call (flow -> worker -> V8 -> change-set applied)")
        flows = [flow() for _ in range(calls)]
        cpu, wall = time.process_time(), time.perf_counter()
        for i in range(0, calls, 16):
            await asyncio.gather(*(runtime.run(f, "request", chain) for f in flows[i:i + 16]))
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        print(f"round trip, 16 at a time: {wall / calls * 1e6:.0f} us wall per call, "
              f"{cpu / calls * 1e6:.0f} us of Ghost's CPU per call; V8 {runtime.v8_version}")
    finally:
        await runtime.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=5.0, help="length of one measured round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--body", type=int, default=2048, help="response body bytes")
    parser.add_argument("--max-cost", type=float, default=0.15, help="largest acceptable throughput cost")
    parser.add_argument("--calls", type=int, default=3000, help="calls for the round-trip measurement")
    args = parser.parse_args()
    asyncio.run(round_trip(args.calls))
    if not shutil.which("wrk"):
        print("wrk is missing: apt-get install -y wrk", file=sys.stderr)
        return 2
    workdir = Path(tempfile.mkdtemp(prefix="ghost-bench-addons-"))
    target_port = free_port()
    target = subprocess.Popen([sys.executable, "-c", TARGET_CODE, str(target_port), str(args.body)])
    ghosts: list[Ghost] = []
    results: dict[str, list[tuple[float, float, float]]] = {"none": [], "addons": []}
    try:
        wait_port(target_port)
        plain = Ghost(workdir, "none")
        ghosts.append(plain)
        with_addons = Ghost(workdir, "addons")
        ghosts.append(with_addons)
        for addon in ADDONS:
            r = with_addons.api("POST", "/api/v1/addons", json={**addon, "enabled": True})
            if r.status_code != 201:
                raise RuntimeError(f"cannot create addon {addon['name']}: {r.status_code} {r.text}")
        print(f"addons: {', '.join(a['name'] for a in ADDONS)} (all enabled)", flush=True)
        for ghost in ghosts:  # warm-up
            load(ghost.port, target_port, 2, workdir)
            ghost.drained()
        for round_no in range(1, args.rounds + 1):
            order = [("none", plain), ("addons", with_addons)]
            if round_no % 2 == 0:
                order.reverse()
            for key, ghost in order:
                results[key].append(measured_round(ghost, target_port, args.seconds, workdir))
            (n_rps, n_cpu, _), (a_rps, a_cpu, a_wcpu) = results["none"][-1], results["addons"][-1]
            print(f"round {round_no}: no addons {n_rps:.0f} req/s {n_cpu:.0f} us CPU/req; 3 addons {a_rps:.0f} req/s "
                  f"{a_cpu:.0f} us CPU/req + workers {a_wcpu:.0f} us/req; ratio {a_rps / n_rps:.3f}", flush=True)
        flows = with_addons.api("GET", "/api/v1/flows", params={"limit": 1, "session_id": "all"}).json()["flows"]
        detail = with_addons.api("GET", f"/api/v1/flows/{flows[0]['id']}").json()
        if not any(h["name"] == "X-Ghost-Bench" for h in detail["request"]["headers"]):
            print("error: the addons did not run on the benchmark traffic", file=sys.stderr)
            return 1
        states = with_addons.api("GET", "/api/v1/addons").json()
        if not all(a["enabled"] and not a["last_error"] for a in states):
            print(f"error: an addon failed during the benchmark: {states}", file=sys.stderr)
            return 1
    finally:
        for ghost in ghosts:
            stop(ghost.proc)
        stop(target)
        shutil.rmtree(workdir, ignore_errors=True)
    base = statistics.median(r[0] for r in results["none"])
    with_js = statistics.median(r[0] for r in results["addons"])
    base_cpu = statistics.median(r[1] for r in results["none"])
    js_cpu = statistics.median(r[1] for r in results["addons"])
    js_workers = statistics.median(r[2] for r in results["addons"])
    cost = 1 - with_js / base
    print(f"3 addons, throughput: none {base:.0f} req/s, 3 addons {with_js:.0f} req/s, ratio {with_js / base:.3f}, "
          f"cost {cost * 100:.1f}% (target <= {args.max_cost * 100:.0f}%)")
    print(f"3 addons, CPU per request: Ghost {base_cpu:.0f} -> {js_cpu:.0f} us (+{js_cpu - base_cpu:.0f} us), "
          f"addon workers {js_workers:.0f} us")
    return 0 if cost <= args.max_cost else 1


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
