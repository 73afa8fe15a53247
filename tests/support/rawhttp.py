"""A tiny raw HTTP/1.1 server and client for tests that must send or answer bytes an HTTP
library would refuse or rewrite (non-UTF-8 headers, compression bombs, odd host spellings)."""

from __future__ import annotations

import socket
import socketserver
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

Answer = Callable[[bytes], bytes]
"""The raw response to a request, given the request's head (request line and headers)."""


def read_head(sock: socket.socket) -> bytes | None:
    """The head of the request on `sock` (up to the blank line), or None if it closed first."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return None
        data += chunk
    return data.split(b"\r\n\r\n", 1)[0]


@contextmanager
def raw_server(answer: Answer) -> Iterator[int]:
    """A loopback server answering one request per connection with `answer(head)`; yields its port."""

    class Handler(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            head = read_head(self.request)
            if head is not None:
                self.request.sendall(answer(head))

    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def send_raw(proxy_port: int, request: bytes) -> bytes:
    """Send `request` as is to a proxy on loopback; returns everything it answered."""
    with socket.create_connection(("127.0.0.1", proxy_port), timeout=20) as sock:
        sock.sendall(request)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return answer
