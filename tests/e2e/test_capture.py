"""Real traffic through a real `mitmdump -s ghost.py`, read back through the API."""

from __future__ import annotations

import subprocess
import time

import httpx
import pytest

from tests.support.target import PNG_BYTES, Target


def curl(ghost, *args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["curl", "-sS", "--max-time", "20", "-x", ghost.proxy_url, "--cacert", str(ghost.ca_path), *args],
        capture_output=True, text=True, timeout=timeout,
    )


def headers_of(message: dict) -> list[tuple[str, str]]:
    return [(h["name"], h["value"]) for h in message["headers"]]


def test_https_with_curl_stores_every_field(ghost, target: Target) -> None:
    out = curl(ghost, "-X", "POST", "-H", "Content-Type: application/json", "-H", "X-Rep: a", "-H", "X-Rep: b",
               "--data-raw", '{"hello": "world"}', f"{target.https_url}/echo/path?x=1")
    assert out.returncode == 0, out.stderr
    assert '"hello": "world"' in out.stdout.replace('\\"', '"')
    summary = ghost.wait_flows(1)[0]
    flow = ghost.api("GET", f"/api/v1/flows/{summary['id']}").json()
    req, resp = flow["request"], flow["response"]
    assert req["method"] == "POST"
    assert req["url"] == f"https://localhost:{target.https_port}/echo/path?x=1"
    assert (req["scheme"], req["host"], req["port"], req["path"]) == ("https", "localhost", target.https_port, "/echo/path")
    assert req["http_version"] in ("HTTP/1.1", "HTTP/2.0")
    assert [v for k, v in headers_of(req) if k.lower() == "x-rep"] == ["a", "b"]
    assert req["body"] == '{"hello": "world"}' and req["body_encoding"] == "utf8" and req["body_size"] == 18
    assert resp["status_code"] == 200 and resp["status_text"] == "OK"
    assert resp["content_type"].startswith("application/json")
    assert ("Set-Cookie", "sid=abc; Path=/") in headers_of(resp)
    assert '"method": "POST"' in resp["body"] and resp["body_size"] == len(resp["body"].encode())
    assert flow["source"] == "proxy" and flow["error"] == "" and flow["tags"] == []
    # the devices plugin names the device (client address; the User-Agent names the program)
    assert list(flow["metadata"]) == ["device"] and flow["metadata"]["device"]["id"] == "127.0.0.1"
    assert flow["client_addr"].startswith("127.0.0.1:") and flow["server_addr"] == f"127.0.0.1:{target.https_port}"
    timings = flow["timings"]
    assert timings["connect_ms"] >= 0 and timings["tls_ms"] >= 0 and timings["wait_ms"] >= 0
    assert timings["dns_ms"] >= 0  # "localhost" is a name: its lookup is timed
    assert flow["duration_ms"] > 0 and flow["started_at"].endswith("Z")
    assert flow["session_id"] == summary["session_id"]
    seen = target.seen[-1]
    assert seen.method == "POST" and seen.body == b'{"hello": "world"}'


def test_http_client_binary_gzip_redirect_errors(ghost, target: Target) -> None:
    with ghost.client() as client:
        assert client.get(f"{target.http_url}/image.png").content == PNG_BYTES
        assert client.get(f"{target.http_url}/gzip").json()["compressed"] is True
        assert client.get(f"{target.http_url}/redirect", follow_redirects=False).status_code == 302
        assert client.get(f"{target.http_url}/status/500").status_code == 500
        refused = client.get("http://127.0.0.1:9/nothing-listens")
        assert refused.status_code == 502
    flows = {f["path"]: f for f in ghost.wait_flows(5)}
    image = ghost.api("GET", f"/api/v1/flows/{flows['/image.png']['id']}").json()
    assert image["response"]["body_encoding"] == "base64"
    import base64

    assert base64.b64decode(image["response"]["body"]) == PNG_BYTES
    gz = ghost.api("GET", f"/api/v1/flows/{flows['/gzip']['id']}").json()
    assert ("Content-Encoding", "gzip") in headers_of(gz["response"])
    assert '"compressed":true' in gz["response"]["body"]  # stored decoded
    assert flows["/redirect"]["status_code"] == 302
    assert flows["/status/500"]["status_code"] == 500
    failed = ghost.api("GET", f"/api/v1/flows/{flows['/nothing-listens']['id']}").json()
    assert failed["response"] is None
    assert "refused" in failed["error"].lower() or "connect call failed" in failed["error"].lower()
    assert failed["timings"]["wait_ms"] == -1


def test_flow_created_event_only_after_commit(ghost, target: Target) -> None:
    import asyncio

    import aiohttp

    async def scenario() -> list[dict]:
        events = []
        url = f"{ghost.api_url}/api/v1/ws?token={ghost.token}"
        async with aiohttp.ClientSession() as session, session.ws_connect(url, timeout=10) as ws:
            async with httpx.AsyncClient(proxy=ghost.proxy_url, timeout=10) as client:
                for i in range(5):
                    await client.get(f"{target.http_url}/echo?n={i}")
            while len(events) < 5:
                msg = await asyncio.wait_for(ws.receive_json(), 10)
                if msg["type"] == "flow.created":
                    # the flow must already be readable when its event arrives
                    r = await asyncio.to_thread(ghost.api, "GET", f"/api/v1/flows/{msg['data']['id']}")
                    assert r.status_code == 200, r.text
                    events.append(msg["data"])
        return events

    events = asyncio.run(scenario())
    assert sorted(e["url"].rsplit("=", 1)[1] for e in events) == ["0", "1", "2", "3", "4"]


def test_gql_queries(ghost, target: Target) -> None:
    with ghost.client() as client:
        client.post(f"{target.http_url}/echo", content=b"x")
        client.get(f"{target.http_url}/status/404")
        client.get(f"{target.http_url}/status/503")
        client.get(f"{target.http_url}/json")
    ghost.wait_flows(4)
    paths = lambda q: sorted(f["path"] for f in ghost.flows(q))  # noqa: E731
    assert paths("method:POST") == ["/echo"]
    assert paths("status:>=400") == ["/status/404", "/status/503"]
    assert paths("status:4xx") == ["/status/404"]
    assert paths("-status:>=400 path:/j*") == ["/json"]
    assert paths('"status/5"') == ["/status/503"]
    assert paths("host:127.0.0.*") == ["/echo", "/json", "/status/404", "/status/503"]
    r = ghost.api("GET", "/api/v1/flows", params={"q": "colour:blue"})
    assert r.status_code == 400 and "unknown field 'colour'" in r.json()["error"]
    r = ghost.api("GET", "/api/v1/flows", params={"q": "status:abc"})
    assert r.status_code == 400 and "status" in r.json()["error"]


def test_reverse_mode_keeps_working(ghost_factory, target: Target) -> None:
    ghost = ghost_factory(extra_args=("--mode", f"reverse:{target.http_url}"))
    r = httpx.get(f"{ghost.proxy_url}/json", timeout=10)
    assert r.status_code == 200 and r.json()["ok"] is True
    assert ghost.wait_flows(1)[0]["path"] == "/json"


def test_proxy_refuses_to_forward_to_its_own_api(ghost) -> None:
    with httpx.Client(proxy=ghost.proxy_url, timeout=10) as client:
        for host in ("127.0.0.1", "localhost"):
            r = client.get(f"http://{host}:{ghost.api_port}/api/v1/settings",
                           headers={"Authorization": f"Bearer {ghost.token}"})
            assert r.status_code == 403
            assert "own API" in r.json()["error"]


@pytest.mark.parametrize("mode", ["mitmweb"])
def test_mitmweb_runs_ghost(ghost_factory, target: Target, mode: str, tmp_path) -> None:
    import sys
    from pathlib import Path

    from tests.support.ports import free_port

    proc = ghost_factory(start=False, extra_args=("--set", f"web_port={free_port()}", "--set", "web_open_browser=false"))
    proc_cmd = proc.command
    proc.command = lambda: [str(Path(sys.executable).with_name("mitmweb")), *proc_cmd()[1:]]  # type: ignore[method-assign]
    proc.start()
    with proc.client() as client:
        assert client.get(f"{target.http_url}/json").status_code == 200
    assert proc.wait_flows(1)[0]["path"] == "/json"


def quiet(ghost) -> None:
    """Turn noise sampling off so bursts to one endpoint are all stored."""
    r = ghost.api("PUT", "/api/v1/settings", json={"proxy": {"noise_enabled": False}})
    assert r.status_code == 200, r.text


def test_durability_sigterm_drains_queue(ghost_factory, target: Target, tmp_path) -> None:
    ghost = ghost_factory()
    quiet(ghost)
    import concurrent.futures

    def burst(i: int) -> int:
        with httpx.Client(proxy=ghost.proxy_url, timeout=20) as c:
            return sum(c.get(f"{target.http_url}/echo?b={i}&n={n}").status_code == 200 for n in range(50))

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        answered = sum(pool.map(burst, range(8)))
    assert ghost.stop() == 0
    again = ghost_factory(home=ghost.home)
    assert len(again.flows(limit=1000)) == answered == 400


def test_durability_kill9_keeps_every_announced_flow(ghost_factory, target: Target) -> None:
    import asyncio

    import aiohttp

    ghost = ghost_factory()
    quiet(ghost)

    async def run() -> set[str]:
        announced: set[str] = set()
        url = f"{ghost.api_url}/api/v1/ws?token={ghost.token}"
        async with aiohttp.ClientSession() as session, session.ws_connect(url) as ws:
            async def traffic() -> None:
                async with httpx.AsyncClient(proxy=ghost.proxy_url, timeout=10) as client:
                    await asyncio.gather(*(client.get(f"{target.http_url}/echo?k={i}") for i in range(300)),
                                         return_exceptions=True)

            sender = asyncio.ensure_future(traffic())
            deadline = time.monotonic() + 20
            while len(announced) < 150 and time.monotonic() < deadline:
                msg = await asyncio.wait_for(ws.receive_json(), 10)
                if msg["type"] == "flow.created":
                    announced.add(msg["data"]["id"])
            ghost.kill()  # SIGKILL mid-traffic
            try:
                while True:
                    msg = await asyncio.wait_for(ws.receive(), 5)
                    if msg.type != aiohttp.WSMsgType.TEXT:
                        break
                    data = msg.json()
                    if data["type"] == "flow.created":
                        announced.add(data["data"]["id"])
            except (TimeoutError, aiohttp.ClientError):
                pass
            await asyncio.wait_for(sender, 30)
        return announced

    announced = asyncio.run(run())
    assert len(announced) >= 150
    again = ghost_factory(home=ghost.home)
    stored = {f["id"] for f in again.flows(limit=10000)}
    assert announced <= stored
    again.stop()
    import sqlean

    conn = sqlean.connect(str(ghost.home / "ghost.db"))
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    finally:
        conn.close()


def test_a_stage_cannot_point_a_request_at_the_api(ghost_factory, target: Target, tmp_path) -> None:
    plugin = tmp_path / "redirect_to_api.py"
    plugin.write_text(
        "from ghost_addons.hookspecs import hookimpl\n\n"
        "@hookimpl\n"
        "def ghost_addons(ghost, flow, phase):\n"
        "    if phase == 'request':\n"
        "        flow.request.host, flow.request.port = '127.0.0.1', ghost.api_port\n"
        "        flow.request.path = '/api/v1/settings'\n"
    )
    ghost = ghost_factory(extra_args=("--set", f"ghost_plugins={plugin}"))
    with ghost.client() as client:
        r = client.get(f"{target.http_url}/json", headers={"Authorization": f"Bearer {ghost.token}"})
    assert r.status_code == 403 and "own API" in r.json()["error"]
