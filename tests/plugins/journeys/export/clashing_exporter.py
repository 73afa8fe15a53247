"""A plugin that claims a built-in journey export format name: Ghost must refuse to start."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from ghost_addons.hookspecs import hookimpl


@hookimpl
def ghost_journey_exporters(register: Any) -> None:
    register("curl", SimpleNamespace(generate=lambda journey_export: "", content_type="text/plain",
                                     extension=".sh"))
