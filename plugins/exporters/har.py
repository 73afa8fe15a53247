"""HAR 1.2 writer that streams: one JSON chunk per entry, never the whole document.

Header bytes that are not UTF-8 are shown as U+FFFD in ``name``/``value``, with the exact
bytes in the custom fields ``_name_base64``/``_value_base64`` (HAR's ``_`` prefix); any other
such text (a cookie, a URL) is shown with U+FFFD.

Bodies follow Ghost's text detection (``ghost_addons.model.encode_body``): text types that
are valid UTF-8 are written as-is, everything else as base64 with ``"encoding": "base64"``
(on ``content`` as HAR defines, and on ``postData`` as an extension Ghost's importer reads).
"""

from __future__ import annotations

import base64
import ipaddress
from collections.abc import Iterable, Iterator, Sequence
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import orjson

from ghost_addons.model import (
    WEBSOCKET_TEXT,
    Flow,
    Headers,
    WebSocketLog,
    encode_body,
    format_time,
    header_to_json,
    header_value,
)
from ghost_addons.pages import PageTracker
from plugins.exporters.contract import Exporter, ExportInfo, dumps_entry, ms
from plugins.exporters.har_schema import repair

HAR_CREATOR = {"name": "Ghost", "version": "1.0"}
# What the HAR importer keeps in a flow's metadata (a literal here: plugins do not import
# each other): the entry as imported without its bodies, and the page its pageref names.
KEPT_ENTRY = "har_entry"
KEPT_PAGE = "har_page"


def _header(name: str, value: str) -> dict[str, str]:
    item = header_to_json(name, value)
    return item if len(item) == 2 else {k if k in ("name", "value") else f"_{k}": v for k, v in item.items()}


def _headers(headers: Headers) -> list[dict[str, str]]:
    return [_header(k, v) for k, v in headers]


def request_cookies(headers: Headers) -> list[dict[str, Any]]:
    """Name/value pairs from every Cookie header."""
    cookies: list[dict[str, Any]] = []
    for key, value in headers:
        if key.lower() != "cookie":
            continue
        for part in value.split(";"):
            name, sep, val = part.strip().partition("=")
            if name and sep:
                cookies.append({"name": name, "value": val})
    return cookies


def response_cookies(headers: Headers) -> list[dict[str, Any]]:
    """Cookies from Set-Cookie headers with path, domain, expires, httpOnly, secure."""
    cookies: list[dict[str, Any]] = []
    for key, value in headers:
        if key.lower() != "set-cookie":
            continue
        first, *attrs = value.split(";")
        name, sep, val = first.strip().partition("=")
        if not name or not sep:
            continue
        cookie: dict[str, Any] = {"name": name, "value": val}
        for attr in attrs:
            aname, _, aval = attr.strip().partition("=")
            lname = aname.lower()
            if lname == "path":
                cookie["path"] = aval
            elif lname == "domain":
                cookie["domain"] = aval
            elif lname == "expires":
                try:
                    cookie["expires"] = format_time(parsedate_to_datetime(aval))
                except (TypeError, ValueError, IndexError):
                    pass
            elif lname == "httponly":
                cookie["httpOnly"] = True
            elif lname == "secure":
                cookie["secure"] = True
        cookies.append(cookie)
    return cookies


def _query(url: str) -> list[dict[str, str]]:
    query = urlsplit(url).query
    if not query:
        return []
    return [{"name": k, "value": v} for k, v in parse_qsl(query, keep_blank_values=True)]


def _server_ip(server_addr: str) -> str | None:
    """'127.0.0.1:8080' or '[::1]:443' -> the IP, None when not an IP literal."""
    host = server_addr
    if host.startswith("["):
        host = host[1:].partition("]")[0]
    elif host.count(":") == 1:
        host = host.partition(":")[0]
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return None


def _timings(flow: Flow) -> dict[str, float]:
    """The six phases Ghost measures (``blocked`` is optional in HAR and Ghost has none).
    HAR's ``connect`` includes ``ssl`` (HAR 1.2, for HAR 1.1 readers); Ghost's does not."""
    t = flow.timings
    if t is None:
        return {"dns": -1, "connect": -1, "ssl": -1, "send": -1,
                "wait": flow.duration_ms, "receive": -1}
    connect = t.connect_us + t.tls_us if t.connect_us >= 0 and t.tls_us >= 0 else t.connect_us
    return {
        "dns": ms(t.dns_us),
        "connect": ms(connect),
        "ssl": ms(t.tls_us),
        "send": ms(t.send_us),
        "wait": ms(t.wait_us),
        "receive": ms(t.receive_us),
    }


def entry_time(timings: dict[str, float]) -> float:
    """HAR's ``time``: the sum of the phases that were measured (not -1), as waterfall
    viewers draw it. ``ssl`` is already inside ``connect`` (HAR 1.2), so not added again."""
    total = sum(value for name, value in timings.items() if name != "ssl" and value >= 0)
    return round(total, 3)


def _body_into(holder: dict[str, Any], body: bytes) -> None:
    """Put the flow's body back where the imported entry had its text, in the encoding the
    entry used (base64 only if it said so, or if the bytes are not UTF-8)."""
    if str(holder.get("encoding") or "").lower() == "base64":
        holder["text"] = base64.b64encode(body).decode("ascii")
        return
    try:
        holder["text"] = body.decode("utf-8")
    except UnicodeDecodeError:
        holder["text"] = base64.b64encode(body).decode("ascii")
        holder["encoding"] = "base64"


def kept_entry(flow: Flow) -> dict[str, Any] | None:
    """The imported entry, bodies put back, when the flow came from a HAR file: every
    field as the file had it, custom ``_fields`` and all (repaired where the file was not
    valid HAR, see har_schema)."""
    kept = flow.metadata.get(KEPT_ENTRY) if flow.metadata else None
    if not isinstance(kept, dict) or not isinstance(kept.get("request"), dict):
        return None
    entry = dict(kept)
    for part, holder, message in (("request", "postData", flow.request),
                                  ("response", "content", flow.response)):
        section = entry.get(part)
        if isinstance(section, dict) and isinstance(section.get(holder), dict):
            inner = dict(section[holder])
            if "text" in inner and message is not None:
                _body_into(inner, message.body)
            entry[part] = {**section, holder: inner}
    return repair(entry, "entry", built_entry(flow))


def har_entry(flow: Flow) -> dict[str, Any]:
    """One HAR 1.2 entry for a flow (every array present, never null); an imported entry
    as it was imported."""
    kept = kept_entry(flow)
    entry = kept if kept is not None else built_entry(flow)
    if flow.websocket is not None:
        entry["_webSocketMessages"] = websocket_messages(flow.websocket)
    return entry


def websocket_messages(log: WebSocketLog) -> list[dict[str, Any]]:
    """A WebSocket flow's messages as Chrome writes them: {type: send|receive, time (seconds
    since the epoch), opcode (1 text, 2 binary), data (text, or binary as base64)}."""
    return [{"type": "send" if m.from_client else "receive", "time": m.timestamp, "opcode": m.opcode,
             "data": m.content.decode("utf-8", "replace") if m.opcode == WEBSOCKET_TEXT
             else base64.b64encode(m.content).decode("ascii")} for m in log.messages]


def built_entry(flow: Flow) -> dict[str, Any]:
    """The entry Ghost writes from the flow's own fields."""
    req = flow.request
    entry_request: dict[str, Any] = {
        "method": req.method,
        "url": req.url,
        "httpVersion": req.http_version,
        "cookies": request_cookies(req.headers),
        "headers": _headers(req.headers),
        "queryString": _query(req.url),
        "headersSize": -1,
        "bodySize": req.body_size,
    }
    if req.body or req.body_size:
        mime = req.content_type
        text, encoding = encode_body(req.body, mime)
        post: dict[str, Any] = {"mimeType": mime, "text": text, "params": []}
        if encoding == "base64":
            post["encoding"] = "base64"
        entry_request["postData"] = post

    resp = flow.response
    if resp is not None and resp.status_code > 0:
        mime = resp.content_type
        text, encoding = encode_body(resp.body, mime)
        content: dict[str, Any] = {"size": resp.body_size, "mimeType": mime, "text": text}
        if encoding == "base64":
            content["encoding"] = "base64"
        entry_response: dict[str, Any] = {
            "status": resp.status_code,
            "statusText": resp.status_text,
            "httpVersion": resp.http_version,
            "cookies": response_cookies(resp.headers),
            "headers": _headers(resp.headers),
            "content": content,
            "redirectURL": header_value(resp.headers, "location"),
            "headersSize": -1,
            "bodySize": resp.body_size,
        }
    else:
        entry_response = {
            "status": 0,
            "statusText": flow.error or "No Response",
            "httpVersion": "",
            "cookies": [],
            "headers": [],
            "content": {"size": 0, "mimeType": ""},
            "redirectURL": "",
            "headersSize": -1,
            "bodySize": -1,
        }
    timings = _timings(flow)
    entry: dict[str, Any] = {
        "startedDateTime": format_time(flow.started_at),
        "time": entry_time(timings) if flow.timings else max(flow.duration_ms, 0),
        "request": entry_request,
        "response": entry_response,
        "cache": {},
        "timings": timings,
    }
    if flow.timings and entry["time"] != max(flow.duration_ms, 0):
        # Ghost's own duration (request start to response end) when it is not the sum of
        # the phases, so that a re-import keeps it
        entry["_duration"] = max(flow.duration_ms, 0)
    ip = _server_ip(flow.server_addr)
    if ip:
        entry["serverIPAddress"] = ip
    if flow.error:
        entry["_error"] = flow.error
    return entry


class HarWriter:
    """Streams ``{"log": {..., "entries": [`` entry, entry ... ``], "pages": [...]}}``:
    the pages come last, once every entry has named its own (HAR does not order keys).
    An imported entry keeps the page it came with; a captured flow's page is the browser
    page it belongs to (``ghost_addons.pages``: navigations start pages)."""

    def __init__(self, info: ExportInfo) -> None:
        self.info = info
        self.count = 0
        self.pages: dict[str, dict[str, Any]] = {}
        self.browser_pages = PageTracker()

    def _head(self) -> bytes:
        head = orjson.dumps({"version": "1.2", "creator": HAR_CREATOR})
        # {"version":..,"creator":..} -> {"log":{"version":..,"creator":..,"entries":[
        return b'{"log":' + head[:-1] + b',"entries":[\n'

    def _page(self, flow: Flow) -> None:
        page = flow.metadata.get(KEPT_PAGE) if flow.metadata else None
        if isinstance(page, dict) and isinstance(page.get("id"), str) and \
                page["id"] not in self.pages:
            fallback = {"startedDateTime": format_time(flow.started_at), "title": page["id"]}
            self.pages[page["id"]] = repair(page, "page", fallback)

    def write(self, flows: Sequence[Flow]) -> Iterator[bytes]:
        for flow in flows:
            self._page(flow)
            entry = har_entry(flow)
            if not (flow.metadata and isinstance(flow.metadata.get(KEPT_ENTRY), dict)):
                page = self.browser_pages.page_of(flow)
                if page is not None:
                    entry["pageref"] = page
            chunk = dumps_entry(entry)
            if self.count == 0:
                yield self._head() + chunk
            else:
                yield b",\n" + chunk
            self.count += 1

    def close(self) -> Iterator[bytes]:
        if self.count == 0:
            yield self._head()
        pages = [*self.pages.values(), *self.browser_pages.pages()]
        yield b"\n],\"pages\":" + orjson.dumps(pages) + b"}}\n"


def har_document(flows: Iterable[Flow], info: ExportInfo | None = None) -> Iterator[bytes]:
    """The whole HAR file as a stream of chunks, one per entry."""
    writer = HarWriter(info or ExportInfo(session_id="", session_name="session"))
    for flow in flows:
        yield from writer.write((flow,))
    yield from writer.close()


HAR_EXPORTER = Exporter(
    name="har",
    title="HAR",
    extension="har",
    content_type="application/json; charset=utf-8",
    artifact_format="har",
    open=HarWriter,
)
