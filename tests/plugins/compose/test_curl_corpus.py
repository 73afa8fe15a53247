"""curlconverter's commands (tests/data/curl_corpus, see SOURCES.md): for every command the
real ``curl`` can send, Ghost's import, sent by Ghost's composer, reaches a local echo
server with the same method, path, query, headers and body, byte for byte."""

from __future__ import annotations

import asyncio
import re
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from plugins.compose.composer import ComposeError, parse_compose, send
from plugins.compose.curl_import import parse_curl
from tests.plugins.compose.test_composer import guard_allowing
from tests.support.recording_echo import Seen, recording_echo

CORPUS = sorted((Path(__file__).parents[2] / "data" / "curl_corpus").glob("*.sh"))
# headers the client adds on its own (curl's and aiohttp's differ); compared only when the
# command sets them
CLIENT_DEFAULTS = {"host", "user-agent", "accept", "content-length", "expect",
                   "accept-encoding"}
# the connection's own headers: each client manages its connection (curl's h2c upgrade)
CONNECTION = {"connection", "upgrade", "http2-settings", "keep-alive"}
# commands whose data come from stdin (a heredoc): Ghost asks for a single command
FROM_STDIN = {"bash_redirect_heredoc.sh", "bash_redirect_herestring.sh"}



@pytest.fixture
async def echo() -> AsyncIterator[tuple[int, list[Seen]]]:
    async with recording_echo() as (port, seen):
        yield port, seen


def normalised(request: Seen, own: set[str]) -> dict[str, Any]:
    method, path, headers, body = request
    kept = [(k.lower(), v) for k, v in headers if k.lower() not in CONNECTION and (
        k.lower() not in CLIENT_DEFAULTS or k.lower() in own)]
    boundary = next((m[1] for k, v in headers if k.lower() == "content-type"
                     for m in [re.search(r"boundary=(\S+)", v)] if m), None)
    if boundary:  # curl's boundary is random, and so is Ghost's
        body = body.replace(boundary.encode(), b"BOUNDARY")
        kept = [(k, v.replace(boundary, "BOUNDARY")) for k, v in kept]
    # clients order different headers differently; a repeated header keeps its order
    return {"method": method, "path": path, "headers": sorted(kept, key=lambda kv: kv[0]),
            "body": body}


async def curl_sends(command: str, cwd: Path) -> bool:
    proc = await asyncio.create_subprocess_exec(
        "bash", "-c", command, cwd=cwd, stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
    try:
        return await asyncio.wait_for(proc.wait(), 10) == 0
    except TimeoutError:
        proc.kill()
        await proc.wait()
        return False


def test_the_corpus_is_big_enough() -> None:
    assert len(CORPUS) >= 100


@pytest.mark.skipif(shutil.which("curl") is None, reason="needs the curl command")
async def test_ghost_sends_what_curl_sends(echo: tuple[int, list[Seen]], tmp_path: Path) -> None:
    port, seen = echo
    compared, not_sendable, needs_files, refused, differ = [], [], [], [], []
    for path in CORPUS:
        command = path.read_text().replace("28139", str(port)).strip()
        seen.clear()
        if not await curl_sends(command, tmp_path) or len(seen) != 1:
            not_sendable.append(path.name)  # a file it reads, several URLs, stdin...
            continue
        by_curl = seen[0]
        try:
            parsed = parse_curl(command)
        except ValueError as exc:
            if path.name not in FROM_STDIN:
                refused.append(f"{path.name}: {exc}")
            continue
        if parsed.files or any("shell variable" in w for w in parsed.warnings):
            needs_files.append(path.name)  # the user supplies them: not the same bytes
            continue
        seen.clear()
        request = parse_compose({**parsed.to_dict(), "timeout_ms": 10_000})
        try:
            await send(request, guard_allowing("127.0.0.1", "localhost"))
        except ComposeError as exc:
            refused.append(f"{path.name}: composer: {exc.message}")
            continue
        own = {k.lower() for k, _ in parsed.headers}
        assert len(seen) == 1, path.name
        ghost, curl = normalised(seen[0], own), normalised(by_curl, own)
        if ghost != curl:
            differ.append(f"{path.name}: " + "; ".join(
                f"{key}: ghost {ghost[key]!r} curl {curl[key]!r}"
                for key in ghost if ghost[key] != curl[key]))
        compared.append(path.name)
    print(f"\ncompared {len(compared)}, curl could not send {len(not_sendable)}, "
          f"files to supply {len(needs_files)}, refused {len(refused)}")
    print("\n".join(differ + refused))
    assert differ == []
    assert refused == []
    assert len(compared) >= 60
