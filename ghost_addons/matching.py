"""Ghost's one matcher for hosts, paths and URLs, used by every feature and setting.

Map rules, breakpoints and injection rules, the ``proxy.host_include``/``host_exclude`` and
``proxy.ssl_bypass_hosts`` settings and the host entries of ``replay.allow_hosts`` all match
through this module, so one pattern means the same thing everywhere. The semantics:

* ``*`` matches any run of characters (``/`` and ``.`` included), ``?`` one character,
  ``[abc]`` one character of a set (``[!abc]`` one not in it). Nothing else is special.
* Hosts compare case-insensitively; a trailing dot is ignored (``example.com.`` is
  ``example.com``).
* ``*.example.com`` matches ``example.com`` itself and every subdomain, as users of proxy
  tools expect; ``*example.com`` matches any host ending so (``badexample.com`` too).
* A host pattern with a port (``localhost:8080``, ``*:8443``, ``[::1]:80*``) compares the port
  as well (the port part is a glob too); without one, any port matches.
* IPv6 literals are hosts like any other: ``::1`` or ``[::1]``, ``[::1]:8080`` with a port;
  an address written out in full (``0:0:0:0:0:0:0:1``) is the same address.
* Paths compare case-sensitively and without the query string.
* A URL pattern (injection rules) is ``[scheme://]host[:port][/path]``: the scheme compares
  case-insensitively, the host and port as above, the path as above; a part left out
  matches anything (``*://*/app/*``, ``https://shop.example``).
* An empty pattern (in a rule) matches everything; an empty pattern list (a setting)
  matches nothing, and empty entries in a list are ignored.

Rules compile their patterns once, when created or changed, into a `Matcher`. A `RuleIndex`
holds the enabled rules of one kind in their order and answers "which rules match this
request" with as little work as possible per request: the rules whose host pattern accepts
a host are computed once per host and cached (hosts repeat), so a request to a host no rule
names costs one dict lookup. A host list (a setting) compiles into one regular expression,
and `CaptureFilter`, asked on every request, keeps its answer per host the same way.

Requests are matched by the host they are sent to (``flow.request.host``, what the stored
flow records), its port, the method and the path.
"""

from __future__ import annotations

import fnmatch
import ipaddress
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

MAX_PATTERN_LENGTH = 2048
HOST_CACHE_SIZE = 4096

_METHOD_RE = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]{1,32}")
_PORT_GLOB_RE = re.compile(r"[0-9*?\[\]!-]*")


# --- globs and input checks -------------------------------------------------------------


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


def check_host_pattern(field: str, value: object) -> str:
    """`check_pattern` for a host pattern, which also refuses a port part that is no port
    glob (``host:http``): such a rule could never match, and the user would not know why."""
    pattern = check_pattern(field, value)
    _, port = split_host_pattern(pattern)
    if port is not None and not _PORT_GLOB_RE.fullmatch(port):
        raise ValueError(f"{field} {pattern!r}: the port {port!r} is not a number or a glob of digits")
    return pattern


def check_url_pattern(field: str, value: object) -> str:
    """`check_pattern` for a URL pattern, with the port of its host part checked as in
    `check_host_pattern`."""
    pattern = check_pattern(field, value)
    check_host_pattern(field, split_url_pattern(pattern)[1])
    return pattern


def check_method(value: object) -> str:
    """Validate an HTTP method from user input ('' = any); returns it upper-cased."""
    if value is None or value == "":
        return ""
    if not isinstance(value, str) or not _METHOD_RE.fullmatch(value):
        raise ValueError(f"method {value!r} is not an HTTP method name (e.g. GET, POST; empty = any)")
    return value.upper()


def split_path(path: str) -> str:
    """The path of a request target without its query string."""
    cut = path.find("?")
    return path if cut < 0 else path[:cut]


# --- hosts -------------------------------------------------------------------------------


def normalize_host(host: str) -> str:
    """The form hosts are compared in: lower case, no IPv6 brackets, no trailing dot, an
    IPv6 address in its short form (``0:0::1`` is ``::1``)."""
    host = host.lower()
    if host.startswith("["):
        host = host[1:-1] if host.endswith("]") else host[1:]
    if ":" in host:
        return _short_ipv6(host)
    return host[:-1] if host.endswith(".") and len(host) > 1 else host


def _short_ipv6(text: str) -> str:
    """The compressed form of an IPv6 address (zone kept), or the text itself if it is none."""
    try:
        return str(ipaddress.IPv6Address(text))
    except ValueError:
        return text


def split_host_pattern(pattern: str) -> tuple[str, str | None]:
    """``(host glob, port glob or None)`` of a host pattern, lower-cased.

    ``[v6]`` and ``[v6]:port`` are IPv6 literals (a set such as ``[ab]`` holds no colon);
    otherwise exactly one colon separates a port, and more than one means an IPv6 address.
    An empty host before a port matches any host, an empty port any port."""
    text = pattern.strip().lower()
    if text.startswith("["):
        end = text.find("]")
        if end > 0 and ":" in text[1:end]:
            rest = text[end + 1 :]
            if not rest:
                return _short_ipv6(text[1:end]), None
            if rest.startswith(":"):
                return _short_ipv6(text[1:end]), rest[1:] or None
    if text.count(":") == 1:
        host, port = text.split(":")
        return host or "*", port or None
    return (_short_ipv6(text) if ":" in text else text), None


def _host_glob_regex(glob: str) -> str:
    """The regex source of one host glob, `*.domain` also matching the domain itself."""
    if glob.endswith(".") and len(glob) > 1 and not glob.endswith("*."):
        glob = glob[:-1]  # "example.com." is "example.com", as hosts are compared
    if glob.startswith("*.") and len(glob) > 2:
        return f"(?:{fnmatch.translate(glob)})|(?:{fnmatch.translate(glob[2:])})"
    return fnmatch.translate(glob)


@dataclass(frozen=True, slots=True)
class HostPattern:
    """One compiled host pattern: a host regex and, when the pattern names one, a port regex."""

    host: re.Pattern[str]
    port: re.Pattern[str] | None

    @classmethod
    def compile(cls, pattern: str) -> HostPattern | None:
        """The compiled pattern, or None for an empty one (every host matches)."""
        if not pattern.strip():
            return None
        host, port = split_host_pattern(pattern)
        return cls(
            host=re.compile(_host_glob_regex(host or "*")),
            port=re.compile(fnmatch.translate(port)) if port is not None else None,
        )

    def matches(self, host: str, port: int | None) -> bool:
        """`host` as `normalize_host` gives it; with no port known, a pattern naming one fails."""
        if self.host.match(host) is None:
            return False
        if self.port is None:
            return True
        return port is not None and self.port.match(str(port)) is not None


class HostList:
    """A list of host patterns (a setting) as one predicate: `hosts(host, port=None)`.

    The patterns without a port share one regular expression, so a request costs one match
    however long the list; an empty list matches nothing."""

    __slots__ = ("_any", "_with_port", "patterns")

    def __init__(self, patterns: Iterable[str]) -> None:
        self.patterns: tuple[str, ...] = tuple(p.strip() for p in patterns if p and p.strip())
        plain: list[str] = []
        with_port: list[HostPattern] = []
        for pattern in self.patterns:
            host, port = split_host_pattern(pattern)
            if port is None:
                plain.append(_host_glob_regex(host))
            else:
                compiled = HostPattern.compile(pattern)
                assert compiled is not None
                with_port.append(compiled)
        self._any = re.compile("|".join(f"(?:{p})" for p in plain)) if plain else None
        self._with_port = tuple(with_port)

    def __bool__(self) -> bool:
        return bool(self.patterns)

    def __call__(self, host: str, port: int | None = None) -> bool:
        if not self.patterns:
            return False  # the usual case for host_exclude and ssl_bypass_hosts: no work
        name = normalize_host(host)
        if self._any is not None and self._any.match(name) is not None:
            return True
        if self._with_port:
            return any(p.matches(name, port) for p in self._with_port)
        return False


def compile_hosts(patterns: Iterable[str]) -> HostList:
    """A predicate true for hosts matching any of the patterns; false if none are given."""
    return HostList(patterns)


class CaptureFilter:
    """Which hosts Ghost captures: in `host_include` (when not empty) and not in `host_exclude`.

    Asked on every request, so each answer is kept per (host, port), as `RuleIndex` keeps
    its candidates; a settings change builds a new filter."""

    __slots__ = ("_everything", "_exclude", "_include", "_seen")

    def __init__(self, include: Iterable[str], exclude: Iterable[str]) -> None:
        included = compile_hosts(include)
        self._include = included if included else None
        self._exclude = compile_hosts(exclude)
        self._everything = self._include is None and not self._exclude
        self._seen: dict[tuple[str, int | None], bool] = {}

    def captures(self, host: str, port: int | None = None) -> bool:
        if self._everything:
            return True
        key = (host, port)
        found = self._seen.get(key)
        if found is None:
            found = (self._include is None or self._include(host, port)) and not self._exclude(host, port)
            if len(self._seen) >= HOST_CACHE_SIZE:
                self._seen.clear()
            self._seen[key] = found
        return found


# --- rules -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Matcher:
    """The compiled conditions of one rule: method, host pattern, path glob."""

    method: str  # upper-case, "" = any
    host: HostPattern | None
    path: re.Pattern[str] | None

    @classmethod
    def compile(cls, host_pattern: str = "", path_pattern: str = "", method: str = "") -> Matcher:
        return cls(
            method=method.upper(),
            host=HostPattern.compile(host_pattern),
            path=compile_glob(path_pattern, ignore_case=False),
        )

    def host_matches(self, host: str, port: int | None) -> bool:
        """`host` as `normalize_host` gives it."""
        return self.host is None or self.host.matches(host, port)

    def rest_matches(self, method: str, path: str) -> bool:
        """Method and path (the host was checked already); `method` upper-case, `path` bare."""
        if self.method and self.method != method:
            return False
        return self.path is None or self.path.match(path) is not None

    def matches(self, method: str, host: str, port: int | None, path: str) -> bool:
        """Whether a request matches; `path` may carry a query (it is not compared)."""
        return self.host_matches(normalize_host(host), port) and self.rest_matches(method.upper(), split_path(path))


class RuleIndex[T]:
    """Enabled rules of one kind, in order, with a per-host cache of host-pattern matches.

    Build a new index whenever the rules change (rules are few; requests are many).
    """

    __slots__ = ("_by_host", "_rules")

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
            name = normalize_host(host)
            found = tuple(item for item in self._rules if item[1].host_matches(name, port))
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
        """The first rule matching a request, or None. `path` may include a query."""
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


# --- URLs --------------------------------------------------------------------------------


def split_url_pattern(pattern: str) -> tuple[str, str, str]:
    """``(scheme glob, host pattern, path glob)`` of ``[scheme://]host[:port][/path]``.

    The host part ends at the first ``/``; an IPv6 literal is written in brackets there."""
    scheme, sep, rest = pattern.partition("://")
    if not sep:
        scheme, rest = "", pattern
    cut = rest.find("/")
    authority, path = (rest, "") if cut < 0 else (rest[:cut], rest[cut:])
    return scheme, authority.rpartition("@")[2], path


@dataclass(frozen=True, slots=True)
class UrlMatcher:
    """A compiled URL pattern: a scheme glob beside a host-and-path `Matcher`."""

    scheme: re.Pattern[str] | None
    rest: Matcher

    @classmethod
    def compile(cls, pattern: str) -> UrlMatcher:
        scheme, host, path = split_url_pattern(pattern)
        return cls(compile_glob(scheme.lower(), ignore_case=True), Matcher.compile(host, path))

    def matches(self, scheme: str, host: str, port: int | None, path: str) -> bool:
        """Whether a request's parts match; `path` may carry a query (it is not compared)."""
        if self.scheme is not None and self.scheme.match(scheme.lower()) is None:
            return False
        return self.rest.matches("", host, port, path)
