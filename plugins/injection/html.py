"""Putting a script into an HTML page so that it runs, Content-Security-Policy included.

The script goes in as an inline ``<script>`` element: before ``</head>``; in a page without
one, after ``<head>``, else after ``<body>``, else after ``<html>``, else after the
doctype, else at the very start. ``</script`` inside the script is escaped so the element
cannot end early. Non-ASCII characters are written as JavaScript escapes when the page's
charset cannot hold them.

CSP: every enforced policy (``Content-Security-Policy`` headers and ``<meta
http-equiv>`` tags) whose script directive (``script-src-elem``, else ``script-src``,
else ``default-src``) would block an inline script gets the script's ``'sha256-...'``
hash added. A directive that already allows inline scripts (``'unsafe-inline'`` with no
nonce or hash) is left alone, since adding a hash would switch ``'unsafe-inline'`` off for
the page's own scripts; ``'none'`` is replaced, as it cannot stand beside a source.
"""

from __future__ import annotations

import base64
import hashlib
import html
import re

from mitmproxy import http
from mitmproxy.net.http.headers import infer_content_encoding

SCRIPT_DIRECTIVES = ("script-src-elem", "script-src", "default-src")
HTML_TYPES = ("text/html", "application/xhtml+xml")
MAX_PAGE_SIZE = 32 * 1024 * 1024

_BOMS = (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")
_META_CHARSET = re.compile(rb"""<meta[^>]+charset=['"]?[^'">]+""", re.IGNORECASE)

_HEAD_CLOSE = re.compile(rb"</head\s*>", re.IGNORECASE)
_OPENERS = (
    re.compile(rb"<head(?=[\s>/])[^>]*>", re.IGNORECASE),
    re.compile(rb"<body(?=[\s>/])[^>]*>", re.IGNORECASE),
    re.compile(rb"<html(?=[\s>/])[^>]*>", re.IGNORECASE),
    re.compile(rb"<!doctype[^>]*>", re.IGNORECASE),
)
_META_CSP = re.compile(
    rb"""<meta\b(?=[^>]*\bhttp-equiv\s*=\s*["']?content-security-policy["'\s/>])[^>]*>""",
    re.IGNORECASE,
)
_CONTENT_ATTR = re.compile(rb"""(\bcontent\s*=\s*)(?:"([^"]*)"|'([^']*)'|([^\s"'>]+))""", re.IGNORECASE)
_SCRIPT_END = re.compile(r"</(script)", re.IGNORECASE)


def escape_script(script: str) -> str:
    """The script as element text: no ``</script`` or ``<!--`` can end or confuse the element."""
    text = _SCRIPT_END.sub(r"<\\/\1", script)
    return text.replace("<!--", "<\\!--")


def js_ascii(text: str) -> str:
    """Non-ASCII characters as JavaScript ``\\uXXXX`` escapes (surrogate pairs above U+FFFF)."""
    out = []
    for ch in text:
        code = ord(ch)
        if code < 128:
            out.append(ch)
        elif code <= 0xFFFF:
            out.append(f"\\u{code:04x}")
        else:
            code -= 0x10000
            out.append(f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}")
    return "".join(out)


def script_text_for(script: str, charset: str, *, declared: bool = True) -> str:
    """The element text to inject into a page in `charset` (JS escapes where needed).

    When the page does not declare its charset the browser may guess another one, so
    non-ASCII characters are always escaped then.
    """
    text = escape_script(script)
    if text.isascii():
        return text
    if not declared:
        return js_ascii(text)
    try:
        text.encode(charset)
    except (LookupError, UnicodeEncodeError):
        text = js_ascii(text)
    return text


def page_charset(content_type: str, page: bytes) -> tuple[str, bool]:
    """(charset, declared): the page's charset and whether the page or header states it."""
    charset = infer_content_encoding(content_type, page)
    if charset.lower().replace("_", "-") == "utf-8-sig":
        charset = "utf-8"  # the BOM is already in the page; never write another
    declared = (
        page.startswith(_BOMS)
        or "charset=" in content_type.lower()
        or _META_CHARSET.search(page[:4096]) is not None
    )
    return charset, declared


def is_html(content_type: str) -> bool:
    return content_type.split(";", 1)[0].strip().lower() in HTML_TYPES


def csp_hash(script_text: str) -> str:
    """The CSP source expression allowing exactly this inline script text."""
    digest = hashlib.sha256(script_text.encode("utf-8")).digest()
    return f"'sha256-{base64.b64encode(digest).decode('ascii')}'"


def _allows_inline(sources: list[str]) -> bool:
    lowered = [s.lower() for s in sources]
    if "'unsafe-inline'" not in lowered:
        return False
    # a nonce, a hash or 'strict-dynamic' makes browsers ignore 'unsafe-inline'
    return not any(s.startswith(("'nonce-", "'sha256-", "'sha384-", "'sha512-")) or s == "'strict-dynamic'" for s in lowered)


def allow_script_in_policy(policy: str, source: str) -> str:
    """One serialized policy with `source` allowed for inline scripts (unchanged if not needed)."""
    directives = [d.strip() for d in policy.split(";")]
    parsed: list[tuple[str, list[str]]] = []
    for directive in directives:
        if not directive:
            continue
        tokens = directive.split()
        parsed.append((tokens[0].lower(), tokens[1:]))
    names = [name for name, _ in parsed]
    governing = next((d for d in SCRIPT_DIRECTIVES if d in names), None)
    if governing is None:
        return policy  # scripts are not restricted by this policy
    changed = False
    out: list[str] = []
    seen: set[str] = set()
    for name, sources in parsed:
        # only the first occurrence of a directive counts; later duplicates are ignored by browsers
        if name == governing and name not in seen and not _allows_inline(sources) and source not in sources:
            sources = [s for s in sources if s.lower() != "'none'"] + [source]
            changed = True
        seen.add(name)
        out.append(" ".join([name, *sources]))
    return "; ".join(out) if changed else policy


def allow_script_in_header(value: str, source: str) -> str:
    """A CSP header value (policies may be comma-joined) with `source` allowed."""
    return ", ".join(allow_script_in_policy(policy, source) for policy in value.split(","))


def _rewrite_meta_csp(page: bytes, source: str) -> bytes:
    def fix_tag(tag_match: re.Match[bytes]) -> bytes:
        tag = tag_match.group(0)

        def fix_content(m: re.Match[bytes]) -> bytes:
            raw = m.group(2) if m.group(2) is not None else m.group(3) if m.group(3) is not None else m.group(4)
            policy = html.unescape(raw.decode("utf-8", "surrogateescape"))
            new_policy = allow_script_in_header(policy, source)
            if new_policy == policy:
                return m.group(0)
            quoted = html.escape(new_policy, quote=True).encode("utf-8", "surrogateescape")
            return m.group(1) + b'"' + quoted + b'"'

        return _CONTENT_ATTR.sub(fix_content, tag, count=1)

    return _META_CSP.sub(fix_tag, page)


def insertion_point(page: bytes) -> int:
    """Where the script element goes (byte offset)."""
    close = _HEAD_CLOSE.search(page)
    if close:
        return close.start()
    for opener in _OPENERS:
        found = opener.search(page)
        if found:
            return found.end()
    return 0


def inject_into_page(page: bytes, elements: bytes, csp_sources: list[str]) -> bytes:
    """The page with `elements` inserted and its meta CSP tags allowing `csp_sources`."""
    if csp_sources and _META_CSP.search(page):
        for source in csp_sources:
            page = _rewrite_meta_csp(page, source)
    at = insertion_point(page)
    return page[:at] + elements + page[at:]


def script_element(script_text: str, charset: str, rule_id: str = "") -> bytes:
    attr = f' data-ghost-injection="{html.escape(rule_id, quote=True)}"' if rule_id else ""
    element = f"<script{attr}>{script_text}</script>"
    try:
        return element.encode(charset)
    except (LookupError, UnicodeEncodeError):
        return element.encode("utf-8")


def inject_response(response: http.Response, scripts: list[tuple[str, str]]) -> bool:
    """Inject `scripts` ((rule id, source) pairs, in order) into an HTML response.

    Works on the decoded body (gzip, br, deflate, zstd are undone and redone by mitmproxy),
    keeps the page's charset, fixes Content-Length and adjusts CSP. Returns False, changing
    nothing, for responses that are not HTML, are streamed, too large, or cannot be decoded.
    """
    if not scripts or response.raw_content is None or len(response.raw_content) > MAX_PAGE_SIZE:
        return False
    content_type = response.headers.get("content-type", "")
    if not is_html(content_type):
        return False
    try:
        page = response.get_content(strict=True)
    except ValueError:
        return False
    if page is None:
        return False
    charset, declared = page_charset(content_type, page)
    if charset.lower().replace("-", "").startswith(("utf16", "utf32")):
        return False  # byte-level search for tags needs an ASCII-compatible charset
    elements = b""
    sources: list[str] = []
    for rule_id, script in scripts:
        text = script_text_for(script, charset, declared=declared)
        sources.append(csp_hash(text))
        elements += script_element(text, charset, rule_id)
    response.content = inject_into_page(page, elements, sources)
    policies = response.headers.get_all("content-security-policy")
    if policies:
        fixed = []
        for policy in policies:
            for source in sources:
                policy = allow_script_in_header(policy, source)
            fixed.append(policy)
        response.headers.set_all("content-security-policy", fixed)
    return True
