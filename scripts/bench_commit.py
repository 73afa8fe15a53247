"""Benchmark: what `store.answer_after_commit` costs. Two Ghosts side by side, one with the
setting off (the default: a response goes out as soon as its flow is queued) and one with it
on (a response waits until its flow's row is committed), measured in alternating rounds as
in `bench_core.py` (keep-alive HTTP, 16 connections, wrk). Prints the throughput ratio
(on / off) and the CPU per request of each; then checks that every request was stored.

    .venv/bin/python scripts/bench_commit.py [--seconds 5] [--rounds 6]

Exit status: 0 when no stored rows are missing, 1 when some are, 2 when wrk is missing.
"""

from __future__ import annotations

import argparse
import os
import sys

from benchlib import STORE_EVERY_FLOW, GhostUnderTest, ab_rounds, bench_run, median_of, require_wrk

TOKEN = "bench-token"
COMMIT_FIRST = STORE_EVERY_FLOW + "store:\n  answer_after_commit: true\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=5.0, help="length of one measured round")
    parser.add_argument("--rounds", type=int, default=6, help="rounds (each measures both Ghosts)")
    parser.add_argument("--body", type=int, default=2048, help="response body bytes")
    args = parser.parse_args()
    if not require_wrk():
        return 2
    with bench_run("ghost-bench-commit-", "/bench", b"x" * args.body) as (workdir, target):
        ghosts: dict[str, GhostUnderTest] = {}
        try:
            ghosts["off"] = GhostUnderTest(workdir / "off", TOKEN)
            ghosts["on"] = GhostUnderTest(workdir / "on", TOKEN, config=COMMIT_FIRST)
            rounds = []
            for round_no, measured in enumerate(ab_rounds(ghosts, args.rounds, target, args.seconds, workdir), 1):
                rounds.append(measured)
                off, on = measured["off"], measured["on"]
                print(f"round {round_no}: answer_after_commit off {off.rps:.0f} req/s, on {on.rps:.0f} req/s "
                      f"({on.rps / off.rps:.2f}); CPU/req off {off.cpu_us:.0f} us, on {on.cpu_us:.0f} us", flush=True)
            missing = {name: max(0, g.answered - g.stored_rows(g.answered)) for name, g in ghosts.items()}
        finally:
            for ghost in ghosts.values():
                ghost.stop()
    off_rps, on_rps = median_of(rounds, "off", "rps"), median_of(rounds, "on", "rps")
    off_cpu, on_cpu = median_of(rounds, "off", "cpu_us"), median_of(rounds, "on", "cpu_us")
    print(f"store.answer_after_commit: off {off_rps:.0f} req/s, on {on_rps:.0f} req/s, ratio {on_rps / off_rps:.2f}; "
          f"CPU per request off {off_cpu:.0f} us, on {on_cpu:.0f} us; rows missing: off {missing['off']}, "
          f"on {missing['on']}")
    return 0 if not any(missing.values()) else 1


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
