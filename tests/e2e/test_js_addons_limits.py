"""JavaScript addons under an address-space limit (`ulimit -v`): V8 cannot reserve its
address space, the addons are off, and Ghost says why (log, API status, monitor), naming
the limit, while the proxy and the rest of Ghost work."""

from __future__ import annotations

from tests.support.ghostproc import GhostProcess
from tests.support.target import Target

LIMIT_MB = 4096  # enough for mitmdump and its flow writer, far too little for V8 (about 9,000 MB)


class LimitedGhost(GhostProcess):
    def command(self) -> list[str]:
        return ["prlimit", f"--as={LIMIT_MB * 1024 * 1024}", "--", *super().command()]


def test_under_ulimit_v_addons_are_off_and_ghost_says_why(tmp_path, ghost_factory, target: Target) -> None:
    unlimited = ghost_factory(home=tmp_path / "home")
    made = unlimited.api("POST", "/api/v1/addons", json={"name": "tagger", "code": "ghost.onRequest(function (flow) {});"})
    assert made.status_code == 201, made.text
    addon_id = made.json()["id"]
    assert unlimited.api("GET", f"/api/v1/addons/{addon_id}").json()["status"] == "loaded"
    unlimited.stop()
    ghost = LimitedGhost(tmp_path / "home")
    try:
        ghost.start()
        listed = ghost.api("GET", "/api/v1/addons").json()
        assert [(a["id"], a["enabled"], a["status"]) for a in listed] == [(addon_id, True, "off")]
        assert "ulimit -v" in listed[0]["status_reason"]
        created = ghost.api("POST", "/api/v1/addons", json={"name": "tagger", "code": "", "enabled": False})
        assert created.status_code == 503
        reason = created.json()["error"]
        assert "ulimit -v" in reason and f"{LIMIT_MB} MB" in reason and "V8" in reason
        monitor = ghost.api("GET", "/api/v1/monitor").json()["js_addons"]
        assert monitor == {"running": False, "off_reason": monitor["off_reason"]}
        assert "address-space limit (ulimit -v) of 4096 MB" in monitor["off_reason"]
        assert "JavaScript addons are off" in ghost.log() and "ulimit -v" in ghost.log()
        with ghost.client() as client:  # the proxy works without addons
            assert client.get(f"{target.http_url}/json").status_code == 200
        assert ghost.wait_flows(1)
    finally:
        ghost.stop()
