"""HAR 1.2 import: each entry becomes a flow, bad entries are skipped with a reason.

The file is read incrementally and within limits (``jsonstream``), never loaded whole.
"""

from __future__ import annotations

import base64
import binascii
import math
from collections.abc import Iterator
from datetime import UTC, datetime
from http import HTTPStatus
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus, urlsplit

import ijson
import orjson

from ghost_addons.model import (
    WEBSOCKET_BINARY,
    WEBSOCKET_TEXT,
    Flow,
    Headers,
    Request,
    Response,
    Timings,
    WebSocketLog,
    WebSocketMessage,
    parse_time,
)
from plugins.importers.contract import Importer, ImportRejected, InThread, SkippedEntry
from plugins.importers.jsonstream import MAX_DEPTH, Shape, iter_items, scan_items
from plugins.importers.longstrings import (
    SpillFile,
    decode_spilled,
    prepare,
    readable,
    resolve_strings,
)

KEPT_ENTRY = "har_entry"  # metadata: the entry as imported, bodies left out (see har_entry_to_flow)
KEPT_PAGE = "har_page"  # metadata: the log.pages item the entry's pageref names
WEBSOCKET_MESSAGES = "_webSocketMessages"  # Chrome's field for a WebSocket entry's messages
MAX_WEBSOCKET_MESSAGES = 100_000  # read of one entry's; the rest count as dropped
_REASONS = frozenset(status.phrase for status in HTTPStatus) | {"No Response", ""}

_STRUCTURE_EVENTS_MAX = 10_000  # events read (on the loop, ~5 ms) while checking what "log" is


def _check_log(path: Path) -> None:
    """The document is an object whose "log" (if it comes early) is an object."""
    with open(path, "rb") as fh:
        depth = 0
        log_next = False
        for n, (event, value) in enumerate(ijson.basic_parse(fh, use_float=True)):
            if n == 0 and event != "start_map":
                kind = event.replace("start_", "") if event.startswith("start_") else "value"
                raise ImportRejected(
                    f"a HAR file is a JSON object with a \"log\" key; this file starts with a "
                    f"JSON {kind}")
            if log_next:
                if event != "start_map":
                    raise ImportRejected("\"log\" must be an object holding \"entries\"")
                return
            if event in ("start_map", "start_array"):
                depth += 1
            elif event in ("end_map", "end_array"):
                depth -= 1
            elif event == "map_key" and depth == 1 and value == "log":
                log_next = True
            if n > _STRUCTURE_EVENTS_MAX or depth > MAX_DEPTH:
                return  # the full scan decides


def scan_har(path: Path) -> Iterator[int]:
    """Check that the file is a complete HAR document within the limits; yield the entry
    count as it grows."""
    if path.stat().st_size == 0:
        raise ImportRejected("the file is empty")
    for _ in prepare(path):
        yield 0
    path = readable(path)
    try:
        _check_log(path)
    except (UnicodeDecodeError, ijson.JSONError):
        pass  # the full scan reports it (or reads it with the slow parser)
    shape = Shape()
    yield from scan_items(path, ("log", "entries"), "entry", shape)
    if not shape.found:
        raise ImportRejected("not a HAR file: no \"log\".\"entries\" array found")


def parse_started(value: Any) -> datetime:
    """RFC 3339 with nanoseconds, RFC 3339, or ISO 8601 with milliseconds; now if none, or
    for a zero time (Go's ``0001-01-01T00:00:00Z``, which means "not set")."""
    if isinstance(value, str) and value:
        try:
            moment = parse_time(value)
        except ValueError:
            pass
        else:
            if moment.year > 1:
                return moment
    return datetime.now(UTC)


def _headers(raw: Any, where: str) -> Headers:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise ValueError(f"{where}.headers must be a list")
    pairs: Headers = []
    for item in raw:
        if isinstance(item, dict) and "name" in item:
            pairs.append((str(item["name"]), str(item.get("value", ""))))
        elif isinstance(item, list) and len(item) == 2:
            pairs.append((str(item[0]), str(item[1])))
        else:
            raise ValueError(f"{where}.headers has a bad header {str(item)[:80]!r}")
    return pairs


MAX_MS = 10**12  # a duration or timing beyond ~31 years is no measurement
MAX_SIZE = 2**53  # bytes


def _number(value: Any, where: str, limit: float) -> float | None:
    """A number (or numeric string) as a float; None when it is not one; ValueError, which
    skips the entry, when it is one beyond ``limit``: a 400-digit ``time`` is no duration."""
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except OverflowError:
        number = math.inf
    except (TypeError, ValueError):
        return None
    if not math.isfinite(number) or abs(number) > limit:
        text = str(value)
        shown = text if len(text) <= 40 else f"{text[:20]}... ({len(text)} characters)"
        raise ValueError(f"{where} {shown} is out of range (the limit is {limit:.0f})")
    return number


def _size(value: Any, where: str) -> int:
    number = _number(value, where, MAX_SIZE)
    return 0 if number is None else max(int(number), 0)


def _b64(text: str) -> bytes:
    return base64.b64decode(text, validate=True)


def _text_bytes(text: str, where: str) -> bytes:
    """Body text as bytes; ``\\udc80``-``\\udcff`` (Python's escapes for undecodable
    bytes) become those bytes, any other lone surrogate skips the entry."""
    try:
        return text.encode("utf-8", errors="surrogateescape")
    except UnicodeEncodeError as exc:
        raise ValueError(f"{where} holds a lone UTF-16 surrogate ({text[exc.start]!r}), "
                         "which is not valid Unicode") from None


def params_body(params: Any) -> bytes:
    """``postData.params`` (how Chrome, Firebug and k6 write a form post, with no ``text``)
    as the urlencoded body the browser sent."""
    if not isinstance(params, list):
        return b""
    pairs = []
    for item in params:
        if isinstance(item, dict) and isinstance(item.get("name"), str):
            value = item.get("value")
            value = "" if value is None else str(value)
            pairs.append(f"{quote_plus(item['name'])}={quote_plus(value)}")
    return "&".join(pairs).encode()


def _is_base64(holder: dict[str, Any]) -> bool:
    return str(holder.get("encoding") or "").lower() == "base64"


def _request_body(post: Any) -> bytes:
    """Base64-decoded only when ``encoding`` says so: ``"abcd"`` as octet-stream is the four
    bytes ``abcd``."""
    if not isinstance(post, dict):
        return b""
    text = post.get("text")
    if isinstance(text, bytes):  # a long body, already decoded (longstrings)
        return text
    if not isinstance(text, str) or not text:
        return params_body(post.get("params")) if text is None else b""
    if _is_base64(post):
        try:
            return _b64(text)
        except (binascii.Error, ValueError):
            pass
    return _text_bytes(text, "request.postData.text")


def _response_body(content: Any) -> bytes:
    if not isinstance(content, dict):
        return b""
    text = content.get("text")
    if isinstance(text, bytes):
        return text
    if not isinstance(text, str) or not text:
        return b""
    if _is_base64(content):
        try:
            return _b64(text)
        except (binascii.Error, ValueError):
            pass
    return _text_bytes(text, "response.content.text")


def _ms_to_us(value: Any, where: str) -> int:
    ms = _number(value, where, MAX_MS)
    return -1 if ms is None or ms < 0 else round(ms * 1000)


def parse_timings(raw: Any, total_ms: Any = None) -> Timings | None:
    """HAR timings (ms) to Ghost timings (µs); None when nothing was measured, or when the
    entry has the shape Ghost exports for "no timing data" (only ``wait``, equal to the
    entry's ``time``)."""
    if not isinstance(raw, dict):
        return None
    timings = Timings(
        dns_us=_ms_to_us(raw.get("dns"), "timings.dns"),
        connect_us=_ms_to_us(raw.get("connect"), "timings.connect"),
        tls_us=_ms_to_us(raw.get("ssl"), "timings.ssl"),
        send_us=_ms_to_us(raw.get("send"), "timings.send"),
        wait_us=_ms_to_us(raw.get("wait"), "timings.wait"),
        receive_us=_ms_to_us(raw.get("receive"), "timings.receive"),
    )
    values = (timings.dns_us, timings.connect_us, timings.tls_us, timings.send_us,
              timings.wait_us, timings.receive_us)
    if all(v <= 0 for v in values):
        return None
    others = (timings.dns_us, timings.connect_us, timings.tls_us, timings.send_us,
              timings.receive_us)
    if all(v < 0 for v in others) and total_ms is not None and \
            timings.wait_us == _ms_to_us(total_ms, "time"):
        return None
    if timings.tls_us >= 0 and timings.connect_us >= timings.tls_us:
        timings.connect_us -= timings.tls_us  # HAR's connect includes ssl; Ghost's does not
    return timings


def kept_entry(entry: dict[str, Any]) -> dict[str, Any]:
    """The entry without its bodies, for the exporter to write back what Ghost has no field
    for (pages, timings as given, cache, comments, custom ``_fields``...). A body's ``text``
    becomes null: "write the flow's body here"."""
    kept = dict(entry)
    kept.pop(WEBSOCKET_MESSAGES, None)  # stored as the flow's messages (see websocket_log)
    for part, holder in (("request", "postData"), ("response", "content")):
        section = kept.get(part)
        if isinstance(section, dict) and isinstance(section.get(holder), dict):
            section = kept[part] = dict(section)
            inner = section[holder] = dict(section[holder])
            if "text" in inner:
                inner["text"] = None
    try:
        orjson.dumps(kept)
    except orjson.JSONEncodeError as exc:
        raise ValueError(f"holds a value Ghost cannot store: {exc}") from None
    return kept


def _error_of(resp_raw: dict[str, Any]) -> str:
    """A status-0 response's statusText is the error unless it is a reason phrase ("OK")."""
    text = str(resp_raw.get("statusText") or "")
    return "" if text in _REASONS else text


def har_entry_to_flow(entry: Any, page: dict[str, Any] | None = None) -> Flow:
    """One HAR entry as a Ghost flow (id and session left empty); ValueError says why not.
    The entry itself (bodies left out) and its page stay in the flow's metadata."""
    if not isinstance(entry, dict):
        raise ValueError("entry is not a JSON object")
    req = entry.get("request")
    if not isinstance(req, dict):
        raise ValueError("missing request")
    url = req.get("url")
    if not isinstance(url, str) or not url:
        raise ValueError("missing request URL")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise ValueError(f"invalid URL {url[:200]!r}") from None
    if parts.scheme not in ("http", "https", "ws", "wss") or not parts.hostname:
        raise ValueError(f"invalid URL {url[:200]!r}")
    method = req.get("method")
    if method is not None and not isinstance(method, str):
        raise ValueError(f"request method must be a string, not {method!r}")
    body = _request_body(req.get("postData"))
    request = Request(
        method=method or "GET",
        url=url,
        scheme=parts.scheme,
        host=parts.hostname,
        port=port or (443 if parts.scheme in ("https", "wss") else 80),
        path=parts.path or "/",
        http_version=str(req.get("httpVersion") or "HTTP/1.1"),
        headers=_headers(req.get("headers"), "request"),
        body=body,
        body_size=max(_size(req.get("bodySize"), "request.bodySize"), len(body)),
    )
    resp_raw = entry.get("response")
    response = None
    error = str(entry.get("_error") or "")
    if isinstance(resp_raw, dict):
        raw_status = resp_raw.get("status") or 0
        number = _number(raw_status, "response.status", 999)
        if number is None:
            raise ValueError(f"response status {str(raw_status)[:40]!r} is not a number")
        status = int(number)
        if status > 0:
            content = resp_raw.get("content")
            rbody = _response_body(content)
            size = _size(content.get("size"), "response.content.size") if isinstance(content, dict) else 0
            response = Response(
                status_code=status,
                status_text=str(resp_raw.get("statusText") or ""),
                http_version=str(resp_raw.get("httpVersion") or "HTTP/1.1"),
                headers=_headers(resp_raw.get("headers"), "response"),
                body=rbody,
                body_size=max(size, len(rbody)),
            )
        elif not error:
            error = _error_of(resp_raw)
    # Ghost's export writes its own duration as _duration when it is not HAR's time
    ms = _number(entry.get("_duration", entry.get("time")), "time", MAX_MS)
    duration_us = 0 if ms is None else max(round(ms * 1000), 0)
    server_ip = entry.get("serverIPAddress")
    flow = Flow(
        id="",
        session_id="",
        started_at=parse_started(entry.get("startedDateTime")),
        request=request,
        response=response,
        duration_us=duration_us,
        timings=parse_timings(entry.get("timings"), entry.get("time")),
        error=error,
        server_addr=str(server_ip) if isinstance(server_ip, str) else "",
        source="import",
        websocket=websocket_log(entry.get(WEBSOCKET_MESSAGES)),
    )
    _check_unicode(flow)
    flow.metadata[KEPT_ENTRY] = kept_entry(entry)
    if page is not None:
        flow.metadata[KEPT_PAGE] = page
    return flow


def _websocket_message(seq: int, raw: Any) -> WebSocketMessage | None:
    """One of Chrome's ``_webSocketMessages`` ({type: send|receive, time, opcode, data});
    None when it is not a text or binary message Ghost can read."""
    if not isinstance(raw, dict) or raw.get("type") not in ("send", "receive") or \
            not isinstance(raw.get("data"), str) or raw.get("opcode") not in (WEBSOCKET_TEXT, WEBSOCKET_BINARY):
        return None
    when = raw.get("time")
    if isinstance(when, bool) or not isinstance(when, int | float) or not math.isfinite(when):
        return None
    try:
        data = base64.b64decode(raw["data"], validate=True) if raw["opcode"] == WEBSOCKET_BINARY \
            else raw["data"].encode("utf-8")
    except (binascii.Error, ValueError, UnicodeEncodeError):
        return None
    return WebSocketMessage(seq, raw["type"] == "send", raw["opcode"], float(when), data)


def websocket_log(raw: Any, max_messages: int = MAX_WEBSOCKET_MESSAGES) -> WebSocketLog | None:
    """An entry's ``_webSocketMessages`` as the flow's messages: at most `max_messages`;
    the rest, and those that are not text or binary messages, count as dropped."""
    if not isinstance(raw, list):
        return None
    read = [_websocket_message(seq, item) for seq, item in enumerate(raw[:max_messages])]
    messages = tuple(m for m in read if m is not None)
    return WebSocketLog(messages, dropped=len(raw) - len(messages))


def _check_unicode(flow: Flow) -> None:
    """A lone UTF-16 surrogate (``"\\ud800"``) is valid JSON but not Unicode: the store
    cannot keep it, so the entry is skipped with the field named."""
    texts = [("request.method", flow.request.method), ("request.url", flow.request.url),
             ("request.httpVersion", flow.request.http_version), ("_error", flow.error),
             ("serverIPAddress", flow.server_addr)]
    texts += [("request.headers", text) for pair in flow.request.headers for text in pair]
    if flow.response is not None:
        texts += [("response.statusText", flow.response.status_text),
                  ("response.httpVersion", flow.response.http_version)]
        texts += [("response.headers", text) for pair in flow.response.headers for text in pair]
    for where, text in texts:
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise ValueError(f"{where} holds a lone UTF-16 surrogate "
                             f"({text[exc.start]!r}), which is not valid Unicode") from None


TAIL_BYTES = 64 * 1024  # pages after the entries are looked for when named in this tail


def read_pages(path: Path) -> Iterator[dict[str, dict[str, Any]] | None]:
    """``log.pages`` by id (the last item yielded; None before, to give the loop a turn).
    Browsers write pages before the entries: the read stops at ``log.entries`` unless the
    file's tail names ``"pages"`` (Ghost's export writes them last, once it knows them)."""
    with open(path, "rb") as fh:
        fh.seek(max(path.stat().st_size - TAIL_BYTES, 0))
        pages_after = b'"pages"' in fh.read()
    pages: dict[str, dict[str, Any]] = {}
    builder: ijson.ObjectBuilder | None = None
    depth = 0
    key_at_2 = ""
    with open(path, "rb") as fh:
        for n, (event, value) in enumerate(ijson.basic_parse(fh, use_float=True)):
            if n % 5000 == 0:
                yield None
            if event in ("start_map", "start_array"):
                depth += 1
                if depth == 3 and key_at_2 == "entries" and event == "start_array" and \
                        not pages_after:
                    break
                if depth == 4 and key_at_2 == "pages" and event == "start_map":
                    builder = ijson.ObjectBuilder()
            elif event in ("end_map", "end_array"):
                depth -= 1
            elif event == "map_key" and depth == 2:
                key_at_2 = value
            if builder is not None:
                builder.event(event, value)
                if depth == 3 and event == "end_map":
                    page = builder.value
                    if isinstance(page, dict) and isinstance(page.get("id"), str):
                        pages[page["id"]] = page
                    builder = None
    yield pages


def _decode_bodies(entry: Any, spill: SpillFile) -> Iterator[InThread | None]:
    """Long bodies (placeholders) decoded to bytes in pieces, then any other long string."""
    if not isinstance(entry, dict):
        return
    for part, holder in (("request", "postData"), ("response", "content")):
        section = entry.get(part)
        inner = section.get(holder) if isinstance(section, dict) else None
        if isinstance(inner, dict) and (spilled := spill.find(inner.get("text"))) is not None:
            out: list[bytes] = []
            yield from decode_spilled(spill, spilled, _is_base64(inner), out)
            inner["text"] = out[0]
    yield from resolve_strings(spill, entry)


def har_entries(path: Path) -> Iterator[Flow | SkippedEntry | InThread | None]:
    """Flows and skipped entries; ``None`` now and then while a long body is decoded, so
    the caller can give the loop a turn, and an ``InThread`` step for its final copy."""
    spill = SpillFile(path)
    try:
        path = readable(path)
        pages: dict[str, dict[str, Any]] = {}
        try:
            for found in read_pages(path):
                if found is None:
                    yield None
                else:
                    pages = found
        except (ijson.JSONError, UnicodeDecodeError):
            pass  # the slow parser's territory (the scan passed); pages are a nicety
        for index, entry in enumerate(iter_items(path, "log.entries.item")):
            try:
                yield from _decode_bodies(entry, spill)
                pageref = entry.get("pageref") if isinstance(entry, dict) else None
                page = pages.get(pageref) if isinstance(pageref, str) else None
                yield har_entry_to_flow(entry, page)
            except ValueError as exc:
                yield SkippedEntry(index, str(exc))
    finally:
        spill.close()


HAR_IMPORTER = Importer(name="har", title="HAR", scan=scan_har, entries=har_entries)
