"""Ghost's web UI: static pages served at ``/`` of the API server (same origin), a one-time
login URL printed at start-up that becomes an HttpOnly, SameSite=Strict session cookie, and
the check that lets that cookie stand in for the bearer token on the UI's own requests."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiohttp import web

from ghost_addons.api.http import json_response
from ghost_addons.hookspecs import hookimpl
from plugins.webui.auth import COOKIE, SESSION_LIFETIME_SECS, LoginState, cookie_request_allowed

if TYPE_CHECKING:
    from ghost_addons.api.routes import RouteTable
    from ghost_addons.core import Ghost

log = logging.getLogger("ghost.webui")

STATIC = Path(__file__).with_name("static")
CONTENT_TYPES = {".html": "text/html", ".css": "text/css", ".js": "text/javascript", ".svg": "image/svg+xml",
                 ".txt": "text/plain"}
# No inline script or style, nothing from elsewhere: a payload that slipped into the page
# could not run. Images may be data:/blob: URLs (bodies shown in the inspector).
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
       "connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
PAGE_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-cache",
}


def static_files(folder: Path = STATIC) -> dict[str, tuple[bytes, str]]:
    """The files the UI may serve (content, type) by the name in their URL (`/ui/<name>`):
    a fixed set read once, so a request can name nothing else (no traversal to decide on)
    and serving reads no disk on the event loop."""
    return {p.name: (p.read_bytes(), CONTENT_TYPES[p.suffix]) for p in sorted(folder.iterdir())
            if p.is_file() and p.suffix in CONTENT_TYPES}


def login_url(ghost: Ghost, code: str) -> str:
    return f"{ghost.api_url}/login?code={code}"


class WebUi:
    def __init__(self) -> None:
        self.logins = LoginState()
        self.files = static_files()

    def announce_login(self, ghost: Ghost) -> str:
        url = login_url(ghost, self.logins.new_code())
        log.warning("Web UI: open %s (a one-time login link)", url)
        return url

    @hookimpl
    def ghost_startup(self, ghost: Ghost) -> None:
        self.announce_login(ghost)

    @hookimpl
    def ghost_event(self, ghost: Ghost, type: str, data: Any) -> None:
        if type == "api.token_rotated":  # rotation revokes every credential, the UI's too
            self.logins.revoke_all()
            self.announce_login(ghost)

    @hookimpl
    def ghost_api_authorized(self, ghost: Ghost, request: web.Request) -> bool | None:
        session = request.cookies.get(COOKIE, "")
        if not session or not self.logins.valid(session):
            return None
        return cookie_request_allowed(request.method, request.headers, request.host) or None

    @hookimpl
    def ghost_routes(self, ghost: Ghost, routes: RouteTable) -> None:
        async def index(request: web.Request) -> web.StreamResponse:
            return self.page("index.html")

        async def asset(request: web.Request) -> web.StreamResponse:
            return self.page(request.match_info["name"])

        async def login(request: web.Request) -> web.StreamResponse:
            session = self.logins.exchange(request.query.get("code", ""))
            if session is None:
                return self.page("login.html", status=401)
            response = web.HTTPSeeOther("/", headers=PAGE_HEADERS)
            response.set_cookie(COOKIE, session, httponly=True, samesite="Strict", path="/",
                                max_age=SESSION_LIFETIME_SECS)
            return response

        async def new_login(request: web.Request) -> web.Response:
            return json_response({"url": self.announce_login(ghost)})

        async def logout(request: web.Request) -> web.Response:
            self.logins.end(request.cookies.get(COOKIE, ""))
            response = json_response({"ok": True})
            response.del_cookie(COOKIE, path="/")
            return response

        routes.add("GET", "/", index, "The web UI", public=True)
        routes.add("GET", "/ui/{name}", asset, "A file of the web UI (scripts, styles)", public=True)
        routes.add("GET", "/login", login, "Exchange a one-time login code for the UI's session cookie",
                   public=True, query={"code": "the one-time code from the login URL"},
                   responses={303: "Logged in: cookie set, redirect to /", 401: "Code wrong or used"})
        routes.add("POST", "/api/v1/webui/login-url", new_login,
                   "Make a new one-time login URL for the web UI (also logged)")
        routes.add("POST", "/api/v1/webui/logout", logout, "End this browser's web UI session")

    def page(self, name: str, status: int = 200) -> web.StreamResponse:
        found = self.files.get(name)
        if found is None:
            return web.Response(status=404, text=f"no such UI file: {name}", headers=PAGE_HEADERS)
        body, content_type = found
        return web.Response(body=body, status=status, headers=PAGE_HEADERS,
                            content_type=content_type, charset="utf-8")


def make_plugin() -> WebUi:
    return WebUi()
