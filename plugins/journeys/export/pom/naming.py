"""Names of the Page Object Model: page class names from URLs, element property names from
their attributes, business method and parameter names, API wait aliases."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from plugins.journeys.export.pom.text import camel, is_container_text, is_dynamic_text, pascal, words

API_PREFIXES = frozenset({"api", "v1", "v2", "v3"})
NAME_SUFFIXES = ("Btn", "Button", "Link", "Field", "Input", "Select", "Checkbox", "Radio")
GENERIC_METHODS = frozenset({"submit", "button", "ok", "go", ""})
FORM_TAGS = frozenset({"input", "textarea", "select"})
BUTTON_INPUT_TYPES = frozenset({"submit", "button", "reset"})
# Names a page object already uses for itself (Playwright's `page`, the constructor, the
# navigation methods): an element named so gets a number instead.
RESERVED = frozenset({"page", "constructor", "goto", "visit", "url", "path"})
# JavaScript's reserved words: fine as property names, not as parameters.
JS_RESERVED = frozenset(
    "break case catch class const continue debugger default delete do else enum export extends false finally "
    "for function if import in instanceof new null return super switch this throw true try typeof var void "
    "while with yield let static implements interface package private protected public await arguments eval".split()
)
_DATA_ATTRIBUTE = re.compile(r"\[data-[a-z0-9_-]+\s*=\s*\"((?:[^\"\\]|\\.)*)\"\]")
_EXTENSION = re.compile(r"\.[A-Za-z0-9]{1,5}$")
_LONG_ID = re.compile(r"^(?=.*\d)[0-9a-fA-F-]{16,}$|^[0-9A-HJKMNP-TV-Z]{26}$")


def is_id_segment(segment: str) -> bool:
    """A path segment that names one record, not a page: numbers, e-mail addresses, UUIDs
    and other long hex or ULID strings."""
    return segment.isdigit() or "@" in segment or bool(_LONG_ID.match(segment)) or (
        "-" in segment and len(segment) >= 20 and any(c.isdigit() for c in segment))


def derive_class_name(path: str) -> str:
    """A page URL path as a PascalCase class name ending in Page: /auth/login -> AuthLoginPage,
    /products/123/edit -> ProductsEditPage, /api/v1/users -> UsersPage, / -> HomePage."""
    path = path.split("?", 1)[0].split("#", 1)[0]
    segments = [s for s in path.split("/") if s]
    if segments:
        segments[-1] = _EXTENSION.sub("", segments[-1])
    kept = [s for s in segments if s.lower() not in API_PREFIXES and not is_id_segment(s)]
    name = "".join(pascal(s) for s in kept)
    if not name or not name[0].isalpha():
        name = "Home" + name
    return name if name.endswith("Page") else name + "Page"


def unique_class_names(names: list[str]) -> list[str]:
    """The second SearchPage is Search2Page, the third Search3Page."""
    seen: dict[str, int] = {}
    out = []
    for name in names:
        count = seen.get(name, 0) + 1
        seen[name] = count
        out.append(name if count == 1 else f"{name.removesuffix('Page')}{count}Page")
    return out


def element_suffix(tag: str, input_type: str = "") -> str:
    if tag == "button" or (tag == "input" and input_type.lower() in BUTTON_INPUT_TYPES):
        return "Button"
    return {"a": "Link", "input": "Field", "textarea": "Field", "select": "Select"}.get(tag, "")


def with_suffix(name: str, suffix: str) -> str:
    if not suffix or any(name.endswith(s) for s in NAME_SUFFIXES):
        return name
    return name + suffix


def derive_element_name(attributes: dict[str, str], tag: str, selector: str, text: str) -> str:
    """The element's property name by the spec's priority chain, without the tag + index
    fallback (empty when nothing names it; `ElementNames` numbers those)."""
    input_type = attributes.get("type", "")
    suffix = element_suffix(tag, input_type)
    is_button_input = tag == "input" and input_type.lower() in BUTTON_INPUT_TYPES
    form_field = tag in FORM_TAGS and not is_button_input
    # A form field's text is what was typed into it, never a label.
    shown = "" if form_field else (attributes.get("visible_text") or text)
    usable = shown if shown and not is_dynamic_text(shown) and not is_container_text(shown) else ""
    candidates = (
        (lambda: attributes.get("test_id", ""), True),
        (lambda: attributes.get("name", ""), True),
        (lambda: attributes.get("aria_label", ""), True),
        (lambda: usable if tag in ("button", "a") or is_button_input else "", True),
        (lambda: _data_attribute(selector), True),
        (lambda: usable, False),
    )
    for source, suffixed in candidates:
        name = identifier(camel(source()))
        if name:
            return with_suffix(name, suffix) if suffixed else name
    return ""


def identifier(name: str) -> str:
    """A camelCase name as a JavaScript identifier (never starting with a digit)."""
    if not name:
        return ""
    return name if name[0].isalpha() else "n" + name


def _data_attribute(selector: str) -> str:
    found = _DATA_ATTRIBUTE.search(selector)
    return found.group(1) if found else ""


class ElementNames:
    """Names handed out on one page: loginButton, loginButton2...; unnamed ones div1, button2."""

    def __init__(self) -> None:
        self.used: set[str] = set(RESERVED)
        self.per_tag: dict[str, int] = {}

    def take(self, derived: str, tag: str) -> str:
        if not derived:
            base = identifier(camel(tag)) or "element"
            count = self.per_tag.get(base, 0) + 1
            self.per_tag[base] = count
            derived = f"{base}{count}"
        return self.claim(derived)

    def claim(self, name: str) -> str:
        candidate, n = name, 1
        while candidate in self.used:
            n += 1
            candidate = f"{name}{n}"
        self.used.add(candidate)
        return candidate


def strip_suffix(name: str) -> str:
    for suffix in NAME_SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return name


def method_name(submit_property: str) -> str:
    """loginButton -> login, submitBtn -> submitForm (generic), signInButton -> signIn."""
    name = strip_suffix(re.sub(r"\d+$", "", submit_property))
    return "submitForm" if name.lower() in GENERIC_METHODS else name


def param_name(property_name: str) -> str:
    """usernameField -> username, emailInput -> email."""
    name = strip_suffix(re.sub(r"\d+$", "", property_name)) or "value"
    return name + "Value" if name in JS_RESERVED else name


def api_alias(path: str) -> str:
    """A request alias from its URL path: /api/v1/Tag/preview?x=1 -> tagPreviewReq,
    /api/v1/User/me@example.com/Login -> userLoginReq, /token -> tokenReq."""
    segments = [s for s in path.split("?", 1)[0].split("/") if s]
    kept = [s for s in segments if s.lower() not in API_PREFIXES and not is_id_segment(s)]
    name = camel(" ".join(" ".join(words(s)) for s in kept[-2:]))
    return identifier(name or "api") + "Req"


def api_glob(path: str) -> str:
    """The path as a URL glob (query left out, record ids as `*`): /api/v1/Tag/preview?x=1 ->
    **/api/v1/Tag/preview*."""
    segments = path.split("?", 1)[0].split("#", 1)[0].split("/")
    parts = ["*" if s and is_id_segment(s) else re.sub(r"[*?{}\[\]]", "*", s) for s in segments]
    joined = "/".join(parts)
    return "**" + joined + ("" if joined.endswith("*") else "*")


def url_path(url: str) -> str:
    return urlsplit(url).path or "/"
