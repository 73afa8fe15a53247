"""Benchmark: Ghost's HAR export against mitmproxy's own save.har, then the import back.

Same machine, same run, same 100,000 flows (2 KB response bodies) stored by Ghost's store:

1. Ghost's streaming HAR exporter reads the session from the store (batches of 5,000) and
   writes the file, in a subprocess of its own (time, peak RSS).
2. mitmproxy's SaveHar addon exports the same flows, converted to mitmproxy flows, in a
   subprocess of its own (time for make_har + json.dumps + write only; peak RSS growth).
3. A real `mitmdump -s ghost.py` on that home imports Ghost's HAR into a new session
   through the API while two pingers measure the event loop: GET /api/v1/health (the API)
   and a request through the proxy to a local target, every 10 ms.

    .venv/bin/python scripts/bench_export.py [--flows 100000] [--body-bytes 2000]

Targets (issue 3): Ghost faster than save.har, Ghost below 300 MB peak, import under 60 s,
no stall above 100 ms. The stall is measured inside Ghost by a probe plugin (longest gap
between 5 ms wake-ups of a task on its loop, as wall time and as the loop thread's CPU
time); the ping latencies, and the same figures with no import running, put it in context
on a machine that may be busy with other work.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from benchlib import REPO, GhostUnderTest, start_target, stop
from ulid import ULID

sys.path.insert(0, str(REPO))

from ghost_addons.model import Flow, Request, Response, Timings  # noqa: E402
from ghost_addons.store import Store, sessions  # noqa: E402
from ghost_addons.store import flows as flow_rows  # noqa: E402

TOKEN = "bench-token"
INSERT_BATCH = 5_000

# Loaded into the benchmarked Ghost with --set ghost_plugins=...: a task that wakes every
# 5 ms and remembers the longest gap between wake-ups, in wall time and in the loop
# thread's CPU time (work that ran without yielding; wall time also counts the OS running
# other processes on a busy machine).
PROBE_PLUGIN = """
import asyncio, time
from aiohttp import web
from ghost_addons.hookspecs import hookimpl

STATE = {"wall": 0.0, "cpu": 0.0}


async def watch():
    wall, cpu = time.perf_counter(), time.thread_time()
    while True:
        await asyncio.sleep(0.005)
        now_wall, now_cpu = time.perf_counter(), time.thread_time()
        STATE["wall"] = max(STATE["wall"], now_wall - wall - 0.005)
        STATE["cpu"] = max(STATE["cpu"], now_cpu - cpu)
        wall, cpu = now_wall, now_cpu


@hookimpl
def ghost_startup(ghost):
    ghost.spawn(watch(), "bench loop probe")


@hookimpl
def ghost_routes(ghost, routes):
    async def read(request):
        out = {k: round(v * 1000, 1) for k, v in STATE.items()}
        if request.query.get("reset"):
            STATE.update(wall=0.0, cpu=0.0)
        return web.json_response(out)
    routes.add("GET", "/api/v1/bench/loop", read, "Benchmark probe: longest event-loop gaps")
"""


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def reset_peak() -> None:
    """Reset the kernel's peak-RSS mark (VmHWM) so the next peak is this step's own."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass


def hwm_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return peak_mb()


# --- 0: the flows -------------------------------------------------------------------------


def make_flows(session_id: str, start: int, count: int, body: bytes) -> list[Flow]:
    base = datetime(2026, 1, 1, tzinfo=UTC)
    out = []
    for i in range(start, start + count):
        url = f"http://api.bench.test/v1/items/{i}?page={i % 50}"
        out.append(Flow(
            id=str(ULID.from_datetime(base + timedelta(milliseconds=i))),
            session_id=session_id,
            started_at=base + timedelta(milliseconds=i),
            request=Request(method="GET", url=url, host="api.bench.test", port=80,
                            path=f"/v1/items/{i}", headers=[("Accept", "application/json")]),
            response=Response(status_code=200, status_text="OK",
                              headers=[("Content-Type", "application/json")],
                              body=body, body_size=len(body)),
            duration_us=12_345,
            timings=Timings(connect_us=300, send_us=50, wait_us=11_000, receive_us=995),
            server_addr="10.0.0.5:80",
        ))
    return out


async def populate(home: Path, count: int, body_bytes: int) -> str:
    body = ('{"data":"' + "x" * max(body_bytes - 11, 0) + '"}').encode()
    store = Store(home / "ghost.db")
    await store.open([])
    session = await store.write(sessions.create_session, "bench export", "")
    for start in range(0, count, INSERT_BATCH):
        batch = make_flows(session["id"], start, min(INSERT_BATCH, count - start), body)
        await store.write(flow_rows.insert_flows, batch)
    await store.write(sessions.set_kv, sessions.ACTIVE_SESSION_KEY, session["id"])
    store.close()
    return str(session["id"])


# --- 1: Ghost's exporter (subprocess) ---------------------------------------------------


async def ghost_export(home: Path, session_id: str, out: Path) -> dict[str, Any]:
    from plugins.exporters.contract import ExportInfo
    from plugins.exporters.har import HarWriter

    store = Store(home / "ghost.db")
    await store.open([])
    baseline = rss_mb()
    started = time.perf_counter()
    writer = HarWriter(ExportInfo(session_id, "bench export"))
    size = 0
    with open(out, "wb") as fh:  # noqa: ASYNC230 - a benchmark child, nothing else on its loop
        async for batch in store.iter_session_flows(session_id, batch=5_000, limit=100_000):
            for chunk in writer.write(batch):
                fh.write(chunk)
                size += len(chunk)
        for chunk in writer.close():
            fh.write(chunk)
            size += len(chunk)
    seconds = time.perf_counter() - started
    store.close()
    return {"seconds": seconds, "peak_rss_mb": hwm_mb(), "baseline_rss_mb": baseline,
            "bytes": size, "entries": writer.count}


async def ghost_export_parts(home: Path, session_id: str, out_dir: Path) -> dict[str, Any]:
    """The same HAR cut into files of at most 256 MB each (the import limit), untimed."""
    from plugins.exporters.contract import ExportInfo
    from plugins.exporters.har import HarWriter
    from plugins.importers.contract import MAX_IMPORT_BYTES

    store = Store(home / "ghost.db")
    await store.open([])
    out_dir.mkdir(exist_ok=True)  # noqa: ASYNC240 - a benchmark child
    parts: list[str] = []
    pending: list[Flow] = []
    pending_size = 0
    budget = MAX_IMPORT_BYTES - 1024 * 1024

    def write_part(flows: list[Flow]) -> None:
        path = out_dir / f"part{len(parts) + 1}.har"
        writer = HarWriter(ExportInfo(session_id, "bench export"))
        with open(path, "wb") as fh:
            for chunk in writer.write(flows):
                fh.write(chunk)
            for chunk in writer.close():
                fh.write(chunk)
        parts.append(str(path))

    import orjson

    from plugins.exporters.har import har_entry

    async for batch in store.iter_session_flows(session_id, batch=5_000, limit=100_000):
        for flow in batch:
            size = len(orjson.dumps(har_entry(flow))) + 2
            if pending and pending_size + size > budget:
                write_part(pending)
                pending, pending_size = [], 0
            pending.append(flow)
            pending_size += size
    if pending:
        write_part(pending)
    store.close()
    return {"parts": parts}


# --- 2: mitmproxy's save.har (subprocess) -----------------------------------------------


def to_mitmproxy(flow: Flow) -> Any:
    from mitmproxy import connection, http

    client = connection.Client(peername=("127.0.0.1", 50000), sockname=("127.0.0.1", 8080),
                               timestamp_start=flow.started_at.timestamp())
    host, _, port = flow.server_addr.partition(":")
    server = connection.Server(address=(flow.request.host, flow.request.port),
                               peername=(host, int(port or 80)))
    start = flow.started_at.timestamp()
    t = flow.timings or Timings()
    server.timestamp_start = start
    server.timestamp_tcp_setup = start + max(t.connect_us, 0) / 1e6
    live = http.HTTPFlow(client, server)
    live.request = http.Request.make(flow.request.method, flow.request.url, flow.request.body,
                                     dict(flow.request.headers))
    live.request.timestamp_start = server.timestamp_tcp_setup
    live.request.timestamp_end = live.request.timestamp_start + max(t.send_us, 0) / 1e6
    assert flow.response is not None
    live.response = http.Response.make(flow.response.status_code, flow.response.body,
                                       dict(flow.response.headers))
    live.response.timestamp_start = live.request.timestamp_end + max(t.wait_us, 0) / 1e6
    live.response.timestamp_end = live.response.timestamp_start + max(t.receive_us, 0) / 1e6
    return live


async def load_mitm_flows(home: Path, session_id: str) -> list[Any]:
    store = Store(home / "ghost.db")
    await store.open([])
    out: list[Any] = []
    async for batch in store.iter_session_flows(session_id, batch=5_000, limit=100_000):
        out.extend(to_mitmproxy(f) for f in batch)
    store.close()
    return out


def savehar_export(home: Path, session_id: str, out: Path) -> dict[str, Any]:
    from mitmproxy.addons.savehar import SaveHar

    flows = asyncio.run(load_mitm_flows(home, session_id))
    baseline = rss_mb()
    reset_peak()
    started = time.perf_counter()
    SaveHar().export_har(flows, str(out))
    seconds = time.perf_counter() - started
    peak = hwm_mb()
    return {"seconds": seconds, "peak_rss_mb": peak, "baseline_rss_mb": baseline,
            "growth_mb": peak - baseline, "bytes": out.stat().st_size, "entries": len(flows)}


def run_child(mode: str, home: Path, session_id: str, out: Path) -> dict[str, Any]:
    proc = subprocess.run([sys.executable, __file__, mode, str(home), session_id, str(out)],
                          capture_output=True, text=True, timeout=1800, cwd=REPO)
    if proc.returncode != 0:
        raise RuntimeError(f"{mode} failed:\n{proc.stderr[-4000:]}")
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


# --- 3: import through the running API --------------------------------------------------


class Pinger(threading.Thread):
    """Requests every 10 ms; remembers the slowest answer."""

    def __init__(self, url: str, proxy: str | None = None, headers: dict[str, str] | None = None):
        super().__init__(daemon=True)
        self.url = url
        self.client = httpx.Client(proxy=proxy, headers=headers, timeout=10)
        self.stop_event = threading.Event()
        self.worst = 0.0
        self.count = 0
        self.failures = 0

    def run(self) -> None:
        while not self.stop_event.is_set():
            started = time.perf_counter()
            try:
                self.client.get(self.url).raise_for_status()
                self.count += 1
            except httpx.HTTPError:
                self.failures += 1
            self.worst = max(self.worst, time.perf_counter() - started)
            self.stop_event.wait(0.01)
        self.client.close()


def import_through_api(home: Path, hars: list[Path]) -> dict[str, Any]:
    probe = home.parent / "bench_loop_probe.py"
    probe.write_text(PROBE_PLUGIN)
    target = start_target(home.parent, "/ping", b"pong", "text/plain")
    ghost: GhostUnderTest | None = None
    try:
        ghost = GhostUnderTest(home, TOKEN, config=None, extra_args=["--set", f"ghost_plugins={probe}"],
                               log=home.parent / "mitmdump.log")
        session = ghost.api("POST", "/api/v1/sessions", json={"name": "bench import"}, timeout=10).json()["id"]
        api_pinger = Pinger(f"{ghost.api_url}/api/v1/health")
        proxy_pinger = Pinger(target.url, proxy=ghost.proxy_url)
        time.sleep(0.5)
        api_pinger.start()
        proxy_pinger.start()
        time.sleep(0.5)
        api_pinger.worst = proxy_pinger.worst = 0.0
        loop_path = "/api/v1/bench/loop?reset=1"
        ghost.api("GET", loop_path, timeout=10)
        time.sleep(3.0)  # the same pings with no import running: the machine's own noise
        idle = (api_pinger.worst * 1000, proxy_pinger.worst * 1000)
        idle_loop = ghost.api("GET", loop_path, timeout=10).json()
        api_pinger.worst = proxy_pinger.worst = 0.0
        started = time.perf_counter()
        statuses: list[int] = []
        bodies: list[Any] = []
        for har in hars:
            # curl uploads from its own process, so the pingers here keep the GIL to themselves
            upload = subprocess.run(
                ["curl", "-sS", "-H", f"Authorization: Bearer {TOKEN}", "-H", "Expect:",
                 "-H", "Content-Type: application/json", "--data-binary", f"@{har}",
                 "-w", "\n%{http_code}", f"{ghost.api_url}/api/v1/sessions/{session}/import/har"],
                capture_output=True, text=True, timeout=600)
            text, _, code = upload.stdout.rpartition("\n")
            statuses.append(int(code) if code.isdigit() else 0)
            try:
                bodies.append(json.loads(text))
            except ValueError:
                bodies.append(text + upload.stderr)
        seconds = time.perf_counter() - started
        status = max(statuses)
        if all(isinstance(b, dict) and "imported" in b for b in bodies):
            body: Any = {"imported": sum(b["imported"] for b in bodies),
                         "skipped": sum(b["skipped"] for b in bodies)}
        else:
            body = bodies
        loop = ghost.api("GET", loop_path, timeout=10).json()
        time.sleep(0.2)
        for pinger in (api_pinger, proxy_pinger):
            pinger.stop_event.set()
            pinger.join(15)
        stored = ghost.api("GET", f"/api/v1/sessions/{session}").json()
        return {"status": status, "result": body, "files": len(hars),
                "api_idle_ms": idle[0], "proxy_idle_ms": idle[1],
                "loop_idle": idle_loop, "loop": loop,
                "seconds": seconds, "stored": stored.get("flow_count"),
                "api_worst_ms": api_pinger.worst * 1000, "api_pings": api_pinger.count,
                "api_failures": api_pinger.failures,
                "proxy_worst_ms": proxy_pinger.worst * 1000, "proxy_pings": proxy_pinger.count,
                "proxy_failures": proxy_pinger.failures}
    finally:
        if ghost is not None:
            ghost.stop(timeout=30)
        stop(target.proc, timeout=30)


# --- main ---------------------------------------------------------------------------------


def main() -> int:
    if len(sys.argv) == 5 and sys.argv[1] in ("_ghost_export", "_savehar", "_parts"):
        home, session_id, out = Path(sys.argv[2]), sys.argv[3], Path(sys.argv[4])
        if sys.argv[1] == "_ghost_export":
            result = asyncio.run(ghost_export(home, session_id, out))
        elif sys.argv[1] == "_parts":
            result = asyncio.run(ghost_export_parts(home, session_id, out))
        else:
            result = savehar_export(home, session_id, out)
        print(json.dumps(result))
        return 0

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--flows", type=int, default=100_000)
    parser.add_argument("--body-bytes", type=int, default=2_000)
    parser.add_argument("--skip-import", action="store_true")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="ghost-bench-export-") as tmp:
        work = Path(tmp)
        home = work / "home"
        home.mkdir(mode=0o700)
        started = time.perf_counter()
        session_id = asyncio.run(populate(home, args.flows, args.body_bytes))
        print(f"stored {args.flows:,} flows ({args.body_bytes} B bodies) in "
              f"{time.perf_counter() - started:.1f} s")

        ghost = run_child("_ghost_export", home, session_id, work / "ghost.har")
        mitm = run_child("_savehar", home, session_id, work / "mitmproxy.har")
        ratio = mitm["seconds"] / ghost["seconds"] if ghost["seconds"] else float("inf")
        print(f"HAR export, {args.flows:,} flows:")
        print(f"  Ghost exporter   {ghost['seconds']:7.2f} s  peak RSS {ghost['peak_rss_mb']:7.1f} MB"
              f"  ({ghost['bytes'] / 1e6:.1f} MB file, {ghost['entries']:,} entries, "
              f"reading the store included)")
        print(f"  mitmproxy savehar{mitm['seconds']:7.2f} s  peak RSS {mitm['peak_rss_mb']:7.1f} MB"
              f"  (+{mitm['growth_mb']:.1f} MB over the {mitm['baseline_rss_mb']:.0f} MB of "
              f"loaded flows; {mitm['bytes'] / 1e6:.1f} MB file)")
        print(f"  ratio savehar/Ghost: {ratio:.2f}x "
              f"({'faster' if ratio > 1 else 'SLOWER'}; Ghost peak "
              f"{'below' if ghost['peak_rss_mb'] < 300 else 'ABOVE'} 300 MB)")
        if args.skip_import:
            return 0
        hars = [work / "ghost.har"]
        if ghost["bytes"] > 256 * 1024 * 1024:
            parts = run_child("_parts", home, session_id, work / "parts")["parts"]
            hars = [Path(p) for p in parts]
            print(f"  the HAR is {ghost['bytes'] / 2**20:.0f} MiB, above the 256 MB import limit "
                  f"of the spec: importing the same entries as {len(hars)} files")
        result = import_through_api(home, hars)
        body = result["result"]
        summary = (f"imported {body.get('imported')}, skipped {body.get('skipped')}"
                   if isinstance(body, dict) and "imported" in body else str(body)[:300])
        print(f"HAR import through the API ({ghost['bytes'] / 1e6:.1f} MB, "
              f"{result['files']} file(s)): HTTP "
              f"{result['status']}, {summary}, {result['stored']} stored, "
              f"{result['seconds']:.1f} s")
        print(f"  longest event-loop gap (in Ghost): idle {result['loop_idle']['wall']:.1f} ms "
              f"wall / {result['loop_idle']['cpu']:.1f} ms CPU; during import "
              f"{result['loop']['wall']:.1f} ms wall / {result['loop']['cpu']:.1f} ms CPU")
        print(f"  longest API answer   idle {result['api_idle_ms']:7.1f} ms, during import "
              f"{result['api_worst_ms']:7.1f} ms "
              f"({result['api_pings']} pings, {result['api_failures']} failed)")
        print(f"  longest proxy answer idle {result['proxy_idle_ms']:7.1f} ms, during import "
              f"{result['proxy_worst_ms']:7.1f} ms "
              f"({result['proxy_pings']} pings, {result['proxy_failures']} failed)")
        ok = (ratio > 1 and ghost["peak_rss_mb"] < 300 and result["status"] == 200
              and result["seconds"] < 60 and result["loop"]["cpu"] < 100)
        print("targets met" if ok else "TARGETS NOT MET")
        return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
