import base64
import gzip
import hashlib

import brotli
import pytest
from mitmproxy import http

from plugins.injection.html import (
    allow_script_in_header,
    allow_script_in_policy,
    csp_hash,
    escape_script,
    inject_into_page,
    inject_response,
    insertion_point,
    js_ascii,
    script_text_for,
)

SCRIPT = "window.__ghost = 42;"
HASH = csp_hash(SCRIPT)


def page_response(body: bytes, headers: dict[str, str] | None = None, encoding: str = "") -> http.Response:
    all_headers = {"content-type": "text/html; charset=utf-8", **(headers or {})}
    if encoding:
        all_headers["content-encoding"] = encoding
    response = http.Response.make(200, b"", all_headers)
    response.content = body
    return response


def test_hash_is_sha256_of_text():
    expected = base64.b64encode(hashlib.sha256(SCRIPT.encode()).digest()).decode()
    assert HASH == f"'sha256-{expected}'"


@pytest.mark.parametrize(
    ("page", "before"),
    [
        (b"<html><head><title>t</title></head><body></body></html>", b"</head>"),
        (b"<html><HEAD ><title>t</title></HEAD ><body></body></html>", b"</HEAD >"),
    ],
)
def test_inserted_before_head_close(page, before):
    at = insertion_point(page)
    assert page[at:].startswith(before)


@pytest.mark.parametrize(
    ("page", "after"),
    [
        (b"<html><head><title>t</title><body>x</body></html>", b"<head>"),
        (b"<html><header>h</header><body class='a'>x</body>", b"<body class='a'>"),
        (b"<!DOCTYPE html><html lang=en><p>x", b"<html lang=en>"),
        (b"<!DOCTYPE html><p>x", b"<!DOCTYPE html>"),
    ],
)
def test_inserted_without_head_close(page, after):
    at = insertion_point(page)
    assert page[:at].endswith(after)


def test_fragment_gets_script_first():
    assert insertion_point(b"<p>just a fragment</p>") == 0


def test_escaping():
    assert escape_script('x = "</script><b>"') == 'x = "<\\/script><b>"'
    assert escape_script("a = '</SCRIPT>'") == "a = '<\\/SCRIPT>'"
    assert js_ascii("é😀") == "\\u00e9\\ud83d\\ude00"
    assert script_text_for("s = 'é'", "utf-8") == "s = 'é'"
    assert script_text_for("s = 'é'", "ascii") == "s = '\\u00e9'"
    assert script_text_for("s = 'é'", "utf-8", declared=False) == "s = '\\u00e9'"


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        ("default-src 'self'", f"default-src 'self' {HASH}"),
        ("script-src 'self'; img-src *", f"script-src 'self' {HASH}; img-src *"),
        ("default-src 'none'; script-src 'none'", f"default-src 'none'; script-src {HASH}"),
        ("script-src 'self'; script-src-elem 'self'", f"script-src 'self'; script-src-elem 'self' {HASH}"),
        ("script-src 'self' 'unsafe-inline'", "script-src 'self' 'unsafe-inline'"),
        ("script-src 'unsafe-inline' 'nonce-abc'", f"script-src 'unsafe-inline' 'nonce-abc' {HASH}"),
        ("script-src 'strict-dynamic' 'nonce-abc'", f"script-src 'strict-dynamic' 'nonce-abc' {HASH}"),
        ("img-src 'self'", "img-src 'self'"),
        ("frame-ancestors 'none'", "frame-ancestors 'none'"),
    ],
)
def test_policy_adjusted(policy, expected):
    assert allow_script_in_policy(policy, HASH) == expected


def test_comma_joined_policies():
    value = "default-src 'self', script-src https://cdn"
    assert allow_script_in_header(value, HASH) == f"default-src 'self' {HASH}, script-src https://cdn {HASH}"


def test_meta_csp_rewritten():
    page = (
        b'<html><head><meta http-equiv="Content-Security-Policy" content="script-src &#39;self&#39;">'
        b"</head><body></body></html>"
    )
    out = inject_into_page(page, b"<script>x</script>", [HASH])
    assert b"&#x27;self&#x27; &#x27;sha256-" in out
    assert out.index(b"<script>x</script>") < out.index(b"</head>")


def test_inject_plain_page():
    response = page_response(b"<html><head></head><body>hi</body></html>")
    assert inject_response(response, [("r1", SCRIPT)])
    body = response.content
    assert body == (
        b'<html><head><script data-ghost-injection="r1">window.__ghost = 42;</script></head><body>hi</body></html>'
    )
    assert response.headers["content-length"] == str(len(body))


@pytest.mark.parametrize("encoding", ["gzip", "br", "deflate", "zstd"])
def test_inject_compressed_page(encoding):
    response = page_response(b"<html><head></head><body>hi</body></html>", encoding=encoding)
    assert inject_response(response, [("r1", SCRIPT)])
    assert response.headers["content-encoding"] == encoding
    assert response.headers["content-length"] == str(len(response.raw_content))
    assert SCRIPT.encode() in response.content
    if encoding == "gzip":
        assert SCRIPT.encode() in gzip.decompress(response.raw_content)
    if encoding == "br":
        assert SCRIPT.encode() in brotli.decompress(response.raw_content)


def test_inject_with_csp_header_and_several_scripts():
    response = page_response(
        b"<html><head></head><body></body></html>",
        {"content-security-policy": "default-src 'self'; script-src 'self'"},
    )
    second = "window.__second = 1;"
    assert inject_response(response, [("a", SCRIPT), ("b", second)])
    policy = response.headers["content-security-policy"]
    assert HASH in policy and csp_hash(second) in policy
    assert response.content.index(b"__ghost") < response.content.index(b"__second")


def test_inject_latin1_page_escapes_what_it_cannot_encode():
    response = page_response(b"<html><head></head><body>caf\xe9</body></html>", {"content-type": "text/html; charset=iso-8859-1"})
    assert inject_response(response, [("r", "window.s = 'é€';")])
    assert b"window.s = '\\u00e9\\u20ac';" in response.raw_content
    assert b"caf\xe9" in response.raw_content


def test_not_injected():
    json_response = http.Response.make(200, b"{}", {"content-type": "application/json"})
    assert not inject_response(json_response, [("r", SCRIPT)])
    assert json_response.content == b"{}"
    broken = http.Response.make(200, b"", {"content-type": "text/html", "content-encoding": "gzip"})
    broken.raw_content = b"not gzip"
    assert not inject_response(broken, [("r", SCRIPT)])
    assert not inject_response(page_response(b"<html></html>"), [])
    utf16 = page_response(b"", {"content-type": "text/html; charset=utf-16"})
    utf16.raw_content = "<html><head></head></html>".encode("utf-16")
    assert not inject_response(utf16, [("r", SCRIPT)])
