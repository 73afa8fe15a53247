"""Journey recording: browser interactions tied to the flows they caused, and replay.

The browser extension (`extension/`, connected through `plugins.extension_bridge`) sets
`X-Ghost-Interaction` on requests; the core moves it into each flow's `interaction_id`;
the recorder here turns a recording session's flows and the extension's interactions into
ordered `action` / `flow` / `interaction` steps. See README.md beside this file.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from ghost_addons.api.http import ApiError
from ghost_addons.hookspecs import Register, RegisterEvent, hookimpl
from plugins.extension_bridge import bridge_of
from plugins.extension_bridge.hub import ExtensionConnection, ExtensionHub
from plugins.journeys import api, tables
from plugins.journeys.recorder import Recorder

if TYPE_CHECKING:
    from ghost_addons.api.routes import RouteTable
    from ghost_addons.core import Ghost
    from ghost_addons.model import Flow

log = logging.getLogger("ghost.journeys")


class JourneysPlugin:
    def __init__(self) -> None:
        self.recorder: Recorder | None = None

    def recorder_for(self, ghost: Ghost) -> Recorder:
        if self.recorder is None:
            def hub() -> ExtensionHub | None:
                bridge = bridge_of(ghost)
                return bridge.hub if bridge is not None else None

            self.recorder = Recorder(ghost, hub)
        return self.recorder

    @hookimpl
    def ghost_migrations(self, register: Register) -> None:
        register("journeys", tables.MIGRATIONS)

    @hookimpl
    async def ghost_startup(self, ghost: Ghost) -> None:
        changed = await ghost.store.write(tables.recover_orphans)
        if changed["failed"]:
            log.warning("journeys interrupted by a restart are now failed: %s", ", ".join(changed["failed"]))
        recorder = self.recorder_for(ghost)
        bridge = bridge_of(ghost)
        if bridge is not None:
            hub = bridge.hub_for(ghost)

            async def on_interaction(connection: ExtensionConnection, message: dict[str, Any]) -> None:
                try:
                    await recorder.add_interaction(message.get("data"), ghost.active_session_id)
                except ApiError as e:
                    raise ValueError(e.message) from None

            async def on_connect(connection: ExtensionConnection) -> None:
                await recorder.extension_connected()

            hub.subscribe("interaction", on_interaction)
            hub.on_connect(on_connect)
        ghost.spawn(recorder.run(), name="journey recorder")

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
        api.register(ghost, routes, self.recorder_for(ghost))

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
        register("journey:deleted", "{journey_id}", "A journey and its steps were deleted.")


def make_plugin() -> JourneysPlugin:
    return JourneysPlugin()
