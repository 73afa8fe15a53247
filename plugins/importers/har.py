"""HAR 1.2 import: each entry becomes a flow, bad entries are skipped with a reason.

The file is read incrementally (ijson, C backend), never loaded whole.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import ijson

from ghost_addons.model import (
    Flow,
    Headers,
    Request,
    Response,
    Timings,
    is_text_content_type,
    parse_time,
)
from plugins.importers.contract import Importer, ImportRejected, SkippedEntry

PROGRESS_EVERY = 200
_STRUCTURE_EVENTS_MAX = 100_000  # events read while looking for log.entries


def json_error_text(exc: Exception) -> str:
    """ijson's (yajl's) message without its multi-line ASCII-art pointer."""
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def _json_error(exc: Exception) -> ImportRejected:
    return ImportRejected(f"the file is not complete, valid JSON ({json_error_text(exc)}); "
                          "was it truncated or cut off during download?")


def scan_har(path: Path) -> Iterator[int]:
    """Check that the file is a complete HAR document; yield the entry count as it grows."""
    if path.stat().st_size == 0:
        raise ImportRejected("the file is empty")
    with open(path, "rb") as fh:
        events = ijson.parse(fh, use_float=True)
        try:
            first = next(events, None)
            if first is None:
                raise ImportRejected("the file is empty")
            if first[1] != "start_map":
                raise ImportRejected(
                    f"a HAR file is a JSON object with a \"log\" key; this file starts with a "
                    f"JSON {first[1].replace('start_', '')}")
            found = False
            for n, (prefix, event, _value) in enumerate(events):
                if prefix == "log.entries" and event == "start_array":
                    found = True
                    break
                if prefix == "log" and event not in ("start_map", "map_key", "end_map"):
                    raise ImportRejected("\"log\" must be an object holding \"entries\"")
                if n > _STRUCTURE_EVENTS_MAX:
                    break
            if not found:
                raise ImportRejected("not a HAR file: no \"log\".\"entries\" array found")
        except (ijson.JSONError, ijson.IncompleteJSONError) as exc:
            raise _json_error(exc) from None
    with open(path, "rb") as fh:
        count = 0
        try:
            for _entry in ijson.items(fh, "log.entries.item", use_float=True):
                count += 1
                if count % PROGRESS_EVERY == 0:
                    yield count
        except (ijson.JSONError, ijson.IncompleteJSONError) as exc:
            raise _json_error(exc) from None
        yield count


def parse_started(value: Any) -> datetime:
    """RFC 3339 with nanoseconds, RFC 3339, or ISO 8601 with milliseconds; now if none."""
    if isinstance(value, str) and value:
        try:
            return parse_time(value)
        except ValueError:
            pass
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


def _size(value: Any) -> int:
    try:
        return max(int(value), 0)
    except (TypeError, ValueError):
        return 0


def _b64(text: str) -> bytes:
    return base64.b64decode(text, validate=True)


def _request_body(post: Any) -> bytes:
    if not isinstance(post, dict):
        return b""
    text = post.get("text")
    if not isinstance(text, str) or not text:
        return b""
    mime = str(post.get("mimeType") or "")
    if str(post.get("encoding") or "").lower() == "base64" or (
            mime and not is_text_content_type(mime)):
        try:
            return _b64(text)
        except (binascii.Error, ValueError):
            pass
    return text.encode("utf-8", errors="surrogateescape")


def _response_body(content: Any) -> bytes:
    if not isinstance(content, dict):
        return b""
    text = content.get("text")
    if not isinstance(text, str) or not text:
        return b""
    if str(content.get("encoding") or "").lower() == "base64":
        try:
            return _b64(text)
        except (binascii.Error, ValueError):
            pass
    return text.encode("utf-8", errors="surrogateescape")


def _ms_to_us(value: Any) -> int:
    try:
        ms = float(value)
    except (TypeError, ValueError):
        return -1
    return -1 if ms < 0 else round(ms * 1000)


def parse_timings(raw: Any, total_ms: Any = None) -> Timings | None:
    """HAR timings (ms) to Ghost timings (µs); None when nothing was measured, or when the
    entry has the shape Ghost exports for "no timing data" (only ``wait``, equal to the
    entry's ``time``)."""
    if not isinstance(raw, dict):
        return None
    timings = Timings(
        dns_us=_ms_to_us(raw.get("dns")),
        connect_us=_ms_to_us(raw.get("connect")),
        tls_us=_ms_to_us(raw.get("ssl")),
        send_us=_ms_to_us(raw.get("send")),
        wait_us=_ms_to_us(raw.get("wait")),
        receive_us=_ms_to_us(raw.get("receive")),
    )
    values = (timings.dns_us, timings.connect_us, timings.tls_us, timings.send_us,
              timings.wait_us, timings.receive_us)
    if all(v <= 0 for v in values):
        return None
    others = (timings.dns_us, timings.connect_us, timings.tls_us, timings.send_us,
              timings.receive_us)
    if all(v < 0 for v in others) and total_ms is not None and \
            timings.wait_us == _ms_to_us(total_ms):
        return None
    return timings


def har_entry_to_flow(entry: Any) -> Flow:
    """One HAR entry as a Ghost flow (id and session left empty); ValueError says why not."""
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
        body_size=max(_size(req.get("bodySize")), len(body)),
    )
    resp_raw = entry.get("response")
    response = None
    error = str(entry.get("_error") or "")
    if isinstance(resp_raw, dict):
        try:
            status = int(resp_raw.get("status") or 0)
        except (TypeError, ValueError):
            raise ValueError(f"response status {resp_raw.get('status')!r} is not a number") from None
        if status > 0:
            content = resp_raw.get("content")
            rbody = _response_body(content)
            size = _size(content.get("size")) if isinstance(content, dict) else 0
            response = Response(
                status_code=status,
                status_text=str(resp_raw.get("statusText") or ""),
                http_version=str(resp_raw.get("httpVersion") or "HTTP/1.1"),
                headers=_headers(resp_raw.get("headers"), "response"),
                body=rbody,
                body_size=max(size, len(rbody)),
            )
        elif not error:
            text = str(resp_raw.get("statusText") or "")
            error = "" if text == "No Response" else text
    try:
        duration_us = max(round(float(entry.get("time") or 0) * 1000), 0)
    except (TypeError, ValueError):
        duration_us = 0
    server_ip = entry.get("serverIPAddress")
    return Flow(
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
    )


def har_entries(path: Path) -> Iterator[Flow | SkippedEntry]:
    with open(path, "rb") as fh:
        for index, entry in enumerate(ijson.items(fh, "log.entries.item", use_float=True)):
            try:
                yield har_entry_to_flow(entry)
            except ValueError as exc:
                yield SkippedEntry(index, str(exc))


HAR_IMPORTER = Importer(name="har", title="HAR", scan=scan_har, entries=har_entries)
