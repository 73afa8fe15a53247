"""Benchmark: the cost of JavaScript addons, and the per-call Python <-> V8 round trip.

1. Throughput. Two real `mitmdump -s ghost.py` processes run side by side against the same
   local target: one with no addon, one with three simple enabled addons (tag error
   responses, set a request header, count requests in the addon store). wrk drives
   keep-alive HTTP with 16 concurrent connections, alternating between the two in short
   rounds so drift on the machine hits both alike, waiting for each Ghost's store queue to
   drain between rounds. Printed per round and as medians: requests/s and the ratio, Ghost's
   CPU per request (the proxy process) and its ratio, the flow writer's and the addon workers'
   CPU per request.

2. Round trip. The runtime alone (real worker process, real V8): one addon's handler on a
   live mitmproxy flow, through the framed pipe protocol and back with its change-set
   applied, sequentially and 16 at a time; and the three addons on a flow, both phases.

    .venv/bin/python scripts/bench_addons.py [--seconds 5] [--rounds 5] [--max-cost 0.10]

Both ratios are printed, as medians with the rounds' spread: throughput (3 addons over none)
and CPU (Ghost's CPU per request, the proxy process, 3 addons over none); the CPU of all of
Ghost's processes (with the flow writer and the addon workers) is printed beside it.
Exit status: 0 when both costs are within --max-cost, 1 when not, 2 when wrk is missing.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from dataclasses import dataclass
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


async def per_flow(flows: int) -> None:
    """Ghost's CPU for the three benchmark addons on one flow, both phases, 16 flows at a time:
    the runtime's share of the proxy's cost, measured in-process (steadier than throughput on a
    busy machine: no other process's work is counted)."""
    from mitmproxy.test import tflow, tutils

    from plugins.js_addons.runtime import AddonRuntime, LoadedAddon, RuntimeConfig

    class Quiet:
        def addon_log(self, addon: LoadedAddon, level: str, message: str) -> None: ...

        def addon_failed(self, addon: LoadedAddon, error: str) -> None:
            raise RuntimeError(f"the benchmark addon failed: {error}")

        def addon_disabled(self, addon: LoadedAddon, reason: str) -> None: ...

    def flow() -> Any:
        f = tflow.tflow()
        f.request.headers["Accept"] = "application/json"
        f.request.headers["User-Agent"] = "bench/1.0"
        response = tutils.tresp()
        response.headers["Content-Type"] = "application/json"
        return f, response

    async def both_phases(f: Any, response: Any) -> None:
        await runtime.run(f, "request", runtime.chain("request"))
        f.response = response
        await runtime.run(f, "response", runtime.chain("response"))

    runtime = AddonRuntime(RuntimeConfig(), Quiet())
    await runtime.start()
    try:
        for number, addon in enumerate(ADDONS):
            await runtime.load(f"bench{number}", addon["name"], addon["code"], addon["priority"], "")
        for pair in [flow() for _ in range(200)]:
            await both_phases(*pair)
        pairs = [flow() for _ in range(flows)]
        cpu, wall = time.process_time(), time.perf_counter()
        for i in range(0, flows, 16):
            await asyncio.gather(*(both_phases(*pair) for pair in pairs[i:i + 16]))
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        assert all(f.request.headers.get("X-Ghost-Bench") == "1" for f, _ in pairs)
        print(f"3 addons on a flow, both phases, 16 flows at a time: {cpu / flows * 1e6:.0f} us of Ghost's CPU "
              f"per flow, {wall / flows * 1e6:.0f} us wall")
    finally:
        await runtime.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=5.0, help="length of one measured round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--body", type=int, default=2048, help="response body bytes")
    parser.add_argument("--max-cost", type=float, default=0.10,
                        help="largest acceptable cost, in throughput and in Ghost's CPU per request")
    parser.add_argument("--calls", type=int, default=3000, help="calls for the round-trip measurement")
    args = parser.parse_args()
    asyncio.run(round_trip(args.calls))
    asyncio.run(per_flow(args.calls))
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
            print(f"round {round_no}: no addons {n.rps:.0f} req/s, Ghost {n.cpu_us:.0f} us CPU/req "
                  f"(+ writer {n.workers_us - n.addon_workers_us:.0f}); 3 addons {a.rps:.0f} req/s, Ghost "
                  f"{a.cpu_us:.0f} us CPU/req (+ writer {a.workers_us - a.addon_workers_us:.0f}, addon workers "
                  f"{a.addon_workers_us:.0f}); throughput ratio {a.rps / n.rps:.3f}, CPU ratio {a.cpu_us / n.cpu_us:.3f}",
                  flush=True)
        flows = with_addons.api("GET", "/api/v1/flows", params={"limit": 1, "session_id": "all"}).json()["flows"]
        detail = with_addons.api("GET", f"/api/v1/flows/{flows[0]['id']}").json()
        if not any(h["name"] == "X-Ghost-Bench" for h in detail["request"]["headers"]):
            print("error: the addons did not run on the benchmark traffic", file=sys.stderr)
            return 1
        states = with_addons.api("GET", "/api/v1/addons").json()
        if not all(a["enabled"] and not a["last_error"] for a in states):
            print(f"error: an addon failed during the benchmark: {states}", file=sys.stderr)
            return 1
    summary = summarize(rounds)
    print(f"3 addons, throughput: none {summary.base_rps:.0f} req/s, 3 addons {summary.addons_rps:.0f} req/s, "
          f"ratio {summary.throughput_ratio:.3f} (rounds {summary.throughput_spread}), cost "
          f"{(1 - summary.throughput_ratio) * 100:.1f}% (target <= {args.max_cost * 100:.0f}%)")
    print(f"3 addons, CPU per request: Ghost {summary.base_cpu:.0f} -> {summary.addons_cpu:.0f} us "
          f"(+{summary.addons_cpu - summary.base_cpu:.0f} us), CPU ratio {summary.cpu_ratio:.3f} (rounds "
          f"{summary.cpu_spread}, target <= {1 + args.max_cost:.2f}); addon workers {summary.js_workers:.0f} us; "
          f"all of Ghost's processes {summary.base_total:.0f} -> {summary.addons_total:.0f} us, ratio "
          f"{summary.total_ratio:.3f}")
    return 0 if summary.throughput_ratio >= 1 - args.max_cost and summary.cpu_ratio <= 1 + args.max_cost else 1


@dataclass(frozen=True)
class Summary:
    """Medians over the rounds, and each round's ratios as "low-high"."""

    base_rps: float
    addons_rps: float
    base_cpu: float
    addons_cpu: float
    js_workers: float
    base_total: float
    addons_total: float
    throughput_spread: str
    cpu_spread: str

    @property
    def throughput_ratio(self) -> float:
        return self.addons_rps / self.base_rps

    @property
    def cpu_ratio(self) -> float:
        """Ghost's own CPU per request (the proxy process) with the addons, over without."""
        return self.addons_cpu / self.base_cpu

    @property
    def total_ratio(self) -> float:
        """The same with Ghost's child processes (its flow writer, the addon workers) counted."""
        return self.addons_total / self.base_total


def summarize(rounds: list[dict[str, Round]]) -> Summary:
    def spread(values: list[float]) -> str:
        return f"{min(values):.3f}-{max(values):.3f}"

    def total(r: Round) -> float:
        return r.cpu_us + r.workers_us

    return Summary(
        median_of(rounds, "none", "rps"), median_of(rounds, "addons", "rps"),
        median_of(rounds, "none", "cpu_us"), median_of(rounds, "addons", "cpu_us"),
        median_of(rounds, "addons", "addon_workers_us"),
        statistics.median(total(r["none"]) for r in rounds), statistics.median(total(r["addons"]) for r in rounds),
        spread([r["addons"].rps / r["none"].rps for r in rounds]),
        spread([r["addons"].cpu_us / r["none"].cpu_us for r in rounds]),
    )


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
