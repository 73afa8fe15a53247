"""What the benchmarks in scripts/bench_*.py share: ports, processes, load, CPU time.

- `free_port`, `wait_port`, `stop(proc)`: local processes on free ports, stopped for sure
  (their whole process group when they lead one, so Ghost's addon workers go too).
- `bench_run(prefix, route, body)`: a temporary work folder and a local aiohttp target that
  answers `route` with `body`; both removed when the block ends.
- `load(proxy, target, seconds, workdir)`: wrk sending keep-alive absolute-form requests to
  the target through a proxy; (requests/s, requests completed).
- `cpu_seconds(pid)`, `children(pid)`: CPU time from /proc (Linux), all threads.
- `GhostUnderTest`: a real `mitmdump -q -s ghost.py` with its own home, API port and token,
  healthy before the constructor returns. `BareMitmdump`: plain `mitmdump -q`, the baseline.
- `measured_round(proxy, target, seconds, workdir)`: one wrk run with the proxy process's
  CPU time per request (Ghost: its store queue drained, storing is part of the cost).
- `ghost_pair(workdir, names, token)` + `ab_rounds(...)` + `median_of(...)`: two Ghosts
  side by side, measured in alternating rounds (an A/B comparison on a drifting machine).

On a shared machine throughput swings by 10-20% between identical runs; the CPU time a
process spends per request is the steadier figure, so the benchmarks print both.
"""

from __future__ import annotations

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
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[1]
MITMDUMP = str(Path(sys.executable).with_name("mitmdump"))
# every request is stored (noise sampling off): the store's work is part of the cost
STORE_EVERY_FLOW = "proxy:\n  noise_enabled: false\n"
WARM_UP_SECONDS = 2.0
ADDON_WORKER_SCRIPT = "js_addons/worker.py"  # in the command line of Ghost's JavaScript addon workers

# argv: port, route, body file, content type
TARGET_CODE = """
import sys
from pathlib import Path
from aiohttp import web
body = Path(sys.argv[3]).read_bytes()
async def answer(request):
    return web.Response(body=body, content_type=sys.argv[4])
app = web.Application()
app.router.add_get(sys.argv[2], answer)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), access_log=None, print=None)
"""

WRK_SCRIPT = """
wrk.method = "GET"
wrk.path = "%s"
wrk.headers["Host"] = "%s"
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), 0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"nothing listens on {port} after {timeout} s")


def _signal(proc: subprocess.Popen[bytes], sig: int) -> None:
    try:
        if os.getpgid(proc.pid) == proc.pid:  # started with start_new_session: the whole group
            os.killpg(proc.pid, sig)
        else:
            proc.send_signal(sig)
    except ProcessLookupError:
        pass


def stop(proc: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    """SIGTERM, then SIGKILL after `timeout` seconds; the process is reaped either way."""
    if proc.poll() is None:
        _signal(proc, signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            _signal(proc, signal.SIGKILL)
            proc.wait(10)


def require_wrk() -> bool:
    if shutil.which("wrk"):
        return True
    print("wrk is missing: apt-get install -y wrk", file=sys.stderr)
    return False


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, all its threads (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            found += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            pass
    return found


def children_cpu_seconds(pid: int, only: str = "") -> float:
    """CPU time of a process's live children (a child that has just exited counts 0); with
    `only`, of the children whose command line contains it."""
    total = 0.0
    for child in children(pid):
        try:
            if only and only not in Path(f"/proc/{child}/cmdline").read_bytes().decode(errors="replace"):
                continue
            total += cpu_seconds(child)
        except OSError:
            pass
    return total


def padded_json(pad: int) -> bytes:
    return b'{"ok": true, "pad": "' + b"x" * pad + b'"}'


@dataclass(frozen=True)
class Target:
    """The local aiohttp target; `path` is what wrk asks for (query included)."""

    proc: subprocess.Popen[bytes]
    port: int
    path: str

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.host}{self.path}"


def start_target(workdir: Path, route: str, body: bytes, content_type: str = "application/json",
                 query: str = "") -> Target:
    body_file = workdir / f"target-body-{len(list(workdir.glob('target-body-*')))}"
    body_file.write_bytes(body)
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-c", TARGET_CODE, str(port), route, str(body_file), content_type],
                            start_new_session=True)
    try:
        wait_port(port)
    except BaseException:
        stop(proc)
        raise
    return Target(proc, port, route + (f"?{query}" if query else ""))


@contextmanager
def bench_run(prefix: str, route: str, body: bytes, content_type: str = "application/json",
              query: str = "") -> Iterator[tuple[Path, Target]]:
    """A temporary work folder and a running target, both gone when the block ends."""
    workdir = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        target = start_target(workdir, route, body, content_type, query)
        try:
            yield workdir, target
        finally:
            stop(target.proc)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def load(proxy_port: int, target: Target, seconds: float, workdir: Path, connections: int = 16,
         hint: str = "") -> tuple[float, int]:
    """(requests per second, requests completed) from wrk sending absolute-form requests to the proxy."""
    script = workdir / "proxy.lua"
    script.write_text(WRK_SCRIPT % (target.url, target.host))
    out = subprocess.run(
        ["wrk", "-t", "1", "-c", str(connections), "-d", f"{int(seconds)}s", "-s", str(script),
         f"http://127.0.0.1:{proxy_port}"],
        capture_output=True, text=True, timeout=seconds + 120,
    )
    if out.returncode != 0:
        raise RuntimeError(f"wrk failed: {out.stderr or out.stdout}")
    if "Non-2xx" in out.stdout or "Socket errors" in out.stdout:
        raise RuntimeError(f"wrk saw errors{f' ({hint})' if hint else ''}: {out.stdout}")
    rate = re.search(r"Requests/sec:\s+([\d.]+)", out.stdout)
    count = re.search(r"(\d+) requests in", out.stdout)
    if rate is None or count is None:
        raise RuntimeError(f"cannot read wrk's output: {out.stdout}")
    return float(rate.group(1)), int(count.group(1))


class Proxy:
    """A proxy process under measurement: `proc`, its proxy `port`, and what ends a round."""

    proc: subprocess.Popen[bytes]
    port: int
    answered = 0  # requests wrk completed through this proxy, warm-up included

    def settle(self) -> None:
        """Wait for the work a round leaves behind (nothing for a bare mitmdump)."""

    def worker_cpu(self) -> float:
        return children_cpu_seconds(self.proc.pid)

    def addon_worker_cpu(self) -> float:
        """The CPU time of its JavaScript addon workers (a part of `worker_cpu`)."""
        return children_cpu_seconds(self.proc.pid, only=ADDON_WORKER_SCRIPT)

    def stop(self, timeout: float = 60.0) -> None:
        stop(self.proc, timeout)


class BareMitmdump(Proxy):
    """`mitmdump -q` with no script: the baseline."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.proc = subprocess.Popen([MITMDUMP, "-q", "-p", str(self.port), "--set", f"confdir={workdir / 'bare'}"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        try:
            wait_port(self.port)
        except BaseException:
            self.stop()
            raise


class GhostUnderTest(Proxy):
    """A real `mitmdump -q -s ghost.py` with its own home, API port and token, healthy once built.

    `config` is written to the home's config.yaml (None: leave the home as it is); `log`
    takes mitmdump's output (None: discarded).
    """

    def __init__(self, home: Path, token: str, *, config: str | None = STORE_EVERY_FLOW,
                 extra_args: Sequence[str] = (), log: Path | None = None, timeout: float = 60.0) -> None:
        home.mkdir(exist_ok=True)
        if config is not None:
            (home / "config.yaml").write_text(config)
        self.home = home
        self.token = token
        self.port, self.api_port = free_port(), free_port()
        out = log.open("ab") if log is not None else subprocess.DEVNULL
        try:
            self.proc = subprocess.Popen(
                [MITMDUMP, "-q", "-s", str(REPO / "ghost.py"), "-p", str(self.port),
                 "--set", f"ghost_home={home}", "--set", f"ghost_api_port={self.api_port}",
                 "--set", f"ghost_api_token={token}", *extra_args],
                stdout=out, stderr=subprocess.STDOUT if log is not None else subprocess.DEVNULL,
                cwd=REPO, start_new_session=True,
            )
        finally:
            if not isinstance(out, int):
                out.close()
        try:
            self.wait_healthy(timeout)
        except BaseException:
            self.stop()
            raise

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def proxy_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_healthy(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"Ghost (home {self.home}) exited with {self.proc.returncode} before it was healthy")
            try:
                if httpx.get(f"{self.api_url}/api/v1/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise TimeoutError(f"Ghost (home {self.home}) did not become healthy within {timeout} s")

    def api(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        kwargs.setdefault("timeout", 30)
        return httpx.request(method, f"{self.api_url}{path}",
                             headers={"Authorization": f"Bearer {self.token}"}, **kwargs)

    def create(self, path: str, body: dict[str, Any], what: str = "") -> Any:
        """POST `body` to `path`; the created object, or RuntimeError unless the answer is 201."""
        r = self.api("POST", path, json=body)
        if r.status_code != 201:
            raise RuntimeError(f"cannot create {what or body} through {path}: {r.status_code} {r.text}")
        return r.json()

    def drained(self, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.api("GET", "/api/v1/monitor").json().get("flow_queue_depth", 0) == 0:
                return
            time.sleep(0.1)
        raise TimeoutError(f"Ghost's store queue did not drain within {timeout} s")

    settle = drained

    def stored_rows(self, expected: int, timeout: float = 120.0) -> int:
        """Stored flows once `expected` are in and the queue is empty, or what is there at `timeout`."""
        deadline = time.monotonic() + timeout
        total = 0
        while time.monotonic() < deadline:
            monitor = self.api("GET", "/api/v1/monitor").json()
            total = int(monitor["total_flows"])
            if total >= expected and monitor["flow_queue_depth"] == 0:
                break
            time.sleep(0.2)
        return total


@dataclass(frozen=True)
class Round:
    """One measured wrk run through one proxy."""

    rps: float
    requests: int
    cpu_us: float  # the proxy process's CPU time per request, all threads
    workers_us: float  # its child processes' CPU time per request (Ghost's flow writer and addon workers)
    addon_workers_us: float = 0.0  # the part of workers_us spent in Ghost's JavaScript addon workers


def measured_round(proxy: Proxy, target: Target, seconds: float, workdir: Path, hint: str = "") -> Round:
    """A wrk run and the CPU it cost, up to the proxy having settled (Ghost: store drained)."""
    before, workers_before, js_before = cpu_seconds(proxy.proc.pid), proxy.worker_cpu(), proxy.addon_worker_cpu()
    rps, count = load(proxy.port, target, seconds, workdir, hint=hint)
    proxy.answered += count
    proxy.settle()
    used = cpu_seconds(proxy.proc.pid) - before
    workers = proxy.worker_cpu() - workers_before
    js_workers = proxy.addon_worker_cpu() - js_before
    per = 1e6 / max(count, 1)
    return Round(rps, count, used * per, workers * per, js_workers * per)


def warm_up(proxies: Iterable[Proxy], target: Target, workdir: Path) -> None:
    """Connections, certificates and caches warm (each proxy counts what it answered)."""
    for proxy in proxies:
        proxy.answered += load(proxy.port, target, WARM_UP_SECONDS, workdir)[1]
        proxy.settle()


@contextmanager
def ghost_pair(workdir: Path, names: tuple[str, str], token: str) -> Iterator[tuple[GhostUnderTest, GhostUnderTest]]:
    """Two Ghosts side by side (homes `workdir/name`), both stopped when the block ends."""
    ghosts: list[GhostUnderTest] = []
    try:
        for name in names:
            ghosts.append(GhostUnderTest(workdir / name, token))
        yield ghosts[0], ghosts[1]
    finally:
        for ghost in ghosts:
            ghost.stop()


def ab_rounds(proxies: dict[str, Proxy], rounds: int, target: Target, seconds: float, workdir: Path,
              hint: str = "") -> Iterator[dict[str, Round]]:
    """Warm every proxy up, then `rounds` measured rounds, each proxy once a round; yields each round by key.

    The order is reversed every other round, so drift on the machine hits all alike.
    """
    warm_up(proxies.values(), target, workdir)
    for round_no in range(1, rounds + 1):
        order = list(proxies.items())
        if round_no % 2 == 0:
            order.reverse()
        yield {key: measured_round(proxy, target, seconds, workdir, hint) for key, proxy in order}


def median_of(rounds: Sequence[dict[str, Round]], key: str, figure: str) -> float:
    """The median of one figure (`rps`, `cpu_us`, `workers_us`) of one proxy over the rounds."""
    return statistics.median(float(getattr(r[key], figure)) for r in rounds)
