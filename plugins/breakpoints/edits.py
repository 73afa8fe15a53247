"""A held flow's resolution (continue / modify / drop) and the edits it applies.

The resume body::

    {"action": "modify",                       # continue (default), modify or drop
     "method": "POST", "url": "https://...",  # request phase
     "headers": {"Name": "value"},             # the full new header set
     "body": "...", "body_encoding": "utf8",   # or "base64"
     "status_code": 500,                        # response phase; status text follows
     "response_headers": {...}, "response_body": "...", "response_body_encoding": "utf8"}

Headers are the complete new set (what the editor shows), as an object
(``{"Name": "v"}`` or ``{"Name": ["v1", "v2"]}``) or a list of ``{"name", "value"}``.
Content-Length is recomputed from the body that is sent.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from mitmproxy import http
from mitmproxy.http import status_codes
from mitmproxy.net.http import url

from ghost_addons.matching import check_method
from ghost_addons.model import encode_body

ACTIONS = ("continue", "modify", "drop")
MAX_HEADERS = 1000

Headers = list[tuple[str, str]]

_REQUEST_FIELDS = ("method", "url", "headers", "body", "body_encoding")
_RESPONSE_FIELDS = ("status_code", "response_headers", "response_body", "response_body_encoding")


@dataclass(slots=True)
class Resolution:
    action: str = "continue"
    method: str | None = None
    url: str | None = None
    headers: Headers | None = None
    body: bytes | str | None = None
    status_code: int | None = None
    response_headers: Headers | None = None
    response_body: bytes | str | None = None


def parse_headers(field: str, raw: Any) -> Headers:
    """Headers from JSON: an object of name -> value (or list of values), or [{name, value}]."""
    pairs: Headers = []
    if isinstance(raw, dict):
        for name, value in raw.items():
            for item in value if isinstance(value, list) else [value]:
                pairs.append((str(name), _header_text(field, item)))
    elif isinstance(raw, list):
        for item in raw:
            if isinstance(item, dict) and isinstance(item.get("name"), str):
                pairs.append((item["name"], _header_text(field, item.get("value", ""))))
            elif isinstance(item, list) and len(item) == 2 and isinstance(item[0], str):
                pairs.append((item[0], _header_text(field, item[1])))
            else:
                raise ValueError(f"{field}: entry {item!r} is not a {{name, value}} object")
    else:
        raise ValueError(f"{field} must be an object of name -> value or a list of {{name, value}}")
    if len(pairs) > MAX_HEADERS:
        raise ValueError(f"{field} has {len(pairs)} headers; the limit is {MAX_HEADERS}")
    for name, value in pairs:
        if not name or any(ch in name for ch in " \t\r\n:") or not name.isprintable():
            raise ValueError(f"{field}: {name!r} is not a valid header name")
        if "\r" in value or "\n" in value or "\0" in value:
            raise ValueError(f"{field}: the value of {name!r} contains a line break or NUL")
    return pairs


def _header_text(field: str, value: Any) -> str:
    if isinstance(value, bool) or value is None or isinstance(value, (dict, list)):
        raise ValueError(f"{field}: header values must be strings or numbers, got {value!r}")
    return str(value)


def _body(field: str, raw: Any, encoding: Any) -> bytes | str:
    if not isinstance(raw, str):
        raise ValueError(f"{field} must be a string, got {type(raw).__name__}")
    if encoding in (None, "", "utf8", "utf-8"):
        return raw
    if encoding == "base64":
        try:
            return base64.b64decode(raw, validate=True)
        except binascii.Error as e:
            raise ValueError(f"{field} is not valid base64: {e}") from None
    raise ValueError(f"{field}_encoding {encoding!r} is not utf8 or base64")


def parse_resolution(raw: Any) -> Resolution:
    """Validate a resume body; raises ValueError naming the bad field."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ValueError("the resume body must be a JSON object")
    allowed = {"action", *_REQUEST_FIELDS, *_RESPONSE_FIELDS}
    unknown = sorted(set(raw) - allowed)
    if unknown:
        raise ValueError(f"unknown field(s) {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}")
    action = raw.get("action") or "continue"
    if action not in ACTIONS:
        raise ValueError(f"action {action!r} is not one of: continue, modify, drop")
    res = Resolution(action=action)
    if raw.get("method") is not None:
        method = check_method(raw["method"])
        if not method:
            raise ValueError("method must not be empty")
        res.method = method
    if raw.get("url") is not None:
        res.url = check_url(raw["url"])
    if raw.get("headers") is not None:
        res.headers = parse_headers("headers", raw["headers"])
    if raw.get("body") is not None:
        res.body = _body("body", raw["body"], raw.get("body_encoding"))
    if raw.get("status_code") is not None:
        code = raw["status_code"]
        if isinstance(code, bool) or not isinstance(code, int) or not 100 <= code <= 999:
            raise ValueError(f"status_code {code!r} is not an HTTP status code (100-999)")
        res.status_code = code
    if raw.get("response_headers") is not None:
        res.response_headers = parse_headers("response_headers", raw["response_headers"])
    if raw.get("response_body") is not None:
        res.response_body = _body("response_body", raw["response_body"], raw.get("response_body_encoding"))
    return res


def check_url(raw: Any) -> str:
    if not isinstance(raw, str) or not raw:
        raise ValueError("url must be a non-empty string")
    try:
        parts = urlsplit(raw)
        port = parts.port
    except ValueError as e:
        raise ValueError(f"url {raw!r} is not a valid URL: {e}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"url {raw!r} must be an absolute http:// or https:// URL")
    if port == 0:
        raise ValueError(f"url {raw!r} has port 0")
    if any(ch in raw for ch in " \r\n\t\0"):
        raise ValueError(f"url {raw!r} contains whitespace or control characters")
    return raw


def _set_headers(message: http.Message, pairs: Headers) -> None:
    message.headers = http.Headers([(k.encode(), v.encode("utf-8", "surrogateescape")) for k, v in pairs])


def _set_body(message: http.Message, body: bytes | str) -> None:
    if isinstance(body, str):
        message.text = body
    else:
        message.content = body


def fix_content_length(message: http.Message, *, had_length: bool) -> None:
    """Make Content-Length agree with the body that will be sent."""
    if "transfer-encoding" in message.headers or message.raw_content is None:
        return
    if had_length or message.raw_content or "content-length" in message.headers:
        message.headers["content-length"] = str(len(message.raw_content))


def apply_request_edits(request: http.Request, res: Resolution) -> None:
    had_length = "content-length" in request.headers
    if res.method is not None:
        request.method = res.method
    if res.headers is not None:
        _set_headers(request, res.headers)
    if res.url is not None:
        request.url = res.url  # after the headers: the Host header follows the new URL
    if res.headers is not None and request.http_version.startswith("HTTP/1") and "host" not in request.headers:
        # HTTP/1.1 servers refuse a request without Host: an edited header set that leaves it
        # out gets the one the URL implies
        request.headers["Host"] = url.hostport(request.scheme, request.host, request.port)
    if res.body is not None:
        _set_body(request, res.body)
    fix_content_length(request, had_length=had_length)


def apply_response_edits(response: http.Response, res: Resolution) -> None:
    had_length = "content-length" in response.headers
    if res.status_code is not None:
        response.status_code = res.status_code
        response.reason = status_codes.RESPONSES.get(res.status_code, "")
    if res.response_headers is not None:
        _set_headers(response, res.response_headers)
    if res.response_body is not None:
        _set_body(response, res.response_body)
    fix_content_length(response, had_length=had_length)


def _headers_json(headers: http.Headers) -> list[dict[str, str]]:
    """Header fields as text. A field that is not UTF-8 (a byte 0xff, legal on the wire)
    shows U+FFFD where the bad bytes were and carries its exact bytes in
    ``name_base64``/``value_base64``: JSON cannot hold the raw bytes."""
    out: list[dict[str, str]] = []
    for raw_name, raw_value in headers.fields:
        field: dict[str, str] = {"name": _text(raw_name), "value": _text(raw_value)}
        for key, raw in (("name", raw_name), ("value", raw_value)):
            if not _is_utf8(raw):
                field[f"{key}_base64"] = base64.b64encode(raw).decode()
        out.append(field)
    return out


def _is_utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _text(raw: bytes | str) -> str:
    """Text JSON can carry: bytes decoded as UTF-8, and mitmproxy's surrogate escapes for
    undecodable bytes (in paths and URLs), each shown as U+FFFD."""
    if isinstance(raw, str):
        raw = raw.encode("utf-8", errors="surrogateescape")
    return raw.decode("utf-8", errors="replace")


def _body_json(message: http.Message) -> tuple[str, str]:
    content = message.get_content(strict=False) or b""
    return encode_body(content, message.headers.get("content-type", ""))


def held_flow_data(flow: http.HTTPFlow, phase: str) -> dict[str, Any]:
    """The request (and, in the response phase, response) of a held flow as JSON."""
    req = flow.request
    body, body_encoding = _body_json(req)
    data: dict[str, Any] = {
        "phase": phase,
        "method": _text(req.method),
        "url": _text(req.pretty_url),
        "scheme": req.scheme,
        "host": _text(req.host),
        "port": req.port,
        "path": _text(req.path.split("?", 1)[0]),
        "http_version": _text(req.http_version),
        "headers": _headers_json(req.headers),
        "body": body,
        "body_encoding": body_encoding,
    }
    if phase == "response" and flow.response is not None:
        resp = flow.response
        rbody, rencoding = _body_json(resp)
        data.update(
            status_code=resp.status_code,
            status_text=_text(resp.reason),
            response_headers=_headers_json(resp.headers),
            response_body=rbody,
            response_body_encoding=rencoding,
        )
    return data
