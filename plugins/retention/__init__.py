"""Auto-purge: when `store.auto_purge_enabled`, delete flows older than
`store.auto_purge_max_age_hours` and all but the newest `store.auto_purge_max_flows`,
at start, every minute, and right after those settings change."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from ghost_addons.hookspecs import RegisterEvent, RegisterSettings, hookimpl
from ghost_addons.model import format_time
from ghost_addons.settings_schema import Setting
from ghost_addons.store import flows

if TYPE_CHECKING:
    from ghost_addons.core import Ghost

log = logging.getLogger("ghost.retention")

PURGE_INTERVAL_SECS = 60.0


def purge_limits(ghost: Ghost, now: datetime) -> tuple[str | None, int] | None:
    """(cutoff timestamp or None, flows to keep or 0), or None when purging is off."""
    get = ghost.settings.get
    if not get("store.auto_purge_enabled"):
        return None
    hours = get("store.auto_purge_max_age_hours")
    cutoff = format_time(now - timedelta(hours=hours)) if hours > 0 else None
    keep = get("store.auto_purge_max_flows")
    if cutoff is None and keep <= 0:
        return None
    return cutoff, keep


SETTINGS = (
    Setting("auto_purge_enabled", False, "Delete old flows automatically (checked every minute)."),
    Setting("auto_purge_max_age_hours", 0, "Delete flows older than this many hours (0: no age limit).",
            minimum=0),
    Setting("auto_purge_max_flows", 0, "Keep only the newest this many flows (0: no count limit).", minimum=0),
)


class RetentionPlugin:
    def __init__(self) -> None:
        self.wake = asyncio.Event()
        self.purged = 0

    @hookimpl
    def ghost_settings(self, register: RegisterSettings) -> None:
        register("store", *SETTINGS)

    @hookimpl
    def ghost_event_types(self, register: RegisterEvent) -> None:
        register("flows.purged", "{deleted}", "Auto-purge deleted this many old flows.")

    @hookimpl
    def ghost_startup(self, ghost: Ghost) -> None:
        ghost.spawn(self._loop(ghost), name="ghost auto-purge")

    @hookimpl
    def ghost_settings_changed(self, ghost: Ghost, changed: set[str]) -> None:
        if any(n.startswith("store.auto_purge") for n in changed):
            self.wake.set()

    @hookimpl
    def ghost_monitor(self, ghost: Ghost, report: dict) -> None:
        report["auto_purged_flows"] = self.purged

    async def purge_now(self, ghost: Ghost) -> int:
        limits = purge_limits(ghost, datetime.now(UTC))
        if limits is None:
            return 0
        deleted = await ghost.store.write(flows.purge_flows, *limits)
        if deleted:
            self.purged += deleted
            log.info("auto-purge deleted %d flows", deleted)
            ghost.events.publish("flows.purged", {"deleted": deleted})
        return deleted

    async def _loop(self, ghost: Ghost) -> None:
        while True:
            try:
                await self.purge_now(ghost)
            except Exception:
                log.exception("auto-purge failed; will try again")
            self.wake.clear()
            try:
                await asyncio.wait_for(self.wake.wait(), PURGE_INTERVAL_SECS)
            except TimeoutError:
                pass


def make_plugin() -> RetentionPlugin:
    return RetentionPlugin()
