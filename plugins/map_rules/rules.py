"""Map rules: the record, its JSON shape and validation of user input.

JSON shape (one object per rule; the fields after ``method`` depend on ``type``)::

    {"id": "01J...", "name": "mock cart", "type": "local", "enabled": true, "priority": 0,
     "host_pattern": "api.example.com", "path_pattern": "/cart/*", "method": "GET",
     # type "local": answer without contacting the server
     "status_code": 200, "content_type": "", "file_path": "mocks/cart.json",
     "body": "", "body_encoding": "utf8", "headers": {"X-Mock": "1"},
     # type "remote": send the request elsewhere
     "remote_url": "http://127.0.0.1:3000/v2", "preserve_path": true, "preserve_query": true,
     # type "rewrite": regex replace in one part of the flow
     "target": "response_body", "match": "\"price\":\\s*\\d+", "replace": "\"price\": 0",
     "header_name": "",
     "created_at": "...", "updated_at": "..."}

Rules run in ``priority`` order (lower first, then oldest first).

Read-only status fields follow: ``timeouts`` (how often the rule's regex overran its time
limit since Ghost started or the rule last changed), ``last_error`` and ``disabled_reason``
(set when Ghost switched the rule off after too many timeouts in a row).

A rewrite's ``match`` is compiled by the ``regex`` package (Python ``re`` syntax) so that
every run can carry a time limit: see ``rewrite.py``.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import regex

from ghost_addons.matching import Matcher, check_host_pattern, check_method, check_pattern
from plugins.map_rules.local import MAX_INLINE_BODY, check_local_path

TYPES = ("local", "remote", "rewrite")
TARGETS = ("url", "request_header", "response_header", "request_body", "response_body")
REQUEST_TARGETS = ("url", "request_header", "request_body")
MAX_NAME = 200
MAX_REGEX = 10_000
MAX_REPLACE = 1_048_576
MAX_HEADERS = 100

COMMON_FIELDS = ("name", "type", "enabled", "priority", "host_pattern", "path_pattern", "method")
TYPE_FIELDS: dict[str, tuple[str, ...]] = {
    "local": ("status_code", "content_type", "file_path", "body", "body_encoding", "headers"),
    "remote": ("remote_url", "preserve_path", "preserve_query"),
    "rewrite": ("target", "match", "replace", "header_name"),
}
READ_ONLY = ("id", "created_at", "updated_at", "timeouts", "last_error", "disabled_reason")
ALL_FIELDS = {*COMMON_FIELDS, *READ_ONLY, *(f for fs in TYPE_FIELDS.values() for f in fs)}


@dataclass(slots=True)
class LocalConfig:
    status_code: int = 200
    content_type: str = ""
    file_path: str = ""
    body: bytes = b""
    body_is_text: bool = True
    headers: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        if self.body_is_text:
            body, encoding = self.body.decode("utf-8"), "utf8"
        else:
            body, encoding = base64.b64encode(self.body).decode("ascii"), "base64"
        return {
            "status_code": self.status_code,
            "content_type": self.content_type,
            "file_path": self.file_path,
            "body": body,
            "body_encoding": encoding,
            "headers": dict(self.headers),
        }


@dataclass(slots=True)
class RemoteConfig:
    remote_url: str
    preserve_path: bool = True
    preserve_query: bool = True

    def to_dict(self) -> dict[str, Any]:
        return {
            "remote_url": self.remote_url,
            "preserve_path": self.preserve_path,
            "preserve_query": self.preserve_query,
        }


@dataclass(slots=True)
class RewriteConfig:
    target: str
    match: str = ""
    replace: str = ""
    header_name: str = ""
    pattern: regex.Pattern[str] | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.match:
            flags = regex.DOTALL if self.target.endswith("_body") else 0
            self.pattern = regex.compile(self.match, flags)

    def to_dict(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "match": self.match,
            "replace": self.replace,
            "header_name": self.header_name,
        }


Config = LocalConfig | RemoteConfig | RewriteConfig


@dataclass(slots=True)
class MapRule:
    id: str
    type: str
    config: Config
    name: str = ""
    enabled: bool = True
    priority: int = 0
    host_pattern: str = ""
    path_pattern: str = ""
    method: str = ""
    created_at: str = ""
    updated_at: str = ""
    last_error: str = ""
    disabled_reason: str = ""
    timeouts: int = field(default=0, compare=False)  # since loaded; not stored
    timeouts_in_a_row: int = field(default=0, repr=False, compare=False)
    slow: bool = field(default=False, repr=False, compare=False)  # a rewrite took over 1 ms of CPU
    matcher: Matcher = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.matcher = Matcher.compile(self.host_pattern, self.path_pattern, self.method)

    @property
    def phase(self) -> str:
        """The phase the rule acts in: request (local, remote, request rewrites) or response."""
        if isinstance(self.config, RewriteConfig) and self.config.target not in REQUEST_TARGETS:
            return "response"
        return "request"

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "type": self.type,
            "enabled": self.enabled,
            "priority": self.priority,
            "host_pattern": self.host_pattern,
            "path_pattern": self.path_pattern,
            "method": self.method,
            **self.config.to_dict(),
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "timeouts": self.timeouts,
            "last_error": self.last_error,
            "disabled_reason": self.disabled_reason,
        }

    def summary(self) -> dict[str, str]:
        return {"id": self.id, "name": self.name, "type": self.type}


def _bool(raw: dict[str, Any], name: str, default: bool) -> bool:
    value = raw.get(name, default)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be true or false, got {value!r}")
    return value


def _int(raw: dict[str, Any], name: str, default: int, lo: int, hi: int) -> int:
    value = raw.get(name, default)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise ValueError(f"{name} must be an integer from {lo} to {hi}, got {value!r}")
    return value


def _str(raw: dict[str, Any], name: str, limit: int) -> str:
    value = raw.get(name, "")
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValueError(f"{name} must be a string, got {type(value).__name__}")
    if len(value) > limit:
        raise ValueError(f"{name} is {len(value)} characters long; the limit is {limit}")
    return value


def _headers(raw: Any) -> dict[str, str]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ValueError("headers must be an object of header name -> value")
    if len(raw) > MAX_HEADERS:
        raise ValueError(f"headers has {len(raw)} entries; the limit is {MAX_HEADERS}")
    out: dict[str, str] = {}
    for name, value in raw.items():
        check_header_name("headers", name)
        if not isinstance(value, (str, int)) or isinstance(value, bool):
            raise ValueError(f"headers: the value of {name!r} must be a string")
        text = str(value)
        if any(ch in text for ch in "\r\n\0"):
            raise ValueError(f"headers: the value of {name!r} contains a line break or NUL")
        out[name] = text
    return out


def check_header_name(field_name: str, name: object) -> str:
    if not isinstance(name, str) or not re.fullmatch(r"[!#$%&'*+.^_`|~0-9A-Za-z-]{1,256}", name):
        raise ValueError(f"{field_name}: {name!r} is not a valid header name")
    return name


def check_http_url(name: str, value: object) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"{name} is required: an absolute http:// or https:// URL")
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError as e:
        raise ValueError(f"{name} {value!r} is not a valid URL: {e}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{name} {value!r} must be an absolute http:// or https:// URL")
    if parts.fragment or any(ch.isspace() or ord(ch) < 32 for ch in value):
        raise ValueError(f"{name} {value!r} must not contain a fragment, whitespace or control characters")
    return value


def _local_config(raw: dict[str, Any], home: Path) -> LocalConfig:
    content_type = _str(raw, "content_type", 256)
    if any(ch in content_type for ch in "\r\n\0"):
        raise ValueError(f"content_type {content_type!r} contains a line break or NUL")
    file_path = _str(raw, "file_path", 4096)
    if file_path:
        check_local_path(home, file_path)
    text = _str(raw, "body", 4 * MAX_INLINE_BODY)
    encoding = raw.get("body_encoding") or "utf8"
    if encoding in ("utf8", "utf-8"):
        body, is_text = text.encode("utf-8"), True
    elif encoding == "base64":
        try:
            body, is_text = base64.b64decode(text, validate=True), False
        except binascii.Error as e:
            raise ValueError(f"body is not valid base64: {e}") from None
    else:
        raise ValueError(f"body_encoding {encoding!r} is not utf8 or base64")
    if len(body) > MAX_INLINE_BODY:
        raise ValueError(
            f"body is {len(body)} bytes; an inline body is limited to {MAX_INLINE_BODY} bytes "
            "(use file_path for larger responses)"
        )
    return LocalConfig(
        status_code=_int(raw, "status_code", 200, 100, 999),
        content_type=content_type,
        file_path=file_path,
        body=body,
        body_is_text=is_text,
        headers=_headers(raw.get("headers")),
    )


def _remote_config(raw: dict[str, Any], is_api: Callable[[str, int], bool]) -> RemoteConfig:
    url = check_http_url("remote_url", raw.get("remote_url"))
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    if is_api((parts.hostname or "").lower(), port):
        raise ValueError(f"remote_url {url!r} points at Ghost's own API; the proxy never forwards there")
    return RemoteConfig(
        remote_url=url,
        preserve_path=_bool(raw, "preserve_path", True),
        preserve_query=_bool(raw, "preserve_query", True),
    )


def _rewrite_config(raw: dict[str, Any]) -> RewriteConfig:
    target = raw.get("target")
    if target not in TARGETS:
        raise ValueError(f"target {target!r} is not one of: {', '.join(TARGETS)}")
    match = _str(raw, "match", MAX_REGEX)
    replace = _str(raw, "replace", MAX_REPLACE)
    header_name = _str(raw, "header_name", 256)
    if header_name:
        if not target.endswith("_header"):
            raise ValueError(f"header_name is only used with request_header or response_header, not {target}")
        check_header_name("header_name", header_name)
    if not match and not header_name:
        raise ValueError(
            f"match (a regular expression) is required for a {target} rewrite"
            + (" unless header_name is set" if target.endswith("_header") else "")
        )
    try:
        config = RewriteConfig(target=target, match=match, replace=replace, header_name=header_name)
    except regex.error as e:
        raise ValueError(f"match {match!r} is not a valid regular expression: {e}") from None
    except RecursionError:
        raise ValueError(f"match is nested too deeply to compile ({len(match)} characters)") from None
    if config.pattern is not None:
        try:
            same_groups(config.pattern).sub(replace, "")
        except (regex.error, IndexError) as e:
            raise ValueError(f"replace {replace!r} is not a valid replacement for {match!r}: {e}") from None
    return config


def same_groups(pattern: regex.Pattern[str]) -> regex.Pattern[str]:
    """A pattern of empty groups numbered and named as `pattern`'s, which matches "".

    The regex package checks a replacement template only when something matched, so a
    template is tried on this instead (``\\2`` with one group is refused at creation)."""
    names = {index: name for name, index in pattern.groupindex.items()}
    return regex.compile("".join(f"(?P<{names[i]}>)" if i in names else "()" for i in range(1, pattern.groups + 1)))


def validate_rule(
    raw: Any,
    *,
    rule_id: str,
    created_at: str,
    updated_at: str,
    home: Path,
    is_api: Callable[[str, int], bool] = lambda host, port: False,
) -> MapRule:
    """A complete rule from user input (all fields; defaults for those left out).

    `is_api(host, port)` says whether an address reaches Ghost's own API (refused as a
    map-remote target)."""
    if not isinstance(raw, dict):
        raise ValueError("a map rule must be a JSON object")
    unknown = sorted(set(raw) - ALL_FIELDS)
    if unknown:
        raise ValueError(f"unknown field(s) {', '.join(unknown)}; allowed: {', '.join(sorted(ALL_FIELDS - set(READ_ONLY)))}")
    rule_type = raw.get("type") or "local"
    if rule_type not in TYPES:
        raise ValueError(f"type {rule_type!r} is not one of: local, remote, rewrite")
    foreign = sorted(
        name
        for other, names in TYPE_FIELDS.items()
        if other != rule_type
        for name in names
        if name in raw and name not in TYPE_FIELDS[rule_type] and raw[name] not in (None, "", {}, False)
    )
    # remote's booleans default to true: "preserve_path": true on a local rule is noise, not an error
    foreign = [n for n in foreign if not (n in ("preserve_path", "preserve_query") and raw[n] is True)]
    if foreign:
        raise ValueError(f"field(s) {', '.join(foreign)} do not apply to a {rule_type} rule")
    config: Config
    if rule_type == "local":
        config = _local_config(raw, home)
    elif rule_type == "remote":
        config = _remote_config(raw, is_api)
    else:
        config = _rewrite_config(raw)
    return MapRule(
        id=rule_id,
        type=rule_type,
        config=config,
        name=_str(raw, "name", MAX_NAME),
        enabled=_bool(raw, "enabled", True),
        priority=_int(raw, "priority", 0, -1_000_000, 1_000_000),
        host_pattern=check_host_pattern("host_pattern", raw.get("host_pattern")),
        path_pattern=check_pattern("path_pattern", raw.get("path_pattern")),
        method=check_method(raw.get("method")),
        created_at=created_at,
        updated_at=updated_at,
    )


def merged_input(rule: MapRule, raw: Any) -> dict[str, Any]:
    """A PUT body merged over the rule's current fields (the type's own fields only)."""
    if not isinstance(raw, dict):
        raise ValueError("a map rule must be a JSON object")
    if "id" in raw and raw["id"] not in (None, "", rule.id):
        raise ValueError(f"id {raw['id']!r} does not match the rule being updated ({rule.id})")
    current = rule.to_dict()
    new_type = raw.get("type") or rule.type
    keep = set(COMMON_FIELDS)
    if new_type == rule.type:
        keep |= set(TYPE_FIELDS[rule.type])
    merged = {k: v for k, v in current.items() if k in keep}
    merged.update({k: v for k, v in raw.items() if k not in READ_ONLY})
    if "body" in raw and "body_encoding" not in raw:
        merged["body_encoding"] = "utf8"
    merged["type"] = new_type
    return merged
