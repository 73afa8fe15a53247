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
import sys
import time
from typing import Any

from benchlib import REPO, Round, ab_rounds, bench_run, ghost_pair, median_of, padded_json, require_wrk

sys.path.insert(0, str(REPO))
TOKEN = "bench-addons-token"

ADDONS: list[dict[str, Any]] = [
    {"name": "Tag errors", "priority": 1,
     "code": "ghost.onResponse(function (flow) { if (flow.response.status_code >= 400) flow.tag('error'); });"},
    {"name": "Mark requests", "priority": 2,
     "code": "ghost.onRequest(function (flow) { flow.setHeader('X-Ghost-Bench', '1'); });"},
    {"name": "Count requests", "priority": 3,
     "code": "ghost.onRequest(function (flow) { ghost.store.set('n', (ghost.store.get('n') || 0) + 1); });"},
]


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
    if not require_wrk():
        return 2
    rounds: list[dict[str, Round]] = []
    with (bench_run("ghost-bench-addons-", "/api/items", padded_json(args.body), query="page=1") as (workdir, target),
          ghost_pair(workdir, ("none", "addons"), TOKEN) as (plain, with_addons)):
        for addon in ADDONS:
            with_addons.create("/api/v1/addons", {**addon, "enabled": True}, what=f"addon {addon['name']}")
        print(f"addons: {', '.join(a['name'] for a in ADDONS)} (all enabled)", flush=True)
        measured = ab_rounds({"none": plain, "addons": with_addons}, args.rounds, target, args.seconds, workdir)
        for round_no, result in enumerate(measured, 1):
            rounds.append(result)
            n, a = result["none"], result["addons"]
            print(f"round {round_no}: no addons {n.rps:.0f} req/s {n.cpu_us:.0f} us CPU/req; "
                  f"3 addons {a.rps:.0f} req/s {a.cpu_us:.0f} us CPU/req + workers {a.workers_us:.0f} us/req; "
                  f"ratio {a.rps / n.rps:.3f}", flush=True)
        flows = with_addons.api("GET", "/api/v1/flows", params={"limit": 1, "session_id": "all"}).json()["flows"]
        detail = with_addons.api("GET", f"/api/v1/flows/{flows[0]['id']}").json()
        if not any(h["name"] == "X-Ghost-Bench" for h in detail["request"]["headers"]):
            print("error: the addons did not run on the benchmark traffic", file=sys.stderr)
            return 1
        states = with_addons.api("GET", "/api/v1/addons").json()
        if not all(a["enabled"] and not a["last_error"] for a in states):
            print(f"error: an addon failed during the benchmark: {states}", file=sys.stderr)
            return 1
    base, with_js = median_of(rounds, "none", "rps"), median_of(rounds, "addons", "rps")
    base_cpu, js_cpu = median_of(rounds, "none", "cpu_us"), median_of(rounds, "addons", "cpu_us")
    js_workers = median_of(rounds, "addons", "workers_us")
    cost = 1 - with_js / base
    print(f"3 addons, throughput: none {base:.0f} req/s, 3 addons {with_js:.0f} req/s, ratio {with_js / base:.3f}, "
          f"cost {cost * 100:.1f}% (target <= {args.max_cost * 100:.0f}%)")
    print(f"3 addons, CPU per request: Ghost {base_cpu:.0f} -> {js_cpu:.0f} us (+{js_cpu - base_cpu:.0f} us), "
          f"addon workers {js_workers:.0f} us")
    return 0 if cost <= args.max_cost else 1


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
