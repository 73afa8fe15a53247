"""A journey with interactions, as the extension records it on tests/plugins/journeys/webapp.py:
sign in (the click sends POST /api/auth), the dashboard (add a note: POST /api/notes, then
GET it back), the widgets page (two options of one test-id dropdown, a Turkish-labelled
button, a date on the page). Deterministic, for golden files."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from plugins.journeys.export.model import ExportStep, JourneyExport
from plugins.journeys.model import Interaction, Journey, Step, clean_attributes

from .journeys import JOURNEY_ID, START, flow

BASE = "http://127.0.0.1:8080"


def interaction(n: int, kind: str, page: str, selector: str = "", text: str = "", tag: str = "",
                **attributes: str) -> Interaction:
    attrs: dict[str, Any] = {"tag": tag, **attributes} if tag else dict(attributes)
    return Interaction(f"01JUI0000000000000000000{n:02d}", "S", kind, BASE + page, START + timedelta(seconds=n),
                       selector=selector, element_text=text, element_type=tag, page_title="Journey App",
                       attributes=clean_attributes(attrs))


def ui_journey(name: str = "Sign in, add a note & pick widgets") -> JourneyExport:
    token, note = "a3f1c0ffee5eed5ca1ab1e0123456789", "5eedfeed0badcafe"
    bearer = [("Authorization", f"Bearer {token}")]
    auth = flow(1, BASE, "POST", "/api/auth", 200, {"token": token},
                request_body={"username": "alice", "password": "secret"})
    items = flow(2, BASE, "GET", "/api/items", 200, [{"id": 1, "name": "Apples"}], headers=bearer)
    created = flow(3, BASE, "POST", "/api/notes", 201, {"id": note, "title": "Buy milk"}, headers=bearer,
                   request_body={"title": "Buy milk"}, response_headers=[("Location", f"/api/notes/{note}")])
    read = flow(4, BASE, "GET", f"/api/notes/{note}", 200, {"id": note, "title": "Buy milk"}, headers=bearer)
    login = "/"
    steps: list[tuple[Interaction | None, Any]] = [
        (interaction(1, "navigation", login), None),
        (interaction(2, "click", login, 'input[data-testid="username"]', "", "input", name="username",
                     test_id="username", test_id_attr="data-testid", placeholder="Username"), None),
        (interaction(3, "input", login, 'input[data-testid="username"]', "alice", "input", name="username",
                     test_id="username", test_id_attr="data-testid", placeholder="Username"), None),
        (interaction(4, "input", login, 'input[data-testid="password"]', "secret", "input", name="password",
                     type="password", test_id="password", test_id_attr="data-testid"), None),
    ]
    click_login = interaction(5, "click", login, 'button[data-testid="login-button"]', "Sign in", "button",
                              type="submit", role="button", test_id="login-button", test_id_attr="data-testid",
                              visible_text="Sign in")
    steps.append((click_login, auth))
    steps.append((interaction(6, "navigation", "/dashboard"), None))
    steps.append((None, items))
    add = interaction(7, "click", "/dashboard", 'button[data-testid="add-note"]', "Add note", "button",
                      id="add-note", role="button", test_id="add-note", test_id_attr="data-testid",
                      visible_text="Add note")
    steps += [(add, created), (add, read)]  # one click, two requests: two action steps
    toggle = interaction(8, "click", "/dashboard", 'button[data-testid="toggle-details"]', "Toggle details",
                         "button", id="toggle", role="button", test_id="toggle-details",
                         test_id_attr="data-testid", visible_text="Toggle details")
    steps += [(toggle, None), (toggle, None)]
    widgets = "/widgets?tab=1"
    option = 'div[data-cy="tag_type"] > div:nth-of-type({})'
    steps += [
        (interaction(9, "click", widgets, option.format(1), "Shire", "div", visible_text="Shire"), None),
        (interaction(10, "click", widgets, option.format(1), "Shire", "div", visible_text="Shire"), None),
        (interaction(11, "click", widgets, option.format(2), "Mordor", "div", visible_text="Mordor"), None),
        (interaction(12, "change", widgets, 'select[data-test="country"]', "Germany", "select", name="country",
                     test_id="country", test_id_attr="data-test"), None),
        (interaction(13, "change", widgets, "#agree", "checked", "input", id="agree", name="agree",
                     type="checkbox"), None),
        (interaction(14, "click", widgets, "body > div:nth-of-type(3) > button", "Giriş Yap", "button",
                     role="button", visible_text="Giriş Yap"), None),
        (interaction(15, "click", widgets, "body > p:nth-of-type(2)", "17-03-2026", "p",
                     visible_text="17-03-2026"), None),
    ]
    journey = Journey(JOURNEY_ID, "S", name, "completed", START, START, completed_at=START + timedelta(seconds=30))
    out = []
    for n, (i, f) in enumerate(steps, start=1):
        kind = "action" if i and f else "flow" if f else "interaction"
        out.append(ExportStep(Step(f"01JUISTEP{n:017d}", JOURNEY_ID, n, kind, i.id if i else None,
                                   f.id if f else None, "{}", START + timedelta(seconds=n)), f, i))
    return JourneyExport(journey, out)
