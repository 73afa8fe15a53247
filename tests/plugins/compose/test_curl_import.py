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
    assert headers["Accept-Encoding"] == "gzip, deflate, br"
    assert req.body == '{"name":"O\'Brien","n":1}'
    assert req.compressed


def test_firefox_copy_as_curl() -> None:
    req = parse_curl(FIREFOX)
    assert (req.method, req.url, req.body) == ("POST", "https://example.com/login", "user=a&pass=b%26c")
    assert req.headers_dict()["Content-Type"] == "application/x-www-form-urlencoded"


def test_double_quotes_and_backslashes() -> None:
    assert split_command('curl "a \\"b\\" \\$x" c\\ d') == ["curl", 'a "b" $x', "c d"]


def test_data_defaults_to_post_form_and_joins_with_ampersand() -> None:
    req = parse_curl("curl https://h/x -d a=1 --data b=2")
    assert req.method == "POST" and req.body == "a=1&b=2"
    assert req.headers_dict()["Content-Type"] == "application/x-www-form-urlencoded"


def test_explicit_method_user_and_get_mode() -> None:
    req = parse_curl("curl -u 'alice:s3 cret' -XPUT http://h/a")
    assert req.method == "PUT"
    assert req.headers_dict()["Authorization"] == "Basic " + base64.b64encode(b"alice:s3 cret").decode()
    get = parse_curl("curl -G https://h/s?q=1 -d page=2 --data-urlencode 'term=a b'")
    assert (get.method, get.url, get.body) == ("GET", "https://h/s?q=1&page=2&term=a+b", "")


def test_combined_short_flags_and_ignored_ones() -> None:
    req = parse_curl("curl -sSLk --max-time 5 -o /dev/null https://h/")
    assert req.follow_redirects and req.insecure and req.method == "GET"


def test_head_and_empty_header() -> None:
    req = parse_curl("curl -I https://h/ -H 'X-Empty;' -H 'Accept:'")
    assert req.method == "HEAD"
    assert req.headers == [("X-Empty", "")]


def test_a_value_starting_with_dash_is_not_a_flag() -> None:
    assert parse_curl("curl https://h/ -d -1").body == "-1"


def test_scheme_less_url_gets_http() -> None:
    assert parse_curl("curl example.com/a").url == "http://example.com/a"


@pytest.mark.parametrize("command,message", [
    ("curl 'https://h/' -H 'a: b", "unclosed single quote starting at position 21"),
    ('curl "https://h/', "unclosed double quote"),
    ("curl $'abc", "unclosed \\$'...' quote"),
    ("wget https://h/", "expected a command starting with 'curl'"),
    ("curl -H 'a: b'", "has no URL"),
    ("curl https://h/ -F file=@x.png --proxy http://p:1", "unsupported curl option\\(s\\): -F, --proxy"),
    ("curl https://h/ -d @body.json", "reading the body from a file"),
    ("curl https://h/ -b cookies.txt", "a cookie file"),
    ("curl https://h/ -u alice", "give 'user:password'"),
    ("curl ftp://h/x", "expected http:// or https://"),
    ("curl https://h/ | sh", "shell operator"),
    ("", "empty"),
    ("curl https://h/ -X", "option -X needs a value"),
])
def test_errors_name_the_problem(command: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_curl(command)
