import pytest

from plugins.map_rules.matching import HOST_CACHE_SIZE, Matcher, RuleIndex, check_method, check_pattern, compile_glob


def test_glob_semantics():
    assert compile_glob("", ignore_case=False) is None
    pattern = compile_glob("/api/v1/*", ignore_case=False)
    assert pattern is not None
    assert pattern.match("/api/v1/users")
    assert pattern.match("/api/v1/users/42")  # * crosses "/"
    assert not pattern.match("/api/v2/users")
    assert not pattern.match("/API/v1/users")  # paths are case-sensitive
    assert compile_glob("/a?c", ignore_case=False).match("/abc")
    assert not compile_glob("/a?c", ignore_case=False).match("/abbc")


@pytest.mark.parametrize(
    ("pattern", "host", "port", "expected"),
    [
        ("*.example.com", "api.example.com", 443, True),
        ("*.example.com", "API.Example.COM", 443, True),
        ("*.Example.com", "cdn.example.com", 80, True),
        ("*.example.com", "example.com", 443, False),
        ("*.example.com", "api.example.com.evil", 443, False),
        ("localhost:8080", "localhost", 8080, True),
        ("localhost:8080", "localhost", 8081, False),
        ("*:8443", "anything", 8443, True),
        ("::1", "::1", 80, True),
        ("", "whatever", 1, True),
    ],
)
def test_host_matching(pattern, host, port, expected):
    assert Matcher.compile(host_pattern=pattern).matches("GET", host, port, "/") is expected


def test_method_and_path_together():
    matcher = Matcher.compile("*.api.com", "/cart/*", "post")
    assert matcher.matches("POST", "x.api.com", 443, "/cart/add")
    assert matcher.matches("post", "x.api.com", 443, "/cart/add")
    assert not matcher.matches("GET", "x.api.com", 443, "/cart/add")
    assert not matcher.matches("POST", "x.api.org", 443, "/cart/add")
    assert not matcher.matches("POST", "x.api.com", 443, "/checkout")


def test_index_keeps_order_and_ignores_query():
    index = RuleIndex(
        [
            ("a", Matcher.compile("", "/x/*", "")),
            ("b", Matcher.compile("h", "", "GET")),
            ("c", Matcher.compile("", "/x/y", "")),
        ]
    )
    assert index.find("GET", "h", 80, "/x/y?q=1") == ["a", "b", "c"]
    assert index.find("POST", "h", 80, "/x/y") == ["a", "c"]
    assert index.find("POST", "other", 80, "/z") == []
    assert index.first("POST", "h", 80, "/x/y") == "a"
    assert index.first("DELETE", "other", 80, "/") is None
    assert len(index) == 3 and index.rules() == ["a", "b", "c"]


def test_index_host_cache_is_bounded():
    index = RuleIndex([("a", Matcher.compile("*.example.com"))])
    for n in range(HOST_CACHE_SIZE + 10):
        assert index.find("GET", f"h{n}.other", 80, "/") == []
    assert len(index._by_host) <= HOST_CACHE_SIZE
    assert index.find("GET", "x.example.com", 80, "/") == ["a"]


def test_input_checks():
    assert check_method("get") == "GET"
    assert check_method("") == ""
    assert check_method(None) == ""
    for bad in ("GET POST", "G\r\nET", 5, "x" * 40):
        with pytest.raises(ValueError, match="method"):
            check_method(bad)
    assert check_pattern("host_pattern", "*.x.com") == "*.x.com"
    assert check_pattern("host_pattern", None) == ""
    with pytest.raises(ValueError, match="host_pattern"):
        check_pattern("host_pattern", "a b")
    with pytest.raises(ValueError, match="host_pattern must be a string"):
        check_pattern("host_pattern", 3)
    with pytest.raises(ValueError, match="limit"):
        check_pattern("path_pattern", "/" * 5000)
