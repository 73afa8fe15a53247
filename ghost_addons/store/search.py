"""Full-text search over flows' headers and bodies: what gets indexed, and how a GQL content
term becomes an FTS5 query.

The index is an FTS5 table, `flow_text`, with four columns (request headers and body,
response headers and body). It is contentless: it keeps the index, not another copy of the
bodies. Its rowids come from `flow_text_ids`, whose INTEGER PRIMARY KEY survives VACUUM
(flows' own implicit rowids would not). SQLite computes every row from a flow's stored row
with the functions below, registered on every connection (`register`), so the flow writer
process, the migration that indexes an existing database and the tests index alike.

Words are what SQLite's unicode61 tokenizer makes of text: runs of letters and digits,
case and diacritics folded. `"item-999"` is the phrase `item 999`, so a JSON key, a value or
a URL's path segment is found whichever punctuation surrounds it. `tokens` is the same rule
in Python, for the exact checks on header values and for tests.
"""

from __future__ import annotations

import unicodedata
from typing import Any

import orjson
import regex

# Bodies whose type says text are indexed (decoded as UTF-8, bad bytes replaced); bodies
# of no or another type only when they are UTF-8 with no NUL. Binary bodies are not indexed.
TEXT_TYPES = ("text/", "json", "xml", "javascript", "ecmascript", "x-www-form-urlencoded", "graphql",
              "yaml", "csv", "html", "multipart/form-data", "x-ndjson", "event-stream")
BINARY_TYPES = ("image/", "audio/", "video/", "font/", "application/octet-stream", "application/zip",
                "application/pdf", "application/x-protobuf", "application/protobuf", "application/grpc",
                "application/wasm", "application/gzip", "application/x-tar")
# A regular expression runs on at most this much of each value, and each match for at most
# REGEX_TIMEOUT seconds: user patterns never hold a reader thread for long.
REGEX_TEXT_LIMIT = 1024 * 1024
REGEX_TIMEOUT = 0.1
MAX_PATTERN_LENGTH = 1000

BODY_COLUMNS = {"body": ("req_body", "resp_body"), "req.body": ("req_body",), "resp.body": ("resp_body",)}
HEADER_COLUMNS = ("req_headers", "resp_headers")

FTS_TABLE_SQL = (
    "CREATE VIRTUAL TABLE flow_text USING fts5("
    "req_headers, req_body, resp_headers, resp_body, "
    "content='', contentless_delete=1, tokenize='unicode61 remove_diacritics 2')"
)
INDEX_TABLES_SQL = f"""
CREATE TABLE flow_text_ids (id INTEGER PRIMARY KEY, flow_id TEXT NOT NULL UNIQUE);
{FTS_TABLE_SQL};
CREATE TRIGGER flow_text_forget AFTER DELETE ON flows BEGIN
    DELETE FROM flow_text WHERE rowid = (SELECT id FROM flow_text_ids WHERE flow_id = old.id);
    DELETE FROM flow_text_ids WHERE flow_id = old.id;
END;
"""
# Indexing the flows whose ids are given (a JSON array bound to the one parameter): a row
# id for each, then its text.
ASSIGN_IDS_SQL = "INSERT INTO flow_text_ids (flow_id) SELECT value FROM json_each(?)"
INDEX_TEXT_SQL = """
INSERT INTO flow_text (rowid, req_headers, req_body, resp_headers, resp_body)
SELECT t.id, ghost_headers_text(f.request_headers), ghost_body_text(b.request_body, f.request_headers),
       ghost_headers_text(f.response_headers), ghost_body_text(b.response_body, f.response_headers)
FROM json_each(?) j
JOIN flow_text_ids t ON t.flow_id = j.value
JOIN flows f ON f.id = j.value
LEFT JOIN flow_bodies b ON b.flow_id = f.id
"""
# What the migration runs once on an existing database: every stored flow indexed.
INDEX_EXISTING_SQL = """
INSERT INTO flow_text_ids (flow_id) SELECT id FROM flows ORDER BY id;
INSERT INTO flow_text (rowid, req_headers, req_body, resp_headers, resp_body)
SELECT t.id, ghost_headers_text(f.request_headers), ghost_body_text(b.request_body, f.request_headers),
       ghost_headers_text(f.response_headers), ghost_body_text(b.response_body, f.response_headers)
FROM flow_text_ids t JOIN flows f ON f.id = t.flow_id LEFT JOIN flow_bodies b ON b.flow_id = f.id;
"""


def index_flows(conn: Any, flow_ids: list[str]) -> None:
    """Index stored flows (on the connection that stored them, in its transaction)."""
    ids = orjson.dumps(flow_ids).decode()
    conn.execute(ASSIGN_IDS_SQL, (ids,))
    conn.execute(INDEX_TEXT_SQL, (ids,))


class SearchError(ValueError):
    """A content term that cannot be searched as written; the message says why."""


# --- what is indexed ---------------------------------------------------------------------

def _content_type(headers_json: str | None) -> str:
    if not headers_json:
        return ""
    for pair in orjson.loads(headers_json):
        if len(pair) == 2 and str(pair[0]).lower() == "content-type":
            return str(pair[1]).lower()
    return ""


def body_text(body: bytes | None, headers_json: str | None) -> str | None:
    """The text of a body worth indexing, or None for an empty or binary body."""
    if not body:
        return None
    content_type = _content_type(headers_json)
    if any(t in content_type for t in TEXT_TYPES):
        return bytes(body).decode("utf-8", "replace")
    if any(content_type.startswith(t) for t in BINARY_TYPES) or b"\x00" in body:
        return None
    try:
        return bytes(body).decode("utf-8")
    except UnicodeDecodeError:
        return None


def headers_text(headers_json: str | None) -> str | None:
    """Headers as `name: value` lines (the stored form of bytes that are not UTF-8 stays
    base64 and is not searchable by its text)."""
    if not headers_json:
        return None
    lines = [f"{pair[0]}: {pair[1]}" for pair in orjson.loads(headers_json) if len(pair) == 2]
    return "\n".join(lines) or None


# --- words ----------------------------------------------------------------------------------

def _fold(ch: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", ch) if not unicodedata.combining(c)).casefold()


def tokens(text: str) -> list[str]:
    """Words as unicode61 sees them: runs of letters, digits and marks, case and diacritics
    folded."""
    words: list[str] = []
    current: list[str] = []
    for ch in text:
        if ch.isalnum() or unicodedata.category(ch).startswith("M"):
            current.append(ch)
        elif current:
            words.append(_fold("".join(current)))
            current = []
    if current:
        words.append(_fold("".join(current)))
    return [w for w in words if w]


def contains_phrase(words: list[str], phrase: list[str], prefix: bool = False) -> bool:
    """True when `phrase` occurs in `words` as consecutive words (the last one a prefix
    when `prefix`)."""
    if not phrase:
        return False
    n = len(phrase)
    for i in range(len(words) - n + 1):
        if words[i:i + n - 1] == phrase[:-1] and (
                words[i + n - 1].startswith(phrase[-1]) if prefix else words[i + n - 1] == phrase[-1]):
            return True
    return False


# --- queries --------------------------------------------------------------------------------

def phrase_of(value: str) -> tuple[list[str], bool]:
    """The words a term searches, and whether the last is a prefix (a trailing `*`)."""
    prefix = value.endswith("*")
    words = tokens(value.rstrip("*") if prefix else value)
    if not words:
        raise SearchError(f"{value[:40]!r} has no letters or digits to search for")
    if "*" in value.rstrip("*"):
        raise SearchError(f"{value[:40]!r}: a word search takes `*` only at the end (a prefix)")
    return words, prefix


def match_expression(columns: tuple[str, ...], words: list[str], prefix: bool,
                     also: list[str] | None = None) -> str:
    """An FTS5 MATCH expression for a phrase in some columns (and, with `also`, a second
    phrase anywhere in the same columns). Phrases are quoted and their words are letters and
    digits only, so nothing in them reads as an FTS5 operator."""
    phrase = f'"{" ".join(words)}"' + (" *" if prefix else "")
    if also:
        phrase = f'"{" ".join(also)}" AND {phrase}'
    return f'{{{" ".join(columns)}}} : ({phrase})'


def compile_pattern(value: str) -> Any:
    if len(value) > MAX_PATTERN_LENGTH:
        raise SearchError(f"the regular expression is {len(value):,} characters; the limit is {MAX_PATTERN_LENGTH}")
    try:
        return regex.compile(value, regex.IGNORECASE | regex.VERSION1)
    except regex.error as e:
        raise SearchError(f"bad regular expression {value[:40]!r}: {e}") from None


class RegexTimeout(Exception):
    """A user's regular expression ran past REGEX_TIMEOUT on one value."""


def regexp(pattern: str, value: Any) -> bool:
    """`ghost_regexp(pattern, value)`: a bounded search of text or of UTF-8 bytes."""
    if value is None:
        return False
    text = bytes(value[:REGEX_TEXT_LIMIT]).decode("utf-8", "replace") if isinstance(value, bytes | memoryview) \
        else str(value)[:REGEX_TEXT_LIMIT]
    compiled = _compiled(pattern)
    try:
        return compiled.search(text, timeout=REGEX_TIMEOUT) is not None
    except TimeoutError:
        raise RegexTimeout(f"the regular expression {pattern[:40]!r} ran longer than {REGEX_TIMEOUT} s on one "
                           "value") from None


def _compiled(pattern: str) -> Any:
    # regex keeps its own cache of compiled patterns; compile errors were reported by GQL
    return regex.compile(pattern, regex.IGNORECASE | regex.VERSION1)


def header_matches(headers_json: str | None, name: str, words_json: str) -> bool:
    """`ghost_header_matches(headers, name, words)`: a header named `name` (any case) whose
    value holds the phrase (JSON [words, prefix]); any value when the phrase is empty."""
    if not headers_json:
        return False
    words, prefix = orjson.loads(words_json)
    for pair in orjson.loads(headers_json):
        if len(pair) == 2 and str(pair[0]).lower() == name and (
                not words or contains_phrase(tokens(str(pair[1])), words, prefix)):
            return True
    return False


def register(conn: Any) -> None:
    """Make the index and query functions available on a connection."""
    conn.create_function("ghost_body_text", 2, body_text, deterministic=True)
    conn.create_function("ghost_headers_text", 1, headers_text, deterministic=True)
    conn.create_function("ghost_regexp", 2, regexp, deterministic=True)
    conn.create_function("ghost_header_matches", 3, header_matches, deterministic=True)
