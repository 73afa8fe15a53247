"""JavaScript addons: user scripts in V8 that tag, change, block or answer traffic at the
addons stage of the pipeline, each in its own context in a worker process. See README.md."""

from __future__ import annotations

import asyncio
import logging
import resource
from collections.abc import Awaitable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from ghost_addons.hookspecs import Register, RegisterEvent, RegisterSettings, hookimpl
from ghost_addons.model import format_time
from ghost_addons.settings_schema import Setting
from plugins.js_addons import api, store
from plugins.js_addons.runtime import AddonLoadError, AddonRuntime, LoadedAddon, RuntimeConfig

if TYPE_CHECKING:
    from mitmproxy import http

    from ghost_addons.api.routes import RouteTable
    from ghost_addons.core import Ghost

log = logging.getLogger("ghost.js_addons")

TIMEOUT_SETTING = "addons.call_timeout_ms"
# V8 reserves its address space when an isolate starts: measured here (V8 8.9) a worker
# starts under `ulimit -v` of 9,000 MB and not of 8,000 MB.
V8_ADDRESS_SPACE_MB = 9000


def address_space_limit_mb() -> int | None:
    """This process's address-space limit (`ulimit -v`, RLIMIT_AS) in MB; None: unlimited.
    The addon workers inherit it."""
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    return None if soft == resource.RLIM_INFINITY else soft // (1024 * 1024)


def off_reason(error: Exception, limit_mb: int | None) -> str:
    """Why the addons are off, said so that the user can act on it."""
    reason = f"the V8 worker did not start: {error}"
    if limit_mb is not None:
        reason += (f". Ghost runs under an address-space limit (ulimit -v) of {limit_mb} MB, and V8 reserves "
                   f"about {V8_ADDRESS_SPACE_MB} MB of address space when a worker starts: remove the limit "
                   "(ulimit -v unlimited) or raise it, then restart Ghost")
    return reason


class JsAddonsPlugin:
    """The plugin, and the runtime's event sink (`RuntimeEvents`)."""

    def __init__(self) -> None:
        self.ghost: Ghost | None = None
        self.runtime: AddonRuntime | None = None
        self.lock = asyncio.Lock()
        self._errors: dict[str, str] = {}
        self._flushing = False
        self.off_reason = ""  # why the runtime did not start ("" once it runs, or before start-up)

    # --- lifecycle ------------------------------------------------------------------------

    @hookimpl
    def ghost_settings(self, register: RegisterSettings) -> None:
        register("addons", Setting("call_timeout_ms", 50, "Time limit of one JavaScript addon call; an addon "
                                   "that overruns is skipped for that flow.", minimum=1, maximum=10000))

    @hookimpl
    def ghost_event_types(self, register: RegisterEvent) -> None:
        register("addon.created", "addon {id, name, code, enabled, priority, status, ...}", "An addon was created.")
        register("addon.updated", "addon", "An addon was changed, toggled, or its status changed.")
        register("addon.deleted", "{id}", "An addon was deleted.")
        register("addon.log", "{id, name, level, message, timestamp}",
                 "An addon called ghost.log(), ghost.warn() or ghost.error().")

    @hookimpl
    def ghost_migrations(self, register: Register) -> None:
        register("js_addons", store.MIGRATIONS)

    @hookimpl
    async def ghost_startup(self, ghost: Ghost) -> None:
        self.ghost = ghost
        runtime = AddonRuntime(RuntimeConfig(call_timeout_ms=int(ghost.settings.get(TIMEOUT_SETTING))), self)
        try:
            await runtime.start()
        except (OSError, RuntimeError) as e:
            # A warning, not an error: mitmproxy stops at start-up on any error, and the
            # proxy is worth running without addons (their routes answer 503 with this
            # reason, and each addon's `status` is `off` with it).
            self.off_reason = off_reason(e, address_space_limit_mb())
            log.warning("JavaScript addons are off: %s", self.off_reason)
            await runtime.stop()
            return
        self.off_reason = ""
        self.runtime = runtime
        for addon in await ghost.store.read(store.load_addons):
            if not addon.enabled:
                continue
            try:
                await runtime.load(addon.id, addon.name, addon.code, addon.priority, addon.created_at)
            except AddonLoadError as e:
                await self._disable(addon.id, addon.name, e.message, f"failed to load at startup: {e.message}")

    @hookimpl
    async def ghost_shutdown(self, ghost: Ghost) -> None:
        runtime, self.runtime = self.runtime, None
        if runtime is not None:
            await runtime.stop()
        if self._errors:
            await self._flush_errors()

    @hookimpl
    def ghost_settings_changed(self, ghost: Ghost, changed: set[str]) -> None:
        if TIMEOUT_SETTING in changed and self.runtime is not None:
            self.runtime.config.call_timeout_ms = int(ghost.settings.get(TIMEOUT_SETTING))

    @hookimpl
    def ghost_routes(self, ghost: Ghost, routes: RouteTable) -> None:
        api.register(ghost, routes, self)

    @hookimpl
    def ghost_monitor(self, ghost: Ghost, report: dict[str, Any]) -> None:
        report["js_addons"] = {"running": self.runtime is not None, "off_reason": self.off_reason}

    # --- the pipeline stage ------------------------------------------------------------------

    @hookimpl
    def ghost_addons(self, ghost: Ghost, flow: http.HTTPFlow, phase: str) -> Awaitable[None] | None:
        runtime = self.runtime
        if runtime is None:
            return None
        chain = runtime.chain(phase)
        if not chain:
            return None
        return runtime.run(flow, phase, chain)

    # --- what the runtime reports ---------------------------------------------------------

    def _publish_log(self, addon_id: str, name: str, level: str, message: str) -> None:
        if self.ghost is not None:
            self.ghost.events.publish("addon.log", {
                "id": addon_id, "name": name, "level": level, "message": message,
                "time": format_time(datetime.now(UTC)),
            })

    def addon_log(self, addon: LoadedAddon, level: str, message: str) -> None:
        self._publish_log(addon.id, addon.name, level, message)

    def addon_failed(self, addon: LoadedAddon, error: str) -> None:
        self._publish_log(addon.id, addon.name, "error", error)
        self._errors[addon.id] = error
        if not self._flushing and self.ghost is not None:
            self._flushing = True
            self.ghost.spawn(self._flush_errors(), "store addon errors")

    def addon_disabled(self, addon: LoadedAddon, reason: str) -> None:
        if self.ghost is not None:
            self.ghost.spawn(self._disable(addon.id, addon.name, addon.last_error or reason, reason),
                             f"disable addon {addon.id}")

    async def _flush_errors(self) -> None:
        assert self.ghost is not None
        try:
            while self._errors:
                batch, self._errors = self._errors, {}
                await self.ghost.store.write(store.set_last_errors, batch)
        finally:
            self._flushing = False

    async def _disable(self, addon_id: str, name: str, error: str, reason: str) -> None:
        assert self.ghost is not None
        log.warning("addon %r (%s) disabled: %s", name, addon_id, reason)
        self._errors.pop(addon_id, None)
        async with self.lock:
            if self.runtime is not None and addon_id in self.runtime.addons:
                return  # reloaded (by an update) since this failure: the new version runs
            addon = await self.ghost.store.write(store.disable_addon, addon_id, error, reason,
                                                 format_time(datetime.now(UTC)))
        self._publish_log(addon_id, name, "error", f"addon disabled: {reason}")
        if addon is not None:
            self.ghost.events.publish("addon.updated", addon.to_dict())


def make_plugin() -> JsAddonsPlugin:
    return JsAddonsPlugin()
