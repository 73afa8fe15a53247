"""Correlation as pure functions: which values become variables, and where they are used."""

from __future__ import annotations

from plugins.journeys.export.correlation import Variable, dedupe, identifier, merged, plan, sent_text, split

from .journeys import flow, login_flows

BASE = "http://app.test"


def names(flows) -> dict[str, tuple[str, int, tuple, str]]:  # type: ignore[no-untyped-def]
    return {v.name: (v.kind, v.step, v.json_path, v.header) for v in plan(flows).variables}


def test_a_login_journey_needs_the_token_the_location_and_the_password() -> None:
    found = names(login_flows(BASE, "tok3n-value-123456", "n0te1d"))
    assert found == {
        "BASE_URL": ("env", -1, (), ""),
        "TOKEN": ("response", 0, ("token",), ""),
        "LOCATION": ("response", 2, (), "location"),
        "PASSWORD": ("env", -1, (), ""),
    }
    secret = plan(login_flows(BASE, "tok3n-value-123456", "n0te1d")).env[1]
    assert secret.secret and secret.value == "secret"


def test_a_value_sent_before_it_was_handed_out_is_not_a_correlation() -> None:
    # The app echoes the username; the next request sending it again is not using the echo.
    flows = [
        flow(1, BASE, "POST", "/api/profile", 200, {"name": "alice-the-user"}, request_body={"name": "alice-the-user"}),
        flow(2, BASE, "GET", "/api/search?q=alice-the-user", 200, []),
    ]
    assert set(names(flows)) == {"BASE_URL"}


def test_ids_in_paths_queries_and_bodies_and_csrf_headers() -> None:
    flows = [
        flow(1, BASE, "GET", "/form", 200, {"ok": True}, response_headers=[("X-CSRF-Token", "csrf-abcdef")]),
        flow(2, BASE, "POST", "/api/orders", 201, {"order": {"id": "ord-777777"}},
             headers=[("X-CSRF-Token", "csrf-abcdef")], request_body={"qty": 1}),
        flow(3, BASE, "GET", "/api/orders/ord-777777?expand=ord-777777", 200, {}),
        flow(4, BASE, "POST", "/api/pay", 200, {}, request_body={"order": "ord-777777"}),
    ]
    p = plan(flows)
    csrf = next(v for v in p.variables if v.header == "x-csrf-token")
    order = next(v for v in p.variables if v.json_path == ("order", "id"))
    assert (csrf.name, csrf.step, order.name, order.step) == ("X_CSRF_TOKEN", 0, "ID", 1)
    assert p.request(2).url == [p.variables[0], "/api/orders/", order, "?expand=", order]
    assert p.request(3).body == ['{"order":"', order, '"}']
    assert ("X-CSRF-Token", [csrf]) in p.request(1).headers
    # Only earlier responses' values are available: the request that received one does not use it.
    assert order not in p.available(1) and order in p.available(2)


def test_a_static_bearer_token_and_api_key_come_from_the_environment() -> None:
    flows = [flow(1, BASE, "GET", "/api/me?api_key=k3y-123456", 200, {},
                  headers=[("Authorization", "Bearer static-recorded-token")])]
    env = {v.name: v.value for v in plan(flows).env}
    assert env == {"BASE_URL": BASE, "AUTHORIZATION": "Bearer static-recorded-token", "API_KEY": "k3y-123456"}


def test_short_values_and_transport_headers_are_not_candidates() -> None:
    flows = [
        flow(1, BASE, "GET", "/a", 200, {"ok": "yes"}, response_headers=[("ETag", '"abcdef123"')]),
        flow(2, BASE, "GET", "/b?x=yes", 200, {}, headers=[("If-None-Match", '"abcdef123"'), ("X-E", '"abcdef123"')]),
    ]
    assert set(names(flows)) == {"BASE_URL"}


def test_split_prefers_the_longest_value_and_keeps_literals() -> None:
    short = Variable("ID", "abc123", "response", step=0)
    long = Variable("LOCATION", "/notes/abc123", "response", step=1)
    assert split("GET /notes/abc123/x?id=abc123", [short, long]) == ["GET ", long, "/x?id=", short]
    assert split("", [short]) == [] and split("plain", []) == ["plain"]
    assert merged(["a", "b", short, "", "c"]) == ["ab", short, "c"]


def test_identifiers_are_shell_and_js_names() -> None:
    assert identifier("x-csrf-token") == "X_CSRF_TOKEN"
    assert identifier("0day") == "V_0DAY"
    assert identifier("--") == "VALUE"


def test_dedupe_keeps_the_first_of_each_method_and_url() -> None:
    flows = login_flows(BASE, "tok3n-value-123456", "n0te1d")
    assert dedupe([*flows, flows[1]]) == flows


def test_dedupe_keeps_a_repeat_that_hands_out_a_value_used_later() -> None:
    """Two notes created by the same POST: the second POST stays, so its id is read live."""
    first = login_flows(BASE, "tok3n-value-123456", "n0te1d")
    second = login_flows(BASE, "tok3n-value-123456", "n0te2d", ids="01JSECONDF")
    flows = [*first, second[2], second[3]]  # POST /api/notes again, then GET the new note
    assert dedupe(flows) == flows
    p = plan(dedupe(flows))
    assert [v.name for v in p.variables if v.kind == "response"] == ["TOKEN", "LOCATION", "LOCATION_2"]
    assert not any("n0te2d" in part for part in p.request(5).url if isinstance(part, str))


def test_base_url_is_the_origin_most_requests_go_to() -> None:
    flows = [flow(1, "https://cdn.test", "GET", "/lib.js", 200, {}), *login_flows(BASE, "tok3n-value-123456", "n0te1d")]
    assert plan(flows).variables[0].value == BASE


def test_a_numeric_id_is_found_as_a_whole_word_only() -> None:
    flows = [
        flow(1, BASE, "POST", "/api/orders", 201, {"order": {"id": 42, "count": 42}, "ok": True}),
        flow(2, BASE, "GET", "/api/orders/42?limit=1420", 200, {}),
        flow(3, BASE, "POST", "/api/pay", 200, {}, request_body={"order_id": 42, "total": 421}),
    ]
    p = plan(flows)
    order = next(v for v in p.variables if v.kind == "response")
    assert (order.name, order.json_path, order.value) == ("ID", ("order", "id"), "42")
    assert p.request(1).url == [p.variables[0], "/api/orders/", order, "?limit=1420"]
    assert p.request(2).body == ['{"order_id":', order, ',"total":421}']
    # A number nobody sends back, or one under a key that is not an id, stays literal.
    assert [v.name for v in plan(flows[:1] + [flow(2, BASE, "GET", "/x?n=1420", 200, {})]).variables] == ["BASE_URL"]


def test_many_created_ids_each_get_a_variable_used_only_after_it_is_handed_out() -> None:
    """A long journey: each round creates a note and reads it back (the bench's shape)."""
    flows = []
    for n in range(30):
        note = f"n0te{n:04d}beef"
        flows += [flow(2 * n + 1, BASE, "POST", "/api/notes", 201, {"id": note}, ids=f"01JMANY{n:03d}A"),
                  flow(2 * n + 2, BASE, "GET", f"/api/notes/{note}", 200, {"id": note}, ids=f"01JMANY{n:03d}B")]
    p = plan(flows)
    ids = [v for v in p.variables if v.kind == "response"]
    assert [v.name for v in ids] == ["ID", *(f"ID_{n}" for n in range(2, 31))]
    assert [v.step for v in ids] == list(range(0, 60, 2))
    for n, variable in enumerate(ids):
        assert p.request(2 * n + 1).url == [p.variables[0], "/api/notes/", variable]
        assert p.title(2 * n + 1) == f"Step {2 * n + 2} — GET /api/notes/{{{variable.name}}}"


def test_a_value_across_the_joint_of_two_requests_is_not_sent_by_either() -> None:
    """Requests are searched as one joined text (one scan per value); a match that runs from
    one request's text into the next one's is no occurrence."""
    value = 'x"\nhttp://app.test/q'  # the end of request 2's body, the joint, request 3's URL
    first = flow(1, BASE, "POST", "/api/a", 200, {"token": value})
    ends = flow(2, BASE, "POST", "/api/b", 200, {}, request_body="x")  # its body is "x" (JSON)
    starts = flow(3, BASE, "GET", "/q", 200, {}, headers=[("Accept", "*/*")])
    assert "\n".join(sent_text(f) for f in (ends, starts)).count(value) == 1  # the joined text holds it
    real = flow(4, BASE, "POST", "/api/login", 200, {"token": "real-token-123"})
    sends = flow(5, BASE, "GET", "/api/me", 200, {}, headers=[("Authorization", "Bearer real-token-123")])
    # No phantom TOKEN either: the real one is TOKEN, not TOKEN_2.
    assert [v.name for v in plan([first, ends, starts, real, sends]).variables] == ["BASE_URL", "TOKEN"]
