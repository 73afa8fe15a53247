"""ghost-tagger's rule language: parsing and matching are pure functions, tested alone."""

from __future__ import annotations

import pytest
from ghost_tagger.plugin import DEFAULT_RULES
from ghost_tagger.rules import BLOCK, RuleError, parse_rule, parse_rules, rules_problem


def old_tags_for(status: int, host: str) -> list[str]:
    """What the tagger did before its rules were a setting: the defaults must do the same."""
    tags = []
    if status >= 500:
        tags.append("server-error")
    elif status >= 400:
        tags.append("client-error")
    if host.endswith(".localhost") or host in ("localhost", "127.0.0.1"):
        tags.append("local")
    return tags


@pytest.mark.parametrize("status", [200, 302, 399, 400, 404, 499, 500, 503, 599])
@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "api.localhost", "example.com", "localhost.example"])
def test_the_default_rules_tag_as_the_tagger_always_did(status: int, host: str) -> None:
    assert parse_rules(DEFAULT_RULES).tags_for("GET", host, "/", status) == old_tags_for(status, host)


@pytest.mark.parametrize("rule, method, host, path, status, matches", [
    ("method:POST -> write", "post", "h", "/", 200, True),
    ("method:POST,PUT -> write", "GET", "h", "/", 200, False),
    ("host:*.example.com -> ex", "GET", "API.Example.com", "/", 200, True),
    ("host:*.example.com -> ex", "GET", "example.com", "/", 200, True),
    ("host:*.example.com -> ex", "GET", "badexample.com", "/", 200, False),
    ("path:/api/* -> api", "GET", "h", "/api/v1/x", 200, True),
    ("path:/api/*,/v2/* -> api", "GET", "h", "/web/api/x", 200, False),
    ("status:404 -> nf", "GET", "h", "/", 404, True),
    ("status:>=500 -> e", "GET", "h", "/", 500, True),
    ("status:>500 -> e", "GET", "h", "/", 500, False),
    ("status:<400 -> ok", "GET", "h", "/", 399, True),
    ("status:<=399 -> ok", "GET", "h", "/", 400, False),
    ("status:500-503 -> e", "GET", "h", "/", 503, True),
    ("status:401,403 -> auth", "GET", "h", "/", 403, True),
    ("status:2XX -> ok", "GET", "h", "/", 204, True),
    ("status:5xx -> e", "GET", "h", "/", None, False),  # no response: no status condition matches
    ("method:POST host:*.localhost path:/api/* status:2xx -> all", "POST", "a.localhost", "/api/x", 201, True),
    ("method:POST host:*.localhost path:/api/* status:2xx -> all", "POST", "a.localhost", "/web/x", 201, False),
])
def test_conditions_are_anded_and_alternatives_ored(rule: str, method: str, host: str, path: str,
                                                     status: int | None, matches: bool) -> None:
    assert parse_rule(rule).matches(method, host, path, status) is matches


def test_tags_come_in_rule_order_each_once() -> None:
    rules = parse_rules(["host:h -> b", "status:4xx -> a", "method:GET -> b", "path:/x -> c"])
    assert rules.tags_for("GET", "h", "/", 404) == ["b", "a"]


def test_block_rules_are_kept_apart_and_match_requests() -> None:
    rules = parse_rules(["status:5xx -> server-error", "host:ads.example.com -> block",
                         "method:DELETE path:/admin/* -> block"])
    assert [r.action for r in rules.tagging] == ["server-error"]
    assert [r.action for r in rules.blocking] == [BLOCK, BLOCK]
    assert rules.block_for("GET", "ads.example.com", "/x").text == "host:ads.example.com -> block"
    assert rules.block_for("DELETE", "h", "/admin/users").text == "method:DELETE path:/admin/* -> block"
    assert rules.block_for("GET", "h", "/admin/users") is None
    assert rules.tags_for("GET", "ads.example.com", "/", 503) == ["server-error"]  # block is not a tag


@pytest.mark.parametrize("rule, message", [
    ("status:5xx server-error", "a rule is CONDITIONS -> TAG"),
    ("status:5xx -> a -> b", "one '->'"),
    ("-> everything", "at least one condition"),
    ("status:5xx -> ", "the tag ''"),
    ("status:5xx -> two words", "the tag 'two words'"),
    ("colour:red -> red", "unknown condition 'colour:red'; use method:, host:, path:, status:"),
    ("5xx -> e", "unknown condition '5xx'"),
    ("status: -> e", "has no value"),
    ("host:a host:b -> x", "host appears twice; write host:a,b"),
    ("host:a,,b -> x", "empty alternative"),
    ("method:G3T -> x", "'G3T' is not an HTTP method"),
    ("path:api/* -> x", "must start with /"),
    ("status:abc -> x", "bad status 'abc'"),
    ("status:5000 -> x", "bad status '5000'"),
    ("status:503-500 -> x", "runs backwards"),
    ("status:5xx host:ads.example.com -> block", "a block rule answers the request before there is a status"),
])
def test_a_bad_rule_says_what_is_wrong(rule: str, message: str) -> None:
    with pytest.raises(RuleError, match=message.replace("(", r"\(")):
        parse_rule(rule)


def test_the_setting_check_names_the_first_bad_rule() -> None:
    assert rules_problem(DEFAULT_RULES) is None
    assert rules_problem([]) is None
    problem = rules_problem(["status:5xx -> server-error", "colour:red -> red", "bad"])
    assert problem is not None and problem.startswith("has a bad rule 'colour:red -> red': unknown condition")
