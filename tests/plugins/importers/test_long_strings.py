"""Long strings are taken out of the stream yajl reads (linear time, no loop stall)."""

import asyncio
import base64
import os
import time
from pathlib import Path

import orjson
import pytest

from ghost_addons.ids import new_id
from ghost_addons.model import Flow
from plugins.importers import longstrings
from plugins.importers.contract import InThread
from plugins.importers.engine import run_import
from plugins.importers.ghost_json import GHOST_JSON_IMPORTER
from plugins.importers.har import HAR_IMPORTER
from tests.ghost_addons.factories import make_flow
from tests.plugins.importers.test_engine import RecordingStore


def har_with(tmp_path: Path, *entries: dict) -> Path:
    path = tmp_path / "big.har"
    path.write_bytes(orjson.dumps({"log": {"version": "1.2", "entries": list(entries)}}))
    return path


def entry(text: str, encoding: str | None = None, url: str = "http://a.example/") -> dict:
    content = {"size": 0, "mimeType": "text/plain", "text": text}
    if encoding:
        content["encoding"] = encoding
    return {"request": {"method": "POST", "url": url, "headers": [],
                        "postData": {"mimeType": "application/json", "text": text}},
            "response": {"status": 200, "headers": [], "content": content}}


async def import_har(path: Path) -> list:
    store = RecordingStore()
    result = await run_import(HAR_IMPORTER, path, "S", store)
    assert result.errors == []
    return list(store.flows.values())


@pytest.mark.parametrize("size", [longstrings.SPILL_BYTES - 10, 3 * longstrings.SPILL_BYTES + 7])
async def test_long_text_with_escapes_comes_back_exactly(tmp_path: Path, size: int) -> None:
    # escaped quotes and backslashes, a surrogate pair and multi-byte UTF-8 land on every
    # cut the reader and the decoder make
    unit = 'say "hi" \\ 😀 é € \n\t'
    text = (unit * (size // len(unit) + 1))[:size]
    small = "after"
    path = har_with(tmp_path, entry(text), entry(small, url="http://b.example/" + "x" * 300_000))
    flows = await import_har(path)
    assert [f.request.body for f in flows] == [text.encode(), small.encode()]
    assert flows[0].response.body == text.encode()
    assert flows[1].request.url == "http://b.example/" + "x" * 300_000
    assert not any(p.exists() for p in longstrings.sidecars(path))


async def test_long_base64_body_is_decoded(tmp_path: Path) -> None:
    raw = os.urandom(3 * longstrings.SPILL_BYTES)
    flows = await import_har(har_with(tmp_path, entry(base64.b64encode(raw).decode(), "base64")))
    assert flows[0].response.body == raw


async def test_a_long_lone_surrogate_skips_the_entry(tmp_path: Path) -> None:
    path = tmp_path / "bad.har"
    text = b"a" * (2 * longstrings.SPILL_BYTES) + b"\\udc00"
    path.write_bytes(b'{"log": {"entries": [{"request": {"method": "GET", "url": "http://a/"},'
                     b' "response": {"status": 200, "content": {"text": "' + text + b'"}}}]}}')
    store = RecordingStore()
    result = await run_import(HAR_IMPORTER, path, "S", store)
    assert result.imported == 0 and "lone UTF-16 surrogate" in result.errors[0]


async def test_a_file_cut_inside_a_long_string_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "cut.har"
    path.write_bytes(b'{"log": {"entries": [{"request": {"url": "' + b"a" * 600_000)
    with pytest.raises(Exception, match="not complete, valid JSON"):
        await run_import(HAR_IMPORTER, path, "S", RecordingStore())


async def test_ghost_json_with_a_long_body(tmp_path: Path) -> None:
    body = "x" * (2 * longstrings.SPILL_BYTES)
    path = tmp_path / "flows.json"
    path.write_bytes(orjson.dumps([{"request": {"method": "POST", "url": "http://a/",
                                                "body": body}}]))
    store = RecordingStore()
    await run_import(GHOST_JSON_IMPORTER, path, "S", store)
    assert next(iter(store.flows.values())).request.body == body.encode()


async def _longest_wait(seconds: float) -> float:
    """The longest a 1 ms sleep took with nothing else on the loop: the machine's own noise
    (2 cores shared by many processes), which the stall budget below is added to."""
    worst, until = 0.0, time.perf_counter() + seconds
    while time.perf_counter() < until:
        started = time.perf_counter()
        await asyncio.sleep(0.001)
        worst = max(worst, time.perf_counter() - started)
    return worst


async def _timed_import(path: Path) -> tuple[float, float]:
    """(seconds, the longest the loop waited for a 1 ms sleep) while importing."""
    worst = 0.0
    done = asyncio.Event()

    async def watch() -> None:
        nonlocal worst
        while not done.is_set():
            started = time.perf_counter()
            await asyncio.sleep(0.001)
            worst = max(worst, time.perf_counter() - started)

    watcher = asyncio.create_task(watch())
    started = time.perf_counter()
    await import_har(path)
    elapsed = time.perf_counter() - started
    done.set()
    await watcher
    return elapsed, worst


async def test_one_large_body_imports_in_linear_time_without_stalling_the_loop(
        tmp_path: Path) -> None:
    # before: 8 MB took 0.7 s, 16 MB 2.2 s, 32 MB 5.5 s, each inside one C call
    times = {}
    for mb in (4, 16):
        raw = os.urandom(mb * 1024 * 1024 * 3 // 4)
        path = har_with(tmp_path, entry(base64.b64encode(raw).decode(), "base64"))
        elapsed, worst = await _timed_import(path)
        noise = await _longest_wait(elapsed)
        times[mb] = elapsed
        assert worst < 0.1 + noise, f"{mb} MB: the loop waited {worst * 1000:.0f} ms " \
                                    f"(noise {noise * 1000:.0f} ms)"
    assert times[16] < 4 * times[4] * 2, times  # linear, with room for a busy machine


def test_the_copy_of_a_long_body_is_a_step_off_the_loop(tmp_path: Path) -> None:
    # the engine runs InThread steps in a worker thread; a plain iteration gets the body too
    raw = os.urandom(600_000)
    path = har_with(tmp_path, entry(base64.b64encode(raw).decode(), "base64"))
    list(HAR_IMPORTER.scan(path))
    items = list(HAR_IMPORTER.entries(path))
    assert sum(isinstance(item, InThread) for item in items) == 2  # the request's body, the response's
    (flow,) = [item for item in items if isinstance(item, Flow)]
    assert flow.response is not None and flow.response.body == raw
    assert flow.request.body == base64.b64encode(raw)  # its postData does not say base64


def test_a_long_ghost_json_body_is_decoded_in_pieces_and_copied_off_the_loop(tmp_path: Path) -> None:
    """As for HAR: the final copy of each long body is an InThread step, and the body comes
    back byte for byte (base64 for the binary one, text for the other)."""
    raw, text = os.urandom(600_000), "é" * 300_000
    flow = make_flow(new_id(), method="POST", url="http://app.test/upload", body=text.encode(),
                     response_body=raw, content_type="application/octet-stream")
    flow.request.headers = [("Content-Type", "text/plain; charset=utf-8")]
    path = tmp_path / "flows.json"
    path.write_bytes(orjson.dumps([flow.to_dict()]))
    list(GHOST_JSON_IMPORTER.scan(path))
    items = list(GHOST_JSON_IMPORTER.entries(path))
    assert sum(isinstance(item, InThread) for item in items) == 2
    (imported,) = [item for item in items if isinstance(item, Flow)]
    assert imported.request.body == text.encode() and imported.response is not None
    assert imported.response.body == raw
