"""Checks exported Cypress files without Cypress (its binary cannot be downloaded here): every
file parses with the TypeScript compiler API and passes ESLint with eslint-plugin-cypress's
recommended rules (tests/node/check_cypress.mjs). Generic over files, so the cypress-api
export and the cypress-ui multi-file export use the same check.

`run_cypress_api(path)` runs a cypress-api export against a live app with
tests/node/run_cypress_api.mjs, which implements the commands that export uses with
Cypress's queueing semantics (arguments are taken when a command is queued).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from tests.support.captured_session import NODE_DIR

CHECKER = NODE_DIR / "check_cypress.mjs"
API_RUNNER = NODE_DIR / "run_cypress_api.mjs"
NEEDED = ("typescript", "eslint", "eslint-plugin-cypress", "@eslint/js", "chai")
FILE_SEPARATOR = re.compile(r"^// ===== File: (?P<path>.+?) =====$", re.M)


@dataclass(frozen=True)
class Problem:
    file: str
    line: int
    column: int
    rule: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column} {self.rule}: {self.message}"


def node_modules() -> Path:
    """tests/node/node_modules with the checker's packages (npm ci when one is missing)."""
    modules = NODE_DIR / "node_modules"
    if not all((modules / name / "package.json").is_file() for name in NEEDED):
        npm = shutil.which("npm")
        assert npm, "npm is needed to check Cypress exports (typescript, eslint, eslint-plugin-cypress)"
        subprocess.run([npm, "ci", "--prefix", str(NODE_DIR), "--no-audit", "--no-fund"],
                       check=True, timeout=300, capture_output=True)
    return modules


def write_export(text: str, folder: Path, single_name: str) -> list[Path]:
    """An export's files under `folder`: the `// ===== File: <path> =====` parts of a
    multi-file export, or the whole text as `single_name`."""
    folder.mkdir(parents=True, exist_ok=True)
    marks = list(FILE_SEPARATOR.finditer(text))
    if not marks:
        path = folder / single_name
        path.write_text(text)
        return [path]
    paths = []
    for mark, following in zip(marks, [*marks[1:], None], strict=True):
        relative = Path(mark.group("path"))
        assert not relative.is_absolute() and ".." not in relative.parts, relative
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text[mark.end():following.start() if following else len(text)].strip("\n") + "\n")
        paths.append(path)
    return paths


def check_cypress_files(paths: list[Path], timeout: float = 120) -> list[Problem]:
    """Every parse error and ESLint problem (eslint:recommended + cypress/recommended) of
    the files; an empty list when all pass."""
    assert paths, "no files to check"
    node = shutil.which("node")
    assert node, "node is needed to check Cypress exports"
    node_modules()
    result = subprocess.run([node, str(CHECKER), *map(str, paths)], capture_output=True, text=True,
                            timeout=timeout, cwd=NODE_DIR)
    if result.returncode not in (0, 1):
        raise AssertionError(f"check_cypress.mjs failed ({result.returncode}): {result.stderr[-2000:]}")
    report = json.loads(result.stdout)
    assert report["files"] == len(paths)
    return [Problem(**p) for p in report["problems"]]


def run_cypress_api(path: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run a cypress-api export's tests against the app its BASE_URL names."""
    node = shutil.which("node")
    assert node, "node is needed to run Cypress API exports"
    node_modules()
    return subprocess.run([node, str(API_RUNNER), str(path)], capture_output=True, text=True, timeout=timeout,
                          cwd=NODE_DIR)
