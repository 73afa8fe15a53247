"""Benchmark: Ghost capturing (all built-in plugins loaded) vs bare `mitmdump -q`.

Same machine, same run, same local target, keep-alive HTTP, 16 concurrent connections
(wrk). Both proxies run side by side for the whole run, warmed up, and are measured in
alternating rounds: bare then Ghost, Ghost then bare, and so on, so drift on the machine
(which on a shared 2-core VM moves a proxy's throughput by 10-20% from one round to the
next) hits both alike instead of always hitting whichever runs second. The medians over
the rounds are compared. Then the stored rows are counted: every request must be stored.

Two figures per round: throughput (requests/s, what a client sees) and each proxy
process's CPU time per request (from /proc; Ghost's up to its store queue drained, all its
threads). Both ratios are printed: throughput (Ghost / bare), the issue's figure, and CPU
(bare CPU per request / Ghost CPU per request, the throughput ratio a CPU-bound proxy
would reach). Ghost's flow writer process is reported apart (it runs on another core).

    .venv/bin/python scripts/bench_core.py [--seconds 5] [--rounds 16] [--scan]

`--scan` turns the passive security scanner on for every host (`security.target_hosts: ["*"]`),
so its cost is in Ghost's figures too.

Exit status: 0 when no stored rows are missing, 1 when some are, 2 when wrk is missing.
"""

from __future__ import annotations

import argparse
import os
import sys

from benchlib import STORE_EVERY_FLOW, BareMitmdump, GhostUnderTest, ab_rounds, bench_run, median_of, require_wrk

TOKEN = "bench-token"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=5.0, help="length of one measured round")
    parser.add_argument("--rounds", type=int, default=16, help="rounds (each measures both proxies)")
    parser.add_argument("--body", type=int, default=2048, help="response body bytes")
    parser.add_argument("--scan", action="store_true", help="the security scanner on, for every host")
    args = parser.parse_args()
    config = STORE_EVERY_FLOW + ('security:\n  target_hosts: ["*"]\n' if args.scan else "")
    if not require_wrk():
        return 2
    with bench_run("ghost-bench-", "/bench", b"x" * args.body) as (workdir, target):
        bare = BareMitmdump(workdir)
        ghost: GhostUnderTest | None = None
        try:
            ghost = GhostUnderTest(workdir / "ghost-home", TOKEN, config=config)
            proxies = {"bare": bare, "ghost": ghost}
            rounds = []
            for round_no, measured in enumerate(ab_rounds(proxies, args.rounds, target, args.seconds, workdir), 1):
                rounds.append(measured)
                b, g = measured["bare"], measured["ghost"]
                print(f"round {round_no} ({'bare first' if round_no % 2 else 'Ghost first'}): "
                      f"bare {b.rps:.0f} req/s, Ghost {g.rps:.0f} req/s ({g.rps / b.rps:.2f}); "
                      f"CPU/req bare {b.cpu_us:.0f} us, Ghost {g.cpu_us:.0f} us "
                      f"(+ its flow writer process {g.workers_us:.0f} us)", flush=True)
            answered = ghost.answered
            rows = ghost.stored_rows(answered)
        finally:
            bare.stop()
            if ghost is not None:
                ghost.stop()
    lost = max(0, answered - rows)
    bare_rps, ghost_rps = median_of(rounds, "bare", "rps"), median_of(rounds, "ghost", "rps")
    bare_cpu, ghost_cpu = median_of(rounds, "bare", "cpu_us"), median_of(rounds, "ghost", "cpu_us")
    print(f"core capture: bare mitmdump {bare_rps:.0f} req/s, Ghost {ghost_rps:.0f} req/s, "
          f"ratio {ghost_rps / bare_rps:.2f} (target >= 0.90){'; scanner on for every host' if args.scan else ''}; stored {rows} of {answered} answered, "
          f"rows missing: {lost}")
    print(f"core capture, CPU per request: bare mitmdump {bare_cpu:.0f} us, Ghost {ghost_cpu:.0f} us, "
          f"CPU ratio {bare_cpu / ghost_cpu:.2f} (bare / Ghost, throughput-equivalent)")
    return 0 if lost == 0 else 1


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
