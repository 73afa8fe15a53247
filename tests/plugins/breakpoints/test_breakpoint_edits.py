import gzip

import pytest
from mitmproxy import http
from mitmproxy.test import tflow

from plugins.breakpoints.edits import (
    apply_request_edits,
    apply_response_edits,
    held_flow_data,
    parse_headers,
    parse_resolution,
)


def test_default_action_is_continue():
    assert parse_resolution({}).action == "continue"
    assert parse_resolution(None).action == "continue"
    assert parse_resolution({"action": ""}).action == "continue"
    assert parse_resolution({"action": "drop"}).action == "drop"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"action": "skip"}, "action 'skip'"),
        ({"status_code": 42}, "status_code 42"),
        ({"status_code": "500"}, "status_code '500'"),
        ({"url": "not a url"}, "absolute http"),
        ({"url": "ftp://x/"}, "absolute http"),
        ({"method": ""}, "must not be empty"),
        ({"headers": "X: y"}, "headers must be"),
        ({"headers": {"Bad Name": "v"}}, "not a valid header name"),
        ({"headers": {"X": "a\r\nInjected: 1"}}, "line break"),
        ({"body": 5}, "body must be a string"),
        ({"body": "***", "body_encoding": "base64"}, "not valid base64"),
        ({"response_body": "x", "response_body_encoding": "hex"}, "response_body_encoding"),
        ({"colour": "red"}, "unknown field"),
        ([1], "JSON object"),
    ],
)
def test_bad_resolution(raw, message):
    with pytest.raises(ValueError, match=message):
        parse_resolution(raw)


def test_header_shapes():
    assert parse_headers("h", {"A": "1", "B": ["2", "3"], "C": 4}) == [("A", "1"), ("B", "2"), ("B", "3"), ("C", "4")]
    assert parse_headers("h", [{"name": "A", "value": "1"}, ["B", "2"]]) == [("A", "1"), ("B", "2")]


def test_request_edits():
    flow = tflow.tflow()
    flow.request.headers["host"] = "address:22"
    res = parse_resolution(
        {
            "action": "modify",
            "method": "put",
            "url": "http://other.example:8080/new/path?q=1",
            "headers": {"Host": "address:22", "X-Edited": "yes", "Content-Type": "application/json"},
            "body": '{"modified": true}',
        }
    )
    apply_request_edits(flow.request, res)
    req = flow.request
    assert req.method == "PUT"
    assert (req.host, req.port, req.path) == ("other.example", 8080, "/new/path?q=1")
    assert req.headers["host"] == "other.example:8080"  # follows the URL
    assert req.headers["x-edited"] == "yes" and "header" not in req.headers  # full replacement
    assert req.content == b'{"modified": true}'
    assert req.headers["content-length"] == str(len(b'{"modified": true}'))


def test_request_header_replacement_keeps_length_and_host():
    flow = tflow.tflow()
    apply_request_edits(flow.request, parse_resolution({"action": "modify", "headers": {"X": "1"}}))
    assert flow.request.headers["content-length"] == "7" and flow.request.content == b"content"
    assert flow.request.headers["host"] == "address:22"  # HTTP/1.1 needs one; the URL gives it


def test_response_edits_status_text_follows():
    flow = tflow.tflow(resp=True)
    res = parse_resolution(
        {"action": "modify", "status_code": 500, "response_body": '{"error": "Internal server error"}',
         "response_headers": [{"name": "Content-Type", "value": "application/json"}]}
    )
    apply_response_edits(flow.response, res)
    assert flow.response.status_code == 500 and flow.response.reason == "Internal Server Error"
    assert flow.response.headers["content-type"] == "application/json"
    assert flow.response.headers["content-length"] == str(len(flow.response.raw_content))
    apply_response_edits(flow.response, parse_resolution({"status_code": 799}))
    assert flow.response.status_code == 799 and flow.response.reason == ""


def test_response_body_recompressed():
    flow = tflow.tflow(resp=True)
    flow.response = http.Response.make(200, b"", {"content-encoding": "gzip", "content-type": "text/plain"})
    flow.response.content = b"original"
    apply_response_edits(flow.response, parse_resolution({"response_body": "edited"}))
    assert gzip.decompress(flow.response.raw_content) == b"edited"


def test_binary_body_edit():
    flow = tflow.tflow()
    apply_request_edits(flow.request, parse_resolution({"body": "AAH/", "body_encoding": "base64"}))
    assert flow.request.content == b"\x00\x01\xff"


def test_held_flow_data_shapes():
    flow = tflow.tflow(resp=True)
    flow.response = http.Response.make(201, b'{"a": 1}', {"content-type": "application/json"})
    request_view = held_flow_data(flow, "request")
    assert request_view["method"] == "GET" and request_view["url"] == "http://address:22/path"
    assert request_view["host"] == "address" and request_view["path"] == "/path"
    assert request_view["body"] == "content" and "status_code" not in request_view
    assert {"name": "header", "value": "qvalue"} in request_view["headers"]
    response_view = held_flow_data(flow, "response")
    assert response_view["status_code"] == 201 and response_view["status_text"] == "Created"
    assert response_view["response_body"] == '{"a": 1}' and response_view["response_body_encoding"] == "utf8"
