"""Finding what a request names, or the 4xx that says it is not there."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ghost_addons.api.http import ApiError

if TYPE_CHECKING:
    from ghost_addons.core import Ghost
    from ghost_addons.model import Flow

def registered[T](registry: dict[str, T], name: str, what: str) -> T:
    """`registry[name]`, or a 400 listing the names there are (e.g. export formats)."""
    found = registry.get(name)
    if found is None:
        raise ApiError(400, f"unknown {what} {name!r}; use one of {', '.join(sorted(registry))}")
    return found


async def session_or_404(ghost: Ghost, session_id: str) -> dict[str, Any]:
    session = await ghost.store.get_session(session_id)
    if session is None:
        raise ApiError(404, f"no session {session_id!r}")
    return session


async def flow_or_404(ghost: Ghost, flow_id: str) -> Flow:
    flow = await ghost.store.get_flow(flow_id)
    if flow is None:
        raise ApiError(404, f"no flow {flow_id!r}")
    return flow
