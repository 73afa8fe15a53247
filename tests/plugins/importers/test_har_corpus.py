"""Real HAR files from other tools (tests/data/har_corpus, see SOURCES.md) through the real
API: each imports, import -> export keeps every field (repairs only what was not valid HAR),
export -> import -> export changes nothing, and har-validator accepts every export."""

from __future__ import annotations

import asyncio
import copy
from pathlib import Path
from typing import Any

import orjson
import pytest

from plugins.exporters.har_schema import repair
from tests.support.captured_session import ensure_node_tools, har_validator
from tests.support.inprocess import Api

CORPUS = sorted((Path(__file__).parents[2] / "data" / "har_corpus").glob("*.har"))
PLUGINS = ("plugins.importers", "plugins.exporters")
# k6 templates, not captures: what Ghost answers for them is checked instead
NOT_CAPTURES = {
    "k6-page.har": "no \"log\".\"entries\" array",  # pages only
    "k6-test-variable-instead-of-protocol.har": "invalid URL '${proto}://",
}


def entries_of(data: bytes) -> list[dict[str, Any]]:
    return orjson.loads(data.removeprefix(b"\xef\xbb\xbf"))["log"].get("entries") or []


async def import_export(api: Api, data: bytes) -> tuple[dict[str, Any], bytes]:
    session = await api.ok("POST", "/api/v1/sessions", status=201, json={"name": "corpus"})
    result = await api.ok("POST", f"/api/v1/sessions/{session['id']}/import/har", data=data)
    async with api.session.get(f"{api.base}/api/v1/sessions/{session['id']}/export/har") as r:
        assert r.status == 200
        exported = await r.read()
    return result, exported


def without_bodies(entry: dict[str, Any]) -> dict[str, Any]:
    entry = copy.deepcopy(entry)
    for part, holder in (("request", "postData"), ("response", "content")):
        inner = (entry.get(part) or {}).get(holder)
        if isinstance(inner, dict):
            inner.pop("text", None)
            inner.pop("encoding", None)
    return entry


def body_of(entry: dict[str, Any], part: str, holder: str) -> bytes | None:
    import base64
    inner = (entry.get(part) or {}).get(holder)
    if not isinstance(inner, dict) or not isinstance(inner.get("text"), str):
        return None
    if str(inner.get("encoding") or "").lower() == "base64":
        try:
            return base64.b64decode(inner["text"], validate=True)
        except ValueError:
            pass
    return inner["text"].encode("utf-8", "surrogateescape")


def test_the_corpus_is_big_enough() -> None:
    assert len(CORPUS) >= 30


@pytest.mark.parametrize("path", CORPUS, ids=[p.name for p in CORPUS])
async def test_import_export_is_lossless_and_valid(ghost_app, path: Path, tmp_path: Path) -> None:
    api = await ghost_app(PLUGINS)
    data = await asyncio.to_thread(path.read_bytes)
    if path.name in NOT_CAPTURES:
        session = await api.ok("POST", "/api/v1/sessions", status=201, json={"name": "x"})
        _, answer = await api.call("POST", f"/api/v1/sessions/{session['id']}/import/har",
                                   data=data)
        assert NOT_CAPTURES[path.name] in orjson.dumps(answer).decode().replace("\\", "")
        return
    original = entries_of(data)
    result, exported = await import_export(api, data)
    assert result["imported"] == len(original), result["errors"]
    out = entries_of(exported)
    assert len(out) == len(original)
    for before, after in zip(original, out, strict=True):
        # every field as the file had it; only what was missing or not valid HAR repaired
        ghost_filled = repair(without_bodies(before), "entry", without_bodies(after))
        assert without_bodies(after) == ghost_filled
        for part, holder in (("request", "postData"), ("response", "content")):
            if body_of(before, part, holder) is not None:
                assert body_of(after, part, holder) == body_of(before, part, holder)
            else:
                assert body_of(after, part, holder) in (None, b"")
    pages = orjson.loads(exported)["log"]["pages"]
    referenced = {e.get("pageref") for e in original}
    original_pages = orjson.loads(data.removeprefix(b"\xef\xbb\xbf"))["log"].get(
        "pages") or []
    for page in original_pages:
        if page.get("id") in referenced:
            assert repair(page, "page", next(p for p in pages if p["id"] == page["id"])) in pages
    # export -> import -> export: nothing changes any more
    _, again = await import_export(api, exported)
    assert entries_of(again) == out and orjson.loads(again)["log"]["pages"] == pages
    ensure_node_tools()
    har = tmp_path / "export.har"
    await asyncio.to_thread(har.write_bytes, exported)
    checked = har_validator(har)
    assert checked.returncode == 0, checked.stderr
