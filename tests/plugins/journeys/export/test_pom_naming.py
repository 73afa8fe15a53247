"""Page class names, element names, business method and parameter names, API aliases: one
test per example row of the spec's tables."""

from __future__ import annotations

import pytest

from plugins.journeys.export.pom.naming import (
    ElementNames,
    api_alias,
    api_glob,
    derive_class_name,
    derive_element_name,
    method_name,
    param_name,
    unique_class_names,
)


@pytest.mark.parametrize(("path", "name"), [
    ("/", "HomePage"), ("/login", "LoginPage"), ("/auth/login", "AuthLoginPage"),
    ("/products/123/edit", "ProductsEditPage"), ("/api/v1/users", "UsersPage"),
    ("/product-details", "ProductDetailsPage"), ("/search?q=shoes", "SearchPage"),
    ("/settings.html", "SettingsPage"), ("/landing-page", "LandingPage"), ("", "HomePage"),
    ("/giriş_yap", "GirisYapPage"), ("/2024", "HomePage"),
])
def test_class_names(path: str, name: str) -> None:
    assert derive_class_name(path) == name


def test_class_names_that_collide_get_numbers() -> None:
    assert unique_class_names(["SearchPage", "SearchPage", "LoginPage", "SearchPage"]) == [
        "SearchPage", "Search2Page", "LoginPage", "Search3Page"]


@pytest.mark.parametrize(("attributes", "tag", "selector", "text", "name"), [
    ({"test_id": "login-button", "name": "x"}, "button", "", "Sign In", "loginButton"),  # 1
    ({"name": "username", "aria_label": "User"}, "input", "", "", "usernameField"),  # 2
    ({"aria_label": "Go to settings"}, "a", "", "Settings", "goToSettingsLink"),  # 3
    ({"visible_text": "Sign In"}, "button", "", "Sign In", "signInButton"),  # 4
    ({}, "button", 'button[data-id="home_btn_create"]', "17:30", "homeBtnCreateButton"),  # 5
    ({"visible_text": "Fiyat Filtresi"}, "div", "body > div:nth-of-type(2)", "Fiyat Filtresi", "fiyatFiltresi"),  # 6
    ({}, "div", "body > div:nth-of-type(2)", "", ""),  # 7: numbered by ElementNames
    ({"test_id": "submit-btn"}, "button", "", "", "submitBtn"),  # suffix not doubled
    ({"test_id": "go", "type": "submit"}, "input", "", "", "goButton"),  # input type=submit
    ({"name": "bio"}, "textarea", "", "", "bioField"),
    ({"name": "country"}, "select", "", "Germany", "countrySelect"),
    ({"aria_label": "Search"}, "input", "", "", "searchField"),
    ({}, "input", "body > input", "KTIMAS43002", ""),  # a form field's text is what was typed
    ({"visible_text": "Giriş Yap"}, "button", "", "Giriş Yap", "girisYapButton"),  # transliterated
    ({"visible_text": "Title\nSubtitle"}, "div", "", "Title\nSubtitle", ""),  # container text names nothing
    ({"visible_text": "$99.99"}, "span", "", "$99.99", ""),  # dynamic text names nothing
    ({"test_id": "2fa-code"}, "input", "", "", "n2faCodeField"),  # an identifier never starts with a digit
])
def test_element_name_priority_chain(attributes: dict[str, str], tag: str, selector: str, text: str,
                                     name: str) -> None:
    assert derive_element_name(attributes, tag, selector, text) == name


def test_element_names_are_unique_per_page_and_unnamed_ones_numbered_by_tag() -> None:
    names = ElementNames()
    assert [names.take("loginButton", "button") for _ in range(3)] == ["loginButton", "loginButton2", "loginButton3"]
    assert [names.take("", "div"), names.take("", "button"), names.take("", "div")] == ["div1", "button1", "div2"]
    assert names.take("", "") == "element1"
    assert names.take("page", "a") == "page2"  # the page object's own `page` is taken


@pytest.mark.parametrize(("submit", "method"), [
    ("loginButton", "login"), ("submitBtn", "submitForm"), ("signInButton", "signIn"),
    ("okButton", "submitForm"), ("goLink", "submitForm"), ("button", "submitForm"), ("saveButton2", "save"),
])
def test_business_method_names(submit: str, method: str) -> None:
    assert method_name(submit) == method


@pytest.mark.parametrize(("prop", "param"), [
    ("usernameField", "username"), ("emailInput", "email"), ("passwordField", "password"),
    ("countrySelect", "country"), ("deleteField", "deleteValue"), ("field", "field"),
])
def test_parameter_names(prop: str, param: str) -> None:
    assert param_name(prop) == param


@pytest.mark.parametrize(("path", "alias", "glob"), [
    ("/api/v1/Tag/preview?onlyOpenedToSale=false", "tagPreviewReq", "**/api/v1/Tag/preview*"),
    ("/api/v1/User/me@example.com/Login", "userLoginReq", "**/api/v1/User/*/Login*"),
    ("/token", "tokenReq", "**/token*"),
    ("/api/notes/5eedfeed0badcafe1234", "notesReq", "**/api/notes/*"),
    ("/api/v2/orders/123/items", "ordersItemsReq", "**/api/v2/orders/*/items*"),
])
def test_api_aliases_and_globs(path: str, alias: str, glob: str) -> None:
    assert api_alias(path) == alias
    assert api_glob(path) == glob
