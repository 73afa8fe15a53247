"""The SSRF guard: the deny list, the allow-list, Ghost's own API, and real connections on
loopback only (a rebinding DNS answer is played by a fixed resolver)."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.test_utils import TestServer

from ghost_addons.core import Ghost
from ghost_addons.ssrf import (
    ALLOW_SETTING,
    AllowList,
    GuardedResolver,
    OutboundGuard,
    SsrfRefused,
    denied_reason,
    guard_for,
    host_address,
    ip_literal,
)

API_PORT = 5565


def api_at(host: str, port: int):  # type: ignore[no-untyped-def]
    """A `targets_api` for an API on one address (the real one is `Ghost.targets_api`)."""
    return lambda h, p: (h, p) == (host, port)


def no_api(host: str, port: int) -> bool:
    return False


def guard(*allow: str) -> OutboundGuard:
    return OutboundGuard(no_api, AllowList.parse(allow))


def addr_info(ip: str, port: int) -> tuple[object, ...]:
    if ":" in ip:
        return (socket.AF_INET6, socket.SOCK_STREAM, 6, "", (ip, port, 0, 0))
    return (socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, port))


# --- the deny list ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "address",
    [
        "0.0.0.0", "10.0.0.1", "10.1.2.3", "100.64.0.1", "127.0.0.1", "127.1.2.3", "127.255.255.254",
        "169.254.169.254", "172.16.0.1", "172.16.5.4", "172.31.255.255", "192.0.0.8", "192.0.2.1",
        "192.168.1.1", "198.18.0.1", "198.51.100.7", "203.0.113.9", "224.0.0.1", "224.0.0.251",
        "239.255.255.250", "240.0.0.1", "255.255.255.255",
        "::", "::1", "::ffff:127.0.0.1", "::ffff:10.0.0.1", "::127.0.0.1", "::ffff:0:7f00:1",
        "64:ff9b::7f00:1", "64:ff9b::a00:1", "64:ff9b:1::1", "64:ff9b:1::a9fe:a9fe", "100::1",
        "2001::1", "2001:0:4136:e378:8000:63bf:3fff:fdd2", "2001:db8::1", "2002:7f00:1::",
        "2002:7f00:1::1", "3fff::1", "5f00::1", "fc00::1", "fd00::1", "fd00:ec2::254", "fe80::1",
        "fec0::1", "ff02::1",
    ],
)
def test_denied_addresses(address: str) -> None:
    assert denied_reason(ipaddress.ip_address(address)), address


@pytest.mark.parametrize(
    "address",
    ["8.8.8.8", "1.1.1.1", "93.184.216.34", "2606:4700:4700::1111", "2a00:1450::1",
     # IPv4-mapped and NAT64 (DNS64 networks) forms of public hosts reach those hosts.
     "::ffff:8.8.8.8", "64:ff9b::808:808"],
)
def test_public_addresses_pass(address: str) -> None:
    assert denied_reason(ipaddress.ip_address(address)) == ""


def test_reason_names_the_range_and_the_embedded_address() -> None:
    assert "link-local" in denied_reason(ipaddress.ip_address("169.254.169.254"))
    assert "NAT64" in denied_reason(ipaddress.ip_address("64:ff9b::7f00:1"))
    assert "IPv4-mapped" in denied_reason(ipaddress.ip_address("::ffff:127.0.0.1"))
    reason = denied_reason(ipaddress.ip_address("::ffff:169.254.169.254"))
    assert "169.254.169.254" in reason and "link-local" in reason and "IPv4-mapped" in reason
    assert "cloud metadata" in denied_reason(ipaddress.ip_address("fd00:ec2::254"))
    assert "Teredo" in denied_reason(ipaddress.ip_address("2001:0:4136:e378:8000:63bf:3fff:fdd2"))


# --- the allow-list ---------------------------------------------------------------------------


def test_allow_list_parsing_and_matching() -> None:
    allow = AllowList.parse(["127.0.0.1", "10.0.0.0/8", "LocalHost", "*.dev.test", " ", "[::1]"])
    assert allow.allows_host("localhost") and allow.allows_host("localhost.")
    # *.domain covers the domain too, as every host pattern does (ghost_addons.matching)
    assert allow.allows_host("api.dev.test") and allow.allows_host("dev.test") and allow.allows_host("A.Dev.Test")
    assert not allow.allows_host("baddev.test") and not allow.allows_host("dev.test.evil")
    assert allow.allows_host("127.0.0.1") and allow.allows_host("10.9.9.9") and allow.allows_host("[::1]")
    assert not allow.allows_host("127.0.0.2") and not allow.allows_host("evil.test")
    assert allow.allows_ip(ipaddress.ip_address("::ffff:127.0.0.1"))  # mapped form of an allowed IP
    for bad in ["http://x", "http://x/", "a b", "10.0.0.0/33", "*.", "-", "a..b"]:
        with pytest.raises(ValueError, match="is not a host name"):
            AllowList.parse([bad])


def test_allow_list_lets_addresses_through() -> None:
    g = guard("localhost", "*.internal.test", "10.1.0.0/16", "::1")
    g.check_address(ipaddress.ip_address("127.0.0.1"), "localhost")
    g.check_address(ipaddress.ip_address("10.0.0.5"), "db.internal.test")
    g.check_address(ipaddress.ip_address("10.1.2.3"))
    g.check_address(ipaddress.ip_address("::1"))
    with pytest.raises(SsrfRefused, match=r"10\.2\.0\.1: private network"):
        g.check_address(ipaddress.ip_address("10.2.0.1"))
    with pytest.raises(SsrfRefused, match=r"evil\.test \(127\.0\.0\.1\): loopback.*replay\.allow_hosts"):
        g.check_address(ipaddress.ip_address("127.0.0.1"), "evil.test")
    assert len(g.refusals) == 2


# --- check_url: before anything is sent ---------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("file:///etc/passwd", "only http and https"),
        ("gopher://127.0.0.1/", "only http and https"),
        ("http:///nohost", "has no host"),
        ("http://h:99999/", "port is not valid"),
        ("http://127.0.0.1:8080/", "loopback"),
        ("http://[::ffff:169.254.169.254]/latest/meta-data", "IPv4-mapped"),
        ("http://[64:ff9b::7f00:1]/", "NAT64"),
        ("http://10.0.0.5/", "private network"),
        ("http://169.254.169.254/latest/meta-data/", "link-local"),
    ],
)
def test_check_url_refuses_before_sending(url: str, message: str) -> None:
    g = guard()
    with pytest.raises(SsrfRefused, match=message) as excinfo:
        g.check_url(url)
    assert g.refusals[-1] == str(excinfo.value)


def test_check_url_passes_names_and_allowed_ips() -> None:
    guard().check_url("https://example.com/api")  # names are checked at resolve time
    guard("127.0.0.1").check_url("http://127.0.0.1:9/")


# --- Ghost's own API --------------------------------------------------------------------------


def test_ghost_api_is_refused_even_when_allowed() -> None:
    g = OutboundGuard(api_at("127.0.0.1", API_PORT), AllowList.parse(["127.0.0.0/8"]))
    with pytest.raises(SsrfRefused, match="Ghost's own API"):
        g.check_url(f"http://127.0.0.1:{API_PORT}/api/v1/sessions")
    with pytest.raises(SsrfRefused, match="Ghost's own API"):
        g.socket_factory(addr_info("127.0.0.1", API_PORT))
    with pytest.raises(SsrfRefused, match="Ghost's own API"):  # the mapped spelling of the address
        g.socket_factory(addr_info("::ffff:127.0.0.1", API_PORT))
    g.check_url(f"http://127.0.0.1:{API_PORT + 1}/")  # another port of an allowed address
    g.socket_factory(addr_info("127.0.0.1", API_PORT + 1)).close()


@pytest.fixture
def ghost(tmp_path: Path) -> Iterator[Ghost]:
    instance = Ghost(tmp_path / "home", api_port=API_PORT, token="ssrf-test", default_plugins=())
    try:
        yield instance
    finally:
        asyncio.run(instance.store.close())


def test_guard_for_ghost_uses_its_api_and_its_allow_list(ghost: Ghost) -> None:
    ghost.settings.data["replay"]["allow_hosts"] = ["localhost", "127.0.0.0/8", "::1"]
    g = guard_for(ghost)
    g.check_url("http://127.0.0.1:8080/")
    for url in [f"http://localhost:{API_PORT}/", f"http://127.0.0.1:{API_PORT}/",
                f"http://[::1]:{API_PORT}/", f"http://app.localhost:{API_PORT}/"]:
        with pytest.raises(SsrfRefused, match="Ghost's own API"):
            g.check_url(url)
    for ip in ["127.0.0.1", "127.0.0.2", "::1", "::ffff:127.0.0.1", "0.0.0.0"]:
        with pytest.raises(SsrfRefused, match="Ghost's own API"):
            g.socket_factory(addr_info(ip, API_PORT))


@pytest.mark.parametrize(("value", "message"), [
    (["http://x/"], r"setting replay\.allow_hosts: allow-list entry 'http://x/' is not a host name"),
    ("localhost", r"setting replay\.allow_hosts must be a list"),
    (5, r"setting replay\.allow_hosts must be a list"),
])
def test_guard_for_names_a_bad_setting(ghost: Ghost, value: object, message: str) -> None:
    ghost.settings.data["replay"]["allow_hosts"] = value
    with pytest.raises(ValueError, match=message):
        guard_for(ghost)


@pytest.mark.parametrize("value", [[], None])
def test_guard_for_with_an_empty_setting_refuses_loopback(ghost: Ghost, value: object) -> None:
    assert ghost.settings.get(ALLOW_SETTING) == []  # the default
    ghost.settings.data["replay"]["allow_hosts"] = value
    with pytest.raises(SsrfRefused, match="loopback"):
        guard_for(ghost).check_url("http://127.0.0.1:8080/")


# --- the resolver and the socket factory --------------------------------------------------------


class FixedResolver(AbstractResolver):
    """Answers every name with fixed addresses (what a rebinding DNS server would do)."""

    def __init__(self, addresses: list[str]) -> None:
        self.addresses = addresses

    async def resolve(self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        return [
            ResolveResult(hostname=host, host=a, port=port,
                          family=socket.AF_INET6 if ":" in a else socket.AF_INET, proto=0, flags=0)
            for a in self.addresses
        ]

    async def close(self) -> None:
        pass


async def test_resolver_drops_denied_addresses() -> None:
    g = guard()
    mixed = GuardedResolver(g, FixedResolver(["127.0.0.1", "93.184.216.34", "::ffff:10.0.0.1"]))
    assert [r["host"] for r in await mixed.resolve("mixed.test", 80)] == ["93.184.216.34"]
    only_private = GuardedResolver(g, FixedResolver(["10.0.0.1", "fd00::1"]))
    with pytest.raises(SsrfRefused, match=r"rebind\.test: it resolves only to 10\.0\.0\.1"):
        await only_private.resolve("rebind.test", 80)
    allowed = guard("*.local.test")
    resolver = GuardedResolver(allowed, FixedResolver(["127.0.0.1"]))
    assert [r["host"] for r in await resolver.resolve("app.local.test", 80)] == ["127.0.0.1"]
    # The socket factory then lets the allowed name's address through, and only that one.
    allowed.socket_factory(addr_info("127.0.0.1", 80)).close()
    with pytest.raises(SsrfRefused, match="127.0.0.2"):
        allowed.socket_factory(addr_info("127.0.0.2", 80))


def test_socket_factory_checks_the_connected_address() -> None:
    g = guard()
    with pytest.raises(SsrfRefused, match="loopback") as excinfo:
        g.socket_factory(addr_info("127.0.0.1", 80))
    assert isinstance(excinfo.value, OSError)  # aiohttp turns it into a connection error
    with pytest.raises(SsrfRefused, match="IPv4-mapped"):
        g.socket_factory(addr_info("::ffff:127.0.0.1", 80))
    assert len(g.refusals) == 2
    g.socket_factory(addr_info("93.184.216.34", 80)).close()
    guard("127.0.0.0/8").socket_factory(addr_info("127.0.0.1", 80)).close()


# --- real connections through a guarded session -------------------------------------------------


@pytest.fixture
async def loopback_app() -> AsyncIterator[TestServer]:
    async def ok(request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    async def hop(request: web.Request) -> web.Response:
        raise web.HTTPFound(request.query["to"])

    app = web.Application()
    app.router.add_get("/ok", ok)
    app.router.add_get("/hop", hop)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        yield server
    finally:
        await server.close()


async def test_real_connections_through_the_connector(loopback_app: TestServer) -> None:
    port = loopback_app.port
    # Not allowed: the socket factory refuses even though aiohttp skipped the resolver.
    g = guard()
    async with aiohttp.ClientSession(connector=g.connector()) as session:
        with pytest.raises(aiohttp.ClientConnectorError):
            await session.get(f"http://127.0.0.1:{port}/ok")
    assert "loopback" in g.refusals[-1]
    # A name that resolves to loopback is refused by the resolver.
    g = guard()
    async with aiohttp.ClientSession(connector=g.connector()) as session:
        with pytest.raises(aiohttp.ClientConnectorError):
            await session.get(f"http://localhost:{port}/ok")
    assert "localhost" in g.refusals[-1]
    # Allowed by the user: the request goes through.
    g = guard("127.0.0.1")
    async with aiohttp.ClientSession(connector=g.connector()) as session:
        async with session.get(f"http://127.0.0.1:{port}/ok") as response:
            assert response.status == 200 and await response.json() == {"ok": True}
        # aiohttp following a redirect itself still connects through the socket factory:
        # 127.0.0.2 is loopback and not allowed.
        with pytest.raises(aiohttp.ClientConnectorError):
            await session.get(f"http://127.0.0.1:{port}/hop?to=http://127.0.0.2:{port}/ok")
    assert "127.0.0.2" in g.refusals[-1]


async def test_client_session_checks_every_request_and_redirect(loopback_app: TestServer, ghost: Ghost) -> None:
    port = loopback_app.port
    g = OutboundGuard(ghost.targets_api, AllowList.parse(["127.0.0.1", "localhost"]))
    async with g.client_session() as session:
        async with session.get(f"http://127.0.0.1:{port}/ok") as response:
            assert response.status == 200
        # Refused before any connection: a literal address, then a redirect target.
        with pytest.raises(SsrfRefused, match="10.0.0.1"):
            await session.get("http://10.0.0.1/")
        with pytest.raises(SsrfRefused, match="127.0.0.2"):
            await session.get(f"http://127.0.0.1:{port}/hop?to=http://127.0.0.2:{port}/ok")
        # A redirect to Ghost's API by an allowed name, and to another scheme.
        with pytest.raises(SsrfRefused, match="Ghost's own API"):
            await session.get(f"http://127.0.0.1:{port}/hop?to=http://localhost:{API_PORT}/api/v1/settings")
        with pytest.raises(SsrfRefused, match="only http and https"):
            await session.get(f"http://127.0.0.1:{port}/hop?to=file:///etc/passwd")
        # A relative redirect is resolved against the URL it came from and allowed.
        async with session.get(f"http://127.0.0.1:{port}/hop?to=/ok") as response:
            assert response.status == 200 and str(response.url).endswith("/ok")
    assert len(g.refusals) == 4


# --- every spelling of an address -------------------------------------------------------------


@pytest.mark.parametrize("spelling", [
    "127.1", "127.0.1", "2130706433", "0x7f000001", "0x7f.0.0.1", "0177.0.0.1", "017700000001",
    "127.0.0.01", "0X7F.1", "[::ffff:127.0.0.1]", "[::ffff:7f00:1]", "::ffff:7f00:1", "[::127.0.0.1]",
])
def test_host_address_reads_every_spelling_of_loopback(spelling: str) -> None:
    assert host_address(spelling) == ipaddress.IPv4Address("127.0.0.1")


@pytest.mark.parametrize("name", ["example.com", "127.1 x", "1.2.3.4\tfoo", "0x", "deadbeef", "", "[]", "127.0.0.1.."])
def test_names_and_garbage_are_no_address(name: str) -> None:
    assert ip_literal(name) is None


def test_ip_literal_keeps_what_the_guard_judges_itself() -> None:
    # The SSRF guard refuses IPv4-compatible addresses outright, so ip_literal keeps them.
    assert ip_literal("::8.8.8.8") == ipaddress.IPv6Address("::8.8.8.8")
    assert "IPv4-compatible" in denied_reason(ip_literal("::8.8.8.8"))  # type: ignore[arg-type]
    assert ip_literal("0") == ipaddress.IPv4Address("0.0.0.0")


def test_check_url_refuses_loopback_spellings_without_resolving() -> None:
    for spelling in ("127.1", "2130706433", "0x7f.0.0.1", "0", "[::ffff:7f00:1]"):
        with pytest.raises(SsrfRefused, match="refusing to connect"):
            guard().check_url(f"http://{spelling}:8080/")
    guard("127.0.0.1", "0.0.0.0").check_url("http://127.1:8080/")  # the allow-list sees the address


async def test_targets_api_decides_on_the_address(tmp_path: Path) -> None:
    ghost = Ghost(tmp_path / "home", api_port=API_PORT, token="t")
    for spelling in ("127.1", "2130706433", "0", "[::ffff:7f00:1]", "[::]", "localhost.", "a.localhost"):
        assert ghost.targets_api(spelling, API_PORT), spelling
        assert not ghost.targets_api(spelling, API_PORT + 1), spelling
    assert not ghost.targets_api("example.com", API_PORT)
    assert await ghost.resolves_to_api(socket.gethostname(), API_PORT)  # /etc/hosts: 127.0.0.1
    assert not await ghost.resolves_to_api(socket.gethostname(), API_PORT + 1)
    assert not await ghost.resolves_to_api("no-such-host.invalid", API_PORT)
