"""Long JSON strings taken out of an upload before yajl reads it, so import stays linear.

yajl re-lexes a token that spans its read buffer from the token's first byte on every
read: a string of N bytes read in 64 KB slices costs N²/128 KB of lexing (a 28 MB body took
9 s, all of it inside one C call that holds the GIL, so the proxy froze with it). Giving
yajl the whole string at once is linear but still one call of ~0.4 s for 64 MB.

So, before the scan, a cheap pass over the bytes follows string boundaries (quote parity,
counted per 64 KB slice with C-speed ``count``/``findall``, no per-byte Python) and, only
when the file holds a string longer than ``SPILL_BYTES`` (or starts with a UTF-8 BOM, which
yajl refuses), writes a copy where each such string is replaced by a short placeholder
``"\\u0000ghost-spill:<nonce>:<offset>:<length>"`` and its raw (still JSON-escaped) bytes
go to a side file. Both passes are generators advanced between slices of the event loop.
An importer turns placeholders back into text or bytes piece by piece
(`decode_spilled`), yielding between pieces, so no single step holds the loop long.
"""

from __future__ import annotations

import binascii
import os
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import orjson

from plugins.importers.contract import ImportRejected, InThread

SPILL_BYTES = 256 * 1024  # a longer string is taken out of the stream yajl reads
READ_BYTES = 64 * 1024
DECODE_BYTES = 512 * 1024  # raw bytes decoded per step when a spilled string is read back
BOM = b"\xef\xbb\xbf"

_PLACEHOLDER = re.compile(r"\x00ghost-spill:([0-9a-f]{16}):([0-9]{1,15}):([0-9]{1,15})\Z")


@dataclass(frozen=True, slots=True)
class Spilled:
    """A long string of the upload, kept raw (JSON-escaped, without quotes) in the side file."""

    offset: int
    length: int


def sidecars(path: Path) -> tuple[Path, Path]:
    """The rewritten copy and the side file of an upload (deleted with it)."""
    return path.with_name(path.name + ".json"), path.with_name(path.name + ".spill")


def _escaped_quotes(data: bytes) -> int:
    """Quotes after an odd run of backslashes: (after >= 1) - (after >= 2) + (after >= 3)...
    each counted by C-speed ``bytes.count`` (a regex with a lookbehind ran at 4 MB/s)."""
    escaped, sign, pattern = 0, 1, b'\\"'
    while (found := data.count(pattern)):
        escaped += sign * found
        sign, pattern = -sign, b"\\" + pattern
    return escaped


def _unescaped(data: bytes, q: int) -> bool:
    j = q
    while j > 0 and data[j - 1] == 0x5C:
        j -= 1
    return (q - j) % 2 == 0


def _first_unescaped_quote(data: bytes) -> int:
    """-1 when every quote in ``data`` is escaped."""
    if data.count(b'"') == _escaped_quotes(data):
        return -1
    q = data.find(b'"')
    while not _unescaped(data, q):
        q = data.find(b'"', q + 1)
    return q


def _last_open_quote(data: bytes) -> int:
    """The last quote in ``data`` not escaped by a backslash."""
    q = data.rfind(b'"')
    while q >= 0:
        if _unescaped(data, q):
            return q
        q = data.rfind(b'"', 0, q)
    raise AssertionError("parity said a quote opens a string here")


JSON, SPILL, SPILL_END = 0, 1, 2


def pieces(fh: BinaryIO) -> Iterator[tuple[int, bytes]]:
    """The file as (JSON, bytes) runs yajl may read and (SPILL, bytes) runs holding the
    inside of a long string, each long string ended by (SPILL_END, b"")."""
    in_string = False
    held = b""  # in a string not yet known to be long: from its opening quote on
    tail = b""  # trailing backslashes of the last read, looked at with the next one
    spilling = False
    first = True
    while True:
        chunk = fh.read(READ_BYTES)
        if first:
            first = False
            if chunk.startswith(BOM):
                chunk = chunk[len(BOM):]
        eof = not chunk
        data = tail + chunk
        tail = b""
        if not eof:
            stripped = data.rstrip(b"\\")
            tail, data = data[len(stripped):], stripped
        if spilling:
            close = _first_unescaped_quote(data) if b'"' in data else -1
            if close < 0:
                if eof:
                    raise ImportRejected("the file is not complete, valid JSON (it ends inside "
                                         "a string); was it truncated or cut off during download?")
                yield SPILL, data
                continue
            yield SPILL, data[:close]
            yield SPILL_END, b""
            spilling, in_string = False, False
            data = data[close + 1:]
        quotes = data.count(b'"') - _escaped_quotes(data) if data else 0
        if quotes % 2:
            in_string = not in_string
        if not in_string:
            if held or data:
                yield JSON, held + data
            held = b""
        elif quotes:  # a new string opened in this slice
            q = _last_open_quote(data)
            if held or q:
                yield JSON, held + data[:q]
            held = data[q:]
        else:
            held += data
        if in_string and len(held) > SPILL_BYTES:
            yield SPILL, held[1:]
            held, spilling = b"", True
        if eof:
            if held:
                yield JSON, held
            return


def needs_rewrite(path: Path) -> Iterator[bool]:
    """Yields False while looking; True (and stops) as soon as the file needs the copy."""
    with open(path, "rb") as fh:
        if fh.read(len(BOM)) == BOM:
            yield True
            return
        fh.seek(0)
        for kind, _ in pieces(fh):
            if kind != JSON:
                yield True
                return
            yield False


def rewrite(path: Path) -> Iterator[None]:
    """Write the copy (placeholders) and the side file (the nonce on the first line, then
    the long strings' raw bytes)."""
    copy, side = sidecars(path)
    nonce = secrets.token_hex(8)
    header = nonce.encode() + b"\n"
    with open(path, "rb") as fh, open(copy, "wb") as out, open(side, "wb") as spill:
        spill.write(header)
        start = offset = len(header)
        for kind, data in pieces(fh):
            if kind == JSON:
                out.write(data)
            elif kind == SPILL:
                spill.write(data)
                offset += len(data)
            else:
                out.write(b'"\\u0000ghost-spill:%s:%d:%d"' % (nonce.encode(), start, offset - start))
                start = offset
            yield None


def prepare(path: Path) -> Iterator[None]:
    """Make the copy when the file needs one (see the module docstring)."""
    for found in needs_rewrite(path):
        if found:
            yield from rewrite(path)
            return
        yield None


def readable(path: Path) -> Path:
    """The file yajl should read: the copy when `prepare` made one."""
    copy, _ = sidecars(path)
    return copy if copy.exists() else path


def remove_sidecars(path: Path) -> None:
    for extra in sidecars(path):
        extra.unlink(missing_ok=True)


class SpillFile:
    """Reads long strings back from the side file of an upload."""

    def __init__(self, path: Path) -> None:
        _, side = sidecars(path)
        self.fh: BinaryIO | None = open(side, "rb") if side.exists() else None  # noqa: SIM115
        self.nonce = self.fh.readline().strip().decode() if self.fh else ""
        self.size = os.fstat(self.fh.fileno()).st_size if self.fh else 0

    def close(self) -> None:
        if self.fh:
            self.fh.close()

    def find(self, value: Any) -> Spilled | None:
        """The long string a placeholder stands for; None for any other value."""
        if not self.fh or not isinstance(value, str) or not value.startswith("\x00ghost-spill:"):
            return None
        match = _PLACEHOLDER.match(value)
        if not match or match[1] != self.nonce:
            return None
        offset, length = int(match[2]), int(match[3])
        if offset + length > self.size:
            return None
        return Spilled(offset, length)

    def raw_pieces(self, spilled: Spilled) -> Iterator[bytes]:
        """The raw bytes in pieces cut where no escape or UTF-8 sequence is split."""
        assert self.fh is not None
        self.fh.seek(spilled.offset)
        left = spilled.length
        carry = b""
        while left or carry:
            data = carry + self.fh.read(min(DECODE_BYTES, left))
            left -= len(data) - len(carry)
            if not left:
                yield data
                return
            cut = _safe_cut(data)
            carry = data[cut:]
            yield data[:cut]

    def text_pieces(self, spilled: Spilled) -> Iterator[str]:
        for raw in self.raw_pieces(spilled):
            if b"\\" not in raw:  # no escapes: the bytes are the text
                try:
                    yield raw.decode("utf-8")
                    continue
                except UnicodeDecodeError:
                    raise ValueError("a long string is not valid UTF-8") from None
            try:
                yield orjson.loads(b'"' + raw + b'"') if _orjson_safe(raw) else _json_text(raw)
            except orjson.JSONDecodeError as exc:
                raise ValueError(f"a long string is not valid JSON text: {exc}") from None


def _orjson_safe(raw: bytes) -> bool:
    # orjson refuses lone surrogate escapes; the stdlib decoder keeps them for the importer
    # to name.
    return b"\\u" not in raw or not re.search(rb"\\u[dD][89a-fA-F]", raw)


def _json_text(raw: bytes) -> str:
    import json

    try:
        return json.loads(b'"' + raw + b'"')
    except ValueError as exc:
        raise ValueError(f"a long string is not valid JSON text: {exc}") from None


def _safe_cut(data: bytes) -> int:
    """A cut near the end of ``data`` that splits no escape (``\\uXXXX\\uXXXX`` is 12 bytes)
    and no UTF-8 sequence."""
    cut = len(data)
    window = data.find(b"\\", max(cut - 12, 0))
    if window >= 0:
        cut = window
        while cut > 0 and data[cut - 1] == 0x5C:
            cut -= 1
    while 0 < cut < len(data) and (data[cut] & 0xC0) == 0x80:
        cut -= 1
    return cut


def decode_spilled(spill: SpillFile, spilled: Spilled, base64_wanted: bool,
                   out: list[bytes]) -> Iterator[InThread | None]:
    """The long string as body bytes appended to ``out``: base64-decoded when the entry
    says so (text bytes when that fails, as for a short body), else UTF-8. Yields between
    pieces."""
    if base64_wanted:
        parts: list[bytes] = []
        rest = ""
        try:
            for text in spill.text_pieces(spilled):
                text = rest + text
                whole = len(text) - len(text) % 4
                # strict_mode is the C check; b64decode(validate=True) adds a regex at 45 MB/s
                parts.append(binascii.a2b_base64(text[:whole], strict_mode=True))
                rest = text[whole:]
                yield None
            if rest:
                parts.append(binascii.a2b_base64(rest, strict_mode=True))
            yield from _join_off_loop(parts, out)
            return
        except (binascii.Error, ValueError):
            parts.clear()
    parts = []
    for text in spill.text_pieces(spilled):
        try:
            parts.append(text.encode("utf-8", errors="surrogateescape"))
        except UnicodeEncodeError:
            raise ValueError("a body holds a lone UTF-16 surrogate, which is not valid "
                             "Unicode") from None
        yield None
    yield from _join_off_loop(parts, out)


def _join_off_loop(parts: list[bytes], out: list[bytes]) -> Iterator[InThread | None]:
    """``out.append(b"".join(parts))`` in a worker thread: the one copy of a whole body
    (48 MB of bytes took 190-230 ms of CPU on the loop on a busy 2-core machine; bytes.join
    releases the GIL for its copy above 1 MB, so the loop runs meanwhile)."""
    step = InThread(lambda: out.append(b"".join(parts)))
    yield step
    step.run_unless_done()
    parts.clear()  # the pieces are garbage now: freed here rather than with the generator
    yield None


def resolve_strings(spill: SpillFile, value: Any) -> Iterator[None]:
    """Replace, in place, every placeholder inside ``value`` (a dict or list) by its text
    (an importer first takes the bodies out, as bytes, with `decode_spilled`)."""
    stack = [value]
    while stack:
        node = stack.pop()
        items = node.items() if isinstance(node, dict) else enumerate(node)
        for key, item in list(items):
            if isinstance(item, dict | list):
                stack.append(item)
            elif (spilled := spill.find(item)) is not None:
                node[key] = "".join(spill.text_pieces(spilled))
                yield None
