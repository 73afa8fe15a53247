"""analyze_pom(): a journey's interactions as a Page Object Model, as plain data.

The pipeline of the spec: the interaction steps (each interaction once, navigations left
out) go through the two deduplication passes; the API calls each interaction triggered are
mapped to it (API waits); interactions are grouped into pages by URL (query and fragment
dropped) and their elements named; runs of two or more fills followed by a click or submit
become business methods; fields that hold credentials read them from the environment. The
format modules (`playwright_ui.py`, `cypress_ui.py`) turn the model into code.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

from plugins.journeys.export.model import JourneyExport
from plugins.journeys.export.pom.naming import (
    RESERVED,
    ElementNames,
    api_alias,
    api_glob,
    derive_class_name,
    derive_element_name,
    method_name,
    param_name,
    unique_class_names,
)
from plugins.journeys.export.pom.selectors import Target

FILL_TYPES = frozenset({"input", "change"})
ACTION_TYPES = frozenset({"click", "input", "change", "submit"})
# "pin" as a word of the camelCase name (pinCode, userPin), not inside one (shipping).
_PASSWORD = re.compile(r"(?i:password|passwd|secret)|(?:^pin|Pin)(?![a-z])")
_EMAIL = re.compile(r"email", re.IGNORECASE)
_USER = re.compile(r"user", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class UIInteraction:
    """One recorded browser event (the spec's StepInteractionData) and its interaction id."""

    interaction_id: str
    interaction_type: str
    selector: str
    element_type: str
    element_text: str
    page_url: str
    page_title: str = ""
    attributes: dict[str, str] = field(default_factory=dict)

    @property
    def tag(self) -> str:
        return (self.attributes.get("tag") or self.element_type or "").lower()


@dataclass(frozen=True, slots=True)
class ApiWait:
    """A non-GET API call an interaction triggered: wait for it, check its status."""

    method: str
    glob: str
    alias: str
    status: int


@dataclass(slots=True)
class PageElement:
    name: str
    target: Target
    key: str


@dataclass(slots=True)
class Action:
    """kind: click, fill, select, check, uncheck or submit. `constant` names the constant that
    holds a credential's value (the value itself is then only in the constants file)."""

    kind: str
    element: PageElement
    value: str = ""
    constant: str = ""
    waits: list[ApiWait] = field(default_factory=list)


@dataclass(slots=True)
class BusinessMethod:
    """`params[i]` is the parameter of `fills[i]`, "" for a fill that empties its field."""

    name: str
    params: list[str]
    fills: list[Action]
    submit: Action

    @property
    def arguments(self) -> list[str]:
        return [p for p in self.params if p]


@dataclass(slots=True)
class MethodCall:
    method: BusinessMethod
    actions: list[Action]  # this call's fills (their values) and submit

    @property
    def waits(self) -> list[ApiWait]:
        return [w for a in self.actions for w in a.waits]

    @property
    def arguments(self) -> list[Action]:
        """The fills whose values the call passes (not those that empty a field)."""
        return [a for a in self.actions[:-1] if a.value]


@dataclass(slots=True)
class PageObject:
    class_name: str
    url: str  # the first URL the page was seen at (query kept), for goto()/visit()
    path: str
    elements: list[PageElement] = field(default_factory=list)
    methods: list[BusinessMethod] = field(default_factory=list)

    @property
    def variable(self) -> str:
        return self.class_name[:1].lower() + self.class_name[1:]

    def address(self, base_url: str) -> tuple[str, bool]:
        """Where goto()/visit() goes: the path and query after BASE_URL (True), or the whole
        URL of a page on another origin (False)."""
        parts = urlsplit(self.url)
        if f"{parts.scheme}://{parts.netloc}" != base_url:
            return self.url.split("#", 1)[0], False
        return (parts.path or "/") + (f"?{parts.query}" if parts.query else ""), True


@dataclass(slots=True)
class Visit:
    """A stretch of the journey on one page: the first is navigated to, later ones awaited."""

    page: PageObject
    steps: list[Action | MethodCall] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Constant:
    name: str
    default: str


@dataclass(slots=True)
class PomModel:
    name: str
    base_url: str
    constants: list[Constant]
    pages: list[PageObject]
    visits: list[Visit]

    def constants_in_steps(self) -> list[str]:
        """The credential constants the test steps pass, sorted."""
        names = set()
        for visit in self.visits:
            for step in visit.steps:
                actions = step.actions if isinstance(step, MethodCall) else [step]
                names.update(a.constant for a in actions if a.constant)
        return sorted(names)


# --- interactions and the two deduplication passes -----------------------------------------------


def ui_interactions(export: JourneyExport) -> list[UIInteraction]:
    """The journey's interactions in step order, each once (a click that triggered two
    requests is on two action steps); navigations, events without a selector and events on
    pages that are not http(s) left out."""
    seen: set[str] = set()
    out = []
    for step in export.steps:
        i = step.interaction
        if i is None or i.id in seen or i.type not in ACTION_TYPES or not (i.selector or i.attributes):
            continue
        if urlsplit(i.page_url).scheme not in ("http", "https"):
            continue  # a browser page (chrome://, about:blank): no test can open it
        seen.add(i.id)
        out.append(UIInteraction(i.id, i.type, i.selector, i.element_type, i.element_text, i.page_url,
                                 i.page_title, dict(i.attributes)))
    return out


def skip_click_before_type(items: list[UIInteraction]) -> list[UIInteraction]:
    """Pass 1: a click immediately followed by an input or change on the same selector is the
    focus that typing implies."""
    return [item for index, item in enumerate(items)
            if not (item.interaction_type == "click" and index + 1 < len(items)
                    and items[index + 1].interaction_type in FILL_TYPES
                    and items[index + 1].selector == item.selector)]


def skip_repeated_clicks(items: list[UIInteraction]) -> list[UIInteraction]:
    """Pass 2: of consecutive clicks on the same selector with the same text only the first is
    kept; the same selector with another text is another option of a dropdown."""
    out: list[UIInteraction] = []
    for item in items:
        previous = out[-1] if out else None
        if (previous is not None and item.interaction_type == previous.interaction_type == "click"
                and item.selector == previous.selector and item.element_text == previous.element_text):
            continue
        out.append(item)
    return out


def merge_repeated_fills(items: list[UIInteraction]) -> list[UIInteraction]:
    """An input then a change on the same text field is one edit: the last value counts."""
    out: list[UIInteraction] = []
    for item in items:
        previous = out[-1] if out else None
        if (previous is not None and item.interaction_type in FILL_TYPES and previous.interaction_type in FILL_TYPES
                and item.selector == previous.selector and item.tag not in ("select",)
                and item.attributes.get("type", "").lower() not in ("checkbox", "radio")):
            out[-1] = item
            continue
        out.append(item)
    return out


def parse_ui_interactions(export: JourneyExport) -> list[UIInteraction]:
    return merge_repeated_fills(skip_repeated_clicks(skip_click_before_type(ui_interactions(export))))


# --- API waits --------------------------------------------------------------------------------------


def wants_wait(method: str, path: str, status: int) -> bool:
    """Only calls a user action makes: not GETs, only /api/ or /token paths, answered."""
    return method.upper() != "GET" and ("/api/" in path or "/token" in path) and status != 0


def extract_api_waits(export: JourneyExport) -> dict[str, list[ApiWait]]:
    """Each non-GET API call, under the id of the interaction before it (an action step's own).
    Aliases are unique across the journey: tagPreviewReq, tagPreviewReq2."""
    waits: dict[str, list[ApiWait]] = {}
    aliases: dict[str, int] = {}
    flows = {id(f) for f in export.flows()}  # the recorded tab's, when the flows are tagged
    last_interaction = ""
    for step in export.steps:
        if step.interaction is not None:
            last_interaction = step.interaction.id
        flow = step.flow
        if flow is None or id(flow) not in flows or not last_interaction or flow.response is None:
            continue
        path = urlsplit(flow.request.url).path or "/"
        if not wants_wait(flow.request.method, path, flow.response.status_code):
            continue
        glob = api_glob(path)
        mapped = waits.setdefault(last_interaction, [])
        if any(w.method == flow.request.method.upper() and w.glob == glob for w in mapped):
            continue
        alias = api_alias(path)
        count = aliases.get(alias, 0) + 1
        aliases[alias] = count
        mapped.append(ApiWait(flow.request.method.upper(), glob, alias if count == 1 else f"{alias}{count}",
                              flow.response.status_code))
    return waits


# --- pages and elements --------------------------------------------------------------------------------


def normalize_url(url: str) -> str:
    """The page a URL is: query and fragment dropped."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path or "/", "", ""))


def action_kind(item: UIInteraction) -> str:
    if item.interaction_type == "click":
        return "click"
    if item.interaction_type == "submit":
        return "submit"
    input_type = item.attributes.get("type", "").lower()
    if input_type in ("checkbox", "radio"):
        return "uncheck" if item.element_text == "unchecked" else "check"
    if item.tag == "select":
        return "select"
    return "fill"


def element_key(item: UIInteraction, kind: str) -> str:
    """Clicks: selector and text (options of one dropdown differ by text); fills: selector."""
    if kind == "click":
        return f"{item.selector}|{item.element_text}"
    return item.selector or repr(sorted(item.attributes.items()))


def credential_env(element: PageElement) -> str:
    """The environment variable a field's value comes from, or "" when it is no credential."""
    name = element.name
    if element.target.attributes.get("type", "").lower() == "password" or _PASSWORD.search(name):
        return "PASSWORD"
    if _EMAIL.search(name):
        return "EMAIL"
    if _USER.search(name):
        return "USERNAME"
    return ""


class _Builder:
    def __init__(self, export: JourneyExport) -> None:
        self.export = export
        self.pages: dict[str, PageObject] = {}
        self.names: dict[str, ElementNames] = {}
        self.elements: dict[tuple[str, str], PageElement] = {}
        self.constants: dict[str, Constant] = {}
        self.values: dict[tuple[str, str], str] = {}  # (env base, value) -> constant name

    def page(self, item: UIInteraction) -> PageObject:
        key = normalize_url(item.page_url)
        page = self.pages.get(key)
        if page is None:
            path = urlsplit(key).path or "/"
            page = PageObject(derive_class_name(path), item.page_url, path)
            self.pages[key] = page
            self.names[key] = ElementNames()
        return page

    def element(self, page_key: str, page: PageObject, item: UIInteraction, kind: str) -> PageElement:
        key = element_key(item, kind)
        found = self.elements.get((page_key, key))
        if found is not None:
            return found
        text = item.element_text if kind == "click" else ""
        target = Target(item.tag, item.attributes, item.selector, text)
        derived = derive_element_name(item.attributes, item.tag, item.selector, text)
        element = PageElement(self.names[page_key].take(derived, item.tag or "element"), target, key)
        self.elements[(page_key, key)] = element
        page.elements.append(element)
        return element

    def constant_for(self, element: PageElement, value: str) -> str:
        """Credentials once each, as a constant with the recorded value as its default:
        the same value twice is one constant, another value a numbered one."""
        env = credential_env(element)
        if not env or not value:
            return ""
        known = self.values.get((env, value))
        if known:
            return known
        name, n = env, 1
        while name in self.constants:
            n += 1
            name = f"{env}{n}"
        self.constants[name] = Constant(name, value)
        self.values[(env, value)] = name
        return name


def analyze_pom(export: JourneyExport) -> PomModel:
    items = parse_ui_interactions(export)
    waits = extract_api_waits(export)
    builder = _Builder(export)
    visits: list[Visit] = []
    for item in items:
        page_key = normalize_url(item.page_url)
        page = builder.page(item)
        if not visits or visits[-1].page is not page:
            visits.append(Visit(page))
        kind = action_kind(item)
        element = builder.element(page_key, page, item, kind)
        value = item.element_text if kind in ("fill", "select") else ""
        constant = builder.constant_for(element, value) if kind == "fill" else ""
        visits[-1].steps.append(Action(kind, element, value, constant, list(waits.get(item.interaction_id, []))))
    class_names = unique_class_names([p.class_name for p in builder.pages.values()])
    for page, class_name in zip(builder.pages.values(), class_names, strict=True):
        page.class_name = class_name
    for visit in visits:
        visit.steps = group_business_methods(visit.page, visit.steps)
    first = items[0].page_url if items else ""
    parts = urlsplit(first)
    base_url = urlunsplit((parts.scheme, parts.netloc, "", "", ""))
    constants = [Constant("BASE_URL", base_url), *builder.constants.values()]
    return PomModel(export.journey.name, base_url, constants, list(builder.pages.values()), visits)


# --- business methods ------------------------------------------------------------------------------------


def group_business_methods(page: PageObject, steps: list[Action | MethodCall]) -> list[Action | MethodCall]:
    """Two or more consecutive fills followed by a click or submit become one method call
    (login(username, password)); the same run again reuses the method."""
    out: list[Action | MethodCall] = []
    run: list[Action] = []
    for step in steps:
        assert isinstance(step, Action)
        if step.kind == "fill":
            run.append(step)
            continue
        if len(run) >= 2 and step.kind in ("click", "submit"):
            out.append(MethodCall(business_method(page, run, step), [*run, step]))
        else:
            out.extend(run)
            out.append(step)
        run = []
    out.extend(run)
    return out


def business_method(page: PageObject, fills: list[Action], submit: Action) -> BusinessMethod:
    """The page's method for this run of fills and its submit (the same fields, emptied or
    filled alike, reuse it). A fill that empties a field takes no parameter."""
    signature = [(a.element.name, bool(a.value)) for a in fills] + [(submit.element.name, True)]
    for method in page.methods:
        if [(a.element.name, bool(a.value)) for a in method.fills] + [(method.submit.element.name, True)] == signature:
            return method
    taken = {e.name for e in page.elements} | {m.name for m in page.methods} | RESERVED
    name = _unique(method_name(submit.element.name), taken)
    params: list[str] = []
    for action in fills:
        params.append(_unique(param_name(action.element.name), set(params)) if action.value else "")
    method = BusinessMethod(name, params, fills, submit)
    page.methods.append(method)
    return method


def _unique(name: str, taken: set[str]) -> str:
    candidate, n = name, 1
    while candidate in taken:
        n += 1
        candidate = f"{name}{n}"
    return candidate
