"""The request composer and cURL import on a real Ghost, against the local target."""

from __future__ import annotations

import base64
import time

from tests.support.ghostproc import GhostProcess
from tests.support.target import PNG_BYTES, Target


def allow(ghost: GhostProcess, hosts: list[str]) -> None:
    r = ghost.api("PUT", "/api/v1/settings", json={"replay": {"allow_hosts": hosts}})
    assert r.status_code == 200, r.text


def test_compose_is_refused_for_loopback_until_allowed(ghost: GhostProcess, target: Target) -> None:
    body = {"method": "POST", "url": f"{target.http_url}/echo/composed?q=1",
            "headers": {"X-From": "composer", "Content-Type": "text/plain"}, "body": "hello"}
    r = ghost.api("POST", "/api/v1/compose", json=body)
    assert r.status_code == 403, r.text
    assert "loopback" in r.json()["error"] and "replay.allow_hosts" in r.json()["error"]
    assert target.seen == []

    allow(ghost, ["127.0.0.1"])
    r = ghost.api("POST", "/api/v1/compose", json=body)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["status_code"] == 200 and out["status_text"] == "OK"
    assert out["body_encoding"] == "utf8" and '"body": "hello"' in out["body"]
    assert out["headers"]["Content-Type"].startswith("application/json")
    assert out["duration_ms"] > 0
    seen = target.seen[-1]
    assert (seen.method, seen.path, seen.query, seen.body) == ("POST", "/echo/composed", "q=1", b"hello")
    assert seen.header("X-From") == "composer"
    time.sleep(0.3)
    assert ghost.flows() == []  # ephemeral: nothing stored


def test_compose_binary_response_and_redirects(ghost: GhostProcess, target: Target) -> None:
    allow(ghost, ["127.0.0.1"])
    r = ghost.api("POST", "/api/v1/compose", json={"url": f"{target.http_url}/image.png"})
    assert r.status_code == 200
    assert base64.b64decode(r.json()["body"]) == PNG_BYTES and r.json()["body_encoding"] == "base64"
    r = ghost.api("POST", "/api/v1/compose", json={"url": f"{target.http_url}/redirect"})
    assert r.json()["status_code"] == 302
    r = ghost.api("POST", "/api/v1/compose", json={"url": f"{target.http_url}/redirect",
                                                   "follow_redirects": True})
    assert r.json()["status_code"] == 200 and r.json()["url"].endswith("/json")


def test_compose_never_reaches_ghosts_own_api(ghost: GhostProcess) -> None:
    allow(ghost, ["127.0.0.1", "localhost"])
    r = ghost.api("POST", "/api/v1/compose", json={"url": f"{ghost.api_url}/api/v1/settings",
                                                   "headers": {"Authorization": "Bearer test-token"}})
    assert r.status_code == 403 and "Ghost's own API" in r.json()["error"]


def test_compose_limits_and_bad_input(ghost: GhostProcess, target: Target) -> None:
    r = ghost.api("POST", "/api/v1/compose", json={"url": "http://h/", "body": "x" * (2 * 1024 * 1024)})
    assert r.status_code == 413
    r = ghost.api("POST", "/api/v1/compose", json={"url": "file:///etc/passwd"})
    assert r.status_code == 400 and "http://" in r.json()["error"]
    r = ghost.api("POST", "/api/v1/compose", content=b"not json")
    assert r.status_code == 400
    allow(ghost, ["127.0.0.1"])
    r = ghost.api("POST", "/api/v1/compose", json={"url": f"{target.http_url}/size/3000000"})
    assert r.status_code == 200 and r.json()["body_truncated"] is True
    assert len(r.json()["body"]) == 1024 * 1024


def test_import_curl_then_compose_it(ghost: GhostProcess, target: Target) -> None:
    command = (f"curl '{target.http_url}/echo/from-curl' \\\n  -H 'content-type: application/json' "
               f"\\\n  -b 'sid=abc' \\\n  --data-raw $'{{\"name\":\"O\\'Brien\"}}' \\\n  --compressed")
    r = ghost.api("POST", "/api/v1/compose/import/curl", json={"curl": command})
    assert r.status_code == 200, r.text
    parsed = r.json()
    assert parsed["method"] == "POST" and parsed["url"] == f"{target.http_url}/echo/from-curl"
    assert {"name": "Cookie", "value": "sid=abc"} in parsed["headers"]
    assert parsed["body"] == '{"name":"O\'Brien"}'
    allow(ghost, ["127.0.0.1"])
    r = ghost.api("POST", "/api/v1/compose", json=parsed)
    assert r.status_code == 200
    assert target.seen[-1].body == b'{"name":"O\'Brien"}'


def test_import_curl_errors_are_400(ghost: GhostProcess) -> None:
    for command, message in [("curl 'https://h/' -H 'a: b", "unclosed single quote"),
                             ("curl https://h/ -X", "option -X needs a value"),
                             ("ls -la", "starting with 'curl'")]:
        r = ghost.api("POST", "/api/v1/compose/import/curl", json={"curl": command})
        assert r.status_code == 400 and message in r.json()["error"], r.text
    r = ghost.api("POST", "/api/v1/compose/import/curl", json={"command": "curl x"})
    assert r.status_code == 400 and "'curl'" in r.json()["error"]
    # a file the command reads is reported, not a refusal of the whole command
    r = ghost.api("POST", "/api/v1/compose/import/curl", json={"curl": "curl https://h/ -F a=@b"})
    assert r.status_code == 200 and r.json()["files"] == [{"option": "-F", "name": "a", "path": "b"}]
