"""Soak runs (not tests): a real `mitmdump -s ghost.py` under load, crashed and stopped.

    scripts/soak load   --clients 200 --minutes 10   steady load: errors, rows vs requests, memory
    scripts/soak kill   --rounds 50                  kill -9 at random moments under load
    scripts/soak sigterm --rounds 10                 SIGTERM under load: nothing answered unrecorded

The load: `--clients` keep-alive clients in one asyncio process, each on its own
connection, through the proxy to a local target (its own process) over HTTP and HTTPS:
quick answers, slow ones (0.2-1.5 s), 5 MB bodies and WebSocket echo sessions. Every
request carries a unique `soak=` id, so what a client was answered is compared, id by id,
with the rows in Ghost's database (read with SQLite directly, after Ghost drained or died).

`load` fails (exit 1) on any client error while Ghost runs, a missing row, or memory growth
after warm-up above `--max-growth-mb`. `kill` fails when `PRAGMA integrity_check` is not ok,
when more answered flows are lost than were not committed just before (the write queue depth
from /api/v1/monitor polled every 50 ms, plus what clients were answered after that poll;
with `--answer-after-commit`: when any is lost), when a recording journey is not `failed`
after the restart, or when the restarted Ghost does not serve. `sigterm` fails when one
answered flow has no row.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import signal
import sqlite3
import ssl
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import httpx
from benchlib import GhostUnderTest, free_port, stop, wait_port

TOKEN = "soak-token"
BIG_BODY = 5 * 1024 * 1024
CONFIG = "proxy:\n  noise_enabled: false\n"  # every flow is stored (no noise sampling)
SOAK_ID = re.compile(r"[?&]soak=([\w-]+)")

# argv: http port, https port, cert file, key file, big body size
TARGET_CODE = r"""
import asyncio, ssl, sys
from aiohttp import web
http_port, https_port, cert, key, big = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4], int(sys.argv[5])
BIG = b"b" * big
async def quick(request):
    return web.Response(body=b"ok " + request.query.get("soak", "").encode())
async def slow(request):
    await asyncio.sleep(int(request.query.get("ms", "500")) / 1000)
    return web.Response(body=b"slow " + request.query.get("soak", "").encode())
async def large(request):
    return web.Response(body=BIG, content_type="application/octet-stream")
async def echo(request):
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    async for message in ws:
        await ws.send_str(message.data)
    return ws
async def main():
    app = web.Application()
    app.router.add_get("/quick", quick)
    app.router.add_get("/slow", slow)
    app.router.add_get("/big", large)
    app.router.add_get("/ws", echo)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    await web.TCPSite(runner, "127.0.0.1", http_port, backlog=1024).start()
    await web.TCPSite(runner, "127.0.0.1", https_port, ssl_context=context, backlog=1024).start()
    await asyncio.Event().wait()
asyncio.run(main())
"""


def make_cert(directory: Path) -> tuple[Path, Path]:
    cert, key = directory / "target-cert.pem", directory / "target-key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    return cert, key


@dataclass
class Target:
    proc: subprocess.Popen[bytes]
    http_port: int
    https_port: int


def start_target(workdir: Path) -> Target:
    cert, key = make_cert(workdir)
    http_port, https_port = free_port(), free_port()
    proc = subprocess.Popen([sys.executable, "-c", TARGET_CODE, str(http_port), str(https_port), str(cert), str(key),
                             str(BIG_BODY)], start_new_session=True)
    wait_port(http_port)
    wait_port(https_port)
    return Target(proc, http_port, https_port)


@dataclass
class Tally:
    """What the clients saw: answered ids (with when), errors by kind."""

    answered: dict[str, float] = field(default_factory=dict)
    errors: Counter[str] = field(default_factory=Counter)
    error_examples: dict[str, str] = field(default_factory=dict)
    requests: int = 0
    ws_sessions: int = 0

    def error(self, kind: str, detail: str) -> None:
        self.errors[kind] += 1
        self.error_examples.setdefault(kind, detail[:300])


class Load:
    """`clients` keep-alive clients through the proxy until `stop()`; each on one connection."""

    def __init__(self, proxy_url: str, ca: Path, target: Target, clients: int, seed: int = 0) -> None:
        self.proxy_url = proxy_url
        self.target = target
        self.clients = clients
        self.tally = Tally()
        self.running = True
        self.context = ssl.create_default_context(cafile=str(ca))
        self.random = random.Random(seed)
        self.tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        self.tasks = [asyncio.ensure_future(self.client(n)) for n in range(self.clients)]

    async def stop(self) -> None:
        self.running = False
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)

    def url(self, client: int, count: int, https: bool) -> tuple[str, str]:
        soak_id = f"{client}-{count}"
        base = (f"https://127.0.0.1:{self.target.https_port}" if https
                else f"http://127.0.0.1:{self.target.http_port}")
        return base, soak_id

    async def client(self, client: int) -> None:
        count = 0
        session: aiohttp.ClientSession | None = None
        try:
            while self.running:
                if session is None:
                    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1, ssl=self.context),
                                                    timeout=aiohttp.ClientTimeout(total=60))
                count += 1
                kind = self.random.choices(("quick", "slow", "big", "ws"), (70, 20, 3, 7))[0]
                # WebSockets over wss only: through a proxy a browser tunnels ws:// too (CONNECT),
                # while aiohttp sends it in absolute form, which mitmproxy answers with a 400
                base, soak_id = self.url(client, count, https=kind == "ws" or self.random.random() < 0.35)
                try:
                    if kind == "ws":
                        await self.ws_session(session, base.replace("http", "ws", 1) + f"/ws?soak={soak_id}")
                    else:
                        await self.request(session, kind, f"{base}/{kind}?soak={soak_id}", soak_id)
                except asyncio.CancelledError:
                    raise
                except Exception as e:
                    self.tally.error(f"{kind}: {type(e).__name__}", f"{soak_id}: {e!r}")
                    await session.close()
                    session = None  # a fresh connection, as a real client would open
                    await asyncio.sleep(0.05)
        finally:
            if session is not None:
                await session.close()

    async def request(self, session: aiohttp.ClientSession, kind: str, url: str, soak_id: str) -> None:
        if kind == "slow":
            url += f"&ms={self.random.randint(200, 1500)}"
        self.tally.requests += 1
        async with session.get(url, proxy=self.proxy_url) as response:
            body = await response.read()
        if response.status != 200:
            raise RuntimeError(f"status {response.status}: {body[:200]!r}")
        expected = BIG_BODY if kind == "big" else None
        if (expected is not None and len(body) != expected) or (expected is None and not body.endswith(soak_id.encode())):
            raise RuntimeError(f"wrong body ({len(body)} bytes)")
        self.tally.answered[soak_id] = time.monotonic()

    async def ws_session(self, session: aiohttp.ClientSession, url: str) -> None:
        async with session.ws_connect(url, proxy=self.proxy_url) as ws:
            for n in range(5):
                await ws.send_str(f"m{n}")
                message = await ws.receive(timeout=10)
                if message.type != aiohttp.WSMsgType.TEXT or message.data != f"m{n}":
                    raise RuntimeError(f"echo {n} came back as {message.type} {message.data!r}")
        self.tally.ws_sessions += 1


def stored_ids(db_path: Path) -> set[str]:
    """The soak ids of the HTTP flows in the database (WebSocket handshakes aside)."""
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=30)
    try:
        rows = conn.execute("SELECT url FROM flows WHERE url LIKE '%soak=%' AND path != '/ws'").fetchall()
    finally:
        conn.close()
    return {m.group(1) for (url,) in rows if (m := SOAK_ID.search(url))}


def integrity(db_path: Path) -> str:
    conn = sqlite3.connect(str(db_path), timeout=30)  # read-write: a hot WAL is recovered first
    try:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])
    finally:
        conn.close()


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def start_ghost(home: Path, log: Path, answer_after_commit: bool = False) -> GhostUnderTest:
    config = CONFIG + ("store:\n  answer_after_commit: true\n" if answer_after_commit else "")
    if (home / "config.yaml").exists():
        config = None  # a restart keeps the home as it is
    return GhostUnderTest(home, TOKEN, config=config, extra_args=("--set", "ssl_insecure=true"), log=log)


def report_errors(tally: Tally) -> None:
    for kind, count in tally.errors.most_common():
        print(f"  error {kind}: {count} (e.g. {tally.error_examples[kind]})")


# --- load -----------------------------------------------------------------------------------


async def run_load(args: argparse.Namespace, workdir: Path, target: Target) -> int:
    seconds = args.seconds or args.minutes * 60
    warm_up = min(60.0, seconds * 0.25)
    ghost = start_ghost(workdir / "home", workdir / "ghost.log")
    load = Load(ghost.proxy_url, ghost.home / "mitmproxy-ca-cert.pem", target, args.clients)
    try:
        load.start()
        started = time.monotonic()
        await asyncio.sleep(warm_up)
        rss_start, peak = rss_mb(ghost.proc.pid), 0.0
        samples: list[tuple[float, float]] = []
        while time.monotonic() - started < seconds:
            await asyncio.sleep(min(5.0, max(0.1, seconds - (time.monotonic() - started))))
            if ghost.proc.poll() is not None:
                print(f"Ghost exited with {ghost.proc.returncode} during the load")
                return 1
            samples.append((time.monotonic() - started, rss_mb(ghost.proc.pid)))
            peak = max(peak, samples[-1][1])
        await load.stop()
        await asyncio.to_thread(ghost.drained)
        rss_end = rss_mb(ghost.proc.pid)
        stored = stored_ids(ghost.home / "ghost.db")
    finally:
        await load.stop()
        ghost.stop()
    tally = load.tally
    missing = set(tally.answered) - stored
    errors = sum(tally.errors.values())
    growth = rss_end - rss_start
    print(f"load: {args.clients} clients for {seconds:.0f} s: {tally.requests} HTTP(S) requests, "
          f"{len(tally.answered)} answered, {tally.ws_sessions} WebSocket sessions, errors {errors}")
    report_errors(tally)
    print(f"rows: {len(stored)} stored for {len(tally.answered)} answered, missing {len(missing)}")
    print(f"memory (mitmdump RSS): {rss_start:.0f} MB after {warm_up:.0f} s warm-up, {rss_end:.0f} MB at the end "
          f"(peak {peak:.0f} MB), growth {growth:+.0f} MB (limit {args.max_growth_mb} MB)")
    quarter = max(1, len(samples) // 4)
    print("memory over time (s: MB, the highest of each stretch): " + ", ".join(
        f"{samples[min(i + quarter, len(samples)) - 1][0]:.0f}: {max(m for _, m in samples[i:i + quarter]):.0f}"
        for i in range(0, len(samples), quarter)))
    return 0 if not errors and not missing and growth <= args.max_growth_mb else 1


# --- kill -9 ---------------------------------------------------------------------------------


async def start_recording(ghost: GhostUnderTest) -> tuple[aiohttp.ClientSession, str]:
    """A browser extension connected and a journey recording in the active session."""
    http = aiohttp.ClientSession(headers={"Authorization": f"Bearer {TOKEN}"})
    ws = await http.ws_connect(f"ws://127.0.0.1:{ghost.api_port}/api/v1/extension/ws",
                               headers={"Origin": "chrome-extension://soak"})
    await ws.send_json({"type": "hello", "data": {"version": "1.0.0", "extension_id": "soak", "user_agent": "soak"}})
    session_id = ""
    for _ in range(50):
        async with http.get(f"{ghost.api_url}/api/v1/sessions") as r:
            session_id = next(s["id"] for s in await r.json() if s["active"])
        async with http.post(f"{ghost.api_url}/api/v1/journeys/start",
                             json={"session_id": session_id, "name": "soak"}) as r:
            if r.status == 200:
                return http, (await r.json())["id"]
            problem = await r.text()
        await asyncio.sleep(0.1)  # the hello may not have arrived yet
    await http.close()
    raise RuntimeError(f"cannot start a journey recording: {problem}")


async def poll_depth(ghost: GhostUnderTest, polls: list[tuple[float, int]], until: float) -> None:
    """Poll the monitor every 50 ms; each answer as (when it was asked, flow_queue_depth).

    The time is when the poll was *sent*, not when its answer came: Ghost samples the depth
    somewhere in between, so a flow a client received before the poll was sent was queued
    before the sample (counted in the depth, or already committed), and every flow received
    later counts as answered after the poll. Timing by the answer left a window in which a
    flow counted on neither side."""
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {TOKEN}"}) as http:
        while time.monotonic() < until:
            asked_at = time.monotonic()
            async with http.get(f"{ghost.api_url}/api/v1/monitor") as r:
                depth = (await r.json())["flow_queue_depth"]
            polls.append((asked_at, int(depth)))
            await asyncio.sleep(0.05)


def serves(ghost: GhostUnderTest, target: Target) -> bool:
    url = f"http://127.0.0.1:{target.http_port}/quick?soak=restart-{time.monotonic_ns()}"
    with httpx.Client(proxy=ghost.proxy_url, timeout=10) as client:
        return client.get(url).status_code == 200


async def run_kill(args: argparse.Namespace, workdir: Path, target: Target) -> int:
    home, log = workdir / "home", workdir / "ghost.log"
    failures, worst, total_lost = 0, 0.0, 0
    journey = ""
    for round_no in range(1, args.rounds + 1):
        ghost = start_ghost(home, log, args.answer_after_commit)
        try:
            if journey:
                r = ghost.api("GET", f"/api/v1/journeys/{journey}")
                if r.status_code != 200 or r.json()["status"] != "failed":
                    print(f"round {round_no}: the journey recording at the kill is {r.text[:200]}, not failed")
                    failures += 1
            if not serves(ghost, target):
                print(f"round {round_no}: the restarted Ghost does not serve")
                failures += 1
            http, journey = await start_recording(ghost)
            load = Load(ghost.proxy_url, home / "mitmproxy-ca-cert.pem", target, args.clients, seed=round_no)
            load.start()
            polls: list[tuple[float, int]] = []
            kill_at = time.monotonic() + random.uniform(1.5, 5.0)
            await poll_depth(ghost, polls, kill_at)
            os.killpg(ghost.proc.pid, signal.SIGKILL)  # Ghost and its flow writer process at once
            await asyncio.to_thread(ghost.proc.wait, 30)
            await load.stop()
            await http.close()
        finally:
            ghost.stop()
        polled_at, depth = polls[-1]
        answered_after = sum(1 for when in load.tally.answered.values() if when > polled_at)
        check = integrity(home / "ghost.db")
        lost = set(load.tally.answered) - stored_ids(home / "ghost.db")
        bound = 0 if args.answer_after_commit else depth + answered_after
        ok = check == "ok" and len(lost) <= bound
        failures += not ok
        total_lost += len(lost)
        worst = max(worst, len(lost) / bound if bound else (1.0 if lost else 0.0))
        print(f"round {round_no}: {len(load.tally.answered)} answered, lost {len(lost)}, bound {bound} "
              f"(depth {depth} + {answered_after} answered after that poll), integrity {check}"
              f"{'' if ok else '  FAILED'}", flush=True)
        report_errors(load.tally)
    ghost = start_ghost(home, log)
    try:
        r = ghost.api("GET", f"/api/v1/journeys/{journey}")
        recorded_failed = r.status_code == 200 and r.json()["status"] == "failed"
        failures += not recorded_failed or not serves(ghost, target)
    finally:
        ghost.stop()
    print(f"kill -9: {args.rounds} rounds{' (store.answer_after_commit)' if args.answer_after_commit else ''}, "
          f"failed rounds {failures}, answered flows lost {total_lost} in all, worst lost/bound {worst:.2f}")
    return 0 if failures == 0 else 1


# --- SIGTERM ---------------------------------------------------------------------------------


async def run_sigterm(args: argparse.Namespace, workdir: Path, target: Target) -> int:
    home, log = workdir / "home", workdir / "ghost.log"
    failures, total_answered = 0, 0
    for round_no in range(1, args.rounds + 1):
        ghost = start_ghost(home, log)
        load = Load(ghost.proxy_url, home / "mitmproxy-ca-cert.pem", target, args.clients, seed=round_no)
        try:
            load.start()
            await asyncio.sleep(random.uniform(1.5, 3.0))
            signalled = time.monotonic()
            os.killpg(ghost.proc.pid, signal.SIGTERM)
            code = await asyncio.to_thread(ghost.proc.wait, 60)
            took = time.monotonic() - signalled
            await load.stop()
        finally:
            ghost.stop()
        lost = set(load.tally.answered) - stored_ids(home / "ghost.db")
        total_answered += len(load.tally.answered)
        failures += bool(lost) or code != 0
        print(f"round {round_no}: {len(load.tally.answered)} answered, {len(lost)} without a row, exit {code} "
              f"{took:.1f} s after SIGTERM{'  FAILED' if lost or code else ''}", flush=True)
        report_errors(load.tally)
    ghost = start_ghost(home, log)
    try:
        failures += not serves(ghost, target)
    finally:
        ghost.stop()
    print(f"SIGTERM: {args.rounds} rounds, {total_answered} answered, failed rounds {failures}")
    return 0 if failures == 0 else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    load = sub.add_parser("load", help="steady load: errors, rows vs requests, memory growth")
    load.add_argument("--clients", type=int, default=200)
    load.add_argument("--minutes", type=float, default=10.0)
    load.add_argument("--seconds", type=float, default=0.0, help="instead of --minutes (short runs)")
    load.add_argument("--max-growth-mb", type=float, default=50.0)
    kill = sub.add_parser("kill", help="kill -9 at random moments under load")
    kill.add_argument("--rounds", type=int, default=50)
    kill.add_argument("--clients", type=int, default=50)
    kill.add_argument("--answer-after-commit", action="store_true", help="with store.answer_after_commit on")
    term = sub.add_parser("sigterm", help="SIGTERM under load")
    term.add_argument("--rounds", type=int, default=10)
    term.add_argument("--clients", type=int, default=50)
    args = parser.parse_args()
    runs = {"load": run_load, "kill": run_kill, "sigterm": run_sigterm}
    with tempfile.TemporaryDirectory(prefix="ghost-soak-") as tmp:
        workdir = Path(tmp)
        target = start_target(workdir)
        try:
            status = asyncio.run(runs[args.command](args, workdir, target))
        finally:
            stop(target.proc)
        if status and (workdir / "ghost.log").exists():
            print("Ghost's log (end):\n" + (workdir / "ghost.log").read_text(errors="replace")[-3000:])
    return status


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
