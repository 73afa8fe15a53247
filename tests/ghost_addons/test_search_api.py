"""`GET /api/v1/flows` with content searches, pages by key and capped counts, through the API."""

from __future__ import annotations

from ghost_addons.ids import new_id
from ghost_addons.store import flows
from tests.ghost_addons.factories import make_flow


async def stored(api, count: int, **kwargs) -> list[str]:
    batch = [make_flow(new_id(), session_id=api.ghost.active_session_id, **kwargs) for _ in range(count)]
    await api.ghost.store.add_flows(batch)
    return [f.id for f in batch]


async def test_body_and_header_searches_answer_through_the_api(ghost_app) -> None:
    api = await ghost_app()
    [order] = await stored(api, 1, method="POST", body=b'{"order": "ord-4242"}')
    await stored(api, 3)
    page = await api.ok("GET", "/api/v1/flows", params={"q": 'req.body:"ord-4242"'})
    assert [f["id"] for f in page["flows"]] == [order] and page["total"] == 1 and page["total_exact"]
    page = await api.ok("GET", "/api/v1/flows", params={"q": "header:content-type:json -body~:ord-[0-9]+"})
    assert len(page["flows"]) == 3


async def test_pages_by_key_count_on_request_and_refuse_bad_input(ghost_app, monkeypatch) -> None:
    api = await ghost_app()
    ids = await stored(api, 12)
    first = await api.ok("GET", "/api/v1/flows", params={"limit": "5"})
    assert [f["id"] for f in first["flows"]] == ids[::-1][:5] and first["next_before"] == ids[-5]
    second = await api.ok("GET", "/api/v1/flows", params={"limit": "5", "before": first["next_before"]})
    assert [f["id"] for f in second["flows"]] == ids[::-1][5:10]
    monkeypatch.setattr(flows, "COUNT_CAP", 10)
    capped = await api.ok("GET", "/api/v1/flows", params={"limit": "1"})
    assert (capped["total"], capped["total_exact"]) == (10, False)
    exact = await api.ok("GET", "/api/v1/flows", params={"limit": "1", "count": "exact"})
    assert (exact["total"], exact["total_exact"]) == (12, True)
    for params, message in [({"before": "x' OR 1=1"}, "must be a flow id"), ({"count": "all"}, "capped or exact"),
                            ({"q": "body~:(a"}, "bad regular expression"), ({"q": "body:*"}, "no letters"),
                            ({"q": "header~:x", "count": "exact", "before": "z" * 65}, "must be a flow id")]:
        status, body = await api.call("GET", "/api/v1/flows", params=params)
        assert status == 400 and message in body["error"], (params, body)


async def test_a_runaway_regex_is_a_400_and_ghost_keeps_answering(ghost_app) -> None:
    api = await ghost_app()
    await stored(api, 1, response_body=b"a" * 40 + b"!", content_type="text/plain")
    status, body = await api.call("GET", "/api/v1/flows", params={"q": "resp.body~:^(a|a)+$"})
    assert status == 400 and "ran longer than" in body["error"]
    assert (await api.ok("GET", "/api/v1/flows"))["total"] == 1
