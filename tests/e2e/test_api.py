"""The REST API contract: sessions, flows, artifacts, OpenAPI, and every kind of bad input."""

from __future__ import annotations

import sqlean

from tests.support.target import Target


def test_sessions_lifecycle_and_active_session(ghost, target: Target) -> None:
    sessions = ghost.api("GET", "/api/v1/sessions").json()
    assert len(sessions) == 1 and sessions[0]["active"] is True   # made on first start
    default_id = sessions[0]["id"]
    created = ghost.api("POST", "/api/v1/sessions", json={"name": "Checkout", "description": "QA run"})
    assert created.status_code == 201
    new = created.json()
    assert new["name"] == "Checkout" and new["flow_count"] == 0
    assert ghost.api("POST", f"/api/v1/sessions/{new['id']}/activate").json()["active_session_id"] == new["id"]
    with ghost.client() as client:
        client.get(f"{target.http_url}/json")
    ghost.wait_flows(1)
    assert ghost.flows(session_id=new["id"])[0]["path"] == "/json"
    assert ghost.flows(session_id=default_id) == []
    assert ghost.api("GET", "/api/v1/flows").json()["total"] == 1   # default: the active session
    renamed = ghost.api("PUT", f"/api/v1/sessions/{new['id']}", json={"name": "Checkout 2"}).json()
    assert renamed["name"] == "Checkout 2" and renamed["flow_count"] == 1
    r = ghost.api("DELETE", f"/api/v1/sessions/{new['id']}")
    assert r.status_code == 409 and "active" in r.json()["error"]
    ghost.api("POST", f"/api/v1/sessions/{default_id}/activate")
    assert ghost.api("DELETE", f"/api/v1/sessions/{new['id']}").status_code == 204
    assert ghost.flows() == []   # CASCADE took its flows
    assert ghost.api("GET", f"/api/v1/sessions/{new['id']}").status_code == 404


def test_flow_tags_annotation_delete_replay(ghost, target: Target) -> None:
    with ghost.client() as client:
        client.post(f"{target.http_url}/echo", json={"a": 1})
    flow_id = ghost.wait_flows(1)[0]["id"]
    r = ghost.api("PATCH", f"/api/v1/flows/{flow_id}", json={"tags": ["bug", "bug", "login"], "annotation": "look"})
    assert r.status_code == 200 and r.json()["tags"] == ["bug", "login"] and r.json()["annotation"] == "look"
    assert ghost.api("POST", f"/api/v1/flows/{flow_id}/tags", json={"tag": "p1"}).json()["tags"] == ["bug", "login", "p1"]
    assert ghost.api("DELETE", f"/api/v1/flows/{flow_id}/tags/bug").json()["tags"] == ["login", "p1"]
    assert [f["id"] for f in ghost.flows("tag:p1")] == [flow_id]
    target.reset()
    refused = ghost.api("POST", f"/api/v1/flows/{flow_id}/replay")  # a loopback target needs the allow-list
    assert refused.status_code == 400 and "replay.allow_hosts" in refused.json()["error"], refused.text
    assert target.seen == []
    ghost.api("PUT", "/api/v1/settings", json={"replay": {"allow_hosts": ["127.0.0.1"]}}).raise_for_status()
    replayed = ghost.api("POST", f"/api/v1/flows/{flow_id}/replay")
    assert replayed.status_code == 201, replayed.text
    new = replayed.json()
    assert new["source"] == "replay" and new["metadata"]["replay_of"] == flow_id
    assert new["response"]["status_code"] == 200
    assert target.seen[0].method == "POST" and target.seen[0].body == b'{"a":1}'
    assert [f["id"] for f in ghost.flows("source:replay")] == [new["id"]]
    assert ghost.api("DELETE", f"/api/v1/flows/{flow_id}").status_code == 204
    assert ghost.api("GET", f"/api/v1/flows/{flow_id}").status_code == 404


def test_artifacts_list_get_download_delete(ghost) -> None:
    session_id = ghost.api("GET", "/api/v1/sessions").json()[0]["id"]
    conn = sqlean.connect(str(ghost.home / "ghost.db"))
    try:
        for i, (fmt, content) in enumerate([("har", b'{"log": {}}'), ("csv", b"a,b\n"), ("markdown", b"# r"),
                                            ("zip", b"PK\x03\x04\xff")]):
            conn.execute(
                "INSERT INTO artifacts (id, type, title, format, session_id, size_bytes, content, created_at) "
                "VALUES (?, 'session_export', ?, ?, ?, ?, ?, '2026-01-01T00:00:00Z')",
                (f"01ART{i:021d}", f"t{i}", fmt, session_id, len(content), content))
        conn.commit()
    finally:
        conn.close()
    items = ghost.api("GET", "/api/v1/artifacts", params={"type": "session_export"}).json()
    assert len(items) == 4 and "content" not in items[0]
    assert ghost.api("GET", "/api/v1/artifacts", params={"session_id": "nope"}).json() == []
    full = ghost.api("GET", "/api/v1/artifacts/01ART000000000000000000000").json()
    assert full["content"] == '{"log": {}}' and full["format"] == "har"
    expected = {0: ("application/json; charset=utf-8", ".har"), 1: ("text/csv; charset=utf-8", ".csv"),
                2: ("text/markdown; charset=utf-8", ".md"), 3: ("application/octet-stream", ".zip")}
    for i, (ctype, ext) in expected.items():
        r = ghost.api("GET", f"/api/v1/artifacts/01ART{i:021d}/download")
        assert r.headers["Content-Type"] == ctype
        assert r.headers["Content-Disposition"].endswith(f'{ext}"')
    assert ghost.api("DELETE", "/api/v1/artifacts/01ART000000000000000000000").json() == {"ok": True}
    assert ghost.api("GET", "/api/v1/artifacts/01ART000000000000000000000").status_code == 404


def test_auth_host_and_origin_checks(ghost) -> None:
    import httpx

    r = httpx.get(f"{ghost.api_url}/api/v1/sessions", timeout=10)
    assert r.status_code == 401 and "missing token" in r.json()["error"]
    assert ghost.api("GET", "/api/v1/sessions", token="wrong").status_code == 401
    assert httpx.get(f"{ghost.api_url}/api/v1/health", timeout=10).json() == {"ok": True}
    r = ghost.api("GET", "/api/v1/sessions", headers={"Host": "evil.example.com"})
    assert r.status_code == 403 and "Host" in r.json()["error"]
    r = ghost.api("GET", "/api/v1/sessions", headers={"Origin": "http://evil.example.com"})
    assert r.status_code == 403 and "Origin" in r.json()["error"]
    assert ghost.api("GET", "/api/v1/sessions", headers={"Origin": "http://localhost:3000"}).status_code == 200
    r = httpx.get(f"{ghost.api_url}/api/v1/ws", params={"token": "wrong"},
                  headers={"Upgrade": "websocket", "Connection": "Upgrade"}, timeout=10)
    assert r.status_code == 401


def test_bad_input_is_a_clear_4xx_and_changes_nothing(ghost) -> None:
    before = ghost.api("GET", "/api/v1/settings").json()
    cases = [
        ("PUT", "/api/v1/settings", {"content": b"{not json"}, 400, "not valid JSON"),
        ("PUT", "/api/v1/settings", {"json": {"proxy": {"noise_threshold": "high"}}}, 400, "noise_threshold must be an integer"),
        ("PUT", "/api/v1/settings", {"json": {"proxy": {"noise_threshold": 5, "port": 70000}}}, 400, "proxy.port"),
        ("PUT", "/api/v1/settings", {"json": {"nosuch": {}}}, 400, "unknown settings section"),
        ("PUT", "/api/v1/settings", {"json": [1, 2]}, 400, "JSON object"),
        ("PUT", "/api/v1/settings", {"content": b'{"a": "' + b"x" * (1 << 20) + b'"}'}, 413, "limit"),
        ("POST", "/api/v1/sessions", {"json": {"name": 5}}, 400, "'name' must be a string"),
        ("POST", "/api/v1/sessions", {"json": {}}, 400, "'name' is required"),
        ("POST", "/api/v1/sessions", {"content": b""}, 400, "empty"),
        ("GET", "/api/v1/sessions/01NOPE", {}, 404, "no session"),
        ("GET", "/api/v1/flows/01NOPE", {}, 404, "no flow"),
        ("PATCH", "/api/v1/flows/01NOPE", {"json": {"tags": ["a"]}}, 404, "no flow"),
        ("PATCH", "/api/v1/flows/01NOPE", {"json": {"tags": "a"}}, 400, "tags"),
        ("GET", "/api/v1/flows", {"params": {"limit": "lots"}}, 400, "limit must be an integer"),
        ("GET", "/api/v1/flows", {"params": {"limit": "0"}}, 400, "between"),
        ("GET", "/api/v1/flows", {"params": {"q": 'path:"/a'}}, 400, "unclosed quote"),
        ("GET", "/api/v1/artifacts/01NOPE/download", {}, 404, "no artifact"),
        ("DELETE", "/api/v1/sessions/01NOPE", {}, 404, "no session"),
        ("GET", "/api/v1/no/such/route", {}, 404, "not found"),
        ("DELETE", "/api/v1/settings", {}, 405, "not allowed"),
        ("POST", "/api/v1/settings/import", {"json": {"proxy": {"port": "x"}}}, 400, "proxy.port"),
    ]
    for method, path, kwargs, status, text in cases:
        r = ghost.api(method, path, **kwargs)
        assert r.status_code == status, (method, path, r.status_code, r.text)
        assert text in r.json()["error"], (method, path, r.json())
    assert ghost.api("GET", "/api/v1/settings").json() == before
    assert len(ghost.api("GET", "/api/v1/sessions").json()) == 1


def test_openapi_describes_every_route(ghost) -> None:
    spec = ghost.api("GET", "/api/v1/openapi.json").json()
    assert spec["openapi"].startswith("3.")
    paths = spec["paths"]
    for path, method in [("/api/v1/sessions", "get"), ("/api/v1/sessions/{id}", "delete"),
                         ("/api/v1/flows", "get"), ("/api/v1/flows/{id}/replay", "post"),
                         ("/api/v1/settings", "put"), ("/api/v1/settings/rotate-token", "post"),
                         ("/api/v1/monitor", "get"), ("/api/v1/artifacts/{id}/download", "get"),
                         ("/api/v1/ws", "get"), ("/api/v1/health", "get"), ("/api/v1/setup/complete", "post")]:
        assert method in paths[path], (path, method)
        assert paths[path][method]["summary"]
    assert "security" not in paths["/api/v1/health"]["get"]
    assert paths["/api/v1/flows"]["get"]["security"] == [{"bearer": []}]


def test_monitor_reports_queue_and_counts(ghost, target: Target) -> None:
    with ghost.client() as client:
        client.get(f"{target.http_url}/json")
    ghost.wait_flows(1)
    report = ghost.api("GET", "/api/v1/monitor").json()
    for key in ("db_size_bytes", "db_size_human", "mem_alloc_bytes", "mem_alloc_human", "mem_sys_bytes",
                "goroutines", "total_flows", "uptime_seconds", "uptime_human", "num_gc", "flow_queue_depth"):
        assert key in report
    assert report["total_flows"] == 1 and report["flow_queue_depth"] == 0 and report["db_size_bytes"] > 0
