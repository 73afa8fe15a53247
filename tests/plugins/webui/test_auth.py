"""The web UI's login state and the checks that keep its cookie to its own pages."""

from __future__ import annotations

from multidict import CIMultiDict

from plugins.webui.auth import MAX_CODES, SESSION_LIFETIME_SECS, LoginState, cookie_request_allowed, same_origin


def test_a_code_opens_one_session_and_only_once() -> None:
    state = LoginState()
    code = state.new_code()
    session = state.exchange(code)
    assert session and state.valid(session)
    assert state.exchange(code) is None


def test_wrong_codes_and_sessions_are_refused() -> None:
    state = LoginState()
    state.new_code()
    assert state.exchange("guess") is None
    assert not state.valid("guess") and not state.valid("")


def test_a_session_expires() -> None:
    state = LoginState()
    session = state.exchange(state.new_code(), now=1000.0)
    assert session and state.valid(session, now=1000.0 + SESSION_LIFETIME_SECS - 1)
    assert not state.valid(session, now=1000.0 + SESSION_LIFETIME_SECS + 1)


def test_codes_are_bounded_oldest_first() -> None:
    state = LoginState()
    first = state.new_code()
    for _ in range(MAX_CODES):
        state.new_code()
    assert len(state.codes) == MAX_CODES
    assert state.exchange(first) is None


def test_revoke_all_ends_sessions_and_codes() -> None:
    state = LoginState()
    code = state.new_code()
    session = state.exchange(state.new_code())
    state.revoke_all()
    assert session and not state.valid(session)
    assert state.exchange(code) is None


def test_same_origin_is_exact() -> None:
    assert same_origin("http://127.0.0.1:5565", "127.0.0.1:5565")
    assert not same_origin("http://127.0.0.1:3000", "127.0.0.1:5565")  # same site, other origin
    assert not same_origin("http://localhost:5565", "127.0.0.1:5565")
    assert not same_origin("null", "127.0.0.1:5565")
    assert not same_origin("chrome-extension://abc", "127.0.0.1:5565")


def headers(**values: str) -> CIMultiDict[str]:
    return CIMultiDict({k.replace("_", "-"): v for k, v in values.items()})


def test_a_cookie_request_needs_the_ui_header() -> None:
    host = "127.0.0.1:5565"
    assert cookie_request_allowed("POST", headers(X_Ghost_UI="1", Origin="http://127.0.0.1:5565"), host)
    assert cookie_request_allowed("GET", headers(X_Ghost_UI="1"), host)
    assert not cookie_request_allowed("GET", headers(), host)  # a link or <img> from another page
    assert not cookie_request_allowed("POST", headers(Origin="http://127.0.0.1:5565"), host)  # a plain form post
    assert not cookie_request_allowed("POST", headers(X_Ghost_UI="1", Origin="http://localhost:3000"), host)


def test_a_cookie_websocket_needs_our_exact_origin() -> None:
    host = "127.0.0.1:5565"
    upgrade = {"Upgrade": "websocket"}
    assert cookie_request_allowed("GET", headers(**upgrade, Origin="http://127.0.0.1:5565"), host)
    assert not cookie_request_allowed("GET", headers(**upgrade, Origin="http://127.0.0.1:8000"), host)
    assert not cookie_request_allowed("GET", headers(**upgrade), host)
