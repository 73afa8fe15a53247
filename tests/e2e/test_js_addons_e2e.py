"""JavaScript addons through a real `mitmdump -s ghost.py`: created over the API, changing real
traffic to a local target, contained when they misbehave, and kept across a restart."""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import aiohttp
import httpx
import pytest

from tests.support.target import Target

pytestmark = pytest.mark.timeout(180)
WAIT = 20.0


def add_addon(ghost, **fields: Any) -> dict[str, Any]:
    r = ghost.api("POST", "/api/v1/addons", json=fields)
    assert r.status_code == 201, r.text
    return r.json()


def wait_for(predicate, timeout: float = WAIT, what: str = "condition"):  # noqa: ANN001, ANN201
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise TimeoutError(f"{what} not met after {timeout} s")


def test_addons_change_real_traffic(ghost, target: Target) -> None:
    add_addon(ghost, name="Tag API errors", priority=10,
              code="ghost.onResponse(function (flow) { if (flow.response.status_code >= 400) flow.tag('error'); })")
    add_addon(ghost, name="Mark requests", priority=1,
              code="ghost.onRequest(function (flow) { flow.setHeader('X-Ghost-Addon', 'yes'); "
                   "flow.removeHeader('X-Drop-Me'); })")
    add_addon(ghost, name="Block admin", priority=2,
              code="ghost.onRequest(function (flow) { if (flow.request.path.indexOf('/echo/admin') === 0) "
                   "flow.block(); })")
    add_addon(ghost, name="Mock", priority=3,
              code="ghost.onRequest(function (flow) { if (flow.request.path === '/echo/mock') "
                   "flow.respond(200, {mocked: true, method: flow.request.method}, {'X-Mock': '1'}); })")
    add_addon(ghost, name="Count", priority=4,
              code="ghost.onRequest(function (flow) { var n = (ghost.store.get('n') || 0) + 1; "
                   "ghost.store.set('n', n); flow.setHeader('X-Count', String(n)); })")
    with ghost.client() as client:
        r = client.get(f"{target.http_url}/echo/one", headers={"X-Drop-Me": "1"})
        assert r.status_code == 200
        seen = target.seen[-1]
        assert seen.header("X-Ghost-Addon") == "yes" and seen.header("X-Count") == "1"
        assert seen.header("X-Drop-Me") is None
        assert client.get(f"{target.https_url}/echo/two").status_code == 200  # HTTPS too
        assert target.seen[-1].header("X-Count") == "2"

        r = client.get(f"{target.http_url}/status/404")
        assert r.status_code == 404

        blocked = client.get(f"{target.http_url}/echo/admin/users")
        assert blocked.status_code == 403
        assert not any(s.path.startswith("/echo/admin") for s in target.seen)

        mocked = client.post(f"{target.http_url}/echo/mock", content=b"x")
        assert mocked.status_code == 200 and mocked.json() == {"mocked": True, "method": "POST"}
        assert mocked.headers["x-mock"] == "1"
        assert not any(s.path == "/echo/mock" for s in target.seen)

    stored = {f["path"]: f for f in ghost.wait_flows(5)}
    assert "error" in stored["/status/404"]["tags"]
    assert "error" in stored["/echo/admin/users"]["tags"]  # a 403 is an error response too
    assert "error" not in stored["/echo/one"]["tags"]
    detail = ghost.api("GET", f"/api/v1/flows/{stored['/echo/admin/users']['id']}").json()
    assert detail["metadata"]["addon_blocked"] == "Block admin"
    assert detail["response"]["status_code"] == 403
    assert [s.header("X-Count") for s in target.seen] == ["1", "2", "3"]


def test_crud_validation_and_hot_reload(ghost, target: Target) -> None:
    code = ("ghost.onRequest(function (flow) { var n = (ghost.store.get('n') || 0) + 1; ghost.store.set('n', n);"
            " flow.setHeader('X-Count', String(n)); })")
    created = add_addon(ghost, name="Counter", code=code)
    assert set(created) >= {"id", "name", "code", "enabled", "priority", "created_at", "updated_at", "last_error",
                            "disabled_reason"}
    assert created["enabled"] is True and created["priority"] == 0 and created["code"] == code
    assert ghost.api("GET", f"/api/v1/addons/{created['id']}").json() == created
    assert [a["id"] for a in ghost.api("GET", "/api/v1/addons").json()] == [created["id"]]

    with ghost.client() as client:
        client.get(f"{target.http_url}/echo")
        client.get(f"{target.http_url}/echo")
    assert target.seen[-1].header("X-Count") == "2"

    time.sleep(0.01)
    r = ghost.api("PUT", f"/api/v1/addons/{created['id']}", json={"priority": 5, "name": None})
    assert r.status_code == 200, r.text
    updated = r.json()
    assert updated["priority"] == 5 and updated["name"] == "Counter" and updated["code"] == code
    assert updated["updated_at"] > created["updated_at"] and updated["created_at"] == created["created_at"]
    with ghost.client() as client:
        client.get(f"{target.http_url}/echo")
    assert target.seen[-1].header("X-Count") == "1"  # hot reload: the store starts empty

    bad = ghost.api("PUT", f"/api/v1/addons/{created['id']}", json={"code": "ghost.onRequest(function (f) {\n  f.tag(;\n})"})
    assert bad.status_code == 400
    assert bad.json()["line"] == 2 and bad.json()["column"] == 9 and "SyntaxError" in bad.json()["error"]
    assert ghost.api("GET", f"/api/v1/addons/{created['id']}").json()["code"] == code

    r = ghost.api("PUT", f"/api/v1/addons/{created['id']}", json={"enabled": False})
    assert r.status_code == 200 and r.json()["enabled"] is False
    with ghost.client() as client:
        client.get(f"{target.http_url}/echo")
    assert target.seen[-1].header("X-Count") is None

    for body, message in [
        ({}, "'name' is required"),
        ({"name": ""}, "'name' must be a non-empty string"),
        ({"name": "x", "code": 5}, "'code' must be a string"),
        ({"name": "x", "enabled": "yes"}, "'enabled' must be true or false"),
        ({"name": "x", "priority": 1.5}, "'priority' must be an integer"),
        ({"name": "x", "code": "throw new Error('at load')"}, "Error: at load (line 1, column 1)"),
        ({"name": "x", "code": "while (true) {}"}, "ran longer than"),
    ]:
        r = ghost.api("POST", "/api/v1/addons", json=body)
        assert r.status_code == 400 and message in r.json()["error"], (body, r.text)
    syntax = ghost.api("POST", "/api/v1/addons", json={"name": "x", "code": "var a = 1;\nvar b = ;"})
    assert syntax.status_code == 400 and (syntax.json()["line"], syntax.json()["column"]) == (2, 9)
    assert ghost.api("POST", "/api/v1/addons", content=b"[1]").status_code == 400
    assert ghost.api("POST", "/api/v1/addons", content=b"{nope").status_code == 400
    huge = ghost.api("POST", "/api/v1/addons", json={"name": "big", "code": "//" + "x" * (1 << 20)})
    assert huge.status_code == 413
    assert ghost.api("GET", "/api/v1/addons/nope").status_code == 404
    assert ghost.api("PUT", "/api/v1/addons/nope", json={"name": "x"}).status_code == 404
    assert ghost.api("DELETE", "/api/v1/addons/nope").status_code == 404
    assert len(ghost.api("GET", "/api/v1/addons").json()) == 1  # nothing bad was stored

    r = ghost.api("DELETE", f"/api/v1/addons/{created['id']}")
    assert r.status_code == 204 and r.content == b""
    assert ghost.api("GET", f"/api/v1/addons/{created['id']}").status_code == 404
    assert ghost.api("GET", "/api/v1/addons").json() == []
    spec = ghost.api("GET", "/api/v1/openapi.json").json()["paths"]
    assert {"get", "post"} <= set(spec["/api/v1/addons"]) and {"get", "put", "delete"} <= set(spec["/api/v1/addons/{id}"])


async def test_addon_events(ghost, target: Target) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(f"{ghost.api_url}/api/v1/ws?token={ghost.token}", timeout=10) as ws:
            async def next_event(kind: str) -> dict[str, Any]:
                while True:
                    message = await asyncio.wait_for(ws.receive_json(), WAIT)
                    if message["type"] == kind:
                        return message["data"]

            code = ("ghost.log('loaded'); ghost.onRequest(function (flow) { ghost.warn('saw', flow.request.path);"
                    " if (flow.request.path === '/echo/fail') null.x; })")
            column = code.index("null.x") + len("null.") + 1  # V8 points at the property read
            r = await asyncio.to_thread(ghost.api, "POST", "/api/v1/addons", json={"name": "Logger", "code": code})
            addon = r.json()
            assert (await next_event("addon.created"))["id"] == addon["id"]
            loaded = await next_event("addon.log")
            assert (loaded["id"], loaded["name"], loaded["level"], loaded["message"]) == (
                addon["id"], "Logger", "info", "loaded")

            def get(path: str) -> int:
                with ghost.client() as client:
                    return client.get(f"{target.http_url}{path}").status_code

            assert await asyncio.to_thread(get, "/echo/hi") == 200
            log = await next_event("addon.log")
            assert (log["level"], log["message"]) == ("warn", "saw /echo/hi") and log["time"]
            assert await asyncio.to_thread(get, "/echo/fail") == 200  # the flow goes on unchanged
            await next_event("addon.log")
            error = await next_event("addon.log")
            assert error["level"] == "error"
            assert error["message"] == ("onRequest handler threw TypeError: Cannot read property 'x' of null"
                                        f" (line 1, column {column})")
            stored = await asyncio.to_thread(ghost.api, "GET", f"/api/v1/addons/{addon['id']}")
            assert stored.json()["last_error"] == error["message"]

            await asyncio.to_thread(ghost.api, "PUT", f"/api/v1/addons/{addon['id']}", json={"name": "Renamed"})
            assert (await next_event("addon.updated"))["name"] == "Renamed"
            await asyncio.to_thread(ghost.api, "DELETE", f"/api/v1/addons/{addon['id']}")
            assert await next_event("addon.deleted") == {"id": addon["id"]}


BAD_ADDONS = {
    "infinite loop": "ghost.onRequest(function (flow) { while (true) {} })",
    "async microtask loop": "ghost.onRequest(function (flow) { (async function () { for (;;) await null; })(); })",
    "1 GB ArrayBuffer": "ghost.onRequest(function (flow) { ghost.store.set('b', new ArrayBuffer(1024 * 1024 * 1024)); })",
    # Two flat strings of V8's maximum length (2**29 - 24 one-byte characters): 1 GB.
    "1 GB string": "ghost.onRequest(function (flow) { var a = 'x'.repeat((1 << 29) - 24), b = 'y'.repeat((1 << 29) - 24);"
                   " ghost.store.set('n', a.indexOf('z') + b.indexOf('z')); })",
    "1 GB array": "ghost.onRequest(function (flow) { ghost.store.set('a', new Array(1 << 27).fill(0.5)); })",
    "throw in every call": "ghost.onRequest(function (flow) { throw new Error('always'); })",
}


@pytest.mark.parametrize("kind", list(BAD_ADDONS))
def test_bad_addon_is_contained_while_traffic_flows(ghost, target: Target, kind: str) -> None:
    good = add_addon(ghost, name="good", priority=1,
                     code="ghost.onRequest(function (flow) { flow.setHeader('X-Good', 'yes'); })")
    bad = add_addon(ghost, name=kind, priority=0, code=BAD_ADDONS[kind])
    sent: list[int] = []
    failed: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()

    def traffic(n: int) -> None:
        with ghost.client(timeout=30.0) as client:
            i = 0
            while not stop.is_set():
                i += 1
                try:
                    r = client.get(f"{target.http_url}/echo/{n}/{i}")
                    ok = r.status_code == 200 and r.json()["headers"].get("X-Good") == "yes"
                except httpx.HTTPError as e:
                    ok, r = False, e
                with lock:
                    sent.append(1)
                    if not ok:
                        failed.append(repr(r))

    started = time.monotonic()
    with ThreadPoolExecutor(6) as pool:
        workers = [pool.submit(traffic, n) for n in range(6)]
        try:
            disabled = wait_for(lambda: (a := ghost.api("GET", f"/api/v1/addons/{bad['id']}").json())
                                and not a["enabled"] and a, timeout=60, what=f"{kind} addon disabled")
            time.sleep(0.3)  # and traffic keeps flowing afterwards
        finally:
            stop.set()
            for w in workers:
                w.result(60)
    elapsed = time.monotonic() - started
    assert failed == [] and len(sent) >= 20, (len(sent), failed[:3])
    assert disabled["disabled_reason"].startswith("disabled after 5 failures in a row"), disabled
    assert disabled["last_error"], disabled
    expected = {"infinite loop": "timed out", "async microtask loop": "timed out", "1 GB ArrayBuffer": "RangeError",
                "throw in every call": "Error: always"}.get(kind, "")
    assert expected in disabled["last_error"], disabled
    assert ghost.api("GET", f"/api/v1/addons/{good['id']}").json()["enabled"] is True
    print(f"{kind}: {len(sent)} requests in {elapsed:.1f} s while the addon failed, all completed; "
          f"last error: {disabled['last_error']}")


def test_addons_persist_across_a_restart(ghost_factory, target: Target) -> None:
    first = ghost_factory()
    on = add_addon(first, name="On", code="ghost.onRequest(function (flow) { flow.setHeader('X-On', '1'); })")
    off = add_addon(first, name="Off", enabled=False,
                    code="ghost.onRequest(function (flow) { flow.setHeader('X-Off', '1'); })")
    home = first.home
    first.stop()
    second = ghost_factory(home=home)
    listed = second.api("GET", "/api/v1/addons").json()
    assert [(a["id"], a["enabled"]) for a in listed] == [(on["id"], True), (off["id"], False)]
    with second.client() as client:
        assert client.get(f"{target.http_url}/echo").status_code == 200
    assert target.seen[-1].header("X-On") == "1" and target.seen[-1].header("X-Off") is None


def test_out_of_memory_crash_is_contained(ghost, target: Target) -> None:
    """With a time limit long enough for the heap to fill, the worker dies of V8's OOM: the
    culprit is blamed, its worker restarted, and the other addon never misses a request."""
    r = ghost.api("PUT", "/api/v1/settings", json={"addons": {"call_timeout_ms": 8000}})
    assert r.status_code == 200, r.text
    good = add_addon(ghost, name="good", priority=1,
                     code="ghost.onRequest(function (flow) { flow.setHeader('X-Good', 'yes'); })")
    bad = add_addon(ghost, name="bomb", priority=0,
                    code="ghost.onRequest(function (flow) { ghost.store.set('a', new Array(1 << 27).fill(0.5)); })")
    results: list[bool] = []

    def traffic(n: int) -> None:
        with ghost.client(timeout=60.0) as client:
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline:
                r = client.get(f"{target.http_url}/echo/{n}/{len(results)}")
                results.append(r.status_code == 200 and r.json()["headers"].get("X-Good") == "yes")
                if not ghost.api("GET", f"/api/v1/addons/{bad['id']}").json()["enabled"]:
                    return

    with ThreadPoolExecutor(2) as pool:
        for future in [pool.submit(traffic, n) for n in range(2)]:
            future.result(120)
    assert all(results) and len(results) >= 5, results
    disabled = ghost.api("GET", f"/api/v1/addons/{bad['id']}").json()
    assert not disabled["enabled"] and "5 failures in a row" in disabled["disabled_reason"], disabled
    assert "OOM" in disabled["last_error"], disabled
    assert ghost.api("GET", f"/api/v1/addons/{good['id']}").json()["enabled"] is True
