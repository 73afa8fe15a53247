"""Through a real `mitmdump -s ghost.py`: the origin never sees the client's proxy
credentials or Proxy-Connection."""

from __future__ import annotations

from tests.support.rawhttp import raw_server, send_raw


def echo_head(head: bytes) -> bytes:
    return (b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
            b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(head) + head)


def test_proxy_credentials_do_not_reach_the_origin(ghost) -> None:  # type: ignore[no-untyped-def]
    with raw_server(echo_head) as port:
        answer = send_raw(ghost.proxy_port,
                          b"GET http://127.0.0.1:%d/x HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
                          b"Proxy-Authorization: Basic c2VjcmV0\r\nProxy-Connection: keep-alive\r\n"
                          b"X-Kept: 1\r\nConnection: close\r\n\r\n" % (port, port))
    head = answer.split(b"\r\n\r\n", 1)[1].lower()
    assert b"x-kept: 1" in head
    assert b"proxy-authorization" not in head and b"c2vjcmv0" not in head
    assert b"proxy-connection" not in head
