"""Selectors of the Page Object Model: the Cypress and Playwright priority chains, tag
scoping, test-ID anchors and fragile-selector detection.

A chain returns a `Locator`: which API to call and with which arguments, as plain data;
the format modules turn it into code."""

from __future__ import annotations

import re
from dataclasses import dataclass

from plugins.journeys.export.pom.text import contains_text, css_quote_attr, is_container_text, is_dynamic_text
from plugins.journeys.model import TEST_ID_ATTRIBUTES

FORM_TAGS = frozenset({"input", "textarea", "select"})
IMPLICIT_ROLES = {"button": "button", "a": "link"}
_COMBINATOR = re.compile(r"\s*[>+~]\s*|\s+")
_FRAGILE_PART = re.compile(r"^(?:[a-z][a-z0-9-]*|\*)(?::(?:nth-of-type|nth-child)\(\d+\)|:first-child|:last-child)*$")
_ANCHOR_ATTR = re.compile(r"\[(" + "|".join(re.escape(a) for a in TEST_ID_ATTRIBUTES) + r")\s*=")
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")


@dataclass(frozen=True, slots=True)
class Locator:
    """`kind` is the chain step's API: cypress get, get_contains (get(...).contains(text)),
    contains; playwright test_id, role, label, text, placeholder, css, css_text
    (locator(...).getByText(text)). `first` adds `.first()`; `exact` asks an exact text match."""

    kind: str
    css: str = ""
    text: str = ""
    role: str = ""
    tag: str = ""
    first: bool = False
    exact: bool = False


def compound_parts(selector: str) -> list[str]:
    """The compound selectors of a complex one, combinators dropped, brackets respected."""
    parts, depth, current, quote = [], 0, "", ""
    i = 0
    while i < len(selector):
        c = selector[i]
        if quote:
            current += c
            if c == "\\" and i + 1 < len(selector):
                current += selector[i + 1]
                i += 1
            elif c == quote:
                quote = ""
        elif c in "\"'":
            quote = c
            current += c
        elif c in "[(":
            depth += 1
            current += c
        elif c in "])":
            depth -= 1
            current += c
        elif depth == 0 and (c.isspace() or c in ">+~"):
            if current:
                parts.append(current)
            current = ""
        else:
            current += c
        i += 1
    if current:
        parts.append(current)
    return parts


def is_compound(selector: str) -> bool:
    return len(compound_parts(selector)) > 1


def scope_by_tag(selector: str, tag: str) -> str:
    """[name="email"] -> input[name="email"]: a bare attribute selector is prefixed with the
    element's tag. A complex one is left alone: its attribute may belong to an ancestor."""
    selector = selector.strip()
    if not tag or not selector.startswith("[") or is_compound(selector):
        return selector
    return tag + selector


def is_fragile(selector: str) -> bool:
    """Only tags and positions (body > div:nth-of-type(2) > button): no id, class or
    attribute survives a change of the page's structure."""
    parts = compound_parts(selector)
    return bool(parts) and all(_FRAGILE_PART.match(p) for p in parts)


def anchor_by_test_id(selector: str) -> str:
    """The stable ancestor of a complex selector: div[data-test-id="tag_type"] > div:nth-of-type(3)
    -> div[data-test-id="tag_type"]; empty when the test ID is the target's own or absent."""
    parts = compound_parts(selector)
    for index in range(len(parts) - 2, -1, -1):
        if _ANCHOR_ATTR.search(parts[index]):
            return " ".join(parts[: index + 1]) if index == 0 else _prefix(selector, parts[index])
    return ""


def _prefix(selector: str, part: str) -> str:
    """The selector text up to and including `part` (keeps the combinators as written)."""
    end = selector.find(part)
    return selector[: end + len(part)] if end >= 0 else part


def attr_selector(tag: str, attribute: str, value: str) -> str:
    return f"{tag}[{attribute}={css_quote_attr(value)}]"


def id_selector(tag: str, element_id: str) -> str:
    return f"#{element_id}" if _IDENT.match(element_id) else attr_selector(tag, "id", element_id)


@dataclass(frozen=True, slots=True)
class Target:
    """What the chains look at: the element's tag, attributes, recorded selector and text."""

    tag: str
    attributes: dict[str, str]
    selector: str
    text: str

    @property
    def form_field(self) -> bool:
        return self.tag in FORM_TAGS and self.attributes.get("type", "").lower() not in ("submit", "button", "reset")

    @property
    def shown_text(self) -> str:
        """The visible text, when a text selector may use it (not a form value, not dynamic,
        not a container's)."""
        if self.form_field:
            return ""
        text = self.attributes.get("visible_text") or self.text
        if not text.strip() or is_dynamic_text(text) or is_container_text(text):
            return ""
        return text

    @property
    def explicit_role(self) -> str:
        role = self.attributes.get("role", "")
        return "" if role and IMPLICIT_ROLES.get(self.tag) == role else role

    @property
    def test_id_attr(self) -> str:
        return self.attributes.get("test_id_attr") or "data-testid"


def cypress_locator(target: Target) -> Locator:
    """The Cypress chain (10 steps)."""
    a, tag = target.attributes, target.tag or "*"
    text, _ = contains_text(target.shown_text)
    fragile = is_fragile(target.selector)
    if a.get("test_id"):
        return Locator("get", css=attr_selector(tag, target.test_id_attr, a["test_id"]))
    if a.get("id"):
        return Locator("get", css=id_selector(tag, a["id"]))
    if a.get("name"):
        return Locator("get", css=attr_selector(tag, "name", a["name"]))
    if a.get("aria_label"):
        return Locator("get", css=attr_selector(tag, "aria-label", a["aria_label"]))
    if target.explicit_role and text:
        return Locator("get_contains", css=f"[role={css_quote_attr(target.explicit_role)}]", text=text)
    if text and target.tag in ("button", "a"):
        return Locator("contains", tag=target.tag, text=text)
    anchor = anchor_by_test_id(target.selector)
    if anchor and text:
        return Locator("get_contains", css=anchor, text=text)
    if text and (fragile or not target.selector):
        return Locator("contains", text=text)
    if a.get("placeholder") and target.form_field and (fragile or not target.selector):
        return Locator("get", css=attr_selector(tag, "placeholder", a["placeholder"]))
    css = scope_by_tag(target.selector, target.tag) or tag
    return Locator("get", css=css, first=fragile or css == tag)


def playwright_locator(target: Target, test_id_attribute: str = "data-testid") -> Locator:
    """The Playwright chain (11 steps); `test_id_attribute` is what `getByTestId` looks at."""
    a, tag = target.attributes, target.tag or "*"
    text, cut = contains_text(target.shown_text)
    fragile = is_fragile(target.selector)
    if a.get("test_id"):
        if target.test_id_attr == test_id_attribute:
            return Locator("test_id", text=a["test_id"])
        return Locator("css", css=attr_selector(tag, target.test_id_attr, a["test_id"]))
    role = target.explicit_role or IMPLICIT_ROLES.get(target.tag, "")
    name = a.get("aria_label") or text
    if target.explicit_role and name:
        return Locator("role", role=target.explicit_role, text=name)
    if text and role:
        return Locator("role", role=role, text=text)
    if a.get("aria_label"):
        return Locator("label", text=a["aria_label"])
    if a.get("id"):
        return Locator("css", css=id_selector(tag, a["id"]))
    if a.get("name"):
        return Locator("css", css=attr_selector(tag, "name", a["name"]))
    anchor = anchor_by_test_id(target.selector)
    if text and anchor:
        # Step 8 before 7: the same text may be elsewhere on the page; the anchor keeps it in
        # its container (a dropdown's options).
        return Locator("css_text", css=anchor, text=text, exact=not cut)
    if text:  # steps 7 and 9: any non-dynamic, non-container text, fragile selector or not
        return Locator("text", text=text, exact=not cut)
    if a.get("placeholder") and target.form_field:
        return Locator("placeholder", text=a["placeholder"])
    css = scope_by_tag(target.selector, target.tag) or tag
    return Locator("css", css=css, first=fragile or css == tag)
