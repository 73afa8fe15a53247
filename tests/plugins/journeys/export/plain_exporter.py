"""A third-party plugin adding a journey export format without importing the journeys plugin."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from ghost_addons.hookspecs import hookimpl


def urls(journey_export: Any) -> str:
    return "".join(f"{s.flow.request.method} {s.flow.request.url}\n" for s in journey_export.steps if s.flow)


@hookimpl
def ghost_journey_exporters(register: Any) -> None:
    register("urls", SimpleNamespace(generate=urls, content_type="text/plain", extension=".urls.txt"))
