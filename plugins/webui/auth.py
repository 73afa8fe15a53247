"""The web UI's login: one-time codes exchanged for a session cookie, and the checks that
keep a cookie (which the browser sends by itself) from being used by another site."""

from __future__ import annotations

import hmac
import secrets
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

COOKIE = "ghost_ui"
CSRF_HEADER = "X-Ghost-UI"  # a custom header: a cross-origin page cannot send it without a preflight Ghost refuses
MAX_SESSIONS = 64
MAX_CODES = 16
SESSION_LIFETIME_SECS = 7 * 24 * 3600


@dataclass(slots=True)
class LoginState:
    """One-time login codes and the UI sessions they opened, in memory: a restart logs out."""

    codes: dict[str, float] = field(default_factory=dict)  # code -> time made
    sessions: dict[str, float] = field(default_factory=dict)  # session id -> expiry

    def new_code(self) -> str:
        if len(self.codes) >= MAX_CODES:  # the oldest unused code goes first
            self.codes.pop(next(iter(self.codes)))
        code = secrets.token_urlsafe(24)
        self.codes[code] = time.time()
        return code

    def exchange(self, code: str, now: float | None = None) -> str | None:
        """A fresh session id for an unused code (which is then spent), else None."""
        match = next((c for c in self.codes if hmac.compare_digest(c.encode(), code.encode())), None)
        if match is None:
            return None
        del self.codes[match]
        now = time.time() if now is None else now
        self.sessions = {s: expiry for s, expiry in self.sessions.items() if expiry > now}
        while len(self.sessions) >= MAX_SESSIONS:
            self.sessions.pop(next(iter(self.sessions)))
        session = secrets.token_urlsafe(32)
        self.sessions[session] = now + SESSION_LIFETIME_SECS
        return session

    def valid(self, session: str, now: float | None = None) -> bool:
        if not session:
            return False
        now = time.time() if now is None else now
        for known, expiry in self.sessions.items():
            if hmac.compare_digest(known.encode(), session.encode()):
                return expiry > now
        return False

    def end(self, session: str) -> None:
        self.sessions.pop(session, None)

    def revoke_all(self) -> None:
        self.codes.clear()
        self.sessions.clear()


def same_origin(origin: str, host_header: str) -> bool:
    """Whether `Origin` is exactly this server's origin (scheme http, the Host it was sent to).
    Loopback pages on other ports are other origins yet the same *site*, so SameSite alone
    would let them ride the cookie."""
    parts = urlsplit(origin)
    return parts.scheme in ("http", "https") and bool(parts.netloc) and parts.netloc.lower() == host_header.lower()


def cookie_request_allowed(method: str, headers: dict[str, str] | object, host_header: str) -> bool:
    """A cookie-carried request is the UI's own when it bears the custom header (fetch from
    the page; a cross-origin page would need a CORS preflight Ghost never grants), or, for a
    WebSocket upgrade (which cannot carry custom headers), when its Origin is exactly ours."""
    get = headers.get  # type: ignore[attr-defined]
    origin = get("Origin", "")
    if origin and not same_origin(origin, host_header):
        return False
    if get(CSRF_HEADER, "") == "1":
        return True
    websocket = method == "GET" and get("Upgrade", "").lower() == "websocket"
    return websocket and bool(origin)
