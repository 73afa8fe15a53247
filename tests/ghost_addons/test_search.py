"""Full-text search of headers and bodies: what is indexed, the GQL content fields, and the
indexed query agreeing with a plain scan of the same flows (a hypothesis property)."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ghost_addons.store import db, flows, search
from ghost_addons.store.gql import GqlError, compile_query
from ghost_addons.store.migrations import CORE_MIGRATIONS, apply
from tests.ghost_addons.factories import make_flow


def open_db(tmp_path, name="g.db"):
    conn = db.connect(tmp_path / name)
    apply(conn, [("core", CORE_MIGRATIONS)])
    conn.execute("INSERT INTO sessions VALUES ('s', 's', '', 'now', 'now')")
    return conn


def ids(conn, q: str) -> set[str]:
    where, params = compile_query(q)
    return {row[0] for row in conn.execute(f"SELECT id FROM flows WHERE {where}", params)}


# --- what is indexed -------------------------------------------------------------------

@pytest.mark.parametrize(("body", "content_type", "indexed"), [
    (b'{"id": "item-999"}', "application/json", True),
    (b"<p>hello</p>", "text/html; charset=utf-8", True),
    (b"caf\xe9", "text/plain", True),  # a text type with a bad byte: replaced, still indexed
    (b"plain words", "", True),  # no type: indexed when it is UTF-8 without NUL
    (b"\x89PNG\r\n\x1a\n\x00\x00", "image/png", False),
    (b"words", "application/octet-stream", False),
    (b"ab\x00cd", "", False),
    (b"\xff\xfe\xfd", "", False),
    (b"", "text/plain", False),
])
def test_body_text_indexes_text_and_leaves_binary_out(body, content_type, indexed) -> None:
    headers = f'[["Content-Type", "{content_type}"]]' if content_type else "[]"
    assert (search.body_text(body, headers) is not None) is indexed


def test_headers_text_is_one_line_per_header() -> None:
    assert search.headers_text('[["Host","a.test"],["X-Id","7"]]') == "Host: a.test\nX-Id: 7"
    assert search.headers_text("[]") is None and search.headers_text(None) is None


@pytest.mark.parametrize(("text", "words"), [
    ('{"userId": "item-999"}', ["userid", "item", "999"]),
    ("/api/v1/users/42?x=1", ["api", "v1", "users", "42", "x", "1"]),
    ("Crème BRÛLÉE", ["creme", "brulee"]),
    ("İstanbul", ["istanbul"]),
    ("---", []),
])
def test_tokens_are_unicode61_words(text, words) -> None:
    assert search.tokens(text) == words


def test_phrase_needs_consecutive_words_and_a_prefix_only_at_the_end() -> None:
    assert search.contains_phrase(["a", "item", "999"], ["item", "999"])
    assert not search.contains_phrase(["item", "x", "999"], ["item", "999"])
    assert search.contains_phrase(["tokenized"], ["tok"], prefix=True)
    with pytest.raises(search.SearchError, match="only at the end"):
        search.phrase_of("a*b")
    with pytest.raises(search.SearchError, match="no letters or digits"):
        search.phrase_of("--")


# --- GQL content fields against a real database -------------------------------------------

def with_request_headers(flow, headers):
    return replace(flow, request=replace(flow.request, headers=headers))


@pytest.fixture
def corpus(tmp_path):
    conn = open_db(tmp_path)
    flows.insert_flows(conn, [
        make_flow("01A", url="http://shop.test/api/items", method="POST", body=b'{"name": "item-999"}',
                  response_body=b'{"id": 7, "token": "abc123"}'),
        make_flow("01B", url="http://shop.test/page", response_body=b"<h1>Item 999 sold</h1>",
                  content_type="text/html"),
        make_flow("01C", url="http://cdn.test/logo.png", response_body=b"item 999 \x00\x01", content_type="image/png"),
        with_request_headers(make_flow("01D", url="http://api.test/x", response_body=b"{}"),
                             [("X-Request-Id", "req-77"), ("Authorization", "Bearer zz")]),
    ])
    return conn


@pytest.mark.parametrize(("q", "expected"), [
    ('body:"item-999"', {"01A", "01B"}),  # the PNG is binary: not indexed
    ("req.body:item", {"01A"}),
    ("resp.body:item", {"01B"}),
    ("resp.body:tok*", {"01A"}),
    ('body:"999 item"', set()),  # a phrase keeps its order
    ("-body:item method:GET", {"01C", "01D"}),
    ("header:x-request-id", {"01D"}),
    ("header:X-Request-ID:req-77", {"01D"}),
    ("header:x-request-id:88", set()),
    ("header:request", set()),  # a header's name is matched whole, not as a word of it
    ("header:content-type:html", {"01B"}),
    ("header:authorization:bearer", {"01D"}),
    ("body~:item.9{3}", {"01A", "01B", "01C"}),  # a regex reads the stored bytes, binary included
    ("resp.body~:^<h1>", {"01B"}),
    ("header~:req-[0-9]+", {"01D"}),
    ("url~:/(items|x)$", {"01A", "01D"}),
    ("host~:^cdn", {"01C"}),
])
def test_content_fields_find_what_they_say(corpus, q, expected) -> None:
    assert ids(corpus, q) == expected


@pytest.mark.parametrize(("q", "message"), [
    ("body:--", "no letters or digits"),
    ("header::json", "needs a header name"),
    ("body~:(unclosed", "bad regular expression"),
    ("status~:5..", "takes no regular expression"),
    ("bodies:x", "unknown field 'bodies'"),
    ("body~:" + "a" * 1001, "the limit is 1000"),
])
def test_bad_content_terms_are_gql_errors(q, message) -> None:
    with pytest.raises(GqlError, match=re.escape(message)):
        compile_query(q)


def test_a_deleted_flow_leaves_the_index_and_the_next_one_is_not_confused(corpus) -> None:
    flows.delete_flow(corpus, "01A")
    assert ids(corpus, "req.body:item") == set()
    flows.insert_flows(corpus, [make_flow("01E", body=b"other words", method="POST")])
    assert ids(corpus, "req.body:item") == set() and ids(corpus, "req.body:other") == {"01E"}
    corpus.execute("DELETE FROM sessions WHERE id = 's'")  # the cascade empties the index too
    assert corpus.execute("SELECT COUNT(*) FROM flow_text_ids").fetchone()[0] == 0


def test_the_migration_indexes_flows_stored_before_it(tmp_path) -> None:
    conn = db.connect(tmp_path / "old.db")
    apply(conn, [("core", CORE_MIGRATIONS[:1])])
    conn.execute("INSERT INTO sessions VALUES ('s', 's', '', 'now', 'now')")
    old = make_flow("01OLD", response_body=b'{"legacy": "value-1"}')
    conn.execute(flows.INSERT_FLOW, flows.flow_row(old))
    conn.execute(flows.INSERT_BODIES, flows.body_row(old))
    assert apply(conn, [("core", CORE_MIGRATIONS)]) == ["core#2", "core#3", "core#4"]
    assert ids(conn, "body:value-1") == {"01OLD"}


def test_a_runaway_regex_or_query_is_stopped_with_a_reason(corpus) -> None:
    flows.insert_flows(corpus, [make_flow("01F", response_body=b"a" * 40 + b"!", content_type="text/plain")])
    where, params = compile_query("resp.body~:^(a|a)+$")
    with pytest.raises(flows.QueryError, match="ran longer than 0.1 s on one value"):
        flows.query_flows(corpus, where, params, 10)
    flows.insert_flows(corpus, [make_flow(f"02{i:04d}") for i in range(2000)])
    with pytest.raises(flows.QueryError, match="ran longer than 0 s and was stopped"):
        flows.query_flows(corpus, *compile_query("body~:z"), 10, deadline=0.0)


def test_pages_by_key_and_caps_the_count(tmp_path, monkeypatch) -> None:
    conn = open_db(tmp_path)
    flows.insert_flows(conn, [make_flow(f"01{i:03d}") for i in range(30)])
    first = flows.query_flows(conn, "1", [], 10)
    assert [f["id"] for f in first["flows"]][0] == "01029" and first["next_before"] == "01020"
    second = flows.query_flows(conn, "1", [], 10, before=first["next_before"])
    assert [f["id"] for f in second["flows"]] == [f"01{i:03d}" for i in range(19, 9, -1)]
    assert second["total"] == 20 and second["total_exact"]
    monkeypatch.setattr(flows, "COUNT_CAP", 25)
    capped = flows.query_flows(conn, "1", [], 5)
    assert (capped["total"], capped["total_exact"]) == (25, False)
    assert flows.query_flows(conn, "1", [], 5, exact_count=True)["total"] == 30
    assert flows.query_flows(conn, "1", [], 100)["next_before"] is None


# --- the index agrees with a plain scan (property) ---------------------------------------

VOCABULARY = ["alpha", "beta", "item", "999", "user", "Crème", "token", "x1", "ORDER", "v2"]
words = st.lists(st.sampled_from(VOCABULARY), min_size=0, max_size=6)
separators = st.sampled_from([" ", "-", "/", '": "', ",", "\n", "_"])


@st.composite
def texts(draw):
    parts = draw(words)
    return "".join(p + draw(separators) for p in parts)


@st.composite
def stored_flows(draw):
    result = []
    for i in range(draw(st.integers(1, 8))):
        request_text, response_text = draw(texts()), draw(texts())
        header_value = draw(texts())
        flow = make_flow(f"01P{i:02d}", method="POST", body=request_text.encode(),
                         response_body=response_text.encode(), content_type="text/plain")
        result.append(with_request_headers(flow, [("X-Note", header_value)]))
    return result


def plain_scan(stored, field: str, value: str) -> set[str]:
    """What a content term means, computed from the flows themselves."""
    prefix = value.endswith("*")
    wanted = search.tokens(value.rstrip("*"))

    def has(text: str) -> bool:
        return search.contains_phrase(search.tokens(text), wanted, prefix)

    found = set()
    for f in stored:
        req, resp = f.request.body.decode(), f.response.body.decode()
        if field == "header":
            name, _, rest = value.partition(":")
            match = any(k.lower() == name.lower() and (not rest or search.contains_phrase(
                search.tokens(v), search.tokens(rest.rstrip("*")), rest.endswith("*")))
                for k, v in f.request.headers + f.response.headers)
        else:
            match = {"body": has(req) or has(resp), "req.body": has(req), "resp.body": has(resp)}[field]
        if match:
            found.add(f.id)
    return found


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(stored=stored_flows(), field=st.sampled_from(["body", "req.body", "resp.body", "header"]),
       phrase=st.lists(st.sampled_from(VOCABULARY), min_size=1, max_size=3), prefix=st.booleans())
def test_indexed_query_equals_a_plain_scan(tmp_path_factory, stored, field, phrase, prefix) -> None:
    conn = open_db(tmp_path_factory.mktemp("p"))
    flows.insert_flows(conn, stored)
    value = "-".join(phrase) + ("*" if prefix else "")
    if field == "header":
        value = "x-note:" + value
    assert ids(conn, f'{field}:"{value}"') == plain_scan(stored, field, value)


def test_a_glob_with_a_fixed_start_finds_the_same_through_the_index(tmp_path) -> None:
    conn = open_db(tmp_path)
    paths = ["/API/v1/x", "/api/V1/y", "/apiz", "/ap", "/b/api/", "/api/", "/Api/v1/users/9"]
    flows.insert_flows(conn, [make_flow(f"01G{i}", url=f"http://h.test{p}") for i, p in enumerate(paths)])
    found = {row[0] for row in conn.execute("SELECT path FROM flows WHERE " + compile_query("path:/api/*")[0],
                                            compile_query("path:/api/*")[1])}
    assert found == {"/API/v1/x", "/api/V1/y", "/api/", "/Api/v1/users/9"}
    assert ids(conn, "path:/api/v1/users/*") == {"01G6"} and ids(conn, "host:H.TEST") == {f"01G{i}" for i in range(7)}


def test_a_page_is_built_from_rows_exactly_as_from_flows(tmp_path) -> None:
    from ghost_addons.model import flow_summary

    conn = open_db(tmp_path)
    stored = [make_flow("01S1", tags=["a", "b"], duration_us=1234567), make_flow("01S2", status=None, error="boom"),
              make_flow("01S3", content_type="")]
    flows.insert_flows(conn, stored)
    page = flows.list_flow_summaries(conn, "1", [], 10, 0)
    assert page == [flow_summary(flows.get_flow(conn, f.id)) for f in reversed(stored)]


def test_a_slow_count_gives_up_with_what_it_knows(tmp_path, monkeypatch) -> None:
    conn = open_db(tmp_path)
    flows.insert_flows(conn, [make_flow(f"01C{i:04d}") for i in range(3000)])
    monkeypatch.setattr(flows, "COUNT_SECONDS", 0.0)
    page = flows.query_flows(conn, *compile_query("body~:zzz -status:500"), 10, offset=20)
    assert page["flows"] == [] and (page["total"], page["total_exact"]) == (20, False)
    page = flows.query_flows(conn, "1", [], 10)
    assert len(page["flows"]) == 10 and page["total"] >= 10 and not page["total_exact"]
    assert flows.query_flows(conn, "1", [], 10, exact_count=True)["total"] == 3000
