"""The pure parts of `scripts/bench addons`: both ratios with their rounds' spread, and the
addon workers' CPU told apart from the flow writer's."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "scripts"))

import bench_addons  # noqa: E402
from benchlib import ADDON_WORKER_SCRIPT, Round, children_cpu_seconds  # noqa: E402


def test_summary_gives_both_ratios_as_medians_with_each_rounds_spread() -> None:
    rounds = [
        {"none": Round(100, 500, 2000, 150, 0), "addons": Round(95, 475, 2100, 500, 350)},
        {"none": Round(110, 550, 2100, 160, 0), "addons": Round(90, 450, 2400, 520, 360)},
        {"none": Round(90, 450, 2200, 170, 0), "addons": Round(99, 495, 2200, 530, 370)},
    ]
    summary = bench_addons.summarize(rounds)
    assert (summary.base_rps, summary.addons_rps) == (100, 95)
    assert summary.throughput_ratio == 0.95
    assert summary.throughput_spread == "0.818-1.100"
    assert (summary.base_cpu, summary.addons_cpu) == (2100, 2200)
    assert round(summary.cpu_ratio, 4) == round(2200 / 2100, 4)
    assert summary.cpu_spread == "1.000-1.143"
    assert summary.js_workers == 360
    assert (summary.base_total, summary.addons_total) == (2260, 2730)  # proxy + all its children


def test_children_cpu_counts_only_the_children_asked_for() -> None:
    marked = subprocess.Popen([sys.executable, "-c", "import time\nend = time.process_time() + 0.3\n"
                               "while time.process_time() < end: pass\ntime.sleep(30)", ADDON_WORKER_SCRIPT])
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        deadline = time.monotonic() + 30
        marked_cpu = 0.0
        while marked_cpu < 0.25 and time.monotonic() < deadline:
            time.sleep(0.05)
            marked_cpu = children_cpu_seconds(os.getpid(), only=ADDON_WORKER_SCRIPT)
        assert marked_cpu >= 0.25
        assert children_cpu_seconds(os.getpid(), only="no such command line") == 0.0
        assert children_cpu_seconds(os.getpid()) >= marked_cpu
    finally:
        for proc in (marked, other):
            proc.kill()
            proc.wait(10)
