"""Breakpoints through a real `mitmdump -s ghost.py`: live connections really held, edited,
dropped, released by their own timers."""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import aiohttp
import httpx
import pytest

from tests.support.target import Target

WAIT = 15.0


@pytest.fixture
def pool() -> Iterator[ThreadPoolExecutor]:
    executor = ThreadPoolExecutor(max_workers=8, thread_name_prefix="client")
    yield executor
    executor.shutdown(wait=True, cancel_futures=True)


def add_rule(ghost, **fields: Any) -> dict[str, Any]:
    r = ghost.api("POST", "/api/v1/breakpoints", json=fields)
    assert r.status_code == 201, r.text
    return r.json()


def wait_pending(ghost, count: int, timeout: float = WAIT) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    held: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        held = ghost.api("GET", "/api/v1/breakpoints/pending").json()
        if len(held) >= count:
            return held
        time.sleep(0.05)
    raise TimeoutError(f"expected {count} held flows, have {len(held)}")


def resume(ghost, flow_id: str, **body: Any) -> httpx.Response:
    return ghost.api("POST", f"/api/v1/breakpoints/resume/{flow_id}", json=body)


def send(pool: ThreadPoolExecutor, ghost, method: str, url: str, **kwargs: Any) -> Future[httpx.Response]:
    def run() -> httpx.Response:
        with ghost.client(timeout=40.0) as client:
            return client.request(method, url, **kwargs)

    return pool.submit(run)


def test_request_held_then_edited(ghost, target: Target, pool: ThreadPoolExecutor) -> None:
    rule = add_rule(ghost, phase="request", host_pattern="127.0.0.1", path_pattern="/echo/*", method="POST")
    assert rule["phase"] == "request" and rule["enabled"] is True and len(rule["id"]) == 26
    pending = send(pool, ghost, "POST", f"{target.http_url}/echo/original?a=1",
                   content=b'{"original": true}', headers={"Content-Type": "application/json", "X-Keep": "1"})
    held = wait_pending(ghost, 1)[0]
    # the client is still waiting and the target has seen nothing
    time.sleep(0.3)
    assert not pending.done()
    assert [s for s in target.seen if s.path.startswith("/echo")] == []
    one = ghost.api("GET", f"/api/v1/breakpoints/pending/{held['flow_id']}").json()
    assert one["phase"] == "request" and one["method"] == "POST" and one["rule_id"] == rule["id"]
    assert one["url"] == f"{target.http_url}/echo/original?a=1" and one["path"] == "/echo/original"
    assert one["body"] == '{"original": true}' and one["host"] == "127.0.0.1"
    assert {"name": "X-Keep", "value": "1"} in one["headers"]
    assert 0 < one["remaining_secs"] <= 30 and one["timeout_secs"] == 30

    r = resume(ghost, held["flow_id"], action="modify", method="PUT",
               url=f"{target.http_url}/echo/edited?b=2",
               headers={"Content-Type": "application/json", "X-Edited": "yes"},
               body='{"modified": true}')
    assert r.status_code == 200 and r.json()["action"] == "modify", r.text
    response = pending.result(WAIT)
    assert response.status_code == 200
    echoed = response.json()
    assert echoed["method"] == "PUT" and echoed["path"] == "/echo/edited" and echoed["query"] == "b=2"
    assert echoed["body"] == '{"modified": true}'
    seen = target.seen[-1]
    assert seen.header("X-Edited") == "yes" and seen.header("X-Keep") is None
    assert seen.header("Content-Length") == str(len(b'{"modified": true}'))
    # what storage sees is the edited request
    stored = ghost.wait_flows(1, q="path:/echo/edited")[0]
    assert stored["method"] == "PUT"
    # the flow is no longer held
    assert resume(ghost, held["flow_id"]).status_code == 404
    assert ghost.api("GET", f"/api/v1/breakpoints/pending/{held['flow_id']}").status_code == 404


def test_response_edited_to_500(ghost, target: Target) -> None:
    add_rule(ghost, phase="response", path_pattern="/json")
    with ThreadPoolExecutor(1) as executor:
        out = executor.submit(
            subprocess.run,
            ["curl", "-sS", "--max-time", "30", "-x", ghost.proxy_url, "-D", "-", f"{target.http_url}/json"],
            capture_output=True, text=True, timeout=40,
        )
        held = wait_pending(ghost, 1)[0]
        assert held["phase"] == "response" and held["status_code"] == 200 and held["status_text"] == "OK"
        assert '"items"' in held["response_body"]
        assert len(target.seen) == 1  # the server answered; the client has not got it
        r = resume(ghost, held["flow_id"], action="modify", status_code=500,
                   response_headers={"Content-Type": "application/json"},
                   response_body='{"error": "Internal server error"}')
        assert r.status_code == 200, r.text
        result = out.result(WAIT)
    assert result.returncode == 0, result.stderr
    head, _, body = result.stdout.partition("\n\n")  # text mode turned CRLF into LF
    assert head.startswith("HTTP/1.1 500 Internal Server Error")
    assert body == '{"error": "Internal server error"}', result.stdout
    assert "content-length: 34" in head.lower()
    stored = ghost.wait_flows(1, q="path:/json")[0]
    assert stored["status_code"] == 500


def test_dropped_request_closes_the_connection(ghost, target: Target) -> None:
    add_rule(ghost, path_pattern="/echo/drop-me")
    with ThreadPoolExecutor(1) as executor:
        out = executor.submit(
            subprocess.run,
            ["curl", "-sS", "--max-time", "30", "-x", ghost.proxy_url, f"{target.http_url}/echo/drop-me"],
            capture_output=True, text=True, timeout=40,
        )
        held = wait_pending(ghost, 1)[0]
        assert resume(ghost, held["flow_id"], action="drop").json()["action"] == "drop"
        result = out.result(WAIT)
    assert result.returncode == 52, (result.returncode, result.stdout, result.stderr)  # empty reply from server
    assert result.stdout == ""
    assert [s for s in target.seen if s.path == "/echo/drop-me"] == []


def test_dropped_response_is_not_delivered(ghost, target: Target, pool: ThreadPoolExecutor) -> None:
    add_rule(ghost, phase="response", path_pattern="/echo/resp-drop")
    pending = send(pool, ghost, "GET", f"{target.http_url}/echo/resp-drop")
    held = wait_pending(ghost, 1)[0]
    resume(ghost, held["flow_id"], action="drop")
    with pytest.raises(httpx.RemoteProtocolError):
        pending.result(WAIT)
    assert [s.path for s in target.seen] == ["/echo/resp-drop"]


def test_five_held_resume_independently(ghost, target: Target, pool: ThreadPoolExecutor) -> None:
    add_rule(ghost, path_pattern="/echo/five/*")
    futures = {n: send(pool, ghost, "GET", f"{target.http_url}/echo/five/{n}") for n in range(5)}
    held = {h["path"].rsplit("/", 1)[1]: h for h in wait_pending(ghost, 5)}
    assert sorted(held) == ["0", "1", "2", "3", "4"]
    assert len({h["flow_id"] for h in held.values()}) == 5

    for n in (3, 0):
        r = resume(ghost, held[str(n)]["flow_id"], action="modify",
                   headers={"Host": f"127.0.0.1:{target.http_port}", "X-Which": f"n{n}"})
        assert r.status_code == 200, r.text
    for n in (3, 0):
        reply = futures[n].result(WAIT).json()
        assert reply["headers"]["X-Which"] == f"n{n}" and reply["path"] == f"/echo/five/{n}"
    time.sleep(0.3)
    assert not any(futures[n].done() for n in (1, 2, 4))
    left = {h["flow_id"] for h in ghost.api("GET", "/api/v1/breakpoints/pending").json()}
    assert left == {held[n]["flow_id"] for n in ("1", "2", "4")}

    assert resume(ghost, held["2"]["flow_id"], action="drop").status_code == 200
    assert resume(ghost, held["4"]["flow_id"]).status_code == 200  # continue is the default
    assert resume(ghost, held["1"]["flow_id"], action="continue").status_code == 200
    with pytest.raises(httpx.RemoteProtocolError):
        futures[2].result(WAIT)
    for n in (1, 4):
        reply = futures[n].result(WAIT).json()
        assert "X-Which" not in reply["headers"] and reply["path"] == f"/echo/five/{n}"
    assert ghost.api("GET", "/api/v1/breakpoints/pending").json() == []


def test_timeout_releases_untouched(ghost, target: Target, pool: ThreadPoolExecutor) -> None:
    r = ghost.api("PUT", "/api/v1/settings", json={"breakpoints": {"timeout_secs": 1}})
    assert r.status_code == 200, r.text
    add_rule(ghost, path_pattern="/echo/slowpoke")
    started = time.monotonic()
    pending = send(pool, ghost, "POST", f"{target.http_url}/echo/slowpoke", content=b"as sent")
    held = wait_pending(ghost, 1)[0]
    assert held["timeout_secs"] == 1
    reply = pending.result(WAIT)
    elapsed = time.monotonic() - started
    assert 0.9 <= elapsed < 10
    assert reply.status_code == 200 and reply.json()["body"] == "as sent"
    assert resume(ghost, held["flow_id"], action="drop").status_code == 404
    assert ghost.api("GET", "/api/v1/breakpoints/pending").json() == []


async def test_events_for_hold_and_resume(ghost, target: Target) -> None:
    add_rule(ghost, path_pattern="/echo/evented")
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(f"{ghost.api_url}/api/v1/ws?token={ghost.token}", timeout=10) as ws:

            async def next_event(kind: str) -> dict[str, Any]:
                while True:
                    message = await asyncio.wait_for(ws.receive_json(), WAIT)
                    if message["type"] == kind:
                        return message["data"]

            async with httpx.AsyncClient(proxy=ghost.proxy_url, timeout=30) as client:
                request = asyncio.ensure_future(client.get(f"{target.http_url}/echo/evented?q=1"))
                hit = await next_event("flow.breakpoint")
                assert hit["phase"] == "request" and hit["method"] == "GET"
                assert hit["url"] == f"{target.http_url}/echo/evented?q=1" and hit["path"] == "/echo/evented"
                assert isinstance(hit["headers"], list) and hit["body"] == ""
                await asyncio.to_thread(resume, ghost, hit["flow_id"], action="continue")
                resumed = await next_event("flow.resumed")
                assert resumed == {"id": hit["flow_id"], "flow_id": hit["flow_id"], "phase": "request",
                                   "action": "continue"}
                assert (await asyncio.wait_for(request, WAIT)).status_code == 200
            created = await next_event("flow.created")
            assert created["id"] == hit["flow_id"]  # the held flow is stored under the same id


def test_rule_crud_and_validation(ghost, target: Target) -> None:
    api: Callable[..., httpx.Response] = ghost.api
    rule = add_rule(ghost, id="mine", host_pattern="*.example.com", method="post")
    assert rule["id"] == "mine" and rule["method"] == "POST" and rule["phase"] == "request"
    assert api("POST", "/api/v1/breakpoints", json={"id": "mine"}).status_code == 409
    updated = api("PUT", "/api/v1/breakpoints/mine", json={"phase": "response", "path_pattern": "/a/*"}).json()
    assert updated["phase"] == "response" and updated["host_pattern"] == "*.example.com"
    assert api("POST", "/api/v1/breakpoints/mine/toggle").json()["enabled"] is False
    assert api("POST", "/api/v1/breakpoints/mine/toggle").json()["enabled"] is True
    add_rule(ghost)
    assert len(api("GET", "/api/v1/breakpoints").json()) == 2
    assert api("DELETE", "/api/v1/breakpoints/mine").status_code == 204
    assert api("DELETE", "/api/v1/breakpoints/mine").status_code == 404
    assert api("PUT", "/api/v1/breakpoints/nope", json={}).status_code == 404
    assert api("POST", "/api/v1/breakpoints/nope/toggle").status_code == 404
    assert api("DELETE", "/api/v1/breakpoints").json() == {"ok": True, "deleted": 1}
    assert api("GET", "/api/v1/breakpoints").json() == []
    for bad, message in [
        ({"phase": "both"}, "phase"),
        ({"method": "GET POST"}, "method"),
        ({"host": "x"}, "unknown field"),
        ({"enabled": "yes"}, "enabled"),
    ]:
        r = api("POST", "/api/v1/breakpoints", json=bad)
        assert r.status_code == 400 and message in r.json()["error"], r.text
    assert api("POST", "/api/v1/breakpoints", content=b"{not json").status_code == 400
    assert api("POST", "/api/v1/breakpoints/resume/01NOTHELD", json={}).status_code == 404
    r = api("POST", "/api/v1/breakpoints/resume/01NOTHELD", json={"action": "explode"})
    assert r.status_code == 400 and "action" in r.json()["error"]
    # a disabled rule holds nothing
    api("POST", f"/api/v1/breakpoints/{add_rule(ghost, path_pattern='/json')['id']}/toggle")
    with ghost.client() as client:
        assert client.get(f"{target.http_url}/json").status_code == 200


def test_bad_edit_keeps_the_flow_held(ghost, target: Target, pool: ThreadPoolExecutor) -> None:
    add_rule(ghost, path_pattern="/echo/careful")
    pending = send(pool, ghost, "GET", f"{target.http_url}/echo/careful")
    held = wait_pending(ghost, 1)[0]
    r = resume(ghost, held["flow_id"], action="modify", status_code=42)
    assert r.status_code == 400 and "status_code" in r.json()["error"]
    r = resume(ghost, held["flow_id"], action="modify", url="javascript:alert(1)")
    assert r.status_code == 400
    r = resume(ghost, held["flow_id"], action="modify", url=f"http://127.0.0.1:{ghost.api_port}/api/v1/settings")
    assert r.status_code == 400 and "Ghost's own API" in r.json()["error"]
    assert not pending.done()
    assert resume(ghost, held["flow_id"]).status_code == 200
    assert pending.result(WAIT).status_code == 200


def test_shutdown_releases_held_flows(ghost, target: Target, pool: ThreadPoolExecutor) -> None:
    add_rule(ghost, path_pattern="/echo/at-shutdown")
    pending = send(pool, ghost, "GET", f"{target.http_url}/echo/at-shutdown")
    wait_pending(ghost, 1)
    started = time.monotonic()
    assert ghost.stop() == 0
    assert time.monotonic() - started < 15
    try:
        reply = pending.result(WAIT)
    except httpx.HTTPError:
        return  # the proxy closed the connection while stopping: the client is not left hanging
    assert reply.status_code in (200, 502)


def test_a_held_request_with_a_non_utf8_header_is_listed(ghost, target: Target, pool: ThreadPoolExecutor) -> None:
    # before: GET /breakpoints/pending was a 500 (orjson refuses mitmproxy's surrogate escapes)
    import base64
    import socket

    add_rule(ghost, path_pattern="/echo/raw-bytes*")

    def raw_request() -> bytes:
        with socket.create_connection(("127.0.0.1", ghost.proxy_port), timeout=40) as sock:
            sock.sendall(f"GET {target.http_url}/echo/raw-bytes HTTP/1.1\r\n".encode()
                         + f"Host: 127.0.0.1:{target.http_url.rsplit(':', 1)[1]}\r\n".encode()
                         + b"X-Raw: caf\xff\r\nX-Fine: ok\r\nConnection: close\r\n\r\n")
            reply = b""
            while chunk := sock.recv(65536):
                reply += chunk
            return reply

    pending = pool.submit(raw_request)
    r = ghost.api("GET", "/api/v1/breakpoints/pending")
    deadline = time.monotonic() + WAIT
    while r.status_code == 200 and not r.json() and time.monotonic() < deadline:
        time.sleep(0.05)
        r = ghost.api("GET", "/api/v1/breakpoints/pending")
    assert r.status_code == 200, r.text
    assert r.json(), pending.result(WAIT)
    held = r.json()[0]
    raw = next(h for h in held["headers"] if h["name"] == "X-Raw")
    assert raw["value"] == "caf\ufffd"
    assert base64.b64decode(raw["value_base64"]) == b"caf\xff"
    assert {"name": "X-Fine", "value": "ok"} in held["headers"]
    assert held["path"] == "/echo/raw-bytes"
    one = ghost.api("GET", f"/api/v1/breakpoints/pending/{held['flow_id']}")
    assert one.status_code == 200 and one.json()["headers"] == held["headers"]
    assert resume(ghost, held["flow_id"]).status_code == 200
    assert pending.result(WAIT).startswith(b"HTTP/1.1 200")
