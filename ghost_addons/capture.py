"""Turning a mitmproxy HTTPFlow into Ghost's `Flow` record, and the per-flow marks
(id, tags, metadata, source, interaction id) plugins leave on the live flow."""

from __future__ import annotations

import asyncio
import base64
import binascii
import time
import zlib
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

import brotli
from mitmproxy import http

from ghost_addons.ids import new_id
from ghost_addons.model import Flow, Request, Response, Timings

# Keys in mitmproxy's flow.metadata that Ghost reads when it stores the flow.
ID_KEY = "ghost_id"
TAGS_KEY = "ghost_tags"
METADATA_KEY = "ghost_metadata"
SOURCE_KEY = "ghost_source"
INTERACTION_KEY = "ghost_interaction_id"
INTERACTION_HEADER = "X-Ghost-Interaction"
_INTERACTION_HEADER_RAW = INTERACTION_HEADER.lower().encode()


def flow_id(flow: http.HTTPFlow) -> str:
    """Ghost's ULID for a live flow (assigned on first use, stable afterwards)."""
    value = flow.metadata.get(ID_KEY)
    if value is None:
        value = flow.metadata[ID_KEY] = new_id()
    return value


def tag_flow(flow: http.HTTPFlow, tag: str) -> None:
    tags = flow.metadata.setdefault(TAGS_KEY, [])
    if tag not in tags:
        tags.append(tag)


def set_flow_metadata(flow: http.HTTPFlow, key: str, value: Any) -> None:
    flow.metadata.setdefault(METADATA_KEY, {})[key] = value


def take_interaction_header(flow: http.HTTPFlow) -> None:
    """Move the extension's X-Ghost-Interaction header into the flow's marks; the target
    never sees it."""
    # the raw scan is cheap; the lookup below decodes every header (this runs on every request)
    if not any(name.lower() == _INTERACTION_HEADER_RAW for name, _ in flow.request.headers.fields):
        return
    value = flow.request.headers.get(INTERACTION_HEADER)
    if value is not None:
        del flow.request.headers[INTERACTION_HEADER]
        flow.metadata[INTERACTION_KEY] = value.strip()


# Meant for Ghost as the proxy, never for the origin: the client's proxy credentials and
# the connection to the proxy (RFC 9110 7.6.1, 11.7.2).
PROXY_ONLY_HEADERS = frozenset({"proxy-authorization", "proxy-connection", "keep-alive"})
# Connection options kept: an Upgrade handshake (WebSocket) needs its headers end to end,
# and mitmproxy frames the message itself (Transfer-Encoding, TE: trailers for gRPC).
_KEPT_CONNECTION_OPTIONS = frozenset({"upgrade", "close", "te", "transfer-encoding", "host"})


def strip_proxy_headers(flow: http.HTTPFlow) -> None:
    """Remove hop-by-hop headers aimed at Ghost before the request goes on: proxy
    credentials, Proxy-Connection, Keep-Alive and the headers Connection names. Costs one
    scan of the raw header names when there are none (this runs on every request)."""
    fields = flow.request.headers.fields
    if not any(name.lower() in _HOP_NAMES_RAW for name, _ in fields):
        return
    headers = flow.request.headers
    named = {token.strip().lower() for value in headers.get_all("connection")
             for token in value.split(",")}
    for name in PROXY_ONLY_HEADERS | (named - _KEPT_CONNECTION_OPTIONS):
        if name and name in headers:
            del headers[name]


_HOP_NAMES_RAW = frozenset({name.encode() for name in PROXY_ONLY_HEADERS} | {b"connection"})


PROXY_AUTHORIZATION = "Proxy-Authorization"
_PROXY_AUTHORIZATION_RAW = PROXY_AUTHORIZATION.lower().encode()
CLIENT_NAME_MAX = 64
CLIENT_TAG_PREFIX = "client:"


def client_name(authorization: str) -> str:
    """The name a client gives itself as the user of its proxy URL (http://NAME@host:port),
    from a `Proxy-Authorization: Basic ...` value: letters, digits and `._-` (others become
    `-`), at most CLIENT_NAME_MAX characters; "" when there is none. The password is ignored:
    Ghost's proxy has no accounts, the name only labels the client's flows."""
    scheme, _, encoded = authorization.strip().partition(" ")
    if scheme.lower() != "basic" or len(encoded) > 4 * CLIENT_NAME_MAX + 1024:
        return ""
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8", "replace")
    except (binascii.Error, ValueError):
        return ""
    return clean_client_name(decoded.partition(":")[0])


def clean_client_name(text: str) -> str:
    """`text` as a client name: letters, digits and `._-` (others become `-`), cut to
    CLIENT_NAME_MAX characters."""
    return "".join(c if c.isascii() and (c.isalnum() or c in "._-") else "-" for c in text[:CLIENT_NAME_MAX])


def take_proxy_authorization(flow: http.HTTPFlow) -> str | None:
    """Remove the client's Proxy-Authorization (it is for Ghost, never for the target) and
    return the client name it carries ("" when none); None when the request had none."""
    # the raw scan is cheap; the lookup below decodes every header (this runs on every request)
    if not any(name.lower() == _PROXY_AUTHORIZATION_RAW for name, _ in flow.request.headers.fields):
        return None
    value = flow.request.headers.get(PROXY_AUTHORIZATION, "")
    del flow.request.headers[PROXY_AUTHORIZATION]
    return client_name(value)


def mark_client(flow: http.HTTPFlow, name: str) -> None:
    """Tag a flow with the name its client gave itself (`client:NAME`, metadata `client`)."""
    tag_flow(flow, CLIENT_TAG_PREFIX + name)
    set_flow_metadata(flow, "client", name)


def _us(start: float | None, end: float | None) -> int:
    if start is None or end is None or end < start:
        return -1
    return round((end - start) * 1_000_000)


class ConnectionsSeen:
    """Remembers which server connections already had a flow, so connect and TLS time go
    to the first flow on a connection only (a bounded memory of recent connection ids), and
    how long each new connection's DNS lookup took (`resolved`, see `ResolutionTimer`)."""

    def __init__(self, capacity: int = 10_000) -> None:
        self.capacity = capacity
        self._ids: OrderedDict[str, None] = OrderedDict()
        self._lookups: OrderedDict[str, int] = OrderedDict()

    def first_use(self, connection_id: str) -> bool:
        if connection_id in self._ids:
            return False
        self._ids[connection_id] = None
        if len(self._ids) > self.capacity:
            self._ids.popitem(last=False)
        return True

    def resolved(self, connection_id: str, dns_us: int) -> None:
        self._lookups[connection_id] = dns_us
        if len(self._lookups) > self.capacity:
            self._lookups.popitem(last=False)

    def lookup_us(self, connection_id: str) -> int:
        """The DNS lookup time of a connection (once: its first flow takes it); -1 if none."""
        return self._lookups.pop(connection_id, -1)


class ResolutionTimer:
    """Times the DNS lookup mitmproxy makes when it opens a server connection.

    mitmproxy has no DNS timestamp: `asyncio.open_connection` resolves the name between the
    server's `timestamp_start` and `timestamp_tcp_setup`, through the loop's `getaddrinfo`.
    The timer wraps that method on the running loop (one clock read either side of a
    lookup; an IP literal is never looked up) and keeps the time in a context variable of
    the task that asked: mitmproxy opens each connection in a task of its own and calls the
    `server_connected` hook from it, where `take()` reads it. Nothing is resolved twice.
    """

    def __init__(self) -> None:
        self._seconds: ContextVar[float] = ContextVar(f"ghost_dns_seconds_{id(self)}", default=-1.0)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._timed: Callable[..., Awaitable[Any]] | None = None

    def install(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._loop is not None:
            return
        original = loop.getaddrinfo
        seconds = self._seconds

        async def timed_getaddrinfo(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return await original(*args, **kwargs)
            finally:
                seconds.set(time.perf_counter() - started)

        try:
            loop.getaddrinfo = timed_getaddrinfo  # type: ignore[method-assign]
        except AttributeError:  # a loop without instance attributes (uvloop): dns stays -1
            return
        self._loop, self._timed = loop, timed_getaddrinfo

    def uninstall(self) -> None:
        loop, self._loop = self._loop, None
        if loop is not None and vars(loop).get("getaddrinfo") is self._timed:
            del loop.getaddrinfo  # the class's method again

    def take(self) -> int:
        """Microseconds of this task's last lookup (-1: none), and forget it."""
        seconds = self._seconds.get()
        if seconds < 0:
            return -1
        self._seconds.set(-1.0)
        return round(seconds * 1_000_000)


def timings_of(flow: http.HTTPFlow, new_connection: bool, dns_us: int = -1) -> Timings | None:
    """The phases of an exchange. ``dns_us``: the DNS lookup of a new connection, which
    happened inside mitmproxy's connect time (taken out of ``connect_us`` here)."""
    req, resp, server = flow.request, flow.response, flow.server_conn
    if req.timestamp_start is None:
        return None
    new_connection = new_connection and server.timestamp_tcp_setup is not None
    connect = _us(server.timestamp_start, server.timestamp_tcp_setup) if new_connection else -1
    dns = dns_us if new_connection and connect >= 0 else -1
    if dns >= 0:
        dns = min(dns, connect)  # two clocks: never more than the connect time it was part of
        connect -= dns
    tls = _us(server.timestamp_tcp_setup, server.timestamp_tls_setup) if new_connection else -1
    ready = req.timestamp_end
    if new_connection:
        ready = max(filter(None, (req.timestamp_end, server.timestamp_tcp_setup, server.timestamp_tls_setup)))
    return Timings(
        dns_us=dns,
        connect_us=connect,
        tls_us=tls,
        send_us=_us(req.timestamp_start, req.timestamp_end),
        wait_us=_us(ready, resp.timestamp_start) if resp else -1,
        receive_us=_us(resp.timestamp_start, resp.timestamp_end) if resp else -1,
    )


def _headers(message: http.Message) -> list[tuple[str, str]]:
    # what `headers.items(multi=True)` returns, decoded the same way, at half the cost
    return [(k.decode("utf-8", "surrogateescape"), v.decode("utf-8", "surrogateescape"))
            for k, v in message.headers.fields]


def _zstd_decompressor() -> object:
    try:
        from compression import zstd  # type: ignore[import-not-found]  # Python 3.14
    except ImportError:
        from backports import zstd  # type: ignore[no-redef]  # mitmproxy's own dependency
    return zstd.ZstdDecompressor()


def decode_bounded(raw: bytes, encoding: str, limit: int) -> bytes | None:
    """The body decoded, but never more than ``limit + 1`` bytes of it (0: no limit): a
    261 KB gzip bomb must not become 256 MB in memory. None when the encoding is unknown
    or the body does not decode (then the body is kept as it came, as mitmproxy does)."""
    encoding = encoding.strip().lower()
    if encoding in ("", "identity", "none"):
        return raw
    cap = limit + 1 if limit else 0
    try:
        if encoding in ("gzip", "x-gzip"):
            return zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(raw, cap)
        if encoding == "deflate":  # zlib-wrapped as the RFC says, or raw as some servers send
            try:
                return zlib.decompressobj().decompress(raw, cap)
            except zlib.error:
                return zlib.decompressobj(-zlib.MAX_WBITS).decompress(raw, cap)
        if encoding == "br":
            out = brotli.Decompressor().process(raw, output_buffer_limit=cap) if cap else brotli.decompress(raw)
            return out[:cap] if cap else out
        if encoding == "zstd":
            return _zstd_decompressor().decompress(raw, max_length=cap or -1)  # type: ignore[attr-defined]
    except Exception:  # zlib.error, brotli.error, ZstdError: a body that does not decode
        return None
    return None


def _body(message: http.Message, headers: list[tuple[str, str]], max_size: int) -> tuple[bytes, int]:
    """(stored body, size). Decoded bodies are decoded at most to ``max_size + 1`` bytes; one
    that would be larger is stored cut to ``max_size`` and its size is then a lower bound
    (``max_size + 1``): Ghost never inflates a compression bomb to learn its full size."""
    raw = message.raw_content
    if raw is None:  # streamed: the body was never buffered
        return b"", 0
    encoding = next((value for name, value in headers if name.lower() == "content-encoding"), "")
    content = decode_bounded(raw, encoding, max_size) if encoding else raw
    if content is None:
        content = raw
    size = len(content)
    if max_size and size > max_size:
        content = content[:max_size]
    return content, size


def _address(peer: Any) -> str:
    if not peer:
        return ""
    host, port = peer[0], peer[1]
    return f"[{host}]:{port}" if ":" in str(host) else f"{host}:{port}"


def flow_record(
    flow: http.HTTPFlow, session_id: str, max_body_size: int = 0, new_connection: bool = True,
    dns_us: int = -1,
) -> Flow:
    req = flow.request
    headers = _headers(req)
    body, body_size = _body(req, headers, max_body_size)
    started = req.timestamp_start or time.time()
    request = Request(
        method=req.method,
        url=req.url,
        scheme=req.scheme,
        host=req.host,
        port=req.port,
        path=req.path.split("?", 1)[0] or "/",
        http_version=req.http_version,
        headers=headers,
        body=body,
        body_size=body_size,
    )
    response = None
    end = started
    if flow.response is not None:
        resp = flow.response
        resp_headers = _headers(resp)
        resp_body, resp_size = _body(resp, resp_headers, max_body_size)
        response = Response(
            status_code=resp.status_code,
            status_text=resp.reason,
            http_version=resp.http_version,
            headers=resp_headers,
            body=resp_body,
            body_size=resp_size,
        )
        end = resp.timestamp_end or resp.timestamp_start or end
    elif flow.error is not None:
        end = flow.error.timestamp
    return Flow(
        id=flow_id(flow),
        session_id=session_id,
        started_at=datetime.fromtimestamp(started, UTC),
        request=request,
        response=response,
        duration_us=max(0, round((end - started) * 1_000_000)),
        timings=timings_of(flow, new_connection, dns_us),
        error=flow.error.msg if flow.error else "",
        client_addr=_address(flow.client_conn.peername),
        server_addr=_address(flow.server_conn.peername),
        tags=list(flow.metadata.get(TAGS_KEY, ())),
        metadata=dict(flow.metadata.get(METADATA_KEY, {})),
        source=flow.metadata.get(SOURCE_KEY, "proxy"),
        interaction_id=flow.metadata.get(INTERACTION_KEY, ""),
    )
