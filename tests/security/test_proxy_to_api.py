"""The proxy never carries a request to Ghost's own API: spellings beyond those of
tests/e2e/test_api_refusal.py (hex and octal in every octet, zero-padded octets, the far end
of 127/8, IPv6 written out), plain and through CONNECT, sent with raw sockets
(tests/support/rawhttp.py) so no client library normalises the host first."""

from __future__ import annotations

from tests.support.rawhttp import send_raw

# Each one getaddrinfo (so mitmproxy's connect) turns into a loopback address.
SPELLINGS = ("0x7f.0x0.0x0.0x1", "127.000.000.001", "0177.1", "0000000000177.0.0.1", "127.255.255.254",
             "[0:0:0:0:0:0:0:1]", "[0000::1]", "[::ffff:127.0.0.1]", "[::FFFF:7F00:0001]", "LocalHost")


def refused(answer: bytes) -> bool:
    status = answer.split(b"\r\n", 1)[0]
    # the API's settings answer names api.allowed_hosts; a refusal never does
    return (b" 403 " in status or b" 502 " in status) and b"allowed_hosts" not in answer


def test_the_api_is_refused_plain_and_through_connect(ghost) -> None:  # type: ignore[no-untyped-def]
    for spelling in SPELLINGS:
        assert_refused(ghost, spelling)


def assert_refused(ghost, spelling: str) -> None:  # type: ignore[no-untyped-def]
    port = ghost.api_port
    read_settings = (f"Host: 127.0.0.1:{port}\r\nAuthorization: Bearer {ghost.token}\r\n"
                     f"Connection: close\r\n\r\n")
    plain = send_raw(ghost.proxy_port, f"GET http://{spelling}:{port}/api/v1/settings HTTP/1.1\r\n{read_settings}".encode())
    assert refused(plain), (spelling, plain[:300])
    tunnel = send_raw(ghost.proxy_port, (f"CONNECT {spelling}:{port} HTTP/1.1\r\nHost: {spelling}:{port}\r\n\r\n"
                                         f"GET /api/v1/settings HTTP/1.1\r\n{read_settings}").encode())
    # Either the CONNECT itself is refused, or the request inside the tunnel is.
    assert b"allowed_hosts" not in tunnel and (b" 403 " in tunnel or b" 502 " in tunnel), (spelling, tunnel[:300])
