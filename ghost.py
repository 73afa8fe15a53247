"""Ghost for mitmproxy: `mitmdump -s ghost.py` (or `mitmweb -s ghost.py`)."""

from ghost_addons.addon import GhostAddon

addons = [GhostAddon()]
