"""The SSRF guard: the deny list, the allow-list, and real connections on loopback only."""

import ipaddress
import socket

import aiohttp
import pytest
from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult

from plugins.journeys.ssrf import AllowList, GuardedResolver, OutboundGuard, SsrfRefused, denied_reason


@pytest.mark.parametrize(
    "address",
    [
        "0.0.0.0", "10.1.2.3", "100.64.0.1", "127.0.0.1", "127.255.255.254", "169.254.169.254",
        "172.16.0.1", "172.31.255.255", "192.0.0.8", "192.0.2.1", "192.168.1.1", "198.18.0.1",
        "198.51.100.7", "203.0.113.9", "224.0.0.251", "239.255.255.250", "240.0.0.1",
        "255.255.255.255",
        "::", "::1", "::ffff:127.0.0.1", "::ffff:10.0.0.1", "::127.0.0.1", "::ffff:0:7f00:1",
        "64:ff9b::7f00:1", "64:ff9b::a00:1", "64:ff9b:1::1", "100::1", "2001::1", "2001:db8::1",
        "2002:7f00:1::1", "fc00::1", "fd00:ec2::254", "fe80::1", "fec0::1", "ff02::1",
    ],
)
def test_denied_addresses(address: str) -> None:
    assert denied_reason(ipaddress.ip_address(address)), address


@pytest.mark.parametrize("address", ["8.8.8.8", "1.1.1.1", "93.184.216.34", "2606:4700:4700::1111", "2a00:1450::1"])
def test_public_addresses_pass(address: str) -> None:
    assert denied_reason(ipaddress.ip_address(address)) == ""


def test_reason_names_the_range() -> None:
    assert "link-local" in denied_reason(ipaddress.ip_address("169.254.169.254"))
    assert "NAT64" in denied_reason(ipaddress.ip_address("64:ff9b::7f00:1"))
    assert "IPv4-mapped" in denied_reason(ipaddress.ip_address("::ffff:127.0.0.1"))


def test_allow_list_parsing_and_matching() -> None:
    allow = AllowList.parse(["127.0.0.1", "10.0.0.0/8", "LocalHost", "*.dev.test", " ", "[::1]"])
    assert allow.allows_host("localhost") and allow.allows_host("localhost.")
    assert allow.allows_host("api.dev.test") and not allow.allows_host("dev.test")
    assert allow.allows_host("127.0.0.1") and allow.allows_host("10.9.9.9") and allow.allows_host("[::1]")
    assert not allow.allows_host("127.0.0.2") and not allow.allows_host("evil.test")
    assert allow.allows_ip(ipaddress.ip_address("::ffff:127.0.0.1"))  # mapped form of an allowed IP
    for bad in ["http://x", "a b", "10.0.0.0/33", "*.", "-", "a..b"]:
        with pytest.raises(ValueError, match="is not a host name"):
            AllowList.parse([bad])


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("file:///etc/passwd", "only http and https"),
        ("gopher://127.0.0.1/", "only http and https"),
        ("http:///nohost", "has no host"),
        ("http://127.0.0.1:8080/", "loopback"),
        ("http://[::ffff:169.254.169.254]/latest/meta-data", "IPv4-mapped"),
        ("http://[64:ff9b::7f00:1]/", "NAT64"),
        ("http://10.0.0.5/", "private network"),
        ("http://169.254.169.254/latest/meta-data/", "link-local"),
    ],
)
def test_check_url_refuses_before_sending(url: str, message: str) -> None:
    guard = OutboundGuard()
    with pytest.raises(SsrfRefused, match=message) as excinfo:
        guard.check_url(url)
    assert guard.refusals[-1] == str(excinfo.value)


def test_check_url_passes_names_and_allowed_ips() -> None:
    OutboundGuard().check_url("https://example.com/api")  # names are checked at resolve time
    OutboundGuard(AllowList.parse(["127.0.0.1"])).check_url("http://127.0.0.1:9/")


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
    guard = OutboundGuard()
    mixed = GuardedResolver(guard, FixedResolver(["127.0.0.1", "93.184.216.34", "::ffff:10.0.0.1"]))
    assert [r["host"] for r in await mixed.resolve("mixed.test", 80)] == ["93.184.216.34"]
    only_private = GuardedResolver(guard, FixedResolver(["10.0.0.1", "fd00::1"]))
    with pytest.raises(SsrfRefused, match=r"rebind\.test: it resolves only to 10\.0\.0\.1"):
        await only_private.resolve("rebind.test", 80)
    allowed = GuardedResolver(OutboundGuard(AllowList.parse(["*.local.test"])), FixedResolver(["127.0.0.1"]))
    assert [r["host"] for r in await allowed.resolve("app.local.test", 80)] == ["127.0.0.1"]


def test_socket_factory_checks_the_connected_address() -> None:
    guard = OutboundGuard()
    with pytest.raises(SsrfRefused, match="loopback"):
        guard.socket_factory((socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", 80)))
    with pytest.raises(SsrfRefused, match="IPv4-mapped"):
        guard.socket_factory((socket.AF_INET6, socket.SOCK_STREAM, 6, "", ("::ffff:127.0.0.1", 80, 0, 0)))
    allowed = OutboundGuard(AllowList.parse(["127.0.0.0/8"]))
    sock = allowed.socket_factory((socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", 80)))
    sock.close()


@pytest.fixture
async def loopback_app(aiohttp_server):  # type: ignore[no-untyped-def]
    async def ok(request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    async def hop(request: web.Request) -> web.Response:
        raise web.HTTPFound(request.query["to"])

    app = web.Application()
    app.router.add_get("/ok", ok)
    app.router.add_get("/hop", hop)
    return await aiohttp_server(app, host="127.0.0.1")


async def test_real_connections_through_the_guard(loopback_app) -> None:  # type: ignore[no-untyped-def]
    port = loopback_app.port
    # Not allowed: the socket factory refuses even though aiohttp skipped the resolver.
    guard = OutboundGuard()
    async with aiohttp.ClientSession(connector=guard.connector()) as session:
        with pytest.raises(aiohttp.ClientConnectorError):
            await session.get(f"http://127.0.0.1:{port}/ok")
    assert "loopback" in guard.refusals[-1]
    # A name that resolves to loopback is refused by the resolver.
    guard = OutboundGuard()
    async with aiohttp.ClientSession(connector=guard.connector()) as session:
        with pytest.raises(aiohttp.ClientConnectorError):
            await session.get(f"http://localhost:{port}/ok")
    assert "localhost" in guard.refusals[-1]
    # Allowed by the user: the request goes through.
    guard = OutboundGuard(AllowList.parse(["127.0.0.1"]))
    async with aiohttp.ClientSession(connector=guard.connector()) as session:
        async with session.get(f"http://127.0.0.1:{port}/ok") as response:
            assert response.status == 200 and await response.json() == {"ok": True}
        # aiohttp following a redirect itself still connects through the socket factory:
        # 127.0.0.2 is loopback and not allowed.
        with pytest.raises(aiohttp.ClientConnectorError):
            await session.get(f"http://127.0.0.1:{port}/hop?to=http://127.0.0.2:{port}/ok")
    assert "127.0.0.2" in guard.refusals[-1]


def test_ghost_api_is_blocked_even_when_allowed() -> None:
    guard = OutboundGuard(AllowList.parse(["127.0.0.0/8"]), blocked=frozenset({("127.0.0.1", 5565)}))
    with pytest.raises(SsrfRefused, match="Ghost's own API"):
        guard.check_url("http://127.0.0.1:5565/api/v1/sessions")
    with pytest.raises(SsrfRefused, match="Ghost's own API"):
        guard.socket_factory((socket.AF_INET6, socket.SOCK_STREAM, 6, "", ("::ffff:127.0.0.1", 5565, 0, 0)))
    guard.check_url("http://127.0.0.1:5566/")  # another port of an allowed address
