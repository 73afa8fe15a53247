"""Per-flow code generators: cURL, fetch(), Python requests, HTTPie, Markdown.

Each is ``generate(flow) -> str``. All of them leave out connection-level headers and proxy
credentials (``SKIPPED_HEADERS``) that mean nothing when the request is sent again. The
snippets send the captured body bytes as they were (a signed JSON body stays signed: no
re-serialising) and add no Content-Type the request did not have; a multipart form is
rebuilt as its parts (``-F``, ``--multipart``, ``FormData``), which choose their own boundary.
"""

from __future__ import annotations

import base64
import json
import shlex
from collections.abc import Callable
from dataclasses import dataclass
from email.parser import BytesParser
from email.policy import HTTP
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


@dataclass(frozen=True, slots=True)
class FormPart:
    name: str
    value: bytes
    filename: str | None
    content_type: str | None


def form_parts(flow: Flow) -> list[FormPart] | None:
    """The parts of a multipart/form-data body; None when the body is not one."""
    content_type = flow.request.content_type
    if not content_type.lower().startswith("multipart/form-data") or not flow.request.body:
        return None
    message = BytesParser(policy=HTTP).parsebytes(
        b"Content-Type: " + content_type.encode("latin-1", "replace") + b"\r\n\r\n"
        + flow.request.body)
    if not message.is_multipart():
        return None
    parts = []
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            return None
        declared = part.get("content-type")
        parts.append(FormPart(name, part.get_payload(decode=True) or b"", part.get_filename(),
                              str(declared) if declared else None))
    return parts


def _without_type(headers: Headers, parts: list[FormPart] | None) -> Headers:
    """A multipart form's Content-Type names the captured boundary: the client sets its own."""
    if parts is None:
        return headers
    return [(k, v) for k, v in headers if k.lower() != "content-type"]



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
    parts_of_form = form_parts(flow)
    parts = ["curl " + sh_quote(req.url)]
    if req.method == "HEAD":
        parts.append("--head")
    elif req.method != "GET" or req.body:
        parts.append(f"-X {sh_quote(req.method) if not req.method.isalpha() else req.method}")
    headers = _without_type(replay_headers(req.headers), parts_of_form)
    for name, value in headers:
        parts.append("-H " + sh_quote(f"{name}: {value}" if value else f"{name};"))
    comment = ""
    if parts_of_form is not None:
        for part in parts_of_form:
            if part.filename is not None:
                kind = f";type={part.content_type}" if part.content_type else ""
                parts.append("-F " + sh_quote(f"{part.name}=@{part.filename}{kind}"))
                comment = "# Form parts with @file read those files: supply them\n"
            else:
                parts.append("--form-string " + sh_quote(
                    f"{part.name}={part.value.decode('utf-8', 'surrogateescape')}"))
    elif req.body:
        if not any(k.lower() == "content-type" for k, _ in headers):
            parts.append("-H 'Content-Type:'")  # curl would add a form Content-Type
        text = text_body(flow)
        if text is not None and "\x00" not in text:
            parts.append("--data-binary " + sh_quote(text))  # as they are, newlines and all
        else:  # an argument cannot hold a NUL byte: the bytes come through a pipe
            encoded = base64.b64encode(req.body).decode("ascii")
            parts.append("--data-binary @-")
            comment += f"printf %s {encoded} | base64 -d | "
    return comment + " \\\n  ".join(parts)


# --- fetch() ---------------------------------------------------------------------------------


def _js(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)


def to_fetch(flow: Flow) -> str:
    req = flow.request
    parts_of_form = form_parts(flow)
    options: list[str] = []
    before: list[str] = []
    if req.method != "GET":
        options.append(f"  method: {_js(req.method)}")
    seen: set[str] = set()
    header_lines = []
    for name, value in _without_type(replay_headers(req.headers), parts_of_form):
        if name.lower() in seen:
            continue  # multi-value headers: the first value only
        seen.add(name.lower())
        header_lines.append(f"    {_js(name)}: {_js(value)}")
    if header_lines:
        options.append("  headers: {\n" + ",\n".join(header_lines) + "\n  }")
    if parts_of_form is not None:
        before.append("const form = new FormData();")
        for part in parts_of_form:
            value = _js(part.value.decode("utf-8", "surrogateescape"))
            if part.filename is not None:
                kind = f", {{type: {_js(part.content_type)}}}" if part.content_type else ""
                before.append(f"form.append({_js(part.name)}, new Blob([{value}]{kind}), "
                              f"{_js(part.filename)});")
            else:
                before.append(f"form.append({_js(part.name)}, {value});")
        options.append("  body: form")
    elif req.body:
        # bytes, not a string: fetch adds no Content-Type to a Uint8Array, and JSON is sent
        # as captured (big integers and escapes intact)
        text = text_body(flow)
        if text is not None:
            options.append(f"  body: new TextEncoder().encode({_js(text)})")
        else:
            array = ", ".join(str(b) for b in req.body)
            options.append(f"  body: new Uint8Array([{array}])")
    prefix = "\n".join(before) + "\n" if before else ""
    if not options:
        return f"{prefix}fetch({_js(req.url)});"
    return f"{prefix}fetch({_js(req.url)}, {{\n" + ",\n".join(options) + "\n});"


# --- Python requests -------------------------------------------------------------------------


def to_python(flow: Flow) -> str:
    req = flow.request
    parts_of_form = form_parts(flow)
    lines = ["import requests", "", f"url = {req.url!r}"]
    args = ["url"]
    merged: dict[str, str] = {}
    for name, value in _without_type(replay_headers(req.headers), parts_of_form):
        if name in merged:
            merged[name] += ("; " if name.lower() == "cookie" else ", ") + value
        else:
            merged[name] = value
    if merged:
        lines.append("headers = {")
        lines.extend(f"    {k!r}: {v!r}," for k, v in merged.items())
        lines.append("}")
        args.append("headers=headers")
    if parts_of_form is not None:
        lines.append("files = [")
        for part in parts_of_form:
            lines.append(f"    ({part.name!r}, ({part.filename!r}, {part.value!r}"
                         + (f", {part.content_type!r}" if part.content_type else "") + ")),")
        lines.append("]")
        args.append("files=files")
    elif req.body:
        text = text_body(flow)
        # the captured bytes as they are: requests adds no Content-Type to bytes
        lines.append(f"data = {text!r}.encode('utf-8')" if text is not None and text.isprintable()
                     else f"data = {req.body!r}")
        args.append("data=data")
    call_args = ", ".join(args)
    method = req.method.lower()
    if method in PYTHON_METHODS and req.method == req.method.upper():
        lines.append(f"response = requests.{method}({call_args})")
    else:
        lines.append(f"response = requests.request({req.method!r}, {call_args})")
    lines += ["print(response.status_code)", "print(response.text)"]
    return "\n".join(lines) + "\n"


# --- HTTPie ----------------------------------------------------------------------------------

_HTTPIE_SPECIAL = set("[]\\:=@")


def to_httpie(flow: Flow) -> str:
    """``--ignore-stdin``: without it HTTPie reads stdin when it is not a terminal (``| bash``,
    CI) and fails."""
    req = flow.request
    parts_of_form = form_parts(flow)
    headers = _without_type(replay_headers(req.headers), parts_of_form)
    items: list[str] = []
    for name, value in headers:
        items.append(shlex.quote(f"{name}:{value}" if value else f"{name};"))
    options: list[str] = ["--ignore-stdin"]
    comment = ""
    if parts_of_form is not None:
        options.append("--multipart")
        for part in parts_of_form:
            if part.filename is not None:
                items.append(shlex.quote(f"{part.name}@{part.filename}"))
                comment = "# Form parts with @file read those files: supply them\n"
            else:
                name = part.name.replace("\\", "\\\\").replace("=", "\\=").replace(":", "\\:")
                items.append(shlex.quote(f"{name}={part.value.decode('utf-8', 'surrogateescape')}"))
    elif req.body:
        text = text_body(flow)
        if text is None:
            comment = "# Binary request body (not included)\n"
        else:
            options.append("--raw " + shlex.quote(text))  # the captured text, not re-serialised
            if not any(k.lower() == "content-type" for k, _ in headers):
                items.append(shlex.quote("Content-Type:"))  # HTTPie would add JSON's
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
    lines += _md_headers("Request Headers", replay_headers(req.headers))
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
