"""What a handler sees of a flow, and applying what it changed to the real mitmproxy flow.

`flow_view` builds the compact JSON-ready view sent to the worker; `parse_result` checks a
worker's answer for one addon (the worker runs untrusted code, so nothing it says is taken
on trust); `apply_changes` applies the checked change-set to the live flow.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from mitmproxy import http

from ghost_addons.capture import set_flow_metadata, tag_flow

MAX_BODY_TO_JS = 1 << 20  # bodies larger than this reach JavaScript as null
MAX_ANSWER_BODY = 16 << 20
MAX_TAGS = 100
MAX_HEADER_OPS = 200
MAX_LOG_LINES = 101
MAX_LOG_CHARS = 10_100
LOG_LEVELS = ("info", "warn", "error")
ANSWERED_KEY = "ghost_addon_answered"
_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
_BAD_VALUE = re.compile(r"[\r\n\0]")


@dataclass(frozen=True, slots=True)
class Answer:
    kind: str  # "block" or "respond"
    status: int
    body: str
    headers: list[tuple[str, str]]


@dataclass(frozen=True, slots=True)
class Changes:
    tags: list[str]
    headers: list[tuple[str, str, str | None]]  # ("set", name, value) or ("remove", name, None)
    answer: Answer | None


@dataclass(frozen=True, slots=True)
class CallResult:
    ok: bool
    changes: Changes | None
    error: str
    logs: list[tuple[str, str]]


def _body_text(message: http.Message, with_body: bool) -> str | None:
    if not with_body:
        return None
    content = message.get_content(strict=False)
    if content is None or len(content) > MAX_BODY_TO_JS:
        return None
    return content.decode("utf-8", "replace")


def header_pairs(headers: http.Headers) -> list[list[str]]:
    """Header fields as [name, value] pairs, decoded as UTF-8 with invalid bytes replaced
    (mitmproxy's own str view keeps them as surrogates, which are not valid JSON)."""
    return [[name.decode("utf-8", "replace"), value.decode("utf-8", "replace")] for name, value in headers.fields]


def flow_view(flow: http.HTTPFlow, phase: str, with_body: bool) -> dict[str, Any]:
    """The flow as handlers see it: request (and, in the response phase, response) fields.
    Bodies go only to addons whose code mentions `body`."""
    req = flow.request
    request: dict[str, Any] = {
        "method": req.method,
        "url": req.url,
        "host": req.host,
        "path": req.path.split("?", 1)[0] or "/",
        "headers": header_pairs(req.headers),
    }
    if with_body:
        request["body"] = _body_text(req, True)
    view: dict[str, Any] = {"request": request}
    resp = flow.response
    if phase == "response" and resp is not None:
        response: dict[str, Any] = {"status_code": resp.status_code, "headers": header_pairs(resp.headers)}
        if with_body:
            response["body"] = _body_text(resp, True)
        view["response"] = response
    return view


def _header_name(value: Any) -> str:
    if not isinstance(value, str) or not _TOKEN.match(value) or len(value) > 256:
        raise ValueError(f"invalid header name {value!r}")
    return value


def _header_value(value: Any) -> str:
    if not isinstance(value, str) or _BAD_VALUE.search(value) or len(value) > 65536:
        raise ValueError(f"invalid header value {value!r:.80}")
    return value


def _status(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 200 <= value <= 599:
        raise ValueError(f"invalid status {value!r}")
    return value


def parse_logs(raw: Any) -> list[tuple[str, str]]:
    if not isinstance(raw, list):
        return []
    logs: list[tuple[str, str]] = []
    for entry in raw[:MAX_LOG_LINES]:
        if (isinstance(entry, list) and len(entry) == 2 and entry[0] in LOG_LEVELS
                and isinstance(entry[1], str)):
            logs.append((entry[0], entry[1][:MAX_LOG_CHARS]))
    return logs


def parse_changes(raw: Any) -> Changes:
    """A handler's change-set, checked; ValueError says what is wrong."""
    if not isinstance(raw, dict):
        raise ValueError("changes must be an object")
    tags = raw.get("tags")
    if not isinstance(tags, list) or len(tags) > MAX_TAGS or not all(
            isinstance(t, str) and 0 < len(t) <= 100 for t in tags):
        raise ValueError(f"invalid tags {tags!r:.200}")
    ops = raw.get("headers")
    if not isinstance(ops, list) or len(ops) > MAX_HEADER_OPS:
        raise ValueError("invalid header operations")
    headers: list[tuple[str, str, str | None]] = []
    for op in ops:
        if isinstance(op, list) and len(op) == 3 and op[0] == "set":
            headers.append(("set", _header_name(op[1]), _header_value(op[2])))
        elif isinstance(op, list) and len(op) == 2 and op[0] == "remove":
            headers.append(("remove", _header_name(op[1]), None))
        else:
            raise ValueError(f"invalid header operation {op!r:.200}")
    answer = None
    raw_answer = raw.get("answer")
    if raw_answer is not None:
        if not isinstance(raw_answer, dict) or raw_answer.get("kind") not in ("block", "respond"):
            raise ValueError("invalid answer")
        body = raw_answer.get("body")
        if not isinstance(body, str) or len(body) > MAX_ANSWER_BODY:
            raise ValueError("invalid answer body")
        extra = raw_answer.get("headers")
        if not isinstance(extra, list) or len(extra) > MAX_HEADER_OPS:
            raise ValueError("invalid answer headers")
        pairs = []
        for pair in extra:
            if not isinstance(pair, list) or len(pair) != 2:
                raise ValueError(f"invalid answer header {pair!r:.200}")
            pairs.append((_header_name(pair[0]), _header_value(pair[1])))
        answer = Answer(raw_answer["kind"], _status(raw_answer.get("status")), body, pairs)
    return Changes(tags, headers, answer)


def parse_result(raw: Any) -> CallResult:
    """One addon's result from the worker; `changes` is None when the handler changed nothing
    (the worker then sends no change-set at all)."""
    if not isinstance(raw, dict):
        return CallResult(False, None, "the worker sent a malformed result", [])
    logs = parse_logs(raw.get("logs"))
    if raw.get("ok") is not True:
        error = raw.get("error")
        return CallResult(False, None, error[:2000] if isinstance(error, str) else "unknown error", logs)
    if "changes" not in raw:
        return CallResult(True, None, "", logs)
    try:
        return CallResult(True, parse_changes(raw["changes"]), "", logs)
    except ValueError as e:
        return CallResult(False, None, f"the handler's changes were refused: {e}", logs)


def apply_changes(flow: http.HTTPFlow, phase: str, changes: Changes, addon_name: str) -> None:
    """Apply one addon's checked changes to the live flow; the first block/respond wins."""
    for tag in changes.tags:
        tag_flow(flow, tag)
    if changes.headers:
        target = flow.request.headers if phase == "request" or flow.response is None else flow.response.headers
        for op, name, value in changes.headers:
            if op == "set":
                target[name] = value  # type: ignore[assignment]
            elif name in target:
                del target[name]
    answer = changes.answer
    if answer is None or flow.metadata.get(ANSWERED_KEY):
        return
    flow.metadata[ANSWERED_KEY] = addon_name
    headers = [(k.encode(), v.encode()) for k, v in answer.headers]
    if answer.kind == "block":
        body = f"Blocked by Ghost addon {addon_name!r}\n".encode()
        headers = [(b"Content-Type", b"text/plain; charset=utf-8")]
        set_flow_metadata(flow, "addon_blocked", addon_name)
    else:
        body = answer.body.encode("utf-8")
        if not any(k.lower() == b"content-type" for k, _ in headers):
            headers.append((b"Content-Type", b"text/plain; charset=utf-8"))
        set_flow_metadata(flow, "addon_responded", addon_name)
    flow.response = http.Response.make(answer.status, body, headers)
