"""Builders for flows and interactions used by the journey tests."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import urlsplit

from ulid import ULID

from ghost_addons.model import Flow, Request, Response
from plugins.journeys.model import Interaction, ms_to_datetime


def make_flow(
    url: str = "http://app.test/api/items",
    method: str = "GET",
    *,
    status: int = 200,
    content_type: str = "application/json",
    body: bytes = b"[]",
    at_ms: float | None = None,
    header: str = "",
    session_id: str = "S",
    duration_us: int = 12_000,
    request_headers: list[tuple[str, str]] | None = None,
    request_body: bytes = b"",
    response: bool = True,
) -> Flow:
    parts = urlsplit(url)
    started = ms_to_datetime(at_ms) if at_ms is not None else datetime.now(UTC)
    resp = (
        Response(
            status_code=status,
            status_text="OK",
            headers=[("Content-Type", content_type)] if content_type else [],
            body=body,
            body_size=len(body),
        )
        if response
        else None
    )
    return Flow(
        id=str(ULID()),
        session_id=session_id,
        started_at=started,
        request=Request(
            method=method,
            url=url,
            scheme=parts.scheme,
            host=parts.hostname or "",
            port=parts.port or (443 if parts.scheme == "https" else 80),
            path=parts.path or "/",
            headers=request_headers or [("Host", parts.netloc), ("Accept", "*/*")],
            body=request_body,
            body_size=len(request_body),
        ),
        response=resp,
        duration_us=duration_us,
        interaction_id=header,
    )


def make_interaction(
    kind: str = "click",
    *,
    at_ms: float,
    journey_id: str = "J",
    counter: int | None = None,
    selector: str = "#login",
    session_id: str = "S",
    text: str = "Sign in",
) -> Interaction:
    interaction_id = f"{journey_id}-{counter}-{int(at_ms)}" if counter is not None else str(ULID())
    return Interaction(
        id=interaction_id,
        session_id=session_id,
        type=kind,
        page_url="http://app.test/login",
        page_title="Login",
        timestamp=ms_to_datetime(at_ms),
        selector=selector,
        element_type="button",
        element_text=text,
        attributes={"id": "login", "tag": "button", "visible_text": text},
        journey_id=journey_id,
    )
