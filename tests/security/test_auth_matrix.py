"""The auth matrix: every route the running app serves (read from aiohttp's router, so a new
route is covered the day it is added) refuses a missing, wrong, empty and rotated-out token;
every stream opened with the old token closes within a second of a rotation; a foreign Host
or Origin is refused even with the right token."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest
from aiohttp import WSMsgType

from tests.security.helpers import ALL_PLUGINS, fill, journey_of, served_routes
from tests.support.inprocess import Api

# The only routes anyone may call without the token: liveness, the CA certificate a device
# installs before it can hold a token, and the PAC file a browser fetches by itself.
PUBLIC = {"/api/v1/health", "/api/v1/proxy/ca", "/proxy.pac"}
# The web UI's own pages and files (plugins/webui): static, no data in them; the data they
# show comes from the API, which needs the token or the UI's session cookie.
UI_PAGES = {"/", "/login", "/ui/{name}"}


def guarded(api: Api) -> list[tuple[str, str]]:
    routes = served_routes(api.ghost)
    assert len(routes) > 80, routes  # the whole table, not an early-returning stub
    return [(method, path) for method, path in routes if path not in PUBLIC | UI_PAGES]


async def statuses(api: Api, headers: dict[str, str], query: str = "") -> dict[tuple[str, str], int]:
    """The status of every guarded route called with `headers` (and `query`)."""
    got = {}
    async with aiohttp.ClientSession() as client:
        for method, path in guarded(api):
            async with client.request(method, api.base + fill(path) + query, headers=headers,
                                      data=b"{}") as response:
                await response.read()
                got[(method, path)] = response.status
    return got


def not_401(got: dict[tuple[str, str], int]) -> dict[tuple[str, str], int]:
    return {route: status for route, status in got.items() if status != 401}


async def test_public_routes_are_exactly_the_three_that_need_no_token(ghost_app) -> None:
    """Besides the web UI's static pages, which hold no data."""
    api = await ghost_app(ALL_PLUGINS)
    served = {path for _, path in served_routes(api.ghost)}
    assert PUBLIC | UI_PAGES <= served
    assert api.ghost.api.runner is not None
    from ghost_addons.api.core_routes import ROUTES_KEY
    assert api.ghost.api.runner.app[ROUTES_KEY].public_paths() == PUBLIC | UI_PAGES


@pytest.mark.parametrize("headers", [
    {},
    {"Authorization": "Bearer wrong-token"},
    {"Authorization": "Bearer "},
    {"Authorization": "Bearer"},
    {"Authorization": "Basic aW5wcm9jZXNzLXRlc3QtdG9rZW4="},
], ids=["none", "wrong", "empty", "bare-scheme", "basic"])
async def test_every_route_refuses_a_bad_token(ghost_app, headers: dict[str, str]) -> None:
    api = await ghost_app(ALL_PLUGINS)
    assert not_401(await statuses(api, headers)) == {}


async def test_the_right_token_in_the_query_opens_no_write_route(ghost_app) -> None:
    """`?token=` is for EventSource and WebSocket clients only: a write route that says
    `Accept: text/event-stream` is still refused."""
    api = await ghost_app(ALL_PLUGINS)
    got = await statuses(api, {"Accept": "text/event-stream"}, f"?token={api.token}")
    writes = {route: status for route, status in got.items() if route[0] not in ("GET", "HEAD")}
    assert writes and not_401(writes) == {}


async def test_every_route_refuses_the_rotated_out_token(ghost_app) -> None:
    api = await ghost_app(ALL_PLUGINS)
    old = api.token
    await api.ok("POST", "/api/v1/settings/rotate-token")
    assert api.ghost.token != old
    assert not_401(await statuses(api, {"Authorization": f"Bearer {old}"})) == {}
    assert not_401(await statuses(api, {"Accept": "text/event-stream"}, f"?token={old}")) == {}


@pytest.mark.parametrize("header", ["Host", "Origin"])
async def test_a_foreign_host_or_origin_is_refused_with_the_right_token(ghost_app, header: str) -> None:
    api = await ghost_app(ALL_PLUGINS)
    value = "evil.example" if header == "Host" else "http://evil.example"
    headers = {"Authorization": f"Bearer {api.token}", header: value}
    got = await statuses(api, headers)
    assert {route: s for route, s in got.items() if s != 403} == {}
    for spelling in ("127.1", "[::ffff:7f00:1]", "localhost."):  # loopback in any spelling is us
        status, _ = await api.call("GET", "/api/v1/sessions", headers={"Host": spelling})
        assert status == 200, spelling


async def read_until_closed(response: aiohttp.ClientResponse, seconds: float) -> float:
    """Read an SSE stream until the server ends it; how long that took after the call."""
    started = time.monotonic()
    async with asyncio.timeout(seconds):
        while await response.content.readany():
            pass
    return time.monotonic() - started


async def test_streams_opened_with_the_old_token_close_within_a_second(ghost_app) -> None:
    api = await ghost_app(ALL_PLUGINS)
    # Three refused steps 10 s apart: the stream would stay open for 20 s on its own.
    journey = await journey_of(api.ghost, ["http://127.0.0.1:9/a", "http://127.0.0.1:9/b", "http://127.0.0.1:9/c"])
    async with aiohttp.ClientSession() as client:
        events = await client.ws_connect(api.ws_url("/api/v1/ws"))
        extension = await client.ws_connect(api.ws_url("/api/v1/extension/ws"))
        sse_header = await client.get(f"{api.base}/api/v1/journeys/{journey}/replay?delay_ms=10000",
                                      headers={"Authorization": f"Bearer {api.token}"})
        sse_query = await client.get(
            f"{api.base}/api/v1/journeys/{journey}/replay?delay_ms=10000&token={api.token}",
            headers={"Accept": "text/event-stream"})
        # One replay per journey at a time: the second is refused, the first is open.
        assert sse_header.status == 200 and sse_query.status == 409
        sse_query.close()
        assert await asyncio.wait_for(sse_header.content.readline(), 5) == b"event: step_start\n"

        await api.ok("POST", "/api/v1/settings/rotate-token")
        took = await read_until_closed(sse_header, 2.0)
        assert took < 1.0
        for ws in (events, extension):
            started = time.monotonic()
            async with asyncio.timeout(2.0):
                while (await ws.receive()).type not in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED):
                    pass
            assert time.monotonic() - started < 1.0
        sse_header.close()


async def test_a_stream_opened_with_the_web_ui_cookie_closes_within_a_second_of_a_rotation(ghost_app) -> None:
    """Rotation revokes the UI's session cookies too, so a stream the UI opened with its
    cookie (no token anywhere) must end like one opened with the token."""
    api = await ghost_app(ALL_PLUGINS)
    journey = await journey_of(api.ghost, ["http://127.0.0.1:9/a", "http://127.0.0.1:9/b"])
    login_url = (await api.ok("POST", "/api/v1/webui/login-url"))["url"]
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as browser:
        async with browser.get(login_url, allow_redirects=False) as response:
            assert response.status == 303
        stream = await browser.get(f"{api.base}/api/v1/journeys/{journey}/replay?delay_ms=10000",
                                   headers={"X-Ghost-UI": "1"})
        assert stream.status == 200
        assert await asyncio.wait_for(stream.content.readline(), 5) == b"event: step_start\n"
        assert len(api.ghost.streams) == 1
        await api.ok("POST", "/api/v1/settings/rotate-token")
        assert await read_until_closed(stream, 2.0) < 1.0
        stream.close()
    assert len(api.ghost.streams) == 0
