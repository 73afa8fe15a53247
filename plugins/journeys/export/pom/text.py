"""Text rules of the Page Object Model: transliteration to identifiers, dynamic and
container text, the text `cy.contains()` / `getByText()` may use, CSS attribute quoting."""

from __future__ import annotations

import re
import unicodedata

# Letters NFKD does not take apart (ß, æ, ø, ł, ı...) and the ones it does, spelled out so
# the table of the spec reads in one place.
TRANSLITERATION = str.maketrans({
    "ş": "s", "Ş": "S", "ı": "i", "İ": "I", "ğ": "g", "Ğ": "G", "ö": "o", "Ö": "O", "ü": "u", "Ü": "U",
    "ç": "c", "Ç": "C", "é": "e", "è": "e", "ê": "e", "ñ": "n", "Ñ": "N", "ß": "ss", "æ": "ae", "Æ": "AE",
    "ø": "o", "Ø": "O", "å": "a", "Å": "A", "ą": "a", "ę": "e", "ł": "l", "Ł": "L", "ś": "s", "ź": "z",
    "ż": "z", "Ś": "S", "Ź": "Z", "Ż": "Z", "đ": "d", "Đ": "D", "þ": "th", "Þ": "Th", "œ": "oe", "Œ": "OE",
})

_NON_WORD = re.compile(r"[^A-Za-z0-9]+")
_CAMEL_HUMP = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
MAX_CONTAINS_TEXT = 80  # characters (code points, not bytes) of text a text selector may use

_DATE = re.compile(r"\b(\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}|\d{4}[-/.]\d{1,2}[-/.]\d{1,2})\b")
_TIME = re.compile(r"\b\d{1,2}:\d{2}(:\d{2})?\b")
_ISO = re.compile(r"\d{4}-\d{2}-\d{2}T\d{1,2}")
_CURRENCY = re.compile(r"[$€£¥₺₹₽¢]|\b(?:USD|EUR|GBP|TRY|TL)\b")
_NUMBER = re.compile(r"[-+]?\d[\d.,\s]*")
MAX_NUMBER_TEXT = 40  # longer text is no price or count, whatever it holds


def transliterate(text: str) -> str:
    """ASCII letters for the Latin letters of Turkish, German, French, Spanish, Portuguese,
    Polish and Nordic text ("Giriş Yap" -> "Giris Yap"); other marks are dropped."""
    text = text.translate(TRANSLITERATION)
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def words(text: str) -> list[str]:
    """The ASCII words of a text: split on anything not a letter or digit, and between a
    lowercase letter and an uppercase one ("loginButton" -> login, Button)."""
    ascii_text = text if text.isascii() else transliterate(text)
    return [w for chunk in _NON_WORD.split(ascii_text) if chunk for w in _CAMEL_HUMP.split(chunk) if w]


def camel(text: str, *, max_words: int = 6) -> str:
    """camelCase of the first words: "login-button" -> loginButton, "Add to Cart" -> addToCart."""
    parts = words(text)[:max_words]
    if not parts:
        return ""
    head, *rest = parts
    return head.lower() + "".join(w[:1].upper() + w[1:].lower() for w in rest)


def pascal(text: str) -> str:
    return "".join(w[:1].upper() + w[1:] for w in words(text))


def is_dynamic_text(text: str) -> bool:
    """Dates, times, ISO timestamps, and pure numbers, prices and percentages: text that is
    different on replay, so never a selector or a name."""
    line = text.strip()
    if not line:
        return False
    return bool(_ISO.search(line) or _DATE.search(line) or _TIME.search(line) or is_number_text(line))


def is_number_text(line: str) -> bool:
    """A number, price or percentage: 1234, $99.99, ₺1.250,50, 100%, €500, 12 USD."""
    if len(line) > MAX_NUMBER_TEXT:
        return False
    bare = _CURRENCY.sub("", line).strip().removesuffix("%").strip()
    return bool(_NUMBER.fullmatch(bare))


def is_container_text(text: str) -> bool:
    """Text gathered from several child elements (it spans lines): a text selector would find
    a child, not the element clicked."""
    return "\n" in text.strip()


def contains_text(text: str) -> tuple[str, bool]:
    """The text a `cy.contains()` / `getByText()` uses: the first line, at most 80 characters,
    cut at the last space before the limit. Also whether it was cut."""
    line = text.strip().split("\n", 1)[0].strip()
    if len(line) <= MAX_CONTAINS_TEXT:
        return line, False
    cut = line[:MAX_CONTAINS_TEXT]
    space = cut.rfind(" ")
    return (cut[:space] if space > 0 else cut).rstrip(), True


def css_quote_attr(value: str) -> str:
    """A CSS attribute value in double quotes, with backslash and quote escaped the CSS way."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\a ") + '"'


def js_string(text: str) -> str:
    """A single-quoted JavaScript/TypeScript string literal."""
    escaped = (text.replace("\\", "\\\\").replace("'", "\\'").replace("\n", "\\n").replace("\r", "\\r")
               .replace("\t", "\\t").replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))
    return f"'{escaped}'"


def slug(text: str) -> str:
    """A file name from a journey name: "Login & add a note" -> login-add-a-note."""
    return "-".join(w.lower() for w in words(text)[:8]) or "journey"
