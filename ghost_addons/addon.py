"""The mitmproxy addon: options, lifecycle, and the pipeline stages on every flow.

    request:   breakpoints -> map rules -> addons -> (upstream)
    response:  map rules -> addons -> breakpoints -> capture -> store -> flow_stored

Stopping (SIGTERM, Ctrl-C) never lets an answered exchange go unrecorded: the proxy stops
listening, requests that arrive on open connections are refused (their connection is
closed, nothing answered), exchanges already under way get `STOP_GRACE_SECONDS` to finish
and are captured, the write queue is drained, and from then on a response that could no
longer be stored is killed instead of sent (see `done`).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Sequence
from pathlib import Path
from typing import Any

import orjson
from mitmproxy import connection, ctx, exceptions, http, tls
from mitmproxy.net import server_spec
from mitmproxy.proxy.mode_specs import RegularMode
from mitmproxy.proxy.server_hooks import ServerConnectionHookData

from ghost_addons.capture import (
    SOURCE_KEY,
    ConnectionsSeen,
    ResolutionTimer,
    flow_record,
    mark_client,
    strip_proxy_headers,
    take_interaction_header,
    take_proxy_authorization,
)
from ghost_addons.config import DEFAULT_HOME, SettingsError
from ghost_addons.core import Ghost, ProxyControl
from ghost_addons.hookspecs import hookimpl
from ghost_addons.malloc import return_large_buffers_to_the_os
from ghost_addons.matching import compile_hosts
from ghost_addons.plugins import PluginLoadError, is_empty

log = logging.getLogger("ghost")

REQUEST_STAGES = ("ghost_breakpoints", "ghost_map_rules", "ghost_addons")
RESPONSE_STAGES = ("ghost_map_rules", "ghost_addons", "ghost_breakpoints")
SKIP = "ghost_skip"
API_REFUSED = "Ghost does not proxy requests to its own API"
STORED = "ghost_stored"
WEBSOCKET_KEY = "ghost_websocket"  # on a stored upgrade: the Ghost flow id its messages go to
# At stop, exchanges under way get this long to be answered (and captured) before the queue
# is drained; a slow download still going then is cut (killed, not answered unrecorded).
STOP_GRACE_SECONDS = 5.0


class MasterProxy(ProxyControl):
    """ProxyControl backed by the running mitmproxy master."""

    def status(self) -> dict[str, Any]:
        server = ctx.master.addons.get("proxyserver")
        addrs = [f"{a[0]}:{a[1]}" for a in server.listen_addrs()] if server else []
        running = bool(server and server.is_running and addrs)
        return {
            "running": running,
            "listen": addrs,
            "port": int(addrs[0].rsplit(":", 1)[1]) if addrs else 0,
            "mode": list(ctx.options.mode),
            "upstream": ctx.master.addons.get("ghost").upstream_url if ctx.master.addons.get("ghost") else "",
        }

    def confdir(self) -> Path:
        return Path(ctx.options.confdir).expanduser()

    def replay(self, flow: Any) -> None:
        ctx.master.commands.call("replay.client", [flow])


class GhostAddon:
    name = "ghost"

    def __init__(self, default_plugins: Sequence[str] = ()) -> None:
        """`default_plugins`: the built-in feature plugins' modules (ghost.py passes
        `plugins.DEFAULT_PLUGINS`; the core itself knows no feature)."""
        self.default_plugins = tuple(default_plugins)
        self.ghost: Ghost | None = None
        self.upstream_url = ""
        self._upstream: server_spec.ServerSpec | None = None
        self._bypass_tls = compile_hosts(())
        self._connections = ConnectionsSeen()
        self._lookups = ResolutionTimer()  # DNS time of server connections (HAR's `dns`)
        # client connection id -> the name its CONNECT gave (Proxy-Authorization user), for
        # the requests inside the tunnel; dropped when the client disconnects
        self._client_names: dict[str, str] = {}
        self._rebind = False
        self._strategy_before = ""
        # Exchanges between their request and their response (or error): waited for at stop.
        self._in_flight: set[str] = set()
        self._stopping = False  # no longer listening: requests on open connections are refused
        self._closed = False  # queue drained: a response that could not be stored is killed
        self._none_in_flight = asyncio.Event()  # set while stopping, once _in_flight is empty

    # --- options ---------------------------------------------------------------------

    def load(self, loader: Any) -> None:
        loader.add_option("ghost_home", str, DEFAULT_HOME, "Ghost's data directory (config, database, CA).")
        loader.add_option("ghost_api_host", str, "127.0.0.1", "Address the Ghost API listens on.")
        loader.add_option("ghost_api_port", int, 0, "Port of the Ghost API (0: from settings, default 5565).")
        loader.add_option("ghost_api_token", str, "", "Use this API token instead of the stored one.")
        loader.add_option("ghost_plugins", Sequence[str], [], "Extra Ghost plugin files or packages to load.")
        loader.add_option("ghost_disable_plugins", Sequence[str], [],
                          "Ghost plugins not to load, by name (as GET /api/v1/plugins lists them).")

    def configure(self, updated: set[str]) -> None:
        ghost_options = {"ghost_home", "ghost_api_host", "ghost_api_port", "ghost_api_token", "ghost_plugins",
                         "ghost_disable_plugins"}
        if self.ghost is None:
            return_large_buffers_to_the_os()
            home = Path(ctx.options.ghost_home).expanduser()
            try:
                self.ghost = Ghost(
                    home,
                    api_host=ctx.options.ghost_api_host,
                    api_port=ctx.options.ghost_api_port,
                    token=ctx.options.ghost_api_token,
                    plugin_paths=tuple(ctx.options.ghost_plugins),
                    default_plugins=self.default_plugins,
                    disabled_plugins=tuple(ctx.options.ghost_disable_plugins),
                    proxy=MasterProxy(),
                )
            except (PluginLoadError, SettingsError, OSError) as e:
                raise exceptions.OptionsError(f"Ghost cannot start: {e}") from e
            self._apply_proxy_settings()
            updates: dict[str, Any] = {}
            if ctx.options.listen_port is None:
                updates["listen_port"] = self.ghost.settings.get("proxy.port")
            if ctx.options.listen_host == "":
                # devices need 0.0.0.0: the proxy.listen_host setting or --set listen_host=0.0.0.0
                updates["listen_host"] = self.ghost.settings.get("proxy.listen_host")
            if ctx.options.confdir == "~/.mitmproxy":
                updates["confdir"] = str(home)
            if updates:
                ctx.options.update(**updates)
                # mitmproxy loads `-s` scripts while it binds the proxy, so the first bind may
                # have used mitmproxy's defaults (8080, all interfaces): bind again in running().
                self._rebind = bool({"listen_port", "listen_host"} & updates.keys())
        elif updated & ghost_options and self.ghost.running:
            raise exceptions.OptionsError("Ghost's options cannot change while it runs; restart it")

    def _apply_proxy_settings(self) -> None:
        assert self.ghost is not None
        settings = self.ghost.settings
        self._bypass_tls = compile_hosts(settings.get("proxy.ssl_bypass_hosts"))
        self.upstream_url = settings.get("proxy.upstream_proxy")
        self._upstream = server_spec.parse(self.upstream_url, "http") if self.upstream_url else None
        # mitmproxy's eager strategy opens the server connection at CONNECT time, straight to
        # the target; with an upstream proxy each request must pick its route (`via`) itself.
        if self._upstream and ctx.options.connection_strategy == "eager":
            self._strategy_before = "eager"
            ctx.options.update(connection_strategy="lazy")
        elif not self._upstream and self._strategy_before:
            ctx.options.update(connection_strategy=self._strategy_before)
            self._strategy_before = ""

    # --- lifecycle -----------------------------------------------------------------------

    async def running(self) -> None:
        self._lookups.install(asyncio.get_running_loop())
        server = ctx.master.addons.get("proxyserver")
        if self._rebind and server is not None and ctx.options.server:
            self._rebind = False
            await server.servers.update([])
            await server.setup_servers()
        if self.ghost is not None and not self.ghost.running:
            self.ghost.pm.register(_ProxySettings(self), name="ghost-proxy-settings")
            await self.ghost.start()

    async def done(self) -> None:
        self._lookups.uninstall()
        ghost = self.ghost
        if ghost is None or not ghost.running:
            return
        await self._quiesce(ghost)
        # No await between the drain above and this: whatever a response hook queues from
        # now on is killed instead (see `response`), and ghost.stop() drains once more.
        self._closed = True
        await ghost.stop()

    async def _quiesce(self, ghost: Ghost, grace: float = STOP_GRACE_SECONDS) -> None:
        """Stop taking exchanges, let those under way finish (captured), drain the queue."""
        server = ctx.master.addons.get("proxyserver")
        if server is not None:
            await server.servers.update([])  # listeners closed; open connections stay
        self._stopping = True
        if self._in_flight:
            try:
                await asyncio.wait_for(self._none_in_flight.wait(), grace)
            except TimeoutError:
                log.warning("stopping: %d exchanges still under way after %.0f s are cut, not answered",
                            len(self._in_flight), grace)
        await ghost.flow_writer.drain()

    def _finished(self, flow: http.HTTPFlow) -> None:
        self._in_flight.discard(flow.id)
        if self._stopping and not self._in_flight:
            self._none_in_flight.set()

    # --- the proxy path ---------------------------------------------------------------------

    def _refuse_api(self, flow: http.HTTPFlow) -> None:
        flow.response = http.Response.make(
            403, orjson.dumps({"error": API_REFUSED}), {"Content-Type": "application/json"},
        )
        if self.ghost is not None:
            # say who tried: a browser whose API traffic goes through the proxy never connects
            # (its extension's WebSocket is refused here), and the client alone cannot tell why
            peer = flow.client_conn.peername
            self.ghost.events.publish("proxy.api_refused", {
                "client_addr": f"{peer[0]}:{peer[1]}" if peer else "",
                "target": f"{flow.request.host}:{flow.request.port}",
                "user_agent": flow.request.headers.get("User-Agent", "")[:500],
            })

    def http_connect(self, flow: http.HTTPFlow) -> None:
        ghost = self.ghost
        if ghost is None or not ghost.running:
            return
        name = take_proxy_authorization(flow)
        if name:
            self._client_names[flow.client_conn.id] = name
        if ghost.targets_api(flow.request.host, flow.request.port):
            self._refuse_api(flow)

    def client_disconnected(self, client: connection.Client) -> None:
        self._client_names.pop(client.id, None)

    def server_connect(self, data: ServerConnectionHookData) -> Awaitable[None] | None:
        """The last look before mitmproxy connects anywhere (plain, CONNECT, replay, after
        every stage): a name at the API's port is judged by what it resolves to. Other
        ports cost one comparison; spellings of an address were refused in `request`."""
        ghost = self.ghost
        address = data.server.address
        if ghost is None or not ghost.running or address is None or address[1] != ghost.api_port:
            return None
        if ghost.targets_api(address[0], address[1]):
            data.server.error = API_REFUSED
            return None
        return self._refuse_resolved_api(ghost, data, address[0], address[1])

    def server_connected(self, data: ServerConnectionHookData) -> None:
        # called in the task that opened the connection, right after its lookup
        dns_us = self._lookups.take()
        if dns_us >= 0:
            self._connections.resolved(data.server.id, dns_us)

    async def _refuse_resolved_api(self, ghost: Ghost, data: ServerConnectionHookData, host: str, port: int) -> None:
        if await ghost.resolves_to_api(host, port):
            data.server.error = f"{API_REFUSED} ({host} resolves to it)"

    def tls_clienthello(self, data: tls.ClientHelloData) -> None:
        address = data.context.server.address
        host = data.client_hello.sni or (address or ("",))[0]
        if host and self._bypass_tls(host, address[1] if address else None):
            data.ignore_connection = True

    # The hooks below return an awaitable only when a stage or the full write queue needs to
    # wait: mitmproxy awaits what a hook returns, and a plain call is much cheaper per flow.
    # (One `request` hook, not `requestheaders` too: each hook Ghost has costs every flow.)

    def request(self, flow: http.HTTPFlow) -> Awaitable[None] | None:
        ghost = self.ghost
        if ghost is None or not ghost.running or self._stopping:
            if self._stopping:  # Ghost is stopping: refused, never answered unrecorded
                flow.metadata[SKIP] = True
                _kill(flow)
            return None
        self._in_flight.add(flow.id)
        take_interaction_header(flow)
        name = take_proxy_authorization(flow)
        strip_proxy_headers(flow)
        if name is None:
            name = self._client_names.get(flow.client_conn.id)
        if name:
            mark_client(flow, name)
        if ghost.targets_api(flow.request.host, flow.request.port):
            self._refuse_api(flow)
            return None
        if not flow.is_replay and not ghost.capture_filter.captures(flow.request.host, flow.request.port):
            flow.metadata[SKIP] = True
            ghost.pm.direct("ghost_uncaptured_request")(ghost=ghost, flow=flow)
            return None
        if self._upstream and isinstance(flow.client_conn.proxy_mode, RegularMode) and not flow.server_conn.via:
            flow.server_conn.via = self._upstream
        pending = run_stages(ghost, REQUEST_STAGES, flow, "request")
        if pending is None:
            return self._recheck(ghost, flow)
        return self._recheck_after(pending, ghost, flow)

    def _recheck(self, ghost: Ghost, flow: http.HTTPFlow) -> Awaitable[None] | None:
        """A stage (any plugin's) may have pointed the request at Ghost's API: refuse again.
        A replay Ghost sends itself passes the SSRF guard here, on its final target."""
        if flow.response is not None or flow.error is not None:
            return None
        if ghost.targets_api(flow.request.host, flow.request.port):
            self._refuse_api(flow)
            return None
        if flow.is_replay == "request" and flow.metadata.get(SOURCE_KEY) == "replay":
            return self._guard_replay(ghost, flow)
        return None

    async def _recheck_after(self, pending: Awaitable[None], ghost: Ghost, flow: http.HTTPFlow) -> None:
        await pending
        waiting = self._recheck(ghost, flow)
        if waiting is not None:
            await waiting

    async def _guard_replay(self, ghost: Ghost, flow: http.HTTPFlow) -> None:
        problem = await ghost.replay_refusal(flow.request.url)
        if problem:
            flow.response = http.Response.make(
                403, orjson.dumps({"error": f"Ghost refused to replay this request: {problem}"}),
                {"Content-Type": "application/json"},
            )

    # An exchange stays in `_in_flight` until its record is queued (`_finished` after
    # `_store`), so the drain at stop waits for response stages still running (a held
    # breakpoint, an async addon).

    def response(self, flow: http.HTTPFlow) -> Awaitable[None] | None:
        ghost = self.ghost
        if self._closed and not flow.metadata.get(SKIP):
            self._finished(flow)
            _kill(flow)  # too late to be stored: not answered either
            return None
        if ghost is None or not ghost.running or flow.metadata.get(SKIP):
            self._finished(flow)
            return None
        pending = run_stages(ghost, RESPONSE_STAGES, flow, "response")
        if pending is None:
            waiting = self._store(ghost, flow)
            self._finished(flow)
            return waiting
        return self._store_after(pending, ghost, flow)

    def error(self, flow: http.HTTPFlow) -> Awaitable[None] | None:
        ghost = self.ghost
        if ghost is None or not ghost.running or flow.metadata.get(SKIP):
            self._finished(flow)
            return None
        waiting = self._store(ghost, flow)
        self._finished(flow)
        return waiting

    async def _store_after(self, pending: Awaitable[None], ghost: Ghost, flow: http.HTTPFlow) -> None:
        try:
            await pending
            if self._closed:  # the stages outlasted the stop's grace: too late to be stored
                _kill(flow)
                return
            waiting = self._store(ghost, flow)
        finally:
            self._finished(flow)
        if waiting is not None:
            await waiting

    def _store(self, ghost: Ghost, flow: http.HTTPFlow) -> Awaitable[None] | None:
        if flow.metadata.get(STORED):
            return None
        flow.metadata[STORED] = True
        first = self._connections.first_use(flow.server_conn.id) if flow.server_conn.timestamp_start else False
        dns_us = self._connections.lookup_us(flow.server_conn.id) if first else -1
        record = flow_record(flow, ghost.active_session_id, ghost.settings.get("store.max_flow_body_size"), first,
                             dns_us)
        ghost.pm.direct("ghost_capture")(ghost=ghost, flow=flow, record=record)
        if False in ghost.pm.direct("ghost_should_store")(ghost=ghost, record=record):
            return None
        if flow.websocket is not None:  # an upgrade: its messages follow (websocket_message)
            flow.metadata[WEBSOCKET_KEY] = record.id
            ghost.websockets.open(record.id)
        if flow.response is not None and ghost.settings.get("store.answer_after_commit"):
            return self._answer_after_commit(ghost, flow, record)
        return ghost.flow_writer.put(record)

    # --- WebSocket messages of a stored upgrade (see ghost_addons.websockets) ---------------

    def websocket_message(self, flow: http.HTTPFlow) -> None:
        recorded = flow.metadata.get(WEBSOCKET_KEY)
        if recorded is None or self.ghost is None or flow.websocket is None or not flow.websocket.messages:
            return
        messages = flow.websocket.messages
        message = messages[-1]
        self.ghost.websockets.message(recorded, message.from_client, int(message.type), message.timestamp,
                                      message.content)
        # Ghost's store is the record: mitmproxy's own list would hold every message of a
        # long-lived socket in memory. The current one stays for the addons after Ghost.
        if len(messages) > 1:
            del messages[:-1]

    def websocket_end(self, flow: http.HTTPFlow) -> None:
        recorded = flow.metadata.get(WEBSOCKET_KEY)
        if recorded is not None and self.ghost is not None:
            self.ghost.websockets.end(recorded)

    async def _answer_after_commit(self, ghost: Ghost, flow: http.HTTPFlow, record: Any) -> None:
        """Hold the response until its flow is committed; one that could not be stored is
        killed, so the client is never answered with something a crash could lose."""
        if not await ghost.flow_writer.committed(record):
            _kill(flow)


def _kill(flow: http.HTTPFlow) -> None:
    """Kill a flow so it is not answered (a stage may have killed it already)."""
    if flow.killable:
        flow.kill()


def _stopped(flow: http.HTTPFlow, phase: str) -> bool:
    """A killed flow stops every stage; an answered request skips the remaining request stages."""
    return flow.error is not None or (phase == "request" and flow.response is not None)


def run_stages(ghost: Ghost, stages: tuple[str, ...], flow: http.HTTPFlow, phase: str) -> Awaitable[None] | None:
    """Run pipeline stages in order; synchronously until a stage hands back an awaitable."""
    for index, stage in enumerate(stages):
        if _stopped(flow, phase):
            return None
        hook = ghost.pm.direct(stage)
        if is_empty(hook):
            continue
        pending = [r for r in hook(ghost=ghost, flow=flow, phase=phase) if inspect.isawaitable(r)]
        if pending:
            return _finish_stages(ghost, stages[index + 1:], pending, flow, phase)
    return None


async def _finish_stages(
    ghost: Ghost, stages: tuple[str, ...], pending: list[Awaitable[Any]], flow: http.HTTPFlow, phase: str
) -> None:
    for awaitable in pending:
        await awaitable
    rest = run_stages(ghost, stages, flow, phase)
    if rest is not None:
        await rest


class _ProxySettings:
    """Applies proxy settings (TLS bypass, upstream proxy) when they change."""

    def __init__(self, addon: GhostAddon) -> None:
        self.addon = addon

    @hookimpl
    def ghost_settings_changed(self, ghost: Ghost, changed: set[str]) -> None:
        if any(name.startswith("proxy.") for name in changed):
            self.addon._apply_proxy_settings()

