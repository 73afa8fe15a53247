"""Flows for the export/import/codegen tests, built the way the capture path builds them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from ghost_addons.model import Flow, Request, Response, Timings

PNG = bytes.fromhex("89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489")


def make_flow(method: str = "GET", url: str = "https://api.example.com/v1/items?page=2",
              headers: list[tuple[str, str]] | None = None, body: bytes = b"",
              status: int | None = 200, response_headers: list[tuple[str, str]] | None = None,
              response_body: bytes = b"", **fields: Any) -> Flow:
    parts = urlsplit(url)
    request = Request(
        method=method, url=url, scheme=parts.scheme, host=parts.hostname or "",
        port=parts.port or (443 if parts.scheme == "https" else 80), path=parts.path or "/",
        headers=headers if headers is not None else [("Host", parts.netloc), ("Accept", "*/*")],
        body=body, body_size=len(body))
    response = None
    if status is not None:
        response = Response(status_code=status, status_text="OK" if status == 200 else "",
                            headers=response_headers or [], body=response_body,
                            body_size=len(response_body))
    values: dict[str, Any] = {
        "id": "01HWRFQP3K5M9TGWQX7Z000000", "session_id": "01HWSESSION0000000000000000",
        "started_at": datetime(2026, 3, 8, 14, 30, 22, 123456, tzinfo=UTC),
        "duration_us": 142_300,
        "timings": Timings(dns_us=-1, connect_us=1500, tls_us=2500, send_us=100,
                           wait_us=130_000, receive_us=8200),
        "server_addr": "93.184.216.34:443",
    }
    values.update(fields)
    return Flow(request=request, response=response, **values)


def sample_session() -> list[Flow]:
    """A JSON API call, a form post, a binary image, a redirect, a 404, a refused connection."""
    return [
        make_flow("GET", "https://api.example.com/v1/items?page=2&sort=name",
                  headers=[("Host", "api.example.com"), ("Cookie", "sid=abc; theme=dark"),
                           ("Authorization", "Bearer secret-token")],
                  response_headers=[("Content-Type", "application/json"),
                                    ("Set-Cookie", "sid=new; Path=/; HttpOnly; Secure")],
                  response_body=b'{"items": [1, 2, 3]}', tags=["api"], id="01HW0000000000000000000001"),
        make_flow("POST", "https://api.example.com/v1/login",
                  headers=[("Content-Type", "application/x-www-form-urlencoded")],
                  body=b"user=alice&password=%3Dsecret", response_headers=[
                      ("Content-Type", "text/html; charset=utf-8")],
                  response_body="<p>Welcome, Zoë</p>".encode(), id="01HW0000000000000000000002"),
        make_flow("GET", "https://cdn.example.com/logo.png",
                  response_headers=[("Content-Type", "image/png")], response_body=PNG,
                  id="01HW0000000000000000000003"),
        make_flow("GET", "http://example.com/old", status=302,
                  response_headers=[("Location", "https://example.com/new")],
                  id="01HW0000000000000000000004", timings=None),
        make_flow("GET", "https://api.example.com/missing", status=404,
                  response_headers=[("Content-Type", "application/json")],
                  response_body=b'{"error": "not found"}', id="01HW0000000000000000000005"),
        make_flow("GET", "http://127.0.0.1:9/refused", status=None,
                  error="Connection refused", id="01HW0000000000000000000006", timings=None,
                  duration_us=800, server_addr=""),
    ]
