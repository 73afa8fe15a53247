"""Each built-in check alone: its flaw is found by it and by no other check, its clean
twin by none; and the helpers the checks rest on."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from plugins.security import run_checks, sample_key
from plugins.security.checks import (
    _CARD_RE,
    BUILTIN_CHECKS,
    check_entry,
    cookie_attributes,
    credit_card_disclosure,
    csp_directives,
    emails,
    luhn_valid,
    private_ips,
    weak_jwt_secret,
)
from tests.plugins.security.catalogue import CASES, EXP, HS256, Case, flow_of, jwt


def test_every_builtin_check_has_a_flaw_and_a_clean_twin() -> None:
    assert set(CASES) == set(BUILTIN_CHECKS)


@pytest.mark.parametrize("check", sorted(CASES))
def test_a_flaw_is_found_by_its_check_alone(check: str) -> None:
    flaw, _ = CASES[check]
    hits = run_checks(BUILTIN_CHECKS, flow_of(flaw))
    assert [h.check for h in hits] == [check], [(h.check, h.evidence) for h in hits]
    assert hits[0].evidence and hits[0].location


@pytest.mark.parametrize("check", sorted(CASES))
def test_a_clean_twin_is_found_by_no_check(check: str) -> None:
    _, clean = CASES[check]
    hits = run_checks(BUILTIN_CHECKS, flow_of(clean))
    assert hits == [], [(h.check, h.evidence) for h in hits]


def test_evidence_carries_the_flow_the_endpoint_and_never_a_whole_secret() -> None:
    flaw, _ = CASES["credentials-in-get"]
    [hit] = run_checks(BUILTIN_CHECKS, flow_of(flaw, flow_id="01HWFLOWX00000000000000000"))
    assert (hit.flow_id, hit.method, hit.host, hit.template) == ("01HWFLOWX00000000000000000", "GET", "shop.test",
                                                                  "/flaw/credentials-in-get")
    assert "hunter2" not in hit.evidence and hit.evidence == "password=****"


def test_plain_http_is_not_asked_for_hsts_or_secure_cookies() -> None:
    for check in ("hsts-missing", "cookie-no-secure", "mixed-content"):
        assert run_checks({check: BUILTIN_CHECKS[check]}, flow_of(CASES[check][0], base="http://shop.test")) == []


def test_a_check_that_raises_is_skipped_and_the_others_run() -> None:
    def broken(flow):
        raise RuntimeError("boom")

    checks = {"broken": SimpleNamespace(title="t", severity="low", confidence="low", remediation="r", run=broken),
              "xcto-missing": BUILTIN_CHECKS["xcto-missing"]}
    hits = run_checks(checks, flow_of(CASES["xcto-missing"][0]))
    assert [h.check for h in hits] == ["xcto-missing"]


@pytest.mark.parametrize(("entry", "message"), [
    (SimpleNamespace(title="", severity="low", confidence="low", remediation="r", run=len), "title"),
    (SimpleNamespace(title="t", severity="critical", confidence="low", remediation="r", run=len), "severity"),
    (SimpleNamespace(title="t", severity="low", confidence="sure", remediation="r", run=len), "confidence"),
    (SimpleNamespace(title="t", severity="low", confidence="low", remediation="r", run=len, scope="page"), "scope"),
    (SimpleNamespace(title="t", severity="low", confidence="low", remediation="r", run=None), "run"),
])
def test_a_bad_check_is_refused_saying_why(entry: object, message: str) -> None:
    with pytest.raises((ValueError, TypeError), match=message):
        check_entry("x", entry)


def test_luhn() -> None:
    assert luhn_valid("4111111111111111") and luhn_valid("378282246310005")
    assert not luhn_valid("4111111111111112")


def test_weak_jwt_secrets_are_guessed_and_strong_ones_are_not() -> None:
    assert weak_jwt_secret(jwt(HS256, EXP, "changeme")) == "changeme"
    assert weak_jwt_secret(jwt(HS256, EXP, "a long random secret nobody guesses")) is None
    assert weak_jwt_secret(jwt({"alg": "none"}, EXP, None)) is None


def test_cookie_and_csp_parsing() -> None:
    assert cookie_attributes("sid=1; Path=/; HttpOnly; SameSite=Lax") == ("sid", {"path", "httponly", "samesite"})
    assert csp_directives("default-src 'self'; script-src * ;") == {"default-src": ["'self'"], "script-src": ["*"]}


def test_sampling_tells_endpoints_and_answers_apart() -> None:
    a = flow_of(CASES["session-id-in-url"][0])
    b = flow_of(CASES["session-id-in-url"][1])
    assert sample_key(a) != sample_key(b)  # other query parameter names
    assert sample_key(a) == sample_key(flow_of(CASES["session-id-in-url"][0], flow_id="01HWFLOWY00000000000000000"))


def test_body_scanners_respect_boundaries() -> None:
    assert [m.group(0) for m in private_ips("a 10.1.2.3, 110.1.2.3, 10.1.2.3.4, v192.168.0.1x")] == \
        ["10.1.2.3", "192.168.0.1"]
    assert list(emails("mail bob@shop.io or @someone or a@b")) == ["bob@shop.io"]
    text = '{"id": "41111111111111110", "n": "4111-1111-1111-1111", "m": "x4111111111111111"}'
    assert [m.group(0) for m in _CARD_RE.finditer(text) if True][-2:] == ["4111-1111-1111-1111", "4111111111111111"]
    flow = flow_of(Case(path="/p", content_type="application/json", body='{"id": "41111111111111110"}'))
    assert list(credit_card_disclosure(flow)) == []
