"""cURL: a bash script, one curl command per flow, each status checked.

`set -euo pipefail`; cookies live in a jar for the run (the recorded ones are never sent, as
with a browser the session starts fresh); every value the app hands out is read from the
live response with
`python3 -c` (JSON bodies) or `sed` (headers), never with jq, into a shell variable; secrets
and the base URL are `${VAR:-recorded}` at the top, so the environment overrides them.
"""

from __future__ import annotations

import base64

import orjson

from ghost_addons.model import Flow
from plugins.journeys.export.assertions import KeyCheck, key_checks
from plugins.journeys.export.common import banner, one_line
from plugins.journeys.export.correlation import Part, Variable, plan, render
from plugins.journeys.export.model import JourneyExport

BODY_LIMIT = 4096

PRELUDE = r"""set -euo pipefail

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

check_status() {  # step, expected, actual
  if [ "$3" != "$2" ]; then
    echo "step $1: expected status $2, got $3" >&2
    exit 1
  fi
}

check_redirected() {  # step, actual: a recorded redirect was followed (-L) to a success
  if [ "$2" -ge 400 ] || [ "$2" -lt 200 ]; then
    echo "step $1: expected the redirect to end in success, got $2" >&2
    exit 1
  fi
}

json_value() {  # file, JSON list of keys: the value there, without jq
  python3 -c 'import json, sys
value = json.load(open(sys.argv[1], encoding="utf-8"))
for key in json.loads(sys.argv[2]):
    value = value[key]
print(value if isinstance(value, str) else json.dumps(value))' "$1" "$2"
}

header_value() {  # file, lowercase header name: its last value
  sed -n 's/^'"$2"':[[:space:]]*//Ip' "$1" | tr -d '\r' | tail -n 1
}
"""

CHECK_KEYS = r"""
check_keys() {  # step, file, JSON list of keys, object|each: the JSON body (or each element) has them
  if ! python3 -c 'import json, sys
body = json.load(open(sys.argv[1], encoding="utf-8"))
keys = json.loads(sys.argv[2])
items = body if sys.argv[3] == "each" else [body]
sys.exit(0 if isinstance(items, list) and (sys.argv[3] == "each" or isinstance(body, dict))
         and all(isinstance(i, dict) and all(k in i for k in keys) for i in items) else 1)' "$2" "$3" "$4"; then
    echo "step $1: the response body lacks some of the keys $3" >&2
    exit 1
  fi
}
"""


def shell_quote(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


def word(parts: list[Part]) -> str:
    """One shell word: quoted literals and double-quoted variables, side by side."""
    if not parts:
        return "''"
    return render(parts, shell_quote, lambda v: f'"${{{v.name}}}"')


def generate(export: JourneyExport) -> str:
    p = plan(export.flows())
    checks = [None if _redirect(f) else c for f, c in zip(p.flows, key_checks(p.flows, export.flows()), strict=True)]
    lines = ["#!/usr/bin/env bash", f"# {banner(export, len(p.flows))}",
             "# Run: bash THIS_FILE (override any variable below from the environment).",
             PRELUDE + (CHECK_KEYS if any(checks) else "")]
    for variable in p.env:
        lines.append(_default(variable))
    for index, flow in enumerate(p.flows):
        number = index + 1
        parts = p.request(index)
        status = flow.response.status_code if flow.response else 0
        redirect = 300 <= status < 400
        args = [f'-o "$work/body-{number}"', f'-D "$work/headers-{number}"', "-w '%{http_code}'",
                '-b "$work/cookies" -c "$work/cookies"']
        method = flow.request.method.upper()
        if redirect:
            args.append("-L")
        if method == "HEAD":
            args.append("--head")
        elif method != "GET" or flow.request.body:
            args.append(f"-X {shell_quote(method)}")
        args.append(word(parts.url))
        for name, value in parts.headers:
            args.append("-H " + word([f"{name}: ", *value]))
        lines.append(f"\n# {one_line(p.title(index))}")
        if flow.request.body:
            if parts.body is None:
                encoded = base64.b64encode(flow.request.body).decode()
                lines.append(f"printf '%s' '{encoded}' | base64 -d > \"$work/request-{number}\"")
                args.append(f'--data-binary @"$work/request-{number}"')
            else:
                body = parts.body
                if len(flow.request.body) > BODY_LIMIT:
                    body = _truncated(body)
                    lines.append(f"# the body was cut at {BODY_LIMIT} bytes (truncated)")
                args.append("--data-binary " + word(body))
        lines.append('status="$(curl -sS ' + " \\\n  ".join(args) + ')"')
        if redirect:
            lines.append(f"check_redirected {number} \"$status\"  # recorded {status}, followed with -L")
        else:
            lines.append(f'check_status {number} {status} "$status"')
        key_check = checks[index]
        if key_check is not None:
            lines.append(_check_keys(key_check, number))
        for variable in p.extracted_after(index):
            lines.append(_extract(variable, number))
    lines.append('\necho "journey passed: all steps answered as recorded"')
    return "\n".join(lines) + "\n"


def _redirect(flow: Flow) -> bool:
    """A recorded redirect is followed (-L): the body checked would be another response's."""
    return flow.response is not None and 300 <= flow.response.status_code < 400


def _check_keys(check: KeyCheck, number: int) -> str:
    keys = "[" + ", ".join(_json_key(k) for k in check.keys) + "]"
    return f'check_keys {number} "$work/body-{number}" {shell_quote(keys)} {"each" if check.each else "object"}'


def _extract(variable: Variable, number: int) -> str:
    comment = f"# {variable.name}: handed out by step {number} ({variable.describe()}), sent back by later steps"
    if variable.header:
        return f'{comment}\n{variable.name}="$(header_value "$work/headers-{number}" {shell_quote(variable.header)})"'
    keys = "[" + ", ".join(_json_key(k) for k in variable.json_path) + "]"
    return f'{comment}\n{variable.name}="$(json_value "$work/body-{number}" {shell_quote(keys)})"'


def _json_key(key: str | int) -> str:
    return orjson.dumps(key).decode()


def _default(variable: Variable) -> str:
    """`NAME="${NAME:-recorded}"`: the environment wins, the recorded value is the default."""
    name = variable.name
    if "}" in variable.value:  # would end ${...}; the same meaning, spelled out
        return f'{name}="${{{name}:-}}"; [ -n "${name}" ] || {name}={shell_quote(variable.value)}'
    return f'{name}="${{{name}:-{_double_quoted(variable.value)}}}"'


def _double_quoted(text: str) -> str:
    """Text inside "..." in bash: $, `, \\ and " escaped."""
    out = text
    for char in ("\\", "$", "`", '"'):
        out = out.replace(char, "\\" + char)
    return out


def _truncated(parts: list[Part]) -> list[Part]:
    out: list[Part] = []
    size = 0
    for part in parts:
        length = len(part.encode()) if isinstance(part, str) else len(part.value.encode())
        if size + length > BODY_LIMIT:
            if isinstance(part, str):
                out.append(part.encode()[: BODY_LIMIT - size].decode("utf-8", "ignore"))
            break
        out.append(part)
        size += length
    return out
