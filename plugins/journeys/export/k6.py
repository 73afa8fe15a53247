"""k6: a load-test script of the journey, one VU and one iteration by default.

Each flow is an `http.<method>()` call (`http.request()` for a GET with a body) followed by a
`check()` of its status; a `checks` threshold makes a failed check fail `k6 run`. Redirects
are not followed (`maxRedirects: 0`), so a recorded 302 is checked as a 302. Values the app
hands out are read from `res.json()` or the response headers into variables; secrets and
the base URL come from `__ENV` with the recorded value as the default.
"""

from __future__ import annotations

import base64

import orjson

from plugins.journeys.export.assertions import KeyCheck, key_checks
from plugins.journeys.export.common import banner, js_expression, js_string, one_line
from plugins.journeys.export.correlation import Variable, plan
from plugins.journeys.export.model import JourneyExport

METHODS = {"GET": "get", "POST": "post", "PUT": "put", "PATCH": "patch", "DELETE": "del",
           "HEAD": "head", "OPTIONS": "options"}
NO_BODY = ("get", "head")



HAS_KEYS = [
    "// The JSON keys the recorded response had (of the body, or of each element when each is true).",
    "function hasKeys(res, keys, each) {",
    "  let body;",
    "  try {",
    "    body = res.json();",
    "  } catch (e) {",
    "    return false;",
    "  }",
    "  const objects = each ? body : [body];",
    "  return Array.isArray(objects) && (each || !Array.isArray(body)) &&",
    '    objects.every((o) => o !== null && typeof o === "object" && keys.every((k) => k in o));',
    "}",
    "",
]


def describe_keys(check: KeyCheck) -> str:
    keys = ", ".join(check.keys)
    return f"keys {keys} in each element" if check.each else f"keys {keys}"


def generate(export: JourneyExport) -> str:
    p = plan(export.flows())
    checks = key_checks(p.flows, export.flows())
    binary = any(f.request.body and p.request(i).body is None for i, f in enumerate(p.flows))
    lines = [f"// {banner(export, len(p.flows))}", "// Run: k6 run THIS_FILE (override any constant below with -e NAME=value).",
             'import http from "k6/http";', 'import { check, sleep } from "k6";']
    if binary:
        lines.append('import encoding from "k6/encoding";')
    lines += [
        "",
        "export const options = {",
        "  vus: 1,",
        "  iterations: 1,",
        "  maxRedirects: 0, // each recorded status is checked as it was, redirects included",
        '  thresholds: { checks: ["rate==1.0"] }, // a failed status check fails the run',
        "};",
        "",
    ]
    for variable in p.env:
        lines.append(f"const {variable.name} = __ENV.{variable.name} || {js_string(variable.value)};")
    lines += [
        "",
        "function header(res, name) {",
        "  for (const key in res.headers) {",
        "    if (key.toLowerCase() === name) return res.headers[key];",
        "  }",
        "  return undefined;",
        "}",
        "",
        *(HAS_KEYS if any(checks) else []),
        "export default function () {",
        "  let res;",
    ]
    extracted = [v for v in p.variables if v.kind == "response"]
    if extracted:
        lines.append("  let " + ", ".join(v.name for v in extracted) + ";")
    for index, flow in enumerate(p.flows):
        number = index + 1
        parts = p.request(index)
        if index:
            lines.append("  sleep(1);")
        lines.append(f"\n  // {one_line(p.title(index))}")
        url = js_expression(parts.url)
        params = "{ headers: {" + ", ".join(f"{js_string(n)}: {js_expression(v)}" for n, v in parts.headers) + "} }"
        if not flow.request.body:
            body = "null"
        elif parts.body is None:
            body = f'encoding.b64decode({js_string(base64.b64encode(flow.request.body).decode())}, "std", "b")'
        else:
            body = js_expression(parts.body)
        method = flow.request.method.upper()
        function = METHODS.get(method)
        if function is None or (function in NO_BODY and flow.request.body):
            lines.append(f"  res = http.request({js_string(method)}, {url}, {body}, {params});")
        elif function in NO_BODY:
            lines.append(f"  res = http.{function}({url}, {params});")
        else:
            lines.append(f"  res = http.{function}({url}, {body}, {params});")
        status = flow.response.status_code if flow.response else 0
        name = js_string(f"step {number}: {method} status is {status}")
        key_check = checks[index]
        if key_check is None:
            lines.append(f"  check(res, {{ {name}: (r) => r.status === {status} }});")
        else:
            lines += ["  check(res, {", f"    {name}: (r) => r.status === {status},",
                      f"    {js_string(f'step {number}: body has {describe_keys(key_check)}')}: "
                      f"(r) => hasKeys(r, [{', '.join(js_string(k) for k in key_check.keys)}], {str(key_check.each).lower()}),",
                      "  });"]
        for variable in p.extracted_after(index):
            lines.append(_extract(variable, number))
    lines.append("}")
    return "\n".join(lines) + "\n"


def _extract(variable: Variable, number: int) -> str:
    comment = f"  // {variable.name}: handed out by step {number} ({variable.describe()}), sent back by later steps"
    if variable.header:
        return f"{comment}\n  {variable.name} = header(res, {js_string(variable.header)});"
    path = "".join(f"[{orjson.dumps(k).decode()}]" for k in variable.json_path)
    return f"{comment}\n  {variable.name} = res.json(){path};"
