"""The import engine against a store double that records what reached it."""

import asyncio
import gc
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import orjson
import pytest
from ulid import ULID

from ghost_addons.model import Flow
from plugins.exporters.har import har_document
from plugins.importers.contract import MAX_IMPORT_ERRORS, ImportRejected
from plugins.importers.engine import ImportCancelled, run_import
from plugins.importers.ghost_json import GHOST_JSON_IMPORTER
from plugins.importers.har import HAR_IMPORTER
from tests.plugins.exporters.flows import make_flow, sample_session


class RecordingStore:
    """Keeps flows in a dict the way the flows table would; can refuse one flow id."""

    def __init__(self, refuse_url: str = "") -> None:
        self.flows: dict[str, Flow] = {}
        self.batches = 0
        self.refuse_url = refuse_url

    async def add_flows(self, flows: list[Flow]) -> None:
        await asyncio.sleep(0)
        if any(f.request.url == self.refuse_url for f in flows):
            raise RuntimeError("UNIQUE constraint failed")
        self.batches += 1
        for flow in flows:
            self.flows[flow.id] = flow

    async def write(self, fn: Any, *args: Any) -> Any:
        class Conn:
            def execute(inner, sql: str, ids: list[str]) -> None:  # noqa: N805
                assert sql.startswith("DELETE FROM flows WHERE id IN")
                for flow_id in ids:
                    self.flows.pop(flow_id, None)
        return fn(Conn(), *args)


def har_file(tmp_path: Path, flows: Iterable[Flow], name: str = "in.har") -> Path:
    path = tmp_path / name
    path.write_bytes(b"".join(har_document(flows)))
    return path


async def test_every_flow_gets_a_fresh_ulid_session_and_source(tmp_path: Path) -> None:
    store = RecordingStore()
    result = await run_import(HAR_IMPORTER, har_file(tmp_path, sample_session()), "SESSION", store)
    assert result.to_dict() == {"imported": 6, "skipped": 0, "errors": []}
    originals = {f.id for f in sample_session()}
    for flow in store.flows.values():
        assert flow.id not in originals
        ULID.from_str(flow.id)
        assert flow.session_id == "SESSION"
        assert flow.source == "import"
        assert flow.metadata["import_source"] == "har"


async def test_json_import_keeps_tags_and_marks_source(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    path.write_bytes(orjson.dumps([f.to_dict() for f in sample_session()]))
    store = RecordingStore()
    await run_import(GHOST_JSON_IMPORTER, path, "S2", store)
    flows = sorted(store.flows.values(), key=lambda f: f.request.url)
    assert any(f.tags == ["api"] for f in flows)
    assert all(f.metadata["import_source"] == "json" and f.source == "import" for f in flows)


async def test_bad_entry_among_good_ones(tmp_path: Path) -> None:
    doc = orjson.loads(b"".join(har_document(sample_session())))
    doc["log"]["entries"].insert(2, {"request": {"method": "GET", "url": "::nope::"}})
    path = tmp_path / "mixed.har"
    path.write_bytes(orjson.dumps(doc))
    store = RecordingStore()
    result = await run_import(HAR_IMPORTER, path, "S", store)
    assert result.imported == 6 and result.skipped == 1
    assert result.errors == ["entry 2: invalid URL '::nope::'"]


async def test_a_flow_the_store_refuses_is_skipped_the_rest_kept(tmp_path: Path) -> None:
    flows = sample_session()
    store = RecordingStore(refuse_url=flows[1].request.url)
    result = await run_import(HAR_IMPORTER, har_file(tmp_path, flows), "S", store)
    assert result.imported == 5 and result.skipped == 1
    assert result.errors[0].startswith("entry 1: not stored: UNIQUE constraint failed")


async def test_errors_are_capped_at_100(tmp_path: Path) -> None:
    path = tmp_path / "bad.har"
    path.write_bytes(orjson.dumps({"log": {"entries": [{"request": {}}] * 150}}))
    result = await run_import(HAR_IMPORTER, path, "S", RecordingStore())
    assert result.skipped == 150 and len(result.errors) == MAX_IMPORT_ERRORS


async def test_truncated_file_writes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "cut.har"
    path.write_bytes(b"".join(har_document(sample_session() * 100))[:-500])
    store = RecordingStore()
    with pytest.raises(ImportRejected, match="truncated"):
        await run_import(HAR_IMPORTER, path, "S", store)
    assert store.flows == {} and store.batches == 0


async def test_cancellation_removes_what_was_stored(tmp_path: Path) -> None:
    path = har_file(tmp_path, sample_session() * 200)
    store = RecordingStore()
    seen = {"n": 0}

    def cancelled() -> bool:
        seen["n"] += 1
        return store.batches >= 2

    with pytest.raises(ImportCancelled):
        await run_import(HAR_IMPORTER, path, "S", store, cancelled=cancelled)
    assert store.batches >= 2
    assert store.flows == {}


class CountingStore(RecordingStore):
    """Keeps ids only, as the database does: holding 20,000 flow objects in the test would
    make every full garbage collection walk them and measure the test, not the engine."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: list[str] = []

    async def add_flows(self, flows: list[Flow]) -> None:
        await asyncio.sleep(0)
        self.ids.extend(f.id for f in flows)


def big_har(tmp_path: Path, count: int) -> Path:
    body = b'{"k": "' + b"x" * 2000 + b'"}'
    return har_file(tmp_path, (make_flow(url=f"https://h/items/{i}", response_headers=[
        ("Content-Type", "application/json")], response_body=body) for i in range(count)))


async def test_event_loop_keeps_running_during_a_large_import(tmp_path: Path) -> None:
    path = big_har(tmp_path, 20_000)
    longest = 0.0
    done = asyncio.Event()

    gc_seconds = 0.0
    gc_started = 0.0

    def on_gc(phase: str, info: dict) -> None:
        # The interpreter's own collections (their length grows with everything the test
        # process holds) are not the importer's doing: count them apart.
        nonlocal gc_seconds, gc_started
        if phase == "start":
            gc_started = time.thread_time()
        else:
            gc_seconds += time.thread_time() - gc_started

    async def ping() -> None:
        # The loop thread's CPU time between two wake-ups is the work that ran in between
        # without yielding; unlike wall time it does not count the OS running other
        # processes (this machine may be busy with other test runs).
        nonlocal longest
        last, last_gc = time.thread_time(), gc_seconds
        while not done.is_set():
            await asyncio.sleep(0.005)
            now = time.thread_time()
            longest = max(longest, (now - last) - (gc_seconds - last_gc))
            last, last_gc = now, gc_seconds

    gc.callbacks.append(on_gc)
    try:
        pinger = asyncio.create_task(ping())
        store = CountingStore()
        result = await run_import(HAR_IMPORTER, path, "S", store)
        done.set()
        await pinger
    finally:
        gc.callbacks.remove(on_gc)
    assert result.imported == 20_000 == len(store.ids)
    assert longest < 0.1, f"event loop held for {longest * 1000:.0f} ms of CPU"
