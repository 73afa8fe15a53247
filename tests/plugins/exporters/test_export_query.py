"""`?q=` on a session export: the same GQL as the flow list picks the flows exported."""

from __future__ import annotations

import orjson

from tests.ghost_addons.factories import make_flow


async def test_an_export_holds_only_what_the_query_finds(ghost_app) -> None:
    api = await ghost_app(("plugins.exporters",))
    session = api.ghost.active_session_id
    await api.ghost.store.add_flows([
        make_flow("01Q1", session_id=session, method="POST", body=b'{"sku": "sku-42"}'),
        make_flow("01Q2", session_id=session, url="http://example.com/other"),
        make_flow("01Q3", session_id=session, method="POST", body=b'{"sku": "sku-7"}'),
    ])
    for q, expected in [('req.body:"sku-42"', ["01Q1"]), ("method:POST", ["01Q1", "01Q3"]), ("", ["01Q1", "01Q2", "01Q3"])]:
        har = await api.ok("GET", f"/api/v1/sessions/{session}/export/har", params={"q": q})
        entries = orjson.loads(har)["log"]["entries"] if isinstance(har, bytes) else har["log"]["entries"]
        assert len(entries) == len(expected), q
    status, _ = await api.call("GET", f"/api/v1/sessions/{session}/export/json", params={"q": "method:GET"})
    assert status == 200
    status, body = await api.call("GET", f"/api/v1/sessions/{session}/export/csv", params={"q": "nosuch:x"})
    assert status == 400 and "unknown field 'nosuch'" in body["error"]
