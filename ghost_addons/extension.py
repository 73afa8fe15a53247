"""What a feature may ask of a browser extension, whichever plugin holds its connection.

The built-in `plugins/extension_bridge` holds Ghost's Chromium extension; a third-party
plugin could hold another browser's. Features (journeys...) never look a bridge up by name:
they ask the `ghost_browser_extension` hook through `browser_extension(ghost)` and talk to
what it returns, and they receive the extension's messages through the
`ghost_extension_message` and `ghost_extension_connected` hooks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from ghost_addons.core import Ghost


class BrowserExtension(Protocol):
    """A connected browser extension as features see it."""

    @property
    def connected(self) -> bool:
        """Whether an extension is connected right now (it may go away at any time)."""
        ...

    async def broadcast(self, message: dict[str, Any]) -> int:
        """Send `message` (`{"type": ..., "data": ...}`) to every connected extension;
        returns how many got it (0 is not an error: nobody was there to tell)."""
        ...

    async def request(self, kind: str, data: dict[str, Any], timeout: float) -> dict[str, Any]:
        """Ask the current extension to do `kind` and wait at most `timeout` seconds for
        its answer. Raises `ghost_addons.errors.InvalidInput` when none is connected,
        `TimedOut` when it does not answer, `UpstreamFailed` when it answers with an error."""
        ...


def browser_extension(ghost: Ghost) -> BrowserExtension | None:
    """The connected browser extension, from whichever plugin holds it; None when there is none."""
    extension: BrowserExtension | None = ghost.pm.hook.ghost_browser_extension(ghost=ghost)
    return extension
