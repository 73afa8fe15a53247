"""Diagnostics: the `logging` and `telemetry` settings.

`logging.level` sets how much Ghost's own loggers (`ghost`, `ghost.*`) say, applied at start
and whenever it changes. `telemetry` holds the spec's telemetry settings so settings files
move between Ghost builds unchanged; this Ghost sends no telemetry anywhere, whatever they
say, and exports leave `sentry_dsn` out.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from ghost_addons.hookspecs import RegisterSettings, hookimpl
from ghost_addons.settings_schema import Setting

if TYPE_CHECKING:
    from ghost_addons.core import Ghost

LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warn": logging.WARNING, "error": logging.ERROR}
LEVEL_SETTING = "logging.level"


@hookimpl
def ghost_settings(register: RegisterSettings) -> None:
    register("logging", Setting("level", "info", "How much Ghost logs: debug, info, warn or error.",
                                choices=tuple(LEVELS)))
    register(
        "telemetry",
        Setting("sentry_dsn", "", "Kept for other Ghost builds; this one reports nothing.", exported=False),
        Setting("telemetry_enabled", False, "Kept for other Ghost builds; this one sends no telemetry."),
        Setting("telemetry_endpoint", "", "Kept for other Ghost builds; this one sends no telemetry.",
                url=True),
    )


def apply_level(ghost: Ghost) -> None:
    logging.getLogger("ghost").setLevel(LEVELS[ghost.settings.get(LEVEL_SETTING)])


@hookimpl
def ghost_startup(ghost: Ghost) -> None:
    apply_level(ghost)


@hookimpl
def ghost_settings_changed(ghost: Ghost, changed: set[str]) -> None:
    if LEVEL_SETTING in changed:
        apply_level(ghost)
