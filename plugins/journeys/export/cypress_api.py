"""Cypress API: a JavaScript test of the journey as a chain of `cy.request()` calls.

One `describe`/`it`; each flow is a `cy.request({...})` (none left out as a repeat: a second
POST creates a second resource the next steps may read back) with its headers
and body, then `expect(response.status).to.eq(N)` and the JSON keys the recorded response
body had (see `assertions.py`). Redirects are not followed (`followRedirect: false`), so a
recorded 302 is checked as a 302; `failOnStatusCode: false` is added where a 4xx or 5xx was
recorded, so that status is what the assertion checks.

Values the app hands out are saved from the live response into variables of the test;
Cypress evaluates a command's arguments when it queues it, so a request that sends such a
value is built once the earlier responses are in: `cy.wrap(null).then(() => cy.request(...))`.
Secrets and the base URL are `Cypress.env()` with the recorded value as the default.
"""

from __future__ import annotations

import base64

import orjson

from plugins.journeys.export.assertions import KeyCheck, key_checks
from plugins.journeys.export.common import banner, js_expression, js_string, one_line
from plugins.journeys.export.correlation import Part, RequestParts, Variable, plan
from plugins.journeys.export.model import JourneyExport


def key_assertion(check: KeyCheck, subject: str, indent: str) -> list[str]:
    """chai's `include.all.keys` on the body, or on each element of an array body."""
    keys = ", ".join(js_string(k) for k in check.keys)
    if check.each:
        return [f'{indent}expect({subject}).to.be.an("array");',
                f"{indent}{subject}.forEach((item) => expect(item).to.include.all.keys({keys}));"]
    return [f"{indent}expect({subject}).to.include.all.keys({keys});"]


def generate(export: JourneyExport) -> str:
    p = plan(export.flows())
    checks = key_checks(p.flows, export.flows())
    lines = [f"// {banner(export, len(p.flows))}",
             "// Run: npx cypress run --spec THIS_FILE (override any constant below with --env NAME=value)."]
    for variable in p.env:
        lines.append(f"const {variable.name} = Cypress.env({js_string(variable.name)}) || {js_string(variable.value)};")
    lines += ["", f"describe({js_string(export.journey.name)}, () => {{",
              '  it("answers every recorded request as it did", () => {']
    extracted = [v for v in p.variables if v.kind == "response"]
    if extracted:
        lines.append("    let " + ", ".join(v.name for v in extracted) + ";")
    for index, flow in enumerate(p.flows):
        number = index + 1
        parts = p.request(index)
        method = flow.request.method.upper()
        status = flow.response.status_code if flow.response else 0
        options = [f"method: {js_string(method)}", f"url: {js_expression(parts.url)}",
                   "headers: {" + ", ".join(f"{js_string(n)}: {js_expression(v)}" for n, v in parts.headers) + "}"]
        if flow.request.body:
            if parts.body is None:
                encoded = js_string(base64.b64encode(flow.request.body).decode())
                options.append(f'body: Cypress.Buffer.from({encoded}, "base64")')
            else:
                options.append(f"body: {js_expression(parts.body)}")
        options.append("followRedirect: false")
        if status >= 400:
            options.append("failOnStatusCode: false")
        uses_response_values = any(isinstance(part, Variable) and part.kind == "response" for part in _pieces(parts))
        lines.append(f"\n    // {one_line(p.title(index))}")
        if uses_response_values:  # sent once the values it needs have been read from earlier responses
            lines.append("    cy.wrap(null).then(() =>")
            lines += _request(options, "      ", ",")
            lines.append("    ).then((response) => {")
        else:
            lines += _request(options, "    ", ".then((response) => {")
        lines.append(f"      expect(response.status, {js_string(f'step {number}: {method}')}).to.eq({status});")
        check = checks[index]
        if check is not None:
            lines += key_assertion(check, "response.body", "      ")
        for variable in p.extracted_after(index):
            lines += _extract(variable, number)
        lines.append("    });")
    lines += ["  });", "});"]
    return "\n".join(lines) + "\n"


def _request(options: list[str], indent: str, after: str) -> list[str]:
    """`cy.request({...})`, one option a line, followed on its last line by `after`."""
    return [f"{indent}cy.request({{", *(f"{indent}  {option}," for option in options), f"{indent}}}){after}"]


def _pieces(parts: RequestParts) -> list[Part]:
    return [*parts.url, *(p for _, ps in parts.headers for p in ps), *(parts.body or [])]


def _extract(variable: Variable, number: int) -> list[str]:
    comment = f"      // {variable.name}: handed out by step {number} ({variable.describe()}), sent back by later steps"
    if variable.header:  # Cypress gives header names in lowercase
        return [comment, f"      {variable.name} = response.headers[{js_string(variable.header)}];"]
    path = "".join(f"[{orjson.dumps(k).decode()}]" for k in variable.json_path)
    return [comment, f"      {variable.name} = String(response.body{path});"]
