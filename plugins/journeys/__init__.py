"""Journey recording: browser interactions tied to the flows they caused, and replay.

The browser extension (`extension/`) sets `X-Ghost-Interaction` on requests; the core
moves it into each flow's `interaction_id`; the recorder here turns a recording session's
flows and the extension's interactions into ordered `action` / `flow` / `interaction`
steps. The extension's messages arrive through the `ghost_extension_message` and
`ghost_extension_connected` hooks, whichever plugin holds its connection. See README.md
beside this file.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any

from ghost_addons.hookspecs import Register, RegisterEvent, RegisterSettings, hookimpl
from ghost_addons.plugins import declare
from ghost_addons.registry import Registry
from ghost_addons.settings_schema import Setting
from plugins.journeys import api, export, tables
from plugins.journeys.model import TEST_ID_ATTRIBUTES
from plugins.journeys.recorder import Recorder

if TYPE_CHECKING:
    from ghost_addons.api.routes import RouteTable
    from ghost_addons.core import Ghost
    from ghost_addons.model import Flow

log = logging.getLogger("ghost.journeys")


class JourneysPlugin:
    def __init__(self) -> None:
        self.recorder: Recorder | None = None
        # Journey export formats: filled at start-up from every plugin's ghost_journey_exporters.
        self.exporters: Registry[Any] = Registry("journey exporter", export.check_exporter)

    def recorder_for(self, ghost: Ghost) -> Recorder:
        if self.recorder is None:
            self.recorder = Recorder(ghost)
        return self.recorder

    @hookimpl
    def ghost_migrations(self, register: Register) -> None:
        register("journeys", tables.MIGRATIONS)

    @hookimpl
    async def ghost_startup(self, ghost: Ghost) -> None:
        declare(ghost.pm, "ghost_journey_exporters", Registry.registrar, self.exporters)
        changed = await ghost.store.write(tables.recover_orphans)
        if changed["failed"]:
            log.warning("journeys interrupted by a restart are now failed: %s", ", ".join(changed["failed"]))
        ghost.spawn(self.recorder_for(ghost).run(), name="journey recorder")

    @hookimpl
    def ghost_extension_message(self, ghost: Ghost, message: dict[str, Any]) -> Awaitable[bool] | None:
        # Not async itself: other message types cost no coroutine.
        if message.get("type") != "interaction" or self.recorder is None:
            return None
        return self._interaction(self.recorder, message.get("data"), ghost.active_session_id)

    @staticmethod
    async def _interaction(recorder: Recorder, data: Any, session_id: str) -> bool:
        await recorder.add_interaction(data, session_id)  # InvalidInput refuses the message
        return True

    @hookimpl
    async def ghost_extension_connected(self, ghost: Ghost, info: dict[str, Any]) -> None:
        if self.recorder is not None:
            await self.recorder.extension_connected()

    @hookimpl
    async def ghost_shutdown(self, ghost: Ghost) -> None:
        if self.recorder is not None:
            await self.recorder.flush_all()

    @hookimpl
    def ghost_flow_stored(self, ghost: Ghost, flow: Flow) -> None:
        if self.recorder is not None and self.recorder.active:
            self.recorder.on_flow(flow)

    @hookimpl
    def ghost_routes(self, ghost: Ghost, routes: RouteTable) -> None:
        api.register(ghost, routes, self.recorder_for(ghost), self.exporters)

    @hookimpl
    def ghost_journey_exporters(self, register: Register) -> None:
        export.register_builtin(register)

    @hookimpl
    def ghost_settings(self, register: RegisterSettings) -> None:
        register("journeys", Setting(
            "test_id_attribute", "data-testid",
            "The attribute the playwright-ui export's getByTestId() reads (Playwright's testIdAttribute); "
            "elements whose test ID is in another attribute get a CSS locator.",
            choices=TEST_ID_ATTRIBUTES))

    @hookimpl
    def ghost_monitor(self, ghost: Ghost, report: dict[str, Any]) -> None:
        if self.recorder is not None:
            report["journeys"] = {
                "recording": len(self.recorder.active),
                "noise_dropped": self.recorder.noise_dropped,
            }

    @hookimpl
    def ghost_event_types(self, register: RegisterEvent) -> None:
        register("journey:started", "{journey_id, session_id, name}", "A journey recording began.")
        register("journey:step_added", "{journey_id, step_order, type, flow_id?, interaction_id?}",
                 "A step was added to a journey being recorded.")
        register("journey:completed", "{journey_id, flow_count, interaction_count, duration_ms}",
                 "A journey recording finished.")
        register("journey:updated", "{journey_id, session_id, name}", "A journey was renamed.")
        register("journey:deleted", "{journey_id}", "A journey and its steps were deleted.")


def make_plugin() -> JourneysPlugin:
    return JourneysPlugin()
