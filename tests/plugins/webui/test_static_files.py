"""The web UI's files: its pure JavaScript tested with node, and no API that turns data into
markup or code anywhere in it (traffic is hostile; the CSP backs this up in the browser)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from plugins.webui import static_files

STATIC = Path(__file__).resolve().parents[3] / "plugins" / "webui" / "static"
MARKUP_SINKS = re.compile(r"innerHTML|outerHTML|insertAdjacentHTML|document\.write|\beval\s*\(|new Function|"
                          r"setTimeout\(\s*[\"'`]")


def test_no_script_writes_markup_or_evaluates_strings() -> None:
    found = [f"{path.name}:{n}: {line.strip()}" for path in sorted(STATIC.glob("*.js"))
             for n, line in enumerate(path.read_text().splitlines(), 1) if MARKUP_SINKS.search(line) and not line.lstrip().startswith("//")]
    assert not found, "\n".join(found)


def test_every_module_the_page_imports_is_served() -> None:
    served = static_files()
    imported = {name for path in STATIC.glob("*.js")
                for name in re.findall(r'from "\./([\w.-]+)"', path.read_text())}
    assert imported and imported <= served.keys()
    assert served["main.js"][1] == "text/javascript"


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
@pytest.mark.parametrize("name", ["charts.test.mjs", "transfers.test.mjs", "sessions.test.mjs", "journeys.test.mjs"])
def test_pure_javascript_with_node(name: str) -> None:
    out = subprocess.run(["node", "--test", str(Path(__file__).with_name(name))],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "# fail 0" in out.stdout


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
@pytest.mark.parametrize("name", sorted(p.name for p in STATIC.glob("*.js")))
def test_module_parses(name: str) -> None:
    out = subprocess.run(["node", "--check", "--input-type=module"], input=(STATIC / name).read_text(),
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
