"""Settings that act on the proxy take effect on the next request, without restart."""

from __future__ import annotations

import subprocess
import time

import httpx
import yaml

from tests.support.ghostproc import GhostProcess
from tests.support.target import Target


def put(ghost: GhostProcess, body: dict) -> None:
    r = ghost.api("PUT", "/api/v1/settings", json=body)
    assert r.status_code == 200 and r.json() == {"ok": True}, r.text


def test_host_include_exclude_hot_reload(ghost, target: Target) -> None:
    with ghost.client() as client:
        put(ghost, {"proxy": {"host_exclude": ["127.0.0.*"]}})
        client.get(f"{target.http_url}/echo?excluded")
        client.get(f"{target.https_url}/echo?included")   # localhost is not excluded
        put(ghost, {"proxy": {"host_exclude": [], "host_include": ["*.example.org"]}})
        client.get(f"{target.http_url}/echo?not-included")
        put(ghost, {"proxy": {"host_include": []}})
        client.get(f"{target.http_url}/echo?again")
    time.sleep(0.3)
    queries = sorted(f["url"].split("?")[1] for f in ghost.wait_flows(2))
    assert queries == ["again", "included"]
    assert len(target.seen) == 4  # filtered flows still reach the target


def test_body_size_cut_keeps_original_size(ghost, target: Target) -> None:
    put(ghost, {"store": {"max_flow_body_size": 100}})
    with ghost.client() as client:
        assert len(client.get(f"{target.http_url}/size/5000").content) == 5000
    flow = ghost.api("GET", f"/api/v1/flows/{ghost.wait_flows(1)[0]['id']}").json()
    assert flow["response"]["body"] == "a" * 100
    assert flow["response"]["body_size"] == 5000 and flow["response"]["body_truncated"] is True


def test_noise_sampling_counts_dropped(ghost, target: Target) -> None:
    put(ghost, {"proxy": {"noise_threshold": 5, "noise_sample_rate": 4, "noise_window_secs": 60}})
    with ghost.client() as client:
        for _ in range(25):
            client.get(f"{target.http_url}/json")
        client.get(f"{target.http_url}/echo")
    time.sleep(0.5)
    stored = ghost.flows("path:/json")
    # 5 under the threshold, then 1 in 4 of the 20 over it
    assert len(stored) == 5 + 5
    report = ghost.api("GET", "/api/v1/monitor").json()["noise"]
    assert report["dropped_flows"] == 15
    assert report["endpoints"][0] == {"method": "GET", "host": "127.0.0.1", "path": "/json", "dropped": 15}
    assert len(ghost.flows("path:/echo")) == 1


def test_auto_purge_by_count(ghost, target: Target) -> None:
    with ghost.client() as client:
        for i in range(6):
            client.get(f"{target.http_url}/echo/{i}")
    ghost.wait_flows(6)
    put(ghost, {"store": {"auto_purge_enabled": True, "auto_purge_max_flows": 2}})
    deadline = time.monotonic() + 10
    while len(ghost.flows()) > 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert sorted(f["path"] for f in ghost.flows()) == ["/echo/4", "/echo/5"]


def test_ssl_bypass_passes_tls_through(ghost, target: Target) -> None:
    def curl(cacert: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["curl", "-sS", "--max-time", "10", "-x", ghost.proxy_url, "--cacert", cacert,
                               f"{target.https_url}/json"], capture_output=True, text=True, timeout=30)

    target_ca = str(next(ghost.home.parent.parent.glob("target*/target-cert.pem")))
    assert curl(str(ghost.ca_path)).returncode == 0          # intercepted: Ghost's CA signs
    put(ghost, {"proxy": {"ssl_bypass_hosts": ["localhost"]}})
    bypassed = curl(target_ca)                               # passed through: the target's own cert
    assert bypassed.returncode == 0, bypassed.stderr
    assert curl(str(ghost.ca_path)).returncode != 0
    ghost.wait_flows(1)
    time.sleep(0.5)
    assert len(ghost.flows()) == 1                           # TLS passed through is not captured


def test_upstream_proxy_hot_reload(ghost_factory, target: Target) -> None:
    upstream = ghost_factory()   # a second Ghost serves as the upstream proxy and records what passed
    ghost = ghost_factory()
    put(ghost, {"proxy": {"upstream_proxy": upstream.proxy_url}})
    with ghost.client() as client:
        assert client.get(f"{target.http_url}/echo?via-upstream").status_code == 200
        assert client.get(f"{target.https_url}/echo?tls-via-upstream").status_code == 200
    assert sorted(f["url"].rsplit("?", 1)[1] for f in upstream.wait_flows(2)) == ["tls-via-upstream", "via-upstream"]
    assert ghost.api("GET", "/api/v1/proxy/status").json()["upstream"] == upstream.proxy_url
    put(ghost, {"proxy": {"upstream_proxy": ""}})
    with ghost.client() as client:
        assert client.get(f"{target.http_url}/echo?direct").status_code == 200
        assert client.get(f"{target.https_url}/echo?tls-direct").status_code == 200
    time.sleep(0.3)
    assert len(upstream.flows()) == 2


def test_settings_masking_export_import_and_rotation(ghost) -> None:
    put(ghost, {"llm": {"api_key": "sk-secret-abcd"}, "testrail": {"url": "https://t.example.com",
                                                                   "email": "a@b.c", "api_key": "xy"}})
    got = ghost.api("GET", "/api/v1/settings").json()
    assert got["llm"]["api_key"] == "****abcd" and got["testrail"]["api_key"] == "****"
    assert "token" not in got["api"]
    exported = ghost.api("GET", "/api/v1/settings/export")
    assert exported.headers["Content-Disposition"] == 'attachment; filename="ghost-settings.json"'
    data = exported.json()
    assert data["llm"]["api_key"] == "" and data["telemetry"]["sentry_dsn"] == ""
    data["proxy"]["noise_threshold"] = 77
    data["llm"]["api_key"] = "sk-from-file"
    assert ghost.api("POST", "/api/v1/settings/import", json=data).status_code == 200
    after = ghost.api("GET", "/api/v1/settings").json()
    assert after["proxy"]["noise_threshold"] == 77 and after["llm"]["api_key"] == "****abcd"

    old = ghost.token
    rotated = ghost.api("POST", "/api/v1/settings/rotate-token").json()
    assert len(rotated["token"]) == 64
    assert ghost.api("GET", "/api/v1/settings", token=old).status_code == 401
    assert ghost.api("GET", "/api/v1/settings", token=rotated["token"]).status_code == 200
    config = yaml.safe_load((ghost.home / "config.yaml").read_text())
    assert config["api"]["token"] == rotated["token"]
    assert (ghost.home / "config.yaml").stat().st_mode & 0o777 == 0o600


def test_token_made_on_first_start_and_kept(ghost_factory) -> None:
    ghost = ghost_factory(token="")
    token = yaml.safe_load((ghost.home / "config.yaml").read_text())["api"]["token"]
    assert len(token) == 64
    assert ghost.api("GET", "/api/v1/sessions", token=token).status_code == 200
    ghost.stop()
    again = ghost_factory(home=ghost.home, token="")
    assert again.api("GET", "/api/v1/sessions", token=token).status_code == 200


def test_setup_wizard_and_proxy_endpoints(ghost) -> None:
    assert ghost.api("GET", "/api/v1/setup/status").json() == {"completed": False, "proxy_method": ""}
    r = ghost.api("POST", "/api/v1/setup/complete", json={"proxy_method": "carrier-pigeon"})
    assert r.status_code == 400 and "proxy_method" in r.json()["error"]
    r = ghost.api("POST", "/api/v1/setup/complete", content=b'{"proxy_method": "manual", "pad": "' + b"x" * 2000 + b'"}')
    assert r.status_code == 413
    assert ghost.api("POST", "/api/v1/setup/complete", json={"proxy_method": "manual"}).json()["ok"] is True
    assert ghost.api("GET", "/api/v1/setup/status").json() == {"completed": True, "proxy_method": "manual"}
    status = ghost.api("GET", "/api/v1/proxy/status").json()
    assert status["running"] is True and status["port"] == ghost.proxy_port
    ca = httpx.get(f"{ghost.api_url}/api/v1/proxy/ca", timeout=10)   # public: devices have no token
    assert ca.status_code == 200 and ca.content == ghost.ca_path.read_bytes()
    pac = httpx.get(f"{ghost.api_url}/proxy.pac", timeout=10)
    assert f"PROXY 127.0.0.1:{ghost.proxy_port}" in pac.text
    assert pac.headers["Content-Type"].startswith("application/x-ns-proxy-autoconfig")


def test_running_file_names_the_actual_api_address(ghost_factory) -> None:
    import json
    import subprocess
    import sys

    from tests.support.ghostproc import REPO

    ghost = ghost_factory()
    running = json.loads((ghost.home / "running.json").read_text())
    assert running["api_url"] == ghost.api_url
    out = ghost.home.parent / "ext"
    done = subprocess.run([sys.executable, str(REPO / "scripts" / "ghost_extension.py"), str(out),
                           "--home", str(ghost.home)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert json.loads((out / "config.json").read_text()) == {"api_url": ghost.api_url, "token": ghost.token}
    ghost.stop()
    assert not (ghost.home / "running.json").exists()


def test_without_p_the_proxy_uses_the_settings_port_on_loopback(ghost_factory) -> None:
    import socket

    from tests.support.ports import free_port

    proc = ghost_factory(start=False)
    port = free_port()
    proc.home.mkdir(parents=True)
    (proc.home / "config.yaml").write_text(f"proxy:\n  port: {port}\n")
    full = proc.command()
    at = full.index("-p")
    proc.command = lambda: full[:at] + full[at + 2:]  # type: ignore[method-assign]
    proc.proxy_port = port
    proc.start()
    assert proc.api("GET", "/api/v1/proxy/status").json()["listen"] == [f"127.0.0.1:{port}"]
    socket.create_connection(("127.0.0.1", port), 5).close()
    listening = [line for line in proc.log().splitlines() if "proxy listening" in line]
    assert listening[-1].endswith(f"127.0.0.1:{port}.")


def test_a_masked_secret_sent_back_keeps_the_real_one(ghost) -> None:
    put(ghost, {"llm": {"api_key": "sk-real-secret-1234"}})
    shown = ghost.api("GET", "/api/v1/settings").json()
    assert shown["llm"]["api_key"] == "****1234"
    shown["llm"]["model"] = "gpt-4o"  # a settings form sends everything back, the mask included
    put(ghost, {"llm": shown["llm"]})
    config = yaml.safe_load((ghost.home / "config.yaml").read_text())
    assert config["llm"]["api_key"] == "sk-real-secret-1234" and config["llm"]["model"] == "gpt-4o"
    refused = ghost.api("PUT", "/api/v1/settings", json={"llm": {"api_key": "****9999"}})
    assert refused.status_code == 400 and "looks like a masked value" in refused.json()["error"]
    assert yaml.safe_load((ghost.home / "config.yaml").read_text())["llm"]["api_key"] == "sk-real-secret-1234"


def test_a_bad_upstream_proxy_is_refused_and_not_saved(ghost_factory) -> None:
    ghost = ghost_factory()
    for bad in ("http://127.0.0.1:abc", "http://:8080", "ftp://proxy:21", "http://host:99999"):
        r = ghost.api("PUT", "/api/v1/settings", json={"proxy": {"upstream_proxy": bad}})
        assert r.status_code == 400 and "proxy.upstream_proxy" in r.json()["error"], (bad, r.text)
    assert yaml.safe_load((ghost.home / "config.yaml").read_text())["proxy"]["upstream_proxy"] == ""
    # A bad value written into the file by hand no longer stops Ghost: the default is used.
    ghost.stop()
    config = yaml.safe_load((ghost.home / "config.yaml").read_text())
    config["proxy"]["upstream_proxy"] = "http://127.0.0.1:abc"
    (ghost.home / "config.yaml").write_text(yaml.safe_dump(config))
    again = ghost_factory(home=ghost.home)
    assert again.api("GET", "/api/v1/settings").json()["proxy"]["upstream_proxy"] == ""
    assert "proxy.upstream_proxy" in again.log()


def test_settings_import_refuses_urls_the_ssrf_guard_refuses(ghost) -> None:
    for url in ("http://169.254.169.254/", "file:///etc/passwd", "http://127.1:8080/", "http://[::ffff:7f00:1]/",
                "http://localhost:9/", "http://10.0.0.8/"):
        body = {"testrail": {"url": url, "email": "qa@example.com"}}
        r = ghost.api("POST", "/api/v1/settings/import", json=body)
        assert r.status_code == 400 and "testrail.url" in r.json()["error"], (url, r.text)
        assert ghost.api("GET", "/api/v1/settings").json()["testrail"]["url"] == ""
    r = ghost.api("POST", "/api/v1/settings/import", json={"llm": {"provider": "ollama",
                                                                    "ollama_endpoint": "http://127.0.0.1:11434"}})
    assert r.status_code == 400 and "llm.ollama_endpoint" in r.json()["error"]
    # The allow-list in force lets a user import a local endpoint on purpose.
    put(ghost, {"replay": {"allow_hosts": ["127.0.0.1"]}})
    r = ghost.api("POST", "/api/v1/settings/import", json={"llm": {"provider": "ollama",
                                                                    "ollama_endpoint": "http://127.0.0.1:11434"}})
    assert r.status_code == 200, r.text


def test_settings_import_multipart_without_boundary_is_a_400(ghost) -> None:
    r = ghost.api("POST", "/api/v1/settings/import", content=b"x",
                  headers={"Content-Type": "multipart/form-data"})
    assert r.status_code == 400 and "multipart" in r.json()["error"]


def test_the_settings_schema_lists_every_setting_with_its_owner(ghost) -> None:
    schema = {item["name"]: item for item in ghost.api("GET", "/api/v1/settings/schema").json()}
    assert schema["proxy.port"]["owner"] == "core" and schema["proxy.port"]["maximum"] == 65535
    assert schema["proxy.noise_threshold"]["owner"] == "noise"
    assert schema["llm.api_key"]["secret"] is True and schema["breakpoints.timeout_secs"]["owner"] == "breakpoints"
    shown = ghost.api("GET", "/api/v1/settings").json()
    assert {f"{s}.{k}" for s, keys in shown.items() for k in keys} == set(schema)
