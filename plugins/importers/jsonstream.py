"""Reading an uploaded JSON file with bounded memory and time, whatever it holds.

ijson's prefix-building parsers (``ijson.parse``, ``ijson.items``) keep one prefix string per
open container, each as long as the path to it: memory grows with the square of the
nesting depth (100,000 nested ``[`` in a 200 KB file took 23.8 GB). yajl's plain event
parser (``ijson.basic_parse``) holds no prefixes, so the scan walks the whole file with it
first and refuses, before anything is built, a file that nests deeper than ``MAX_DEPTH``
or holds an item of more than ``MAX_ITEM_VALUES`` JSON values. Only then do the fast
``ijson.items`` passes run, on a file known to be shallow.

yajl (the C backend) cannot represent two things a user's file may hold: a number beyond
64-bit/double range (it stops with "integer overflow") and a lone UTF-16 surrogate escape
(``"\\udc00"`` raises UnicodeDecodeError, ``"\\ud800"`` silently becomes ``?``). Such a
file is read with ijson's pure-Python backend instead (about 18 times slower), which hands
both over faithfully (numbers as int or Decimal, ``use_float=False``), so the importer can
skip just the entry that holds them, with a reason. The C backend always runs with
``use_float=True``: ijson 3.6's C backend crashes the process (SIGSEGV) on an integer of
more than 4,300 digits with ``use_float=False``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from decimal import Decimal
from itertools import islice
from pathlib import Path
from typing import Any, BinaryIO

import ijson
import ijson.backends.python as slow_ijson

from plugins.importers.contract import ImportRejected

MAX_DEPTH = 100  # HAR entries nest < 10 deep; a Ghost JSON flow's metadata at most 64
MAX_ITEM_VALUES = 100_000  # JSON values in one entry or flow (a HAR entry has ~100-1,000)
EVENTS_PER_YIELD = 5_000  # the scan hands the loop back at least this often (~3 ms)

_SURROGATE_ESCAPE = re.compile(rb"\\u[dD]([89a-fA-F])[0-9a-fA-F]{2}")
_JSON_ERRORS = (ijson.JSONError, ijson.IncompleteJSONError, slow_ijson.UnexpectedSymbol)


class _NeedsSlowParser(Exception):
    """yajl met a number or string it cannot represent."""


def json_error_text(exc: Exception) -> str:
    """ijson's (yajl's) message without its multi-line ASCII-art pointer."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text if len(text) <= 200 else text[:200] + "..."


def _slow_needed(exc: Exception) -> bool:
    return isinstance(exc, (UnicodeDecodeError, _NeedsSlowParser)) or (
        isinstance(exc, ijson.JSONError) and "overflow" in str(exc))


class _SurrogateGuard:
    """A file reader that stops yajl before it sees a lone surrogate escape (which yajl
    would turn into ``?`` or a UnicodeDecodeError). It holds the last 12 bytes back until
    it knows whether an escape there is half of a pair."""

    def __init__(self, fh: BinaryIO) -> None:
        self.fh = fh
        self.carry = b""
        self.offset = 0  # file offset of carry[0]
        self.checked = 0  # escapes starting before this offset were looked at
        self.pending_high = -1  # end offset of a high escape still waiting for its low

    def read(self, size: int = -1) -> bytes:
        if size == 0:  # ijson asks for nothing to learn whether the file gives bytes
            return self.fh.read(0)
        size = size if size > 0 else 1 << 16
        window = self.carry
        while True:
            more = self.fh.read(size)
            window += more
            if not more or len(window) > 12:
                break
        self._check(window, eof=not more)
        keep = len(window) if not more else len(window) - 12
        self.carry = window[keep:]
        self.offset += keep
        return window[:keep]

    def _check(self, window: bytes, eof: bool) -> None:
        if b"\\u" in window:
            for m in _SURROGATE_ESCAPE.finditer(window):
                start, end = self.offset + m.start(), self.offset + m.end()
                if start < self.checked:
                    continue
                if m[1] in b"cdefCDEF":  # low: must follow its high directly
                    if self.pending_high != start:
                        raise _NeedsSlowParser("a lone low surrogate escape")
                    self.pending_high = -1
                else:
                    if self.pending_high >= 0:
                        raise _NeedsSlowParser("a lone high surrogate escape")
                    self.pending_high = end
            self.checked = self.offset + max(len(window) - 5, 0)
        if self.pending_high >= 0 and (eof or self.offset + len(window) >= self.pending_high + 6):
            raise _NeedsSlowParser("a lone high surrogate escape")


def _basic_events(fh: BinaryIO, slow: bool) -> Iterator[tuple[str, Any]]:
    if slow:
        return slow_ijson.basic_parse(fh, use_float=False)
    return ijson.basic_parse(_SurrogateGuard(fh), use_float=True)


class Shape:
    """What the scan learned: how many items, and whether the slow parser is needed."""

    def __init__(self) -> None:
        self.items = 0
        self.found = False
        self.slow = False


_DELTA = {"start_map": 1, "start_array": 1, "end_map": -1, "end_array": -1}


def _walk(fh: BinaryIO, slow: bool, keys: tuple[str, ...], noun: str, shape: Shape) -> Iterator[int]:
    """One pass over yajl's events: depth and per-item size checked, items of the array at
    ``keys`` counted. Yields a running count every ``EVENTS_PER_YIELD`` events, so one huge
    item does not hold the loop. Inside an item only the depth is tracked (the hot path)."""
    events = _basic_events(fh, slow)
    watch = len(keys) + 1  # the depth of the array whose items are counted
    depth = 0
    names: list[str | None] = []  # for open containers up to ``watch``: the key they sit under
    kinds: list[bool] = []  # ... and whether each is a map
    last_key: str | None = None
    target = -1  # == watch while inside the array of items
    item_start = 0
    delta_of = _DELTA.get
    base = 0
    shape.items = 0
    while batch := list(islice(events, EVENTS_PER_YIELD)):
        for index, (event, value) in enumerate(batch, base):
            delta = delta_of(event)
            if delta is None:  # a scalar or a key
                if depth > watch:
                    continue
                if event == "map_key":
                    last_key = value
                    continue
                if depth == target:  # a scalar item
                    shape.items += 1
                last_key = None
            elif delta > 0:
                depth += 1
                if depth > watch + 1:
                    if depth > MAX_DEPTH:
                        raise ImportRejected(
                            f"the file nests JSON deeper than {MAX_DEPTH} levels, the import "
                            f"limit (a real {noun} nests fewer than 10)")
                    continue
                if depth == target + 1:  # an item begins
                    shape.items += 1
                    item_start = index
                elif depth <= watch:
                    kinds.append(event == "start_map")
                    names.append(last_key if len(kinds) > 1 and kinds[-2] else None)
                    if event == "start_array" and depth == watch and target < 0 and \
                            tuple(names[1:]) == keys and (not keys or kinds[-2]):
                        target = depth
                        shape.found = True
                last_key = None
            else:
                depth -= 1
                if depth > watch:
                    continue
                if depth == target:  # an item ends
                    _check_item(index - item_start, noun, shape.items - 1)
                elif depth < watch:  # closed a container up to ``watch`` deep
                    kinds.pop()
                    names.pop()
                    if depth + 1 == target:
                        target = -1
                last_key = None
        base += len(batch)
        if target >= 0 and depth > target:  # inside an unfinished item
            _check_item(base - item_start, noun, shape.items - 1)
        yield shape.items


def _check_item(values: int, noun: str, index: int) -> None:
    if values > MAX_ITEM_VALUES:
        raise ImportRejected(
            f"{noun} {index} holds more than {MAX_ITEM_VALUES:,} JSON values, "
            f"the limit for one {noun}")


def scan_items(path: Path, keys: tuple[str, ...], noun: str, shape: Shape) -> Iterator[int]:
    """Check the whole file (complete JSON, depth, item sizes) and count the items of the
    array at ``keys`` into ``shape``; ImportRejected when it cannot be imported at all."""
    shape.slow = False
    while True:
        with open(path, "rb") as fh:
            try:
                yield from _walk(fh, shape.slow, keys, noun, shape)
                return
            except (UnicodeDecodeError, _NeedsSlowParser, *_JSON_ERRORS) as exc:
                if not shape.slow and _slow_needed(exc):
                    shape.slow = True
                    continue
                raise ImportRejected(
                    f"the file is not complete, valid JSON ({json_error_text(exc)}); "
                    "was it truncated or cut off during download?") from None


def iter_items(path: Path, prefix: str) -> Iterator[Any]:
    """The items at ``prefix`` (an ijson prefix such as ``log.entries.item``), fast with
    yajl; from the first item yajl cannot represent on, with the pure-Python parser.
    Call only on a file ``scan_items`` passed: its depth is what keeps this bounded."""
    done = 0
    with open(path, "rb") as fh:
        try:
            for item in ijson.items(_SurrogateGuard(fh), prefix, use_float=True):
                yield item
                done += 1
            return
        except (UnicodeDecodeError, _NeedsSlowParser, ijson.JSONError) as exc:
            if not _slow_needed(exc):
                raise
    with open(path, "rb") as fh:
        for index, item in enumerate(slow_ijson.items(fh, prefix, use_float=False)):
            if index >= done:
                yield _floats(item)


def _floats(value: Any) -> Any:
    """The slow parser's Decimals as floats, as yajl gives them; one beyond a double's range
    stays a Decimal for the importer to refuse by name."""
    if isinstance(value, Decimal):
        number = float(value)
        return number if math.isfinite(number) else value
    if isinstance(value, dict):
        return {k: _floats(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_floats(v) for v in value]
    return value
