"""Ghost core: the mitmproxy addon, plugin contract, store and API."""
