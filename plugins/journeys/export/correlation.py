"""Correlation: which values a journey's requests send must come from the environment or
from an earlier live response, so the exported test passes against a fresh server.

Pure functions over a list of flows (no I/O). `plan(flows)` finds:

- `BASE_URL`, the origin most requests go to, read from the environment with the
  recorded origin as its default;
- response values: a string the app handed out in a response (a JSON body value, a
  number under an id-like key, or a header such as `Location` or `X-CSRF-Token`) that a later request sends back (in its URL,
  a kept header or its body), and that no request had sent before the app handed it out
  (an echoed username is not a correlation). Generators extract these from the live
  response and never print the recorded value;
- secrets the journey sends that no response handed out (passwords, API keys, static
  bearer tokens): environment variables whose recorded value is the default, printed once.

`split(text, variables)` cuts a request's URL, header value or body into literal text and
variables, longest value first, so each generator renders the parts in its own syntax.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import orjson

from ghost_addons.model import Flow
from plugins.journeys.export.headers import kept_headers

MIN_VALUE_LENGTH = 6  # shorter response values ("true", "1", "OK") match by accident
MIN_SECRET_LENGTH = 4  # shorter ones would be cut out of every URL and body they occur in
SECRET_NAME = re.compile(r"pass(word|wd)?|secret|token|api[-_]?key|apikey|credential|auth", re.I)
SECRET_HEADERS = frozenset({"authorization", "x-api-key", "api-key", "apikey", "x-auth-token",
                            "x-csrf-token", "x-xsrf-token", "private-token"})
# Response headers whose values are about the transport or the cache, never handed-out values.
NOT_VALUE_HEADERS = frozenset({
    "date", "server", "content-type", "content-length", "content-encoding", "cache-control",
    "expires", "last-modified", "etag", "vary", "connection", "keep-alive", "transfer-encoding",
    "set-cookie", "strict-transport-security", "content-security-policy", "x-content-type-options",
    "x-frame-options", "age", "via", "pragma", "accept-ranges", "alt-svc", "report-to", "nel",
    "referrer-policy", "permissions-policy", "x-xss-protection",
})

WORD = frozenset("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")  # what a number must not touch

JsonPath = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class Variable:
    """A value the exported code must not hard-code.

    `kind` is "env" (read from the environment, `value` is the recorded default) or
    "response" (extracted from the live response of flow number `step`, 0-based, at
    `json_path` in its JSON body or from its header `header`; `value` is only what was
    recorded, for finding it, and is never printed)."""

    name: str
    value: str
    kind: str
    secret: bool = False
    step: int = -1
    json_path: JsonPath = ()
    header: str = ""

    def describe(self) -> str:
        """Where a response variable comes from, for the comment where it is extracted."""
        if self.header:
            return f"response header {self.header}"
        return "JSON body " + "".join(f"[{orjson.dumps(k).decode()}]" for k in self.json_path)


Part = str | Variable


@dataclass(frozen=True, slots=True)
class Plan:
    """The flows to export and the variables they need, in the order they are defined."""

    flows: list[Flow]
    variables: list[Variable] = field(default_factory=list)
    # Each step's request cut into parts, computed once: generators and `plan` ask again.
    parts_cache: dict[int, RequestParts] = field(default_factory=dict, repr=False, compare=False)
    # Each step's `sent_text`, when `plan` has computed them already.
    sent_texts: list[str] = field(default_factory=list, repr=False, compare=False)
    # Each step's candidate variables, when `plan` has found them already (see `candidates`).
    candidates_by_step: dict[int, list[Variable]] | None = field(default=None, repr=False, compare=False)
    extracted_by_step: dict[int, list[Variable]] = field(default_factory=dict, repr=False, compare=False)

    @property
    def env(self) -> list[Variable]:
        return [v for v in self.variables if v.kind == "env"]

    def extracted_after(self, step: int) -> list[Variable]:
        """The response variables taken from flow `step`'s response."""
        if not self.extracted_by_step:
            for v in self.variables:
                if v.kind == "response":
                    self.extracted_by_step.setdefault(v.step, []).append(v)
            self.extracted_by_step.setdefault(-1, [])  # built, even when there is none
        return self.extracted_by_step.get(step, [])

    def available(self, step: int) -> list[Variable]:
        """The variables flow `step`'s request may use: env ones and earlier responses'."""
        return [v for v in self.variables if v.kind == "env" or v.step < step]

    def candidates(self, step: int) -> list[Variable]:
        """The available variables whose value occurs somewhere in flow `step`'s request."""
        if self.candidates_by_step is not None:
            return self.candidates_by_step.get(step, [])
        sent = self.sent_texts[step] if self.sent_texts else sent_text(self.flows[step])
        return [v for v in self.available(step) if v.value and v.value in sent]

    def request(self, step: int) -> RequestParts:
        parts = self.parts_cache.get(step)
        if parts is None:
            parts = self.parts_cache[step] = request_parts(self.flows[step], self.candidates(step))
        return parts

    def title(self, step: int) -> str:
        """`Step N — METHOD /path`, with `{NAME}` where the path holds a variable (so a
        token or id in a URL is not printed in a comment or an item name either)."""
        flow = self.flows[step]
        path = urlsplit(flow.request.url).path or "/"
        used = [p for p in self.request(step).url if isinstance(p, Variable)]
        shown = render(split(path, used), lambda s: s, lambda v: "{" + v.name + "}")
        return f"Step {step + 1} — {flow.request.method.upper()} {shown}"


@dataclass(frozen=True, slots=True)
class RequestParts:
    """A request cut into literal text and variables (body None when it is not text)."""

    url: list[Part]
    headers: list[tuple[str, list[Part]]]
    body: list[Part] | None


def body_text(body: bytes) -> str | None:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return None


def split(text: str, variables: Sequence[Variable]) -> list[Part]:
    """`text` as literal strings and the variables whose values occur in it: at each point
    the leftmost occurrence, the longest value among those starting there (a value occurs
    once per variable list, so each value maps to one variable)."""
    by_value = {v.value: v for v in reversed(variables) if v.value and v.value in text}
    if not by_value:
        return [text] if text else []
    values = sorted(by_value, key=len, reverse=True)
    parts: list[Part] = []
    at = 0
    while True:
        start, found = len(text), ""
        for value in values:  # longest first: on a tie of starts the longer value wins
            where = find(text, value, at)
            if where != -1 and where < start:
                start, found = where, value
        if not found:
            break
        if start > at:
            parts.append(text[at:start])
        parts.append(by_value[found])
        at = start + len(found)
    if at < len(text):
        parts.append(text[at:])
    return parts


def find(text: str, value: str, start: int = 0) -> int:
    """Where `value` occurs in `text` from `start`, or -1; a number only as a whole word
    (id 42 is not in 1420)."""
    where = text.find(value, start)
    if not value.isdigit():
        return where
    while where != -1:
        end = where + len(value)
        if (where == 0 or text[where - 1] not in WORD) and (end == len(text) or text[end] not in WORD):
            return where
        where = text.find(value, where + 1)
    return -1


def request_parts(flow: Flow, variables: Sequence[Variable]) -> RequestParts:
    text = body_text(flow.request.body) if flow.request.body else ""
    return RequestParts(
        url=split(flow.request.url, variables),
        headers=[(name, split(value, variables)) for name, value in kept_headers(flow.request.headers)],
        body=None if text is None else split(text, variables),
    )


def merged(parts: Sequence[Part]) -> list[Part]:
    """Adjacent literal strings joined into one."""
    out: list[Part] = []
    for part in parts:
        if isinstance(part, str) and out and isinstance(out[-1], str):
            out[-1] += part
        elif part != "":
            out.append(part)
    return out


def render(parts: Sequence[Part], literal: Callable[[str], str], variable: Callable[[Variable], str],
           join: str = "") -> str:
    """Join parts with `literal(text)` and `variable(var)` of a generator's syntax."""
    return join.join(literal(p) if isinstance(p, str) else variable(p) for p in merged(parts))


# --- finding the variables ----------------------------------------------------------------------


def identifier(raw: str) -> str:
    name = re.sub(r"[^A-Za-z0-9]+", "_", raw).strip("_").upper() or "VALUE"
    return f"V_{name}" if name[0].isdigit() else name


def json_leaves(value: Any, path: JsonPath = ()) -> Iterator[tuple[JsonPath, str]]:
    """Every string in a JSON document with its path."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from json_leaves(item, (*path, str(key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from json_leaves(item, (*path, index))
    elif isinstance(value, str):
        yield path, value


ID_KEY = re.compile(r"(^|_)id$|[a-z]Id$|^uuid$", re.I)


def body_values(document: Any) -> list[tuple[JsonPath, str]]:
    """The candidate values of a JSON document, in one walk: every string of at least
    MIN_VALUE_LENGTH characters, then every integer under an id-like key (a created id may
    be short: 42; not 1-9, which page=1 would match) as text."""
    strings: list[tuple[JsonPath, str]] = []
    ids: list[tuple[JsonPath, str]] = []

    def walk(value: Any, path: JsonPath) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                name = str(key)
                if isinstance(item, int) and not isinstance(item, bool) and ID_KEY.search(name):
                    text = str(item)
                    if len(text) >= 2:
                        ids.append(((*path, name), text))
                else:
                    walk(item, (*path, name))
        elif isinstance(value, list):
            for index, item in enumerate(value):
                walk(item, (*path, index))
        elif isinstance(value, str) and len(value) >= MIN_VALUE_LENGTH:
            strings.append((path, value))

    walk(document, ())
    return strings + ids


def handed_out(flow: Flow, parsed: dict[bytes, list[tuple[JsonPath, str]]] | None = None) -> Iterator[tuple[str, JsonPath, str]]:
    """Candidate values of a response: (value, json_path, header). `parsed` remembers the
    values of bodies already walked (a journey often gets the same body many times)."""
    response = flow.response
    if response is None:
        return
    for name, value in response.headers:
        low = name.lower()
        if low not in NOT_VALUE_HEADERS and not low.startswith("access-control-") and len(value) >= MIN_VALUE_LENGTH:
            yield value, (), low
    if "json" in response.content_type.lower() and response.body:
        values = parsed.get(response.body) if parsed is not None else None
        if values is None:
            try:
                values = body_values(orjson.loads(response.body))
            except orjson.JSONDecodeError:
                values = []
            if parsed is not None:
                parsed[response.body] = values
        for path, value in values:
            yield value, path, ""


def sent_text(flow: Flow) -> str:
    """What a request sends that an exported request repeats: URL, kept headers, body."""
    headers = "\n".join(f"{n}: {v}" for n, v in kept_headers(flow.request.headers))
    return "\n".join((flow.request.url, headers, body_text(flow.request.body) or ""))


def sent_secrets(flow: Flow) -> Iterator[tuple[str, str]]:
    """(name, value) of the secrets a request sends: secret headers, and JSON, form and
    query fields with secret names."""
    for name, value in kept_headers(flow.request.headers):
        if name.lower() in SECRET_HEADERS and value:
            yield name, value
    for name, value in parse_qsl(urlsplit(flow.request.url).query):
        if SECRET_NAME.search(name) and value:
            yield name, value
    text = body_text(flow.request.body) if flow.request.body else None
    if not text:
        return
    fields: list[tuple[str, str]] = []
    if flow.request.content_type.lower().startswith("application/x-www-form-urlencoded"):
        fields = parse_qsl(text)
    else:
        try:
            document = orjson.loads(text)
        except orjson.JSONDecodeError:
            document = None
        fields = [(str(path[-1]), value) for path, value in json_leaves(document) if path]
    for name, value in fields:
        if SECRET_NAME.search(name) and value:
            yield name, value


class _Names:
    def __init__(self) -> None:
        self.taken: set[str] = set()
        self.next_suffix: dict[str, int] = {}  # where to go on trying a base: 100 ids are not 5,000 tries

    def claim(self, raw: str) -> str:
        base = identifier(raw)
        name, n = base, self.next_suffix.get(base, 2)
        while name in self.taken:
            name, n = f"{base}_{n}", n + 1
        self.next_suffix[base] = n
        self.taken.add(name)
        return name


def plan(flows: Sequence[Flow]) -> Plan:
    """The variables a journey's exported requests need (see the module docstring)."""
    flows = list(flows)
    if not flows:
        return Plan(flows)
    names = _Names()
    sent = _Sent([sent_text(f) for f in flows])
    variables = _response_variables(flows, sent, names)
    seen_values = {v.value for v in variables}
    response_values = [v.value for v in variables if v.kind == "response"]
    for flow in flows:
        for name, value in sent_secrets(flow):
            if value in seen_values or len(value) < MIN_SECRET_LENGTH:
                continue
            # A bearer token handed out by a response is already a response variable (a part
            # of this header); a recorded static one comes from the environment.
            if any(handed in value for handed in response_values):
                continue
            seen_values.add(value)
            variables.append(Variable(names.claim(name), value, "env", secret=True))

    # Each request's candidates from where the values were found: no scan of every
    # variable against every request.
    candidates: dict[int, list[Variable]] = {}
    for variable in variables:
        for index in sent.flows_sending(variable.value):
            if variable.kind == "env" or variable.step < index:
                candidates.setdefault(index, []).append(variable)
    current = Plan(flows, variables, sent_texts=sent.texts, candidates_by_step=candidates)
    used = _used(current)
    # Leaving out variables no request contains changes no request's parts: reuse them.
    return Plan(flows, [v for v in variables if v.kind == "env" and v.name == "BASE_URL" or v in used],
                current.parts_cache, sent.texts)


class _Sent:
    """The text every request of the journey sends (`sent_text`), and which requests send
    a value: one scan of the joined text per distinct value, not one per request."""

    def __init__(self, texts: list[str]) -> None:
        self.texts = texts
        self.joined = "\n".join(texts)
        self.starts: list[int] = []
        at = 0
        for text in texts:
            self.starts.append(at)
            at += len(text) + 1
        self.memo: dict[str, list[int]] = {}

    def flows_sending(self, value: str) -> list[int]:
        """The indexes of the requests whose text holds `value`, ascending."""
        found = self.memo.get(value)
        if found is not None:
            return found
        found = []
        where = find(self.joined, value)
        while where != -1:
            index = bisect_right(self.starts, where) - 1
            end = self.starts[index] + len(self.texts[index])
            if where + len(value) <= end:  # inside one request's text, not across the joint
                found.append(index)
                if index + 1 == len(self.texts):
                    break
                where = find(self.joined, value, self.starts[index + 1])
            else:
                where = find(self.joined, value, where + 1)
        self.memo[value] = found
        return found


def _response_variables(flows: list[Flow], sent: _Sent, names: _Names) -> list[Variable]:
    """BASE_URL, then every value a response hands out that a later request sends back and
    no request up to that response sent (an echo is no correlation)."""
    variables: list[Variable] = [Variable(names.claim("BASE_URL"), base_url(flows), "env")]
    seen_values: set[str] = {variables[0].value}
    parsed: dict[bytes, list[tuple[JsonPath, str]]] = {}
    for index, flow in enumerate(flows):
        for value, path, header in handed_out(flow, parsed):
            if value in seen_values:
                continue
            sending = sent.flows_sending(value)
            if not sending or sending[0] <= index:
                continue
            seen_values.add(value)
            raw = header or next((str(k) for k in reversed(path) if isinstance(k, str)), "value")
            variables.append(Variable(names.claim(raw), value, "response", bool(SECRET_NAME.search(raw)),
                                      index, path, header))
    return variables


def base_url(flows: Sequence[Flow]) -> str:
    """The origin most requests go to (the earliest of equals): the application's."""
    origins = Counter(f"{u.scheme}://{u.netloc}" for u in (urlsplit(f.request.url) for f in flows))
    return max(origins, key=lambda o: origins[o])  # a Counter keeps first-seen order: ties go to the earliest


def _used(current: Plan) -> set[Variable]:
    """The variables that some request's parts actually contain."""
    used: set[Variable] = set()
    for index in range(len(current.flows)):
        parts = current.request(index)
        for piece in [*parts.url, *(p for _, ps in parts.headers for p in ps), *(parts.body or [])]:
            if isinstance(piece, Variable):
                used.add(piece)
    return used


def dedupe(flows: Sequence[Flow]) -> list[Flow]:
    """The first flow of each method and URL (the spec's pass for Postman and Playwright API),
    and a repeat whose response hands out a value a later request sends back: a second
    `POST /api/notes` creates a second note the next steps read, and without it that note's
    recorded id would be printed, and not found tomorrow."""
    flows = list(flows)
    keys = [(flow.request.method.upper(), flow.request.url) for flow in flows]
    if len(set(keys)) == len(keys):
        return flows
    # Which responses hand out values later requests send (the first half of `plan`).
    found = _response_variables(flows, _Sent([sent_text(f) for f in flows]), _Names())
    handing_out = {v.step for v in found if v.kind == "response"}
    seen: set[tuple[str, str]] = set()
    out = []
    for index, (flow, key) in enumerate(zip(flows, keys, strict=True)):
        if key not in seen or index in handing_out:
            seen.add(key)
            out.append(flow)
    return out
