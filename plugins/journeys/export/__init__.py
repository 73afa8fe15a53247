"""Journey export: a recorded journey becomes files other tools run (cURL, HAR, Postman, k6,
Playwright API, Cypress API, and the Page Object Model formats Playwright UI and Cypress UI).

`GET /api/v1/journeys/{id}/export?format=NAME` loads the journey into a `JourneyExport`
(`model.py`: the journey and its ordered steps with their full flows and interactions) and
answers `generate(journey_export)` of the `JourneyExporter` registered under NAME. Formats
are a registry plugins add to through `ghost_journey_exporters(register)`; the built-in ones
are registered by the journeys plugin exactly that way (`register_builtin`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from plugins.journeys import tables
from plugins.journeys.export import curl, cypress_api, cypress_ui, har, k6, playwright_api, playwright_ui, postman
from plugins.journeys.export.model import ExportStep, JourneyExport, JourneyExporter, check_exporter

if TYPE_CHECKING:
    from ghost_addons.store import Store
    from ghost_addons.store.db import Connection

__all__ = ["BUILTIN", "ExportStep", "JourneyExport", "JourneyExporter", "check_exporter", "load", "register_builtin"]

BUILTIN: dict[str, JourneyExporter] = {
    "curl": JourneyExporter(curl.generate, "text/x-shellscript", ".sh"),
    "har": JourneyExporter(har.generate, "application/json", ".har"),
    "postman": JourneyExporter(postman.generate, "application/json", ".postman_collection.json"),
    "k6": JourneyExporter(k6.generate, "application/javascript", ".k6.js"),
    "playwright-api": JourneyExporter(playwright_api.generate, "text/typescript", ".api.spec.ts"),
    "cypress-api": JourneyExporter(cypress_api.generate, "application/javascript", ".api.cy.js"),
    "playwright-ui": JourneyExporter(playwright_ui.generate, "text/typescript", ".ui.spec.ts", needs="interactions"),
    "cypress-ui": JourneyExporter(cypress_ui.generate, "application/javascript", ".ui.cy.js", needs="interactions"),
}


def register_builtin(register: Callable[[str, JourneyExporter], None]) -> None:
    for name, exporter in BUILTIN.items():
        register(name, exporter)


async def load(store: Store, journey_id: str) -> JourneyExport | None:
    """The journey with its steps, flows and interactions; None when there is no such journey.
    One read on a reader thread, three queries however many steps."""
    return await store.read(read_export, journey_id)


def read_export(conn: Connection, journey_id: str) -> JourneyExport | None:
    journey = tables.get_journey(conn, journey_id)
    if journey is None:
        return None
    flows = tables.journey_flows(conn, journey_id)
    interactions = tables.journey_interactions(conn, journey_id)
    steps = [ExportStep(step, flows.get(step.flow_id or ""), interactions.get(step.interaction_id or ""))
             for step in tables.list_steps(conn, journey_id)]
    return JourneyExport(journey, steps)
