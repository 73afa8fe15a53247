"""Hostile JSON bodies and queries against a real in-process Ghost: each is a 4xx that
names the limit, never a 500, and what is stored stays readable."""

from __future__ import annotations

import random

import aiohttp
import orjson
import pytest

from ghost_addons.api.http import MAX_JSON_DEPTH, nests_deeper
from ghost_addons.ids import new_id
from ghost_addons.store.gql import MAX_TERMS, GqlError, compile_query
from plugins.journeys.model import Interaction
from tests.ghost_addons.factories import make_flow

PLUGINS = ("plugins.importers", "plugins.journeys")


def nested(depth: int) -> bytes:
    return b'{"a": ' * depth + b"1" + b"}" * depth


async def with_flow(ghost_app):  # type: ignore[no-untyped-def]
    api = await ghost_app(PLUGINS)
    flow = make_flow(new_id(), session_id=api.ghost.active_session_id)
    await api.ghost.store.add_flows([flow])
    return api, flow.id


async def test_metadata_nested_300_deep_is_a_400_and_the_flow_stays_readable(ghost_app) -> None:  # type: ignore[no-untyped-def]
    # before: 500 "Recursion limit reached" (orjson reads 1,024 levels, writes 254)
    api, flow_id = await with_flow(ghost_app)
    status, body = await api.call("PATCH", f"/api/v1/flows/{flow_id}",
                                  data=b'{"metadata": ' + nested(300) + b"}")
    assert status == 400
    assert body["error"] == f"request body nests JSON deeper than {MAX_JSON_DEPTH} levels, the limit"
    status, body = await api.call("PATCH", f"/api/v1/flows/{flow_id}",
                                  data=b'{"metadata": ' + nested(MAX_JSON_DEPTH - 2) + b"}")
    assert status == 200, body
    flow = await api.ok("GET", f"/api/v1/flows/{flow_id}")
    assert orjson.dumps(flow["metadata"]) == nested(MAX_JSON_DEPTH - 2).replace(b" ", b"")


async def test_interaction_data_nested_300_deep_is_a_400(ghost_app) -> None:  # type: ignore[no-untyped-def]
    api = await ghost_app(PLUGINS)
    status, body = await api.call("POST", "/api/v1/interactions", data=(
        b'{"type": "click", "page_url": "https://a.example/", "data": ' + b"[" * 300 + b"]" * 300 + b"}"))
    assert status == 400
    assert "deeper than 64 levels" in body["error"]


def test_extension_interactions_are_bounded_too() -> None:
    # the extension's WebSocket messages reach the model without the API's body reader
    deep: object = 1
    for _ in range(300):
        deep = [deep]
    with pytest.raises(ValueError, match="interaction data cannot be stored"):
        Interaction.from_payload({"type": "click", "page_url": "https://a/", "data": deep}, id="i", session_id="s")
    deep = 1
    for _ in range(80):
        deep = {"k": deep}
    with pytest.raises(ValueError, match=f"deeper than {MAX_JSON_DEPTH} levels"):
        Interaction.from_payload({"type": "click", "page_url": "https://a/", "data": deep}, id="i", session_id="s")


async def test_settings_import_of_deep_json_is_a_400(ghost_app) -> None:  # type: ignore[no-untyped-def]
    api = await ghost_app(PLUGINS)
    form = aiohttp.FormData()
    form.add_field("file", b"[" * 1000 + b"]" * 1000, filename="settings.json")
    status, body = await api.call("POST", "/api/v1/settings/import", data=form)
    assert status == 400
    assert "settings file" in body["error"]
    form = aiohttp.FormData()
    form.add_field("file", b" " * (2 << 20), filename="settings.json")
    status, body = await api.call("POST", "/api/v1/settings/import", data=form)
    assert status == 413


async def test_gql_with_1500_terms_is_a_400(ghost_app) -> None:  # type: ignore[no-untyped-def]
    # before: 500 from SQLite ("Expression tree is too large")
    api, _ = await with_flow(ghost_app)
    status, body = await api.call("GET", "/api/v1/flows", params={"q": " ".join(["a"] * 1500)})
    assert status == 400
    assert body["error"] == f"bad query: the query has 1,500 terms; the limit is {MAX_TERMS}"
    page = await api.ok("GET", "/api/v1/flows", params={"q": " ".join(["example"] * MAX_TERMS)})
    assert page["total"] == 1


def test_gql_bounds_length_and_wildcards() -> None:
    with pytest.raises(GqlError, match="5,000 characters long"):
        compile_query("x" * 5000)
    with pytest.raises(GqlError, match="at most 8"):
        compile_query("url:" + "*a" * 9)
    compile_query("url:" + "*a" * 8)


async def test_ghost_json_import_with_a_wrong_type_skips_the_flow(ghost_app) -> None:  # type: ignore[no-untyped-def]
    # before: 500 "'int' object has no attribute 'strip'"
    api = await ghost_app(PLUGINS)
    doc = orjson.dumps([{"started_at": 5, "request": {"method": "GET", "url": "https://a.example/"}},
                        {"request": {"method": "GET", "url": "https://a.example/ok"}}])
    result = await api.ok("POST", f"/api/v1/sessions/{api.ghost.active_session_id}/import/json", data=doc)
    assert result == {"imported": 1, "skipped": 1, "errors": ["flow 0: started_at must be a string, got '5'"]}


async def test_har_of_100000_nested_brackets_is_a_400_naming_the_limit(ghost_app) -> None:  # type: ignore[no-untyped-def]
    api = await ghost_app(PLUGINS)
    doc = b'{"log": {"entries": [' + b"[" * 100_000 + b"]" * 100_000 + b"]}}"
    status, body = await api.call("POST", f"/api/v1/sessions/{api.ghost.active_session_id}/import/har", data=doc)
    assert status == 400
    assert "deeper than 100 levels" in body["error"]


def depth(value: object) -> int:
    if isinstance(value, dict):
        return 1 + max((depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((depth(v) for v in value), default=0)
    return 0


def test_nests_deeper_agrees_with_a_walk_of_the_parsed_value() -> None:
    rng = random.Random(5)

    def make(level: int) -> object:
        if level == 0 or rng.random() < 0.3:
            return rng.choice([1, 'a[{"', "\\", None, "x]}", "\\\"]"])
        if rng.random() < 0.5:
            return [make(level - 1) for _ in range(rng.randint(0, 3))]
        return {f"k{i}[": make(level - 1) for i in range(rng.randint(0, 3))}

    for _ in range(2000):
        value = make(rng.randint(0, 12))
        data = orjson.dumps(value)
        for limit in (1, 2, 5, 8):
            assert nests_deeper(data, limit) == (depth(value) > limit), (data, limit)
