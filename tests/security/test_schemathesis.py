"""schemathesis against a real Ghost's own OpenAPI document (/api/v1/openapi.json), with the
token, every route: no answer is a 5xx.

`scripts/test` runs a few examples per operation (a couple of minutes); GHOST_FUZZ=long runs
many more (`GHOST_FUZZ=long scripts/test tests/security/test_schemathesis.py -s`).
`rotate-token` is left out: after it every later request would be a 401 and test nothing."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")
LONG = os.environ.get("GHOST_FUZZ") == "long"
EXAMPLES = 25 if LONG else 5


@pytest.mark.timeout(1800)  # about 3 minutes here (5 minutes long), more on a loaded machine
def test_schemathesis_finds_no_5xx_on_any_route(ghost, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    report = tmp_path / "report.ndjson"
    command = [
        str(SCHEMATHESIS), "run", f"{ghost.api_url}/api/v1/openapi.json",
        "--header", f"Authorization: Bearer {ghost.token}",
        "--checks", "not_a_server_error",
        "--max-examples", str(EXAMPLES),
        "--phases", "examples,coverage,fuzzing",
        "--exclude-path", "/api/v1/settings/rotate-token",
        "--workers", "1",
        "--request-timeout", "20",
        "--generation-database", "none",
        "--no-color",
        "--report", "ndjson", "--report-ndjson-path", str(report),
    ]
    run = subprocess.run(command, capture_output=True, text=True, timeout=1700, cwd=tmp_path)
    output = run.stdout + run.stderr
    events = [orjson.loads(line) for line in report.read_text().splitlines() if line.strip()]
    cases = re.search(r"(\d+) generated", output)
    operations = re.search(r"Tested: (\d+)", output)
    print(f"schemathesis: {operations.group(1) if operations else '?'} operations, "
          f"{cases.group(1) if cases else '?'} requests, {EXAMPLES} examples per operation; "
          f"exit {run.returncode} ({'no 5xx' if run.returncode == 0 else 'FAILED'})")
    assert run.returncode == 0, output[-20000:]
    assert events, output[-3000:]
    assert ghost.api("GET", "/api/v1/health").status_code == 200
