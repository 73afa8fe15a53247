import csv
import io
from datetime import UTC, datetime

import orjson

from ghost_addons.model import Flow
from plugins.exporters.contract import ExportInfo, export_chunks, export_filename, human_size, safe_name
from plugins.exporters.csv_export import CSV_COLUMNS, CSV_EXPORTER, csv_quote
from plugins.exporters.ghost_json import GHOST_JSON_EXPORTER
from plugins.exporters.har import HAR_EXPORTER
from plugins.exporters.postman import POSTMAN_EXPORTER, POSTMAN_SCHEMA
from plugins.exporters.report import REPORT_EXPORTER
from tests.plugins.exporters.flows import make_flow, sample_session

INFO = ExportInfo(session_id="s", session_name="API Tests",
                  exported_at=datetime(2025, 3, 8, 14, 30, 22, tzinfo=UTC))


def run(exporter, flows, info=INFO) -> bytes:  # type: ignore[no-untyped-def]
    return b"".join(export_chunks(exporter, info, flows, batch=2))


def test_filenames_follow_the_spec() -> None:
    assert export_filename(HAR_EXPORTER, INFO) == "API_Tests_2025-03-08-143022.har"
    mobile = ExportInfo("s", "Mobile QA", INFO.exported_at)
    assert export_filename(POSTMAN_EXPORTER, mobile) == \
        "Mobile_QA_2025-03-08-143022_postman_collection.json"
    assert export_filename(CSV_EXPORTER, INFO).endswith(".csv")
    assert export_filename(REPORT_EXPORTER, INFO).endswith(".html")


def test_safe_name_replaces_special_characters() -> None:
    assert safe_name("a/b\\c:d*e?f") == "a_b_c_d_e_f"
    assert safe_name("/:*?") == "session"
    assert safe_name("") == "session"
    assert safe_name("Café 2") == "Café_2"


def test_human_size() -> None:
    assert human_size(512) == "512 B"
    assert human_size(3_355_443) == "3.2 MB"


def test_ghost_json_is_an_indented_array_of_flow_dicts() -> None:
    flows = sample_session()
    data = run(GHOST_JSON_EXPORTER, flows)
    assert data.startswith(b"[\n  {\n    \"id\"")
    parsed = orjson.loads(data)
    assert parsed == [f.to_dict() for f in flows]
    assert [Flow.from_dict(d).to_dict() for d in parsed] == parsed
    assert orjson.loads(run(GHOST_JSON_EXPORTER, [])) == []


def test_csv_has_12_columns_and_one_row_per_flow() -> None:
    rows = list(csv.reader(io.StringIO(run(CSV_EXPORTER, sample_session()).decode())))
    assert tuple(rows[0]) == CSV_COLUMNS and len(CSV_COLUMNS) == 12
    assert len(rows) == 7
    first = dict(zip(rows[0], rows[1], strict=True))
    assert first == {
        "id": "01HW0000000000000000000001", "method": "GET",
        "url": "https://api.example.com/v1/items?page=2&sort=name", "host": "api.example.com",
        "path": "/v1/items", "status": "200", "duration_ms": "142.3", "request_size": "0",
        "response_size": "20", "content_type": "application/json", "tags": "api", "error": ""}
    refused = dict(zip(rows[0], rows[6], strict=True))
    assert refused["status"] == "0" and refused["error"] == "Connection refused"


def test_csv_formula_injection_is_quoted() -> None:
    for start in "=+-@\t\r":
        assert csv_quote(f"{start}SUM(A1)") == f"'{start}SUM(A1)"
    assert csv_quote("plain") == "plain"
    flow = make_flow(url="https://h/a,b", tags=["=HYPERLINK(\"x\")", "b"], error="-1+1")
    rows = list(csv.reader(io.StringIO(run(CSV_EXPORTER, [flow]).decode())))
    row = dict(zip(rows[0], rows[1], strict=True))
    assert row["tags"] == "'=HYPERLINK(\"x\");b"
    assert row["error"] == "'-1+1"
    assert row["url"] == "https://h/a,b"


def test_csv_skips_flows_without_request_data() -> None:
    empty = make_flow()
    empty.request.method = ""
    rows = list(csv.reader(io.StringIO(run(CSV_EXPORTER, [empty, make_flow()]).decode())))
    assert len(rows) == 2


def test_postman_collection_v2_1() -> None:
    doc = orjson.loads(run(POSTMAN_EXPORTER, sample_session()))
    assert doc["info"]["name"] == "API Tests"
    assert doc["info"]["schema"] == POSTMAN_SCHEMA
    assert [i["name"] for i in doc["item"]][:2] == ["GET /v1/items", "POST /v1/login"]
    login = doc["item"][1]["request"]
    assert login["url"] == "https://api.example.com/v1/login"
    assert login["body"] == {"mode": "raw", "raw": "user=alice&password=%3Dsecret"}
    headers = {h["key"].lower() for h in doc["item"][0]["request"]["header"]}
    assert "host" not in headers and "cookie" in headers


def test_postman_omits_binary_request_bodies() -> None:
    flow = make_flow("POST", "https://h/up", body=b"\xff\xfe\x00")
    doc = orjson.loads(run(POSTMAN_EXPORTER, [flow]))
    assert "body" not in doc["item"][0]["request"]


def test_header_bytes_that_are_not_utf8_export_in_every_format() -> None:
    """Seen failing before: orjson refused the lone surrogates and the export died."""
    flow = make_flow("01A")
    flow.request.headers.append(("X-Bad", "caf\udce9 \udcff"))
    flow.request.headers.append(("Cookie", "sid=\udcff"))
    assert flow.response is not None
    flow.response.headers.append(("Set-Cookie", "t=\udcfe; Path=/"))
    har = orjson.loads(run(HAR_EXPORTER, [flow]))
    header = [h for h in har["log"]["entries"][0]["request"]["headers"] if h["name"] == "X-Bad"][0]
    assert header == {"name": "X-Bad", "value": "caf\ufffd \ufffd", "_value_base64": "Y2Fm6SD/"}
    ghost = orjson.loads(run(GHOST_JSON_EXPORTER, [flow]))
    assert Flow.from_dict(ghost[0]).request.headers == flow.request.headers   # the exact bytes
    assert orjson.loads(run(POSTMAN_EXPORTER, [flow]))["item"]
    for exporter in (CSV_EXPORTER, REPORT_EXPORTER):
        run(exporter, [flow]).decode("utf-8")
