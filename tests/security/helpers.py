"""What the security suite shares: a Ghost with every built-in plugin, its route table read
from the running aiohttp app (never a hand-made list), and stored flows and journeys to aim at."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from aiohttp import web

from ghost_addons.core import Ghost
from ghost_addons.ids import new_id
from plugins import DEFAULT_PLUGINS
from plugins.journeys import tables
from plugins.journeys.correlation import StepDraft
from plugins.journeys.model import Journey
from tests.plugins.journeys.helpers import make_flow

ALL_PLUGINS = tuple(DEFAULT_PLUGINS)


def served_routes(ghost: Ghost) -> list[tuple[str, str]]:
    """(method, path template) of every route the running app serves, HEAD included."""
    runner = ghost.api.runner
    assert runner is not None, "Ghost's API is not running"
    app: web.Application = runner.app
    found = set()
    for route in app.router.routes():
        resource = route.resource
        if resource is not None and route.method != "*":
            found.add((route.method, resource.canonical))
    return sorted(found)


def fill(path: str, value: str = "x") -> str:
    """A concrete path for a template: every `{name}` becomes `value`."""
    return re.sub(r"{\w+}", value, path)


async def stored_flow(ghost: Ghost, url: str, method: str = "GET", **kwargs: object) -> str:
    """Store a flow aimed at `url` in the active session; its id."""
    flow = make_flow(url, method, session_id=ghost.active_session_id, **kwargs)  # type: ignore[arg-type]
    await ghost.store.add_flows([flow])
    return flow.id


async def journey_of(ghost: Ghost, urls: list[str]) -> str:
    """A completed journey whose steps are stored flows aimed at `urls`; its id."""
    flow_ids = [await stored_flow(ghost, url) for url in urls]
    now = datetime.now(UTC)
    journey = Journey(id=new_id(), session_id=ghost.active_session_id, name="security", status="completed",
                      started_at=now, created_at=now, completed_at=now)
    await ghost.store.write(tables.insert_journey, journey)
    drafts = [StepDraft(i + 1, "flow", flow_id, None, {}, now) for i, flow_id in enumerate(flow_ids)]
    await ghost.store.write(tables.insert_steps, journey.id, drafts)
    return journey.id
