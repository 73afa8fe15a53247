"""Assertions from what was observed: besides the status, the JSON keys of a recorded
response body that stay stable, for the API formats to check on the live response.

Keys, not values: an id or a timestamp changes from run to run, the key that holds it does
not. A key is kept when every recorded response of the same endpoint (method, path with its
id-like segments as wildcards, status) had it, and when the key itself does not look like a
value (an object keyed by ids, dates, e-mails or hashes is a map, not a record). A JSON
array of objects is checked element by element with the keys all its elements share.

Pure functions over flows; the body is parsed only when it is JSON and at most
`MAX_BODY_BYTES` long, and an object with more than `MAX_KEYS` keys is taken for a map.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

import orjson

from ghost_addons.model import Flow

MAX_BODY_BYTES = 1 << 20  # larger bodies are not parsed for keys: a check is not worth the time
MAX_KEYS = 50  # an object with more keys is a map (keyed by ids, names...), not a record
MAX_KEY_LENGTH = 64

# Path segments and keys that are values: numbers, UUIDs, long hex or base64-ish tokens,
# dates and times, e-mail addresses.
_NUMBER = re.compile(r"^-?\d+(\.\d+)?$")
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.I)
_HEX = re.compile(r"^(?=.*\d)[0-9a-f]{8,}$", re.I)
_TOKEN = re.compile(r"^(?=.*\d)(?=.*[A-Za-z])[A-Za-z0-9_\-]{20,}$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}.*)?$|^\d{1,2}:\d{2}(:\d{2})?$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")


@dataclass(frozen=True, slots=True)
class KeyCheck:
    """The keys a live response body must have: of the object itself, or (`each`) of every
    object of the array it is."""

    keys: tuple[str, ...]
    each: bool = False


@dataclass(frozen=True, slots=True)
class Shape:
    """What one recorded body looked like: its keys, and whether it was an array of objects."""

    keys: frozenset[str]
    each: bool


def looks_like_value(text: str) -> bool:
    """A key or path segment that is data (an id, a date, an address), not a name."""
    return (not text or len(text) > MAX_KEY_LENGTH or bool(_NUMBER.match(text) or _UUID.match(text)
            or _HEX.match(text) or _TOKEN.match(text) or _DATE.match(text) or _EMAIL.match(text)))


def endpoint(flow: Flow) -> tuple[str, str, int]:
    """The endpoint a flow called: method, path with value-like segments as `*`, and status."""
    path = urlsplit(flow.request.url).path
    template = "/".join("*" if looks_like_value(s) and s else s for s in path.split("/"))
    return flow.request.method.upper(), template, flow.response.status_code if flow.response else 0


def shape(flow: Flow) -> Shape | None:
    """The keys of a flow's recorded JSON response body; None when it has no JSON object
    (or array of objects) to check, or is too large to parse."""
    response = flow.response
    if response is None or "json" not in response.content_type.lower():
        return None
    if not response.body or len(response.body) > MAX_BODY_BYTES:
        return None
    try:
        document = orjson.loads(response.body)
    except orjson.JSONDecodeError:
        return None
    if isinstance(document, dict):
        return Shape(frozenset(document), each=False) if len(document) <= MAX_KEYS else None
    if isinstance(document, list) and document and all(isinstance(item, dict) for item in document):
        if any(len(item) > MAX_KEYS for item in document):
            return None
        return Shape(frozenset.intersection(*(frozenset(item) for item in document)), each=True)
    return None


def stable_keys(shapes: Sequence[Shape | None]) -> KeyCheck | None:
    """The keys every observation of one endpoint had, value-like keys left out, sorted;
    None when there is nothing to check (a body without JSON keys, observations that
    disagree on being an object or an array, no key in common)."""
    if not shapes or any(s is None for s in shapes):
        return None
    first = shapes[0]
    assert first is not None
    if any(s is not None and s.each != first.each for s in shapes):
        return None
    common = frozenset.intersection(*(s.keys for s in shapes if s is not None))
    keys = tuple(sorted(k for k in common if not looks_like_value(k)))
    return KeyCheck(keys, first.each) if keys else None


def key_checks(exported: Sequence[Flow], observed: Sequence[Flow]) -> list[KeyCheck | None]:
    """For each exported flow, the keys its live response must have, learned from every
    observed flow (the whole journey, before any deduplication) of the same endpoint."""
    by_endpoint: dict[tuple[str, str, int], list[Shape | None]] = {}
    for flow in observed:
        by_endpoint.setdefault(endpoint(flow), []).append(shape(flow))
    decided: dict[tuple[str, str, int], KeyCheck | None] = {}
    checks = []
    for flow in exported:
        key = endpoint(flow)
        if key not in decided:
            decided[key] = stable_keys(by_endpoint.get(key) or [shape(flow)])
        checks.append(decided[key])
    return checks
