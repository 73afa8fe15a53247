import ipaddress
import socket

import pytest

from plugins.compose.ssrf import SsrfGuard, SsrfRefused, forbidden_reason, parse_allow_list


@pytest.mark.parametrize("address", [
    "127.0.0.1", "127.1.2.3", "10.0.0.1", "172.16.5.4", "192.168.1.1", "169.254.169.254",
    "100.64.0.1", "0.0.0.0", "224.0.0.1", "255.255.255.255", "198.18.0.1",
    "::1", "::", "fe80::1", "fc00::1", "fd00:ec2::254", "ff02::1",
    "::ffff:127.0.0.1", "::127.0.0.1", "64:ff9b::7f00:1", "64:ff9b:1::a9fe:a9fe",
    "2002:7f00:1::", "2001:0:4136:e378:8000:63bf:3fff:fdd2",
])
def test_forbidden(address: str) -> None:
    assert forbidden_reason(ipaddress.ip_address(address)) is not None


@pytest.mark.parametrize("address", ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111",
                                     "::ffff:8.8.8.8", "64:ff9b::808:808"])
def test_public(address: str) -> None:
    assert forbidden_reason(ipaddress.ip_address(address)) is None


def test_reason_names_the_embedded_address() -> None:
    reason = forbidden_reason(ipaddress.ip_address("::ffff:169.254.169.254"))
    assert reason is not None and "169.254.169.254" in reason and "link-local" in reason


def test_allow_list_hosts_wildcards_and_networks() -> None:
    guard = SsrfGuard(allow=["localhost", "*.internal.test", "10.1.0.0/16", "::1"])
    guard.check_address("127.0.0.1", "localhost")
    guard.check_address("10.0.0.5", "db.internal.test")
    guard.check_address("10.1.2.3")
    guard.check_address("::1")
    with pytest.raises(SsrfRefused, match="10.2.0.1, a private address"):
        guard.check_address("10.2.0.1")
    with pytest.raises(SsrfRefused, match="replay.allow_hosts"):
        guard.check_address("127.0.0.1", "evil.test")


def test_allow_list_rejects_junk() -> None:
    with pytest.raises(ValueError, match="neither a host name nor a CIDR"):
        parse_allow_list(["http://x/"])


def test_ghost_api_is_refused_even_when_allowed() -> None:
    guard = SsrfGuard(allow=["127.0.0.1"], blocked_ports={("127.0.0.1", 5565)})
    with pytest.raises(SsrfRefused, match="Ghost's own API"):
        guard.check_address("127.0.0.1", port=5565)
    guard.check_address("127.0.0.1", port=8080)


def test_socket_factory_refuses_with_oserror() -> None:
    guard = SsrfGuard()
    info = (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", 80))
    with pytest.raises(OSError, match="loopback"):
        guard.socket_factory(info)
    assert guard.refused
    public = guard.socket_factory((socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", 80)))
    public.close()
