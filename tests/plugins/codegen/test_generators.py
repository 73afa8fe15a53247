import ast
import json
import shlex

import pytest

from plugins.codegen.generators import (
    SKIPPED_HEADERS,
    mask_header,
    sh_quote,
    to_curl,
    to_fetch,
    to_httpie,
    to_markdown,
    to_python,
)
from tests.plugins.exporters.flows import PNG, make_flow

ALL_SKIPPED = [(name.title(), "x") for name in sorted(SKIPPED_HEADERS)]


def json_post():  # type: ignore[no-untyped-def]
    return make_flow("POST", "https://api.example.com/v1/cart?x=1", headers=[
        ("Host", "api.example.com"), ("Content-Type", "application/json"),
        ("X-Note", "it's here"), ("Content-Length", "20")], body=b'{"id": 7, "q": "a b"}')


def test_sh_quote_escapes_single_quotes() -> None:
    assert sh_quote("it's") == "'it'\\''s'"
    assert shlex.split("echo " + sh_quote("a'b \"c\" $HOME")) == ["echo", "a'b \"c\" $HOME"]


def test_curl_get_has_no_method_and_skips_connection_headers() -> None:
    flow = make_flow(headers=[("Accept", "application/json"), *ALL_SKIPPED])
    assert to_curl(flow) == ("curl 'https://api.example.com/v1/items?page=2' \\\n"
                             "  -H 'Accept: application/json'")


def test_curl_post_with_text_body() -> None:
    words = shlex.split(to_curl(json_post()).replace("\\\n", " "))
    assert words == ["curl", "https://api.example.com/v1/cart?x=1", "-X", "POST",
                     "-H", "Content-Type: application/json", "-H", "X-Note: it's here",
                     "--data-raw", '{"id": 7, "q": "a b"}']


def test_curl_binary_body_is_a_comment() -> None:
    flow = make_flow("PUT", "https://h/up", headers=[("Content-Type", "image/png")], body=PNG)
    out = to_curl(flow)
    assert out.startswith("# Binary request body (base64-encoded, not included)\n")
    assert "--data" not in out


def test_fetch_pretty_prints_json_and_omits_get() -> None:
    out = to_fetch(json_post())
    assert 'method: "POST"' in out
    assert 'body: JSON.stringify({\n    "id": 7,\n    "q": "a b"\n  })' in out
    assert '"Host"' not in out and '"Content-Length"' not in out
    get = to_fetch(make_flow(headers=[("Accept", "a"), ("Accept", "b")]))
    assert "method" not in get and '"Accept": "a"' in get and '"b"' not in get


def test_fetch_text_body_is_a_string_literal_and_binary_is_omitted() -> None:
    form = make_flow("POST", "https://h/f", headers=[("Content-Type", "text/plain")], body=b'a "b"\n')
    assert 'body: "a \\"b\\"\\n"' in to_fetch(form)
    binary = make_flow("POST", "https://h/f", headers=[("Content-Type", "image/png")], body=PNG)
    assert "body" not in to_fetch(binary)


def test_python_uses_json_parameter_for_json() -> None:
    out = to_python(json_post())
    tree = ast.parse(out)  # valid Python
    assert tree.body
    assert "json_body = {'id': 7, 'q': 'a b'}" in out
    assert "response = requests.post(url, headers=headers, json=json_body)" in out
    assert out.rstrip().endswith("print(response.status_code)\nprint(response.text)")


def test_python_non_standard_method_and_bad_json_falls_back_to_data() -> None:
    flow = make_flow("PROPFIND", "https://h/dav", headers=[("Content-Type", "application/json")],
                     body=b"{not json")
    out = to_python(flow)
    ast.parse(out)
    assert "requests.request('PROPFIND', url, headers=headers, data=data.encode('utf-8'))" in out
    assert "data = '{not json'" in out


def test_python_binary_body_is_bytes() -> None:
    out = to_python(make_flow("POST", "https://h/u", headers=[("Content-Type", "image/png")], body=PNG))
    namespace: dict[str, object] = {}
    exec(out.split("response =")[0].replace("import requests", ""), namespace)  # noqa: S102
    assert namespace["data"] == PNG


def test_httpie_json_becomes_typed_items() -> None:
    words = shlex.split(to_httpie(json_post()))
    assert words[:3] == ["http", "POST", "https://api.example.com/v1/cart?x=1"]
    assert "Content-Type:application/json" in words and "X-Note:it's here" in words
    assert 'id:=7' in words and 'q:="a b"' in words
    assert not any(w.lower().startswith(("host:", "content-length:")) for w in words)


def test_httpie_other_bodies_use_raw_and_bad_json_is_skipped() -> None:
    form = make_flow("POST", "https://h/f", headers=[("Content-Type", "application/x-www-form-urlencoded")],
                     body=b"a=1&b=2")
    assert shlex.split(to_httpie(form))[:3] == ["http", "--raw", "a=1&b=2"]
    bad = make_flow("POST", "https://h/f", headers=[("Content-Type", "application/json")], body=b"{x")
    assert "{x" not in to_httpie(bad)


@pytest.mark.parametrize("name,value,masked", [
    ("Authorization", "Bearer abc.def", "Bearer ***"),
    ("authorization", "Basic dXNlcjpwYXNz", "***"),
    ("Cookie", "sid=1", "***"),
    ("Set-Cookie", "sid=1; Path=/", "***"),
    ("X-Api-Key", "k", "***"),
    ("X-Auth-Token", "t", "***"),
    ("Accept", "text/html", "text/html"),
])
def test_markdown_masks_secrets(name: str, value: str, masked: str) -> None:
    assert mask_header(name, value) == masked


def test_markdown_summary() -> None:
    flow = make_flow("POST", "https://h/api", headers=[
        ("Authorization", "Bearer s3cr3t"), ("X-Pipe", "a|b"), ("Content-Type", "application/json")],
        body=b'{"a": 1}', response_headers=[("Content-Type", "image/png")], response_body=PNG)
    out = to_markdown(flow)
    assert "s3cr3t" not in out
    assert "| Authorization | Bearer *** |" in out
    assert "| X-Pipe | a\\|b |" in out
    assert '```json\n{"a": 1}\n```' in out
    assert "*Binary response body*" in out
    assert out.rstrip().endswith("*Captured by Ghost at 2026-03-08T14:30:22.123456Z*")


def test_markdown_truncates_bodies_at_2000_characters() -> None:
    flow = make_flow("POST", "https://h/x", headers=[("Content-Type", "text/xml")],
                     body=("<a>" + "x" * 3000 + "</a>").encode())
    out = to_markdown(flow)
    assert "```xml\n<a>" + "x" * 1997 + "...(truncated)\n```" in out


def test_json_bodies_stay_valid_json_in_fetch() -> None:
    flow = make_flow("POST", "https://h/x", headers=[("Content-Type", "application/vnd.api+json")],
                     body=json.dumps({"é": [1, None, True]}).encode())
    out = to_fetch(flow)
    inner = out.split("JSON.stringify(", 1)[1].rsplit(")\n});", 1)[0]
    assert json.loads(inner) == {"é": [1, None, True]}
