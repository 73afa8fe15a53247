"""Ghost's REST API, WebSocket events and SSE streams (aiohttp inside mitmproxy's loop)."""
