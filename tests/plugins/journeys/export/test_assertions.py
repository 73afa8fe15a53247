"""Which JSON keys of a recorded response the API exports assert: the stable ones."""

from __future__ import annotations

import dataclasses

import pytest

from plugins.journeys.export import BUILTIN
from plugins.journeys.export.assertions import (
    MAX_KEYS,
    KeyCheck,
    Shape,
    endpoint,
    key_checks,
    looks_like_value,
    shape,
    stable_keys,
)

from .journeys import flow, login_journey

BASE = "http://127.0.0.1:8080"


@pytest.mark.parametrize(("text", "value"), [
    ("id", False), ("created_at", False), ("userName", False), ("items", False), ("x-rate", False),
    ("42", True), ("-3.5", True), ("5eedfeed0badcafe", True), ("0f8fad5b-d9cb-469f-a165-70867728950e", True),
    ("2026-12-03", True), ("2026-12-03T12:00:00Z", True), ("12:30", True), ("alice@example.com", True),
    ("eyJhbGciOiJIUzI1NiJ9abc123", True), ("", True), ("k" * 65, True),
    ("deadbeef01", True), ("deadbeef", False),  # hex only with a digit: "deadbeef" may be a word
])
def test_keys_that_look_like_values(text: str, value: bool) -> None:
    assert looks_like_value(text) is value


def test_an_endpoint_is_its_method_path_template_and_status() -> None:
    note = flow(1, BASE, "get", "/api/notes/5eedfeed0badcafe?x=1", 200, {})
    other = flow(2, BASE, "GET", "/api/notes/0badcafe5eedfeed", 200, {})
    assert endpoint(note) == endpoint(other) == ("GET", "/api/notes/*", 200)
    assert endpoint(flow(3, BASE, "GET", "/api/notes/42", 404, {})) == ("GET", "/api/notes/*", 404)


def test_the_shape_of_a_body() -> None:
    assert shape(flow(1, BASE, "GET", "/a", 200, {"id": 1, "name": "x"})) == Shape(frozenset({"id", "name"}), False)
    items = [{"id": 1, "name": "x", "tag": "a"}, {"id": 2, "name": "y"}]
    assert shape(flow(1, BASE, "GET", "/a", 200, items)) == Shape(frozenset({"id", "name"}), True)
    assert shape(flow(1, BASE, "GET", "/a", 200, [])) is None  # nothing to learn keys from
    assert shape(flow(1, BASE, "GET", "/a", 200, [1, 2])) is None
    assert shape(flow(1, BASE, "GET", "/a", 200, "text")) is None
    assert shape(flow(1, BASE, "GET", "/a", 200, {str(n): n for n in range(MAX_KEYS + 1)})) is None  # a map
    assert shape(flow(1, BASE, "GET", "/a", 200, None, response=False)) is None
    html = flow(1, BASE, "GET", "/a", 200, {"id": 1})
    html = dataclasses.replace(html, response=dataclasses.replace(html.response, headers=[("Content-Type", "text/html")]))
    assert shape(html) is None


def test_stable_keys_are_those_every_observation_had_and_that_are_names() -> None:
    first = Shape(frozenset({"id", "title", "draft", "2026-12-03"}), False)
    second = Shape(frozenset({"id", "title", "2026-12-04"}), False)
    assert stable_keys([first, second]) == KeyCheck(("id", "title"))  # draft came and went; dates are values
    assert stable_keys([first]) == KeyCheck(("draft", "id", "title"))
    assert stable_keys([Shape(frozenset({"a"}), True)]) == KeyCheck(("a",), each=True)
    assert stable_keys([first, None]) is None  # once it was not JSON at all
    assert stable_keys([first, Shape(frozenset({"id"}), True)]) is None  # object once, array once
    assert stable_keys([Shape(frozenset({"42", "43"}), False)]) is None  # keyed by ids: a map
    assert stable_keys([]) is None


def test_key_checks_learn_from_every_observation_of_an_endpoint() -> None:
    one = flow(1, BASE, "GET", "/api/notes/5eedfeed0badcafe", 200, {"id": "5eedfeed0badcafe", "title": "a", "pinned": True})
    two = flow(2, BASE, "GET", "/api/notes/0badcafe5eedfeed", 200, {"id": "0badcafe5eedfeed", "title": "b"})
    missing = flow(3, BASE, "GET", "/api/notes/1234abcd1234", 404, {"error": "no such note"})
    assert key_checks([one, missing], [one, two, missing]) == [KeyCheck(("id", "title")), KeyCheck(("error",))]
    assert key_checks([one], []) == [KeyCheck(("id", "pinned", "title"))]  # no other observation: its own


@pytest.mark.parametrize(("fmt", "expected"), [
    ("curl", ["check_keys 1 \"$work/body-1\" '[\"token\"]' object",
              "check_keys 2 \"$work/body-2\" '[\"id\", \"name\"]' each"]),
    ("k6", ['"step 1: body has keys token": (r) => hasKeys(r, ["token"], false)',
            '"step 2: body has keys id, name in each element": (r) => hasKeys(r, ["id", "name"], true)']),
    ("postman", ['pm.expect(pm.response.json()).to.include.all.keys(\\"token\\");',
                 'pm.expect(item).to.include.all.keys(\\"id\\", \\"name\\");']),
    ("playwright-api", ['expect(Object.keys(await response1.json()), "step 1: body keys")'
                        '.toEqual(expect.arrayContaining(["token"]));',
                        'expect(Object.keys(item), "step 2: body keys").toEqual(expect.arrayContaining(["id", "name"]));']),
    ("cypress-api", ['expect(response.body).to.include.all.keys("token");',
                     'response.body.forEach((item) => expect(item).to.include.all.keys("id", "name"));']),
])
def test_every_api_format_asserts_the_stable_keys(fmt: str, expected: list[str]) -> None:
    text = BUILTIN[fmt].generate(login_journey())
    for line in expected:
        assert line in text, line
