"""The text rules of the Page Object Model, one test per example row of the spec's tables."""

from __future__ import annotations

import pytest

from plugins.journeys.export.pom.text import (
    camel,
    contains_text,
    css_quote_attr,
    is_container_text,
    is_dynamic_text,
    js_string,
    slug,
    transliterate,
)


@pytest.mark.parametrize(("letter", "ascii_"), [
    ("ş", "s"), ("Ş", "S"), ("ı", "i"), ("İ", "I"), ("ğ", "g"), ("Ğ", "G"), ("ö", "o"), ("Ö", "O"),
    ("ü", "u"), ("Ü", "U"), ("ç", "c"), ("Ç", "C"), ("é", "e"), ("è", "e"), ("ê", "e"), ("ñ", "n"),
    ("Ñ", "N"), ("ß", "ss"), ("æ", "ae"), ("Æ", "AE"), ("ø", "o"), ("Ø", "O"), ("å", "a"), ("Å", "A"),
    ("ą", "a"), ("ę", "e"), ("ł", "l"), ("ś", "s"), ("ź", "z"), ("ż", "z"),
])
def test_transliteration_table(letter: str, ascii_: str) -> None:
    assert transliterate(letter) == ascii_


@pytest.mark.parametrize(("text", "name"), [
    ("Giriş Yap", "girisYap"), ("login-button", "loginButton"), ("Add to Cart", "addToCart"),
    ("Fiyat Filtresi", "fiyatFiltresi"), ("home_btn_create", "homeBtnCreate"), ("Größe ändern", "grosseAndern"),
    ("Go to settings", "goToSettings"), ("", ""), ("!!!", ""),
])
def test_camel_case_after_transliteration(text: str, name: str) -> None:
    assert camel(text) == name


@pytest.mark.parametrize("text", [
    "17-03-2026", "2026/03/10", "10.03.2026", "14:30", "02:45:00", "2026-03-10T14:30:00",
    "1234", "$99.99", "₺1.250,50", "100%", "€500", "Updated 17-03-2026",
])
def test_dynamic_text_is_matched(text: str) -> None:
    assert is_dynamic_text(text)


@pytest.mark.parametrize("text", ["Sign In", "Add to Cart", "Step 3 of the wizard", "Giriş Yap", "", "v2 notes"])
def test_stable_text_is_not_dynamic(text: str) -> None:
    assert not is_dynamic_text(text)


def test_container_text_spans_lines() -> None:
    assert is_container_text("Create a note\nGive it a title\nSave")
    assert not is_container_text("Save")
    assert not is_container_text("Save\n")


def test_contains_text_keeps_the_first_line_and_80_characters_cut_at_a_space() -> None:
    assert contains_text("Welcome back\nAnn")[0] == "Welcome back"
    assert contains_text("Short") == ("Short", False)
    long = "word " * 30  # 150 characters
    text, cut = contains_text(long)
    assert cut and len(text) <= 80 and text.endswith("word") and not text.endswith(" ")
    # Characters, not bytes: 79 Turkish letters and a space are 80 characters, 159 bytes.
    turkish = "ş" * 79 + " ğ"
    text, cut = contains_text(turkish)
    assert cut and text == "ş" * 79
    assert contains_text("ş" * 80) == ("ş" * 80, False)


def test_css_attribute_values_are_quoted_the_css_way() -> None:
    assert css_quote_attr("login") == '"login"'
    assert css_quote_attr('say "hi"') == '"say \\"hi\\""'
    assert css_quote_attr("back\\slash") == '"back\\\\slash"'


def test_js_strings_and_file_names() -> None:
    assert js_string("it's") == "'it\\'s'"
    assert js_string("a\nb\u2028") == "'a\\nb\\u2028'"
    assert slug("Sign in, add a note & pick widgets") == "sign-in-add-a-note-pick-widgets"
    assert slug("Giriş") == "giris" and slug("!!") == "journey"
