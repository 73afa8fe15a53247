"""Small helpers every handler uses: JSON in and out, errors, limits, query parameters."""

from __future__ import annotations

import functools
import hmac
import re
from typing import Any

import orjson
from aiohttp import web

DEFAULT_BODY_LIMIT = 1 << 20  # 1 MB, the spec's default request body cap
# JSON nesting accepted in a request body. orjson parses up to 1,024 levels but writes only
# 254, so deeper metadata stored from a body would make every later read of it a 500;
# no Ghost body needs more than a handful of levels.
MAX_JSON_DEPTH = 64


# The request key where the API's guard leaves the token that authorised the request, so a
# handler that keeps answering for long (an SSE stream) can stop when that token is rotated out.
AUTHORISED_TOKEN = web.RequestKey("authorised_token", str)


def token_still_valid(request: web.Request, current_token: str) -> bool:
    """Whether the token this request was authorised with is still the API token (a public
    route, authorised by none, always is). Streams check it: rotating the token must end
    every stream opened with the old one, not only refuse new requests."""
    used = request.get(AUTHORISED_TOKEN)
    return used is None or hmac.compare_digest(used.encode(), current_token.encode())


class ApiError(Exception):
    """Becomes a JSON response `{"error": message}` with `status`."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        body=orjson.dumps(data, option=orjson.OPT_NON_STR_KEYS),
        status=status,
        content_type="application/json",
        headers=headers,
    )


def error_response(status: int, message: str) -> web.Response:
    return json_response({"error": message}, status=status)


async def read_body(request: web.Request, limit: int = DEFAULT_BODY_LIMIT) -> bytes:
    """The request body, refusing more than `limit` bytes with 413 (reads at most limit+1)."""
    length = request.content_length
    if length is not None and length > limit:
        raise ApiError(413, f"request body is {length} bytes; the limit here is {limit} bytes")
    data = await request.content.read(limit + 1)
    if len(data) > limit:
        raise ApiError(413, f"request body is larger than the limit of {limit} bytes")
    while chunk := await request.content.read(limit + 1 - len(data)):
        data += chunk
        if len(data) > limit:
            raise ApiError(413, f"request body is larger than the limit of {limit} bytes")
    return data


async def read_json(request: web.Request, limit: int = DEFAULT_BODY_LIMIT) -> Any:
    return parse_json(await read_body(request, limit), "request body")


def parse_json(data: bytes, what: str, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """JSON of at most `max_depth` nested arrays and objects, else ApiError 400 naming the
    limit. `data` is already bounded in size (orjson's memory is linear in it)."""
    if not data.strip():
        raise ApiError(400, f"{what} is empty; expected JSON")
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError as e:
        raise ApiError(400, f"{what} is not valid JSON: {e}") from None
    if nests_deeper(data, max_depth):
        raise ApiError(400, f"{what} nests JSON deeper than {max_depth} levels, the limit")
    return value


_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')
_BRACKETS = bytes.maketrans(b"{}", b"[]")
_NOT_BRACKETS = bytes(set(range(256)) - set(b"[]{}"))


def nests_deeper(data: bytes, limit: int) -> bool:
    """Whether valid JSON `data` nests more than `limit` arrays and objects. In C, not per
    value: strings dropped, brackets kept, then matched against a pattern of at most
    `limit` nested bracket pairs (possessive, so linear: 1 MB of brackets takes ~20 ms).
    Most bodies hold too few brackets to need even that."""
    if data.count(b"[") + data.count(b"{") <= limit:
        return False
    brackets = _JSON_STRING.sub(b"", data).translate(_BRACKETS, _NOT_BRACKETS)
    return bool(brackets) and _nested_pairs(limit).fullmatch(brackets) is None


@functools.cache
def _nested_pairs(limit: int) -> re.Pattern[bytes]:
    pattern = rb"\[\]"
    for _ in range(limit - 1):
        pattern = rb"\[(?:" + pattern + rb")*+\]"
    return re.compile(pattern)


async def read_json_object(request: web.Request, limit: int = DEFAULT_BODY_LIMIT) -> dict[str, Any]:
    value = await read_json(request, limit)
    if not isinstance(value, dict):
        raise ApiError(400, f"request body must be a JSON object, got {type(value).__name__}")
    return value


def query_int(request: web.Request, name: str, default: int, minimum: int, maximum: int) -> int:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(400, f"query parameter {name} must be an integer, got {raw!r}") from None
    if not minimum <= value <= maximum:
        raise ApiError(400, f"query parameter {name} must be between {minimum} and {maximum}, got {value}")
    return value


def field(body: dict[str, Any], name: str, kind: type | tuple[type, ...], *, required: bool = False,
          default: Any = None) -> Any:
    """A typed field of a JSON object body, with a 400 that names it when wrong."""
    if name not in body or body[name] is None:
        if required:
            raise ApiError(400, f"field {name!r} is required")
        return default
    value = body[name]
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if isinstance(value, bool) and bool not in kinds:
        raise ApiError(400, f"field {name!r} must be {_kind_name(kinds)}, got {value!r}")
    if not isinstance(value, kinds):
        raise ApiError(400, f"field {name!r} must be {_kind_name(kinds)}, got {value!r}")
    return value


def _kind_name(kinds: tuple[type, ...]) -> str:
    names = {str: "a string", int: "an integer", bool: "true or false", list: "a list",
             dict: "an object", float: "a number"}
    return " or ".join(names.get(k, k.__name__) for k in kinds)
