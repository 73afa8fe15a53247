import pytest

from ghost_addons.store import db, flows
from ghost_addons.store.gql import GqlError, compile_query, tokenize
from ghost_addons.store.migrations import CORE_MIGRATIONS, apply
from tests.ghost_addons.factories import make_flow


def test_tokenize_quotes_and_negation() -> None:
    assert tokenize('method:POST "free text" -tag:x path:"/a b"') == ["method:POST", "free text", "-tag:x", "path:/a b"]
    with pytest.raises(GqlError, match="unclosed quote"):
        tokenize('"open')


@pytest.mark.parametrize("query, message", [
    ("colour:red", "unknown field 'colour'"),
    ("status:abc", "bad value 'abc' for status"),
    ("source:somewhere", "bad source"),
    ("method:", "needs a value"),
])
def test_bad_queries(query: str, message: str) -> None:
    with pytest.raises(GqlError, match=message):
        compile_query(query)


@pytest.fixture
def conn(tmp_path):
    c = db.connect(tmp_path / "g.db")
    apply(c, [("core", CORE_MIGRATIONS)])
    c.execute("INSERT INTO sessions VALUES ('s', 'S', '', 'x', 'x')")
    c.execute("BEGIN")
    flows.insert_flows(c, [
        make_flow("01A", method="GET", url="https://api.example.com/users/1", status=200, tags=["a"]),
        make_flow("01B", method="POST", url="https://api.example.com/login", status=401, duration_us=900_000),
        make_flow("01C", method="GET", url="http://cdn.other.org/img_1.png", status=503, source="import",
                  error="boom"),
    ])
    c.execute("COMMIT")
    yield c
    c.close()


@pytest.mark.parametrize("query, ids", [
    ("", ["01A", "01B", "01C"]),
    ("method:post", ["01B"]),
    ("status:>=400", ["01B", "01C"]),
    ("status:5xx", ["01C"]),
    ("status:200-299", ["01A"]),
    ("host:*.example.com", ["01A", "01B"]),
    ("-host:*.example.com", ["01C"]),
    ("path:/users/*", ["01A"]),
    ("tag:a", ["01A"]),
    ("source:import", ["01C"]),
    ("duration:>500", ["01B"]),
    ("error:true", ["01C"]),
    ("login", ["01B"]),
    ('"img_1"', ["01C"]),   # _ is literal, not a LIKE wildcard
    ("img%1", []),
    ("method:GET status:<300", ["01A"]),
])
def test_queries_select_the_right_flows(conn, query: str, ids: list[str]) -> None:
    where, params = compile_query(query)
    rows = conn.execute(f"SELECT id FROM flows WHERE {where} ORDER BY id", params).fetchall()
    assert [r[0] for r in rows] == ids
