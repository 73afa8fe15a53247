"""The web UI served by a real (in-process) Ghost: pages with a strict CSP, the one-time
login link, and the session cookie accepted only for the UI's own requests."""

from __future__ import annotations

import re
from typing import Any

import aiohttp
import pytest

from plugins.webui import CSP
from plugins.webui.auth import COOKIE

PLUGINS = ("plugins.webui",)


async def login(api: Any) -> tuple[aiohttp.ClientSession, str]:
    """A browser-like client (no token) that followed a fresh login link; and the link."""
    url = (await api.ok("POST", "/api/v1/webui/login-url"))["url"]
    browser = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
    async with browser.get(url, allow_redirects=False) as response:
        assert response.status == 303 and response.headers["Location"] == "/"
        cookie = response.headers["Set-Cookie"]
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/" in cookie
    return browser, url


async def test_pages_are_served_with_a_strict_csp(ghost_app) -> None:
    api = await ghost_app(PLUGINS)
    async with aiohttp.ClientSession() as anonymous:
        for path, kind in (("/", "text/html"), ("/ui/main.js", "text/javascript"), ("/ui/app.css", "text/css")):
            async with anonymous.get(api.base + path) as response:
                assert response.status == 200, path
                assert response.content_type == kind
                assert response.headers["Content-Security-Policy"] == CSP
                assert response.headers["X-Content-Type-Options"] == "nosniff"
        async with anonymous.get(api.base + "/ui/..%2F__init__.py") as response:
            assert response.status == 404
        async with anonymous.get(api.base + "/") as response:
            html = await response.text()
    assert "script-src 'self'" in CSP and "unsafe-inline" not in CSP
    assert not re.search(r"<script(?![^>]*\bsrc=)", html), "no inline script in the page"
    assert not re.search(r"\son\w+\s*=", html), "no inline event handlers"


async def test_the_login_link_works_once_and_logs_nothing_secret(ghost_app, caplog: pytest.LogCaptureFixture) -> None:
    api = await ghost_app(PLUGINS)
    browser, url = await login(api)
    async with browser:
        async with browser.get(url, allow_redirects=False) as again:
            assert again.status == 401
            assert "already used" in await again.text()
        async with browser.get(api.base + "/api/v1/sessions", headers={"X-Ghost-UI": "1"}) as response:
            assert response.status == 200
            assert (await response.json())[0]["active"] is True
    assert api.token not in caplog.text


async def test_the_startup_log_names_a_login_link(ghost_app, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO")
    api = await ghost_app(PLUGINS)
    link = re.search(r"Web UI: open (http://\S+/login\?code=\S+)", caplog.text)
    assert link, caplog.text
    async with aiohttp.ClientSession() as browser, browser.get(link.group(1), allow_redirects=False) as response:
        assert response.status == 303 and COOKIE in response.cookies
    assert api.token not in caplog.text


async def test_the_cookie_alone_opens_nothing(ghost_app) -> None:
    api = await ghost_app(PLUGINS)
    browser, _ = await login(api)
    async with browser:
        async with browser.get(api.base + "/api/v1/sessions") as response:  # no X-Ghost-UI: a link from elsewhere
            assert response.status == 401
        async with browser.post(api.base + "/api/v1/sessions", json={"name": "x"},
                                headers={"X-Ghost-UI": "1", "Origin": "http://127.0.0.1:1"}) as response:
            assert response.status == 401  # another loopback origin: same site, not our page
        async with browser.post(api.base + "/api/v1/sessions", json={"name": "from the UI"},
                                headers={"X-Ghost-UI": "1", "Origin": api.base}) as response:
            assert response.status == 201
        async with browser.get(api.base + "/api/v1/sessions",
                               headers={"X-Ghost-UI": "1", "Authorization": "Bearer wrong"}) as response:
            assert response.status == 401  # a wrong token is never rescued by the cookie


async def test_the_events_websocket_takes_the_cookie_from_our_origin_only(ghost_app) -> None:
    api = await ghost_app(PLUGINS)
    browser, _ = await login(api)
    ws_url = api.base.replace("http://", "ws://") + "/api/v1/ws"
    async with browser:
        async with browser.ws_connect(ws_url, origin=api.base) as ws:
            await api.ok("POST", "/api/v1/sessions", 201, json={"name": "seen live"})
            message = await ws.receive_json(timeout=10)
            assert message["type"] == "session.created"
        for origin in ("http://127.0.0.1:1", None):
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                async with browser.ws_connect(ws_url, origin=origin):
                    pass
            assert refused.value.status == 401


async def test_rotating_the_token_logs_the_ui_out(ghost_app) -> None:
    api = await ghost_app(PLUGINS)
    browser, _ = await login(api)
    async with browser:
        new_token = (await api.ok("POST", "/api/v1/settings/rotate-token"))["token"]
        async with browser.get(api.base + "/api/v1/sessions", headers={"X-Ghost-UI": "1"}) as response:
            assert response.status == 401
    assert new_token


async def test_logout_ends_the_session(ghost_app) -> None:
    api = await ghost_app(PLUGINS)
    browser, _ = await login(api)
    async with browser:
        session = browser.cookie_jar.filter_cookies(api.base)[COOKIE].value
        async with browser.post(api.base + "/api/v1/webui/logout", headers={"X-Ghost-UI": "1"}) as response:
            assert response.status == 200
        cookie = browser.cookie_jar.filter_cookies(api.base).get(COOKIE)
        assert cookie is None or not cookie.value
    async with aiohttp.ClientSession() as replayer:
        async with replayer.get(api.base + "/api/v1/sessions",
                                headers={"X-Ghost-UI": "1", "Cookie": f"{COOKIE}={session}"}) as response:
            assert response.status == 401  # the old cookie, kept by someone, is dead
