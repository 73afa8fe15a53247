"""A compression bomb through a real `mitmdump -s ghost.py`: the client gets it as sent,
Ghost stores it decoded only up to store.max_flow_body_size and does not inflate it."""

from __future__ import annotations

import gzip
from collections.abc import Iterator

import pytest

from tests.support.rawhttp import raw_server, send_raw

BOMBS = 1
BOMB = gzip.compress(b"\0" * (256 << 20), compresslevel=9)   # about 255 KB on the wire


def answer_bomb(head: bytes) -> bytes:
    return (b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
            b"Content-Encoding: gzip\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % len(BOMB) + BOMB)


@pytest.fixture
def bomb_server() -> Iterator[int]:
    with raw_server(answer_bomb) as port:
        yield port


def rss(pid: int) -> int:
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmHWM:"):   # the peak resident size
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


def test_a_gzip_bomb_is_stored_cut_at_the_limit_and_never_inflated(ghost, bomb_server: int) -> None:
    """Seen failing before (limit 0 by default): the flow was stored as 256 MB."""
    assert len(BOMB) < 300_000
    before = rss(ghost.proc.pid)
    for i in range(BOMBS):
        answer = send_raw(ghost.proxy_port, b"GET http://127.0.0.1:%d/bomb/%d HTTP/1.1\r\nHost: x\r\n"
                          b"Connection: close\r\n\r\n" % (bomb_server, i))
        assert answer.endswith(BOMB)   # the client gets the body as the server sent it
    summaries = ghost.wait_flows(BOMBS, timeout=60)
    stored_growth = rss(ghost.proc.pid) - before
    print(f"a 256 MB gzip bomb: mitmdump peak RSS grew {stored_growth / 2**20:.0f} MB by the time it was stored")
    assert stored_growth < 200 << 20   # inflating it once would take 256 MB
    flow = ghost.api("GET", f"/api/v1/flows/{summaries[0]['id']}").json()
    resp = flow["response"]
    assert resp["body_truncated"] is True and resp["body_size"] == (32 << 20) + 1
