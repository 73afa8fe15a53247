"""Rule matching shared by breakpoints, map rules and injection rules.

A rule's conditions (host glob, path glob, method) are compiled once, when the rule is
created or changed, into a `Matcher`. A `RuleIndex` holds the enabled rules of one kind in
their order and answers "which rules match this request" with as little work as possible
per request: the rules whose host pattern accepts a host are computed once per host and
cached (hosts repeat), so a request to a host no rule names costs one dict lookup.

Requests are matched by the host they are sent to (``flow.request.host``, what the stored
flow records), port, method and path. Glob syntax is `fnmatch`'s: ``*`` matches any run of characters (``/`` included), ``?`` one
character, ``[abc]`` a set. Hosts compare case-insensitively; a host pattern with a port
(``localhost:8080``, ``*:8443``) is compared with ``host:port``. Paths are compared without
the query string, case-sensitively. An empty pattern matches everything.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ghost_addons.core import Ghost

MAX_PATTERN_LENGTH = 2048
HOST_CACHE_SIZE = 4096

_METHOD_RE = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]{1,32}")



def compile_glob(pattern: str, *, ignore_case: bool) -> re.Pattern[str] | None:
    """The compiled full-match regex of a glob, or None for an empty pattern (match all)."""
    if not pattern:
        return None
    return re.compile(fnmatch.translate(pattern), re.IGNORECASE if ignore_case else 0)


def check_pattern(field: str, value: object) -> str:
    """Validate a glob pattern from user input; returns it, raises ValueError naming the field."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValueError(f"{field} must be a string glob pattern, got {type(value).__name__}")
    if len(value) > MAX_PATTERN_LENGTH:
        raise ValueError(f"{field} is {len(value)} characters long; the limit is {MAX_PATTERN_LENGTH}")
    if any(ch.isspace() or ord(ch) < 32 for ch in value):
        raise ValueError(f"{field} {value!r} contains whitespace or control characters")
    return value


def check_method(value: object) -> str:
    """Validate an HTTP method from user input ('' = any); returns it upper-cased."""
    if value is None or value == "":
        return ""
    if not isinstance(value, str) or not _METHOD_RE.fullmatch(value):
        raise ValueError(f"method {value!r} is not an HTTP method name (e.g. GET, POST; empty = any)")
    return value.upper()


@dataclass(frozen=True, slots=True)
class Matcher:
    """The compiled conditions of one rule."""

    method: str  # upper-case, "" = any
    host: re.Pattern[str] | None
    host_has_port: bool
    path: re.Pattern[str] | None

    @classmethod
    def compile(cls, host_pattern: str = "", path_pattern: str = "", method: str = "") -> Matcher:
        return cls(
            method=method.upper(),
            host=compile_glob(host_pattern.lower(), ignore_case=True),
            host_has_port=_has_port(host_pattern),
            path=compile_glob(path_pattern, ignore_case=False),
        )

    def host_matches(self, host: str, port: int) -> bool:
        if self.host is None:
            return True
        if self.host_has_port:
            return self.host.match(f"{host}:{port}") is not None
        return self.host.match(host) is not None

    def rest_matches(self, method: str, path: str) -> bool:
        """Method and path (the host was checked already); `path` has no query."""
        if self.method and self.method != method:
            return False
        return self.path is None or self.path.match(path) is not None

    def matches(self, method: str, host: str, port: int, path: str) -> bool:
        return self.host_matches(host.lower(), port) and self.rest_matches(method.upper(), path)


def _has_port(host_pattern: str) -> bool:
    # "example.com:8080" and "*:8443" name a port; an IPv6 address ("::1") does not.
    return host_pattern.count(":") == 1


def split_path(path: str) -> str:
    """The path of a request target without its query string."""
    cut = path.find("?")
    return path if cut < 0 else path[:cut]


class RuleIndex[T]:
    """Enabled rules of one kind, in order, with a per-host cache of host-pattern matches.

    Build a new index whenever the rules change (rules are few; requests are many).
    """

    __slots__ = ("_rules", "_by_host")

    def __init__(self, rules: Iterable[tuple[T, Matcher]]) -> None:
        self._rules: tuple[tuple[T, Matcher], ...] = tuple(rules)
        self._by_host: dict[tuple[str, int], tuple[tuple[T, Matcher], ...]] = {}

    def __len__(self) -> int:
        return len(self._rules)

    def __bool__(self) -> bool:
        return bool(self._rules)

    def rules(self) -> list[T]:
        return [rule for rule, _ in self._rules]

    def _host_candidates(self, host: str, port: int) -> tuple[tuple[T, Matcher], ...]:
        key = (host, port)
        found = self._by_host.get(key)
        if found is None:
            lowered = host.lower()
            found = tuple(item for item in self._rules if item[1].host_matches(lowered, port))
            if len(self._by_host) >= HOST_CACHE_SIZE:
                self._by_host.clear()
            self._by_host[key] = found
        return found

    def find(self, method: str, host: str, port: int, path: str) -> list[T]:
        """The rules matching a request, in index order. `path` may include a query."""
        candidates = self._host_candidates(host, port)
        if not candidates:
            return []
        bare = split_path(path)
        upper = method.upper()
        return [rule for rule, matcher in candidates if matcher.rest_matches(upper, bare)]

    def first(self, method: str, host: str, port: int, path: str) -> T | None:
        candidates = self._host_candidates(host, port)
        if not candidates:
            return None
        bare = split_path(path)
        upper = method.upper()
        for rule, matcher in candidates:
            if matcher.rest_matches(upper, bare):
                return rule
        return None


def build_index[T](rules: Sequence[T], matcher_of: Callable[[T], Matcher], enabled: Callable[[T], bool]) -> RuleIndex[T]:
    return RuleIndex((rule, matcher_of(rule)) for rule in rules if enabled(rule))


def targets_api(ghost: Ghost) -> Callable[[str, int], bool]:
    """`(host, port) -> bool`: whether an address reaches Ghost's own API. No rule or edit may
    send a proxied request there (anyone who can use the proxy would reach the API)."""

    return ghost.targets_api
