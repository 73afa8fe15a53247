"""Finding what a request names, or the 4xx that says it is not there."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ghost_addons.api.http import ApiError
from ghost_addons.ssrf import OutboundGuard, guard_for

if TYPE_CHECKING:
    from ghost_addons.core import Ghost
    from ghost_addons.model import Flow

def registered[T](registry: dict[str, T], name: str, what: str) -> T:
    """`registry[name]`, or a 400 listing the names there are (e.g. export formats)."""
    found = registry.get(name)
    if found is None:
        raise ApiError(400, f"unknown {what} {name!r}; use one of {', '.join(sorted(registry))}")
    return found


def found[T](value: T | None, what: str, key: str) -> T:
    """`value`, or a 404 saying there is no `what` called `key` (e.g. "no map rule '01J…'")."""
    if value is None:
        raise ApiError(404, f"no {what} {key!r}")
    return value


def running[T](component: T | None, message: str) -> T:
    """A plugin's engine or manager once it runs, or a 503 with `message` (before start-up
    and after shutdown it is None)."""
    if component is None:
        raise ApiError(503, message)
    return component


def outbound_guard(ghost: Ghost) -> OutboundGuard:
    """The SSRF guard for a request Ghost sends itself, or a 400 naming the bad
    `replay.allow_hosts` entry."""
    try:
        return guard_for(ghost)
    except ValueError as e:
        raise ApiError(400, str(e)) from None


async def session_or_404(ghost: Ghost, session_id: str) -> dict[str, Any]:
    return found(await ghost.store.get_session(session_id), "session", session_id)


async def flow_or_404(ghost: Ghost, flow_id: str) -> Flow:
    return found(await ghost.store.get_flow(flow_id), "flow", flow_id)
