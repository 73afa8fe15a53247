"""Shared by the export, import and compose end-to-end tests (no tests here): a captured
session of real traffic, and the npm tools the exports are checked with."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from tests.support.ghostproc import REPO, GhostProcess
from tests.support.ports import free_port
from tests.support.target import Target

NODE_DIR = REPO / "tests" / "node"
FORMULA_TAG = "=HYPERLINK(\"http://evil.test\",\"x\")"


def ensure_node_tools() -> Path:
    """tests/node/node_modules with newman and har-validator (npm ci when missing)."""
    modules = NODE_DIR / "node_modules"
    if not (modules / "newman").is_dir() or not (modules / "har-validator").is_dir():
        npm = shutil.which("npm")
        assert npm, "npm is needed for the export tests (newman, har-validator)"
        subprocess.run([npm, "ci", "--prefix", str(NODE_DIR), "--no-audit", "--no-fund"],
                       check=True, timeout=300, capture_output=True)
    return modules


@dataclass
class Captured:
    ghost: GhostProcess
    target: Target
    session_id: str
    flows: list[dict[str, Any]]  # full flows (GET /api/v1/flows/{id}), oldest first

    def by_path(self, path: str, method: str = "GET") -> dict[str, Any]:
        for flow in self.flows:
            if flow["request"]["path"] == path and flow["request"]["method"] == method:
                return flow
        raise KeyError(f"{method} {path}")


def capture_session(ghost: GhostProcess, target: Target) -> Captured:
    """Real traffic through the proxy: JSON API, form post, JSON post, binary image,
    redirect, 404, 500, gzip, HTTPS, and a refused connection."""
    refused = f"http://127.0.0.1:{free_port()}/nothing-here"
    with ghost.client(follow_redirects=False) as client:
        client.get(f"{target.http_url}/json", headers={"Accept": "application/json"})
        client.post(f"{target.http_url}/echo/form", data={"user": "alice", "note": "a b&c=d"})
        client.post(f"{target.http_url}/echo/api?x=1&y=two", json={"name": "Zoë", "n": [1, 2]},
                    headers={"X-Custom": "it's \"quoted\"", "Authorization": "Bearer t0k3n"})
        client.get(f"{target.http_url}/image.png")
        client.get(f"{target.http_url}/redirect")
        client.get(f"{target.http_url}/status/404")
        client.get(f"{target.http_url}/status/500")
        client.get(f"{target.http_url}/gzip", headers={"Accept-Encoding": "gzip"})
        client.get(f"{target.https_url}/json")
        try:
            client.get(refused)
        except httpx.HTTPError:
            pass
    summaries = ghost.wait_flows(10)
    deadline = time.monotonic() + 10
    while len(summaries) < 10 and time.monotonic() < deadline:
        summaries = ghost.flows()
    summaries.sort(key=lambda f: f["id"])
    flows = [ghost.api("GET", f"/api/v1/flows/{s['id']}").json() for s in summaries]
    tagged = next(f for f in flows if f["request"]["path"] == "/status/500")
    r = ghost.api("PATCH", f"/api/v1/flows/{tagged['id']}", json={"tags": [FORMULA_TAG, "error"]})
    assert r.status_code == 200, r.text
    tagged["tags"] = [FORMULA_TAG, "error"]
    return Captured(ghost, target, summaries[0]["session_id"], flows)


def export(ghost: GhostProcess, session_id: str, fmt: str, directory: Path) -> tuple[Path, httpx.Response]:
    r = ghost.api("GET", f"/api/v1/sessions/{session_id}/export/{fmt}")
    assert r.status_code == 200, r.text
    path = directory / f"export.{ {'report': 'html', 'postman': 'postman.json'}.get(fmt, fmt)}"
    path.write_bytes(r.content)
    return path, r


def node(script: str, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["node", "-e", script, *args], capture_output=True, text=True,
                          timeout=timeout, cwd=NODE_DIR)


def har_validator(path: Path) -> subprocess.CompletedProcess[str]:
    script = """
const validator = require('har-validator');
const data = JSON.parse(require('fs').readFileSync(process.argv[1], 'utf8'));
validator.har(data).then(() => console.log('valid')).catch(e => {
  console.error(JSON.stringify(e.errors || e.message)); process.exit(1); });
"""
    return node(script, str(path))


def json_of(text: str) -> Any:
    return json.loads(text)
