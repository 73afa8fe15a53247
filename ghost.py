"""Ghost for mitmproxy: `mitmdump -s ghost.py` (or `mitmweb -s ghost.py`)."""

from ghost_addons.addon import GhostAddon
from plugins import DEFAULT_PLUGINS

addons = [GhostAddon(DEFAULT_PLUGINS)]
