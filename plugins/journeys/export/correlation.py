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

    @property
    def env(self) -> list[Variable]:
        return [v for v in self.variables if v.kind == "env"]

    def extracted_after(self, step: int) -> list[Variable]:
        """The response variables taken from flow `step`'s response."""
        return [v for v in self.variables if v.kind == "response" and v.step == step]

    def available(self, step: int) -> list[Variable]:
        """The variables flow `step`'s request may use: env ones and earlier responses'."""
        return [v for v in self.variables if v.kind == "env" or v.step < step]

    def request(self, step: int) -> RequestParts:
        return request_parts(self.flows[step], self.available(step))

    def title(self, step: int) -> str:
        """`Step N — METHOD /path`, with `{NAME}` where the path holds a variable (so a
        token or id in a URL is not printed in a comment or an item name either)."""
        flow = self.flows[step]
        path = urlsplit(flow.request.url).path or "/"
        shown = render(split(path, self.available(step)), lambda s: s, lambda v: "{" + v.name + "}")
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
    """`text` as literal strings and the variables whose values occur in it (longest first;
    a value occurs once per variable list, so each value maps to one variable)."""
    by_value = {v.value: v for v in reversed(variables) if v.value}
    if not by_value or not text:
        return [text] if text else []
    pattern = re.compile("|".join(_pattern(v) for v in sorted(by_value, key=len, reverse=True)))
    parts: list[Part] = []
    at = 0
    for match in pattern.finditer(text):
        if match.start() > at:
            parts.append(text[at:match.start()])
        parts.append(by_value[match.group()])
        at = match.end()
    if at < len(text):
        parts.append(text[at:])
    return parts


def _pattern(value: str) -> str:
    """A value as a regular expression; a number only as a whole word (id 42 is not in 1420)."""
    if value.isdigit():
        return rf"(?<![0-9A-Za-z]){value}(?![0-9A-Za-z])"
    return re.escape(value)


def occurs(value: str, text: str) -> bool:
    return (re.search(_pattern(value), text) is not None) if value.isdigit() else value in text


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


def json_ids(value: Any, path: JsonPath = ()) -> Iterator[tuple[JsonPath, str]]:
    """Every integer under an id-like key (`id`, `note_id`, `userId`), as text."""
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, int) and not isinstance(item, bool) and ID_KEY.search(str(key)):
                yield (*path, str(key)), str(item)
            else:
                yield from json_ids(item, (*path, str(key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from json_ids(item, (*path, index))


def handed_out(flow: Flow) -> Iterator[tuple[str, JsonPath, str]]:
    """Candidate values of a response: (value, json_path, header)."""
    response = flow.response
    if response is None:
        return
    for name, value in response.headers:
        low = name.lower()
        if low not in NOT_VALUE_HEADERS and not low.startswith("access-control-") and len(value) >= MIN_VALUE_LENGTH:
            yield value, (), low
    if "json" in response.content_type.lower() and response.body:
        try:
            document = orjson.loads(response.body)
        except orjson.JSONDecodeError:
            return
        for path, value in json_leaves(document):
            if len(value) >= MIN_VALUE_LENGTH:
                yield value, path, ""
        for path, value in json_ids(document):  # a created id may be short: 42 (not 1-9: page=1)
            if len(value) >= 2:
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

    def claim(self, raw: str) -> str:
        base = identifier(raw)
        name, n = base, 2
        while name in self.taken:
            name, n = f"{base}_{n}", n + 1
        self.taken.add(name)
        return name


def plan(flows: Sequence[Flow]) -> Plan:
    """The variables a journey's exported requests need (see the module docstring)."""
    flows = list(flows)
    if not flows:
        return Plan(flows)
    names = _Names()
    sent = [sent_text(f) for f in flows]
    variables: list[Variable] = [Variable(names.claim("BASE_URL"), base_url(flows), "env")]
    seen_values: set[str] = {variables[0].value}

    for index, flow in enumerate(flows):
        earlier = "\n".join(sent[: index + 1])
        later = sent[index + 1 :]
        for value, path, header in handed_out(flow):
            if value in seen_values or occurs(value, earlier) or not any(occurs(value, text) for text in later):
                continue
            seen_values.add(value)
            raw = header or next((str(k) for k in reversed(path) if isinstance(k, str)), "value")
            variables.append(Variable(names.claim(raw), value, "response", bool(SECRET_NAME.search(raw)),
                                      index, path, header))

    for flow in flows:
        for name, value in sent_secrets(flow):
            if value in seen_values or len(value) < MIN_SECRET_LENGTH:
                continue
            # A bearer token handed out by a response is already a response variable (a part
            # of this header); a recorded static one comes from the environment.
            if any(v.kind == "response" and v.value in value for v in variables):
                continue
            seen_values.add(value)
            variables.append(Variable(names.claim(name), value, "env", secret=True))

    used = _used(flows, variables)
    return Plan(flows, [v for v in variables if v.kind == "env" and v.name == "BASE_URL" or v in used])


def base_url(flows: Sequence[Flow]) -> str:
    """The origin most requests go to (the earliest of equals): the application's."""
    origins = [f"{u.scheme}://{u.netloc}" for u in (urlsplit(f.request.url) for f in flows)]
    return max(origins, key=lambda o: (origins.count(o), -origins.index(o)))


def _used(flows: Sequence[Flow], variables: Sequence[Variable]) -> set[Variable]:
    """The variables that some request's parts actually contain."""
    current = Plan(list(flows), list(variables))
    used: set[Variable] = set()
    for index in range(len(flows)):
        parts = current.request(index)
        for piece in [*parts.url, *(p for _, ps in parts.headers for p in ps), *(parts.body or [])]:
            if isinstance(piece, Variable):
                used.add(piece)
    return used


def dedupe(flows: Sequence[Flow]) -> list[Flow]:
    """The first flow of each method and URL (the spec's pass for Postman and Playwright API)."""
    seen: set[tuple[str, str]] = set()
    out = []
    for flow in flows:
        key = (flow.request.method.upper(), flow.request.url)
        if key not in seen:
            seen.add(key)
            out.append(flow)
    return out
