"""Hypothesis on every parser of user input: each raises only its documented error type
(or, for an import, skips the entry with a reason), whatever it is given.

GQL -> GqlError (and what it compiles runs in SQLite); cURL import -> ValueError; HAR and
Ghost JSON import -> ImportRejected from the scan, SkippedEntry for a bad entry; settings
import -> SettingsError; map-rule input (patterns, regexes) -> ValueError; globs and host
lists -> ValueError when checked, and a checked pattern matches any host without failing.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ghost_addons.config import Settings, core_schema
from ghost_addons.matching import Matcher, check_host_pattern, check_method, check_pattern, compile_hosts
from ghost_addons.model import Flow
from ghost_addons.plugins import declare, make_plugin_manager
from ghost_addons.settings_schema import SettingsError, SettingsSchema
from ghost_addons.store import db, flows
from ghost_addons.store.gql import FIELDS, GqlError, compile_query
from ghost_addons.store.migrations import CORE_MIGRATIONS, apply
from plugins.compose.curl_import import parse_curl
from plugins.importers.contract import ImportRejected, SkippedEntry
from plugins.importers.engine import prepare_flow
from plugins.importers.ghost_json import GHOST_JSON_IMPORTER
from plugins.importers.har import HAR_IMPORTER
from plugins.map_rules.rules import validate_rule
from tests.security.helpers import ALL_PLUGINS

# `scripts/test` runs 100 examples per property; GHOST_FUZZ=long runs 2,000 (`GHOST_FUZZ=long
# scripts/test tests/security`). No example database: every run starts from fresh examples.
LONG = os.environ.get("GHOST_FUZZ") == "long"
EXAMPLES = 2000 if LONG else 100
pytestmark = pytest.mark.timeout(3600 if LONG else 300)  # 2,000 examples of an import take minutes
FUZZ = settings(max_examples=EXAMPLES, deadline=None, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

# JSON of every kind, nested a little, with the numbers and strings parsers trip on.
SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(), st.integers(min_value=-(10 ** 400), max_value=10 ** 400),
    st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=40),
    st.sampled_from(["", "-1", "1e999", "NaN", "2026-13-45T99:99:99Z", "\ud800", "http://[::1", "://", "\x00",
                     "GET", "http://example.com/", "base64", "a" * 300]),
)
JSON = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
    st.text(max_size=12) | st.sampled_from(["request", "response", "url", "method", "headers", "name", "value",
                                            "content", "text", "encoding", "time", "startedDateTime", "status"]),
    inner, max_size=5), max_leaves=20)


# --- GQL ----------------------------------------------------------------------------------

GQL_WORDS = st.one_of(
    st.text(max_size=20),
    st.builds(lambda f, v, neg: ("-" if neg else "") + f + ":" + v, st.sampled_from(FIELDS),
              st.text(max_size=12) | st.sampled_from([">5", "<=1e9", "2xx", "*", "1..9", '"a b"', "%_", "\\", "-"]),
              st.booleans()),
)


@pytest.fixture(scope="module")
def flows_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[sqlite3.Connection]:
    conn = db.connect(tmp_path_factory.mktemp("gql") / "g.db")
    apply(conn, [("core", CORE_MIGRATIONS)])
    conn.execute("INSERT INTO sessions VALUES ('s', 'S', '', 'x', 'x')")
    from tests.ghost_addons.factories import make_flow
    conn.execute("BEGIN")
    flows.insert_flows(conn, [make_flow("01A", url="https://api.example.com/users/1", tags=["a"])])
    conn.execute("COMMIT")
    yield conn
    conn.close()


@FUZZ
@given(st.lists(GQL_WORDS, max_size=8).map(" ".join) | st.text(max_size=200))
def test_gql_raises_only_gql_error_and_compiles_to_sql_that_runs(flows_db: sqlite3.Connection, query: str) -> None:
    try:
        sql, params = compile_query(query)
    except GqlError:
        return
    flows_db.execute(f"SELECT COUNT(*) FROM flows WHERE {sql}", params).fetchone()


# --- cURL import -----------------------------------------------------------------------------

CURL_WORDS = st.one_of(
    st.sampled_from(["-X", "--request", "-H", "--header", "-d", "--data", "--data-raw", "--data-binary",
                     "--data-urlencode", "-G", "--get", "-I", "--head", "-u", "--user", "-b", "--cookie",
                     "-F", "--form", "--url", "-L", "--compressed", "-k", "--json", "-A", "-e", "-XPOST",
                     "$'\\x41\\u00e9'", "'", '"', "\\", "\\\n", "http://example.com/a?b=1", "@/etc/passwd",
                     "Content-Type: application/json", ";", "x:", "--", "-", "-HX:y", "$'\\c'", "$'\\u{110000}'"]),
    st.text(max_size=15),
)


@FUZZ
@given(st.lists(CURL_WORDS, max_size=10).map(lambda words: "curl " + " ".join(words)) | st.text(max_size=200))
def test_curl_import_raises_only_value_error(command: str) -> None:
    try:
        request = parse_curl(command)
    except ValueError:
        return
    assert isinstance(request.url, str) and isinstance(request.method, str)


# --- HAR and Ghost JSON import ----------------------------------------------------------------

def run_importer(importer, path: Path) -> None:  # type: ignore[no-untyped-def]
    """Scan, then read every entry, as Ghost does: ImportRejected from the scan is the
    documented refusal; every entry must be a SkippedEntry or a Flow the API can show
    (its JSON form serialises), or None (a turn for the event loop)."""
    try:
        for _ in importer.scan(path):
            pass
    except ImportRejected:
        return
    for item in importer.entries(path):
        if item is None:  # the importer offers the loop a turn during a long entry (engine.py)
            continue
        if not isinstance(item, SkippedEntry):
            assert isinstance(item, Flow)
            orjson.dumps(prepare_flow(item, "s", importer.name).to_dict(), option=orjson.OPT_NON_STR_KEYS)


def har_around(entry: object) -> object:
    return {"log": {"version": "1.2", "creator": {"name": "fuzz", "version": "1"}, "entries": [entry]}}


def entry_with(path: list[str], value: object) -> dict[str, object]:
    """A valid HAR entry with `value` put at `path` (a wrong type in any field)."""
    entry: dict[str, object] = {
        "startedDateTime": "2026-01-01T00:00:00.000Z", "time": 1,
        "request": {"method": "GET", "url": "http://example.com/", "httpVersion": "HTTP/1.1", "headers": [],
                    "queryString": [], "cookies": [], "headersSize": -1, "bodySize": 0,
                    "postData": {"mimeType": "text/plain", "text": "x"}},
        "response": {"status": 200, "statusText": "OK", "httpVersion": "HTTP/1.1",
                     "headers": [{"name": "a", "value": "b"}], "cookies": [],
                     "content": {"size": 1, "mimeType": "text/plain", "text": "eA==", "encoding": "base64"},
                     "redirectURL": "", "headersSize": -1, "bodySize": 1},
        "cache": {}, "timings": {"send": 0, "wait": 1, "receive": 0},
    }
    node: dict[str, object] = entry
    for key in path[:-1]:
        child = node.get(key)
        if not isinstance(child, dict):
            child = {}
            node[key] = child
        node = child
    node[path[-1]] = value
    return entry


HAR_PATHS = st.sampled_from([
    ["startedDateTime"], ["time"], ["request"], ["request", "method"], ["request", "url"],
    ["request", "headers"], ["request", "postData"], ["request", "postData", "text"], ["request", "bodySize"],
    ["response"], ["response", "status"], ["response", "headers"], ["response", "content"],
    ["response", "content", "text"], ["response", "content", "encoding"], ["response", "content", "size"],
    ["timings"], ["timings", "wait"], ["request", "httpVersion"], ["response", "statusText"],
])


def dump(data: object) -> bytes:
    try:
        return orjson.dumps(data, option=orjson.OPT_NON_STR_KEYS)
    except (TypeError, orjson.JSONEncodeError):  # a lone surrogate or a huge int: write it by hand
        import json
        return json.dumps(data).encode()


@FUZZ
@given(HAR_PATHS, JSON)
def test_har_import_wrong_value_in_any_field(tmp_path: Path, path: list[str], value: object) -> None:
    file = tmp_path / "f.har"
    file.write_bytes(dump(har_around(entry_with(path, value))))
    run_importer(HAR_IMPORTER, file)


@FUZZ
@given(JSON)
def test_har_import_any_json(tmp_path: Path, value: object) -> None:
    file = tmp_path / "f.har"
    for document in (value, har_around(value), {"log": value}):
        file.write_bytes(dump(document))
        run_importer(HAR_IMPORTER, file)


@FUZZ
@given(st.binary(max_size=300), st.integers(min_value=0, max_value=400))
def test_har_import_any_bytes_spliced_into_a_good_file(tmp_path: Path, noise: bytes, at: int) -> None:
    good = dump(har_around(entry_with(["time"], 1)))
    file = tmp_path / "f.har"
    file.write_bytes(good[:at] + noise + good[at:])
    run_importer(HAR_IMPORTER, file)


GHOST_FLOW = {"id": "01A", "session_id": "s", "method": "GET", "url": "http://example.com/", "scheme": "http",
              "host": "example.com", "port": 80, "path": "/", "started_at": "2026-01-01T00:00:00Z",
              "request": {"headers": [["a", "b"]], "body": ""},
              "response": {"status_code": 200, "headers": [], "body": ""}}


@FUZZ
@given(st.sampled_from(sorted(GHOST_FLOW)) | st.text(max_size=8), JSON)
def test_ghost_json_import_wrong_value_in_any_field(tmp_path: Path, key: str, value: object) -> None:
    file = tmp_path / "f.json"
    flow = {**GHOST_FLOW, key: value}
    for document in ([flow], {"flows": [flow]}, value):
        file.write_bytes(dump(document))
        run_importer(GHOST_JSON_IMPORTER, file)


# --- settings import ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def settings_of_every_plugin(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    pm = make_plugin_manager(ALL_PLUGINS, ())
    schema = declare(pm, "ghost_settings", SettingsSchema.registrar, core_schema())
    return Settings.load(tmp_path_factory.mktemp("settings") / "config.yaml", "t", schema)


SECTIONS = st.sampled_from(["proxy", "api", "store", "replay", "rules", "llm", "testrail", "logging", "security",
                            "breakpoints", "js_addons", "nope"])


@FUZZ
@given(JSON | st.dictionaries(SECTIONS, JSON | st.dictionaries(st.text(max_size=20), JSON, max_size=4), max_size=4))
def test_settings_import_and_update_raise_only_settings_error(settings_of_every_plugin: Settings,
                                                              raw: object) -> None:
    for check in (settings_of_every_plugin.check_import, settings_of_every_plugin.check_update):
        try:
            check(raw)
        except SettingsError:
            pass


# --- rule patterns and globs -----------------------------------------------------------------------

PATTERN_TEXT = st.text(alphabet=st.sampled_from("*?[]!-^\\.:/a0%()+{}|$ \x00é[:]"), max_size=30) | st.text(max_size=30)


@FUZZ
@given(st.dictionaries(
    st.sampled_from(["type", "host_pattern", "path_pattern", "method", "name", "priority", "enabled",
                     "remote_url", "match", "replace", "target", "regex", "status_code", "headers", "body",
                     "content_type", "local_path", "preserve_path", "preserve_query", "case_sensitive", "x"]),
    PATTERN_TEXT | JSON, max_size=8))
def test_map_rule_input_raises_only_value_error(tmp_path: Path, raw: dict[str, object]) -> None:
    try:
        validate_rule(raw, rule_id="r", created_at="x", updated_at="x", home=tmp_path)
    except ValueError:
        pass


@FUZZ
@given(PATTERN_TEXT, PATTERN_TEXT, st.text(max_size=8), st.text(max_size=40), st.integers(0, 65535))
def test_checked_patterns_match_any_request_without_failing(host_pattern: str, path_pattern: str, method: str,
                                                            host: str, port: int) -> None:
    try:
        matcher = Matcher.compile(check_host_pattern("host_pattern", host_pattern),
                                  check_pattern("path_pattern", path_pattern), check_method(method))
    except ValueError:
        return
    matcher.matches("GET", host, port, "/" + host)
    hosts = compile_hosts([host_pattern, path_pattern])
    hosts(host, port)
    hosts(host)
