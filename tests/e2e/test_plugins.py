"""Third-party plugins load by entry point and by path, with the same powers as built-ins."""

from __future__ import annotations

from pathlib import Path

from tests.support.ghostproc import REPO
from tests.support.target import Target

TAGGER = REPO / "examples" / "ghost-tagger"


def check_tagger(ghost, target: Target) -> None:
    with ghost.client() as client:
        client.get(f"{target.http_url}/status/503")
        client.get(f"{target.http_url}/status/404")
    flows = {f["path"]: f for f in ghost.wait_flows(2)}
    assert flows["/status/503"]["tags"] == ["server-error", "local"]
    assert flows["/status/404"]["tags"] == ["client-error", "local"]
    assert ghost.api("GET", "/api/v1/tagger/stats").json() == {"tagged": 4}
    spec = ghost.api("GET", "/api/v1/openapi.json").json()
    assert "/api/v1/tagger/stats" in spec["paths"]


def test_plugin_by_path(ghost_factory, target: Target) -> None:
    ghost = ghost_factory(extra_args=("--set", f"ghost_plugins={TAGGER / 'ghost_tagger'}"))
    check_tagger(ghost, target)


def test_plugin_by_entry_point(ghost_factory, target: Target, tmp_path: Path) -> None:
    # A real distribution on the path: importlib.metadata finds its entry point, as after pip install.
    site = tmp_path / "site"
    dist = site / "ghost_tagger-0.1.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: ghost-tagger\nVersion: 0.1.0\n")
    (dist / "entry_points.txt").write_text("[ghost]\ntagger = ghost_tagger\n")
    (site / "ghost_tagger").symlink_to(TAGGER / "ghost_tagger")
    ghost = ghost_factory(env={"PYTHONPATH": str(site)})
    check_tagger(ghost, target)


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
