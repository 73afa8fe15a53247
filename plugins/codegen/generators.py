"""Per-flow code generators: cURL, fetch(), Python requests, HTTPie, Markdown.

Each is ``generate(flow) -> str``. All of them leave out connection-level headers
(``SKIPPED_HEADERS``) that mean nothing when the request is sent again.
"""

from __future__ import annotations

import json
import pprint
import shlex
from collections.abc import Callable
from typing import Any

from ghost_addons.model import Flow, Headers, encode_body, format_time, is_text_content_type

SKIPPED_HEADERS = frozenset({
    "host", "content-length", "connection", "keep-alive", "transfer-encoding",
    "proxy-authorization", "proxy-authenticate", "proxy-connection", "te", "trailers",
    "upgrade",
})
MASKED_HEADERS = frozenset({"authorization", "cookie", "set-cookie", "x-api-key", "x-auth-token"})
MARKDOWN_BODY_LIMIT = 2000
PYTHON_METHODS = frozenset({"get", "post", "put", "patch", "delete", "head", "options"})


def replay_headers(headers: Headers) -> Headers:
    return [(k, v) for k, v in headers if k.lower() not in SKIPPED_HEADERS]


def sh_quote(value: str) -> str:
    """Single-quote for POSIX shells: ' becomes '\\''."""
    return "'" + value.replace("'", "'\\''") + "'"


def text_body(flow: Flow) -> str | None:
    """The request body as text, or None when there is none or it is binary."""
    body = flow.request.body
    if not body:
        return None
    text, encoding = encode_body(body, flow.request.content_type)
    return text if encoding == "utf8" else None


def is_json_type(content_type: str) -> bool:
    mime = content_type.split(";", 1)[0].strip().lower()
    return mime == "application/json" or mime.endswith("+json")


def _parse_json(text: str | None) -> tuple[bool, Any]:
    if text is None:
        return False, None
    try:
        return True, json.loads(text)
    except ValueError:
        return False, None


# --- cURL ----------------------------------------------------------------------------------


def to_curl(flow: Flow) -> str:
    req = flow.request
    parts = ["curl " + sh_quote(req.url)]
    body = text_body(flow)
    binary = bool(req.body) and body is None
    if req.method == "HEAD":
        parts.append("--head")
    elif req.method != "GET" or body:
        parts.append(f"-X {sh_quote(req.method) if not req.method.isalpha() else req.method}")
    for name, value in replay_headers(req.headers):
        parts.append("-H " + sh_quote(f"{name}: {value}" if value else f"{name};"))
    if body:
        parts.append("--data-raw " + sh_quote(body))
    command = " \\\n  ".join(parts)
    if binary:
        return "# Binary request body (base64-encoded, not included)\n" + command
    return command


# --- fetch() ---------------------------------------------------------------------------------


def _js(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)


def to_fetch(flow: Flow) -> str:
    req = flow.request
    options: list[str] = []
    if req.method != "GET":
        options.append(f"  method: {_js(req.method)}")
    seen: set[str] = set()
    header_lines = []
    for name, value in replay_headers(req.headers):
        if name.lower() in seen:
            continue  # multi-value headers: the first value only
        seen.add(name.lower())
        header_lines.append(f"    {_js(name)}: {_js(value)}")
    if header_lines:
        options.append("  headers: {\n" + ",\n".join(header_lines) + "\n  }")
    body = text_body(flow)
    if body is not None:
        ok, parsed = _parse_json(body) if is_json_type(req.content_type) else (False, None)
        if ok:
            pretty = json.dumps(parsed, indent=2, ensure_ascii=False).replace("\n", "\n  ")
            options.append(f"  body: JSON.stringify({pretty})")
        else:
            options.append(f"  body: {_js(body)}")
    if not options:
        return f"fetch({_js(req.url)});"
    return f"fetch({_js(req.url)}, {{\n" + ",\n".join(options) + "\n});"


# --- Python requests -------------------------------------------------------------------------


def to_python(flow: Flow) -> str:
    req = flow.request
    lines = ["import requests", "", f"url = {req.url!r}"]
    args = ["url"]
    merged: dict[str, str] = {}
    for name, value in replay_headers(req.headers):
        if name in merged:
            merged[name] += ("; " if name.lower() == "cookie" else ", ") + value
        else:
            merged[name] = value
    if merged:
        lines.append("headers = {")
        lines.extend(f"    {k!r}: {v!r}," for k, v in merged.items())
        lines.append("}")
        args.append("headers=headers")
    if req.body:
        body = text_body(flow)
        ok, parsed = _parse_json(body) if is_json_type(req.content_type) else (False, None)
        if ok:
            lines.append("json_body = " + pprint.pformat(parsed, indent=4, sort_dicts=False))
            args.append("json=json_body")
        elif body is not None:
            lines.append(f"data = {body!r}")
            args.append("data=data.encode('utf-8')")
        else:
            lines.append(f"data = {req.body!r}")
            args.append("data=data")
    call_args = ", ".join(args)
    method = req.method.lower()
    if method in PYTHON_METHODS:
        lines.append(f"response = requests.{method}({call_args})")
    else:
        lines.append(f"response = requests.request({req.method!r}, {call_args})")
    lines += ["print(response.status_code)", "print(response.text)"]
    return "\n".join(lines) + "\n"


# --- HTTPie ----------------------------------------------------------------------------------

_HTTPIE_SPECIAL = set("[]\\:=@")


def to_httpie(flow: Flow) -> str:
    req = flow.request
    items: list[str] = []
    for name, value in replay_headers(req.headers):
        items.append(shlex.quote(f"{name}:{value}" if value else f"{name};"))
    options: list[str] = []
    comment = ""
    if req.body:
        body = text_body(flow)
        if body is None:
            comment = "# Binary request body (base64-encoded, not included)\n"
        elif is_json_type(req.content_type):
            ok, parsed = _parse_json(body)
            if ok and isinstance(parsed, dict) and parsed and not any(
                    _HTTPIE_SPECIAL & set(key) for key in parsed):
                for key, value in parsed.items():
                    items.append(shlex.quote(f"{key}:={json.dumps(value, ensure_ascii=False)}"))
            elif ok:
                options.append("--raw " + shlex.quote(body))
            # JSON that does not parse is skipped
        else:
            options.append("--raw " + shlex.quote(body))
    words = ["http", *options, req.method, shlex.quote(req.url), *items]
    return comment + " ".join(words)


# --- Markdown --------------------------------------------------------------------------------


def mask_header(name: str, value: str) -> str:
    if name.lower() not in MASKED_HEADERS:
        return value
    if value.lower().startswith("bearer "):
        return "Bearer ***"
    return "***"


def _cell(value: str) -> str:
    return value.replace("\\", "\\\\").replace("|", "\\|").replace("\r", " ").replace("\n", " ")


def _fence_language(content_type: str) -> str:
    mime = content_type.split(";", 1)[0].strip().lower()
    if mime == "application/json" or mime.endswith("+json"):
        return "json"
    if mime in ("application/xml", "text/xml") or mime.endswith("+xml"):
        return "xml"
    if mime == "text/html":
        return "html"
    return ""


def _md_body(title: str, body: bytes, content_type: str) -> list[str]:
    if not body:
        return []
    text, encoding = encode_body(body, content_type)
    if encoding != "utf8" or (content_type and not is_text_content_type(content_type)):
        return [f"### {title}", "", f"*Binary {title.lower()}*", ""]
    if len(text) > MARKDOWN_BODY_LIMIT:
        text = text[:MARKDOWN_BODY_LIMIT] + "...(truncated)"
    fence = "````" if "```" in text else "```"
    return [f"### {title}", "", fence + _fence_language(content_type), text, fence, ""]


def _md_headers(title: str, headers: Headers) -> list[str]:
    if not headers:
        return []
    lines = [f"### {title}", "", "| Header | Value |", "| --- | --- |"]
    lines += [f"| {_cell(k)} | {_cell(mask_header(k, v))} |" for k, v in headers]
    return lines + [""]


def to_markdown(flow: Flow) -> str:
    req = flow.request
    resp = flow.response
    status = f"{resp.status_code} {resp.status_text}".strip() if resp else "No response"
    lines = [
        f"## {req.method} {_cell(req.path)}",
        "",
        "| Field | Value |",
        "| --- | --- |",
        f"| Method | {_cell(req.method)} |",
        f"| URL | {_cell(req.url)} |",
        f"| Status | {_cell(status)} |",
        f"| Duration | {flow.duration_ms:.1f} ms |",
        f"| Request size | {req.body_size} bytes |",
        f"| Response size | {resp.body_size if resp else 0} bytes |",
    ]
    if resp and resp.content_type:
        lines.append(f"| Content-Type | {_cell(resp.content_type)} |")
    if flow.error:
        lines.append(f"| Error | {_cell(flow.error)} |")
    lines.append("")
    lines += _md_headers("Request Headers", req.headers)
    lines += _md_body("Request Body", req.body, req.content_type)
    if resp:
        lines += _md_headers("Response Headers", resp.headers)
        lines += _md_body("Response Body", resp.body, resp.content_type)
    lines.append(f"*Captured by Ghost at {format_time(flow.started_at)}*")
    return "\n".join(lines) + "\n"


CODE_GENERATORS: dict[str, Callable[[Flow], str]] = {
    "curl": to_curl,
    "fetch": to_fetch,
    "python": to_python,
    "httpie": to_httpie,
    "markdown": to_markdown,
}
