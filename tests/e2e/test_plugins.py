"""Third-party plugins load by entry point and by path, with the same powers as built-ins.

The example plugin examples/ghost-tagger uses every part of the contract; `check_tagger`
drives each part through Ghost's API, the proxy and the events WebSocket."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp

from tests.support.ghostproc import REPO, GhostProcess
from tests.support.target import Target

TAGGER = REPO / "examples" / "ghost-tagger"
DEFAULT_RULES = ["status:5xx -> server-error", "status:4xx -> client-error", "host:*.localhost,127.0.0.1 -> local"]


def eventually[T](probe: Callable[[], T], ok: Callable[[T], bool], timeout: float = 10.0) -> T:
    """`probe()` once `ok` holds for it (the tagger writes its counts a second at a time)."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if ok(value) or time.monotonic() > deadline:
            return value
        time.sleep(0.1)


def tagged_events(ghost: GhostProcess, traffic: Callable[[], None], tags: int) -> list[dict[str, Any]]:
    """The `tagger.tagged` events sent while `traffic` runs, until they count `tags` tags."""

    async def listen() -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        url = f"{ghost.api_url}/api/v1/ws?token={ghost.token}"
        async with aiohttp.ClientSession() as session, session.ws_connect(url, timeout=10) as ws:
            await asyncio.to_thread(traffic)
            while sum(sum(e["tags"].values()) for e in events) < tags:
                message = await asyncio.wait_for(ws.receive_json(), 10)
                if message["type"] == "tagger.tagged":
                    events.append(message["data"])
        return events

    return asyncio.run(listen())


def check_tagger(ghost: GhostProcess, target: Target, name: str) -> None:
    # What it declared: its settings (with their defaults), event, table and route.
    assert ghost.api("GET", "/api/v1/settings").json()["tagger"] == {"rules": DEFAULT_RULES, "block_status": 403}
    plugins = {p["name"]: p for p in ghost.api("GET", "/api/v1/plugins").json()["plugins"]}
    assert plugins[name]["registered"] == {
        "settings": ["tagger.rules", "tagger.block_status"], "event_types": ["tagger.tagged"],
        "migrations": ["tagger"], "routes": ["GET /api/v1/tagger/stats"]}
    assert {"ghost_map_rules", "ghost_capture", "ghost_flow_stored"} <= set(plugins[name]["hooks"])
    assert "/api/v1/tagger/stats" in ghost.api("GET", "/api/v1/openapi.json").json()["paths"]

    # The default rules tag as the example always did; the counts reach the table and the WebSocket.
    def errors() -> None:
        with ghost.client() as client:
            client.get(f"{target.http_url}/status/503")
            client.get(f"{target.http_url}/status/404")

    events = tagged_events(ghost, errors, tags=4)
    flows = {f["path"]: f for f in ghost.wait_flows(2)}
    assert flows["/status/503"]["tags"] == ["server-error", "local"]
    assert flows["/status/404"]["tags"] == ["client-error", "local"]
    session_id = flows["/status/503"]["session_id"]
    assert {e["session_id"] for e in events} == {session_id}
    assert sum(e["tags"].get("local", 0) for e in events) == 2
    counted = {"client-error": 1, "local": 2, "server-error": 1}
    assert ghost.api("GET", "/api/v1/tagger/stats").json() == {"session_id": None, "tagged": 4, "tags": counted}

    # A bad rule is refused naming it, and nothing changes.
    r = ghost.api("PUT", "/api/v1/settings", json={"tagger": {"rules": ["method:POST -> write", "colour:red -> x"]}})
    assert r.status_code == 400
    assert r.json()["error"].startswith("tagger.rules has a bad rule 'colour:red -> x': unknown condition")
    r = ghost.api("PUT", "/api/v1/settings", json={"tagger": {"block_status": 200}})
    assert r.status_code == 400 and "tagger.block_status must be 400-599" in r.json()["error"]
    assert ghost.api("GET", "/api/v1/settings").json()["tagger"]["rules"] == DEFAULT_RULES

    # New rules apply at once: a tag for writes, and a block rule answered by Ghost itself.
    rules = [*DEFAULT_RULES, "method:POST -> write", "path:/ads/* -> block"]
    r = ghost.api("PUT", "/api/v1/settings", json={"tagger": {"rules": rules, "block_status": 451}})
    assert r.status_code == 200, r.text
    with ghost.client() as client:
        assert client.post(f"{target.http_url}/echo", content=b"x").status_code == 200
        blocked = client.get(f"{target.http_url}/ads/banner.js")
    assert blocked.status_code == 451 and blocked.headers["X-Ghost-Blocked-By"] == "tagger"
    assert "/ads/banner.js" not in [seen.path for seen in target.seen]
    flows = {f["path"]: f for f in ghost.wait_flows(4)}
    assert flows["/echo"]["tags"] == ["local", "write"]
    assert flows["/ads/banner.js"]["status_code"] == 451
    assert flows["/ads/banner.js"]["tags"] == ["client-error", "local"]

    # The route reads the table, for every session or one; a bad query is a 400.
    counted = {"client-error": 2, "local": 4, "server-error": 1, "write": 1}
    stats = ghost.api("GET", "/api/v1/tagger/stats", params={"session_id": session_id}).json()
    assert stats == {"session_id": session_id, "tagged": 8, "tags": counted}
    r = ghost.api("GET", "/api/v1/tagger/stats", params={"session": session_id})
    assert r.status_code == 400 and "unknown query parameter 'session'" in r.json()["error"]
    assert ghost.api("GET", "/api/v1/tagger/stats", params={"session_id": "nope"}).status_code == 404
    other = ghost.api("POST", "/api/v1/sessions", json={"name": "empty"}).json()["id"]
    stats = ghost.api("GET", "/api/v1/tagger/stats", params={"session_id": other}).json()
    assert stats == {"session_id": other, "tagged": 0, "tags": {}}
    monitor = ghost.api("GET", "/api/v1/monitor").json()
    assert monitor["tagger"]["rules"] == 5 and monitor["tagger"]["blocked_requests"] == 1


def install_tagger(site: Path) -> dict[str, str]:
    """A real distribution on the path: importlib.metadata finds its entry point, as after
    `pip install examples/ghost-tagger`. Returns the environment that puts it there."""
    dist = site / "ghost_tagger-0.2.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: ghost-tagger\nVersion: 0.2.0\n")
    (dist / "entry_points.txt").write_text("[ghost]\ntagger = ghost_tagger\n")
    (site / "ghost_tagger").symlink_to(TAGGER / "ghost_tagger")
    return {"PYTHONPATH": str(site)}


def test_plugin_by_path(ghost_factory, target: Target, tmp_path: Path) -> None:
    args = ("--set", f"ghost_plugins={TAGGER / 'ghost_tagger'}")
    ghost = ghost_factory(home=tmp_path / "home", extra_args=args)
    check_tagger(ghost, target, "ghost_tagger")
    # The counts live in the store: a restart (SIGTERM writes what was still in memory) keeps them.
    with ghost.client() as client:
        client.get(f"{target.http_url}/status/500")
    ghost.wait_flows(5)
    assert ghost.stop() == 0
    again = ghost_factory(home=tmp_path / "home", extra_args=args)
    assert again.api("GET", "/api/v1/tagger/stats").json()["tags"]["server-error"] == 2


def test_plugin_by_entry_point(ghost_factory, target: Target, tmp_path: Path) -> None:
    ghost = ghost_factory(env=install_tagger(tmp_path / "site"))
    listed = {p["name"]: p for p in ghost.api("GET", "/api/v1/plugins").json()["plugins"]}["tagger"]
    assert listed["kind"] == "entry point" and listed["distribution"] == "ghost-tagger"
    assert listed["version"] == "0.2.0" and listed["source"] == "ghost_tagger"
    check_tagger(ghost, target, "tagger")


def test_the_tagger_can_be_disabled_by_name(ghost_factory, target: Target, tmp_path: Path) -> None:
    ghost = ghost_factory(env=install_tagger(tmp_path / "site"), extra_args=("--set", "ghost_disable_plugins=tagger"))
    listing = ghost.api("GET", "/api/v1/plugins").json()
    assert "tagger" not in {p["name"] for p in listing["plugins"]} and listing["disabled"] == ["tagger"]
    assert "tagger" not in ghost.api("GET", "/api/v1/settings").json()
    assert ghost.api("GET", "/api/v1/tagger/stats").status_code == 404
    with ghost.client() as client:
        assert client.get(f"{target.http_url}/status/503").status_code == 503
    assert ghost.wait_flows(1)[0]["tags"] == []


def test_broken_plugin_stops_start_with_a_clear_message(ghost_factory, tmp_path: Path) -> None:
    bad = tmp_path / "bad_plugin.py"
    bad.write_text("from ghost_addons.hookspecs import hookimpl\n\n@hookimpl\ndef ghost_no_such_hook():\n    pass\n")
    ghost = ghost_factory(start=False, extra_args=("--set", f"ghost_plugins={bad}"))
    try:
        ghost.start()
    except RuntimeError as e:
        assert "hook Ghost does not have" in str(e) or "ghost_no_such_hook" in str(e)
    else:
        raise AssertionError("Ghost started with a plugin implementing an unknown hook")


def test_plugins_are_listed_with_what_they_registered(ghost) -> None:
    listing = ghost.api("GET", "/api/v1/plugins").json()
    plugins = {p["name"]: p for p in listing["plugins"]}
    assert {"noise", "exporters", "journeys", "integrations"} <= set(plugins)
    exporters = plugins["exporters"]
    assert exporters["kind"] == "builtin" and exporters["source"] == "plugins.exporters"
    assert exporters["version"] and "ghost_exporters" in exporters["hooks"]
    assert set(exporters["registered"]["exporters"]) >= {"har", "postman", "csv", "json", "report"}
    assert "GET /api/v1/sessions/{id}/export/{format}" in exporters["registered"]["routes"]
    assert plugins["noise"]["registered"]["settings"] == [
        "proxy.noise_enabled", "proxy.noise_threshold", "proxy.noise_sample_rate", "proxy.noise_window_secs"]
    assert "journey:started" in plugins["journeys"]["registered"]["event_types"]
    assert "map_rules" in plugins["map_rules"]["registered"]["migrations"]
    assert "GET /api/v1/plugins" in listing["core"]["routes"] and listing["disabled"] == []
    types = {t["type"]: t for t in ghost.api("GET", "/api/v1/events/types").json()}
    assert types["flow.created"]["owner"] == "core" and types["addon.log"]["owner"] == "js_addons"


def test_a_plugin_can_be_disabled_by_name(ghost_factory, target: Target) -> None:
    ghost = ghost_factory(extra_args=("--set", "ghost_disable_plugins=compose",
                                      "--set", "ghost_disable_plugins=noise"))
    listing = ghost.api("GET", "/api/v1/plugins").json()
    names = {p["name"] for p in listing["plugins"]}
    assert "compose" not in names and "noise" not in names and "exporters" in names
    assert listing["disabled"] == ["compose", "noise"]
    assert ghost.api("POST", "/api/v1/compose", json={"method": "GET", "url": target.http_url}).status_code == 404
    assert "noise_threshold" not in ghost.api("GET", "/api/v1/settings").json()["proxy"]
    with ghost.client() as client:  # the rest of Ghost works as before
        assert client.get(f"{target.http_url}/status/200").status_code == 200
    assert ghost.wait_flows(1)[0]["path"] == "/status/200"
