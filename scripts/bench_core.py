"""Benchmark: Ghost capturing (all built-in plugins loaded) vs bare `mitmdump -q`.

Same machine, same run, same local target, keep-alive HTTP, 16 concurrent connections
(wrk, 16 connections). Runs alternate bare/Ghost rounds and keeps the median
of each. Then counts the stored rows: every request must be in the store.

Two figures per round: throughput (requests/s, what a client sees) and each proxy
process's CPU time per request (from /proc; Ghost's up to its store queue drained, writer
thread included). Throughput on a shared machine swings by 10-20% between identical runs;
CPU per request stays steady. Both ratios are printed: throughput (Ghost / bare) and CPU
(bare CPU per request / Ghost CPU per request, the throughput ratio a CPU-bound proxy
would reach).

    .venv/bin/python scripts/bench_core.py [--seconds 10] [--rounds 3]

Exit status: 0 when no stored rows are missing, 1 when some are, 2 when wrk is missing.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys

from benchlib import BareMitmdump, GhostUnderTest, Round, bench_run, measured_round, require_wrk, warm_up

TOKEN = "bench-token"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--body", type=int, default=2048, help="response body bytes")
    args = parser.parse_args()
    if not require_wrk():
        return 2
    bare_rounds: list[Round] = []
    ghost_rounds: list[Round] = []
    lost = 0
    with bench_run("ghost-bench-", "/bench", b"x" * args.body) as (workdir, target):
        for round_no in range(1, args.rounds + 1):
            bare = BareMitmdump(workdir)
            try:
                warm_up([bare], target, workdir)
                bare_rounds.append(measured_round(bare, target, args.seconds, workdir))
            finally:
                bare.stop()
            ghost = GhostUnderTest(workdir / f"ghost-home-{round_no}", TOKEN)
            try:
                warm = warm_up([ghost], target, workdir)
                ghost_rounds.append(measured_round(ghost, target, args.seconds, workdir))
                answered = warm + ghost_rounds[-1].requests
                rows = ghost.stored_rows(answered)
                lost += max(0, answered - rows)
            finally:
                ghost.stop()
            print(f"round {round_no}: bare {bare_rounds[-1].rps:.0f} req/s, ghost {ghost_rounds[-1].rps:.0f} req/s, "
                  f"stored {rows} of {answered} answered; CPU/req bare {bare_rounds[-1].cpu_us:.0f} us, "
                  f"ghost {ghost_rounds[-1].cpu_us:.0f} us", flush=True)
    bare_rps, ghost_rps = statistics.median(r.rps for r in bare_rounds), statistics.median(r.rps for r in ghost_rounds)
    bare_cpu = statistics.median(r.cpu_us for r in bare_rounds)
    ghost_cpu = statistics.median(r.cpu_us for r in ghost_rounds)
    print(f"core capture: bare mitmdump {bare_rps:.0f} req/s, Ghost {ghost_rps:.0f} req/s, "
          f"ratio {ghost_rps / bare_rps:.2f} (target >= 0.90); rows missing: {lost}")
    print(f"core capture, CPU per request: bare mitmdump {bare_cpu:.0f} us, Ghost {ghost_cpu:.0f} us, "
          f"CPU ratio {bare_cpu / ghost_cpu:.2f} (bare / Ghost, throughput-equivalent)")
    return 0 if lost == 0 else 1


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
