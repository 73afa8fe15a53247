import pytest

from plugins.injection.rules import MAX_SCRIPT_BYTES, InjectionRule, check_input


def test_url_pattern():
    rule = InjectionRule(id="i", session_id="s", url_pattern="*://*/app/*")
    assert rule.matches("http", "h", 1, "/app/page") and not rule.matches("http", "h", 1, "/other")
    # the core's host semantics: *.domain covers the domain; the query is not compared
    shop = InjectionRule(id="j", session_id="s", url_pattern="https://*.shop.example/cart")
    assert shop.matches("https", "shop.example", 443, "/cart?step=2")
    assert shop.matches("https", "WWW.Shop.Example", 443, "/cart")
    assert not shop.matches("http", "shop.example", 80, "/cart")


def test_url_pattern_port_checked():
    assert check_input({"url_pattern": "http://localhost:*/*"}, partial=False)["url_pattern"] == "http://localhost:*/*"
    with pytest.raises(ValueError, match="port"):
        check_input({"url_pattern": "http://localhost:web/*"}, partial=False)


def test_create_input():
    values = check_input({"url_pattern": "*", "script": "x()", "name": "n"}, partial=False)
    assert values == {"url_pattern": "*", "script": "x()", "name": "n"}
    assert check_input({"url_pattern": "*", "enabled": False}, partial=False)["enabled"] is False


def test_update_input_ignores_enabled():
    assert check_input({"script": "y()", "enabled": False}, partial=True) == {"script": "y()"}


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({}, "url_pattern is required"),
        ({"url_pattern": ""}, "url_pattern is required"),
        ({"url_pattern": "*", "script": "x" * (MAX_SCRIPT_BYTES + 1)}, "limit is 65536"),
        ({"url_pattern": "*", "script": "é" * (MAX_SCRIPT_BYTES // 2 + 1)}, "limit"),
        ({"url_pattern": "*", "script": 3}, "script must be a string"),
        ({"url_pattern": "*", "enabled": "no"}, "enabled must be"),
        ({"url_pattern": "*", "when": "now"}, "unknown field"),
        ("x", "JSON object"),
    ],
)
def test_bad_input(raw, message):
    with pytest.raises(ValueError, match=message):
        check_input(raw, partial=False)


def test_script_at_limit_accepted():
    assert len(check_input({"url_pattern": "*", "script": "x" * MAX_SCRIPT_BYTES}, partial=False)["script"]) == MAX_SCRIPT_BYTES
