import orjson
import pytest

from plugins.exporters.contract import ExportInfo, export_chunks
from plugins.exporters.har import HAR_EXPORTER, har_document, har_entry, response_cookies
from plugins.importers.har import har_entry_to_flow
from tests.plugins.exporters.flows import PNG, make_flow, sample_session

INFO = ExportInfo(session_id="s", session_name="API Tests")


def test_document_is_har_1_2_by_ghost() -> None:
    doc = orjson.loads(b"".join(har_document(sample_session(), INFO)))
    log = doc["log"]
    assert log["version"] == "1.2"
    assert log["creator"] == {"name": "Ghost", "version": "1.0"}
    assert len(log["entries"]) == 6


def test_empty_session_is_valid_json_with_no_entries() -> None:
    doc = orjson.loads(b"".join(export_chunks(HAR_EXPORTER, INFO, [])))
    assert doc["log"]["entries"] == []


def test_streams_one_chunk_per_entry() -> None:
    chunks = list(har_document(sample_session(), INFO))
    assert len(chunks) == 7  # six entries (the first carries the head) and the closing


def test_request_fields_cookies_query_and_text_body() -> None:
    flows = sample_session()
    entry = har_entry(flows[0])
    req = entry["request"]
    assert req["method"] == "GET"
    assert req["url"] == "https://api.example.com/v1/items?page=2&sort=name"
    assert req["queryString"] == [{"name": "page", "value": "2"}, {"name": "sort", "value": "name"}]
    assert req["cookies"] == [{"name": "sid", "value": "abc"}, {"name": "theme", "value": "dark"}]
    assert {"name": "Authorization", "value": "Bearer secret-token"} in req["headers"]
    assert "postData" not in req
    assert entry["response"]["content"]["text"] == '{"items": [1, 2, 3]}'
    assert "encoding" not in entry["response"]["content"]
    post = har_entry(flows[1])["request"]["postData"]
    assert post == {"mimeType": "application/x-www-form-urlencoded",
                    "text": "user=alice&password=%3Dsecret", "params": []}


def test_binary_body_is_base64() -> None:
    content = har_entry(sample_session()[2])["response"]["content"]
    assert content["encoding"] == "base64"
    assert content["mimeType"] == "image/png"
    assert content["size"] == len(PNG)


def test_binary_request_body_is_base64_with_encoding_marker() -> None:
    flow = make_flow("PUT", "https://h/upload", headers=[("Content-Type", "application/octet-stream")],
                     body=b"\x00\x01\xff")
    post = har_entry(flow)["request"]["postData"]
    assert post["text"] == "AAH/" and post["encoding"] == "base64"


def test_redirect_url_and_set_cookie_attributes() -> None:
    flows = sample_session()
    assert har_entry(flows[3])["response"]["redirectURL"] == "https://example.com/new"
    cookies = har_entry(flows[0])["response"]["cookies"]
    assert cookies == [{"name": "sid", "value": "new", "path": "/", "httpOnly": True, "secure": True}]


def test_set_cookie_expires_becomes_iso_date() -> None:
    cookies = response_cookies([("Set-Cookie", "a=1; Expires=Wed, 21 Oct 2015 07:28:00 GMT")])
    assert cookies[0]["expires"] == "2015-10-21T07:28:00.000000Z"


def test_timings_in_milliseconds_when_measured() -> None:
    entry = har_entry(sample_session()[0])
    # HAR 1.2: connect includes ssl; time is the sum of the measured phases
    assert entry["timings"] == {"dns": -1, "connect": 4.0, "ssl": 2.5,
                                "send": 0.1, "wait": 130.0, "receive": 8.2}
    assert entry["time"] == 142.3
    assert entry["startedDateTime"] == "2026-03-08T14:30:22.123456Z"
    assert entry["serverIPAddress"] == "93.184.216.34"


def test_timings_unavailable_put_duration_in_wait() -> None:
    entry = har_entry(sample_session()[3])
    assert entry["timings"]["wait"] == 142.3
    assert {k: v for k, v in entry["timings"].items() if k != "wait"} == {
        "dns": -1, "connect": -1, "ssl": -1, "send": -1, "receive": -1}


def test_no_response_is_status_0_with_the_error() -> None:
    entry = har_entry(sample_session()[5])
    assert entry["response"]["status"] == 0
    assert entry["response"]["statusText"] == "Connection refused"
    assert entry["response"]["headers"] == [] and entry["response"]["cookies"] == []
    no_error = har_entry(make_flow(status=None))
    assert no_error["response"]["statusText"] == "No Response"


def test_arrays_are_never_null() -> None:
    for flow in sample_session():
        entry = har_entry(flow)
        for part in ("request", "response"):
            for key in ("headers", "cookies"):
                assert isinstance(entry[part][key], list)
        assert isinstance(entry["request"]["queryString"], list)


@pytest.mark.parametrize("index", range(6))
def test_entry_round_trips_through_the_importer(index: int) -> None:
    original = sample_session()[index]
    back = har_entry_to_flow(orjson.loads(orjson.dumps(har_entry(original))))
    assert back.request.method == original.request.method
    assert back.request.url == original.request.url
    assert back.request.headers == original.request.headers
    assert back.request.body == original.request.body
    assert back.started_at == original.started_at
    # HAR's time is the sum of the measured phases; Ghost's own duration rides in _duration
    assert back.duration_us == original.duration_us
    assert back.error == original.error
    if original.response is None:
        assert back.response is None
    else:
        assert back.response is not None
        assert back.response.status_code == original.response.status_code
        assert back.response.headers == original.response.headers
        assert back.response.body == original.response.body
    assert back.timings == original.timings


def test_captured_flows_get_browser_pages_and_imported_ones_keep_theirs() -> None:
    page = {"startedDateTime": "2026-01-01T00:00:00.000Z", "id": "page_1", "title": "From the file",
            "pageTimings": {"onLoad": 12}}
    imported = har_entry_to_flow({"startedDateTime": "2026-01-01T00:00:00Z", "time": 1, "pageref": "page_1",
                                  "request": {"method": "GET", "url": "https://old.example/", "headers": []},
                                  "response": {"status": 200, "headers": [], "content": {}}}, page)
    imported.id = "01IMPORTED"
    no_page = har_entry_to_flow({"request": {"method": "GET", "url": "https://old.example/x", "headers": []},
                                 "response": {"status": 200, "headers": [], "content": {}}})
    no_page.id = "01IMPORTED2"
    navigation = make_flow(url="https://shop.example/", headers=[("Sec-Fetch-Dest", "document")], id="01NAV")
    script = make_flow(url="https://shop.example/app.js", headers=[("Referer", "https://shop.example/")], id="01JS")
    log = orjson.loads(b"".join(har_document([imported, navigation, no_page, script])))["log"]
    assert [p["id"] for p in log["pages"]] == ["page_1", "page_01NAV"]
    assert log["pages"][1]["title"] == "https://shop.example/"
    assert [e.get("pageref") for e in log["entries"]] == ["page_1", "page_01NAV", None, "page_01NAV"]
