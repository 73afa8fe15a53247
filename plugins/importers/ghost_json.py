"""Ghost JSON import: an array of ``Flow.to_dict()`` objects, as the JSON export writes."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import ijson

from ghost_addons.model import Flow
from plugins.importers.contract import Importer, ImportRejected, SkippedEntry
from plugins.importers.har import json_error_text

MAX_JSON_FLOWS = 50_000
PROBE_BYTES = 4096
PROGRESS_EVERY = 200
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
    count = 0
    with open(path, "rb") as fh:
        try:
            for _item in ijson.items(fh, "item", use_float=True):
                count += 1
                if count > MAX_JSON_FLOWS:
                    raise ImportRejected(
                        f"the file holds more than {MAX_JSON_FLOWS:,} flows; "
                        "split it into smaller files", status=413)
                if count % PROGRESS_EVERY == 0:
                    yield count
        except (ijson.JSONError, ijson.IncompleteJSONError) as exc:
            raise ImportRejected(f"the file is not complete, valid JSON ({json_error_text(exc)}); "
                                 "was it truncated?") from None
    yield count


def ghost_json_to_flow(raw: object) -> Flow:
    """A flow object as exported; ValueError when it lacks a request method or URL."""
    if not isinstance(raw, dict):
        raise ValueError("not a JSON object")
    request = raw.get("request")
    if not isinstance(request, dict):
        raise ValueError("missing request")
    if not request.get("method"):
        raise ValueError("missing request method")
    if not request.get("url"):
        raise ValueError("missing request URL")
    try:
        return Flow.from_dict(raw)
    except (TypeError, KeyError) as exc:
        raise ValueError(f"bad field: {exc}") from None


def ghost_json_entries(path: Path) -> Iterator[Flow | SkippedEntry]:
    with open(path, "rb") as fh:
        for index, raw in enumerate(ijson.items(fh, "item", use_float=True)):
            try:
                yield ghost_json_to_flow(raw)
            except ValueError as exc:
                yield SkippedEntry(index, str(exc))


GHOST_JSON_IMPORTER = Importer(
    name="json",
    title="Ghost JSON",
    scan=scan_ghost_json,
    entries=ghost_json_entries,
    noun="flow",
    max_flows=MAX_JSON_FLOWS,
)
