"""The request headers exported code keeps: the spec's skipped list left out, sorted."""

from __future__ import annotations

from collections.abc import Iterable

SKIPPED_HEADERS = frozenset({
    # transport / hop-by-hop
    "host", "content-length", "transfer-encoding", "connection", "proxy-connection", "keep-alive",
    "proxy-authenticate", "proxy-authorization", "te", "trailer", "upgrade",
    # Ghost internal
    "x-ghost-interaction",
    # browser identity
    "user-agent", "sec-ch-ua", "sec-ch-ua-mobile", "sec-ch-ua-platform", "sec-ch-ua-full-version-list",
    # fetch metadata
    "sec-fetch-dest", "sec-fetch-mode", "sec-fetch-site", "sec-fetch-user",
    # cache negotiation
    "if-none-match", "if-modified-since", "if-match", "if-unmodified-since", "if-range",
    # encoding / locale
    "accept-encoding", "accept-language",
    # navigation context
    "referer", "referrer", "origin",
    # session cookies
    "cookie",
    # telemetry / observability
    "sentry-trace", "baggage", "traceparent", "tracestate", "x-request-id", "x-correlation-id",
    # privacy
    "dnt",
})


def is_skipped(name: str) -> bool:
    return name.lower() in SKIPPED_HEADERS or name.startswith(":")


def kept_headers(headers: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """The headers to export, sorted by lowercase name (stable for repeated names)."""
    return sorted(((n, v) for n, v in headers if not is_skipped(n)), key=lambda h: h[0].lower())


def header_value(headers: Iterable[tuple[str, str]], name: str) -> str:
    """The last value of header `name` (any case), or ""."""
    found = ""
    for key, value in headers:
        if key.lower() == name:
            found = value
    return found
