"""Injection rules: the record, its JSON shape and validation of user input.

JSON shape::

    {"id": "01J...", "session_id": "01J...", "name": "expose app state",
     "url_pattern": "https://app.example.com/*", "script": "window.__ghost = 1;",
     "enabled": true, "created_at": "...", "updated_at": "..."}

``url_pattern`` is ``[scheme://]host[:port][/path]`` with the globs of
`ghost_addons.matching`, the one semantics every feature uses: the scheme and host compare
case-insensitively, ``*.example.com`` also matches ``example.com``, the path is compared
without the query string, and a part left out matches anything. Rules belong to a session;
only the active session's enabled rules inject.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ghost_addons.matching import UrlMatcher, check_url_pattern

MAX_SCRIPT_BYTES = 64 * 1024
MAX_NAME = 200

FIELDS = ("name", "url_pattern", "script", "enabled")
READ_ONLY = ("id", "session_id", "created_at", "updated_at")


@dataclass(slots=True)
class InjectionRule:
    id: str
    session_id: str
    url_pattern: str
    script: str = ""
    name: str = ""
    enabled: bool = True
    created_at: str = ""
    updated_at: str = ""
    matcher: UrlMatcher = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.matcher = UrlMatcher.compile(self.url_pattern)

    def matches(self, scheme: str, host: str, port: int, path: str) -> bool:
        """Whether a request (the address it is sent to, its path with or without the query)
        is one this rule injects into."""
        return self.matcher.matches(scheme, host, port, path)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "session_id": self.session_id,
            "name": self.name,
            "url_pattern": self.url_pattern,
            "script": self.script,
            "enabled": self.enabled,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }


def check_input(raw: Any, *, partial: bool) -> dict[str, Any]:
    """Validated fields of a POST (partial=False) or PUT (partial=True) body.

    `enabled` is taken on create only; a PUT keeps the rule's state (use toggle).
    """
    if not isinstance(raw, dict):
        raise ValueError("an injection rule must be a JSON object")
    unknown = sorted(set(raw) - set(FIELDS) - set(READ_ONLY))
    if unknown:
        raise ValueError(f"unknown field(s) {', '.join(unknown)}; allowed: {', '.join(FIELDS)}")
    values: dict[str, Any] = {}
    if "url_pattern" in raw or not partial:
        pattern = check_url_pattern("url_pattern", raw.get("url_pattern"))
        if not pattern:
            raise ValueError("url_pattern is required (a glob over the full URL, e.g. https://app.example.com/*)")
        values["url_pattern"] = pattern
    if "script" in raw:
        script = raw["script"]
        if script is None:
            script = ""
        if not isinstance(script, str):
            raise ValueError(f"script must be a string, got {type(script).__name__}")
        size = len(script.encode("utf-8", "surrogatepass"))
        if size > MAX_SCRIPT_BYTES:
            raise ValueError(f"script is {size} bytes; the limit is {MAX_SCRIPT_BYTES} (64 KB)")
        values["script"] = script
    if "name" in raw:
        name = raw["name"] if raw["name"] is not None else ""
        if not isinstance(name, str) or len(name) > MAX_NAME:
            raise ValueError(f"name must be a string of at most {MAX_NAME} characters")
        values["name"] = name
    if "enabled" in raw and not partial:
        if not isinstance(raw["enabled"], bool):
            raise ValueError(f"enabled must be true or false, got {raw['enabled']!r}")
        values["enabled"] = raw["enabled"]
    return values
