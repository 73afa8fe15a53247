"""Ghost's records: a captured flow, its request, response and timings.

A `Flow` is what the store keeps and what every exporter, importer, code generator
and plugin reads. Bodies are bytes here; `Flow.to_dict()` is the one JSON shape the API,
the WebSocket events and the Ghost JSON export use, and `Flow.from_dict()` reads it back.

JSON shape (`to_dict()`)::

    {
      "id": "01J...",                 # ULID, time-ordered
      "session_id": "01J...",
      "started_at": "2026-11-25T10:00:00.123456Z",
      "duration_ms": 12.5,            # request start to response end (0 when unknown)
      "source": "proxy",              # proxy | replay | import | script
      "request": {
        "method": "POST", "url": "https://h:8443/a?b=1", "scheme": "https",
        "host": "h", "port": 8443, "path": "/a", "http_version": "HTTP/1.1",
        "headers": [{"name": "Content-Type", "value": "application/json"}],
        "body": "...", "body_encoding": "utf8" | "base64",
        "body_size": 123,             # original size on the wire (decoded)
        "body_truncated": false       # true when store.max_flow_body_size cut it
      },
      "response": null | {
        "status_code": 200, "status_text": "OK", "http_version": "HTTP/1.1",
        "headers": [...], "body": "...", "body_encoding": "utf8", "body_size": 2,
        "body_truncated": false, "content_type": "application/json"
      },
      "timings": null | {"dns_ms": -1, "connect_ms": 0.3, "tls_ms": -1,
                          "send_ms": 0.1, "wait_ms": 5.0, "receive_ms": 0.2},
      "error": "",                    # e.g. "Connection refused"
      "client_addr": "127.0.0.1:5123", "server_addr": "127.0.0.1:8080",
      "tags": ["error"], "metadata": {"key": "value"},
      "interaction_id": "", "annotation": "",
      "websocket": {...}              # only on a WebSocket flow whose messages were read
                                      # with it (exports, imports): see WebSocketLog
    }

Header bytes: names and values are held as mitmproxy holds them, decoded as UTF-8 with
``surrogateescape``, so a byte that is not UTF-8 (a 0xff from a client or a hostile server)
survives as a lone surrogate and `header_bytes()` gives the original bytes back. JSON cannot
carry lone surrogates, so such a header is written as
``{"name": ..., "value": ..., "name_base64": ..., "value_base64": ...}``: ``name``/``value``
show the text with U+FFFD for the bad bytes, the ``*_base64`` fields (present only then)
hold the exact bytes, and `from_dict()` prefers them. The store keeps the same bytes.

Path is the URL path without the query. Timings are -1 where mitmproxy could not
measure a phase (DNS is never separated from connect by mitmproxy; a reused connection
has no connect or TLS phase).
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

FLOW_SOURCES = ("proxy", "replay", "import", "script")

Headers = list[tuple[str, str]]

_TEXT_TYPES = (
    "application/json",
    "application/xml",
    "application/javascript",
    "application/ecmascript",
    "application/x-javascript",
    "application/graphql",
    "application/x-www-form-urlencoded",
    "application/x-ndjson",
    "application/ld+json",
    "application/soap+xml",
    "application/yaml",
    "application/x-yaml",
    "application/toml",
    "image/svg+xml",
)


def is_text_content_type(content_type: str) -> bool:
    """True for content types whose bodies are text (stored and exported as-is)."""
    mime = content_type.split(";", 1)[0].strip().lower()
    if not mime:
        return False
    return (
        mime.startswith("text/")
        or mime in _TEXT_TYPES
        or mime.endswith("+json")
        or mime.endswith("+xml")
    )


def header_value(headers: Headers, name: str, default: str = "") -> str:
    """The first value of a header, compared case-insensitively."""
    lname = name.lower()
    for key, value in headers:
        if key.lower() == lname:
            return value
    return default


def encode_body(body: bytes, content_type: str) -> tuple[str, str]:
    """(text, encoding) for JSON: utf8 when the body is text and valid UTF-8, else base64."""
    if not body:
        return "", "utf8"
    if is_text_content_type(content_type) or not content_type:
        try:
            return body.decode("utf-8"), "utf8"
        except UnicodeDecodeError:
            pass
    return base64.b64encode(body).decode("ascii"), "base64"


def _raw_body(raw: dict[str, Any]) -> str | bytes:
    body = raw.get("body") or ""
    return body if isinstance(body, bytes) else str(body)


def decode_body(text: str | bytes, encoding: str) -> bytes:
    """Inverse of `encode_body`; raises ValueError on bad base64. Bytes with the encoding
    "bytes" are a body an importer already decoded (off the event loop)."""
    if encoding == "bytes" and isinstance(text, bytes):
        return text
    if encoding == "base64":
        try:
            return base64.b64decode(text, validate=True)
        except binascii.Error as e:
            raise ValueError(f"body is not valid base64: {e}") from None
    if encoding not in ("utf8", "", None):
        raise ValueError(f"unknown body_encoding {encoding!r}; use 'utf8' or 'base64'")
    return text.encode("utf-8")


_RFC3339 = "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ"


def format_time(moment: datetime) -> str:
    """RFC 3339 in UTC with microseconds, e.g. 2026-11-25T10:00:00.123456Z."""
    if moment.tzinfo is not UTC:
        moment = moment.astimezone(UTC)
    # Twice a stored flow: %-formatting the fields is twice as fast as isoformat(timespec=...)
    # and five times strftime.
    return _RFC3339 % (moment.year, moment.month, moment.day, moment.hour, moment.minute, moment.second,
                       moment.microsecond)


def parse_time(text: str) -> datetime:
    """Parse RFC 3339 / ISO 8601 (fractions of any length, Z or offset); ValueError if not."""
    value = text.strip()
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    # Python accepts at most 6 fractional digits: cut nanoseconds down.
    if "." in value:
        head, _, rest = value.partition(".")
        digits = ""
        while rest and rest[0].isdigit():
            digits, rest = digits + rest[0], rest[1:]
        value = f"{head}.{(digits + '000000')[:6]}{rest}"
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def header_bytes(text: str) -> bytes:
    """The bytes a header name or value came as (see the module docstring)."""
    return text.encode("utf-8", "surrogateescape")


def header_text(raw: bytes) -> str:
    """Header bytes as Ghost holds them: UTF-8, other bytes as lone surrogates."""
    return raw.decode("utf-8", "surrogateescape")


def has_surrogates(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def header_to_json(name: str, value: str) -> dict[str, str]:
    """One header as JSON: ``{name, value}``, plus ``name_base64``/``value_base64`` holding the
    exact bytes when they are not UTF-8 (see the module docstring)."""
    item = {"name": name, "value": value}
    if has_surrogates(name) or has_surrogates(value):
        item = {"name": header_bytes(name).decode("utf-8", "replace"),
                "value": header_bytes(value).decode("utf-8", "replace")}
        if has_surrogates(name):
            item["name_base64"] = base64.b64encode(header_bytes(name)).decode("ascii")
        if has_surrogates(value):
            item["value_base64"] = base64.b64encode(header_bytes(value)).decode("ascii")
    return item


def without_surrogates(value: Any) -> Any:
    """A JSON value with every lone surrogate (a header byte that was not UTF-8) shown as
    U+FFFD, for formats that hold text only."""
    if isinstance(value, str):
        return header_bytes(value).decode("utf-8", "replace") if has_surrogates(value) else value
    if isinstance(value, dict):
        return {without_surrogates(k): without_surrogates(v) for k, v in value.items()}
    if isinstance(value, list):
        return [without_surrogates(v) for v in value]
    return value


def _headers_to_json(headers: Headers) -> list[dict[str, str]]:
    return [header_to_json(k, v) for k, v in headers]


def _header_field(item: dict[str, Any], key: str) -> str:
    encoded = item.get(f"{key}_base64")
    if encoded is not None:
        try:
            return header_text(base64.b64decode(str(encoded), validate=True))
        except binascii.Error as e:
            raise ValueError(f"header {key}_base64 is not valid base64: {e}") from None
    return str(item.get(key, ""))


def _headers_from_json(raw: Any) -> Headers:
    if raw is None:
        return []
    if isinstance(raw, dict):  # {"Name": "v"} or {"Name": ["v1", "v2"]}
        pairs: Headers = []
        for k, v in raw.items():
            for item in v if isinstance(v, list) else [v]:
                pairs.append((str(k), str(item)))
        return pairs
    if not isinstance(raw, list):
        raise ValueError("headers must be a list of {name, value} objects")
    pairs = []
    for item in raw:
        if isinstance(item, dict) and ("name" in item or "name_base64" in item):
            pairs.append((_header_field(item, "name"), _header_field(item, "value")))
        elif isinstance(item, (list, tuple)) and len(item) == 2:
            pairs.append((str(item[0]), str(item[1])))
        else:
            raise ValueError(f"bad header entry {item!r}; expected {{name, value}}")
    return pairs


@dataclass(slots=True)
class Request:
    method: str
    url: str
    scheme: str = "http"
    host: str = ""
    port: int = 0
    path: str = "/"
    http_version: str = "HTTP/1.1"
    headers: Headers = field(default_factory=list)
    body: bytes = b""
    body_size: int = 0

    @property
    def content_type(self) -> str:
        return header_value(self.headers, "content-type")

    def to_dict(self, include_body: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {
            "method": self.method,
            "url": self.url,
            "scheme": self.scheme,
            "host": self.host,
            "port": self.port,
            "path": self.path,
            "http_version": self.http_version,
            "headers": _headers_to_json(self.headers),
            "body_size": self.body_size,
            "body_truncated": len(self.body) < self.body_size,
        }
        if include_body:
            out["body"], out["body_encoding"] = encode_body(self.body, self.content_type)
        return out

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Request:
        method = str(raw.get("method") or "")
        url = str(raw.get("url") or "")
        if not method:
            raise ValueError("request has no method")
        if not url:
            raise ValueError("request has no url")
        parts = urlsplit(url)
        if not parts.scheme or not parts.hostname:
            raise ValueError(f"invalid URL {url!r}")
        body = decode_body(_raw_body(raw), raw.get("body_encoding") or "utf8")
        return cls(
            method=method,
            url=url,
            scheme=parts.scheme,
            host=str(raw.get("host") or parts.hostname),
            port=int(raw.get("port") or parts.port or (443 if parts.scheme == "https" else 80)),
            path=str(raw.get("path") or parts.path or "/"),
            http_version=str(raw.get("http_version") or "HTTP/1.1"),
            headers=_headers_from_json(raw.get("headers")),
            body=body,
            body_size=max(int(raw.get("body_size") or 0), len(body)),
        )


@dataclass(slots=True)
class Response:
    status_code: int
    status_text: str = ""
    http_version: str = "HTTP/1.1"
    headers: Headers = field(default_factory=list)
    body: bytes = b""
    body_size: int = 0

    @property
    def content_type(self) -> str:
        return header_value(self.headers, "content-type")

    def to_dict(self, include_body: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {
            "status_code": self.status_code,
            "status_text": self.status_text,
            "http_version": self.http_version,
            "headers": _headers_to_json(self.headers),
            "body_size": self.body_size,
            "body_truncated": len(self.body) < self.body_size,
            "content_type": self.content_type,
        }
        if include_body:
            out["body"], out["body_encoding"] = encode_body(self.body, self.content_type)
        return out

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Response:
        body = decode_body(_raw_body(raw), raw.get("body_encoding") or "utf8")
        return cls(
            status_code=int(raw.get("status_code") or 0),
            status_text=str(raw.get("status_text") or ""),
            http_version=str(raw.get("http_version") or "HTTP/1.1"),
            headers=_headers_from_json(raw.get("headers")),
            body=body,
            body_size=max(int(raw.get("body_size") or 0), len(body)),
        )


TIMING_PHASES = ("dns", "connect", "tls", "send", "wait", "receive")


@dataclass(slots=True)
class Timings:
    """Phase durations in microseconds; -1 means not measured."""

    dns_us: int = -1
    connect_us: int = -1
    tls_us: int = -1
    send_us: int = -1
    wait_us: int = -1
    receive_us: int = -1

    def to_dict(self) -> dict[str, float]:
        return {
            f"{phase}_ms": _us_to_ms(getattr(self, f"{phase}_us")) for phase in TIMING_PHASES
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Timings:
        values = {}
        for phase in TIMING_PHASES:
            ms = raw.get(f"{phase}_ms", -1)
            values[f"{phase}_us"] = -1 if ms is None or float(ms) < 0 else round(float(ms) * 1000)
        return cls(**values)


def _us_to_ms(us: int) -> float:
    return -1 if us < 0 else round(us / 1000, 3)


WEBSOCKET_TEXT = 1  # RFC 6455 opcodes, as HAR's `_webSocketMessages` carries them
WEBSOCKET_BINARY = 2


@dataclass(frozen=True, slots=True)
class WebSocketMessage:
    """One WebSocket message of a flow: `seq` is its place among all the socket's messages
    (those not stored for the caps included), `timestamp` seconds since the epoch."""

    seq: int
    from_client: bool
    opcode: int
    timestamp: float
    content: bytes

    def to_dict(self) -> dict[str, Any]:
        """Text as text (bytes that are not UTF-8 shown as U+FFFD), binary as base64."""
        text = self.opcode == WEBSOCKET_TEXT
        return {
            "seq": self.seq,
            "direction": "client_to_server" if self.from_client else "server_to_client",
            "type": "text" if text else "binary",
            "timestamp": self.timestamp,
            "size": len(self.content),
            "encoding": "utf8" if text else "base64",
            "content": self.content.decode("utf-8", "replace") if text
            else base64.b64encode(self.content).decode("ascii"),
        }

    @classmethod
    def from_dict(cls, raw: Any) -> WebSocketMessage:
        if not isinstance(raw, dict):
            raise ValueError("a WebSocket message must be an object")
        kind, content = raw.get("type"), raw.get("content")
        if kind not in ("text", "binary") or not isinstance(content, str):
            raise ValueError("a WebSocket message needs type text|binary and a string content")
        if raw.get("encoding") == "base64":
            try:
                data = base64.b64decode(content, validate=True)
            except (binascii.Error, ValueError):
                raise ValueError("a WebSocket message's base64 content is not valid base64") from None
        else:
            data = content.encode("utf-8", "surrogatepass")
        try:
            return cls(seq=int(raw.get("seq") or 0), from_client=raw.get("direction") == "client_to_server",
                       opcode=WEBSOCKET_TEXT if kind == "text" else WEBSOCKET_BINARY,
                       timestamp=float(raw.get("timestamp") or 0), content=data)
        except (TypeError, ValueError):
            raise ValueError("a WebSocket message's seq and timestamp must be numbers") from None


@dataclass(frozen=True, slots=True)
class WebSocketLog:
    """A WebSocket flow's stored messages, in order, and how many were not stored (the
    per-flow caps `store.websocket_max_messages` / `store.websocket_max_bytes`)."""

    messages: tuple[WebSocketMessage, ...] = ()
    dropped: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"messages": [m.to_dict() for m in self.messages], "dropped": self.dropped}

    @classmethod
    def from_dict(cls, raw: Any, max_messages: int) -> WebSocketLog:
        """At most `max_messages` messages are read; the rest count as dropped."""
        if not isinstance(raw, dict) or not isinstance(raw.get("messages"), list):
            raise ValueError("websocket must be an object with a list of messages")
        items = raw["messages"]
        messages = tuple(WebSocketMessage.from_dict(m) for m in items[:max_messages])
        dropped = raw.get("dropped") or 0
        if not isinstance(dropped, int) or dropped < 0:
            raise ValueError("websocket.dropped must be a count")
        return cls(messages, dropped + max(0, len(items) - max_messages))


@dataclass(slots=True)
class Flow:
    id: str
    session_id: str
    started_at: datetime
    request: Request
    response: Response | None = None
    duration_us: int = 0
    timings: Timings | None = None
    error: str = ""
    client_addr: str = ""
    server_addr: str = ""
    tags: list[str] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)
    source: str = "proxy"
    interaction_id: str = ""
    annotation: str = ""
    # Only when read with its messages (exports) or made with them (imports); the store keeps
    # them in their own table, the API serves them at /flows/{id}/websocket.
    websocket: WebSocketLog | None = None

    @property
    def duration_ms(self) -> float:
        return round(self.duration_us / 1000, 3)

    def to_dict(self, include_bodies: bool = True) -> dict[str, Any]:
        shape: dict[str, Any] = {
            "id": self.id,
            "session_id": self.session_id,
            "started_at": format_time(self.started_at),
            "duration_ms": self.duration_ms,
            "source": self.source,
            "request": self.request.to_dict(include_bodies),
            "response": self.response.to_dict(include_bodies) if self.response else None,
            "timings": self.timings.to_dict() if self.timings else None,
            "error": self.error,
            "client_addr": self.client_addr,
            "server_addr": self.server_addr,
            "tags": list(self.tags),
            "metadata": dict(self.metadata),
            "interaction_id": self.interaction_id,
            "annotation": self.annotation,
        }
        if self.websocket is not None:
            shape["websocket"] = self.websocket.to_dict()
        return shape

    @classmethod
    def from_dict(cls, raw: dict[str, Any], max_websocket_messages: int = 100_000) -> Flow:
        """Read the `to_dict()` shape; raises ValueError naming what is wrong."""
        if not isinstance(raw, dict):
            raise ValueError("flow must be a JSON object")
        request_raw = raw.get("request")
        if not isinstance(request_raw, dict):
            raise ValueError("flow has no request")
        response_raw = raw.get("response")
        timings_raw = raw.get("timings")
        started = raw.get("started_at")
        tags = raw.get("tags") or []
        metadata = raw.get("metadata") or {}
        if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
            raise ValueError("tags must be a list of strings")
        if not isinstance(metadata, dict):
            raise ValueError("metadata must be an object")
        return cls(
            id=str(raw.get("id") or ""),
            session_id=str(raw.get("session_id") or ""),
            started_at=parse_time(started) if started else datetime.now(UTC),
            request=Request.from_dict(request_raw),
            response=Response.from_dict(response_raw) if isinstance(response_raw, dict) else None,
            duration_us=round(float(raw.get("duration_ms") or 0) * 1000),
            timings=Timings.from_dict(timings_raw) if isinstance(timings_raw, dict) else None,
            error=str(raw.get("error") or ""),
            client_addr=str(raw.get("client_addr") or ""),
            server_addr=str(raw.get("server_addr") or ""),
            tags=list(tags),
            metadata=dict(metadata),
            source=str(raw.get("source") or "proxy"),
            interaction_id=str(raw.get("interaction_id") or ""),
            annotation=str(raw.get("annotation") or ""),
            websocket=WebSocketLog.from_dict(raw["websocket"], max_websocket_messages)
            if raw.get("websocket") is not None else None,
        )

    def replace(self, **changes: Any) -> Flow:
        return dataclasses.replace(self, **changes)


def flow_summary(flow: Flow) -> dict[str, Any]:
    """The list-view shape of a flow: no bodies, no headers."""
    response = flow.response
    return {
        "id": flow.id,
        "session_id": flow.session_id,
        "started_at": format_time(flow.started_at),
        "method": flow.request.method,
        "url": flow.request.url,
        "host": flow.request.host,
        "path": flow.request.path,
        "status_code": response.status_code if response else 0,
        "duration_ms": flow.duration_ms,
        "request_size": flow.request.body_size,
        "response_size": response.body_size if response else 0,
        "content_type": response.content_type if response else "",
        "tags": list(flow.tags),
        "source": flow.source,
        "error": flow.error,
        "interaction_id": flow.interaction_id,
    }
