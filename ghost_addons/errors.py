"""What can go wrong in Ghost's domain, said without HTTP.

Features (the recorder, the extension hub, replay...) raise these with a message a user can
act on; the API's error middleware turns each kind into its status and `{"error": message}`
in one table (`ghost_addons.api.app.ERROR_STATUS`), so no feature needs to know a status code
and the same code serves the API, the extension's WebSocket and tests alike.
"""

from __future__ import annotations


class GhostError(Exception):
    """A failure Ghost expected and can explain; `message` is what the user sees."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidInput(GhostError, ValueError):
    """The caller asked for something Ghost cannot do as asked: a bad value, or a
    precondition the caller has to fix first (connect the extension, create the session).

    Also a ValueError, so code that refuses bad input the Python way (the extension
    protocol, parsers) treats it as such."""


class NotFound(GhostError):
    """What the caller named does not exist (or no longer does)."""


class Conflict(GhostError):
    """The thing exists but its current state forbids the change (already recording,
    being replayed); the caller may try again once that state ends."""


class Unavailable(GhostError):
    """A part Ghost needs is not running (yet): retrying later may work."""


class UpstreamFailed(GhostError):
    """Something Ghost talked to on the caller's behalf (the browser extension, a
    target server) failed or answered with an error."""


class TimedOut(GhostError):
    """Something Ghost waited for on the caller's behalf did not answer in time."""
