from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest

from plugins.importers.contract import ImportRejected, SkippedEntry
from plugins.importers.har import HAR_IMPORTER, har_entry_to_flow, parse_started, parse_timings


def entry(**overrides):  # type: ignore[no-untyped-def]
    base = {
        "startedDateTime": "2026-03-08T14:30:22.123Z",
        "time": 42.5,
        "request": {"method": "POST", "url": "https://api.example.com:8443/v1/cart?x=1",
                    "httpVersion": "HTTP/2", "headers": [{"name": "Content-Type",
                                                          "value": "application/json"}],
                    "postData": {"mimeType": "application/json", "text": '{"a": 1}'}},
        "response": {"status": 201, "statusText": "Created", "httpVersion": "HTTP/2",
                     "headers": [{"name": "Content-Type", "value": "text/plain"}],
                     "content": {"size": 2, "mimeType": "text/plain", "text": "ok"}},
        "timings": {"dns": 1, "connect": 2, "ssl": 3, "send": 0.5, "wait": 30, "receive": 4},
    }
    base.update(overrides)
    return base


def write(tmp_path: Path, doc: object) -> Path:
    path = tmp_path / "in.har"
    path.write_bytes(doc if isinstance(doc, bytes) else orjson.dumps(doc))
    return path


def test_entry_fields() -> None:
    flow = har_entry_to_flow(entry())
    req = flow.request
    assert (req.method, req.url, req.host, req.port, req.path) == (
        "POST", "https://api.example.com:8443/v1/cart?x=1", "api.example.com", 8443, "/v1/cart")
    assert req.http_version == "HTTP/2"
    assert req.headers == [("Content-Type", "application/json")]
    assert req.body == b'{"a": 1}'
    assert flow.response is not None and flow.response.status_code == 201
    assert flow.response.body == b"ok"
    assert flow.duration_us == 42_500
    assert flow.started_at == datetime(2026, 3, 8, 14, 30, 22, 123000, tzinfo=UTC)
    assert flow.timings is not None
    assert (flow.timings.dns_us, flow.timings.connect_us, flow.timings.tls_us,
            flow.timings.wait_us, flow.timings.receive_us) == (1000, 2000, 3000, 30000, 4000)
    assert flow.source == "import"


@pytest.mark.parametrize("text,expected", [
    ("2026-03-08T14:30:22.123456789Z", datetime(2026, 3, 8, 14, 30, 22, 123456, tzinfo=UTC)),
    ("2026-03-08T14:30:22+01:00", datetime(2026, 3, 8, 13, 30, 22, tzinfo=UTC)),
    ("2026-03-08T14:30:22.000Z", datetime(2026, 3, 8, 14, 30, 22, tzinfo=UTC)),
])
def test_three_date_formats(text: str, expected: datetime) -> None:
    assert parse_started(text) == expected


def test_unparseable_date_falls_back_to_now() -> None:
    assert abs(parse_started("yesterday") - datetime.now(UTC)) < timedelta(seconds=5)
    assert abs(parse_started(None) - datetime.now(UTC)) < timedelta(seconds=5)


def test_method_defaults_to_get_and_http_version_to_1_1() -> None:
    raw = entry()
    del raw["request"]["method"]
    del raw["request"]["httpVersion"]
    flow = har_entry_to_flow(raw)
    assert flow.request.method == "GET" and flow.request.http_version == "HTTP/1.1"


def test_base64_bodies() -> None:
    raw = entry()
    raw["response"]["content"] = {"size": 3, "mimeType": "image/png", "text": "AAH/",
                                  "encoding": "BASE64"}
    raw["request"]["postData"] = {"mimeType": "application/octet-stream", "text": "AAH/",
                                  "encoding": "base64"}
    flow = har_entry_to_flow(raw)
    assert flow.response is not None and flow.response.body == b"\x00\x01\xff"
    assert flow.request.body == b"\x00\x01\xff"


def test_only_what_says_base64_is_decoded() -> None:
    # before: "abcd" as octet-stream with no encoding was stored as three garbage bytes
    raw = entry()
    raw["request"]["postData"] = {"mimeType": "application/octet-stream", "text": "abcd"}
    raw["response"]["content"] = {"size": 4, "mimeType": "image/png", "text": "abcd"}
    flow = har_entry_to_flow(raw)
    assert flow.request.body == b"abcd"
    assert flow.response is not None and flow.response.body == b"abcd"


def test_form_params_without_text_become_the_urlencoded_body() -> None:
    raw = entry()
    raw["request"]["postData"] = {"mimeType": "application/x-www-form-urlencoded",
                                  "params": [{"name": "q", "value": "a b&c"},
                                             {"name": "é", "value": "1"}, {"name": "e"}]}
    assert har_entry_to_flow(raw).request.body == b"q=a+b%26c&%C3%A9=1&e="


def test_status_0_with_a_reason_phrase_is_no_error() -> None:
    flow = har_entry_to_flow(entry(response={"status": 0, "statusText": "OK", "content": {}}))
    assert flow.response is None and flow.error == ""


def test_zero_time_means_now() -> None:
    assert abs(parse_started("0001-01-01T00:00:00Z") - datetime.now(UTC)) < timedelta(seconds=5)


def test_a_bom_is_skipped(tmp_path: Path) -> None:
    # mitmproxy's with-bom.har, Fiddler's exports: before, "was it truncated?"
    path = write(tmp_path, b"\xef\xbb\xbf" + orjson.dumps({"log": {"entries": [entry()]}}))
    assert list(HAR_IMPORTER.scan(path))[-1] == 1
    flows = [item for item in HAR_IMPORTER.entries(path) if item is not None]
    assert len(flows) == 1 and flows[0].request.body == b'{"a": 1}'


def test_bad_base64_falls_back_to_raw_text() -> None:
    raw = entry()
    raw["response"]["content"] = {"size": 5, "mimeType": "x", "text": "not*b64", "encoding": "base64"}
    raw["request"]["postData"] = {"mimeType": "application/octet-stream", "text": "héllo"}
    flow = har_entry_to_flow(raw)
    assert flow.response is not None and flow.response.body == b"not*b64"
    assert flow.request.body == "héllo".encode()


def test_status_0_means_no_response() -> None:
    flow = har_entry_to_flow(entry(response={"status": 0, "statusText": "Connection refused",
                                             "content": {}}))
    assert flow.response is None and flow.error == "Connection refused"


def test_timings_all_unmeasured_are_none() -> None:
    assert parse_timings({"dns": -1, "connect": -1, "send": 0, "wait": 0, "receive": 0}) is None
    assert parse_timings(None) is None


@pytest.mark.parametrize("raw,reason", [
    ("not an object", "entry is not a JSON object"),
    ({"response": {}}, "missing request"),
    ({"request": {"method": "GET"}}, "missing request URL"),
    ({"request": {"url": "not a url"}}, "invalid URL 'not a url'"),
    ({"request": {"url": "https://h:99999/"}}, "invalid URL"),
    ({"request": {"url": "https://h/", "headers": "x"}}, "request.headers must be a list"),
])
def test_bad_entries_say_why(raw: object, reason: str) -> None:
    with pytest.raises(ValueError, match=reason.replace("(", r"\(")):
        har_entry_to_flow(raw)


def test_scan_and_entries_skip_bad_entries(tmp_path: Path) -> None:
    doc = {"log": {"version": "1.2", "creator": {"name": "x", "version": "1"},
                   "entries": [entry(), {"request": {"url": "nope"}}, entry()]}}
    path = write(tmp_path, doc)
    assert list(HAR_IMPORTER.scan(path))[-1] == 3
    items = [item for item in HAR_IMPORTER.entries(path) if item is not None]
    assert [type(i).__name__ for i in items] == ["Flow", "SkippedEntry", "Flow"]
    skipped = items[1]
    assert isinstance(skipped, SkippedEntry)
    assert skipped.message() == "entry 1: invalid URL 'nope'"


@pytest.mark.parametrize("content,message", [
    (b"", "empty"),
    (b"[1, 2]", "JSON object with a \"log\" key"),
    (b'{"foo": 1}', "no \"log\".\"entries\" array"),
    (b'{"log": null}', "\"log\" must be an object"),
    (b'{"log": {"entries": [{"request": {"url": "https://h/"}}, {"req', "truncated"),
    (b"\x89PNG\r\n\x1a\n\x00\x00binary", "not complete, valid JSON"),
])
def test_scan_rejects_files_that_are_not_har(tmp_path: Path, content: bytes, message: str) -> None:
    path = write(tmp_path, content)
    with pytest.raises(ImportRejected, match=message):
        list(HAR_IMPORTER.scan(path))


def test_zero_entries_is_fine(tmp_path: Path) -> None:
    path = write(tmp_path, {"log": {"version": "1.2", "entries": []}})
    assert list(HAR_IMPORTER.scan(path))[-1] == 0
    assert [item for item in HAR_IMPORTER.entries(path) if item is not None] == []


def test_content_mime_type_fills_the_csv_column_when_there_is_no_header() -> None:
    from plugins.exporters.csv_export import csv_row

    raw = entry()
    raw["response"]["headers"] = []
    raw["response"]["content"] = {"size": 2, "mimeType": "text/csv", "text": "a,b"}
    assert "text/csv" in csv_row(har_entry_to_flow(raw))
