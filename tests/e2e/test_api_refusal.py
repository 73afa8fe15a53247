"""The proxy never carries a request to Ghost's own API, however its address is spelled.

Raw sockets, not curl or httpx: curl rewrites `127.1` to `127.0.0.1` itself, and HTTP
clients normalise hosts, so they would test their own parser instead of Ghost's.
"""

from __future__ import annotations

import socket

import pytest

from tests.support.target import Target

# Every spelling of this machine that getaddrinfo (and so mitmproxy's connect) accepts.
LOOPBACK_SPELLINGS = (
    "127.1", "127.0.1", "2130706433", "0x7f000001", "0x7f.0.0.1", "0177.0.0.1", "017700000001",
    "127.0.0.01", "0", "0.0.0.0", "0x7F.1", "[::ffff:127.0.0.1]", "[::ffff:7f00:1]",
    "[0:0:0:0:0:ffff:7f00:1]", "[::1]", "[::]", "localhost", "LOCALHOST", "localhost.", "foo.localhost",
)


def exchange(port: int, data: bytes, timeout: float = 10.0) -> bytes:
    """Send `data` to the proxy and read until it closes the connection."""
    with socket.create_connection(("127.0.0.1", port), timeout) as sock:
        sock.sendall(data)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
        return b"".join(chunks)


def api_request(api_port: int, token: str, target: str = "") -> bytes:
    """A settings read: the API answers it only when it is reached. `target` is the
    request target (absolute form through a plain proxy, a path inside a tunnel)."""
    return (f"GET {target or '/api/v1/settings'} HTTP/1.1\r\nHost: 127.0.0.1:{api_port}\r\n"
            f"Authorization: Bearer {token}\r\nConnection: close\r\n\r\n").encode()


def assert_refused(answer: bytes, spelling: str) -> None:
    status = answer.split(b"\r\n", 1)[0]
    assert b" 403 " in status or b" 502 " in status, (spelling, answer[:300])
    assert b"allowed_hosts" not in answer, (spelling, answer[:300])  # the API's settings


def connect_then_read(proxy_port: int, host: str, api_port: int, token: str) -> bytes:
    """CONNECT to host:api_port; when the proxy says yes, read the settings through the tunnel."""
    with socket.create_connection(("127.0.0.1", proxy_port), 10) as sock:
        sock.sendall(f"CONNECT {host}:{api_port} HTTP/1.1\r\nHost: {host}:{api_port}\r\n\r\n".encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = sock.recv(65536)
            if not chunk:
                return head
            head += chunk
        if b" 200 " not in head.split(b"\r\n", 1)[0]:
            return head
        sock.sendall(api_request(api_port, token))
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
        return answer


def loopback_name() -> str:
    """A name (this machine's) that resolves, through /etc/hosts, to a loopback address."""
    name = socket.gethostname()
    addresses = {info[4][0] for info in socket.getaddrinfo(name, 80, type=socket.SOCK_STREAM)}
    assert addresses and all(a.startswith("127.") or a == "::1" for a in addresses), (name, addresses)
    return name


def test_every_spelling_of_loopback_is_refused_plain_and_through_connect(ghost) -> None:
    spellings = (*LOOPBACK_SPELLINGS, loopback_name())
    for spelling in spellings:
        absolute = f"http://{spelling}:{ghost.api_port}/api/v1/settings"
        assert_refused(exchange(ghost.proxy_port, api_request(ghost.api_port, ghost.token, absolute)), spelling)
        assert_refused(connect_then_read(ghost.proxy_port, spelling, ghost.api_port, ghost.token), spelling)


def test_a_forged_host_header_does_not_open_the_api(ghost) -> None:
    # The request line says where the proxy connects; the Host header claims 127.0.0.1.
    for spelling in ("127.1", "2130706433", "[::ffff:7f00:1]"):
        answer = exchange(ghost.proxy_port, api_request(
            ghost.api_port, ghost.token, f"http://{spelling}:{ghost.api_port}/api/v1/settings"))
        assert_refused(answer, spelling)


@pytest.mark.parametrize("spelling", ["127.1", "2130706433", "0x7f.0.0.1", "[::ffff:7f00:1]"])
def test_the_same_spellings_still_reach_other_local_ports(ghost, target: Target, spelling: str) -> None:
    """Only the API's port is refused: a local app on another port stays reachable."""
    port = target.http_port
    answer = exchange(ghost.proxy_port, (
        f"GET http://{spelling}:{port}/json HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
    ).encode())
    assert answer.startswith(b"HTTP/1.1 200"), answer[:300]


def this_machines_address() -> str:
    """A non-loopback address of this machine (the one a default route leaves by; a UDP
    connect sends nothing)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.200", 9))
        except OSError:
            pytest.skip("this machine has no non-loopback IPv4 address")
        address = probe.getsockname()[0]
    if address.startswith("127."):
        pytest.skip("this machine has no non-loopback IPv4 address")
    return address


def test_an_api_on_every_interface_is_refused_by_any_local_address(ghost_factory) -> None:
    """With the API on 0.0.0.0 (for devices), this machine's own LAN address reaches it too."""
    ghost = ghost_factory(extra_args=("--set", "ghost_api_host=0.0.0.0"))
    address = this_machines_address()
    absolute = f"http://{address}:{ghost.api_port}/api/v1/settings"
    assert_refused(exchange(ghost.proxy_port, api_request(ghost.api_port, ghost.token, absolute)), address)
    assert_refused(connect_then_read(ghost.proxy_port, address, ghost.api_port, ghost.token), address)
