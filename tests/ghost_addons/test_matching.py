from pathlib import Path
from types import SimpleNamespace

import pytest

from ghost_addons.addon import GhostAddon
from ghost_addons.matching import (
    HOST_CACHE_SIZE,
    CaptureFilter,
    HostPattern,
    Matcher,
    RuleIndex,
    UrlMatcher,
    check_host_pattern,
    check_method,
    check_pattern,
    check_url_pattern,
    compile_glob,
    compile_hosts,
    normalize_host,
    split_host_pattern,
    split_url_pattern,
)
from ghost_addons.ssrf import AllowList
from plugins.breakpoints.rules import rule_from_input
from plugins.injection.rules import InjectionRule
from plugins.map_rules.engine import MapRulesEngine
from plugins.map_rules.rules import validate_rule

STAMP = "2026-11-25T10:00:00.000000Z"

# --- one semantics through every user ------------------------------------------------------

# (pattern, host, port, expected): the same answer from every feature and setting.
CASES = [
    ("*.example.com", "example.com", 443, True),  # the domain itself
    ("*.example.com", "api.example.com", 443, True),
    ("*.example.com", "a.b.example.com", 80, True),
    ("*.example.com", "badexample.com", 443, False),
    ("*.example.com", "example.com.evil", 443, False),
    ("*example.com", "badexample.com", 443, True),
    ("Example.COM", "example.com", 80, True),  # case
    ("example.com", "EXAMPLE.com", 80, True),
    ("example.com", "example.com.", 80, True),  # trailing dot
    ("example.com", "www.example.com", 80, False),
    ("*.Dev.Test", "API.dev.test", 80, True),
    ("*.dev.test", "DEV.TEST", 80, True),
    ("localhost:8080", "localhost", 8080, True),  # ports
    ("localhost:8080", "localhost", 8081, False),
    ("*:8443", "anything.test", 8443, True),
    ("*:8443", "anything.test", 443, False),
    ("*.example.com:8443", "example.com", 8443, True),
    ("localhost:80*", "localhost", 8081, True),
    ("::1", "::1", 80, True),  # IPv6
    ("[::1]", "::1", 80, True),
    ("::1", "[::1]", 80, True),
    ("::1", "0:0:0:0:0:0:0:1", 80, True),
    ("[::1]:8080", "::1", 8080, True),
    ("[::1]:8080", "::1", 8081, False),
    ("::1", "::2", 80, False),
    ("127.0.0.1", "127.0.0.1", 80, True),
    ("127.0.0.1", "127.0.0.2", 80, False),
    ("api?.test", "api1.test", 80, True),  # ?
    ("api?.test", "api12.test", 80, False),
    ("[ab].test", "a.test", 80, True),  # [ab]
    ("[ab].test", "c.test", 80, False),
    ("[!ab].test", "c.test", 80, True),
    ("api.*", "api.test", 80, True),
]


def _map_rule(pattern: str, host: str, port: int, home: Path) -> bool:
    rule = validate_rule({"host_pattern": pattern, "body": "x"}, rule_id="r", created_at=STAMP,
                         updated_at=STAMP, home=home)
    engine = MapRulesEngine(home, lambda h, p: False)
    engine.set_rules([rule])
    return engine.request_index.find("GET", host, port, "/any?q=1") == [rule]


def _breakpoint(pattern: str, host: str, port: int) -> bool:
    rule = rule_from_input({"host_pattern": pattern})
    return RuleIndex([(rule, rule.matcher)]).first("GET", host, port, "/") is rule


def _injection(pattern: str, host: str, port: int) -> bool:
    host_part = f"[{pattern}]" if pattern.count(":") > 1 and not pattern.startswith("[") else pattern
    rule = InjectionRule(id="i", session_id="s", url_pattern=f"*://{host_part}/*")
    return rule.matches("https", host, port, "/page?x=1")


def _ssl_bypass(pattern: str, host: str, port: int) -> bool:
    addon = GhostAddon()
    addon._bypass_tls = compile_hosts([pattern])  # what proxy.ssl_bypass_hosts sets
    data = SimpleNamespace(client_hello=SimpleNamespace(sni=host),
                           context=SimpleNamespace(server=SimpleNamespace(address=(host, port))),
                           ignore_connection=False)
    addon.tls_clienthello(data)  # type: ignore[arg-type]
    return data.ignore_connection


def _allow_list(pattern: str, host: str) -> bool | None:
    """None when the allow-list refuses the pattern's form (it takes names, *.domain, IPs)."""
    try:
        allow = AllowList.parse([pattern])
    except ValueError:
        return None
    return allow.allows_host(host)


@pytest.mark.parametrize(("pattern", "host", "port", "expected"), CASES)
def test_every_user_gives_the_same_answer(pattern: str, host: str, port: int, expected: bool, tmp_path: Path) -> None:
    answers = {
        "matcher": Matcher.compile(pattern).matches("GET", host, port, "/"),
        "map rule": _map_rule(pattern, host, port, tmp_path),
        "breakpoint": _breakpoint(pattern, host, port),
        "injection": _injection(pattern, host, port),
        "host_include": CaptureFilter([pattern], []).captures(host, port),
        "host_exclude": not CaptureFilter([], [pattern]).captures(host, port),
        "ssl_bypass_hosts": _ssl_bypass(pattern, host, port),
    }
    allowed = _allow_list(pattern, host)
    if allowed is not None:  # the allow-list takes no ports and no globs but `*.domain`
        answers["allow_hosts"] = allowed
    assert answers == dict.fromkeys(answers, expected)


def test_allow_list_takes_the_safe_forms_of_the_table() -> None:
    taken = {pattern for pattern, *_ in CASES if _allow_list(pattern, "x") is not None}
    assert {"*.example.com", "example.com", "Example.COM", "*.dev.test", "::1", "[::1]", "127.0.0.1"} <= taken
    assert not taken & {"*example.com", "api?.test", "[ab].test", "api.*", "localhost:8080", "*:8443"}


# --- globs ------------------------------------------------------------------------------------


def test_glob_semantics() -> None:
    assert compile_glob("", ignore_case=False) is None
    pattern = compile_glob("/api/v1/*", ignore_case=False)
    assert pattern is not None
    assert pattern.match("/api/v1/users")
    assert pattern.match("/api/v1/users/42")  # * crosses "/"
    assert not pattern.match("/api/v2/users")
    assert not pattern.match("/API/v1/users")  # paths are case-sensitive
    assert compile_glob("/a?c", ignore_case=False).match("/abc")
    assert not compile_glob("/a?c", ignore_case=False).match("/abbc")


def test_host_pattern_parts() -> None:
    assert split_host_pattern("Example.com") == ("example.com", None)
    assert split_host_pattern("localhost:8080") == ("localhost", "8080")
    assert split_host_pattern(":8080") == ("*", "8080")
    assert split_host_pattern("[::1]:443") == ("::1", "443")
    assert split_host_pattern("[0:0::1]") == ("::1", None)
    assert split_host_pattern("fe80::*") == ("fe80::*", None)
    assert split_host_pattern("[ab].test") == ("[ab].test", None)
    assert normalize_host("[::1]") == "::1" and normalize_host("A.Example.") == "a.example"
    assert HostPattern.compile("") is None and HostPattern.compile("  ") is None


def test_port_pattern_needs_a_port() -> None:
    assert not compile_hosts(["localhost:8080"])("localhost")  # port unknown: no match
    assert compile_hosts(["localhost"])("localhost")


# --- rules ------------------------------------------------------------------------------------


def test_empty_rule_pattern_matches_everything() -> None:
    assert Matcher.compile().matches("PATCH", "anything", 1, "/x?y")
    assert Matcher.compile("", "", "").matches("GET", "::1", 0, "")


def test_method_and_path_together() -> None:
    matcher = Matcher.compile("*.api.com", "/cart/*", "post")
    assert matcher.matches("POST", "x.api.com", 443, "/cart/add")
    assert matcher.matches("post", "x.api.com", 443, "/cart/add?n=1")  # no query compared
    assert matcher.matches("POST", "api.com", 443, "/cart/add")
    assert not matcher.matches("GET", "x.api.com", 443, "/cart/add")
    assert not matcher.matches("POST", "x.api.org", 443, "/cart/add")
    assert not matcher.matches("POST", "x.api.com", 443, "/checkout")
    assert not Matcher.compile("", "/a").matches("GET", "h", 80, "/a/")


def test_index_keeps_order_and_ignores_query() -> None:
    index = RuleIndex(
        [
            ("a", Matcher.compile("", "/x/*", "")),
            ("b", Matcher.compile("h", "", "GET")),
            ("c", Matcher.compile("", "/x/y", "")),
        ]
    )
    assert index.find("GET", "h", 80, "/x/y?q=1") == ["a", "b", "c"]
    assert index.find("GET", "H", 80, "/x/y") == ["a", "b", "c"]
    assert index.find("POST", "h", 80, "/x/y") == ["a", "c"]
    assert index.find("POST", "other", 80, "/z") == []
    assert index.first("POST", "h", 80, "/x/y") == "a"
    assert index.first("DELETE", "other", 80, "/") is None
    assert len(index) == 3 and index.rules() == ["a", "b", "c"]


def test_index_host_cache_is_bounded() -> None:
    index = RuleIndex([("a", Matcher.compile("*.example.com"))])
    for n in range(HOST_CACHE_SIZE + 10):
        assert index.find("GET", f"h{n}.other", 80, "/") == []
    assert len(index._by_host) <= HOST_CACHE_SIZE
    assert index.find("GET", "x.example.com", 80, "/") == ["a"]


# --- URLs -------------------------------------------------------------------------------------


def test_url_pattern_parts() -> None:
    assert split_url_pattern("https://app.example.com/a/*") == ("https", "app.example.com", "/a/*")
    assert split_url_pattern("*") == ("", "*", "")
    assert split_url_pattern("http://[::1]:8080") == ("http", "[::1]:8080", "")
    assert split_url_pattern("http://user@h/x") == ("http", "h", "/x")


def test_url_matching() -> None:
    assert UrlMatcher.compile("http://localhost:*/*").matches("http", "localhost", 8080, "/index.html")
    assert UrlMatcher.compile("HTTPS://App.Example.com/*").matches("https", "app.example.com", 443, "/Home")
    assert not UrlMatcher.compile("https://app.example.com/home").matches("https", "app.example.com", 443, "/Home")
    assert not UrlMatcher.compile("https://*/*").matches("http", "x", 80, "/")
    assert UrlMatcher.compile("*").matches("https", "x", 443, "/y?z")
    assert UrlMatcher.compile("https://*.shop.example").matches("https", "shop.example", 443, "/any/path")
    assert UrlMatcher.compile("*/app/*").matches("http", "h", 1, "/app/page")
    assert UrlMatcher.compile("https://h/page").matches("https", "h", 443, "/page?debug=1")


# --- capture filter and host lists --------------------------------------------------------------


def test_host_lists() -> None:
    match = compile_hosts(["*.example.com", "api.*", "", "  "])
    assert match("a.example.com") and match("example.com") and match("API.test")
    assert not match("example.org")
    assert not compile_hosts([])("anything") and not compile_hosts(["", " "])("anything")
    assert match.patterns == ("*.example.com", "api.*")


def test_capture_filter() -> None:
    assert CaptureFilter([], []).captures("x")
    only = CaptureFilter(["*.shop.com"], ["cdn.shop.com"])
    assert only.captures("api.shop.com") and only.captures("shop.com")
    assert not only.captures("cdn.shop.com") and not only.captures("other.com")
    ports = CaptureFilter(["localhost:3000"], [])
    assert ports.captures("localhost", 3000) and not ports.captures("localhost", 3001)


def test_capture_filter_answers_are_kept_and_bounded() -> None:
    only = CaptureFilter(["*.shop.com"], [])
    for n in range(HOST_CACHE_SIZE + 10):
        assert not only.captures(f"h{n}.other", 443)
    assert len(only._seen) <= HOST_CACHE_SIZE
    assert only.captures("API.shop.com", 443) and only.captures("API.shop.com", 443)


# --- input checks -------------------------------------------------------------------------------


def test_input_checks() -> None:
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


def test_host_and_url_pattern_checks() -> None:
    for good in ("localhost:8080", "*:84?3", "[::1]:80", "::1", "*.x.com", "h:[0-9]*", ""):
        assert check_host_pattern("host_pattern", good) == good
    with pytest.raises(ValueError, match=r"host_pattern 'localhost:http': the port 'http'"):
        check_host_pattern("host_pattern", "localhost:http")
    assert check_url_pattern("url_pattern", "http://localhost:*/*") == "http://localhost:*/*"
    with pytest.raises(ValueError, match="url_pattern"):
        check_url_pattern("url_pattern", "http://localhost:abc/*")
