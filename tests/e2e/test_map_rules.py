"""Map rules through a real `mitmdump -s ghost.py` with curl and httpx."""

from __future__ import annotations

import asyncio
import gzip
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import pytest

from tests.support.target import Target, TargetServer

WAIT = 15.0


def curl(ghost, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["curl", "-sS", "--max-time", "20", "-x", ghost.proxy_url, "--cacert", str(ghost.ca_path), *args],
        capture_output=True, text=True, timeout=30,
    )


def add_rule(ghost, **fields: Any) -> dict[str, Any]:
    r = ghost.api("POST", "/api/v1/rules", json=fields)
    assert r.status_code == 201, r.text
    return r.json()


@pytest.fixture
def second_target(tmp_path: Path) -> Iterator[Target]:
    server = TargetServer()
    target = server.start(tmp_path)
    try:
        yield target
    finally:
        server.stop()


def test_map_local_file_to_curl(ghost, target: Target) -> None:
    mocks = ghost.home / "mocks"
    mocks.mkdir()
    (mocks / "cart.json").write_text('{"items": ["mocked"]}')
    rule = add_rule(ghost, name="cart", type="local", host_pattern="localhost", path_pattern="/cart*",
                    file_path="mocks/cart.json", headers={"X-Mock": "yes"})
    assert rule["type"] == "local" and rule["file_path"] == "mocks/cart.json" and rule["status_code"] == 200
    out = curl(ghost, "--suppress-connect-headers", "-D", "-", f"{target.https_url}/cart?id=1")
    assert out.returncode == 0, out.stderr
    head, _, body = out.stdout.partition("\n\n")
    assert head.startswith("HTTP/1.1 200") or head.startswith("HTTP/2 200"), head
    assert "x-mock: yes" in head.lower() and "content-type: application/json" in head.lower()
    assert body == '{"items": ["mocked"]}'
    assert target.seen == []  # the server was never contacted
    stored = ghost.wait_flows(1, q="path:/cart")[0]
    assert "map-local" in stored["tags"] and f"rule:{rule['id']}" in stored["tags"]
    flow = ghost.api("GET", f"/api/v1/flows/{stored['id']}").json()
    assert flow["metadata"]["map_rules"] == [rule["id"]]
    assert flow["response"]["body"] == '{"items": ["mocked"]}'

    # the file is read again on every request
    (mocks / "cart.json").write_text('{"items": ["changed"]}')
    assert curl(ghost, f"{target.https_url}/cart").stdout == '{"items": ["changed"]}'
    (mocks / "cart.json").unlink()
    missing = curl(ghost, "-o", "/dev/null", "-w", "%{http_code}", f"{target.https_url}/cart")
    assert missing.stdout == "404"


def test_map_local_inline_directory_and_priority(ghost, target: Target) -> None:
    site = ghost.home / "site"
    (site / "js").mkdir(parents=True)
    (site / "index.html").write_text("<h1>local index</h1>")
    (site / "js" / "app.js").write_text("console.log('local')")
    low = add_rule(ghost, type="local", path_pattern="/status/*", status_code=503, body='{"down": true}',
                   content_type="application/json", priority=1)
    add_rule(ghost, type="local", path_pattern="/status/*", body="never used", priority=5)
    add_rule(ghost, type="local", path_pattern="/static/*", file_path=str(site))
    with ghost.client() as client:
        answer = client.get(f"{target.http_url}/status/200")
        assert answer.status_code == 503 and answer.json() == {"down": True}
        assert answer.headers["content-type"] == "application/json"
        assert client.get(f"{target.http_url}/static/js/app.js").text == "console.log('local')"
        assert client.get(f"{target.http_url}/static/").text == "<h1>local index</h1>"
        assert client.get(f"{target.http_url}/static/nope.css").status_code == 404
        assert client.get(f"{target.http_url}/static/..%2f..%2fconfig.yaml").status_code == 404
    assert target.seen == []
    stored = ghost.wait_flows(1, q="path:/status/200")[0]
    assert f"rule:{low['id']}" in stored["tags"]


def test_map_remote_to_second_server(ghost, target: Target, second_target: Target) -> None:
    rule = add_rule(ghost, type="remote", host_pattern="127.0.0.1", path_pattern="/echo/*",
                    remote_url=f"http://127.0.0.1:{second_target.http_port}/echo/base")
    assert rule["preserve_path"] is True and rule["preserve_query"] is True
    with ghost.client() as client:
        reply = client.post(f"{target.http_url}/echo/users/1?fields=name", content=b"payload")
    assert reply.status_code == 200
    echoed = reply.json()
    assert echoed["path"] == "/echo/base/echo/users/1" and echoed["query"] == "fields=name"
    assert echoed["body"] == "payload" and echoed["headers"]["Host"] == f"127.0.0.1:{second_target.http_port}"
    assert target.seen == [] and len(second_target.seen) == 1
    # keep neither path nor query
    ghost.api("PUT", f"/api/v1/rules/{rule['id']}", json={"preserve_path": False, "preserve_query": False,
                                                            "remote_url": f"{second_target.https_url}/echo/fixed"})
    out = curl(ghost, f"{target.http_url}/echo/other?x=1")
    assert out.returncode == 0, out.stderr
    assert '"path": "/echo/fixed"' in out.stdout and '"query": ""' in out.stdout
    # an HTTPS request (CONNECT tunnel to the first server) is sent to the second one
    out = curl(ghost, f"https://127.0.0.1:{target.https_port}/echo/tls?y=2")
    assert out.returncode == 0, out.stderr
    assert '"path": "/echo/fixed"' in out.stdout
    assert target.seen == [] and len(second_target.seen) == 3
    stored = ghost.wait_flows(3, q="tag:map-remote")
    assert len(stored) == 3


def test_rewrites_change_what_the_client_and_server_get(ghost, target: Target) -> None:
    add_rule(ghost, type="rewrite", target="response_body", path_pattern="/json", match=r'"ok":\s*true',
             replace='"ok": false, "rewritten": true')
    add_rule(ghost, type="rewrite", target="response_body", path_pattern="/gzip", match=r'"compressed":true',
             replace='"compressed":"still"')
    add_rule(ghost, type="rewrite", target="request_header", header_name="X-Debug", replace="on")
    add_rule(ghost, type="rewrite", target="response_header", header_name="X-Multi", match="one", replace="two")
    add_rule(ghost, type="rewrite", target="url", match=r"/echo/v1/", replace="/echo/v2/")
    add_rule(ghost, type="rewrite", target="request_body", path_pattern="/echo/*", match="secret",
             replace="[redacted]")
    with ghost.client() as client:
        data = client.get(f"{target.http_url}/json").json()
        assert data == {"items": [1, 2, 3], "ok": False, "rewritten": True}
        gz = client.get(f"{target.http_url}/gzip", headers={"Accept-Encoding": "gzip"})
        assert gz.headers["content-encoding"] == "gzip" and gz.json()["compressed"] == "still"
        echoed = client.post(f"{target.http_url}/echo/v1/thing", content=b"my secret").json()
    assert echoed["path"] == "/echo/v2/thing" and echoed["body"] == "my [redacted]"
    assert echoed["headers"]["X-Debug"] == "on"
    assert target.seen[-1].header("Content-Length") == str(len(b"my [redacted]"))
    with ghost.client() as client:
        assert client.get(f"{target.http_url}/echo").headers["x-multi"] == "two"
    raw = subprocess.run(
        ["curl", "-sS", "--max-time", "20", "-x", ghost.proxy_url, "-H", "Accept-Encoding: gzip",
         f"{target.http_url}/gzip"],
        capture_output=True, timeout=30,
    )
    assert b'"compressed":"still"' in gzip.decompress(raw.stdout)
    assert "rewrite" in ghost.wait_flows(1, q="path:/json")[0]["tags"]


def test_traversal_refused(ghost, tmp_path: Path) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_text("secret outside")
    (ghost.home / "mocks").mkdir()
    (ghost.home / "mocks" / "ok.json").write_text("{}")
    (ghost.home / "mocks" / "escape.txt").symlink_to(outside)
    (ghost.home / "mocks" / "out").symlink_to(tmp_path)
    for file_path, message in [
        ("../outside.txt", "'..'"),
        ("mocks/../../outside.txt", "'..'"),
        (str(outside), "outside the Ghost home"),
        ("/etc/passwd", "outside the Ghost home"),
        ("mocks/escape.txt", "outside the Ghost home"),
        ("mocks/out/outside.txt", "outside the Ghost home"),
        ("config.yaml", "private"),
        ("ghost.db", "private"),
        ("mocks/missing.json", "does not exist"),
    ]:
        r = ghost.api("POST", "/api/v1/rules", json={"type": "local", "file_path": file_path})
        assert r.status_code == 400, (file_path, r.text)
        assert message in r.json()["error"], (file_path, r.text)
    rule = add_rule(ghost, file_path="mocks/ok.json")
    r = ghost.api("PUT", f"/api/v1/rules/{rule['id']}", json={"file_path": "../outside.txt"})
    assert r.status_code == 400
    assert ghost.api("GET", f"/api/v1/rules/{rule['id']}").json()["file_path"] == "mocks/ok.json"
    assert len(ghost.api("GET", "/api/v1/rules").json()) == 1


def test_bad_rules_are_400(ghost) -> None:
    for raw, message in [
        ({"type": "teleport"}, "type"),
        ({"type": "remote"}, "remote_url is required"),
        ({"type": "remote", "remote_url": f"http://127.0.0.1:{ghost.api_port}/"}, "Ghost's own API"),
        ({"type": "remote", "remote_url": f"http://localhost:{ghost.api_port}/x"}, "Ghost's own API"),
        ({"type": "rewrite", "target": "url", "match": "(unclosed"}, "regular expression"),
        ({"type": "rewrite", "target": "url", "match": "(" * 3000 + ")" * 3000}, "nested too deeply"),
        ({"type": "rewrite", "target": "cookies", "match": "a"}, "target"),
        ({"type": "local", "status_code": 1000}, "status_code"),
        ({"type": "local", "headers": {"Bad Name": "x"}}, "header name"),
        ({"unknown": True}, "unknown field"),
    ]:
        r = ghost.api("POST", "/api/v1/rules", json=raw)
        assert r.status_code == 400 and message in r.json()["error"], (raw, r.text)
    assert ghost.api("POST", "/api/v1/rules", content=b"[1, 2").status_code == 400
    # a URL rewrite cannot send proxied requests to the API either
    add_rule(ghost, type="rewrite", target="url", match=r"^http://api\.invalid/", replace=f"{ghost.api_url}/")
    with ghost.client() as client:
        answer = client.get("http://api.invalid/api/v1/settings")
    assert answer.status_code != 200 and "token" not in answer.text
    assert ghost.api("GET", "/api/v1/rules/nope").status_code == 404
    assert ghost.api("PUT", "/api/v1/rules/nope", json={}).status_code == 404
    assert ghost.api("DELETE", "/api/v1/rules/nope").status_code == 404
    assert ghost.api("POST", "/api/v1/rules/nope/toggle").status_code == 404


async def test_rules_persist_toggle_and_announce(ghost_factory, target: Target, tmp_path: Path) -> None:
    home = tmp_path / "persisted-home"
    ghost = ghost_factory(home=home)
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(f"{ghost.api_url}/api/v1/ws?token={ghost.token}", timeout=10) as ws:

            async def next_event(prefix: str) -> dict[str, Any]:
                while True:
                    message = await asyncio.wait_for(ws.receive_json(), WAIT)
                    if message["type"].startswith(prefix):
                        return message

            rule = (await asyncio.to_thread(add_rule, ghost, type="local", path_pattern="/json", body="mocked"))
            assert await next_event("rule.") == {"type": "rule.created", "data": rule}
            toggled = (await asyncio.to_thread(ghost.api, "POST", f"/api/v1/rules/{rule['id']}/toggle")).json()
            assert toggled["enabled"] is False
            event = await next_event("rule.")
            assert event["type"] == "rule.updated" and event["data"]["enabled"] is False
            await asyncio.to_thread(ghost.api, "POST", f"/api/v1/rules/{rule['id']}/toggle")
            await next_event("rule.")
            extra = await asyncio.to_thread(add_rule, ghost, type="rewrite", target="url", match="x", replace="y")
            await next_event("rule.")
            assert (await asyncio.to_thread(ghost.api, "DELETE", f"/api/v1/rules/{extra['id']}")).status_code == 204
            assert await next_event("rule.") == {"type": "rule.deleted", "data": {"id": extra["id"]}}
    await asyncio.to_thread(ghost.stop)

    again = await asyncio.to_thread(ghost_factory, home=home)
    rules = (await asyncio.to_thread(again.api, "GET", "/api/v1/rules")).json()
    assert [r["id"] for r in rules] == [rule["id"]] and rules[0]["enabled"] is True

    def fetch() -> str:
        with again.client() as client:
            return client.get(f"{target.http_url}/json").text

    assert await asyncio.to_thread(fetch) == "mocked"


def test_a_backtracking_rewrite_freezes_neither_proxy_nor_api(ghost, target: Target, second_target: Target) -> None:
    # Python's re spends 12 s on "(a+)+$" over 31 bytes, and far longer on "(a|a)+$" over 40
    body = "a" * 31 + "!"
    evil_body = "a" * 40 + "!"
    on_echo = {"type": "rewrite", "target": "request_body", "host_pattern": f"127.0.0.1:{target.http_port}",
               "path_pattern": "/echo/*"}
    brief = add_rule(ghost, **on_echo, match="(a+)+$", replace="b")
    evil = add_rule(ghost, **{**on_echo, "path_pattern": "/echo/evil"}, match="(a|a)+$", replace="x", priority=1)
    # a long limit, so there is time to see the API and the proxy answer while the regex runs
    r = ghost.api("PUT", "/api/v1/settings", json={"rules": {"regex_timeout_ms": 1000}})
    assert r.status_code == 200, r.text

    with ghost.client() as client:
        started = time.monotonic()
        assert client.post(f"{target.http_url}/echo/brief", content=body.encode()).json()["body"] == body
        assert time.monotonic() - started < 1.5  # "(a+)+$" no longer backtracks (regex package)

        def trigger() -> tuple[float, str]:
            began = time.monotonic()
            with ghost.client() as own:
                answer = own.post(f"{target.http_url}/echo/evil", content=evil_body.encode())
            return time.monotonic() - began, answer.json()["body"]

        with (ThreadPoolExecutor(1) as pool,
              httpx.Client(base_url=ghost.api_url, headers={"Authorization": f"Bearer {ghost.token}"}) as api):
            assert api.get("/api/v1/health").json() == {"ok": True}  # connected: time the answer alone
            triggered = pool.submit(trigger)
            time.sleep(0.2)  # the regex is running now
            began = time.monotonic()
            assert api.get("/api/v1/health").json() == {"ok": True}
            health = time.monotonic() - began
            began = time.monotonic()
            assert client.get(f"{second_target.http_url}/json").json()["ok"] is True
            other = time.monotonic() - began
            assert not triggered.done()  # all that happened while the regex ran
            took, echoed = triggered.result(timeout=10)
    assert health < 0.2 and other < 1.0, (health, other)
    assert 1.0 <= took < 2.5, took  # the rule was skipped at its limit ...
    assert echoed == evil_body  # ... and the body left as it was
    rule = ghost.api("GET", f"/api/v1/rules/{evil['id']}").json()
    assert rule["enabled"] is True and rule["timeouts"] == 1
    assert "did not finish within its 1000 ms limit on the request_body" in rule["last_error"]
    flow = ghost.api("GET", f"/api/v1/flows/{ghost.wait_flows(1, q='path:/echo/evil')[0]['id']}").json()
    assert flow["metadata"]["map_rules_skipped"] == [evil["id"]]
    assert flow["metadata"]["map_rules"] == [brief["id"]]

    # five timeouts in a row switch the rule off (a timeout on a starved thread does not count)
    assert ghost.api("PUT", "/api/v1/settings", json={"rules": {"regex_timeout_ms": 100}}).status_code == 200
    with ghost.client() as client:
        for _ in range(12):
            assert client.post(f"{target.http_url}/echo/evil", content=evil_body.encode()).status_code == 200
            rule = ghost.api("GET", f"/api/v1/rules/{evil['id']}").json()
            if not rule["enabled"]:
                break
    assert rule["enabled"] is False and rule["timeouts"] >= 5
    assert rule["disabled_reason"].startswith("switched off after 5 regex timeouts in a row")
    assert ghost.api("GET", "/api/v1/rules").json()[1] == rule
    toggled = ghost.api("POST", f"/api/v1/rules/{evil['id']}/toggle").json()
    assert toggled["enabled"] is True and toggled["disabled_reason"] == "" and toggled["timeouts"] == 0
