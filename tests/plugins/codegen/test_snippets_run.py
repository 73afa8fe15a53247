"""Every code generator's snippet, run by the real tool (bash + curl, HTTPie, Python
requests, node fetch), delivers the captured request to a local echo server: method, path,
query, headers and body byte for byte (a multipart form: the same parts, in the client's
own boundary)."""

from __future__ import annotations

import asyncio
import shutil
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from email.parser import BytesParser
from email.policy import HTTP
from pathlib import Path

import pytest

from ghost_addons.model import Flow, Request
from plugins.codegen.generators import SKIPPED_HEADERS, to_curl, to_fetch, to_httpie, to_python
from tests.support.recording_echo import Seen, recording_echo

VENV_BIN = Path(sys.executable).parent

CASES: dict[str, tuple[str, str, list[tuple[str, str]], bytes]] = {
    # a signed JSON body: escapes, key order, a big integer and spacing must survive
    "json": ("POST", "/v1/cart?x=1&y=caf%C3%A9", [("Content-Type", "application/json"),
                                                    ("X-Signature", "abc")],
             b'{"b": 1,  "a":"h\\u00e9llo", "n": 12345678901234567890}'),
    "text without a type": ("PUT", "/t", [("X-Note", "it's \"here\"")], b"line 1\nline 2\n"),
    "form": ("POST", "/login", [("Content-Type", "application/x-www-form-urlencoded")],
             b"user=alice&pass=b%26c"),
    "binary": ("POST", "/up", [("Content-Type", "application/octet-stream")],
               bytes(range(256))),
    "odd method": ("PROPFIND", "/dav", [("Depth", "1")], b""),
    "multipart": ("POST", "/form", [("Content-Type", "multipart/form-data; boundary=XyZ")],
                  b'--XyZ\r\nContent-Disposition: form-data; name="user"\r\n\r\nalice\r\n'
                  b'--XyZ\r\nContent-Disposition: form-data; name="note"\r\n\r\n'
                  b'a b & "c" \xc3\xa9\r\n--XyZ--\r\n'),
    "proxy credentials": ("GET", "/p", [("Proxy-Authorization", "Basic c2VjcmV0"),
                                        ("Proxy-Connection", "keep-alive"), ("X-A", "1")], b""),
}
# headers each client adds on its own
CLIENT_OWN = {"host", "user-agent", "accept", "accept-encoding", "connection",
              "content-length", "accept-language", "sec-fetch-mode"}


@pytest.fixture
async def echo() -> AsyncIterator[tuple[str, list[Seen]]]:
    async with recording_echo() as (port, seen):
        yield f"http://127.0.0.1:{port}", seen


def flow(base: str, case: str) -> Flow:
    method, path, headers, body = CASES[case]
    return Flow(id="F", session_id="S", started_at=datetime.now(UTC), request=Request(
        method=method, url=base + path, scheme="http", host="127.0.0.1", path=path.split("?")[0],
        headers=[("Host", "127.0.0.1"), *headers], body=body, body_size=len(body)))


def parts(content_type: str, body: bytes) -> list[tuple[str | None, bytes]]:
    message = BytesParser(policy=HTTP).parsebytes(
        b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body)
    return [(p.get_param("name", header="content-disposition"), p.get_payload(decode=True))
            for p in message.iter_parts()]


def what_arrived(seen: Seen) -> dict[str, object]:
    method, path, headers, body = seen
    own = [(k.lower(), v) for k, v in headers if k.lower() not in CLIENT_OWN]
    content_type = next((v for k, v in own if k == "content-type"), "")
    if content_type.startswith("multipart/form-data"):
        own = [(k, v) for k, v in own if k != "content-type"]
        return {"method": method, "path": path, "headers": sorted(own), "parts": parts(
            content_type, body)}
    return {"method": method, "path": path, "headers": sorted(own), "body": body}


def captured(case: str) -> dict[str, object]:
    method, path, headers, body = CASES[case]
    sent = [(k.lower(), v) for k, v in headers if k.lower() not in SKIPPED_HEADERS]
    return what_arrived((method, path, [(k, v) for k, v in sent], body))


async def run(argv: list[str]) -> None:
    proc = await asyncio.create_subprocess_exec(
        *argv, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE)
    try:
        _, err = await asyncio.wait_for(proc.communicate(), 30)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    assert proc.returncode == 0, err.decode(errors="replace")


RUNNERS = {
    "curl": (to_curl, lambda code: ["bash", "-c", code], "curl"),
    "httpie": (to_httpie, lambda code: ["bash", "-c", f"PATH={VENV_BIN}:$PATH; {code}"], "http"),
    "python": (to_python, lambda code: [sys.executable, "-c", code], None),
    "fetch": (to_fetch, lambda code: ["node", "-e", code], "node"),
}


@pytest.mark.parametrize("tool", RUNNERS)
@pytest.mark.parametrize("case", CASES)
async def test_the_snippet_delivers_the_captured_request(echo, tool: str, case: str) -> None:  # type: ignore[no-untyped-def]
    base, seen = echo
    generate, argv, binary = RUNNERS[tool]
    if binary and shutil.which(binary, path=f"{VENV_BIN}:{shutil.os.environ.get('PATH', '')}") is None:
        pytest.skip(f"{binary} is not installed")
    if tool == "httpie" and case == "binary":
        pytest.skip("HTTPie's --raw takes text: a binary body is left out with a comment")
    code = generate(flow(base, case))
    await run(argv(code))
    assert len(seen) == 1
    assert what_arrived(seen[0]) == captured(case), code


def test_markdown_for_sharing_leaves_out_proxy_credentials_and_connection_headers() -> None:
    from plugins.codegen.generators import to_markdown

    text = to_markdown(flow("http://127.0.0.1:1", "proxy credentials"))
    assert "Proxy-Authorization" not in text and "c2VjcmV0" not in text
    assert "Proxy-Connection" not in text and "| X-A | 1 |" in text
