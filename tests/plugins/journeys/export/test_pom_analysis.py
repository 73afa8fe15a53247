"""analyze_pom(): the deduplication passes, page grouping, element keys, business methods,
credentials and API waits of the spec, on small journeys built step by step."""

from __future__ import annotations

from datetime import timedelta

from ghost_addons.model import Flow
from plugins.journeys.export.model import ExportStep, JourneyExport
from plugins.journeys.export.pom.analysis import (
    Action,
    MethodCall,
    UIInteraction,
    analyze_pom,
    credential_env,
    extract_api_waits,
    normalize_url,
    parse_ui_interactions,
    skip_click_before_type,
    skip_repeated_clicks,
    wants_wait,
)
from plugins.journeys.model import Interaction, Journey, Step

from .journeys import JOURNEY_ID, START, flow
from .ui_journeys import BASE, interaction, ui_journey


def journey(*steps: tuple[Interaction | None, Flow | None]) -> JourneyExport:
    out = []
    for n, (i, f) in enumerate(steps, start=1):
        kind = "action" if i and f else "flow" if f else "interaction"
        out.append(ExportStep(Step(f"S{n:04d}", JOURNEY_ID, n, kind, i.id if i else None, f.id if f else None, "{}",
                                   START + timedelta(seconds=n)), f, i))
    return JourneyExport(Journey(JOURNEY_ID, "S", "J", "completed", START, START), out)


def ui(kind: str, selector: str, text: str = "") -> UIInteraction:
    return UIInteraction(f"{kind}{selector}{text}", kind, selector, "div", text, BASE + "/")


def test_the_two_passes_on_the_spec_example() -> None:
    raw = [ui("click", "#email"), ui("input", "#email", "test@ex.com"), ui("click", "#dropdown"),
           ui("click", "#dropdown"), ui("click", "#opt", "Mordor"), ui("click", "#opt", "Navigation")]
    after_1 = skip_click_before_type(raw)
    assert [(i.interaction_type, i.selector, i.element_text) for i in after_1] == [
        ("input", "#email", "test@ex.com"), ("click", "#dropdown", ""), ("click", "#dropdown", ""),
        ("click", "#opt", "Mordor"), ("click", "#opt", "Navigation")]
    after_2 = skip_repeated_clicks(after_1)
    assert [(i.interaction_type, i.selector, i.element_text) for i in after_2] == [
        ("input", "#email", "test@ex.com"), ("click", "#dropdown", ""), ("click", "#opt", "Mordor"),
        ("click", "#opt", "Navigation")]


def test_a_click_then_typing_elsewhere_keeps_the_click() -> None:
    raw = [ui("click", "#a"), ui("input", "#b", "x"), ui("click", "#c"), ui("change", "#c", "Germany")]
    assert [i.selector for i in skip_click_before_type(raw)] == ["#a", "#b", "#c"]


def test_each_interaction_once_and_navigations_left_out() -> None:
    add = interaction(1, "click", "/dashboard", "#add", "Add", "button")
    created = flow(1, BASE, "POST", "/api/notes", 201, {})
    read = flow(2, BASE, "GET", "/api/notes/1", 200, {})
    export = journey((interaction(2, "navigation", "/dashboard"), None), (add, created), (add, read))
    assert [i.interaction_id for i in parse_ui_interactions(export)] == [add.id]


def test_an_input_then_a_change_on_one_field_is_one_fill() -> None:
    export = journey((interaction(1, "input", "/", "#q", "hob", "input"), None),
                     (interaction(2, "change", "/", "#q", "hobbits", "input"), None))
    (visit,) = analyze_pom(export).visits
    assert [(a.kind, a.value) for a in visit.steps if isinstance(a, Action)] == [("fill", "hobbits")]


def test_pages_group_by_url_without_query_and_fragment() -> None:
    assert normalize_url("https://app.com/dashboard?tab=overview") == normalize_url(
        "https://app.com/dashboard?tab=settings#x") == "https://app.com/dashboard"
    export = journey((interaction(1, "click", "/dashboard?tab=overview", "#a", "A", "button"), None),
                     (interaction(2, "click", "/dashboard?tab=settings", "#b", "B", "button"), None))
    model = analyze_pom(export)
    assert [p.class_name for p in model.pages] == ["DashboardPage"]
    assert model.pages[0].url == BASE + "/dashboard?tab=overview"  # where goto() goes


def test_element_keys_clicks_by_selector_and_text_fills_by_selector() -> None:
    anchor = 'div[data-cy="tag_type"] > div'
    export = journey(
        (interaction(1, "click", "/", anchor, "Shire", "div"), None),
        (interaction(2, "click", "/", "#other", "Other", "button"), None),
        (interaction(3, "click", "/", anchor, "Mordor", "div"), None),
        (interaction(4, "click", "/", anchor, "Shire", "div"), None),
        (interaction(5, "input", "/", "#q", "one", "input", name="q"), None),
        (interaction(6, "click", "/", "#other", "Other", "button"), None),
        (interaction(7, "input", "/", "#q", "two", "input", name="q"), None),
    )
    model = analyze_pom(export)
    assert [e.name for e in model.pages[0].elements] == ["tagType", "otherButton", "tagType2", "qField"]


def test_business_method_from_fills_and_a_click() -> None:
    export = journey(
        (interaction(1, "input", "/login", "#e", "ann@example.com", "input", name="email"), None),
        (interaction(2, "input", "/login", "#p", "s3cret", "input", name="pw", type="password"), None),
        (interaction(3, "click", "/login", "#go", "Log in", "button", test_id="login-btn"), None),
        (interaction(4, "input", "/login", "#e", "bob@example.com", "input", name="email"), None),
        (interaction(5, "input", "/login", "#p", "s3cret", "input", name="pw", type="password"), None),
        (interaction(6, "click", "/login", "#go", "Log in", "button", test_id="login-btn"), None),
        (interaction(7, "input", "/login", "#note", "hello", "input", name="note"), None),
        (interaction(8, "click", "/login", "#go", "Log in", "button", test_id="login-btn"), None),
    )
    model = analyze_pom(export)
    (page,) = model.pages
    (method,) = page.methods  # the second run reuses the method
    assert (method.name, method.params) == ("loginBtn".removesuffix("Btn"), ["email", "pw"])
    first, second, note, click = model.visits[0].steps
    assert isinstance(first, MethodCall) and isinstance(second, MethodCall)
    assert [a.constant for a in first.actions[:-1]] == ["EMAIL", "PASSWORD"]
    assert [a.constant for a in second.actions[:-1]] == ["EMAIL2", "PASSWORD"]  # another e-mail, same password
    assert isinstance(note, Action) and note.kind == "fill" and not note.constant  # one fill is no method
    assert isinstance(click, Action) and click.kind == "click"
    assert [(c.name, c.default) for c in model.constants] == [
        ("BASE_URL", BASE), ("EMAIL", "ann@example.com"), ("PASSWORD", "s3cret"), ("EMAIL2", "bob@example.com")]


def test_credential_detection_rules() -> None:
    def env(expected: str, **attributes: str) -> str:
        model = analyze_pom(journey((interaction(1, "input", "/", "#x", "v", "input", **attributes), None)))
        (element,) = model.pages[0].elements
        assert element.name == expected
        return credential_env(element)

    assert env("codeField", name="code", type="password") == "PASSWORD"
    assert env("userPasswdField", name="user_passwd") == "PASSWORD"
    assert env("clientSecretField", name="client-secret") == "PASSWORD"
    assert env("pinCodeField", name="pin_code") == "PASSWORD"
    assert env("shippingField", name="shipping") == ""  # "pin" inside a word is no PIN
    assert env("workEmailField", name="work_email") == "EMAIL"
    assert env("usernameField", name="username") == "USERNAME"
    assert env("userField", name="user") == "USERNAME"
    assert env("cityField", name="city") == ""


def test_api_waits_only_user_triggered_api_calls() -> None:
    assert wants_wait("POST", "/api/v1/Tag/preview", 200)
    assert wants_wait("POST", "/token", 200)
    assert not wants_wait("GET", "/api/items", 200)  # a GET is a fetch, not a mutation
    assert not wants_wait("POST", "/upload", 200)  # neither /api/ nor /token
    assert not wants_wait("POST", "/api/x", 0)  # no answer


def test_api_waits_map_to_the_interaction_before_them_with_unique_aliases() -> None:
    click = interaction(1, "click", "/", "#save", "Save", "button")
    other = interaction(2, "click", "/", "#again", "Again", "button")
    export = journey(
        (click, flow(1, BASE, "POST", "/api/v1/Tag/preview?x=1", 200, {})),
        (None, flow(2, BASE, "PUT", "/api/v1/Tag/preview", 204, {})),  # a flow step after the click
        (None, flow(3, BASE, "POST", "/api/v1/Tag/preview", 200, {})),  # the same call again: one wait
        (None, flow(4, BASE, "GET", "/api/v1/items", 200, {})),
        (other, flow(5, BASE, "POST", "/api/v1/Tag/preview", 500, {})),
    )
    waits = extract_api_waits(export)
    assert [(w.method, w.glob, w.alias, w.status) for w in waits[click.id]] == [
        ("POST", "**/api/v1/Tag/preview*", "tagPreviewReq", 200),
        ("PUT", "**/api/v1/Tag/preview*", "tagPreviewReq2", 204)]
    assert [(w.alias, w.status) for w in waits[other.id]] == [("tagPreviewReq3", 500)]


def test_the_recorded_journey_model() -> None:
    model = analyze_pom(ui_journey())
    assert [p.class_name for p in model.pages] == ["HomePage", "DashboardPage", "WidgetsPage"]
    assert [v.page.class_name for v in model.visits] == ["HomePage", "DashboardPage", "WidgetsPage"]
    login, = model.visits[0].steps
    assert isinstance(login, MethodCall) and login.method.name == "login"
    assert [w.alias for w in login.waits] == ["authReq"]
    names = [e.name for e in model.pages[2].elements]
    assert names == ["tagType", "tagType2", "countrySelect", "agreeField", "girisYapButton", "p1"]
    kinds = [s.kind for s in model.visits[2].steps if isinstance(s, Action)]
    assert kinds == ["click", "click", "select", "check", "click", "click"]  # Shire clicked twice: once


def test_a_fill_that_empties_a_field_takes_no_parameter() -> None:
    export = journey(
        (interaction(1, "input", "/f", "#q", "", "input", name="query"), None),
        (interaction(2, "input", "/f", "#c", "Ankara", "input", name="city"), None),
        (interaction(3, "click", "/f", "#s", "Search", "button", id="s"), None),
        (interaction(4, "input", "/f", "#q", "x", "input", name="query"), None),
        (interaction(5, "input", "/f", "#c", "Izmir", "input", name="city"), None),
        (interaction(6, "click", "/f", "#s", "Search", "button", id="s"), None),
    )
    model = analyze_pom(export)
    first, second = model.pages[0].methods  # emptied or filled: another method
    assert (first.name, first.params, first.arguments) == ("search", ["", "city"], ["city"])
    assert (second.name, second.arguments) == ("search2", ["query", "city"])
    call = model.visits[0].steps[0]
    assert isinstance(call, MethodCall) and [a.value for a in call.arguments] == ["Ankara"]


def test_a_method_never_takes_the_name_of_the_page_objects_own_methods() -> None:
    export = journey(
        (interaction(1, "input", "/f", "#a", "1", "input", name="a"), None),
        (interaction(2, "input", "/f", "#b", "2", "input", name="b"), None),
        (interaction(3, "click", "/f", "#go", "Go to", "button", test_id="goto"), None),
    )
    (method,) = analyze_pom(export).pages[0].methods
    assert method.name == "goto2"
