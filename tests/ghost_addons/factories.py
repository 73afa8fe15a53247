"""Build `Flow` records for unit tests."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import urlsplit

from ghost_addons.model import Flow, Request, Response, Timings


def make_flow(flow_id: str, *, method: str = "GET", url: str = "http://example.com/", status: int | None = 200,
              session_id: str = "s", tags: list[str] | None = None, source: str = "proxy", error: str = "",
              duration_us: int = 1000, body: bytes = b"", response_body: bytes = b"{}",
              content_type: str = "application/json") -> Flow:
    parts = urlsplit(url)
    response = None
    if status is not None:
        response = Response(status_code=status, status_text="OK", headers=[("Content-Type", content_type)],
                            body=response_body, body_size=len(response_body))
    return Flow(
        id=flow_id, session_id=session_id, started_at=datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=UTC),
        request=Request(method=method, url=url, scheme=parts.scheme, host=parts.hostname or "",
                        port=parts.port or (443 if parts.scheme == "https" else 80), path=parts.path or "/",
                        headers=[("Host", parts.netloc), ("X-A", "1"), ("X-A", "2")], body=body, body_size=len(body)),
        response=response, duration_us=duration_us, timings=Timings(-1, 100, 200, 10, 5000, 20),
        error=error, tags=tags or [], source=source,
    )
