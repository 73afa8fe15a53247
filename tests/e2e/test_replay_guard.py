"""Replaying a stored flow goes through the SSRF guard: an imported HAR entry cannot make
Ghost reach a local listener (or its own API) unless `replay.allow_hosts` says so."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from typing import Any

import orjson
import pytest

LOOPBACK_FORMS = (
    "127.0.0.1", "localhost", "localhost.", "127.1", "127.0.1", "2130706433", "0x7f000001", "0x7f.0.0.1",
    "0177.0.0.1", "017700000001", "127.0.0.01", "0", "0.0.0.0", "[::ffff:127.0.0.1]", "[::ffff:7f00:1]",
    "[::1]", "[::127.0.0.1]",
)


class Listener:
    """A local HTTP listener that counts the connections it accepts and answers 200."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            with conn:
                conn.settimeout(5)
                try:
                    conn.recv(65536)
                    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
                except OSError:
                    pass

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def listener() -> Iterator[Listener]:
    server = Listener()
    try:
        yield server
    finally:
        server.close()


def har(urls: list[str]) -> bytes:
    def entry(url: str) -> dict[str, Any]:
        return {
            "startedDateTime": "2026-01-01T00:00:00.000Z", "time": 1,
            "request": {"method": "GET", "url": url, "httpVersion": "HTTP/1.1", "headers": [],
                        "queryString": [], "cookies": [], "headersSize": -1, "bodySize": 0},
            "response": {"status": 200, "statusText": "OK", "httpVersion": "HTTP/1.1", "headers": [],
                         "cookies": [], "content": {"size": 0, "mimeType": "text/plain"}, "redirectURL": "",
                         "headersSize": -1, "bodySize": 0},
            "cache": {}, "timings": {"send": 0, "wait": 0, "receive": 0},
        }

    return orjson.dumps({"log": {"version": "1.2", "creator": {"name": "test", "version": "1"},
                                 "entries": [entry(u) for u in urls]}})


def imported(ghost, urls: list[str]) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """Import one HAR entry per URL into a new session; {url: flow id}."""
    session = ghost.api("POST", "/api/v1/sessions", json={"name": "replay guard"}).json()["id"]
    r = ghost.api("POST", f"/api/v1/sessions/{session}/import/har", content=har(urls))
    assert r.status_code == 200 and r.json()["imported"] == len(urls), r.text
    flows = ghost.api("GET", "/api/v1/flows", params={"session_id": session, "limit": 1000}).json()["flows"]
    by_path = {f["path"]: f["id"] for f in flows}
    return {u: by_path["/" + u.rsplit("/", 1)[1]] for u in urls}


def test_replay_of_any_loopback_form_is_refused_and_sends_nothing(ghost, listener: Listener) -> None:
    urls = [f"http://{form}:{listener.port}/f{i}" for i, form in enumerate(LOOPBACK_FORMS)]
    for url, flow_id in imported(ghost, urls).items():
        r = ghost.api("POST", f"/api/v1/flows/{flow_id}/replay")
        assert r.status_code == 400, (url, r.status_code, r.text)
        error = r.json()["error"]
        assert "refused" in error and "replay.allow_hosts" in error, (url, error)
    assert listener.accepted == 0
    assert ghost.flows("source:replay") == []


def test_the_allow_list_lets_a_local_app_be_replayed_but_never_the_api(ghost, listener: Listener) -> None:
    ok_url = f"http://127.1:{listener.port}/app"
    ids = imported(ghost, [ok_url, f"http://2130706433:{ghost.api_port}/api"])
    allow = ghost.api("PUT", "/api/v1/settings", json={"replay": {"allow_hosts": ["127.0.0.0/8", "localhost"]}})
    assert allow.status_code == 200, allow.text
    r = ghost.api("POST", f"/api/v1/flows/{ids[ok_url]}/replay")
    assert r.status_code == 201, r.text
    assert r.json()["response"]["status_code"] == 200 and listener.accepted == 1
    api = ghost.api("POST", f"/api/v1/flows/{ids[f'http://2130706433:{ghost.api_port}/api']}/replay")
    assert api.status_code == 400 and "Ghost's own API" in api.json()["error"], api.text


def test_a_stage_cannot_point_a_replay_at_a_local_listener(ghost_factory, listener: Listener, tmp_path) -> None:
    """The proxy checks a replay again on its final target, after every pipeline stage."""
    plugin = tmp_path / "to_local.py"
    plugin.write_text(
        "from ghost_addons.hookspecs import hookimpl\n\n"
        "@hookimpl\n"
        "def ghost_map_rules(ghost, flow, phase):\n"
        "    if phase == 'request' and flow.request.path == '/moved':\n"
        f"        flow.request.host, flow.request.port = '127.1', {listener.port}\n"
    )
    ghost = ghost_factory(extra_args=("--set", f"ghost_plugins={plugin}"))
    url = "http://93.184.215.14:9/moved"  # a public address: the API's own check passes it
    r = ghost.api("POST", f"/api/v1/flows/{imported(ghost, [url])[url]}/replay")
    assert r.status_code == 201, r.text
    assert r.json()["response"]["status_code"] == 403
    assert listener.accepted == 0
