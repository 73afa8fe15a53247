"""The SSRF matrix: every request Ghost itself originates (flow replay, journey replay,
compose, the TestRail and LLM checks) refuses every spelling of loopback, the metadata
address, private and link-local ranges, userinfo tricks, other schemes and redirects to any
of those, saying why, and a local listener sees no connection at all.

The proxy-to-API refusal for every loopback spelling, plain and through CONNECT with raw
sockets, is tests/e2e/test_api_refusal.py (it needs the real proxy).

How each path says "refused": replay and compose with a 4xx and `{"error"}`; the two checks
with the spec's `200 {"valid": false, "error"}` (settings-and-misc-api.md: "always HTTP 200");
journey replay, a stream, with a `step_error` event per step.
"""

from __future__ import annotations

import re
import socket
from collections.abc import AsyncIterator

import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from tests.e2e.test_replay_guard import Listener
from tests.security.helpers import ALL_PLUGINS, journey_of, stored_flow
from tests.support.inprocess import Api

# Hosts, each put in front of the listener's port. Those that are not loopback cannot reach
# the listener anyway; for them the refusal itself (a 4xx, fast, with its reason) is the test.
LOOPBACK_HOSTS = (
    "127.0.0.1", "127.1", "127.0.1", "0x7f000001", "2130706433", "0177.0.0.1", "017700000001", "0x7f.0.0.1",
    "127.0.0.01", "0x7F.1", "0", "0.0.0.0", "[::1]", "[::]", "[::ffff:127.0.0.1]", "[::ffff:7f00:1]",
    "[0:0:0:0:0:ffff:7f00:1]", "[::127.0.0.1]", "localhost", "localhost.", "LOCALHOST", "foo.localhost",
)
METADATA_HOSTS = ("169.254.169.254", "2852039166", "0xa9fea9fe", "0251.0376.0251.0376", "[::ffff:169.254.169.254]",
                  "[fd00:ec2::254]")
PRIVATE_HOSTS = ("10.0.0.1", "10.255.255.254", "172.16.0.1", "172.31.255.254", "192.168.0.1", "192.168.255.254",
                 "100.64.0.1", "[fc00::1]", "[fd12:3456::1]", "[fe80::1]", "[::ffff:10.0.0.1]", "[64:ff9b::7f00:1]")
# Whole URLs, with {port} for the listener's port.
TRICK_URLS = (
    "http://a@127.1:{port}/", "http://user:pass@[::1]:{port}/", "http://public.example@127.0.0.1:{port}/",
    "http://127.0.0.1:{port}#@public.example/", "file:///etc/passwd", "gopher://127.1:{port}/_GET%20/",
    "ftp://127.1:{port}/", "dict://127.1:{port}/info", "ws://127.1:{port}/",
)
# What a refusal names: the range, the scheme rule, or the API itself.
REASON = re.compile(r"loopback|private|link-local|unspecified|reserved|shared address|metadata|"
                    r"http:// or https://|Ghost's own API|refus", re.IGNORECASE)


def loopback_name() -> list[str]:
    """This machine's name when /etc/hosts maps it to loopback (a DNS name that resolves to
    loopback without a public resolver); none otherwise."""
    name = socket.gethostname()
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(name, 80, type=socket.SOCK_STREAM)}
    except OSError:
        return []
    return [name] if addresses and all(a.startswith("127.") or a == "::1" for a in addresses) else []


def matrix(port: int) -> list[str]:
    hosts = (*LOOPBACK_HOSTS, *loopback_name(), *METADATA_HOSTS, *PRIVATE_HOSTS)
    return [f"http://{host}:{port}/probe" for host in hosts] + [u.format(port=port) for u in TRICK_URLS]


@pytest.fixture
def listener():  # type: ignore[no-untyped-def]
    server = Listener()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
async def redirector(listener: Listener) -> AsyncIterator[TestServer]:
    """A server on `localhost` (which the test allow-lists) that redirects to `?to=`: a
    name let through must not carry a request on to a refused address."""
    async def hop(request: web.Request) -> web.Response:
        raise web.HTTPFound(request.query["to"])

    app = web.Application()
    app.router.add_route("*", "/hop", hop)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        yield server
    finally:
        await server.close()


def refused(status: int, body: object) -> str:
    """The reason a refusal gives, or "" when the answer is not a refusal."""
    if not isinstance(body, dict):
        return ""
    if 400 <= status < 500 and isinstance(body.get("error"), str):
        return body["error"]
    if status == 200 and body.get("valid") is False and isinstance(body.get("error"), str):
        return body["error"]
    return ""


async def outbound_answers(api: Api, url: str) -> dict[str, tuple[int, object]]:
    """The answer of every outbound path (but journey replay, which streams) aimed at `url`."""
    flow = await stored_flow(api.ghost, url) if url.startswith("http") else ""
    answers = {
        "compose": await api.call("POST", "/api/v1/compose", json={"method": "GET", "url": url,
                                                                   "follow_redirects": True, "timeout_ms": 3000}),
        "testrail": await api.call("POST", "/api/v1/settings/testrail/validate",
                                   json={"url": url, "email": "qa@example.com", "api_key": "k"}),
        "llm": await api.call("POST", "/api/v1/settings/llm/validate",
                              json={"provider": "ollama", "ollama_endpoint": url, "model": "m"}),
    }
    if flow:
        answers["flow replay"] = await api.call("POST", f"/api/v1/flows/{flow}/replay")
    return answers


def sse_events(body: bytes) -> list[dict[str, object]]:
    return [orjson.loads(line[6:]) for line in body.split(b"\n") if line.startswith(b"data: ")]


async def test_every_outbound_path_refuses_every_form(ghost_app, listener: Listener) -> None:
    api = await ghost_app(ALL_PLUGINS)
    urls = matrix(listener.port)
    assert len(urls) >= 25
    failures = []
    probes = 0
    for url in urls:
        for path, (status, body) in (await outbound_answers(api, url)).items():
            probes += 1
            reason = refused(status, body)
            if not REASON.search(reason):
                failures.append((path, url, status, body))

    http_urls = [u for u in urls if u.startswith("http")]
    journey = await journey_of(api.ghost, http_urls)
    status, body = await api.call("GET", f"/api/v1/journeys/{journey}/replay")
    assert status == 200
    errors = [e for e in sse_events(body) if e["type"] == "step_error"]
    probes += len(http_urls)
    assert [e["url"] for e in errors] == http_urls
    failures += [("journey replay", e["url"], 200, e) for e in errors if not REASON.search(str(e["error"]))]

    assert failures == []
    assert listener.accepted == 0
    assert probes >= 5 * 40, probes
    print(f"SSRF matrix: {len(urls)} forms, {probes} probes, 0 connections")


async def test_redirects_to_refused_addresses_are_not_followed(ghost_app, listener: Listener,
                                                               redirector: TestServer) -> None:
    """Compose follows redirects when asked, through the guard; the two checks never follow
    one (their answer names the redirect). Flow and journey replay send exactly the stored
    request, so no redirect is followed there. The listener sees nothing either way."""
    api = await ghost_app(ALL_PLUGINS)
    await api.ok("PUT", "/api/v1/settings", json={"replay": {"allow_hosts": ["localhost"]}})
    # Not 127.0.0.1 itself: allowing `localhost` allows the address it resolves to.
    for target in ("127.1", "2130706433", "[::ffff:7f00:1]", "[::1]", "0", "169.254.169.254", "10.0.0.1"):
        url = f"http://localhost:{redirector.port}/hop?to=http://{target}:{listener.port}/probe"
        answers = await outbound_answers(api, url)
        status, body = answers["compose"]
        # yarl refuses a non-canonical IPv4 Location before the guard sees it: no connection
        # either, and a 502 that names the bad redirect (the upstream's fault, not the user's).
        assert REASON.search(refused(status, body)) or (
            status == 502 and "is not a canonical IPv4 address" in str(body)), (target, status, body)
        for path in ("testrail", "llm"):
            status, body = answers[path]
            assert status == 200 and re.search(r"HTTP 30[12]|" + REASON.pattern, refused(status, body), re.I), (
                path, target, status, body)
    assert listener.accepted == 0


async def test_the_listener_is_reachable_once_allowed(ghost_app, listener: Listener) -> None:
    """The matrix can fail: allow-listed, the same listener is reached."""
    api = await ghost_app(ALL_PLUGINS)
    await api.ok("PUT", "/api/v1/settings", json={"replay": {"allow_hosts": ["127.0.0.1"]}})
    status, body = await api.call("POST", "/api/v1/compose",
                                  json={"method": "GET", "url": f"http://127.0.0.1:{listener.port}/probe"})
    assert status == 200, body
    assert listener.accepted == 1
