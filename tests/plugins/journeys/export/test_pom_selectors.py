"""Both selector priority chains, tag scoping, test-ID anchors, fragile selectors: one test per
example row of the spec's tables, rendered to code by the format modules."""

from __future__ import annotations

import pytest

from plugins.journeys.export.cypress_ui import locator_code as cypress_code
from plugins.journeys.export.playwright_ui import locator_code as playwright_code
from plugins.journeys.export.pom.selectors import (
    Target,
    anchor_by_test_id,
    compound_parts,
    cypress_locator,
    is_fragile,
    playwright_locator,
    scope_by_tag,
)

FRAGILE = "body > div:nth-of-type(2) > div:nth-of-type(3)"


def cypress(tag: str, selector: str = "", text: str = "", **attributes: str) -> str:
    return cypress_code(cypress_locator(Target(tag, {"tag": tag, **attributes}, selector, text)))


def playwright(tag: str, selector: str = "", text: str = "", test_id_attribute: str = "data-testid",
               **attributes: str) -> str:
    return playwright_code(playwright_locator(Target(tag, {"tag": tag, **attributes}, selector, text),
                                              test_id_attribute))


@pytest.mark.parametrize(("args", "attributes", "code"), [
    # 1 test_id (the attribute it is in)
    (("button", "", "Log in"), {"test_id": "login-btn", "test_id_attr": "data-test-id", "id": "x"},
     """cy.get('button[data-test-id="login-btn"]')"""),
    # 2 id
    (("form", "", ""), {"id": "login-form", "name": "login"}, "cy.get('#login-form')"),
    (("div", "", ""), {"id": "a:b"}, """cy.get('div[id="a:b"]')"""),
    # 3 name, tag-scoped
    (("input", "", ""), {"name": "email", "aria_label": "Email"}, """cy.get('input[name="email"]')"""),
    # 4 aria-label
    (("button", "", "Go"), {"aria_label": "Submit"}, """cy.get('button[aria-label="Submit"]')"""),
    # 5 explicit role + text
    (("div", FRAGILE, "Save"), {"role": "button", "visible_text": "Save"}, """cy.get('[role="button"]').contains('Save')"""),
    # 6 text of a button or link (an implicit role is no [role] attribute)
    (("button", FRAGILE, "Sign In"), {"role": "button", "visible_text": "Sign In"}, "cy.contains('button', 'Sign In')"),
    (("a", "body > a", "Dashboard"), {"role": "link"}, "cy.contains('a', 'Dashboard')"),
    # 7 test-ID anchor + text
    (("div", 'div[data-test-id="tag_type"] > div:nth-of-type(3)', "Mordor"), {},
     """cy.get('div[data-test-id="tag_type"]').contains('Mordor')"""),
    # 8 text + fragile selector
    (("div", FRAGILE, "Fiyat Filtresi"), {}, "cy.contains('Fiyat Filtresi')"),
    # 9 placeholder of a form field with a fragile selector
    (("input", "body > form > input:nth-of-type(2)", ""), {"placeholder": "Enter email"},
     """cy.get('input[placeholder="Enter email"]')"""),
    # 10 raw CSS, tag-scoped, .first() when fragile
    (("button", "button.submit-btn", ""), {}, "cy.get('button.submit-btn')"),
    (("span", '[data-role="x"]', ""), {}, """cy.get('span[data-role="x"]')"""),
    (("div", FRAGILE, "17-03-2026"), {}, f"cy.get('{FRAGILE}').first()"),
    (("div", FRAGILE, "Title\nSubtitle"), {}, f"cy.get('{FRAGILE}').first()"),  # a container: no contains()
    (("div", 'div[data-test-id="modal"] > div', "Title\nBody"), {},
     """cy.get('div[data-test-id="modal"] > div')"""),  # container under an anchor: raw CSS
])
def test_cypress_chain(args: tuple[str, str, str], attributes: dict[str, str], code: str) -> None:
    assert cypress(*args, **attributes) == code


@pytest.mark.parametrize(("args", "attributes", "code"), [
    # 1 test_id in data-testid; 1b in another attribute
    (("button", "", "Log in"), {"test_id": "login-btn", "test_id_attr": "data-testid"},
     "page.getByTestId('login-btn')"),
    (("button", "", ""), {"test_id": "login-btn", "test_id_attr": "data-id"},
     """page.locator('button[data-id="login-btn"]')"""),
    # 2 role + name
    (("div", FRAGILE, "Save"), {"role": "button"}, "page.getByRole('button', { name: 'Save' })"),
    (("div", FRAGILE, ""), {"role": "tab", "aria_label": "Overview"}, "page.getByRole('tab', { name: 'Overview' })"),
    # 3 text of a button or link
    (("button", FRAGILE, "Sign In"), {}, "page.getByRole('button', { name: 'Sign In' })"),
    (("a", "body > a", "Dashboard"), {"role": "link"}, "page.getByRole('link', { name: 'Dashboard' })"),
    # 4 aria-label
    (("input", "", ""), {"aria_label": "Email address", "name": "email"}, "page.getByLabel('Email address')"),
    # 5 id
    (("form", "", ""), {"id": "login-form"}, "page.locator('#login-form')"),
    # 6 name
    (("input", "", ""), {"name": "email"}, """page.locator('input[name="email"]')"""),
    # 7 visible text
    (("p", "#intro > p", "Welcome back"), {}, "page.getByText('Welcome back', { exact: true })"),
    # 8 test-ID anchor + text
    (("div", 'div[data-test-id="options"] > div:nth-of-type(2)', "Mordor"), {},
     """page.locator('div[data-test-id="options"]').getByText('Mordor', { exact: true })"""),
    # 9 text + fragile selector
    (("div", FRAGILE, "Fiyat Filtresi"), {}, "page.getByText('Fiyat Filtresi', { exact: true })"),
    # 10 placeholder
    (("input", "body > input:nth-of-type(2)", "typed"), {"placeholder": "Enter email"},
     "page.getByPlaceholder('Enter email')"),
    # 11 raw CSS (tag-scoped), .first() when fragile
    (("button", "button.submit-btn", ""), {}, "page.locator('button.submit-btn')"),
    (("div", FRAGILE, "€500"), {}, f"page.locator('{FRAGILE}').first()"),
    (("div", FRAGILE, "Heading\nText"), {}, f"page.locator('{FRAGILE}').first()"),
])
def test_playwright_chain(args: tuple[str, str, str], attributes: dict[str, str], code: str) -> None:
    assert playwright(*args, **attributes) == code


def test_playwright_test_ids_follow_the_configured_attribute() -> None:
    attributes = {"test_id": "country", "test_id_attr": "data-test"}
    assert playwright("select", test_id_attribute="data-test", **attributes) == "page.getByTestId('country')"
    assert playwright("select", **attributes) == """page.locator('select[data-test="country"]')"""


def test_long_text_is_cut_and_then_not_matched_exactly() -> None:
    text = "Read the terms " * 8
    code = playwright("p", FRAGILE, text)
    assert code.startswith("page.getByText('Read the terms") and "exact" not in code
    assert len(code.split("'")[1]) <= 80


def test_tag_scoping() -> None:
    assert scope_by_tag('[name="email"]', "input") == 'input[name="email"]'
    assert scope_by_tag('[data-x="a"] > span', "span") == '[data-x="a"] > span'  # the attribute is an ancestor's
    assert scope_by_tag('[data-x="a b"]', "span") == 'span[data-x="a b"]'  # a space inside quotes is no combinator
    assert scope_by_tag("button.primary", "button") == "button.primary"


def test_test_id_anchor() -> None:
    assert anchor_by_test_id('div[data-test-id="tag_type"] > div:nth-of-type(3)') == 'div[data-test-id="tag_type"]'
    assert anchor_by_test_id('main > ul[data-cy="list"] > li:nth-of-type(2) > a') == 'main > ul[data-cy="list"]'
    assert anchor_by_test_id('button[data-testid="x"]') == ""  # the target's own test id
    assert anchor_by_test_id("#menu > li") == ""
    assert compound_parts('div[data-x="a > b"] > span') == ['div[data-x="a > b"]', "span"]


@pytest.mark.parametrize(("selector", "fragile"), [
    ("body > div:nth-of-type(2) > button", True), ("div:nth-of-type(3)", True), ("html > body > p", True),
    ("#login > button", False), ("button.primary", False), ('div[data-cy="x"] > div:nth-of-type(2)', False),
    ("", False),
])
def test_fragile_selectors(selector: str, fragile: bool) -> None:
    assert is_fragile(selector) is fragile
