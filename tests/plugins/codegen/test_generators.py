import shlex

import pytest

from plugins.codegen.generators import (
    SKIPPED_HEADERS,
    mask_header,
    sh_quote,
    to_curl,
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














def test_python_binary_body_is_bytes() -> None:
    out = to_python(make_flow("POST", "https://h/u", headers=[("Content-Type", "image/png")], body=PNG))
    namespace: dict[str, object] = {}
    exec(out.split("response =")[0].replace("import requests", ""), namespace)  # noqa: S102
    assert namespace["data"] == PNG






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

