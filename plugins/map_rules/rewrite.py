"""Rewrite: regex replace in the URL, headers or body of a request or response.

- ``url``: the regex runs over the full URL; a result that is not an absolute http(s) URL
  is ignored (the flow keeps its URL).
- ``request_header`` / ``response_header`` with ``header_name``: the regex runs over each
  value of that header; without ``match`` the header is set to ``replace`` (added if
  missing) and an empty ``replace`` removes it (mitmproxy's ``modify_headers`` meaning).
  Without ``header_name`` the regex runs over each ``Name: value`` line; a line replaced by
  nothing is removed.
- ``request_body`` / ``response_body``: the regex runs over the decoded body text
  (Content-Encoding undone and redone, charset kept); Content-Length follows.

``replace`` is a Python ``re.sub`` template: ``\\1`` or ``\\g<name>`` insert groups.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from urllib.parse import urlsplit

from mitmproxy import http
from mitmproxy.net.http.headers import infer_content_encoding

from plugins.map_rules.rules import RewriteConfig

log = logging.getLogger("ghost.map_rules")

MAX_REWRITE_BODY = 16 * 1024 * 1024

Refused = Callable[[str, int], bool]  # (host, port) -> True for addresses never to send to


def _never(host: str, port: int) -> bool:
    return False


def rewrite_url(request: http.Request, config: RewriteConfig, refused: Refused = _never) -> bool:
    assert config.pattern is not None
    url = request.url
    new_url = config.pattern.sub(config.replace, url)
    if new_url == url:
        return False
    try:
        parts = urlsplit(new_url)
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        log.warning("rewrite of %s gave %r, not an absolute http(s) URL; URL left as it was", url, new_url)
        return False
    if refused(parts.hostname.lower(), parts.port or (443 if parts.scheme == "https" else 80)):
        log.warning("rewrite of %s gave %r, Ghost's own API; URL left as it was", url, new_url)
        return False
    request.url = new_url
    return True


def rewrite_headers(headers: http.Headers, config: RewriteConfig) -> bool:
    pattern = config.pattern
    if config.header_name:
        name = config.header_name
        values = headers.get_all(name)
        if pattern is None:
            if config.replace:
                if values == [config.replace]:
                    return False
                headers[name] = config.replace
                return True
            if not values:
                return False
            del headers[name]
            return True
        new_values = [v for v in (pattern.sub(config.replace, value) for value in values) if v]
        if new_values == values:
            return False
        headers.set_all(name, new_values)
        return True
    assert pattern is not None
    changed = False
    fields: list[tuple[bytes, bytes]] = []
    for key, value in headers.fields:
        line = f"{key.decode('utf-8', 'surrogateescape')}: {value.decode('utf-8', 'surrogateescape')}"
        new_line = pattern.sub(config.replace, line)
        if new_line == line:
            fields.append((key, value))
            continue
        if not new_line.strip():
            changed = True
            continue
        new_key, sep, new_value = new_line.partition(":")
        new_key = new_key.strip()
        if not sep or not re.fullmatch(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+", new_key) or re.search(r"[\r\n\0]", new_value):
            log.warning("header rewrite gave %r, not a 'Name: value' line; header left as it was", new_line)
            fields.append((key, value))
            continue
        changed = True
        fields.append((new_key.encode(), new_value.strip().encode("utf-8", "surrogateescape")))
    if changed:
        headers.fields = tuple(fields)
    return changed


def message_text(message: http.Message) -> tuple[str, str] | None:
    """(text, charset) of a message body with its Content-Encoding undone; None if impossible."""
    if message.raw_content is None:
        return None
    try:
        content = message.get_content(strict=True)
    except ValueError:
        return None
    if content is None:
        return None
    charset = infer_content_encoding(message.headers.get("content-type", ""), content)
    try:
        return content.decode(charset, "surrogateescape"), charset
    except (LookupError, UnicodeDecodeError):
        return content.decode("utf-8", "surrogateescape"), "utf-8"


def set_message_text(message: http.Message, text: str, charset: str) -> None:
    """Store text in the charset it was read in; Content-Encoding and Content-Length follow."""
    try:
        data = text.encode(charset, "surrogateescape")
    except (LookupError, UnicodeEncodeError):
        data = text.encode("utf-8", "surrogateescape")
    message.content = data


def rewrite_body(message: http.Message, config: RewriteConfig) -> bool:
    assert config.pattern is not None
    if message.raw_content is None or len(message.raw_content) > MAX_REWRITE_BODY:
        return False
    decoded = message_text(message)
    if decoded is None:
        return False
    text, charset = decoded
    new_text = config.pattern.sub(config.replace, text)
    if new_text == text:
        return False
    set_message_text(message, new_text, charset)
    return True


def apply_rewrite(flow: http.HTTPFlow, config: RewriteConfig, refused: Refused = _never) -> bool:
    """Apply one rewrite to the part of `flow` it targets; True when something changed.

    A URL rewrite never sends the request to an address `refused` names (Ghost's own API)."""
    target = config.target
    if target == "url":
        return rewrite_url(flow.request, config, refused)
    if target == "request_header":
        return rewrite_headers(flow.request.headers, config)
    if target == "request_body":
        return rewrite_body(flow.request, config)
    if flow.response is None:
        return False
    if target == "response_header":
        return rewrite_headers(flow.response.headers, config)
    return rewrite_body(flow.response, config)
