import base64

import pytest

from plugins.compose.curl_import import parse_curl, split_command

CHROME = r"""curl 'https://api.example.com/v1/cart?x=1' \
  -H 'accept: application/json, text/plain, */*' \
  -H 'accept-language: en-US,en;q=0.9' \
  -H 'content-type: application/json' \
  -b 'sid=abc; theme=dark' \
  -H $'x-note: it\'s \u00e9' \
  --data-raw $'{"name":"O\'Brien","n":1}' \
  --compressed"""

FIREFOX = """curl 'https://example.com/login' --compressed -X POST -H 'User-Agent: Mozilla/5.0' \
-H 'Content-Type: application/x-www-form-urlencoded' --data-raw 'user=a&pass=b%26c'"""


def test_chrome_copy_as_curl() -> None:
    req = parse_curl(CHROME)
    assert req.method == "POST"
    assert req.url == "https://api.example.com/v1/cart?x=1"
    headers = req.headers_dict()
    assert headers["accept"] == "application/json, text/plain, */*"
    assert headers["Cookie"] == "sid=abc; theme=dark"
    assert headers["x-note"] == "it's é"
    assert headers["Accept-Encoding"] == "deflate, gzip, br, zstd"  # what curl 7.88 sends
    assert req.body == b'{"name":"O\'Brien","n":1}'
    assert req.compressed


def test_firefox_copy_as_curl() -> None:
    req = parse_curl(FIREFOX)
    assert (req.method, req.url, req.body) == ("POST", "https://example.com/login", b"user=a&pass=b%26c")
    assert req.headers_dict()["Content-Type"] == "application/x-www-form-urlencoded"


def test_double_quotes_and_backslashes() -> None:
    assert split_command('curl "a \\"b\\" \\$x" c\\ d') == ["curl", 'a "b" $x', "c d"]


def test_data_defaults_to_post_form_and_joins_with_ampersand() -> None:
    req = parse_curl("curl https://h/x -d a=1 --data b=2")
    assert req.method == "POST" and req.body == b"a=1&b=2"
    assert req.headers_dict()["Content-Type"] == "application/x-www-form-urlencoded"


def test_explicit_method_user_and_get_mode() -> None:
    req = parse_curl("curl -u 'alice:s3 cret' -XPUT http://h/a")
    assert req.method == "PUT"
    assert req.headers_dict()["Authorization"] == "Basic " + base64.b64encode(b"alice:s3 cret").decode()
    get = parse_curl("curl -G https://h/s?q=1 -d page=2 --data-urlencode 'term=a b'")
    assert (get.method, get.url, get.body) == ("GET", "https://h/s?q=1&page=2&term=a+b", b"")


def test_combined_short_flags_and_ignored_ones() -> None:
    req = parse_curl("curl -sSLk --max-time 5 -o /dev/null https://h/")
    assert req.follow_redirects and req.insecure and req.method == "GET"


def test_head_and_empty_header() -> None:
    req = parse_curl("curl -I https://h/ -H 'X-Empty;' -H 'Accept:'")
    assert req.method == "HEAD"
    assert req.headers == [("X-Empty", "")]


def test_a_value_starting_with_dash_is_not_a_flag() -> None:
    assert parse_curl("curl https://h/ -d -1").body == b"-1"


def test_scheme_less_url_gets_http() -> None:
    assert parse_curl("curl example.com/a").url == "http://example.com/a"


@pytest.mark.parametrize("command,message", [
    ("curl 'https://h/' -H 'a: b", "unclosed single quote starting at position 21"),
    ('curl "https://h/', "unclosed double quote"),
    ("curl $'abc", "unclosed \\$'...' quote"),
    ("wget https://h/", "expected a command starting with 'curl'"),
    ("curl -H 'a: b'", "has no URL"),
    ("curl https://h/ -u alice", "give 'user:password'"),
    ("curl ftp://h/x", "expected http:// or https://"),
    ("curl https://h/ | sh", "shell operator"),
    ("", "empty"),
    ("curl https://h/ -X", "option -X needs a value"),
])
def test_errors_name_the_problem(command: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_curl(command)


@pytest.mark.parametrize("command,warning", [
    ("curl https://h/ -F file=@x.png --proxy http://p:1", "-F file=@x.png: supply the file"),
    ("curl https://h/ -F file=@x.png --proxy http://p:1", "--proxy http://p:1: a proxy"),
    ("curl https://h/ -d @body.json", "-d @body.json: supply the file's content"),
    ("curl https://h/ -b cookies.txt", "cookies read from a file are not imported"),
    ("curl https://h/ --frobnicate", "--frobnicate: not understood"),
])
def test_what_ghost_cannot_reproduce_is_a_warning_not_a_refusal(command: str, warning: str) -> None:
    assert any(warning in w for w in parse_curl(command).warnings)


def test_files_are_reported() -> None:
    req = parse_curl("curl -T up.bin https://h/dir/ -F a=1 -F doc=@/tmp/x.pdf")
    assert req.method == "PUT" and req.url == "https://h/dir/up.bin"
    assert [f["path"] for f in req.files] == ["up.bin", "/tmp/x.pdf"]


def test_what_curl_sends() -> None:
    assert parse_curl("curl -X wHat https://h/").method == "wHat"
    assert parse_curl("curl --sil --data-binary '' https://h/").method == "POST"
    assert parse_curl("curl --data-binary '' https://h/").body == b""
    assert parse_curl("curl -d $'a\\nb' https://h/").body == b"a\nb"
    assert parse_curl("curl -d $'\\xe2\\x82\\xac' https://h/").body == "€".encode()
    req = parse_curl("curl --json '{\"a\":' --json '1}' https://h/")
    assert req.body == b'{"a":1}' and ("Accept", "application/json") in req.headers
    assert parse_curl("curl --url-query 'q=a b' --url-query +raw=%20 'https://h/?x=1'").url == \
        "https://h/?x=1&q=a+b&raw=%20"
    assert ("Range", "bytes=0-99") in parse_curl("curl -r 0-99 https://h/").headers
    auth = parse_curl("curl -H 'Authorization: a' -H 'Authorization: b' https://h/").headers
    assert auth == [("Authorization", "a"), ("Authorization", "b")]


def test_inline_form_parts_become_a_multipart_body() -> None:
    req = parse_curl("curl -F name=alice -F 'note=a b;type=text/plain' https://h/")
    boundary = dict(req.headers)["Content-Type"].partition("boundary=")[2]
    assert req.method == "POST" and boundary
    assert req.body == (f'--{boundary}\r\nContent-Disposition: form-data; name="name"\r\n\r\n'
                        f'alice\r\n--{boundary}\r\nContent-Disposition: form-data; name="note"'
                        f'\r\nContent-Type: text/plain\r\n\r\na b\r\n--{boundary}--\r\n').encode()


def test_chrome_copy_as_curl_cmd() -> None:
    # Chrome's "Copy as cURL (cmd)": ^ escapes, ^-continued lines, \" inside quotes
    command = ('curl "https://h/api?a=1^&b=2" ^\r\n  -H "content-type: application/json" ^\r\n'
               '  --data-raw "^{^\\^"name^\\^":^\\^"Zo^%^\\^"^}" ^\r\n  --compressed')
    req = parse_curl(command)
    assert req.url == "https://h/api?a=1&b=2"
    assert req.body == b'{"name":"Zo%"}'
    assert ("content-type", "application/json") in req.headers
