"""Captured traffic is searchable by its bodies and headers as soon as its flow is listed:
the flow writer indexes each flow in the transaction that stores it."""

from __future__ import annotations

from tests.e2e.test_capture import curl
from tests.support.target import Target


def test_bodies_and_headers_of_captured_https_traffic_are_searchable(ghost, target: Target) -> None:
    out = curl(ghost, "-X", "POST", "-H", "Content-Type: application/json", "-H", "X-Trace-Id: trace-5150",
               "--data-raw", '{"order": "ord-31337", "note": "Crème brûlée"}', f"{target.https_url}/echo/orders")
    assert out.returncode == 0, out.stderr
    out = curl(ghost, f"{target.https_url}/echo/other")
    assert out.returncode == 0, out.stderr
    ghost.wait_flows(2)

    def found(q: str) -> list[str]:
        r = ghost.api("GET", "/api/v1/flows", params={"q": q})
        assert r.status_code == 200, r.text
        return [f["path"] for f in r.json()["flows"]]

    assert found('req.body:"ord-31337"') == ["/echo/orders"]
    assert found("body:creme") == ["/echo/orders"]  # accents folded, and the echo answers it back
    assert found("header:x-trace-id:trace-5150") == ["/echo/orders"]
    assert found("-header:x-trace-id path:/echo/*") == ["/echo/other"]
    assert found("resp.body~:ord-[0-9]{5}") == ["/echo/orders"]
    r = ghost.api("GET", "/api/v1/flows", params={"q": "body~:(unclosed"})
    assert r.status_code == 400 and "bad regular expression" in r.json()["error"]
