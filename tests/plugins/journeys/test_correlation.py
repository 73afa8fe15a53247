from plugins.journeys.correlation import RecordingBuffer, correlate
from plugins.journeys.model import parse_interaction_header

from .helpers import make_flow, make_interaction

T0 = 1_763_000_000_000.0
J = "01JOURNEY"


def ambient(ms: float) -> str:
    return f"{J}-ambient-{int(ms)}"


def test_counter_header_makes_an_action() -> None:
    click = make_interaction(at_ms=T0, journey_id=J, counter=1)
    header = parse_interaction_header(click.id)
    assert correlate(header, T0 + 30, J, [click]) == click.id
    # Still the same interaction after the 500 ms backend window: the header decides.
    assert correlate(header, T0 + 580, J, [click]) == click.id


def test_ambient_or_missing_header_is_a_flow() -> None:
    click = make_interaction(at_ms=T0, journey_id=J, counter=1)
    # The rule went ambient after the click's window: the request is not the click's.
    assert correlate(parse_interaction_header(ambient(T0 + 600)), T0 + 700, J, [click]) is None
    # No header at all (another client, an image): never correlated by time.
    assert correlate(None, T0 + 20, J, [click]) is None
    # A header of another journey.
    assert correlate(parse_interaction_header(f"OTHER-1-{int(T0)}"), T0 + 20, J, [click]) is None


def test_stale_header_right_after_an_interaction_is_correlated() -> None:
    """fetch() in the click handler leaves before the extension updated its rule."""
    click = make_interaction(at_ms=T0, journey_id=J, counter=1)
    stale = parse_interaction_header(ambient(T0 - 5_000))
    assert correlate(stale, T0 + 3, J, [click]) == click.id
    assert correlate(stale, T0 + 500, J, [click]) == click.id
    assert correlate(stale, T0 + 501, J, [click]) is None  # outside the backend window
    assert correlate(stale, T0 - 100, J, [click]) is None  # the request came first


def test_previous_interactions_id_still_set_goes_to_the_newer_interaction() -> None:
    first = make_interaction(at_ms=T0, journey_id=J, counter=1, selector="#a")
    second = make_interaction(at_ms=T0 + 200, journey_id=J, counter=2, selector="#b")
    header = parse_interaction_header(first.id)
    assert correlate(header, T0 + 150, J, [first, second]) == first.id
    assert correlate(header, T0 + 201, J, [first, second]) == second.id


def test_unknown_interaction_id_is_a_flow() -> None:
    header = parse_interaction_header(f"{J}-9-{int(T0)}")
    assert correlate(header, T0 + 10, J, []) is None


def test_buffer_orders_steps_by_time_and_types_them() -> None:
    buf = RecordingBuffer(J, settle_ms=1500)
    login = make_interaction("click", at_ms=T0, journey_id=J, counter=1, selector="#login")
    typed = make_interaction("input", at_ms=T0 - 2000, journey_id=J, selector="#user", text="ann")
    toggle = make_interaction("click", at_ms=T0 + 3000, journey_id=J, counter=2, selector="#toggle")
    auth = make_flow("http://app.test/api/auth", "POST", at_ms=T0 + 20, header=login.id)
    items = make_flow("http://app.test/api/items", at_ms=T0 + 900, header=ambient(T0 + 600))
    # Arrival order differs from time order: the auth flow completes after the dashboard
    # interaction arrives, the typed input arrives first.
    buf.add_interaction(typed)
    buf.add_interaction(login)
    buf.add_flow(items)
    buf.add_flow(auth)
    buf.add_interaction(toggle)

    assert buf.next_due_ms() == T0 - 2000 + 1500
    assert [d.type for d in buf.release(T0 - 400)] == ["interaction"]
    steps = buf.release(T0 + 2400)
    assert [(d.step_order, d.type) for d in steps] == [(2, "action"), (3, "flow")]
    assert steps[0].flow_id == auth.id and steps[0].interaction_id == login.id
    assert steps[0].data["method"] == "POST" and steps[0].data["selector"] == "#login"
    assert steps[1].interaction_id is None and steps[1].data["path"] == "/api/items"
    assert buf.release(T0 + 4000) == []  # the toggle is still settling
    last = buf.release(T0 + 4500)
    assert [(d.step_order, d.type, d.interaction_id) for d in last] == [(4, "interaction", toggle.id)]
    assert last[0].data["interaction_type"] == "click" and "method" not in last[0].data
    assert len(buf) == 0 and buf.next_due_ms() is None


def test_one_click_many_flows_and_stop_releases_everything() -> None:
    buf = RecordingBuffer(J)
    click = make_interaction("submit", at_ms=T0, journey_id=J, counter=4)
    a = make_flow("http://app.test/api/a", "POST", at_ms=T0 + 1, header=ambient(T0 - 9000))
    b = make_flow("http://app.test/api/b", at_ms=T0 + 40, header=click.id)
    buf.add_flow(b)
    buf.add_flow(a)
    buf.add_interaction(click)
    steps = buf.release(None)  # stop: nothing waits
    assert [(s.type, s.flow_id, s.interaction_id) for s in steps] == [
        ("action", a.id, click.id),
        ("action", b.id, click.id),
    ]
    assert [s.step_order for s in steps] == [1, 2]


def test_step_order_is_monotonic_across_releases() -> None:
    buf = RecordingBuffer(J, settle_ms=100)
    orders = []
    for n in range(5):
        buf.add_flow(make_flow(f"http://app.test/api/{n}", at_ms=T0 + n * 1000, header=ambient(T0 - 1)))
        orders += [s.step_order for s in buf.release(T0 + n * 1000 + 100)]
    # A flow that completes late (its start is older than released steps) still comes after them.
    buf.add_flow(make_flow("http://app.test/api/slow", at_ms=T0, header=ambient(T0 - 1)))
    orders += [s.step_order for s in buf.release(None)]
    assert orders == [1, 2, 3, 4, 5, 6]
