"""Ghost JSON import: an array of ``Flow.to_dict()`` objects, as the JSON export writes."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from ghost_addons.model import Flow
from plugins.importers.contract import Importer, ImportRejected, InThread, SkippedEntry
from plugins.importers.jsonstream import Shape, iter_items, scan_items
from plugins.importers.longstrings import SpillFile, decode_spilled, prepare, readable, resolve_strings

MAX_JSON_FLOWS = 50_000
PROBE_BYTES = 4096
_HAR_LOG = re.compile(rb'"log"\s*:\s*(?!null)[\[{"0-9tf-]')


def probe_ghost_json(head: bytes) -> None:
    """Look at the start of the file; raise ImportRejected with a helpful message unless it
    is a JSON array."""
    text = head.lstrip(b" \t\r\n\xef\xbb\xbf")
    if not text:
        raise ImportRejected("the file is empty")
    first = text[:1]
    if first == b"[":
        return
    if first == b"{":
        if _HAR_LOG.search(head[:PROBE_BYTES]):
            raise ImportRejected(
                "this looks like a HAR file — use the /import/har endpoint instead")
        raise ImportRejected(
            "invalid JSON format — expected an array of flow objects (starts with [)")
    raise ImportRejected(
        f"invalid JSON format — expected an array of flow objects (starts with [), "
        f"but the file starts with {text[:16]!r}")


def scan_ghost_json(path: Path) -> Iterator[int]:
    with open(path, "rb") as fh:
        probe_ghost_json(fh.read(PROBE_BYTES))
    for _ in prepare(path):
        yield 0
    for count in scan_items(readable(path), (), "flow", Shape()):
        if count > MAX_JSON_FLOWS:
            raise ImportRejected(
                f"the file holds more than {MAX_JSON_FLOWS:,} flows; "
                "split it into smaller files", status=413)
        yield count


_STRINGS = ("id", "started_at", "error", "client_addr", "server_addr", "source", "interaction_id")
_NUMBERS = ("duration_ms",)


def _decoded_body(value: Any) -> str:
    if isinstance(value, bytes):
        return ""
    raise TypeError(f"Type is not JSON serializable: {type(value).__name__}")


def _check_types(raw: dict[str, Any]) -> None:
    """What ``Flow.from_dict`` would trip over, named: ``started_at: 5`` is a wrong type,
    not a crash."""
    for name in _STRINGS:
        value = raw.get(name)
        if value is not None and not isinstance(value, str):
            raise ValueError(f"{name} must be a string, got {str(value)[:40]!r}")
    for name in _NUMBERS:
        value = raw.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise ValueError(f"{name} must be a number, got {str(value)[:40]!r}")
    try:
        # what the store will write: no lone surrogates, 64-bit integers (a body already
        # decoded to bytes, see `_decode_bodies`, is stored as it is)
        orjson.dumps(raw, default=_decoded_body)
    except orjson.JSONEncodeError as exc:
        raise ValueError(f"holds a value Ghost cannot store: {exc}") from None


def ghost_json_to_flow(raw: object) -> Flow:
    """A flow object as exported; ValueError (the flow is skipped with that reason) when it
    lacks a request method or URL or holds a field of the wrong type or range."""
    if not isinstance(raw, dict):
        raise ValueError("not a JSON object")
    request = raw.get("request")
    if not isinstance(request, dict):
        raise ValueError("missing request")
    if not request.get("method"):
        raise ValueError("missing request method")
    if not request.get("url"):
        raise ValueError("missing request URL")
    if isinstance(raw.get("started_at"), str) and raw["started_at"].startswith("0001-01-01"):
        raw = {**raw, "started_at": None}  # Go's zero time: not set, so now (the spec)
    _check_types(raw)
    try:
        return Flow.from_dict(raw)
    except (TypeError, KeyError, AttributeError, OverflowError) as exc:
        raise ValueError(f"bad field: {exc}") from None


def _decode_bodies(raw: Any, spill: SpillFile) -> Iterator[InThread | None]:
    """Long bodies (placeholders) decoded to bytes in pieces, their final copy off the loop,
    as the HAR importer does: a 64 MB body is then never one long step on the loop."""
    if not isinstance(raw, dict):
        return
    for part in ("request", "response"):
        section = raw.get(part)
        if isinstance(section, dict) and (spilled := spill.find(section.get("body"))) is not None:
            out: list[bytes] = []
            yield from decode_spilled(spill, spilled, section.get("body_encoding") == "base64", out)
            section["body"], section["body_encoding"] = out[0], "bytes"


def ghost_json_entries(path: Path) -> Iterator[Flow | SkippedEntry | InThread | None]:
    """Flows and skipped entries; ``None`` now and then while a long body is decoded, and an
    ``InThread`` step for its final copy (see `_decode_bodies`)."""
    spill = SpillFile(path)
    try:
        for index, raw in enumerate(iter_items(readable(path), "item")):
            try:
                yield from _decode_bodies(raw, spill)
                if isinstance(raw, dict | list):
                    yield from resolve_strings(spill, raw)
                yield ghost_json_to_flow(raw)
            except ValueError as exc:
                yield SkippedEntry(index, str(exc))
    finally:
        spill.close()


GHOST_JSON_IMPORTER = Importer(
    name="json",
    title="Ghost JSON",
    scan=scan_ghost_json,
    entries=ghost_json_entries,
    noun="flow",
    max_flows=MAX_JSON_FLOWS,
)
