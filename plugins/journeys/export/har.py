"""HAR: HTTP Archive 1.2 of the journey's flows, in step order, with full request and
response data (text bodies as text, others base64), cookies, query strings and timings.

A HAR is a record, not a test: it keeps what was sent and answered, secrets included, as
every HAR tool expects (only Ghost's own `X-Ghost-Interaction` header is left out).
"""

from __future__ import annotations

import base64
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import orjson

from ghost_addons.model import Flow, Timings
from ghost_addons.pages import pages_of
from plugins.journeys.export.headers import header_value
from plugins.journeys.export.model import JourneyExport

CREATOR = {"name": "Ghost", "version": "1.0"}


def _headers(headers: list[tuple[str, str]]) -> list[dict[str, str]]:
    # Ghost's own correlation header never leaves Ghost (the proxy strips it before forwarding).
    return [{"name": n, "value": v} for n, v in headers if n.lower() != "x-ghost-interaction"]


def _request_cookies(headers: list[tuple[str, str]]) -> list[dict[str, str]]:
    out = []
    for name, value in headers:
        if name.lower() == "cookie":
            for pair in value.split(";"):
                key, sep, val = pair.strip().partition("=")
                if key and sep:
                    out.append({"name": key, "value": val})
    return out


def _response_cookies(headers: list[tuple[str, str]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for name, value in headers:
        if name.lower() != "set-cookie":
            continue
        jar: SimpleCookie = SimpleCookie()
        try:
            jar.load(value)
        except Exception:  # noqa: BLE001 - a cookie Python cannot parse: keep its name=value
            key, _, val = value.split(";", 1)[0].partition("=")
            out.append({"name": key.strip(), "value": val})
            continue
        for morsel in jar.values():
            cookie: dict[str, Any] = {"name": morsel.key, "value": morsel.value}
            for attr, key in (("path", "path"), ("domain", "domain"), ("expires", "expires")):
                if morsel[attr]:
                    cookie[key] = morsel[attr]
            cookie["httpOnly"] = bool(morsel["httponly"])
            cookie["secure"] = bool(morsel["secure"])
            out.append(cookie)
    return out


def _content(body: bytes, mime: str) -> dict[str, Any]:
    content: dict[str, Any] = {"size": len(body), "mimeType": mime}
    if body:
        try:
            content["text"] = body.decode("utf-8")
        except UnicodeDecodeError:
            content["text"] = base64.b64encode(body).decode()
            content["encoding"] = "base64"
    return content


def _timings(flow: Flow) -> tuple[float, dict[str, float]]:
    """(HAR's time, timings): the time is the sum of the measured phases, as waterfall
    viewers draw it; `connect` includes `ssl` (HAR 1.2), so `ssl` is not added again."""
    total = round(flow.duration_us / 1000, 3)
    t: Timings | None = flow.timings
    if t is not None and t.wait_us >= 0:
        def ms(us: int) -> float:
            return round(us / 1000, 3) if us >= 0 else -1

        connect = t.connect_us + t.tls_us if t.connect_us >= 0 and t.tls_us >= 0 else t.connect_us
        timings = {"blocked": -1, "dns": ms(t.dns_us), "connect": ms(connect), "ssl": ms(t.tls_us),
                   "send": max(ms(t.send_us), 0), "wait": ms(t.wait_us), "receive": max(ms(t.receive_us), 0)}
        measured = sum(value for name, value in timings.items() if name != "ssl" and value >= 0)
        return round(measured, 3), timings
    return total, {"blocked": -1, "dns": -1, "connect": -1, "ssl": -1, "send": 0, "wait": total, "receive": 0}


def entry(flow: Flow) -> dict[str, Any]:
    request, response = flow.request, flow.response
    assert response is not None
    total, timings = _timings(flow)
    req: dict[str, Any] = {
        "method": request.method,
        "url": request.url,
        "httpVersion": request.http_version or "HTTP/1.1",
        "cookies": _request_cookies(request.headers),
        "headers": _headers(request.headers),
        "queryString": [{"name": k, "value": v} for k, v in parse_qsl(urlsplit(request.url).query,
                                                                       keep_blank_values=True)],
        "headersSize": -1,
        "bodySize": len(request.body),
    }
    if request.body:
        text = _content(request.body, request.content_type or "application/octet-stream")
        req["postData"] = {"mimeType": text["mimeType"], "text": text.get("text", ""), "params": []}
        if text.get("encoding"):
            req["postData"]["comment"] = "base64"
    return {
        "startedDateTime": flow.started_at.isoformat().replace("+00:00", "Z"),
        "time": total,
        "request": req,
        "response": {
            "status": response.status_code,
            "statusText": response.status_text,
            "httpVersion": response.http_version or "HTTP/1.1",
            "cookies": _response_cookies(response.headers),
            "headers": _headers(response.headers),
            "content": _content(response.body, response.content_type or "application/octet-stream"),
            "redirectURL": header_value(response.headers, "location"),
            "headersSize": -1,
            "bodySize": len(response.body),
        },
        "cache": {},
        "timings": timings,
        **({"serverIPAddress": flow.server_addr.rsplit(":", 1)[0].strip("[]")} if flow.server_addr else {}),
        "_ghost_flow_id": flow.id,
    }


def generate(export: JourneyExport) -> str:
    journey = export.journey
    flows = export.flows()
    # the browser pages the flows belong to, titled with what the extension recorded
    titles = {step.interaction.page_url: step.interaction.page_title for step in export.steps
              if step.interaction is not None and step.interaction.page_title}
    pages, refs = pages_of(sorted(flows, key=lambda f: (f.started_at, f.id)), titles)
    entries = [entry(flow) for flow in flows]
    for flow, item in zip(flows, entries, strict=True):
        if flow.id in refs:
            item["pageref"] = refs[flow.id]
    document = {"log": {
        "version": "1.2",
        "creator": CREATOR,
        "comment": f'Journey "{journey.name}" ({journey.id})',
        "pages": pages,
        "entries": entries,
    }}
    return orjson.dumps(document, option=orjson.OPT_INDENT_2).decode() + "\n"
