"""Ghost's core: the mitmproxy addons, the plugin contract, the store and the API."""

__version__ = "0.1.0"
