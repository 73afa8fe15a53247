"""Parse a cURL command line (what browsers' "Copy as cURL" writes) into a request.

Understands POSIX shell quoting ('single', "double", $'ANSI-C' as Chrome writes it,
backslash escapes, line continuations) and the options browsers emit. Options that
change what is sent but that Ghost cannot reproduce (files, forms, proxies) are named in
the ValueError rather than silently dropped.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from urllib.parse import quote_plus, urlsplit, urlunsplit

_ANSI_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", "'": "'", '"': '"', "a": "\a",
                 "b": "\b", "e": "\x1b", "E": "\x1b", "f": "\f", "v": "\v", "?": "?"}

# Options that take no value and do not change the request Ghost sends.
_IGNORED_FLAGS = frozenset({
    "-s", "--silent", "-S", "--show-error", "-v", "--verbose", "-i", "--include",
    "-N", "--no-buffer", "-g", "--globoff", "-f", "--fail", "--fail-with-body",
    "--http1.0", "--http1.1", "--http2", "--http2-prior-knowledge", "--http3", "--http3-only",
    "--raw", "--tr-encoding", "--no-keepalive", "--tcp-nodelay", "-#", "--progress-bar",
    "--path-as-is", "--ssl-no-revoke", "-q", "--disable",
})
# Options that take a value and do not change the request (output, timing, retries).
_IGNORED_WITH_VALUE = frozenset({
    "-o", "--output", "-w", "--write-out", "-m", "--max-time", "--connect-timeout",
    "--retry", "--retry-delay", "--retry-max-time", "--max-redirs", "--limit-rate",
    "--max-filesize", "--keepalive-time", "--expect100-timeout",
})
_SHORT_WITH_VALUE = set("XHdubAeowmFTxKEr")


@dataclass(slots=True)
class CurlRequest:
    method: str
    url: str
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: str = ""
    compressed: bool = False
    insecure: bool = False
    follow_redirects: bool = False

    def headers_dict(self) -> dict[str, str]:
        merged: dict[str, str] = {}
        for name, value in self.headers:
            key = next((k for k in merged if k.lower() == name.lower()), None)
            if key is None:
                merged[name] = value
            else:
                merged[key] += ("; " if name.lower() == "cookie" else ", ") + value
        return merged

    def to_dict(self) -> dict[str, object]:
        return {
            "method": self.method,
            "url": self.url,
            "headers": self.headers_dict(),
            "body": self.body,
            "compressed": self.compressed,
            "insecure": self.insecure,
            "follow_redirects": self.follow_redirects,
        }


def _ansi_c(text: str, start: int) -> tuple[str, int]:
    """Read $'...' from just after the opening quote; return (value, index after quote)."""
    out: list[str] = []
    i = start
    while i < len(text):
        ch = text[i]
        if ch == "'":
            return "".join(out), i + 1
        if ch != "\\":
            out.append(ch)
            i += 1
            continue
        if i + 1 >= len(text):
            break
        nxt = text[i + 1]
        if nxt in _ANSI_ESCAPES:
            out.append(_ANSI_ESCAPES[nxt])
            i += 2
        elif nxt in "xuU":
            width = {"x": 2, "u": 4, "U": 8}[nxt]
            digits = ""
            j = i + 2
            while j < len(text) and len(digits) < width and text[j] in "0123456789abcdefABCDEF":
                digits += text[j]
                j += 1
            if not digits:
                out.append("\\" + nxt)
            else:
                out.append(chr(int(digits, 16)))
            i = j
        elif nxt in "01234567":
            digits = ""
            j = i + 1
            while j < len(text) and len(digits) < 3 and text[j] in "01234567":
                digits += text[j]
                j += 1
            out.append(chr(int(digits, 8)))
            i = j
        else:
            out.append("\\" + nxt)
            i += 2
    raise ValueError(f"unclosed $'...' quote starting at position {start - 2}")


def split_command(text: str) -> list[str]:
    """Split a shell command line into words the way bash would (no expansion)."""
    words: list[str] = []
    current: list[str] = []
    in_word = False
    i = 0
    n = len(text)
    while i < n:
        ch = text[i]
        if ch == "\\":
            if i + 1 < n and text[i + 1] == "\n":
                i += 2  # line continuation
                continue
            if i + 2 < n and text[i + 1] == "\r" and text[i + 2] == "\n":
                i += 3
                continue
            if i + 1 < n:
                current.append(text[i + 1])
                in_word = True
                i += 2
                continue
            i += 1
            continue
        if ch in " \t\r\n":
            if in_word:
                words.append("".join(current))
                current, in_word = [], False
            i += 1
            continue
        if ch == "#" and not in_word:
            while i < n and text[i] != "\n":
                i += 1
            continue
        if ch == "'":
            end = text.find("'", i + 1)
            if end < 0:
                raise ValueError(f"unclosed single quote starting at position {i}")
            current.append(text[i + 1:end])
            in_word = True
            i = end + 1
            continue
        if ch == "$" and i + 1 < n and text[i + 1] == "'":
            value, i = _ansi_c(text, i + 2)
            current.append(value)
            in_word = True
            continue
        if ch == '"':
            j = i + 1
            while j < n and text[j] != '"':
                if text[j] == "\\" and j + 1 < n:
                    if text[j + 1] in '"\\$`':
                        current.append(text[j + 1])
                        j += 2
                        continue
                    if text[j + 1] == "\n":
                        j += 2
                        continue
                current.append(text[j])
                j += 1
            if j >= n:
                raise ValueError(f"unclosed double quote starting at position {i}")
            in_word = True
            i = j + 1
            continue
        if ch in ";|&<>" and not in_word:
            raise ValueError(f"shell operator {ch!r} at position {i}: paste a single curl command")
        current.append(ch)
        in_word = True
        i += 1
    if in_word:
        words.append("".join(current))
    return words


def _expand_short(word: str) -> list[str]:
    """-sSL -> -s -S -L; -XPOST -> -X POST; -H'a: b' (one word) -> -H 'a: b'."""
    out: list[str] = []
    letters = word[1:]
    for pos, letter in enumerate(letters):
        out.append("-" + letter)
        if letter in _SHORT_WITH_VALUE:
            rest = letters[pos + 1:]
            if rest:
                out.append(rest)
            break
    return out


def _header(raw: str) -> tuple[str, str] | None:
    """'Name: value' -> (Name, value); 'Name;' -> (Name, ''); 'Name:' removes: None."""
    if ":" in raw:
        name, _, value = raw.partition(":")
        value = value.strip()
        if not value:
            return None
        return name.strip(), value
    if raw.endswith(";"):
        return raw[:-1].strip(), ""
    raise ValueError(f"bad header {raw!r}: expected 'Name: value'")


def parse_curl(command: str) -> CurlRequest:
    """Parse a curl command; ValueError says what could not be understood."""
    if not command or not command.strip():
        raise ValueError("the curl command is empty")
    words = split_command(command.strip())
    if not words or words[0].rsplit("/", 1)[-1] not in ("curl", "curl.exe"):
        raise ValueError(f"expected a command starting with 'curl', got {(words or [''])[0]!r}")
    args = words[1:]
    method = ""
    urls: list[str] = []
    headers: list[tuple[str, str]] = []
    data: list[str] = []
    get_mode = False
    head = False
    request = CurlRequest(method="", url="")
    unsupported: list[str] = []
    i = 0

    def value_of(opt: str) -> str:
        nonlocal i
        if i + 1 >= len(args):
            raise ValueError(f"option {opt} needs a value")
        i += 1
        return args[i]

    while i < len(args):
        arg = args[i]
        if arg.startswith("-") and not arg.startswith("--") and len(arg) > 2:
            args[i:i + 1] = _expand_short(arg)
            arg = args[i]
        if arg in ("-X", "--request"):
            method = value_of(arg).upper()
        elif arg in ("-H", "--header"):
            parsed = _header(value_of(arg))
            if parsed:
                headers.append(parsed)
        elif arg in ("-d", "--data", "--data-ascii", "--data-binary"):
            value = value_of(arg)
            if value.startswith("@"):
                unsupported.append(f"{arg} @file (reading the body from a file)")
            else:
                data.append(value if arg == "--data-binary" else value.replace("\r", "").replace("\n", ""))
        elif arg == "--data-raw":
            data.append(value_of(arg))
        elif arg == "--data-urlencode":
            value = value_of(arg)
            name, eq, content = value.partition("=")
            if value.startswith("@") or (not eq and "@" in value):
                unsupported.append(f"{arg} with a file")
            elif eq:
                data.append((name + "=" if name else "") + quote_plus(content))
            else:
                data.append(quote_plus(value))
        elif arg == "--json":
            value = value_of(arg)
            data.append(value)
            headers.append(("Content-Type", "application/json"))
            headers.append(("Accept", "application/json"))
        elif arg in ("-u", "--user"):
            cred = value_of(arg)
            if ":" not in cred:
                raise ValueError(f"{arg} {cred!r}: give 'user:password' (curl would prompt)")
            token = base64.b64encode(cred.encode("utf-8")).decode("ascii")
            headers.append(("Authorization", f"Basic {token}"))
        elif arg in ("-b", "--cookie"):
            cookie = value_of(arg)
            if "=" not in cookie:
                unsupported.append(f"{arg} {cookie!r} (a cookie file)")
            else:
                headers.append(("Cookie", cookie))
        elif arg in ("-A", "--user-agent"):
            headers.append(("User-Agent", value_of(arg)))
        elif arg in ("-e", "--referer"):
            headers.append(("Referer", value_of(arg)))
        elif arg == "--compressed":
            request.compressed = True
        elif arg in ("-k", "--insecure"):
            request.insecure = True
        elif arg in ("-L", "--location"):
            request.follow_redirects = True
        elif arg in ("-G", "--get"):
            get_mode = True
        elif arg in ("-I", "--head"):
            head = True
        elif arg == "--url":
            urls.append(value_of(arg))
        elif arg in _IGNORED_FLAGS:
            pass
        elif arg in _IGNORED_WITH_VALUE:
            value_of(arg)
        elif arg.startswith("-") and len(arg) > 1:
            unsupported.append(arg)
            if arg in ("-F", "--form", "-T", "--upload-file", "-x", "--proxy", "-K", "--config",
                        "-E", "--cert", "-r", "--range", "--form-string", "--unix-socket",
                        "--resolve", "--connect-to", "--cacert", "--key", "--proxy-user", "-U"):
                i += 1  # skip its value so it is not read as the URL
        else:
            urls.append(arg)
        i += 1

    if unsupported:
        raise ValueError("unsupported curl option(s): " + ", ".join(unsupported))
    if not urls:
        raise ValueError("the curl command has no URL")
    if len(urls) > 1:
        raise ValueError(f"the curl command has more than one URL: {', '.join(urls)}")
    url = urls[0]
    if "://" not in url:
        url = "http://" + url
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"invalid URL {urls[0]!r}: expected http:// or https://")
    body = "&".join(data)
    if get_mode and data:
        query = f"{parts.query}&{body}" if parts.query else body
        url = urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))
        body = ""
    if not method:
        method = "HEAD" if head else ("POST" if body else "GET")
    if body and not any(k.lower() == "content-type" for k, _ in headers) and data:
        headers.append(("Content-Type", "application/x-www-form-urlencoded"))
    if request.compressed and not any(k.lower() == "accept-encoding" for k, _ in headers):
        headers.append(("Accept-Encoding", "gzip, deflate, br"))
    request.method = method
    request.url = url
    request.headers = headers
    request.body = body
    return request
