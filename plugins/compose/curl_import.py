"""Parse a cURL command line (what browsers' "Copy as cURL" writes) into a request.

Understands POSIX shell quoting ('single', "double", $'ANSI-C' as Chrome writes it,
backslash escapes, line continuations) and the options browsers emit. Options that
change what is sent but that Ghost cannot reproduce (files, forms, proxies) are named in
the ValueError rather than silently dropped.
"""

from __future__ import annotations

import base64
import re
import secrets
from dataclasses import dataclass, field
from urllib.parse import quote, quote_plus, urlsplit, urlunsplit

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
    "--max-filesize", "--keepalive-time", "--expect100-timeout", "--trace", "--trace-ascii",
    "--stderr", "--trace-config",
})
_SHORT_WITH_VALUE = set("XHdubAeowmFTxKEr")


@dataclass(slots=True)
class CurlRequest:
    method: str
    url: str
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    compressed: bool = False
    insecure: bool = False
    follow_redirects: bool = False
    warnings: list[str] = field(default_factory=list)  # options Ghost does not reproduce
    files: list[dict[str, str]] = field(default_factory=list)  # files the user must supply

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
        """``headers`` is a list of {name, value} (a repeated header stays repeated, as curl
        sends it); ``body`` is text, or base64 with ``body_encoding`` when not UTF-8."""
        try:
            body, encoding = self.body.decode("utf-8"), "utf8"
        except UnicodeDecodeError:
            body, encoding = base64.b64encode(self.body).decode("ascii"), "base64"
        return {
            "method": self.method,
            "url": self.url,
            "headers": [{"name": k, "value": v} for k, v in self.headers],
            "body": body,
            "body_encoding": encoding,
            "compressed": self.compressed,
            "insecure": self.insecure,
            "follow_redirects": self.follow_redirects,
            "warnings": self.warnings,
            "files": self.files,
        }


def _ansi_c(text: str, start: int) -> tuple[str, int]:
    """Read $'...' from just after the opening quote; return (value, index after quote).
    ``\\xNN`` and octal escapes are bytes, as in bash: ``\\xe2\\x82\\xac`` is one ``€``
    (bytes that are not UTF-8 stay as surrogate escapes, sent as those bytes)."""
    out: list[str] = []
    i = start
    while i < len(text):
        ch = text[i]
        if ch == "'":
            return _bytes_as_text("".join(out)), i + 1
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
            elif nxt == "x":
                out.append(chr(0xDC00 + int(digits, 16)))  # a byte, see _bytes_as_text
            else:
                out.append(chr(int(digits, 16)))
            i = j
        elif nxt in "01234567":
            digits = ""
            j = i + 1
            while j < len(text) and len(digits) < 3 and text[j] in "01234567":
                digits += text[j]
                j += 1
            out.append(chr(0xDC00 + (int(digits, 8) & 0xFF)))
            i = j
        else:
            out.append("\\" + nxt)
            i += 2
    raise ValueError(f"unclosed $'...' quote starting at position {start - 2}")


def _bytes_as_text(value: str) -> str:
    """Runs of escaped bytes (held as U+DC00 + byte) decoded as UTF-8 where they are."""
    if not any("\udc00" <= ch <= "\udcff" for ch in value):
        return value
    raw = bytearray()
    for ch in value:
        raw += bytes([ord(ch) - 0xDC00]) if "\udc00" <= ch <= "\udcff" else ch.encode()
    return bytes(raw).decode("utf-8", "surrogateescape")


def is_windows_cmd(text: str) -> bool:
    """Chrome's "Copy as cURL (cmd)": lines end in ``^`` and specials are ``^``-escaped."""
    return bool(re.search(r"\^\r?\n", text)) or '^"' in text or "^\\^\"" in text


def split_cmd(text: str) -> list[str]:
    """Split a Windows cmd.exe command line: ``^`` escapes the next character (and ends a
    line), ``"`` quotes, then the C runtime's ``\\"`` is a literal quote."""
    words: list[str] = []
    current: list[str] = []
    in_word = in_quotes = False
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "^" and i + 1 < len(text):
            nxt = text[i + 1]
            if nxt in "\r\n":
                i += 2 if text[i + 1:i + 3] != "\r\n" else 3
                continue
            current.append("\x00" if nxt == '"' else nxt)  # an escaped quote, not a delimiter
            in_word = True
            i += 2
            continue
        if ch == '"':
            in_quotes = not in_quotes
            in_word = True
        elif ch in " \t\r\n" and not in_quotes:
            if in_word:
                words.append("".join(current))
                current, in_word = [], False
        else:
            current.append(ch)
            in_word = True
        i += 1
    if in_quotes:
        raise ValueError("unclosed double quote in the cmd command")
    if in_word:
        words.append("".join(current))
    # the C runtime: \" is a quote; our marker for a ^-escaped quote is one too
    return [re.sub(r'\\(\x00|")', '"', word).replace("\x00", '"') for word in words]


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


# Long options this parser knows, for curl's unambiguous prefixes (``--sil`` is --silent).
_HANDLED_LONG = frozenset({
    "--request", "--header", "--data", "--data-ascii", "--data-binary", "--data-raw",
    "--data-urlencode", "--json", "--user", "--cookie", "--user-agent", "--referer",
    "--compressed", "--insecure", "--location", "--get", "--head", "--url", "--url-query",
    "--form", "--form-string", "--upload-file", "--range", "--proxy", "--proxy-user",
    "--digest", "--ntlm", "--negotiate", "--anyauth",
})
# Options that take a value and change what is sent in a way Ghost does not reproduce:
# reported in ``warnings``, their value skipped so it is not read as the URL.
_WARNED_WITH_VALUE = {
    "-x": "a proxy", "--proxy": "a proxy", "-U": "proxy credentials",
    "--proxy-user": "proxy credentials", "-K": "a config file", "--config": "a config file",
    "-E": "a client certificate", "--cert": "a client certificate", "--key": "a client key",
    "--cacert": "a CA file", "--capath": "a CA directory", "--unix-socket": "a Unix socket",
    "--resolve": "a fixed address", "--connect-to": "a fixed address",
    "-c": "a cookie jar", "--cookie-jar": "a cookie jar", "-D": "a header dump",
    "--dump-header": "a header dump", "--oauth2-bearer": "OAuth2", "--aws-sigv4": "AWS signing",
}
_ALL_LONG = sorted(_HANDLED_LONG | {o for o in _IGNORED_FLAGS | _IGNORED_WITH_VALUE
                                     | set(_WARNED_WITH_VALUE) if o.startswith("--")})
MULTIPART_BOUNDARY_PREFIX = "------------------------"


def _long_option(arg: str) -> str:
    """``--sil`` -> ``--silent`` when exactly one known option starts so (curl does this)."""
    if not arg.startswith("--") or arg in _ALL_LONG:
        return arg
    name = arg.partition("=")[0]
    matches = [o for o in _ALL_LONG if o.startswith(name)]
    return matches[0] if len(matches) == 1 else arg


def _urlencode_part(value: str) -> str:
    """--data-urlencode / --url-query: 'name=content' encodes content, '=content' and
    'content' encode it all."""
    name, eq, content = value.partition("=")
    if eq:
        return (name + "=" if name else "") + quote_plus(content)
    return quote_plus(value)


def _form_part(spec: str, literal: bool) -> tuple[str, str, str | None, str | None]:
    """(name, value, file, content type) of one -F part; file is the path of '@file'/'<file'."""
    name, eq, rest = spec.partition("=")
    if not eq:
        raise ValueError(f"-F {spec!r}: expected 'name=value'")
    content_type = None
    if not literal:
        if ";type=" in rest:
            rest, _, content_type = rest.partition(";type=")
        if rest.startswith(("@", "<")):
            return name, "", rest[1:].split(";", 1)[0], content_type
    return name, rest, None, content_type


def _multipart(parts: list[tuple[str, str, str | None, str | None]], boundary: str) -> bytes:
    out = bytearray()
    for name, value, _, content_type in parts:
        out += f"--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n".encode()
        if content_type:
            out += f"Content-Type: {content_type}\r\n".encode()
        out += b"\r\n" + value.encode("utf-8", "surrogateescape") + b"\r\n"
    out += f"--{boundary}--\r\n".encode()
    return bytes(out)


def parse_curl(command: str) -> CurlRequest:
    """Parse a curl command (bash or Windows cmd quoting) into what curl would send;
    ValueError says what could not be understood. Options Ghost cannot reproduce go to
    ``warnings``; files the command reads go to ``files`` (the user supplies them)."""
    if not command or not command.strip():
        raise ValueError("the curl command is empty")
    text = command.strip()
    words = split_cmd(text) if is_windows_cmd(text) else split_command(text)
    if not words or words[0].rsplit("/", 1)[-1].lower() not in ("curl", "curl.exe"):
        raise ValueError(f"expected a command starting with 'curl', got {(words or [''])[0]!r}")
    args = words[1:]
    method = ""
    urls: list[str] = []
    queries: list[str] = []
    headers: list[tuple[str, str]] = []
    data: list[str] = []
    json_data: list[str] = []
    form: list[tuple[str, str, str | None, str | None]] = []
    has_data = False
    get_mode = False
    head = False
    upload: str | None = None
    challenge = ""
    request = CurlRequest(method="", url="")
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
        arg = _long_option(arg)
        if arg in ("-X", "--request"):
            method = value_of(arg)  # curl sends the method exactly as given: -X wHat
        elif arg in ("-H", "--header"):
            raw = value_of(arg)
            if raw.startswith("@"):
                request.warnings.append(f"{arg} {raw}: headers read from a file are not imported")
                request.files.append({"option": arg, "path": raw[1:]})
            elif (parsed := _header(raw)):
                headers.append(parsed)
        elif arg in ("-d", "--data", "--data-ascii", "--data-binary", "--data-raw"):
            value = value_of(arg)
            has_data = True
            if value.startswith("@") and arg != "--data-raw":
                request.files.append({"option": arg, "path": value[1:]})
                request.warnings.append(f"{arg} {value}: supply the file's content as the body")
            else:
                data.append(value)  # literal data keeps its newlines (curl strips @file only)
        elif arg == "--data-urlencode":
            value = value_of(arg)
            has_data = True
            name, eq, content = value.partition("=")
            if content.startswith("@") or (not eq and value.startswith("@")) or \
                    (eq and name.endswith("@")):
                request.files.append({"option": arg, "path": value.partition("@")[2]})
                request.warnings.append(f"{arg} {value}: supply the file's content")
            else:
                data.append(_urlencode_part(value))
        elif arg == "--json":
            value = value_of(arg)
            has_data = True
            if value.startswith("@"):
                request.files.append({"option": arg, "path": value[1:]})
                request.warnings.append(f"{arg} {value}: supply the file's content as the body")
            else:
                json_data.append(value)  # repeated --json is concatenated, no separator
        elif arg in ("-F", "--form", "--form-string"):
            part = _form_part(value_of(arg), literal=arg == "--form-string")
            form.append(part)
            if part[2] is not None:
                request.files.append({"option": arg, "name": part[0], "path": part[2]})
                request.warnings.append(f"{arg} {part[0]}=@{part[2]}: supply the file as this "
                                        "form part")
        elif arg in ("-T", "--upload-file"):
            upload = value_of(arg)
            request.files.append({"option": arg, "path": upload})
            request.warnings.append(f"{arg} {upload}: supply the file's content as the body")
        elif arg == "--url-query":
            value = value_of(arg)
            queries.append(value[1:] if value.startswith("+") else _urlencode_part(value))
        elif arg in ("-r", "--range"):
            span = value_of(arg)
            headers.append(("Range", f"bytes={span}-" if span.isdigit() else f"bytes={span}"))
        elif arg in ("-u", "--user"):
            cred = value_of(arg)
            if ":" not in cred:
                raise ValueError(f"{arg} {cred!r}: give 'user:password' (curl would prompt)")
            token = base64.b64encode(cred.encode("utf-8")).decode("ascii")
            headers.append(("Authorization", f"Basic {token}"))
        elif arg in ("-b", "--cookie"):
            cookie = value_of(arg)
            if "=" not in cookie:
                request.warnings.append(f"{arg} {cookie!r}: cookies read from a file are not "
                                        "imported")
            else:
                headers.append(("Cookie", cookie))
        elif arg in ("-A", "--user-agent"):
            headers.append(("User-Agent", value_of(arg)))
        elif arg in ("-e", "--referer"):
            headers.append(("Referer", value_of(arg)))
        elif arg in ("--digest", "--ntlm", "--negotiate", "--anyauth"):
            challenge = arg  # curl answers a challenge; its first request has no credentials
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
        elif arg in _WARNED_WITH_VALUE:
            value = value_of(arg)
            request.warnings.append(f"{arg} {value}: {_WARNED_WITH_VALUE[arg]} is not used "
                                    "by Ghost's composer")
        elif arg.startswith("-") and len(arg) > 1:
            request.warnings.append(f"{arg}: not understood, ignored")
        else:
            urls.append(arg)
        i += 1

    if any(re.search(r"\$\{?[A-Za-z_]", word) for word in args):
        request.warnings.append("the command holds a shell variable ($NAME): the shell would "
                                "expand it; Ghost keeps it as written")
    if challenge:
        headers = [(k, v) for k, v in headers if not (k == "Authorization" and v.startswith("Basic "))]
        request.warnings.append(f"{challenge}: Ghost sends no credentials for this scheme, as "
                                "curl's first request does not")
    if not urls:
        raise ValueError("the curl command has no URL")
    if len(urls) > 1:
        raise ValueError(f"the curl command has more than one URL: {', '.join(urls)}")
    url = urls[0]
    if "://" not in url:
        url = "http://" + url
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise ValueError(f"invalid URL {urls[0]!r}: expected http:// or https://")
    path = parts.path or "/"
    if upload is not None and path.endswith("/"):
        path += quote(upload.rsplit("/", 1)[-1])  # curl appends the file name
    body = "&".join(data)
    if json_data:
        body = (body + "&" if data else "") + "".join(json_data)
    query = parts.query
    extra = list(queries)
    if get_mode and has_data:
        extra.append(body)
        body, has_data = "", False
    if extra:
        query = "&".join(([query] if query else []) + extra)
    url = urlunsplit((parts.scheme, parts.netloc, path, query, ""))
    has_header = {k.lower() for k, _ in headers}
    body_bytes = body.encode("utf-8", "surrogateescape")
    if form and not has_data:
        boundary = MULTIPART_BOUNDARY_PREFIX + secrets.token_hex(12)
        body_bytes = _multipart(form, boundary)
        if "content-type" not in has_header:
            headers.append(("Content-Type", f"multipart/form-data; boundary={boundary}"))
    if not method:
        if head:
            method = "HEAD"
        elif upload is not None:
            method = "PUT"
        elif has_data or form:
            method = "POST"
        else:
            method = "GET"
    if json_data:
        if "content-type" not in has_header:
            headers.append(("Content-Type", "application/json"))
        if "accept" not in has_header:
            headers.append(("Accept", "application/json"))
    elif has_data and "content-type" not in has_header:
        headers.append(("Content-Type", "application/x-www-form-urlencoded"))
    if request.compressed and "accept-encoding" not in has_header:
        headers.append(("Accept-Encoding", "deflate, gzip, br, zstd"))
    request.method = method
    request.url = url
    request.headers = headers
    request.body = body_bytes
    return request
