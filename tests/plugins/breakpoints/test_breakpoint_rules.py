import pytest

from plugins.breakpoints.rules import rule_from_input, rule_updated


def test_defaults():
    rule = rule_from_input({})
    assert rule.phase == "request" and rule.enabled and len(rule.id) == 26
    assert rule.to_dict()["host_pattern"] == "" and rule.created_at.endswith("Z")
    assert rule.matcher.matches("GET", "any", 80, "/x")


def test_given_id_and_fields():
    rule = rule_from_input({"id": "mine", "phase": "response", "host_pattern": "*.api.com", "method": "post"})
    assert rule.id == "mine" and rule.phase == "response" and rule.method == "POST"
    assert rule.matcher.matches("POST", "x.api.com", 443, "/")
    assert not rule.matcher.matches("GET", "x.api.com", 443, "/")


def test_update_recompiles_matcher():
    rule = rule_from_input({"path_pattern": "/a/*"})
    updated = rule_updated(rule, {"path_pattern": "/b/*", "id": rule.id, "created_at": "ignored"})
    assert updated.id == rule.id and updated.created_at == rule.created_at
    assert updated.matcher.matches("GET", "h", 1, "/b/x") and not updated.matcher.matches("GET", "h", 1, "/a/x")
    assert rule.matcher.matches("GET", "h", 1, "/a/x")  # the original is untouched


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"phase": "both"}, "phase 'both'"),
        ({"enabled": 1}, "enabled must be true or false"),
        ({"host": "x"}, "unknown field"),
        ({"method": "GET /"}, "method"),
        ({"id": 5}, "id must be"),
        ("rule", "JSON object"),
    ],
)
def test_bad_input(raw, message):
    with pytest.raises(ValueError, match=message):
        rule_from_input(raw)


def test_update_with_other_id_refused():
    with pytest.raises(ValueError, match="does not match"):
        rule_updated(rule_from_input({}), {"id": "other"})
