"""The request composer: send one request Ghost builds, return the answer, store nothing."""

from __future__ import annotations

import base64
import binascii
import re
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from ghost_addons.model import encode_body
from ghost_addons.ssrf import OutboundGuard, SsrfRefused

MAX_RESPONSE_BYTES = 1 << 20  # 1 MB of response body is returned; the rest is cut
DEFAULT_TIMEOUT = 30.0
MAX_TIMEOUT = 120.0
_TOKEN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
DROPPED_HEADERS = frozenset({"content-length", "connection", "transfer-encoding", "keep-alive",
                             "proxy-connection", "te", "trailer", "upgrade"})


class ComposeError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(slots=True)
class ComposeRequest:
    method: str
    url: str
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    follow_redirects: bool = False
    timeout: float = DEFAULT_TIMEOUT
    insecure: bool = False  # curl -k: do not verify the server's certificate


def _headers(raw: Any) -> list[tuple[str, str]]:
    if raw is None:
        return []
    pairs: list[tuple[str, str]] = []
    if isinstance(raw, dict):
        for name, value in raw.items():
            for item in value if isinstance(value, list) else [value]:
                pairs.append((str(name), str(item)))
    elif isinstance(raw, list):
        for item in raw:
            if not (isinstance(item, dict) and isinstance(item.get("name"), str)):
                raise ValueError(f"headers: bad entry {item!r}; use {{name, value}} objects")
            pairs.append((item["name"], str(item.get("value", ""))))
    else:
        raise ValueError("headers must be an object {name: value} or a list of {name, value}")
    for name, value in pairs:
        if not _TOKEN.match(name):
            raise ValueError(f"header name {name!r} is not a valid HTTP token")
        if "\r" in value or "\n" in value:
            raise ValueError(f"header {name!r} has a line break in its value")
    return pairs


def parse_compose(body: dict[str, Any]) -> ComposeRequest:
    """Validate the JSON body of POST /api/v1/compose; ValueError names the bad field."""
    method = body.get("method") or "GET"
    if not isinstance(method, str) or not _TOKEN.match(method):
        raise ValueError(f"method {method!r} is not a valid HTTP method")
    url = body.get("url")
    if not isinstance(url, str) or not url:
        raise ValueError("field 'url' is required")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as exc:
        raise ValueError(f"url {url!r} is not valid: {exc}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"url {url!r} must be an absolute http:// or https:// URL")
    raw_body = body.get("body") or ""
    if not isinstance(raw_body, str):
        raise ValueError("field 'body' must be a string")
    encoding = body.get("body_encoding") or "utf8"
    if encoding == "base64":
        try:
            data = base64.b64decode(raw_body, validate=True)
        except binascii.Error as exc:
            raise ValueError(f"body is not valid base64: {exc}") from None
    elif encoding in ("utf8", "utf-8"):
        data = raw_body.encode("utf-8")
    else:
        raise ValueError(f"body_encoding {encoding!r}: use 'utf8' or 'base64'")
    follow = body.get("follow_redirects", False)
    if not isinstance(follow, bool):
        raise ValueError("field 'follow_redirects' must be true or false")
    timeout = body.get("timeout_ms", DEFAULT_TIMEOUT * 1000)
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not \
            0 < timeout <= MAX_TIMEOUT * 1000:
        raise ValueError(f"timeout_ms must be a number between 1 and {int(MAX_TIMEOUT * 1000)}")
    insecure = body.get("insecure", False)
    if not isinstance(insecure, bool):
        raise ValueError("field 'insecure' must be true or false")
    # the method as given: curl -X wHat sends "wHat", and so does Ghost
    return ComposeRequest(method=method, url=url, headers=_headers(body.get("headers")),
                          body=data, follow_redirects=follow, timeout=float(timeout) / 1000,
                          insecure=insecure)


async def read_capped(stream: aiohttp.StreamReader, limit: int) -> bytes:
    """Read until EOF or ``limit`` bytes, whichever comes first."""
    parts: list[bytes] = []
    size = 0
    while size < limit:
        chunk = await stream.read(limit - size)
        if not chunk:
            break
        parts.append(chunk)
        size += len(chunk)
    return b"".join(parts)


async def send(req: ComposeRequest, guard: OutboundGuard) -> dict[str, Any]:
    """Send through the SSRF guard (the URL, every redirect and every connection);
    ComposeError(4xx/5xx) when Ghost refuses or cannot."""
    host = urlsplit(req.url).hostname or ""
    headers = [(k, v) for k, v in req.headers if k.lower() not in DROPPED_HEADERS]
    started = time.perf_counter()
    timeout = aiohttp.ClientTimeout(total=req.timeout)
    try:
        async with guard.client_session(timeout=timeout, auto_decompress=True) as session:
            async with session.request(req.method, req.url, headers=headers,
                                       data=req.body or None,
                                       allow_redirects=req.follow_redirects,
                                       max_redirects=10,
                                       ssl=False if req.insecure else True,
                                       # aiohttp would add "application/octet-stream"
                                       skip_auto_headers=("Content-Type",)) as resp:
                body = await read_capped(resp.content, MAX_RESPONSE_BYTES + 1)
                truncated = len(body) > MAX_RESPONSE_BYTES
                body = body[:MAX_RESPONSE_BYTES]
                duration_ms = round((time.perf_counter() - started) * 1000, 3)
                header_list = [(k, v) for k, v in resp.headers.items()]
                status, reason, final_url = resp.status, resp.reason or "", str(resp.url)
    except SsrfRefused as exc:
        raise ComposeError(403, f"refused: {exc}") from None
    except TimeoutError as exc:  # before OSError, which it is a subclass of
        what = str(exc) or "the request"
        raise ComposeError(504, f"no answer from {host} within {req.timeout:g} s "
                                f"({type(exc).__name__}: {what})") from None
    except (aiohttp.ClientConnectorError, OSError) as exc:
        if guard.refusals:
            raise ComposeError(403, f"refused: {guard.refusals[-1]}") from None
        raise ComposeError(502, f"could not connect to {host}: {exc}") from None
    except aiohttp.TooManyRedirects:
        raise ComposeError(502, f"more than 10 redirects from {req.url}") from None
    except aiohttp.ClientError as exc:
        if guard.refusals:
            raise ComposeError(403, f"refused: {guard.refusals[-1]}") from None
        raise ComposeError(502, f"request to {host} failed: {type(exc).__name__}: {exc}") from None
    merged: dict[str, str] = {}
    for name, value in header_list:
        merged[name] = f"{merged[name]}, {value}" if name in merged else value
    content_type = next((v for k, v in header_list if k.lower() == "content-type"), "")
    text, encoding = encode_body(body, content_type)
    return {
        "status_code": status,
        "status_text": reason,
        "headers": merged,
        "header_list": [{"name": k, "value": v} for k, v in header_list],
        "body": text,
        "body_encoding": encoding,
        "body_truncated": truncated,
        "duration_ms": duration_ms,
        "url": final_url,
    }

