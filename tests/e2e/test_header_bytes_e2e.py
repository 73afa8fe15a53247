"""Header bytes that are not UTF-8, from a client or a hostile server, through a real
`mitmdump -s ghost.py`: every flow is stored and the bytes come back intact."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.support.rawhttp import raw_server, send_raw

FLOWS = 400


def answer_hostile(head: bytes) -> bytes:
    """/bad-response/... carries a 0xff in a header."""
    path = head.split(b" ", 2)[1]
    bad = b"X-Hostile: caf\xe9-\xff\r\n" if path.startswith(b"/bad-response/") else b""
    return (b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n"
            + bad + b"Connection: close\r\n\r\nok")


def echo_head(head: bytes) -> bytes:
    """The request head as the body, so a test sees the bytes that arrived."""
    return (b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
            b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(head) + head)


@pytest.fixture
def hostile_server() -> Iterator[int]:
    with raw_server(answer_hostile) as port:
        yield port


def header_bytes(message: dict, name: str) -> bytes | None:
    for h in message["headers"]:
        if h["name"].lower() == name.lower():
            return base64.b64decode(h["value_base64"]) if "value_base64" in h else h["value"].encode()
    return None


def test_non_utf8_header_bytes_lose_no_flow_and_come_back_intact(ghost, hostile_server: int) -> None:
    def one(i: int) -> None:
        kind = ("ok", "bad-request", "bad-response")[i % 3]
        extra = b"X-Client: \xff\xfe-%d\r\n" % i if kind == "bad-request" else b""
        request = (b"GET http://127.0.0.1:%d/%s/%d HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n" % (
            hostile_server, kind.encode(), i, hostile_server) + extra + b"Connection: close\r\n\r\n")
        answer = send_raw(ghost.proxy_port, request)
        assert answer.startswith(b"HTTP/1.1 200"), answer[:200]
        if kind == "bad-response":
            assert b"X-Hostile: caf\xe9-\xff\r\n" in answer   # the client got the bytes as sent, too

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(one, range(FLOWS)))

    summaries = ghost.wait_flows(FLOWS, timeout=60)
    assert len(summaries) == FLOWS
    assert all(s["error"] == "" and "store-error" not in s["tags"] for s in summaries)
    by_path = {s["path"]: s["id"] for s in summaries}
    for i in (1, 4, 2, 5, 0):
        kind = ("ok", "bad-request", "bad-response")[i % 3]
        flow = ghost.api("GET", f"/api/v1/flows/{by_path[f'/{kind}/{i}']}").json()
        if kind == "bad-request":
            assert header_bytes(flow["request"], "X-Client") == b"\xff\xfe-%d" % i
            assert "\ufffd" in next(h["value"] for h in flow["request"]["headers"] if h["name"] == "X-Client")
        if kind == "bad-response":
            assert header_bytes(flow["response"], "X-Hostile") == b"caf\xe9-\xff"
        assert flow["response"]["body"] == "ok"
    monitor = ghost.api("GET", "/api/v1/monitor").json()
    assert monitor["flows_not_stored"] == 0 and monitor["flows_stored_as_error_records"] == 0


def test_a_replayed_flow_sends_the_header_bytes_it_captured(ghost) -> None:
    with raw_server(echo_head) as port:
        request = (b"GET http://127.0.0.1:%d/echo HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
                   b"X-Client: caf\xe9-\xff\r\nConnection: close\r\n\r\n" % (port, port))
        assert send_raw(ghost.proxy_port, request).startswith(b"HTTP/1.1 200")
        original = ghost.wait_flows(1)[0]
        allow = ghost.api("PUT", "/api/v1/settings", json={"replay": {"allow_hosts": ["127.0.0.1"]}})
        assert allow.status_code == 200, allow.text
        replayed = ghost.api("POST", f"/api/v1/flows/{original['id']}/replay")
        assert replayed.status_code in (200, 201), replayed.text
        flow = ghost.api("GET", f"/api/v1/flows/{replayed.json()['id']}").json()
    body = flow["response"]["body"]
    raw = base64.b64decode(body) if flow["response"].get("body_encoding") == "base64" else body.encode(
        "utf-8", "surrogateescape")
    assert b"X-Client: caf\xe9-\xff" in raw, raw
