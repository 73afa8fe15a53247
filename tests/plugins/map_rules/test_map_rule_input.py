from pathlib import Path

import pytest

from plugins.map_rules.rules import LocalConfig, RemoteConfig, RewriteConfig, merged_input, validate_rule

STAMP = "2026-11-25T10:00:00.000000Z"


def make(raw, home: Path, **kw):
    return validate_rule(raw, rule_id="r1", created_at=STAMP, updated_at=STAMP, home=home, **kw)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    (tmp_path / "mocks").mkdir()
    (tmp_path / "mocks" / "a.json").write_text("{}")
    return tmp_path


def test_defaults_to_local(home: Path):
    rule = make({"body": "hi"}, home)
    assert rule.type == "local" and rule.enabled and rule.priority == 0 and rule.phase == "request"
    assert isinstance(rule.config, LocalConfig)
    assert rule.config.status_code == 200 and rule.config.body == b"hi"
    data = rule.to_dict()
    assert data["body"] == "hi" and data["body_encoding"] == "utf8" and data["file_path"] == ""
    assert data["id"] == "r1" and data["created_at"] == STAMP


def test_local_binary_body_round_trip(home: Path):
    rule = make({"type": "local", "body": "AAEC", "body_encoding": "base64"}, home)
    assert rule.config.body == b"\x00\x01\x02"
    assert rule.to_dict()["body"] == "AAEC" and rule.to_dict()["body_encoding"] == "base64"


def test_local_file_checked(home: Path):
    assert make({"file_path": "mocks/a.json"}, home).config.file_path == "mocks/a.json"
    with pytest.raises(ValueError, match=r"'\.\.'"):
        make({"file_path": "../etc/passwd"}, home)
    with pytest.raises(ValueError, match="outside the Ghost home"):
        make({"file_path": "/etc/passwd"}, home)


def test_remote(home: Path):
    rule = make({"type": "remote", "remote_url": "http://127.0.0.1:9000/v2", "preserve_query": False}, home)
    assert isinstance(rule.config, RemoteConfig)
    assert rule.config.preserve_path and not rule.config.preserve_query
    with pytest.raises(ValueError, match="remote_url is required"):
        make({"type": "remote"}, home)
    with pytest.raises(ValueError, match="absolute http"):
        make({"type": "remote", "remote_url": "ftp://x/"}, home)
    with pytest.raises(ValueError, match="Ghost's own API"):
        make({"type": "remote", "remote_url": "http://127.0.0.1:5565/"}, home, is_api=lambda h, p: (h, p) == ("127.0.0.1", 5565))


def test_rewrite(home: Path):
    rule = make({"type": "rewrite", "target": "response_body", "match": r'"price":\s*(\d+)', "replace": r'"price": 0'}, home)
    assert isinstance(rule.config, RewriteConfig) and rule.phase == "response"
    assert rule.config.pattern is not None
    assert make({"type": "rewrite", "target": "url", "match": "a", "replace": "b"}, home).phase == "request"
    header = make({"type": "rewrite", "target": "request_header", "header_name": "X-Debug", "replace": "1"}, home)
    assert header.config.pattern is None


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"type": "nope"}, "type 'nope' is not one of"),
        ({"bogus": 1}, "unknown field"),
        ({"type": "rewrite", "target": "cookies", "match": "a"}, "target 'cookies'"),
        ({"type": "rewrite", "target": "url"}, "match .* is required"),
        ({"type": "rewrite", "target": "url", "match": "("}, "not a valid regular expression"),
        ({"type": "rewrite", "target": "url", "match": "a", "replace": r"\2"}, "not a valid replacement"),
        ({"type": "rewrite", "target": "url", "match": "(a)", "replace": r"\g<nope>"}, "not a valid replacement"),
        ({"type": "rewrite", "target": "url", "match": "(" * 3000 + ")" * 3000}, "nested too deeply"),
        ({"type": "rewrite", "target": "url", "match": "a", "header_name": "X"}, "header_name is only used"),
        ({"type": "rewrite", "target": "request_header", "header_name": "bad name"}, "not a valid header name"),
        ({"type": "local", "status_code": 42}, "status_code must be an integer from 100 to 999"),
        ({"type": "local", "status_code": True}, "status_code"),
        ({"type": "local", "body": "x", "body_encoding": "base64"}, "not valid base64"),
        ({"type": "local", "headers": {"X-A": "a\r\nb"}}, "line break"),
        ({"type": "local", "remote_url": "http://x/"}, "do not apply to a local rule"),
        ({"type": "local", "enabled": "yes"}, "enabled must be true or false"),
        ({"type": "local", "priority": 1.5}, "priority must be an integer"),
        ({"type": "local", "method": "GE T"}, "method"),
        ({"type": "local", "body": "x" * (1024 * 1024 + 1)}, "limited to"),
        ([], "must be a JSON object"),
    ],
)
def test_bad_input(home: Path, raw, message):
    with pytest.raises(ValueError, match=message):
        make(raw, home)


def test_merge_for_update(home: Path):
    rule = make({"type": "local", "name": "n", "body": "AAEC", "body_encoding": "base64", "priority": 3}, home)
    merged = merged_input(rule, {"body": "text now"})
    assert merged["body_encoding"] == "utf8" and merged["priority"] == 3 and merged["name"] == "n"
    assert make(merged, home).config.body == b"text now"
    switched = merged_input(rule, {"type": "remote", "remote_url": "http://h/"})
    assert "body" not in switched and switched["name"] == "n"
    assert make(switched, home).type == "remote"
    with pytest.raises(ValueError, match="does not match"):
        merged_input(rule, {"id": "other"})


def test_replacement_checked_against_the_patterns_groups(home: Path):
    rule = make({"type": "rewrite", "target": "url", "match": r"(?P<v>v\d+)/(x)?", "replace": r"\g<v>\2\1"}, home)
    assert rule.config.replace == r"\g<v>\2\1"


def test_status_fields_are_read_only(home: Path):
    rule = make({"type": "rewrite", "target": "url", "match": "a", "timeouts": 9, "last_error": "x",
                 "disabled_reason": "y"}, home)
    data = rule.to_dict()
    assert (data["timeouts"], data["last_error"], data["disabled_reason"]) == (0, "", "")
    assert {"timeouts", "last_error", "disabled_reason"}.isdisjoint(merged_input(rule, data))
