"""A flaw and its clean twin for every built-in check, shared by the unit tests (a Flow
built from each case) and the end-to-end test (a target server that serves each case at
its own path, requested through a real mitmdump).

Every response starts from `GOOD_HEADERS`, the headers a well-configured site sends, and
a case changes only what makes its flaw, so a flaw triggers its own check and nothing
else, and a clean twin triggers nothing at all.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from ghost_addons.model import Flow, Request, Response

HTML = "text/html; charset=utf-8"
JSON = "application/json"
PAGE = "<html><head><title>Shop</title></head><body><p>ok</p></body></html>"
STRONG_SECRET = "k9$Jq2!vX7#pL4@wZ8^rT1&yN6*mB3%c"

GOOD_HEADERS: dict[str, str] = {
    "Strict-Transport-Security": "max-age=31536000; includeSubDomains",
    "Content-Security-Policy": "default-src 'self'; frame-ancestors 'self'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
    "Server": "shop",
}


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data, separators=(",", ":")).encode()).rstrip(b"=").decode()


def jwt(header: dict[str, Any], claims: dict[str, Any], secret: str | None) -> str:
    signing_input = f"{_b64(header)}.{_b64(claims)}"
    if secret is None:
        return signing_input + "."
    digest = hmac.new(secret.encode(), signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


HS256 = {"alg": "HS256", "typ": "JWT"}
EXP = {"sub": "alice", "exp": 4102444800}
GOOD_JWT = jwt(HS256, EXP, STRONG_SECRET)


@dataclass(frozen=True)
class Case:
    """One request and the response the target gives it."""

    path: str
    body: str = PAGE
    content_type: str = HTML
    status: int = 200
    method: str = "GET"
    query: str = ""
    request_headers: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str | None] = field(default_factory=dict)  # over GOOD_HEADERS; None removes
    set_cookie: str = ""

    def response_headers(self) -> list[tuple[str, str]]:
        merged = {**GOOD_HEADERS, **self.headers}
        out = [(k, v) for k, v in merged.items() if v is not None]
        out.append(("Content-Type", self.content_type))
        if self.set_cookie:
            out.append(("Set-Cookie", self.set_cookie))
        return out

    @property
    def target(self) -> str:
        return self.path + (f"?{self.query}" if self.query else "")


def pair(check: str, flaw: dict[str, Any], clean: dict[str, Any]) -> tuple[Case, Case]:
    return Case(path=f"/flaw/{check}", **flaw), Case(path=f"/clean/{check}", **clean)


def _form(inner: str) -> str:
    return f"<html><body><form method=\"post\" action=\"/cart\">{inner}<button>Buy</button></form></body></html>"


CASES: dict[str, tuple[Case, Case]] = {
    "hsts-missing": pair("hsts-missing", {"headers": {"Strict-Transport-Security": None}}, {}),
    "hsts-weak": pair("hsts-weak", {"headers": {"Strict-Transport-Security": "max-age=600"}},
                      {"headers": {"Strict-Transport-Security": "max-age=63072000"}}),
    "csp-missing": pair("csp-missing", {"headers": {"Content-Security-Policy": None}}, {}),
    "csp-unsafe-inline": pair(
        "csp-unsafe-inline",
        {"headers": {"Content-Security-Policy": "default-src 'self'; script-src 'self' 'unsafe-inline'"}},
        {"headers": {"Content-Security-Policy": "default-src 'self'; script-src 'self' 'nonce-r4nd0m' 'unsafe-inline'"}}),
    "csp-wildcard": pair("csp-wildcard", {"headers": {"Content-Security-Policy": "default-src *"}},
                         {"headers": {"Content-Security-Policy": "default-src 'self' https://cdn.shop.test"}}),
    "xcto-missing": pair("xcto-missing", {"headers": {"X-Content-Type-Options": None}}, {}),
    "frame-protection-missing": pair(
        "frame-protection-missing",
        {"headers": {"X-Frame-Options": None, "Content-Security-Policy": "default-src 'self'"}},
        {"headers": {"X-Frame-Options": None, "Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'"}}),
    "version-disclosure": pair("version-disclosure", {"headers": {"Server": "Apache/2.4.41 (Ubuntu)"}},
                               {"headers": {"Server": "Apache"}}),
    "cookie-no-secure": pair("cookie-no-secure", {"set_cookie": "prefs=1; Path=/; HttpOnly; SameSite=Lax"},
                             {"set_cookie": "prefs=1; Path=/; HttpOnly; SameSite=Lax; Secure"}),
    "cookie-no-httponly": pair("cookie-no-httponly", {"set_cookie": "sid=1; Path=/; Secure; SameSite=Lax"},
                               {"set_cookie": "sid=1; Path=/; Secure; SameSite=Lax; HttpOnly"}),
    "cookie-no-samesite": pair("cookie-no-samesite", {"set_cookie": "sid=1; Path=/; Secure; HttpOnly"},
                               {"set_cookie": "sid=1; Path=/; Secure; HttpOnly; SameSite=Strict"}),
    "session-id-in-url": pair("session-id-in-url", {"query": "sessionid=a81f0c9e33d2"}, {"query": "page=2"}),
    "credentials-in-get": pair("credentials-in-get", {"query": "user=alice&password=hunter2"},
                               {"query": "user=alice"}),
    "cors-reflects-origin": pair(
        "cors-reflects-origin",
        {"request_headers": {"Origin": "https://evil.test"}, "content_type": JSON, "body": "{}",
         "headers": {"Access-Control-Allow-Origin": "https://evil.test", "Access-Control-Allow-Credentials": "true"}},
        {"request_headers": {"Origin": "https://evil.test"}, "content_type": JSON, "body": "{}",
         "headers": {"Access-Control-Allow-Origin": "https://app.shop.test",
                     "Access-Control-Allow-Credentials": "true"}}),
    "verbose-error": pair(
        "verbose-error",
        {"status": 500, "content_type": "text/plain", "body": 'Traceback (most recent call last):\n  File "/srv/shop/'
         'cart.py", line 42, in add\n    total += item.price\nTypeError: unsupported operand\n'},
        {"status": 500, "content_type": "text/plain", "body": "Internal Server Error: we are looking into it.\n"}),
    "private-ip-disclosure": pair("private-ip-disclosure",
                                  {"content_type": JSON, "body": '{"backend": "10.0.3.7", "ok": true}'},
                                  {"content_type": JSON, "body": '{"backend": "api-1", "version": "10.0.3"}'}),
    "email-disclosure": pair("email-disclosure", {"content_type": JSON, "body": '{"owner": "alice.smith@shopcorp.io"}'},
                             {"content_type": JSON, "body": '{"owner": "someone@example.com"}'}),
    "credit-card-disclosure": pair("credit-card-disclosure",
                                   {"content_type": JSON, "body": '{"card": "4111 1111 1111 1111"}'},
                                   {"content_type": JSON, "body": '{"card": "4111 1111 1111 1112"}'}),
    "jwt-alg-none": pair("jwt-alg-none",
                         {"content_type": JSON, "body": json.dumps({"token": jwt({"alg": "none", "typ": "JWT"}, EXP, None)})},
                         {"content_type": JSON, "body": json.dumps({"token": GOOD_JWT})}),
    "jwt-weak-secret": pair("jwt-weak-secret",
                            {"content_type": JSON, "body": json.dumps({"token": jwt(HS256, EXP, "secret")})},
                            {"content_type": JSON, "body": json.dumps({"token": GOOD_JWT})}),
    "jwt-no-expiry": pair("jwt-no-expiry",
                          {"content_type": JSON, "body": json.dumps({"token": jwt(HS256, {"sub": "alice"}, STRONG_SECRET)})},
                          {"content_type": JSON, "body": json.dumps({"token": GOOD_JWT})}),
    "mixed-content": pair("mixed-content",
                          {"body": '<html><body><script src="http://cdn.shop.test/app.js"></script></body></html>'},
                          {"body": '<html><body><script src="https://cdn.shop.test/app.js"></script></body></html>'}),
    "directory-listing": pair("directory-listing",
                              {"body": "<html><head><title>Index of /files</title></head><body></body></html>"},
                              {"body": "<html><head><title>Files</title></head><body></body></html>"}),
    "cacheable-authenticated-response": pair(
        "cacheable-authenticated-response",
        {"request_headers": {"Authorization": "Basic YWxpY2U6aHVudGVyMg=="}, "content_type": JSON, "body": "{}",
         "headers": {"Cache-Control": "public, max-age=600"}},
        {"request_headers": {"Authorization": "Basic YWxpY2U6aHVudGVyMg=="}, "content_type": JSON, "body": "{}",
         "headers": {"Cache-Control": "private, max-age=600"}}),
    "csrf-token-missing": pair("csrf-token-missing", {"body": _form('<input name="qty" value="1">')},
                               {"body": _form('<input type="hidden" name="csrf_token" value="q8Zr"><input name="qty">')}),
    "source-map-exposed": pair(
        "source-map-exposed",
        {"content_type": "application/javascript", "body": "console.log(1);\n//# sourceMappingURL=app.js.map\n"},
        {"content_type": "application/javascript", "body": "console.log(1);\n"}),
    "secret-in-response": pair("secret-in-response",
                               {"content_type": JSON, "body": '{"aws_key": "AKIAIOSFODNN7EXAMPLE"}'},
                               {"content_type": JSON, "body": '{"aws_key": "stored in the vault"}'}),
}

# Source maps are found by the file they are in: give that pair script paths.
CASES["source-map-exposed"] = tuple(  # type: ignore[assignment]
    Case(**{**case.__dict__, "path": case.path + ".js"}) for case in CASES["source-map-exposed"])


def all_cases() -> list[Case]:
    return [case for pair_ in CASES.values() for case in pair_]


def flow_of(case: Case, base: str = "https://shop.test", flow_id: str = "01HWFLOW000000000000000000") -> Flow:
    """The Flow Ghost would store for a case."""
    url = base + case.target
    parts = urlsplit(url)
    request = Request(method=case.method, url=url, scheme=parts.scheme, host=parts.hostname or "",
                      port=parts.port or 443, path=parts.path,
                      headers=[("Host", parts.netloc), *case.request_headers.items()])
    body = case.body.encode()
    response = Response(status_code=case.status, status_text="", headers=case.response_headers(), body=body,
                        body_size=len(body))
    return Flow(request=request, response=response, id=flow_id, session_id="01HWSESSION0000000000000000",
                started_at=datetime(2026, 12, 3, 12, 0, tzinfo=UTC))
