"""Hostile import files: nesting, item size, numbers and strings yajl cannot hold.

Each case is a real file read by the real importers; none may crash, eat memory or fail
the whole import for one bad entry."""

from __future__ import annotations

import io
import random
import re
import resource
import time
from pathlib import Path

import orjson
import pytest

from plugins.importers.contract import ImportRejected
from plugins.importers.engine import run_import
from plugins.importers.ghost_json import GHOST_JSON_IMPORTER
from plugins.importers.har import HAR_IMPORTER
from plugins.importers.jsonstream import (
    EVENTS_PER_YIELD,
    MAX_DEPTH,
    MAX_ITEM_VALUES,
    _NeedsSlowParser,
    _SurrogateGuard,
)
from tests.plugins.importers.test_engine import RecordingStore

GOOD = (b'{"startedDateTime": "2026-03-08T14:30:22.123Z", "time": 5, '
        b'"request": {"method": "GET", "url": "https://a.example/x", "headers": []}, '
        b'"response": {"status": 200, "headers": [], "content": {"text": "ok"}}}')


def har(tmp_path: Path, *entries: bytes) -> Path:
    path = tmp_path / "in.har"
    path.write_bytes(b'{"log": {"version": "1.2", "entries": [' + b",".join(entries) + b"]}}")
    return path


def max_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@pytest.mark.parametrize("importer,doc", [
    (HAR_IMPORTER, b'{"log": {"entries": [' + b"[" * 100_000 + b"]" * 100_000 + b"]}}"),
    (HAR_IMPORTER, b'{"log": {"entries": [' + b"[" * 100_000),  # and truncated
    (HAR_IMPORTER, b'{"x": ' + b"[" * 100_000 + b"]" * 100_000 + b', "log": {"entries": []}}'),
    (GHOST_JSON_IMPORTER, b"[" * 100_000 + b"]" * 100_000),
])
def test_100000_nested_brackets_are_refused_in_flat_memory(tmp_path: Path, importer, doc) -> None:  # type: ignore[no-untyped-def]
    # before: ijson's prefixes made this 23.8 GB (200 KB file) and the OOM killer ended Ghost
    path = tmp_path / "deep"
    path.write_bytes(doc)
    before, started = max_rss_mb(), time.perf_counter()
    with pytest.raises(ImportRejected, match=f"deeper than {MAX_DEPTH} levels") as info:
        list(importer.scan(path))
    assert info.value.status == 400
    assert max_rss_mb() - before < 50
    assert time.perf_counter() - started < 2


def test_depth_at_the_limit_is_fine_one_more_is_not(tmp_path: Path) -> None:
    # {"log": {"entries": [ {... "x": [[...]]} ]}}: 4 levels before the nested lists
    def doc(lists: int) -> bytes:
        return GOOD[:-1] + b', "_x": ' + b"[" * lists + b"]" * lists + b"}"
    assert list(HAR_IMPORTER.scan(har(tmp_path, doc(MAX_DEPTH - 4))))[-1] == 1
    assert len([item for item in HAR_IMPORTER.entries(har(tmp_path, doc(MAX_DEPTH - 4))) if item is not None]) == 1
    with pytest.raises(ImportRejected, match="deeper than"):
        list(HAR_IMPORTER.scan(har(tmp_path, doc(MAX_DEPTH - 3))))


def test_an_entry_of_too_many_values_is_refused(tmp_path: Path) -> None:
    huge = GOOD[:-1] + b', "_x": [' + b",".join([b"0"] * MAX_ITEM_VALUES) + b"]}"
    with pytest.raises(ImportRejected, match=f"entry 1 holds more than {MAX_ITEM_VALUES:,}"):
        list(HAR_IMPORTER.scan(har(tmp_path, GOOD, huge)))


def test_the_scan_hands_the_loop_back_inside_one_huge_entry(tmp_path: Path) -> None:
    big = GOOD[:-1] + b', "_x": [' + b",".join([b"0"] * (MAX_ITEM_VALUES - 100)) + b"]}"
    progress = list(HAR_IMPORTER.scan(har(tmp_path, big)))
    assert len(progress) >= MAX_ITEM_VALUES // EVENTS_PER_YIELD
    assert progress[-1] == 1


async def test_a_400_digit_time_skips_only_that_entry(tmp_path: Path) -> None:
    # before: yajl's "integer overflow" failed the whole import
    bad = GOOD.replace(b'"time": 5', b'"time": ' + b"9" * 400)
    huge_float = GOOD.replace(b'"time": 5', b'"time": 1' + b"0" * 400 + b".5")
    timing = GOOD[:-1] + b', "timings": {"wait": ' + b"9" * 30 + b"}}"
    path = har(tmp_path, GOOD, bad, huge_float, timing, GOOD)
    assert list(HAR_IMPORTER.scan(path))[-1] == 5
    store = RecordingStore()
    result = await run_import(HAR_IMPORTER, path, "S", store)
    assert result.imported == 2
    assert result.skipped == 3
    assert re.fullmatch(r"entry 1: time 9{20}\.\.\. \(400 characters\) is out of range .*",
                        result.errors[0])
    assert result.errors[1].startswith("entry 2: time ")
    assert result.errors[2].startswith("entry 3: timings.wait ")


async def test_lone_surrogates_skip_the_entry_with_a_reason(tmp_path: Path) -> None:
    # before: "\udc00" raised UnicodeDecodeError out of the parser (a 500) and "\ud800"
    # was silently stored as "?"
    high = GOOD.replace(b"a.example/x", b"a.example/\\ud800")
    low = GOOD.replace(b'"headers": []', b'"headers": [{"name": "x", "value": "a\\udc00"}]', 1)
    body = GOOD.replace(b'"text": "ok"', b'"text": "\\udbff!"')
    pair = GOOD.replace(b"a.example/x", b"a.example/\\ud83d\\ude00")
    path = har(tmp_path, GOOD, high, low, body, pair)
    store = RecordingStore()
    result = await run_import(HAR_IMPORTER, path, "S", store)
    assert result.errors == [
        "entry 1: request.url holds a lone UTF-16 surrogate ('\\ud800'), which is not valid Unicode",
        "entry 2: request.headers holds a lone UTF-16 surrogate ('\\udc00'), which is not valid Unicode",
        "entry 3: response.content.text holds a lone UTF-16 surrogate ('\\udbff'), "
        "which is not valid Unicode"]
    urls = sorted(f.request.url for f in store.flows.values())
    assert urls == ["https://a.example/x", "https://a.example/\U0001f600"]


async def test_ghost_json_wrong_types_skip_the_flow(tmp_path: Path) -> None:
    good = {"request": {"method": "GET", "url": "https://a.example/"}}
    flows = [good, {**good, "started_at": 5}, {**good, "duration_ms": "slow"},
             {**good, "metadata": {"n": 10**30}}, {**good, "error": ["x"]}]
    path = tmp_path / "in.json"
    path.write_bytes(orjson.dumps(flows[:3]).rstrip(b"]") + b', {"request": {"method": "GET", '
                     b'"url": "https://a.example/"}, "metadata": {"n": ' + b"9" * 30 + b"}}, "
                     + orjson.dumps(flows[4]) + b"]")
    store = RecordingStore()
    result = await run_import(GHOST_JSON_IMPORTER, path, "S", store)
    assert result.imported == 1
    assert result.errors == [
        "flow 1: started_at must be a string, got '5'",
        "flow 2: duration_ms must be a number, got 'slow'",
        "flow 3: holds a value Ghost cannot store: Integer exceeds 64-bit range",
        "flow 4: error must be a string, got \"['x']\""]


def reference_lone_surrogate(data: bytes) -> bool:
    pending = -1
    for m in re.finditer(rb"\\u[dD]([89a-fA-F])[0-9a-fA-F]{2}", data):
        low = m[1] in b"cdefCDEF"
        if (low and pending != m.start()) or (not low and pending >= 0):
            return True
        pending = -1 if low else m.end()
    return pending >= 0


def test_the_surrogate_guard_agrees_with_a_whole_file_check_at_any_chunk_size() -> None:
    rng = random.Random(7)
    pieces = [b"x", b"\\ud83d\\ude00", b"\\ud800", b"\\udc00", b"\\u0041", b'ab"', b"\\\\"]
    for _ in range(5000):
        data = b"".join(rng.choice(pieces) for _ in range(rng.randint(0, 12)))
        for size in (1, 2, 5, 7, 64):
            guard, seen = _SurrogateGuard(io.BytesIO(data)), b""
            try:
                while chunk := guard.read(size):
                    seen += chunk
                refused = False
            except _NeedsSlowParser:
                refused = True
            assert refused == reference_lone_surrogate(data), (data, size)
            if not refused:
                assert seen == data


def test_a_5000_digit_number_is_a_clean_refusal(tmp_path: Path) -> None:
    # ijson's C backend with use_float=False dies with SIGSEGV on this; Ghost never uses
    # that mode, and the pure-Python parser refuses the number by name
    path = har(tmp_path, GOOD.replace(b'"time": 5', b'"time": ' + b"9" * 5000))
    with pytest.raises(ImportRejected, match="not complete, valid JSON") as info:
        list(HAR_IMPORTER.scan(path))
    assert len(info.value.message) < 400


def test_arrays_of_objects_beside_the_entries_do_not_confuse_the_scan(tmp_path: Path) -> None:
    path = tmp_path / "pages.har"
    path.write_bytes(b'{"log": {"pages": [{"id": "p1", "x": [{"a": [1]}]}, 7], "creator": {"n": []}, '
                     b'"entries": [' + GOOD + b", " + GOOD + b'], "after": [{"b": {}}]}, "z": [[]]}')
    assert list(HAR_IMPORTER.scan(path))[-1] == 2
    assert len([item for item in HAR_IMPORTER.entries(path) if item is not None]) == 2
    path.write_bytes(b'[{"log": {"entries": [' + GOOD + b"]}}]")
    with pytest.raises(ImportRejected, match="starts with a JSON array"):
        list(HAR_IMPORTER.scan(path))
    path.write_bytes(b'{"x": {"log": {"entries": [' + GOOD + b"]}}}")
    with pytest.raises(ImportRejected, match="no \"log\".\"entries\" array"):
        list(HAR_IMPORTER.scan(path))
