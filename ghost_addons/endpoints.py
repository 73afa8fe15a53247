"""Endpoint templates: the path of a URL with its ids collapsed, shared by every feature
that groups flows by endpoint (session compare, security findings' dedupe key).

``/users/42/orders/9f1c...`` becomes ``/users/{id}/orders/{id}``: a segment is an id when it
is a number, a UUID, a ULID, a hex hash, a date, an e-mail address, a long mixed token, or
mostly digits.
"""

from __future__ import annotations

import re

_ID_PATTERNS = (
    re.compile(r"^\d+$"),  # 42
    re.compile(r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$"),
    re.compile(r"^[0-9A-HJKMNP-TV-Za-hjkmnp-tv-z]{26}$"),  # ULID
    re.compile(r"^[0-9a-fA-F]{12,}$"),  # hashes, object ids
    re.compile(r"^\d{4}-\d{2}-\d{2}"),  # dates
    re.compile(r"^[^@/]+@[^@/]+\.[^@/]+$"),  # e-mail addresses
)
_MIXED_TOKEN = re.compile(r"^(?=.*\d)(?=.*[A-Za-z])[A-Za-z0-9_\-]{16,}$")  # api keys, tokens


def is_id_segment(segment: str) -> bool:
    if not segment:
        return False
    if any(p.match(segment) for p in _ID_PATTERNS):
        return True
    if _MIXED_TOKEN.match(segment):
        return True
    digits = sum(c.isdigit() for c in segment)
    return len(segment) >= 6 and digits / len(segment) >= 0.5


def path_template(path: str) -> str:
    """/users/42/orders/01HW... -> /users/{id}/orders/{id} (query and fragment dropped)."""
    path = path.split("?", 1)[0].split("#", 1)[0] or "/"
    segments = path.split("/")
    return "/".join("{id}" if is_id_segment(s) else s for s in segments) or "/"
