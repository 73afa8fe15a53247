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

A user's regex can backtrack for ever (``(a|a)+$`` on 40 bytes). So a rewrite is split in
two: ``plan_rewrite`` reads the flow and runs the regex under a time limit (the ``regex``
package stops a match at its ``timeout``, counted in the thread's CPU time, and releases the
GIL while matching, so it can run in a worker thread while the event loop goes on), and the
change it returns is applied to the flow on the event loop. Over the limit, ``RegexTimeout``
is raised and nothing changes.

A replacement can also grow without bound: an empty match replaced by 1 KB on a 16 MB body
is 16 GB. So what one rewrite produces is bounded too (``MAX_REWRITE_RESULT`` in all, over
every regex call of the rewrite): when the worst case of a replacement could pass it, the
replacement is counted match by match and stops with ``RewriteTooLarge`` once it does.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from urllib.parse import urlsplit

import regex
from mitmproxy import http
from mitmproxy.net.http.headers import infer_content_encoding
from regex._main import _compile_replacement_helper as compile_replacement

from plugins.map_rules.rules import RewriteConfig

log = logging.getLogger("ghost.map_rules")

MAX_REWRITE_BODY = 16 * 1024 * 1024
MAX_REWRITE_RESULT = 2 * MAX_REWRITE_BODY  # characters one rewrite may produce, all its parts together
# A group reference in a replacement template: \1, \g<1>, \g<name>.
_GROUP_REF = re.compile(r"\\(?:[1-9][0-9]?|g<[^>]*>)")
DEFAULT_LIMIT = 0.1  # seconds a rewrite's regex may run on one flow

Refused = Callable[[str, int], bool]  # (host, port) -> True for addresses never to send to
Change = Callable[[], bool]  # applies a planned rewrite to its flow; True when something changed


class RewriteFailed(Exception):
    """A rewrite could not finish; the flow was left as it was."""


class RegexTimeout(RewriteFailed):
    """A rewrite's regex ran out of time."""

    def __init__(self, config: RewriteConfig, limit: float) -> None:
        super().__init__(f"the regex {config.match!r} did not finish within its {limit * 1000:g} ms limit on the {config.target}")
        self.limit = limit


class RewriteTooLarge(RewriteFailed):
    """A rewrite's replacements would produce more than MAX_REWRITE_RESULT characters."""

    def __init__(self, config: RewriteConfig, limit: int) -> None:
        super().__init__(f"the rewrite {config.match!r} -> {config.replace[:80]!r} would make the {config.target} "
                         f"larger than {limit:,} characters")
        self.limit = limit


def worst_case_size(text_length: int, template: str) -> int:
    """The most a `sub` with `template` can make of a text of `text_length` characters: every
    position a match (there are at most length + 1), each adding the whole template, and each
    group reference at most the text again."""
    groups = len(_GROUP_REF.findall(template))
    return text_length * max(1, groups) + (text_length + 1) * len(template)


class Budget:
    """The time and the room left for one rewrite: every regex call gets what the calls
    before it left (`room`: characters it may still produce).

    The time is CPU time of the calling thread, the clock the ``regex`` package's ``timeout``
    counts in: a busy machine slows a regex down without making it time out."""

    __slots__ = ("config", "deadline", "limit", "room", "size_limit")

    def __init__(self, config: RewriteConfig, limit: float, size_limit: int = MAX_REWRITE_RESULT) -> None:
        self.config = config
        self.limit = limit
        self.deadline = time.thread_time() + limit
        self.size_limit = size_limit
        self.room = size_limit  # characters the rewrite may still produce

    def sub(self, text: str) -> str:
        pattern = self.config.pattern
        assert pattern is not None
        left = self.deadline - time.thread_time()
        template = self.config.replace
        try:
            if left <= 0:
                raise TimeoutError
            if worst_case_size(len(text), template) <= self.room:
                result = pattern.sub(template, text, timeout=left)  # cannot pass the bound: run at C speed
            else:
                result = pattern.sub(self._counted(), text, timeout=left)
        except TimeoutError:
            raise RegexTimeout(self.config, self.limit) from None
        self.room -= len(result)
        if self.room < 0:
            raise RewriteTooLarge(self.config, self.size_limit)
        return result

    def _counted(self) -> Callable[[regex.Match[str]], str]:
        """The replacement as a function that stops the `sub` as soon as the result so far
        (the text between matches and the replacements) passes the room left."""
        pattern = self.config.pattern
        assert pattern is not None
        # The template read once, as `sub` reads it: literal texts and group numbers
        # (`match.expand` would read it again on every match, 70 times slower).
        parts = compile_replacement(pattern, self.config.replace)
        constant = "".join(parts) if all(isinstance(part, str) for part in parts) else None
        room = self.room
        copied_to = 0

        def replace(match: regex.Match[str]) -> str:
            nonlocal room, copied_to
            piece = constant if constant is not None else "".join(
                part if isinstance(part, str) else (match.group(part) or "") for part in parts)
            room -= match.start() - copied_to + len(piece)
            copied_to = match.end()
            if room < 0:
                raise RewriteTooLarge(self.config, self.size_limit)
            return piece

        return replace


def _never(host: str, port: int) -> bool:
    return False


def plan_url(request: http.Request, budget: Budget, refused: Refused) -> Change | None:
    url = request.url
    new_url = budget.sub(url)
    if new_url == url:
        return None

    def change() -> bool:
        return set_url(request, url, new_url, refused)

    return change


def set_url(request: http.Request, url: str, new_url: str, refused: Refused) -> bool:
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


def set_header(headers: http.Headers, config: RewriteConfig) -> bool:
    """`header_name` without `match`: set the header to `replace`, or remove it when empty."""
    name = config.header_name
    if config.replace:
        if headers.get_all(name) == [config.replace]:
            return False
        headers[name] = config.replace
        return True
    if name not in headers:
        return False
    del headers[name]
    return True


def plan_headers(headers: http.Headers, config: RewriteConfig, budget: Budget) -> Change | None:
    if config.header_name:
        name = config.header_name
        values = headers.get_all(name)
        new_values = [v for v in (budget.sub(value) for value in values) if v]
        if new_values == values:
            return None

        def set_values() -> bool:
            headers.set_all(name, new_values)
            return True

        return set_values
    changed = False
    fields: list[tuple[bytes, bytes]] = []
    for key, value in headers.fields:
        line = f"{key.decode('utf-8', 'surrogateescape')}: {value.decode('utf-8', 'surrogateescape')}"
        new_line = budget.sub(line)
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
    if not changed:
        return None
    new_fields = tuple(fields)

    def set_fields() -> bool:
        headers.fields = new_fields
        return True

    return set_fields


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


def plan_body(message: http.Message, budget: Budget) -> Change | None:
    if message.raw_content is None or len(message.raw_content) > MAX_REWRITE_BODY:
        return None
    decoded = message_text(message)
    if decoded is None:
        return None
    text, charset = decoded
    new_text = budget.sub(text)
    if new_text == text:
        return None

    def change() -> bool:
        set_message_text(message, new_text, charset)
        return True

    return change


def plan_rewrite(flow: http.HTTPFlow, config: RewriteConfig, limit: float = DEFAULT_LIMIT,
                 refused: Refused = _never) -> Change | None:
    """Run the rewrite's regex over the part of `flow` it targets, within `limit` seconds.

    Only reads the flow, so it may run in a worker thread while the flow waits; returns the
    change to apply on the event loop, or None when there is nothing to change. Raises
    `RegexTimeout` when the regex overruns. A header rule without `match` needs no regex:
    its change is returned at once."""
    target = config.target
    if target == "url":
        return plan_url(flow.request, Budget(config, limit), refused)
    if target.startswith("request_"):
        message: http.Message = flow.request
    elif flow.response is None:
        return None
    else:
        message = flow.response
    if target.endswith("_header"):
        headers = message.headers
        if config.pattern is None:
            return lambda: set_header(headers, config)
        return plan_headers(headers, config, Budget(config, limit))
    return plan_body(message, Budget(config, limit))


def apply_rewrite(flow: http.HTTPFlow, config: RewriteConfig, refused: Refused = _never,
                  limit: float = DEFAULT_LIMIT) -> bool:
    """Plan and apply one rewrite here and now; True when something changed.

    A URL rewrite never sends the request to an address `refused` names (Ghost's own API).
    Raises `RegexTimeout` when the regex overruns `limit` seconds (the flow is unchanged)."""
    change = plan_rewrite(flow, config, limit, refused)
    return change() if change is not None else False
