"""A login journey as the journeys plugin stores it: sign in, list items, create a note,
read it back through the Location the app handed out. Deterministic (fixed ids and times)
for golden files; the token and note id are parameters so a test can use real ones."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import orjson

from ghost_addons.model import Flow, Request, Response
from plugins.journeys.export.model import ExportStep, JourneyExport
from plugins.journeys.model import Interaction, Journey, Step

JOURNEY_ID = "01JEXP0RT0000000000000000J"
START = datetime(2026, 12, 3, 12, 0, 0, tzinfo=UTC)
BROWSER = [("User-Agent", "Mozilla/5.0 Chromium/156"), ("Accept-Language", "en"), ("Origin", "{base}"),
           ("Referer", "{base}/"), ("Sec-Fetch-Mode", "cors"), ("Cookie", "sid=recorded-cookie"),
           ("X-Ghost-Interaction", "01JEXP0RT-1-1764763200000")]


def flow(n: int, base: str, method: str, path: str, status: int, body: object, *, request_body: object = None,
         headers: list[tuple[str, str]] = (), response_headers: list[tuple[str, str]] = (),  # type: ignore[assignment]
         response: bool = True, start: datetime = START, session_id: str = "S", ids: str = "01JEXP0RTF") -> Flow:
    url = base + path
    parts = urlsplit(url)
    sent = orjson.dumps(request_body) if request_body is not None else b""
    request_headers = [("Host", parts.netloc), ("Accept", "application/json"), *headers,
                       *((k, v.format(base=base)) for k, v in BROWSER)]
    if sent:
        request_headers.append(("Content-Type", "application/json"))
    answer = orjson.dumps(body)
    return Flow(
        id=f"{ids}{n:016d}",
        session_id=session_id,
        started_at=start + timedelta(seconds=n),
        request=Request(method=method, url=url, scheme=parts.scheme, host=parts.hostname or "",
                        port=parts.port or 80, path=parts.path, headers=request_headers, body=sent,
                        body_size=len(sent)),
        response=Response(status_code=status, status_text="OK",
                          headers=[("Content-Type", "application/json; charset=utf-8"),
                                   ("Date", "Thu, 03 Dec 2026 12:00:00 GMT"), *response_headers],
                          body=answer, body_size=len(answer)) if response else None,
        duration_us=12_500,
        server_addr="127.0.0.1:8080",
    )


def login_flows(base: str, token: str, note_id: str, *, start: datetime = START, session_id: str = "S",
                ids: str = "01JEXP0RTF") -> list[Flow]:
    """Sign in, list items, create a note, read it back at the Location handed out."""
    bearer = [("Authorization", f"Bearer {token}")]
    at = {"start": start, "session_id": session_id, "ids": ids}
    return [
        flow(1, base, "POST", "/api/auth", 200, {"token": token},
             request_body={"username": "alice", "password": "secret"}, **at),  # type: ignore[arg-type]
        flow(2, base, "GET", "/api/items", 200, [{"id": 1, "name": "Apples"}, {"id": 2, "name": "Pears"}],
             headers=bearer, **at),  # type: ignore[arg-type]
        flow(3, base, "POST", "/api/notes", 201, {"id": note_id, "title": "Buy milk"}, headers=bearer,
             request_body={"title": "Buy milk"}, response_headers=[("Location", f"/api/notes/{note_id}")],
             **at),  # type: ignore[arg-type]
        flow(4, base, "GET", f"/api/notes/{note_id}", 200, {"id": note_id, "title": "Buy milk"}, headers=bearer,
             **at),  # type: ignore[arg-type]
    ]


def login_journey(base: str = "http://127.0.0.1:8080", token: str = "a3f1c0ffee5eed5ca1ab1e0123456789",
                  note_id: str = "5eedfeed0badcafe") -> JourneyExport:
    """The four flows as steps, plus a click with no request and a flow that never got an
    answer (both left out of API exports)."""
    journey = Journey(JOURNEY_ID, "S", "Login and add a note", "completed", START, START,
                      completed_at=START + timedelta(seconds=10), flow_count=5, interaction_count=1)
    flows = login_flows(base, token, note_id)
    click = Interaction("01JEXP0RTI0000000000000001", "S", "click", base + "/dashboard", START,
                        selector="#toggle", element_text="Toggle details", element_type="button")
    unanswered = flow(5, base, "GET", "/api/slow", 200, None, response=False)

    def step(n: int, kind: str, f: Flow | None, i: Interaction | None) -> ExportStep:
        return ExportStep(Step(f"01JEXP0RTS{n:016d}", JOURNEY_ID, n, kind, i.id if i else None,
                               f.id if f else None, "{}", START + timedelta(seconds=n)), f, i)

    steps = [step(1, "flow", flows[0], None), step(2, "interaction", None, click)]
    steps += [step(n + 3, "flow", f, None) for n, f in enumerate(flows[1:])]
    steps.append(step(6, "flow", unanswered, None))
    return JourneyExport(journey, steps)
