"""Postman: a collection v2.1 of the journey, one item per distinct method and URL.

Each item has a test asserting the recorded status; values the app hands out are set as
collection variables by the test script of the step that receives them and used as
`{{NAME}}` by later steps. Secrets and the base URL are collection variables whose value is
the recorded one (newman's `--env-var NAME=value` overrides them). Redirects are not
followed, so a recorded 302 is checked as a 302.
"""

from __future__ import annotations

import base64
import re
import uuid
from typing import Any

import orjson

from plugins.journeys.export.assertions import KeyCheck, key_checks
from plugins.journeys.export.common import banner
from plugins.journeys.export.correlation import Part, Variable, dedupe, plan, render
from plugins.journeys.export.model import JourneyExport

SCHEMA = "https://schema.getpostman.com/json/collection/v2.1.0/collection.json"
NAMESPACE = uuid.UUID("6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f")  # ids derive from the journey: reproducible


def template(parts: list[Part]) -> str:
    return render(parts, lambda s: s, lambda v: "{{" + v.name + "}}")


def url_object(raw: str) -> dict[str, Any]:
    """Postman's URL parts of a raw URL that may hold `{{VARIABLES}}`."""
    out: dict[str, Any] = {"raw": raw}
    rest = raw
    scheme = re.match(r"^([A-Za-z][A-Za-z0-9+.-]*)://", rest)
    if scheme:
        out["protocol"] = scheme.group(1)
        rest = rest[scheme.end():]
    rest, _, fragment = rest.partition("#")
    rest, has_query, query = rest.partition("?")
    authority, slash, path = rest.partition("/")
    host, colon, port = authority.rpartition(":") if re.search(r":\d+$", authority) else (authority, "", "")
    out["host"] = host.split(".") if scheme else [host]
    if colon:
        out["port"] = port
    if slash:  # an empty path list makes newman add a "/" after a host such as {{BASE_URL}}{{LOCATION}}
        out["path"] = path.split("/")
    if has_query:
        out["query"] = [
            {"key": key, "value": value if sep else None}
            for key, sep, value in (pair.partition("=") for pair in query.split("&"))
        ]
    if fragment:
        out["hash"] = fragment
    return out


def generate(export: JourneyExport) -> str:
    p = plan(dedupe(export.flows()))
    checks = key_checks(p.flows, export.flows())
    items = []
    for index, flow in enumerate(p.flows):
        number = index + 1
        parts = p.request(index)
        status = flow.response.status_code if flow.response else 0
        method = flow.request.method.upper()
        script = [f'pm.test("step {number}: {method} status is {status}", function () {{',
                  f"    pm.response.to.have.status({status});", "});"]
        key_check = checks[index]
        if key_check is not None:
            script += _key_test(key_check, number)
        for variable in p.extracted_after(index):
            script += _extract(variable)
        request: dict[str, Any] = {
            "method": method,
            "header": [{"key": name, "value": template(value)} for name, value in parts.headers],
            "url": url_object(template(parts.url)),
        }
        if flow.request.body:
            if parts.body is None:  # not text: base64, and said so
                request["body"] = {"mode": "raw", "raw": base64.b64encode(flow.request.body).decode(),
                                   "options": {"raw": {"language": "text"}}}
                request["description"] = "The recorded body was binary; it is shown base64-encoded."
            else:
                language = "json" if "json" in flow.request.content_type.lower() else "text"
                request["body"] = {"mode": "raw", "raw": template(parts.body),
                                   "options": {"raw": {"language": language}}}
        items.append({
            "name": p.title(index),
            "event": [{"listen": "test", "script": {"type": "text/javascript", "exec": script}}],
            "protocolProfileBehavior": {"followRedirects": False},
            "request": request,
        })
    journey = export.journey
    collection = {
        "info": {
            "_postman_id": str(uuid.uuid5(NAMESPACE, journey.id)),
            "name": journey.name,
            "description": banner(export, len(p.flows)),
            "schema": SCHEMA,
        },
        "item": items,
        "variable": [
            {"key": v.name, "value": v.value if v.kind == "env" else "", "type": "string",
             **({"description": f"handed out by step {v.step + 1} ({v.describe()})"} if v.kind == "response" else {})}
            for v in p.variables
        ],
    }
    return orjson.dumps(collection, option=orjson.OPT_INDENT_2).decode() + "\n"


def _key_test(check: KeyCheck, number: int) -> list[str]:
    """A test that the live body has the JSON keys every recorded response of the step had."""
    keys = ", ".join(orjson.dumps(k).decode() for k in check.keys)
    if check.each:
        name = orjson.dumps(f"step {number}: each element of the body has keys {', '.join(check.keys)}").decode()
        return [f"pm.test({name}, function () {{",
                "    const body = pm.response.json();",
                '    pm.expect(body).to.be.an("array");',
                f"    body.forEach(function (item) {{ pm.expect(item).to.include.all.keys({keys}); }});", "});"]
    name = orjson.dumps(f"step {number}: the body has keys {', '.join(check.keys)}").decode()
    return [f"pm.test({name}, function () {{", f"    pm.expect(pm.response.json()).to.include.all.keys({keys});", "});"]


def _extract(variable: Variable) -> list[str]:
    comment = f"// {variable.name}: handed out here ({variable.describe()}), sent back by later steps"
    if variable.header:
        read = f"pm.response.headers.get({orjson.dumps(variable.header).decode()})"
    else:
        read = "pm.response.json()" + "".join(f"[{orjson.dumps(k).decode()}]" for k in variable.json_path)
    return [comment, f'pm.collectionVariables.set("{variable.name}", {read});']
