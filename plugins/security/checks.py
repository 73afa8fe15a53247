"""The built-in passive checks: each a pure function of a stored flow giving evidence.

A check's ``run(flow)`` yields ``(where, snippet)`` pairs, one per problem it sees in the
flow (``("response header Set-Cookie", "sid=1; Path=/")``), and nothing for a clean flow.
Checks read what was captured only; they never send anything. They look at a bounded part
of each body (`SCAN_BODY_CHARS`) so a huge download costs no more than a small one.

The set follows OWASP ZAP's passive rules and Burp's passive issues that apply to captured
traffic. Header checks that describe a site rather than one page (HSTS, CSP, framing,
nosniff, version banners) have ``scope="site"``: one finding per host, counting the
endpoints it was seen on.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import ipaddress
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import orjson

from ghost_addons.model import Flow, Headers, header_value, is_text_content_type

SEVERITIES = ("high", "medium", "low", "info")
CONFIDENCES = ("high", "medium", "low")
SCOPES = ("endpoint", "site")
SCAN_BODY_CHARS = 256 * 1024
SNIPPET_CHARS = 160
HSTS_MIN_AGE = 15_552_000  # 180 days, what ZAP and the HSTS preload list ask for at least

Evidence = tuple[str, str]


@dataclass(frozen=True, slots=True)
class Check:
    title: str
    severity: str
    confidence: str
    remediation: str
    run: Callable[[Flow], Iterable[Evidence]]
    scope: str = "endpoint"
    cwe: int = 0


def check_entry(name: str, entry: Any) -> None:
    """The registry's check of what a plugin registers (see `ghost_security_checks`)."""
    for attr in ("title", "remediation"):
        if not isinstance(getattr(entry, attr, None), str) or not getattr(entry, attr):
            raise ValueError(f"a check needs a non-empty string {attr!r}")
    if getattr(entry, "severity", None) not in SEVERITIES:
        raise ValueError(f"severity must be one of {', '.join(SEVERITIES)}, got {getattr(entry, 'severity', None)!r}")
    if getattr(entry, "confidence", None) not in CONFIDENCES:
        raise ValueError(f"confidence must be one of {', '.join(CONFIDENCES)}, "
                         f"got {getattr(entry, 'confidence', None)!r}")
    if getattr(entry, "scope", "endpoint") not in SCOPES:
        raise ValueError(f"scope must be one of {', '.join(SCOPES)}, got {getattr(entry, 'scope', None)!r}")
    if not callable(getattr(entry, "run", None)):
        raise TypeError("a check needs a callable run(flow)")


# --- what the checks read ------------------------------------------------------------------


def snippet(text: str, start: int = 0, end: int | None = None) -> str:
    """Up to SNIPPET_CHARS of ``text`` around ``start:end``, on one line."""
    end = len(text) if end is None else end
    lo = max(0, start - 40)
    piece = text[lo:min(len(text), max(end, start) + 40)][:SNIPPET_CHARS]
    return " ".join(piece.split())


def response_text(flow: Flow) -> str:
    """The start of the response body as text, or "" when it is not text."""
    resp = flow.response
    if resp is None or not resp.body or not is_text_content_type(resp.content_type or "text/plain"):
        return ""
    return resp.body[:SCAN_BODY_CHARS].decode("utf-8", "replace")


def is_html(flow: Flow) -> bool:
    return flow.response is not None and "html" in flow.response.content_type.lower()


def ok_response(flow: Flow) -> bool:
    return flow.response is not None and 200 <= flow.response.status_code < 300


def header_values(headers: Headers, name: str) -> list[str]:
    lname = name.lower()
    return [v for k, v in headers if k.lower() == lname]


def query_params(flow: Flow) -> list[tuple[str, str]]:
    try:
        return parse_qsl(urlsplit(flow.request.url).query, keep_blank_values=True)
    except ValueError:
        return []


# --- security headers (site-wide) ------------------------------------------------------------


def hsts_missing(flow: Flow) -> Iterator[Evidence]:
    if flow.request.scheme == "https" and ok_response(flow) and not header_values(
            flow.response.headers, "strict-transport-security"):
        yield ("response headers", "no Strict-Transport-Security header")


_MAX_AGE_RE = re.compile(r"max-age\s*=\s*\"?(\d+)", re.IGNORECASE)


def hsts_weak(flow: Flow) -> Iterator[Evidence]:
    if flow.request.scheme != "https" or not ok_response(flow):
        return
    for value in header_values(flow.response.headers, "strict-transport-security"):
        m = _MAX_AGE_RE.search(value)
        if m is None or int(m.group(1)) < HSTS_MIN_AGE:
            yield ("response header Strict-Transport-Security", value[:SNIPPET_CHARS])


def csp_of(flow: Flow) -> str:
    assert flow.response is not None
    return ";".join(header_values(flow.response.headers, "content-security-policy"))


def csp_missing(flow: Flow) -> Iterator[Evidence]:
    if ok_response(flow) and is_html(flow) and not csp_of(flow):
        yield ("response headers", "no Content-Security-Policy header on an HTML page")


def csp_directives(policy: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for part in policy.split(";"):
        words = part.split()
        if words:
            out.setdefault(words[0].lower(), words[1:])
    return out


_SCRIPT_DIRECTIVES = ("script-src", "script-src-elem", "default-src")


def csp_unsafe_inline(flow: Flow) -> Iterator[Evidence]:
    if not ok_response(flow) or not (policy := csp_of(flow)):
        return
    directives = csp_directives(policy)
    for name in _SCRIPT_DIRECTIVES:
        sources = [s.lower() for s in directives.get(name, [])]
        # 'unsafe-inline' is ignored by browsers when a nonce or hash is present
        if "'unsafe-inline'" in sources and not any(s.startswith(("'nonce-", "'sha")) for s in sources):
            yield ("response header Content-Security-Policy", f"{name} {' '.join(directives[name])}"[:SNIPPET_CHARS])
            return


_WILDCARD_SOURCES = ("*", "http:", "https:", "data:")


def csp_wildcard(flow: Flow) -> Iterator[Evidence]:
    if not ok_response(flow) or not (policy := csp_of(flow)):
        return
    directives = csp_directives(policy)
    for name in (*_SCRIPT_DIRECTIVES, "object-src"):
        if any(s.lower() in _WILDCARD_SOURCES for s in directives.get(name, [])):
            yield ("response header Content-Security-Policy", f"{name} {' '.join(directives[name])}"[:SNIPPET_CHARS])
            return


def xcto_missing(flow: Flow) -> Iterator[Evidence]:
    if ok_response(flow) and flow.response.body_size > 0:
        value = header_value(flow.response.headers, "x-content-type-options")
        if value.strip().lower() != "nosniff":
            yield ("response header X-Content-Type-Options", value or "missing")


def frame_protection_missing(flow: Flow) -> Iterator[Evidence]:
    if not ok_response(flow) or not is_html(flow):
        return
    if header_values(flow.response.headers, "x-frame-options"):
        return
    if "frame-ancestors" in csp_directives(csp_of(flow)):
        return
    yield ("response headers", "no X-Frame-Options and no CSP frame-ancestors on an HTML page")


_VERSION_RE = re.compile(r"\d+\.\d+")
_VERSION_HEADERS = ("server", "x-powered-by", "x-aspnet-version", "x-aspnetmvc-version", "x-generator")


def version_disclosure(flow: Flow) -> Iterator[Evidence]:
    if flow.response is None:
        return
    for name, value in flow.response.headers:
        if name.lower() in _VERSION_HEADERS and _VERSION_RE.search(value):
            yield (f"response header {name}", value[:SNIPPET_CHARS])


# --- cookies ---------------------------------------------------------------------------------


def cookie_attributes(set_cookie: str) -> tuple[str, set[str]]:
    """(cookie name, lower-case attribute names) of one Set-Cookie value."""
    parts = [p.strip() for p in set_cookie.split(";")]
    name = parts[0].partition("=")[0].strip()
    return name, {p.partition("=")[0].strip().lower() for p in parts[1:] if p}


def _cookies_without(flow: Flow, attribute: str) -> Iterator[Evidence]:
    if flow.response is None:
        return
    for value in header_values(flow.response.headers, "set-cookie"):
        name, attrs = cookie_attributes(value)
        if name and attribute not in attrs:
            yield ("response header Set-Cookie", value[:SNIPPET_CHARS])


def cookie_no_secure(flow: Flow) -> Iterator[Evidence]:
    if flow.request.scheme == "https":
        yield from _cookies_without(flow, "secure")


def cookie_no_httponly(flow: Flow) -> Iterator[Evidence]:
    yield from _cookies_without(flow, "httponly")


def cookie_no_samesite(flow: Flow) -> Iterator[Evidence]:
    yield from _cookies_without(flow, "samesite")


# --- URLs ------------------------------------------------------------------------------------

SESSION_PARAMS = frozenset({"sessionid", "session_id", "session", "sid", "jsessionid", "phpsessid",
                            "aspsessionid", "token", "access_token", "auth_token", "id_token",
                            "api_key", "apikey", "secret", "client_secret", "auth"})
PASSWORD_PARAMS = frozenset({"password", "passwd", "pwd", "pass", "passphrase", "user_password"})
_PATH_SESSION_RE = re.compile(r";(jsessionid|phpsessid|sid)=", re.IGNORECASE)


def session_id_in_url(flow: Flow) -> Iterator[Evidence]:
    for name, value in query_params(flow):
        if name.lower() in SESSION_PARAMS and value:
            yield ("request URL query", f"{name}={value[:8]}…")
    m = _PATH_SESSION_RE.search(flow.request.path)
    if m:
        yield ("request URL path", flow.request.path[m.start():m.start() + 40])


def credentials_in_get(flow: Flow) -> Iterator[Evidence]:
    if flow.request.method.upper() != "GET":
        return
    for name, value in query_params(flow):
        if name.lower() in PASSWORD_PARAMS and value:
            yield ("request URL query", f"{name}=****")


# --- CORS ------------------------------------------------------------------------------------


def cors_reflects_origin(flow: Flow) -> Iterator[Evidence]:
    if flow.response is None:
        return
    origin = header_value(flow.request.headers, "origin")
    allowed = header_value(flow.response.headers, "access-control-allow-origin")
    credentials = header_value(flow.response.headers, "access-control-allow-credentials").strip().lower()
    if not origin or credentials != "true" or allowed.strip() != origin.strip() or origin == "null":
        return
    try:
        origin_host = urlsplit(origin).hostname or ""
    except ValueError:
        return
    if origin_host.lower() != flow.request.host.lower():  # a foreign origin, echoed back
        yield ("response header Access-Control-Allow-Origin", f"{allowed} (request Origin {origin}), with credentials")


# --- bodies ----------------------------------------------------------------------------------

# (literal that must be present, pattern): the literal is looked for first (a fast
# substring search), so a body without it costs no regular-expression scan at all.
_ERROR_PATTERNS = (
    ("Traceback", re.compile(r"Traceback \(most recent call last\)")),
    ("Exception in thread", re.compile(r"Exception in thread \"")),
    (".java:", re.compile(r"\n\s+at [\w$.]+\([\w$]+\.java:\d+\)")),
    (":line ", re.compile(r"\n\s+at [\w$.<>]+ in [^\n]+:line \d+")),
    (" error: ", re.compile(r"(?:Fatal|Parse) error: .{1,200} on line \d+")),
    ("SQL syntax", re.compile(r"You have an error in your SQL syntax")),
    ("SQLSTATE[", re.compile(r"SQLSTATE\[")),
    ("ORA-", re.compile(r"ORA-\d{5}:")),
    ("OLE DB", re.compile(r"Microsoft OLE DB Provider")),
    ("Warning", re.compile(r"Warning: \w+\(\): .{1,200} on line \d+|<b>Warning</b>: ")),
)


def verbose_error(flow: Flow) -> Iterator[Evidence]:
    text = response_text(flow)
    for literal, pattern in _ERROR_PATTERNS:
        if literal in text and (m := pattern.search(text)):
            yield ("response body", snippet(text, m.start(), m.end()))
            return


_PRIVATE_IP_RES = (re.compile(r"10(?:\.\d{1,3}){3}"), re.compile(r"172\.(?:1[6-9]|2\d|3[01])(?:\.\d{1,3}){2}"),
                    re.compile(r"192\.168(?:\.\d{1,3}){2}"))
_IP_NEIGHBOURS = frozenset("0123456789.")


def private_ips(text: str) -> Iterator[re.Match[str]]:
    """Private IPv4 addresses in text, not parts of longer numbers or dotted strings."""
    for pattern in _PRIVATE_IP_RES:
        for m in pattern.finditer(text):
            before = text[m.start() - 1] if m.start() else ""
            after = text[m.end()] if m.end() < len(text) else ""
            if before not in _IP_NEIGHBOURS and after not in _IP_NEIGHBOURS:
                yield m


def private_ip_disclosure(flow: Flow) -> Iterator[Evidence]:
    if flow.response is None:
        return
    own = flow.request.host
    sources = [(f"response header {k}", v) for k, v in flow.response.headers] + [("response body", response_text(flow))]
    for where, text in sources:
        for m in private_ips(text):
            address = m.group(0)
            if address == own:
                continue
            try:
                if ipaddress.ip_address(address).is_private:
                    yield (where, snippet(text, m.start(), m.end()))
                    return
            except ValueError:
                continue


_EMAIL_RE = re.compile(r"[A-Za-z0-9._%+-]{1,64}@(?:[A-Za-z0-9-]{1,63}\.)+[A-Za-z]{2,24}(?![\w-])")
_EXAMPLE_DOMAINS = ("example.com", "example.org", "example.net", "domain.com", "email.com")


def emails(text: str) -> Iterator[str]:
    """E-mail addresses in text, found from each "@" (so text without one costs a find)."""
    at = text.find("@")
    while at != -1:
        start = max(0, at - 64)
        m = _EMAIL_RE.search(text, start, at + 300)
        if m is not None and m.start() <= at < m.end():
            yield m.group(0)
        at = text.find("@", at + 1)


def email_disclosure(flow: Flow) -> Iterator[Evidence]:
    for address in emails(response_text(flow)):
        if not address.lower().endswith(_EXAMPLE_DOMAINS):
            yield ("response body", address)
            return


_CARD_RE = re.compile(r"[2-6]\d{3}(?:[ -]?\d){9,15}")
_CARD_PREFIXES = re.compile(r"^(?:4\d{12}(?:\d{3}){0,2}|5[1-5]\d{14}|2(?:2[2-9]|[3-6]\d|7[01])\d{13}"
                            r"|3[47]\d{13}|6(?:011|5\d\d)\d{12,15})$")


def luhn_valid(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def credit_card_disclosure(flow: Flow) -> Iterator[Evidence]:
    text = response_text(flow)
    for m in _CARD_RE.finditer(text):
        before = text[m.start() - 1:m.start()]
        after = text[m.end():m.end() + 1]
        if (before and before in "0123456789-") or (after and after in "0123456789-"):
            continue  # part of a longer number
        digits = m.group(0).replace(" ", "").replace("-", "")
        if _CARD_PREFIXES.match(digits) and luhn_valid(digits):
            yield ("response body", f"{digits[:6]}…{digits[-4:]}")
            return


_MIXED_RE = re.compile(r"<(?:script|iframe|img|link|audio|video|source|embed|object|form)\b[^>]{0,500}?"
                       r"\b(?:src|href|data|action)\s*=\s*[\"']?http://", re.IGNORECASE)


def mixed_content(flow: Flow) -> Iterator[Evidence]:
    if flow.request.scheme != "https" or not is_html(flow):
        return
    text = response_text(flow)
    m = _MIXED_RE.search(text)
    if m:
        yield ("response body", snippet(text, m.start(), m.end()))


_LISTING_RE = re.compile(r"<title>\s*(?:Index of /|Directory listing for /)|<h1>\s*Index of /", re.IGNORECASE)


def directory_listing(flow: Flow) -> Iterator[Evidence]:
    if not ok_response(flow) or not is_html(flow):
        return
    text = response_text(flow)
    m = _LISTING_RE.search(text)
    if m:
        yield ("response body", snippet(text, m.start(), m.end()))


def cacheable_authenticated(flow: Flow) -> Iterator[Evidence]:
    if not ok_response(flow) or flow.request.method.upper() != "GET":
        return
    authenticated = header_value(flow.request.headers, "authorization") or header_value(flow.request.headers, "cookie")
    if not authenticated:
        return
    cache_control = ",".join(header_values(flow.response.headers, "cache-control")).lower()
    directives = {d.strip().partition("=")[0] for d in cache_control.split(",")}
    if "no-store" in directives or "private" in directives:
        return
    if "no-cache" in header_value(flow.response.headers, "pragma").lower() and not cache_control:
        return
    yield ("response header Cache-Control", cache_control or "missing, on a response to an authenticated request")


_FORM_RE = re.compile(r"<form\b([^>]{0,1000})>(.{0,20000}?)</form>", re.IGNORECASE | re.DOTALL)
_POST_RE = re.compile(r"\bmethod\s*=\s*[\"']?post", re.IGNORECASE)
_CSRF_NAME_RE = re.compile(r"<input\b[^>]{0,500}\bname\s*=\s*[\"']?[\w-]*(?:csrf|xsrf|token|nonce|authenticity)",
                           re.IGNORECASE)


def csrf_token_missing(flow: Flow) -> Iterator[Evidence]:
    if not ok_response(flow) or not is_html(flow):
        return
    text = response_text(flow)
    for m in _FORM_RE.finditer(text):
        if _POST_RE.search(m.group(1)) and not _CSRF_NAME_RE.search(m.group(2)):
            yield ("response body", snippet(text, m.start(), m.start() + len(m.group(1)) + 6))
            return


_SOURCE_MAP_COMMENT_RE = re.compile(r"[#@] sourceMappingURL=(?!data:)(\S+)")


def source_map_exposed(flow: Flow) -> Iterator[Evidence]:
    if not ok_response(flow):
        return
    for name in ("sourcemap", "x-sourcemap"):
        value = header_value(flow.response.headers, name)
        if value:
            yield (f"response header {name}", value[:SNIPPET_CHARS])
            return
    path = flow.request.path
    text = response_text(flow)
    if path.endswith(".map") and '"mappings"' in text[:4096] and '"version"' in text[:4096]:
        yield ("response body", f"a source map served at {path[:100]}")
        return
    if path.endswith((".js", ".mjs", ".css")):
        m = _SOURCE_MAP_COMMENT_RE.search(text[-2048:])
        if m:
            yield ("response body", m.group(0)[:SNIPPET_CHARS])


# (kind, literals one of which must be present, pattern): the literals gate the scan.
SECRET_PATTERNS = (
    ("AWS access key id", ("AKIA", "ASIA"), re.compile(r"(?<![A-Z0-9])(?:AKIA|ASIA)[0-9A-Z]{16}(?![A-Z0-9])")),
    ("GitHub token", ("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"),
     re.compile(r"(?<![A-Za-z0-9_])(?:gh[pousr]_[A-Za-z0-9]{36}|github_pat_[A-Za-z0-9_]{82})(?![A-Za-z0-9_])")),
    ("Stripe secret key", ("k_live_",), re.compile(r"(?<![A-Za-z0-9_])[sr]k_live_[0-9A-Za-z]{24,99}(?![A-Za-z0-9])")),
    ("private key", ("PRIVATE KEY-----",),
     re.compile(r"-----BEGIN (?:RSA |EC |DSA |OPENSSH |ENCRYPTED |PGP )?PRIVATE KEY( BLOCK)?-----")),
)


def secret_patterns(flow: Flow) -> Iterator[Evidence]:
    text = response_text(flow)
    if not text:
        return
    for kind, literals, pattern in SECRET_PATTERNS:
        if not any(literal in text for literal in literals):
            continue
        m = pattern.search(text)
        if m:
            found = m.group(0)
            yield ("response body", f"{kind}: {found[:12]}…")


# --- JWTs ------------------------------------------------------------------------------------

_JWT_RE = re.compile(r"(?<![\w-])eyJ[A-Za-z0-9_-]{5,2000}\.eyJ[A-Za-z0-9_-]{2,8000}\.[A-Za-z0-9_-]{0,1000}(?![\w-])")
WEAK_JWT_SECRETS = ("secret", "password", "123456", "changeme", "jwt", "key", "test", "admin", "qwerty",
                    "secretkey", "your-256-bit-secret", "jwt_secret", "supersecret", "default", "letmein",
                    "s3cr3t", "pass", "token", "mysecret", "1234567890")
_HMAC = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}


def b64url_json(part: str) -> dict[str, Any] | None:
    try:
        value = orjson.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    except (binascii.Error, ValueError):
        return None
    return value if isinstance(value, dict) else None


def jwts_in(flow: Flow) -> list[tuple[str, str]]:
    """(where, token) for each distinct JWT in the request's headers, the response's
    headers and the start of the response body."""
    places = [(f"request header {k}", v) for k, v in flow.request.headers]
    if flow.response is not None:
        places += [(f"response header {k}", v) for k, v in flow.response.headers]
        places.append(("response body", response_text(flow)))
    seen: set[str] = set()
    out: list[tuple[str, str]] = []
    for where, text in places:
        if "eyJ" not in text:
            continue
        for m in _JWT_RE.finditer(text):
            if m.group(0) not in seen:
                seen.add(m.group(0))
                out.append((where, m.group(0)))
    return out


def jwt_alg_none(flow: Flow) -> Iterator[Evidence]:
    for where, token in jwts_in(flow):
        header = b64url_json(token.split(".")[0])
        if header is not None and str(header.get("alg", "")).lower() == "none":
            yield (where, f"JWT header {orjson.dumps(header).decode()[:120]}")


def weak_jwt_secret(token: str) -> str | None:
    head, payload, signature = token.split(".")
    header = b64url_json(head)
    digest = _HMAC.get(str(header.get("alg", "")).upper()) if header else None
    if digest is None or not signature:
        return None
    signing_input = f"{head}.{payload}".encode("ascii")
    try:
        expected = base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4))
    except binascii.Error:
        return None
    for secret in WEAK_JWT_SECRETS:
        if hmac.compare_digest(hmac.new(secret.encode(), signing_input, digest).digest(), expected):
            return secret
    return None


def jwt_weak_secret(flow: Flow) -> Iterator[Evidence]:
    for where, token in jwts_in(flow):
        secret = weak_jwt_secret(token)
        if secret is not None:
            yield (where, f"JWT signed with the guessable secret {secret!r}: {token[:24]}…")


def jwt_no_expiry(flow: Flow) -> Iterator[Evidence]:
    for where, token in jwts_in(flow):
        claims = b64url_json(token.split(".")[1])
        if claims is not None and "exp" not in claims:
            yield (where, f"JWT without exp: {token[:24]}…")


# --- the registry ----------------------------------------------------------------------------

BUILTIN_CHECKS: dict[str, Check] = {
    "hsts-missing": Check(
        "Strict-Transport-Security header missing", "medium", "high",
        "Send Strict-Transport-Security: max-age=31536000; includeSubDomains on every HTTPS response.",
        hsts_missing, "site", 319),
    "hsts-weak": Check(
        "Strict-Transport-Security max-age too short", "low", "high",
        f"Set max-age to at least {HSTS_MIN_AGE} seconds (180 days); a year is usual.",
        hsts_weak, "site", 319),
    "csp-missing": Check(
        "Content-Security-Policy header missing", "medium", "high",
        "Send a Content-Security-Policy that limits script sources (e.g. default-src 'self') on HTML pages.",
        csp_missing, "site", 693),
    "csp-unsafe-inline": Check(
        "Content-Security-Policy allows 'unsafe-inline' scripts", "medium", "high",
        "Remove 'unsafe-inline' from script-src/default-src; use nonces or hashes for inline scripts.",
        csp_unsafe_inline, "site", 693),
    "csp-wildcard": Check(
        "Content-Security-Policy allows scripts from any source", "medium", "high",
        "Replace *, http:, https: and data: in script-src/default-src/object-src with the hosts you serve from.",
        csp_wildcard, "site", 693),
    "xcto-missing": Check(
        "X-Content-Type-Options: nosniff missing", "low", "high",
        "Send X-Content-Type-Options: nosniff on every response.",
        xcto_missing, "site", 693),
    "frame-protection-missing": Check(
        "Clickjacking protection missing", "medium", "medium",
        "Send Content-Security-Policy: frame-ancestors 'self' (or X-Frame-Options: DENY) on HTML pages.",
        frame_protection_missing, "site", 1021),
    "version-disclosure": Check(
        "Server or framework version disclosed", "low", "high",
        "Remove version numbers from Server, X-Powered-By and similar headers.",
        version_disclosure, "site", 200),
    "cookie-no-secure": Check(
        "Cookie without the Secure flag", "medium", "high",
        "Set the Secure attribute on cookies sent over HTTPS.",
        cookie_no_secure, "endpoint", 614),
    "cookie-no-httponly": Check(
        "Cookie without the HttpOnly flag", "low", "medium",
        "Set HttpOnly on cookies scripts do not need to read (session cookies above all).",
        cookie_no_httponly, "endpoint", 1004),
    "cookie-no-samesite": Check(
        "Cookie without a SameSite attribute", "low", "medium",
        "Set SameSite=Lax (or Strict) on cookies, so other sites' requests do not carry them.",
        cookie_no_samesite, "endpoint", 1275),
    "session-id-in-url": Check(
        "Session id or secret in the URL", "medium", "medium",
        "Carry session ids and tokens in cookies or headers, never in URLs (they leak through logs and Referer).",
        session_id_in_url, "endpoint", 598),
    "credentials-in-get": Check(
        "Password sent in a GET query", "high", "high",
        "Send credentials in the body of a POST over HTTPS, never in the URL.",
        credentials_in_get, "endpoint", 598),
    "cors-reflects-origin": Check(
        "CORS reflects any origin with credentials", "high", "medium",
        "Allow only a fixed list of trusted origins in Access-Control-Allow-Origin when credentials are allowed.",
        cors_reflects_origin, "endpoint", 942),
    "verbose-error": Check(
        "Verbose error or stack trace in a response", "medium", "medium",
        "Show users a generic error page; log stack traces and database errors on the server only.",
        verbose_error, "endpoint", 209),
    "private-ip-disclosure": Check(
        "Private IP address disclosed", "low", "medium",
        "Remove internal addresses from responses (headers, error pages, API payloads).",
        private_ip_disclosure, "endpoint", 200),
    "email-disclosure": Check(
        "E-mail address disclosed", "info", "medium",
        "Check that the e-mail addresses in responses are meant to be public.",
        email_disclosure, "endpoint", 200),
    "credit-card-disclosure": Check(
        "Credit card number disclosed", "high", "medium",
        "Never return full card numbers; mask all but the last four digits.",
        credit_card_disclosure, "endpoint", 359),
    "jwt-alg-none": Check(
        "JWT with alg none", "high", "high",
        "Sign every JWT and refuse tokens with alg none on the server.",
        jwt_alg_none, "endpoint", 347),
    "jwt-weak-secret": Check(
        "JWT signed with a guessable HMAC secret", "high", "high",
        "Sign JWTs with a long random secret (at least 256 bits) or an asymmetric key, and rotate it.",
        jwt_weak_secret, "endpoint", 521),
    "jwt-no-expiry": Check(
        "JWT without an expiry", "low", "high",
        "Give every JWT an exp claim with a short lifetime.",
        jwt_no_expiry, "endpoint", 613),
    "mixed-content": Check(
        "Mixed content: an HTTPS page loads HTTP resources", "medium", "high",
        "Load every script, frame, image and form target of an HTTPS page over HTTPS.",
        mixed_content, "endpoint", 311),
    "directory-listing": Check(
        "Directory listing enabled", "low", "high",
        "Turn off directory indexes on the web server.",
        directory_listing, "endpoint", 548),
    "cacheable-authenticated-response": Check(
        "Authenticated response may be cached", "medium", "medium",
        "Send Cache-Control: no-store (or private) on responses to authenticated requests.",
        cacheable_authenticated, "endpoint", 524),
    "csrf-token-missing": Check(
        "Form without an anti-CSRF token", "medium", "low",
        "Add an unpredictable per-session token to every state-changing form and check it on the server.",
        csrf_token_missing, "endpoint", 352),
    "source-map-exposed": Check(
        "Source map exposed", "low", "high",
        "Do not deploy source maps (or their sourceMappingURL comments) to production.",
        source_map_exposed, "endpoint", 540),
    "secret-in-response": Check(
        "Secret key in a response (AWS, GitHub, Stripe, private key)", "high", "high",
        "Remove the secret from the response and rotate it: it must be treated as leaked.",
        secret_patterns, "endpoint", 312),
}
