"""The browser extension bridge: the extension's WebSocket and the routes that talk to it.

    GET  /api/v1/extension/ws       the extension's WebSocket (token as ?token=)
    GET  /api/v1/extension/status   {"connected": true|false, ...}
    GET  /api/v1/extension/info     the connected extension (404 when none)
    POST /api/v1/extension/actions  {"action": "screenshot"|"navigate"|"read_page"|"tabs", ...}
    POST /api/v1/extension/inject   {"code": "...", "tab_id"?: N} runs a script in a tab

The bridge hands the extension's other messages to the `ghost_extension_message` hook and
its hellos to `ghost_extension_connected`, and answers `ghost_browser_extension` with its
hub, so features (journeys) talk to the browser without importing this plugin.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from aiohttp import WSCloseCode, web

from ghost_addons.api.http import ApiError, field, json_response, read_json_object
from ghost_addons.errors import NotFound
from ghost_addons.hookspecs import RegisterEvent, hookimpl
from plugins.extension_bridge.hub import ExtensionHub, any_handled

if TYPE_CHECKING:
    from ghost_addons.api.routes import RouteTable
    from ghost_addons.core import Ghost
    from ghost_addons.extension import BrowserExtension

TOKEN_ROTATED_EVENT = "api.token_rotated"
API_REFUSED_EVENT = "proxy.api_refused"
TOKEN_ROTATED_MESSAGE = "the API token was rotated; reconnect with the new token"
ACTIONS = ("screenshot", "navigate", "read_page", "tabs")
DEFAULT_TIMEOUT_MS = 15_000
MAX_TIMEOUT_MS = 120_000
MAX_SCRIPT_BYTES = 1 << 20
MAX_PAGE_CHARS = 5_000_000


class ExtensionBridge:
    def __init__(self) -> None:
        self.hub: ExtensionHub | None = None

    def hub_for(self, ghost: Ghost) -> ExtensionHub:
        if self.hub is None:
            async def deliver(message: dict[str, Any]) -> bool:
                return await any_handled(ghost.pm.hook.ghost_extension_message(ghost=ghost, message=message))

            async def greeted(info: dict[str, Any]) -> None:
                await ghost.call_hook("ghost_extension_connected", ghost=ghost, info=info)

            self.hub = ExtensionHub(ghost.events.publish, deliver, greeted)
        return self.hub

    @hookimpl
    def ghost_startup(self, ghost: Ghost) -> None:
        self.hub_for(ghost)

    @hookimpl
    def ghost_event_types(self, register: RegisterEvent) -> None:
        register("extension.connected", "{connection_id, connected_at, version, extension_id, user_agent, "
                 "browser, name}", "A browser extension connected and said hello.")
        register("extension.disconnected", "{connection_id, connected}", "A browser extension disconnected.")

    @hookimpl
    def ghost_event(self, ghost: Ghost, type: str, data: Any) -> None:
        if type == API_REFUSED_EVENT and self.hub is not None and not self.hub.connected:
            self.hub.note_error(api_refused_error(data, ghost.api_port))
        # The extension's socket was opened with the old token: it must not outlive it.
        if type == TOKEN_ROTATED_EVENT and self.hub is not None and self.hub.connections:
            ghost.spawn(self.hub.close_all(WSCloseCode.POLICY_VIOLATION, TOKEN_ROTATED_MESSAGE),
                        "extension-bridge-token-rotated")

    @hookimpl
    async def ghost_shutdown(self, ghost: Ghost) -> None:
        if self.hub is not None:
            await self.hub.close_all()

    @hookimpl
    def ghost_browser_extension(self, ghost: Ghost) -> BrowserExtension | None:
        return self.hub if self.hub is not None and self.hub.connected else None

    @hookimpl
    def ghost_routes(self, ghost: Ghost, routes: RouteTable) -> None:
        hub = self.hub_for(ghost)

        async def websocket(request: web.Request) -> web.StreamResponse:
            if request.headers.get("Upgrade", "").lower() != "websocket":
                raise ApiError(400, "this is the extension's WebSocket; connect with a WebSocket client")
            return await hub.serve(request)

        async def status(request: web.Request) -> web.Response:
            return json_response(hub.status())

        async def info(request: web.Request) -> web.Response:
            current = hub.current()
            if current is None:
                raise NotFound("no browser extension is connected to Ghost")
            return json_response({**hub.status(), "extensions": [c.describe() for c in hub.connections]})

        async def actions(request: web.Request) -> web.Response:
            body = await read_json_object(request)
            data = action_request(body)
            timeout = timeout_of(body)
            result = await hub.request("action", data, timeout)
            return json_response({"action": data["action"], "result": result})

        async def inject(request: web.Request) -> web.Response:
            body = await read_json_object(request, limit=MAX_SCRIPT_BYTES + 4096)
            code = field(body, "code", str, required=True)
            if not code.strip():
                raise ApiError(400, "field 'code' must not be empty")
            data: dict[str, Any] = {"code": code}
            tab_id = field(body, "tab_id", int)
            if tab_id is not None:
                data["tab_id"] = tab_id
            result = await hub.request("inject", data, timeout_of(body))
            return json_response({"result": result})

        routes.add("GET", "/api/v1/extension/ws", websocket,
                   "The browser extension's WebSocket (token as the `token` query parameter)",
                   query={"token": "the API token"}, tag="extension")
        routes.add("GET", "/api/v1/extension/status", status, "Whether the browser extension is connected",
                   tag="extension")
        routes.add("GET", "/api/v1/extension/info", info, "The connected browser extension",
                   responses={200: "Extension details", 404: "No extension connected"}, tag="extension")
        routes.add("POST", "/api/v1/extension/actions", actions,
                   "Ask the extension to take a screenshot, navigate, read the page or list tabs",
                   body='{"action": "screenshot"|"navigate"|"read_page"|"tabs", "url"?, "tab_id"?, '
                        '"format"?, "max_chars"?, "include_html"?, "timeout_ms"?}',
                   responses={200: "The action's result", 502: "The extension failed",
                              504: "The extension did not answer"}, tag="extension")
        routes.add("POST", "/api/v1/extension/inject", inject, "Run a script in a browser tab",
                   body='{"code": "...", "tab_id"?: N, "timeout_ms"?: N}',
                   responses={200: "The script's JSON result", 502: "The script failed",
                              504: "The extension did not answer"}, tag="extension")


def api_refused_error(refusal: dict[str, Any], api_port: int) -> str:
    """`last_error` for a request to the API that the proxy refused (the extension's
    WebSocket reaches Ghost through Ghost's own proxy when the browser's proxy settings
    send loopback through it, e.g. `--proxy-bypass-list=<-loopback>`)."""
    who = "a browser" if "Mozilla/" in refusal.get("user_agent", "") else "a client"
    return (f"Ghost refused: {who} sends its connection to Ghost's API ({refusal.get('target', '?')}, "
            f"from {refusal.get('client_addr') or '?'}) through Ghost's proxy. Keep the API direct: add "
            f"127.0.0.1:{api_port} to Chromium's --proxy-bypass-list (e.g. "
            f"--proxy-bypass-list='<-loopback>;127.0.0.1:{api_port}'), or use `scripts/ghost browser`")


def timeout_of(body: dict[str, Any]) -> float:
    ms = field(body, "timeout_ms", int, default=DEFAULT_TIMEOUT_MS)
    if not 1 <= ms <= MAX_TIMEOUT_MS:
        raise ApiError(400, f"field 'timeout_ms' must be 1-{MAX_TIMEOUT_MS}, got {ms}")
    return ms / 1000


def action_request(body: dict[str, Any]) -> dict[str, Any]:
    """Check an action body; returns what is sent to the extension."""
    action = field(body, "action", str, required=True)
    if action not in ACTIONS:
        raise ApiError(400, f"unknown action {action!r}; use one of {', '.join(ACTIONS)}")
    data: dict[str, Any] = {"action": action}
    tab_id = field(body, "tab_id", int)
    if tab_id is not None:
        data["tab_id"] = tab_id
    if action == "navigate":
        url = field(body, "url", str, required=True)
        if urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).hostname:
            raise ApiError(400, f"field 'url' must be an absolute http(s) URL, got {url!r}")
        data["url"] = url
    elif action == "screenshot":
        fmt = field(body, "format", str, default="png")
        if fmt not in ("png", "jpeg"):
            raise ApiError(400, f"field 'format' must be png or jpeg, got {fmt!r}")
        data["format"] = fmt
    elif action == "read_page":
        max_chars = field(body, "max_chars", int, default=100_000)
        if not 1 <= max_chars <= MAX_PAGE_CHARS:
            raise ApiError(400, f"field 'max_chars' must be 1-{MAX_PAGE_CHARS}, got {max_chars}")
        data["max_chars"] = max_chars
        data["include_html"] = field(body, "include_html", bool, default=False)
    return data


def make_plugin() -> ExtensionBridge:
    return ExtensionBridge()
