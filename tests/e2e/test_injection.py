"""Injection rules through a real `mitmdump -s ghost.py`: headless Chromium loads local pages
through the proxy and the injected script runs, CSP, compression and missing </head> included."""

from __future__ import annotations

import asyncio
import gzip
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import pytest
from aiohttp import web

from tests.support.ports import free_port

WAIT = 15.0
CHROMIUM = "/usr/bin/chromium"
SCRIPT = "window.__ghost = {injected: true, title: document.title, n: 42};"

PAGES: dict[str, tuple[bytes, dict[str, str]]] = {
    "/plain": (b"<!DOCTYPE html><html><head><title>Plain</title></head><body><p>plain</p></body></html>", {}),
    "/no-head-close": (b"<!DOCTYPE html><html><head><title>Loose</title><body><p>no head close</p></body></html>",
                       {}),
    "/fragment": (b"<p>just a fragment</p>", {}),
    "/csp": (
        b"<html><head><title>CSP</title><script>window.__page = 1;</script></head><body>strict</body></html>",
        {"Content-Security-Policy": "default-src 'self'; script-src 'self'"},
    ),
    "/csp-nonce": (
        b"<html><head><title>Nonce</title><script nonce='abc'>window.__page = 1;</script></head><body></body></html>",
        {"Content-Security-Policy": "script-src 'nonce-abc' 'strict-dynamic'"},
    ),
    "/csp-unsafe-inline": (
        b"<html><head><title>Inline</title><script>window.__page = 1;</script></head><body></body></html>",
        {"Content-Security-Policy": "script-src 'self' 'unsafe-inline'"},
    ),
    "/meta-csp": (
        b'<html><head><meta http-equiv="Content-Security-Policy" content="script-src \'none\'">'
        b"<title>Meta</title></head><body></body></html>",
        {},
    ),
    "/latin1": ("<html><head><title>Caf\u00e9</title></head><body>caf\u00e9</body></html>".encode("latin-1"),
                {"Content-Type": "text/html; charset=iso-8859-1"}),
    "/data.json": (b'{"not": "html"}', {"Content-Type": "application/json"}),
}


@dataclass
class PageServer:
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def make_page_app() -> web.Application:
    async def page(request: web.Request) -> web.Response:
        path = request.path
        compressed = path.startswith("/gz")
        body, headers = PAGES[path.removeprefix("/gz") if compressed else path]
        headers = {"Content-Type": "text/html; charset=utf-8", **headers}
        if compressed:
            body = gzip.compress(body)
            headers["Content-Encoding"] = "gzip"
        return web.Response(body=body, headers=headers)

    app = web.Application()
    for path in PAGES:
        app.router.add_get(path, page)
        app.router.add_get(f"/gz{path}", page)
    return app


@pytest.fixture
def pages() -> Iterator[PageServer]:
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True, name="pages")
    thread.start()
    server = PageServer(free_port())
    runner = web.AppRunner(make_page_app(), access_log=None)

    async def up() -> None:
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", server.port).start()

    asyncio.run_coroutine_threadsafe(up(), loop).result(WAIT)
    try:
        yield server
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(WAIT)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(WAIT)


def add_rule(ghost, **fields: Any) -> dict[str, Any]:
    r = ghost.api("POST", "/api/v1/injection-rules", json=fields)
    assert r.status_code == 201, r.text
    return r.json()


@pytest.fixture
def browser(ghost, tmp_path: Path):
    if not Path(CHROMIUM).exists() or shutil.which("chromium") is None:
        pytest.fail("Debian's chromium is required for this test: apt-get install -y chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"),
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                f"--proxy-server={ghost.proxy_url}", "--proxy-bypass-list=<-loopback>",
            ],
            timeout=30_000,
        )
        context.set_default_timeout(20_000)
        try:
            yield context
        finally:
            context.close()


def visit(context, url: str) -> dict[str, Any]:
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    try:
        response = page.goto(url, wait_until="load")
        assert response is not None and response.ok, url
        return {
            "ghost": page.evaluate("window.__ghost === undefined ? null : window.__ghost"),
            "page": page.evaluate("window.__page === undefined ? null : window.__page"),
            "title": page.title(),
            "console_errors": errors,
        }
    finally:
        page.close()


def test_chromium_runs_the_injected_script(ghost, pages: PageServer, browser) -> None:
    rule = add_rule(ghost, name="expose", url_pattern=f"{pages.url}/*", script=SCRIPT)
    assert rule["enabled"] is True and rule["session_id"]

    plain = visit(browser, f"{pages.url}/plain")
    assert plain["ghost"] == {"injected": True, "title": "Plain", "n": 42}

    for path in ("/no-head-close", "/fragment", "/gz/plain", "/gz/no-head-close", "/latin1"):
        seen = visit(browser, f"{pages.url}{path}")
        assert seen["ghost"] is not None and seen["ghost"]["injected"] is True, (path, seen)
    assert visit(browser, f"{pages.url}/latin1")["title"] == "Caf\u00e9"  # the page's charset is intact

    # CSP: our script runs, the page's own policy still blocks what it blocked
    strict = visit(browser, f"{pages.url}/csp")
    assert strict["ghost"]["injected"] is True and strict["page"] is None
    gz_strict = visit(browser, f"{pages.url}/gz/csp")
    assert gz_strict["ghost"]["injected"] is True and gz_strict["page"] is None
    nonce = visit(browser, f"{pages.url}/csp-nonce")
    assert nonce["ghost"]["injected"] is True and nonce["page"] == 1
    inline = visit(browser, f"{pages.url}/csp-unsafe-inline")
    assert inline["ghost"]["injected"] is True and inline["page"] == 1
    meta = visit(browser, f"{pages.url}/meta-csp")
    assert meta["ghost"]["injected"] is True

    stored = ghost.wait_flows(1, q="path:/plain")[0]
    assert "injected" in stored["tags"]
    flow = ghost.api("GET", f"/api/v1/flows/{stored['id']}").json()
    assert flow["metadata"]["injection_rules"] == [rule["id"]]


def test_only_matching_html_of_the_active_session(ghost, pages: PageServer) -> None:
    rule = add_rule(ghost, url_pattern=f"{pages.url}/plain", script=SCRIPT)
    with ghost.client() as client:
        plain = client.get(f"{pages.url}/plain")
        assert SCRIPT in plain.text and plain.headers["content-length"] == str(len(plain.content))
        assert SCRIPT not in client.get(f"{pages.url}/no-head-close").text  # pattern does not match
        add_rule(ghost, url_pattern="*", script=SCRIPT)
        assert client.get(f"{pages.url}/data.json").text == '{"not": "html"}'  # not HTML
        head = client.head(f"{pages.url}/plain")
        assert head.status_code == 200 and head.content == b""

        # disabled rules and other sessions' rules do nothing
        for r in ghost.api("GET", "/api/v1/injection-rules").json():
            assert ghost.api("POST", f"/api/v1/injection-rules/{r['id']}/toggle").json()["enabled"] is False
        assert SCRIPT not in client.get(f"{pages.url}/plain").text
        ghost.api("POST", f"/api/v1/injection-rules/{rule['id']}/toggle")
        assert SCRIPT in client.get(f"{pages.url}/plain").text
        first_session = rule["session_id"]
        other = ghost.api("POST", "/api/v1/sessions", json={"name": "other"}).json()
        assert ghost.api("POST", f"/api/v1/sessions/{other['id']}/activate").status_code == 200
        assert ghost.api("GET", "/api/v1/injection-rules").json() == []
        assert SCRIPT not in client.get(f"{pages.url}/plain").text
        listed = ghost.api("GET", "/api/v1/injection-rules", params={"session_id": first_session}).json()
        assert len(listed) == 2
        ghost.api("POST", f"/api/v1/sessions/{first_session}/activate")
        assert SCRIPT in client.get(f"{pages.url}/plain").text


async def test_crud_validation_and_events(ghost) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(f"{ghost.api_url}/api/v1/ws?token={ghost.token}", timeout=10) as ws:

            async def next_event() -> dict[str, Any]:
                while True:
                    message = await asyncio.wait_for(ws.receive_json(), WAIT)
                    if message["type"].startswith("injection_rule."):
                        return message

            def api(method: str, path: str, **kwargs: Any) -> httpx.Response:
                return ghost.api(method, path, **kwargs)

            created = await asyncio.to_thread(add_rule, ghost, url_pattern="https://app.example.com/*",
                                              script="a()", name="first")
            assert await next_event() == {"type": "injection_rule.created", "data": created}
            toggled = (await asyncio.to_thread(api, "POST", f"/api/v1/injection-rules/{created['id']}/toggle")).json()
            assert toggled["enabled"] is False
            assert (await next_event())["type"] == "injection_rule.updated"
            # PUT keeps the enabled state even when asked to change it
            r = await asyncio.to_thread(api, "PUT", f"/api/v1/injection-rules/{created['id']}",
                                        json={"script": "b()", "enabled": True})
            assert r.status_code == 200 and r.json()["script"] == "b()" and r.json()["enabled"] is False
            assert (await next_event())["data"]["script"] == "b()"
            got = (await asyncio.to_thread(api, "GET", f"/api/v1/injection-rules/{created['id']}")).json()
            assert got["name"] == "first" and got["url_pattern"] == "https://app.example.com/*"
            assert (await asyncio.to_thread(api, "DELETE", f"/api/v1/injection-rules/{created['id']}")).status_code == 204
            assert await next_event() == {"type": "injection_rule.deleted", "data": {"id": created["id"]}}

    for body, message in [
        ({"script": "x()"}, "url_pattern is required"),
        ({"url_pattern": "", "script": "x()"}, "url_pattern is required"),
        ({"url_pattern": "*", "script": "x" * (64 * 1024 + 1)}, "limit is 65536"),
        ({"url_pattern": "*", "script": 5}, "script must be a string"),
        ({"url_pattern": "*", "extra": 1}, "unknown field"),
    ]:
        r = await asyncio.to_thread(ghost.api, "POST", "/api/v1/injection-rules", json=body)
        assert r.status_code == 400 and message in r.json()["error"], (body, r.text)
    ok = await asyncio.to_thread(ghost.api, "POST", "/api/v1/injection-rules",
                                 json={"url_pattern": "*", "script": "x" * (64 * 1024)})
    assert ok.status_code == 201
    for method, path in [("GET", "/nope"), ("PUT", "/nope"), ("DELETE", "/nope"), ("POST", "/nope/toggle")]:
        kwargs = {"json": {}} if method == "PUT" else {}
        r = await asyncio.to_thread(ghost.api, method, f"/api/v1/injection-rules{path}", **kwargs)
        assert r.status_code == 404, (method, path, r.text)
