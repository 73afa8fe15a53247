"""Host glob lists (`*.example.com`, `api.*`) compiled once into one regular expression."""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Iterable


def compile_hosts(patterns: Iterable[str]) -> Callable[[str], bool]:
    """A predicate true for hosts matching any glob (case-insensitive); false if none given.

    `*.example.com` also matches `example.com` itself, as users of proxy tools expect.
    """
    parts = []
    for pattern in patterns:
        pattern = pattern.strip().lower()
        if not pattern:
            continue
        parts.append(fnmatch.translate(pattern))
        if pattern.startswith("*."):
            parts.append(fnmatch.translate(pattern[2:]))
    if not parts:
        return lambda host: False
    regex = re.compile("|".join(f"(?:{p})" for p in parts))
    return lambda host: regex.match(host.lower()) is not None


class CaptureFilter:
    """Which hosts Ghost captures: in `host_include` (when not empty) and not in `host_exclude`."""

    def __init__(self, include: list[str], exclude: list[str]) -> None:
        self._include = compile_hosts(include) if include else None
        self._exclude = compile_hosts(exclude)

    def captures(self, host: str) -> bool:
        if self._include is not None and not self._include(host):
            return False
        return not self._exclude(host)
