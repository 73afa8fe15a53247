"""Playwright API: a TypeScript test of the journey with @playwright/test's `request`.

One `test()`; each distinct method and URL is a `request.<method>()` call with its headers
and data, then `expect(response.status()).toBe(N)`. Redirects are not followed
(`maxRedirects: 0`), so a recorded 302 is checked as a 302. Values the app hands out are read
from `response.json()` or `response.headers()`; secrets and the base URL come from
`process.env` with the recorded value as the default.
"""

from __future__ import annotations

import base64

import orjson

from plugins.journeys.export.assertions import KeyCheck, key_checks
from plugins.journeys.export.common import banner, js_expression, js_string, one_line
from plugins.journeys.export.correlation import Variable, dedupe, plan
from plugins.journeys.export.model import JourneyExport

METHODS = {"GET": "get", "POST": "post", "PUT": "put", "PATCH": "patch", "DELETE": "delete", "HEAD": "head"}



def generate(export: JourneyExport) -> str:
    p = plan(dedupe(export.flows()))
    checks = key_checks(p.flows, export.flows())
    lines = [f"// {banner(export, len(p.flows))}",
             "// Run: npx playwright test THIS_FILE (override any constant below from the environment).",
             'import { test, expect } from "@playwright/test";', ""]
    for variable in p.env:
        lines.append(f"const {variable.name} = process.env.{variable.name} || {js_string(variable.value)};")
    lines += ["", f"test({js_string(export.journey.name)}, async ({{ request }}) => {{"]
    extracted = [v for v in p.variables if v.kind == "response"]
    if extracted:
        lines.append("  let " + ", ".join(f"{v.name}: string" for v in extracted) + ";")
    for index, flow in enumerate(p.flows):
        number = index + 1
        parts = p.request(index)
        lines.append(f"\n  // {one_line(p.title(index))}")
        options = ["headers: {" + ", ".join(f"{js_string(n)}: {js_expression(v)}" for n, v in parts.headers) + "}"]
        if flow.request.body:
            if parts.body is None:
                options.append(f'data: Buffer.from({js_string(base64.b64encode(flow.request.body).decode())}, "base64")')
            else:
                options.append(f"data: {js_expression(parts.body)}")
        options.append("maxRedirects: 0")
        method = flow.request.method.upper()
        call = METHODS.get(method)
        opts = "{ " + ", ".join(options) + " }"
        if call is None:
            opts = "{ method: " + js_string(method) + ", " + opts[2:]
            call = "fetch"
        lines.append(f"  const response{number} = await request.{call}({js_expression(parts.url)}, {opts});")
        status = flow.response.status_code if flow.response else 0
        lines.append(f"  expect(response{number}.status(), {js_string(f'step {number}: {method}')}).toBe({status});")
        key_check = checks[index]
        if key_check is not None:
            lines += _key_expectations(key_check, number)
        for variable in p.extracted_after(index):
            lines.append(_extract(variable, number))
    lines.append("});")
    return "\n".join(lines) + "\n"


def _key_expectations(check: KeyCheck, number: int) -> list[str]:
    """The live body has the JSON keys every recorded response of the step had."""
    keys = "[" + ", ".join(js_string(k) for k in check.keys) + "]"
    label = js_string(f"step {number}: body keys")
    if check.each:
        return [f"  for (const item of await response{number}.json()) {{",
                f"    expect(Object.keys(item), {label}).toEqual(expect.arrayContaining({keys}));", "  }"]
    return [f"  expect(Object.keys(await response{number}.json()), {label}).toEqual(expect.arrayContaining({keys}));"]


def _extract(variable: Variable, number: int) -> str:
    comment = f"  // {variable.name}: handed out by step {number} ({variable.describe()}), sent back by later steps"
    if variable.header:
        return f"{comment}\n  {variable.name} = response{number}.headers()[{js_string(variable.header)}];"
    path = "".join(f"[{orjson.dumps(k).decode()}]" for k in variable.json_path)
    return f"{comment}\n  {variable.name} = String((await response{number}.json()){path});"
