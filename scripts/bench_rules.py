"""Benchmark: the cost of rules that do not match.

Two real `mitmdump -s ghost.py` processes run side by side against the same local target:
one with no rules, one with 50 enabled map rules (local, remote and rewrite; request and
response phase) and 20 breakpoint rules (request and response phase), none of which
matches the benchmark traffic. wrk drives keep-alive HTTP with 16 concurrent connections,
alternating between the two in short rounds (so drift on the machine hits both alike),
waiting for each Ghost's store queue to drain between rounds.

Two figures per round: throughput (requests/s, what a client sees) and the Ghost process's
CPU time per request (from /proc, writer thread included). Ghost is one Python process, so
its throughput is bound by that CPU time; on a shared machine throughput swings by 10% or
more between identical runs (try ``--map-rules 0 --breakpoints 0``, an A/A control), while
CPU per request stays steady. Both medians and ratios are printed; the verdict uses the
CPU-per-request cost unless ``--verdict throughput``. The target is a cost under 5%.

    .venv/bin/python scripts/bench_rules.py [--seconds 5] [--rounds 5] [--max-cost 0.05]

Exit status: 0 when the cost is within --max-cost, 1 when not, 2 when wrk is missing.
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
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
TOKEN = "bench-rules-token"
MAP_RULES = 50
BREAKPOINT_RULES = 20

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

    def add(self, path: str, rule: dict[str, Any]) -> None:
        r = self.api("POST", path, json=rule)
        if r.status_code != 201:
            raise RuntimeError(f"cannot create {rule}: {r.status_code} {r.text}")

    def drained(self, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.api("GET", "/api/v1/monitor").json().get("flow_queue_depth", 0) == 0:
                return
            time.sleep(0.1)
        raise TimeoutError("Ghost's store queue did not drain")


def non_matching_map_rules(count: int) -> list[dict[str, Any]]:
    """Realistic rules for other hosts and paths: host globs, path-only globs, method + path."""
    rules: list[dict[str, Any]] = []
    for n in range(count):
        kind = n % 5
        if kind == 0:
            rules.append({"type": "local", "host_pattern": f"api{n}.mock.example", "path_pattern": "/v1/*",
                          "body": '{"mocked": true}', "content_type": "application/json"})
        elif kind == 1:
            rules.append({"type": "remote", "host_pattern": f"*.prod{n}.example",
                          "remote_url": f"http://staging{n}.example:8080/"})
        elif kind == 2:
            rules.append({"type": "rewrite", "target": "response_body", "path_pattern": f"/other/{n}/*",
                          "match": '"ok": true', "replace": '"ok": false'})
        elif kind == 3:
            rules.append({"type": "rewrite", "target": "request_header", "method": "POST",
                          "path_pattern": "/api/items", "header_name": "X-Debug", "replace": "1"})
        else:
            rules.append({"type": "rewrite", "target": "response_header", "host_pattern": f"cdn{n}.example",
                          "header_name": "Cache-Control", "replace": "no-store"})
    return rules


def non_matching_breakpoints(count: int) -> list[dict[str, Any]]:
    rules: list[dict[str, Any]] = []
    for n in range(count):
        phase = "request" if n % 2 == 0 else "response"
        if n % 4 < 2:
            rules.append({"phase": phase, "host_pattern": f"*.shop{n}.example", "path_pattern": "/checkout/*"})
        else:
            rules.append({"phase": phase, "path_pattern": f"/cart/{n}/*", "method": "POST"})
    return rules


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, all its threads (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


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
        raise RuntimeError(f"wrk saw errors (did a rule match?): {out.stdout}")
    rate = re.search(r"Requests/sec:\s+([\d.]+)", out.stdout)
    count = re.search(r"(\d+) requests in", out.stdout)
    if rate is None or count is None:
        raise RuntimeError(f"cannot read wrk's output: {out.stdout}")
    return float(rate.group(1)), int(count.group(1))


def measured_round(ghost: Ghost, target_port: int, seconds: float, workdir: Path) -> tuple[float, float]:
    """(requests per second, CPU microseconds per request) of one round, store drained."""
    before = cpu_seconds(ghost.proc.pid)
    rps, count = load(ghost.port, target_port, seconds, workdir)
    ghost.drained()  # storing the round's flows is part of its cost
    used = cpu_seconds(ghost.proc.pid) - before
    return rps, used / max(count, 1) * 1e6


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=5.0, help="length of one measured round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--body", type=int, default=2048, help="response body bytes")
    parser.add_argument("--max-cost", type=float, default=0.05, help="largest acceptable throughput cost")
    parser.add_argument("--map-rules", type=int, default=MAP_RULES, help="map rules to add (0: an A/A control)")
    parser.add_argument("--breakpoints", type=int, default=BREAKPOINT_RULES, help="breakpoint rules to add")
    parser.add_argument("--verdict", choices=("cpu", "throughput"), default="cpu",
                        help="which cost decides the exit status")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        print("wrk is missing: apt-get install -y wrk", file=sys.stderr)
        return 2
    workdir = Path(tempfile.mkdtemp(prefix="ghost-bench-rules-"))
    target_port = free_port()
    target = subprocess.Popen([sys.executable, "-c", TARGET_CODE, str(target_port), str(args.body)])
    ghosts: list[Ghost] = []
    plain_rps: list[float] = []
    rules_rps: list[float] = []
    plain_cpu: list[float] = []
    rules_cpu: list[float] = []
    try:
        wait_port(target_port)
        plain = Ghost(workdir, "plain")
        ghosts.append(plain)
        with_rules = Ghost(workdir, "rules")
        ghosts.append(with_rules)
        for rule in non_matching_map_rules(args.map_rules):
            with_rules.add("/api/v1/rules", rule)
        for rule in non_matching_breakpoints(args.breakpoints):
            with_rules.add("/api/v1/breakpoints", rule)
        counts = (len(with_rules.api("GET", "/api/v1/rules").json()),
                  len(with_rules.api("GET", "/api/v1/breakpoints").json()))
        print(f"rules: {counts[0]} map rules, {counts[1]} breakpoint rules, all enabled, none matching", flush=True)
        for ghost in ghosts:  # warm-up: connections, certificates, JIT-free but cache-warm paths
            load(ghost.port, target_port, 2, workdir)
            ghost.drained()
        for round_no in range(1, args.rounds + 1):
            order = [(plain, plain_rps, plain_cpu), (with_rules, rules_rps, rules_cpu)]
            if round_no % 2 == 0:
                order.reverse()
            for ghost, rates, cpus in order:
                rps, cpu = measured_round(ghost, target_port, args.seconds, workdir)
                rates.append(rps)
                cpus.append(cpu)
            print(f"round {round_no}: no rules {plain_rps[-1]:.0f} req/s {plain_cpu[-1]:.0f} us CPU/req, "
                  f"{args.map_rules}+{args.breakpoints} rules {rules_rps[-1]:.0f} req/s "
                  f"{rules_cpu[-1]:.0f} us CPU/req", flush=True)
        matched = with_rules.api("GET", "/api/v1/flows", params={"q": "tag:rewrite", "session_id": "all"})
        if matched.status_code == 200 and matched.json().get("flows"):
            print("error: a benchmark rule matched the traffic", file=sys.stderr)
            return 1
    finally:
        for ghost in ghosts:
            stop(ghost.proc)
        stop(target)
        shutil.rmtree(workdir, ignore_errors=True)
    base, ruled = statistics.median(plain_rps), statistics.median(rules_rps)
    base_cpu, ruled_cpu = statistics.median(plain_cpu), statistics.median(rules_cpu)
    throughput_cost = 1 - ruled / base
    cpu_cost = 1 - base_cpu / ruled_cpu  # the throughput lost if Ghost is CPU-bound
    label = f"{args.map_rules} map + {args.breakpoints} breakpoint rules"
    print(f"non-matching rules, throughput: no rules {base:.0f} req/s, {label} {ruled:.0f} req/s, "
          f"ratio {ruled / base:.3f}, cost {throughput_cost * 100:.1f}%")
    print(f"non-matching rules, CPU per request: no rules {base_cpu:.0f} us, {label} {ruled_cpu:.0f} us, "
          f"throughput-equivalent ratio {base_cpu / ruled_cpu:.3f}, cost {cpu_cost * 100:.1f}% "
          f"(target < {args.max_cost * 100:.0f}%; verdict on {args.verdict})")
    cost = cpu_cost if args.verdict == "cpu" else throughput_cost
    return 0 if cost < args.max_cost else 1


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
