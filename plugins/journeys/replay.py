"""Journey replay: re-send a journey's flows, compare with what was recorded, stream events.

`replay_events` yields the spec's SSE events (`step_start`, `step_complete`,
`step_error`, `done`) for a list of recorded flows; `send_flow` re-sends one recorded
request through an `OutboundGuard` (SSRF checks on the URL, on DNS answers, on the socket
actually connected, on every redirect) and reads at most 10 MB of the answer.

Headers left out of a replayed request: hop-by-hop ones (the client makes its own),
Ghost's internal `X-Ghost-Interaction`, and `Accept-Encoding` (the replay client
negotiates what it can decode, so body sizes compare decoded with decoded, like the
recorded `body_size`). Everything else, cookies and authorization included, is sent as
recorded: a replay checks that the same calls still answer the same way.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

import aiohttp
import orjson

from ghost_addons.model import Flow, Headers
from ghost_addons.ssrf import OutboundGuard, SsrfRefused

MAX_BODY_BYTES = 10 * 1024 * 1024
MAX_DELAY_MS = 10_000
WRITE_DEADLINE_S = 30.0
MAX_REDIRECTS = 10
REQUEST_TIMEOUT = aiohttp.ClientTimeout(total=120, sock_connect=15)

HOP_BY_HOP_HEADERS = frozenset(
    {
        "host", "content-length", "transfer-encoding", "connection", "proxy-connection",
        "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer", "upgrade",
    }
)
INTERNAL_HEADERS = frozenset({"x-ghost-interaction"})
SKIPPED_REPLAY_HEADERS = HOP_BY_HOP_HEADERS | INTERNAL_HEADERS | {"accept-encoding"}
# Dropped when a redirect leaves the original host, as browsers and curl do.
CREDENTIAL_HEADERS = frozenset({"authorization", "cookie"})
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})


class ReplayError(Exception):
    """A step could not be replayed; the message is shown in its `step_error` event."""


def is_skipped_header(name: str) -> bool:
    lower = name.lower()
    return lower in SKIPPED_REPLAY_HEADERS or lower.startswith(":")


def replay_headers(headers: Headers) -> Headers:
    return [(k, v) for k, v in headers if not is_skipped_header(k)]


def clamp_delay(raw: str | None) -> int:
    """`delay_ms` clamped to 0–10,000 ms; ValueError when it is not an integer."""
    if raw is None or raw.strip() == "":
        return 0
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"delay_ms must be an integer number of milliseconds, got {raw!r}") from None
    return max(0, min(MAX_DELAY_MS, value))


@dataclass(slots=True)
class Outcome:
    """What a request answered: the spec's `original` and `replayed` objects."""

    status_code: int
    content_type: str
    body_size: int
    duration_ms: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def original_outcome(flow: Flow) -> Outcome | None:
    if flow.response is None:
        return None
    return Outcome(
        status_code=flow.response.status_code,
        content_type=flow.response.content_type,
        body_size=flow.response.body_size,
        duration_ms=flow.duration_ms,
    )


def compare(original: Outcome | None, replayed: Outcome) -> dict[str, Any]:
    """The spec's `diff`: status change, body size delta, duration delta (+ = slower)."""
    if original is None:
        return {"status_changed": True, "body_size_delta": replayed.body_size,
                "duration_delta_ms": round(replayed.duration_ms, 3)}
    return {
        "status_changed": original.status_code != replayed.status_code,
        "body_size_delta": replayed.body_size - original.body_size,
        "duration_delta_ms": round(replayed.duration_ms - original.duration_ms, 3),
    }


def sse_message(event: str, data: dict[str, Any]) -> bytes:
    return b"event: " + event.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"


def replayable(flow: Flow | None) -> bool:
    """Only flows with a request that has a method and an absolute http(s) URL are replayed."""
    if flow is None or not flow.request.method or not flow.request.url:
        return False
    return urlsplit(flow.request.url).scheme in ("http", "https")


def _redirect(method: str, status: int, body: bytes) -> tuple[str, bytes]:
    if status == 303 or (status in (301, 302) and method.upper() == "POST"):
        return ("GET" if method.upper() != "HEAD" else "HEAD"), b""
    return method, body


async def send_flow(
    session: aiohttp.ClientSession,
    guard: OutboundGuard,
    flow: Flow,
    max_body: int = MAX_BODY_BYTES,
) -> Outcome:
    """Re-send a recorded request; follows redirects, checking each hop with the guard."""
    request = flow.request
    if len(request.body) < request.body_size:
        raise ReplayError(
            f"the request body was stored truncated ({len(request.body)} of {request.body_size} bytes)"
        )
    method, url, body = request.method, request.url, request.body
    headers = replay_headers(request.headers)
    origin_host = urlsplit(url).hostname
    started = time.perf_counter()
    for _ in range(MAX_REDIRECTS + 1):
        guard.check_url(url)
        async with session.request(
            method,
            url,
            headers=headers,
            data=body or None,
            allow_redirects=False,
            skip_auto_headers=("Content-Type",),
        ) as response:
            location = response.headers.get("Location")
            if response.status in REDIRECT_STATUSES and location:
                url = urljoin(url, location)
                method, body = _redirect(method, response.status, body)
                if not body:
                    headers = [(k, v) for k, v in headers if k.lower() != "content-type"]
                if urlsplit(url).hostname != origin_host:
                    headers = [(k, v) for k, v in headers if k.lower() not in CREDENTIAL_HEADERS]
                continue
            size = 0
            async for chunk in response.content.iter_chunked(64 * 1024):
                size += len(chunk)
                if size >= max_body:
                    size = max_body
                    break
            return Outcome(
                status_code=response.status,
                content_type=response.headers.get("Content-Type", ""),
                body_size=size,
                duration_ms=round((time.perf_counter() - started) * 1000, 3),
            )
    raise ReplayError(f"more than {MAX_REDIRECTS} redirects, last to {url}")


def replay_session(guard: OutboundGuard) -> aiohttp.ClientSession:
    """A client whose every connection goes through the guard; no proxy from the
    environment, no cookie jar (recorded Cookie headers are sent as they were)."""
    return guard.client_session(timeout=REQUEST_TIMEOUT, cookie_jar=aiohttp.DummyCookieJar())


def error_text(error: BaseException, guard: OutboundGuard) -> str:
    """A step error message; a connection refused by the guard says so, not 'cannot connect'."""
    if isinstance(error, SsrfRefused):
        return error.message
    if isinstance(error, aiohttp.ClientConnectorError) and guard.refusals:
        return guard.refusals[-1]
    if isinstance(error, TimeoutError):
        return "the request timed out"
    return str(error) or type(error).__name__


Sender = Callable[[Flow], Awaitable[Outcome]]


async def replay_events(
    flows: list[Flow],
    send: Sender,
    guard: OutboundGuard,
    delay_ms: int = 0,
) -> AsyncIterator[tuple[str, dict[str, Any]]]:
    """The SSE events of a replay, one flow after the other, `delay_ms` between steps."""
    total = len(flows)
    for step, flow in enumerate(flows, start=1):
        if step > 1 and delay_ms:
            await asyncio.sleep(delay_ms / 1000)
        base = {
            "step": step,
            "total": total,
            "flow_id": flow.id,
            "method": flow.request.method,
            "url": flow.request.url,
        }
        yield "step_start", {"type": "step_start", **base}
        original = original_outcome(flow)
        try:
            replayed = await send(flow)
        except (ReplayError, SsrfRefused, aiohttp.ClientError, TimeoutError, OSError) as e:
            error: dict[str, Any] = {"type": "step_error", **base, "error": error_text(e, guard)}
            if original is not None:
                error["original"] = original.to_dict()
            yield "step_error", error
            continue
        yield "step_complete", {
            "type": "step_complete",
            **base,
            "original": original.to_dict() if original else None,
            "replayed": replayed.to_dict(),
            "diff": compare(original, replayed),
            "duration_ms": replayed.duration_ms,
        }
    yield "done", {"type": "done", "total": total}
