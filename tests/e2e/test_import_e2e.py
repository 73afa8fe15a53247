"""Bad and good input to the import routes of a real Ghost: clear 4xx or a partial import
with errors, never a 500, never a half-written session."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import aiohttp
import httpx
import orjson
import pytest

from tests.support.captured_session import Captured, capture_session
from tests.support.ghostproc import GhostProcess
from tests.support.target import PNG_BYTES, Target

MB = 1024 * 1024


@pytest.fixture(scope="module")
def captured(tmp_path_factory: pytest.TempPathFactory, target_server: Target) -> Iterator[Captured]:
    target_server.reset()
    ghost = GhostProcess(tmp_path_factory.mktemp("import") / "home").start()
    try:
        yield capture_session(ghost, target_server)
    finally:
        ghost.stop()


@pytest.fixture(scope="module")
def har(captured: Captured) -> bytes:
    r = captured.ghost.api("GET", f"/api/v1/sessions/{captured.session_id}/export/har")
    assert r.status_code == 200
    return r.content


def new_session(ghost: GhostProcess, name: str = "import target") -> str:
    r = ghost.api("POST", "/api/v1/sessions", json={"name": name})
    assert r.status_code == 201, r.text
    return r.json()["id"]


def count(ghost: GhostProcess, session_id: str) -> int:
    return len(ghost.flows(session_id=session_id))


def post(ghost: GhostProcess, session_id: str, fmt: str, **kwargs: Any) -> httpx.Response:
    return ghost.api("POST", f"/api/v1/sessions/{session_id}/import/{fmt}", **kwargs)


def test_truncated_har_is_400_and_writes_nothing(captured: Captured, har: bytes) -> None:
    session = new_session(captured.ghost)
    r = post(captured.ghost, session, "har", content=har[: len(har) // 2])
    assert r.status_code == 400
    assert "truncated" in r.json()["error"]
    assert count(captured.ghost, session) == 0


def test_bad_entry_among_good_ones_imports_the_good_ones(captured: Captured, har: bytes) -> None:
    doc = json.loads(har)
    doc["log"]["entries"].insert(3, {"startedDateTime": "x", "request": {"method": "GET",
                                                                        "url": "not a url"}})
    session = new_session(captured.ghost)
    r = post(captured.ghost, session, "har", files={"file": ("mixed.har", orjson.dumps(doc))})
    assert r.status_code == 200
    assert r.json() == {"imported": 10, "skipped": 1, "errors": ["entry 3: invalid URL 'not a url'"]}
    assert count(captured.ghost, session) == 10


def test_har_posted_to_the_json_import_says_so(captured: Captured, har: bytes) -> None:
    session = new_session(captured.ghost)
    r = post(captured.ghost, session, "json", content=har)
    assert r.status_code == 400
    assert r.json()["error"] == "this looks like a HAR file — use the /import/har endpoint instead"
    r = post(captured.ghost, session, "json", content=b'{"flows": []}')
    assert r.status_code == 400
    assert "expected an array of flow objects (starts with [)" in r.json()["error"]
    assert count(captured.ghost, session) == 0


def test_binary_file_is_400(captured: Captured) -> None:
    session = new_session(captured.ghost)
    for fmt in ("har", "json"):
        r = post(captured.ghost, session, fmt, files={"file": ("logo.png", PNG_BYTES * 50, "image/png")})
        assert r.status_code == 400, r.text
        assert r.json()["error"]
    assert count(captured.ghost, session) == 0


def test_empty_missing_session_unknown_format(captured: Captured) -> None:
    session = new_session(captured.ghost)
    r = post(captured.ghost, session, "har", content=b"")
    assert r.status_code == 400 and "empty" in r.json()["error"]
    r = post(captured.ghost, "01HWNOSUCHSESSION000000000", "har", content=b"{}")
    assert r.status_code == 404
    r = post(captured.ghost, session, "saz", content=b"{}")
    assert r.status_code == 400 and "har" in r.json()["error"]
    r = post(captured.ghost, session, "har", files={"other": ("a.har", b"{}")})
    assert r.status_code == 400 and "'file'" in r.json()["error"]
    r = post(captured.ghost, session, "har", content=b'{"log": {"entries": []}}')
    assert r.status_code == 200 and r.json() == {"imported": 0, "skipped": 0, "errors": []}


def test_300_mb_upload_is_413(captured: Captured) -> None:
    session = new_session(captured.ghost)

    def chunks() -> Iterator[bytes]:
        block = b" " * MB
        for _ in range(300):
            yield block

    try:
        r = post(captured.ghost, session, "har", content=chunks(), timeout=120)
        status, text = r.status_code, r.text
    except httpx.HTTPError as exc:  # the server may close before the client finishes sending
        pytest.fail(f"no answer to a 300 MB upload: {exc!r}")
    assert status == 413, text
    assert "256 MB" in json.loads(text)["error"]
    assert captured.ghost.api("GET", "/api/v1/health").status_code == 200
    assert count(captured.ghost, session) == 0


def test_every_imported_flow_is_announced(captured: Captured, har: bytes) -> None:
    ghost = captured.ghost
    session = new_session(ghost)

    async def watch() -> list[dict[str, Any]]:
        seen: list[dict[str, Any]] = []
        async with aiohttp.ClientSession() as client:
            async with client.ws_connect(f"{ghost.api_url}/api/v1/ws?token={ghost.token}") as ws:
                await asyncio.sleep(0.2)
                r = await asyncio.to_thread(post, ghost, session, "har", content=har)
                assert r.status_code == 200
                while len(seen) < 10:
                    msg = await asyncio.wait_for(ws.receive_json(), 10)
                    if msg["type"] == "flow.created" and msg["data"]["session_id"] == session:
                        seen.append(msg["data"])
        return seen

    created = asyncio.run(watch())
    assert len(created) == 10
    assert all(f["source"] == "import" for f in created)
    assert len({f["id"] for f in created}) == 10


def test_uploads_left_by_a_killed_import_are_removed_at_start(ghost_factory, tmp_path) -> None:  # type: ignore[no-untyped-def]
    home = tmp_path / "home-stale"
    (home / "tmp").mkdir(parents=True)
    stale = home / "tmp" / "import-abc123.har"
    stale.write_bytes(b'{"log": {"entries": [')
    keep = home / "tmp" / "other-file"
    keep.write_bytes(b"x")
    ghost_factory(home=home)
    assert not stale.exists()
    assert keep.exists()


def peak_rss_mb(pid: int) -> float:
    status = open(f"/proc/{pid}/status").read()
    return int(status.split("VmHWM:")[1].split()[0]) / 1024


@pytest.mark.parametrize("fmt,doc", [
    ("har", b'{"log": {"entries": [' + b"[" * 100_000 + b"]" * 100_000 + b"]}}"),
    ("json", b"[" * 100_000 + b"]" * 100_000),
])
def test_100000_nested_brackets_are_a_400_in_flat_memory(ghost, fmt: str, doc: bytes) -> None:  # type: ignore[no-untyped-def]
    # before: memory quadratic in the depth (a 200 KB HAR reached 23.8 GB, the OOM killer
    # ended Ghost)
    session = new_session(ghost)
    before = peak_rss_mb(ghost.proc.pid)
    r = post(ghost, session, fmt, content=doc)
    assert r.status_code == 400
    assert r.json()["error"].startswith("the file nests JSON deeper than 100 levels")
    growth = peak_rss_mb(ghost.proc.pid) - before
    print(f"{fmt}: peak RSS grew {growth:.1f} MB")
    assert growth < 100
    assert count(ghost, session) == 0
    assert ghost.api("GET", "/api/v1/health").status_code == 200
