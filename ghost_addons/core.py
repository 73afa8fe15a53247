"""`Ghost`: one running instance — settings, plugins, store, events, API — handed to every hook."""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import os
import socket
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

from ghost_addons import __version__
from ghost_addons.api.app import ApiServer, is_loopback_name
from ghost_addons.api.streams import OpenStreams
from ghost_addons.capture import ID_KEY, METADATA_KEY, SOURCE_KEY
from ghost_addons.config import Settings, core_schema, write_private
from ghost_addons.errors import InvalidInput, TimedOut, Unavailable
from ghost_addons.events import EventHub, core_event_types, event_registrar
from ghost_addons.ids import new_id
from ghost_addons.matching import CaptureFilter
from ghost_addons.model import Flow, header_bytes
from ghost_addons.plugins import call_each, declare, make_plugin_manager, settle
from ghost_addons.registry import Registry
from ghost_addons.settings_schema import SettingsSchema
from ghost_addons.ssrf import check_reachable, guard_for, host_address, is_local_address
from ghost_addons.store import FlowWriter, Store, sessions
from ghost_addons.websockets import WebSocketRecorder

log = logging.getLogger("ghost")

T = TypeVar("T")

VERSION = __version__
TOKEN_ROTATED = "the API token was rotated; reconnect with the new token"


def _callable_entry(name: str, entry: Any) -> None:
    if not callable(entry):
        raise TypeError(f"must be a function taking a flow, got {type(entry).__name__}")


class ProxyControl:
    """What Ghost needs from mitmproxy's master; the addon provides the real one."""

    def status(self) -> dict[str, Any]:
        return {"running": False, "listen": [], "port": 0, "mode": [], "upstream": ""}

    def confdir(self) -> Path:
        return Path("~/.mitmproxy").expanduser()

    def replay(self, flow: Any) -> None:
        raise RuntimeError("the proxy is not running")


class Ghost:
    version = VERSION

    def __init__(
        self,
        home: Path,
        *,
        api_host: str = "127.0.0.1",
        api_port: int = 0,
        token: str = "",
        plugin_paths: tuple[str, ...] = (),
        default_plugins: tuple[str, ...] | list[str] = (),
        disabled_plugins: tuple[str, ...] = (),
        proxy: ProxyControl | None = None,
    ) -> None:
        self.home = home
        home.mkdir(parents=True, exist_ok=True)
        home.chmod(0o700)
        self.pm = make_plugin_manager(default_plugins, plugin_paths, disabled=disabled_plugins)
        self.disabled_plugins = tuple(disabled_plugins)
        schema = declare(self.pm, "ghost_settings", SettingsSchema.registrar, core_schema())
        self.settings = Settings.load(home / "config.yaml", token, schema)
        self.proxy = proxy or ProxyControl()
        self.events = EventHub(self, declare(self.pm, "ghost_event_types", event_registrar, core_event_types()))
        self.streams = OpenStreams()
        self.store = Store(home / "ghost.db")
        self.store.ghost = self
        self.flow_writer = FlowWriter(self)
        self.websockets = WebSocketRecorder(self)
        self.api_host = api_host
        self.api_port = api_port or self.settings.get("api.port")
        self._api_address = host_address(api_host)
        self._api_everywhere = self._api_address is not None and self._api_address.is_unspecified
        self.api = ApiServer(self, api_host, self.api_port)
        self.active_session_id = ""
        self.capture_filter = self._capture_filter()
        self.started_monotonic = time.monotonic()
        self.running = False
        self.exporters: Registry[Any] = declare(self.pm, "ghost_exporters", Registry.registrar, Registry("exporter"))
        self.importers: Registry[Any] = declare(self.pm, "ghost_importers", Registry.registrar, Registry("importer"))
        self.code_generators: Registry[Any] = declare(
            self.pm, "ghost_code_generators", Registry.registrar, Registry("code generator", _callable_entry))
        self.migration_owners: dict[str, list[str]] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._pending_replays: dict[str, asyncio.Future[Flow]] = {}

    # --- identity -----------------------------------------------------------------------

    @property
    def token(self) -> str:
        return self.settings.token

    @property
    def api_url(self) -> str:
        host = f"[{self.api_host}]" if ":" in self.api_host else self.api_host
        return f"http://{host}:{self.api_port}"

    def targets_api(self, host: str, port: int) -> bool:
        """Whether an address reaches Ghost's own API: the proxy never forwards there, or
        anyone who can use the proxy would reach the API as "localhost".

        Decided on the address, whatever its spelling (`127.1`, `2130706433`, `0`,
        `[::ffff:7f00:1]`); a name other than `localhost` is judged by what it resolves to,
        in `resolves_to_api` (this check never waits for DNS)."""
        if port != self.api_port:
            return False
        if is_loopback_name(host) or host.lower() == self.api_host.lower():
            return True
        address = host_address(host)
        if address is None:
            return False
        if address.is_unspecified or address == self._api_address:
            return True
        # An API on every interface (0.0.0.0, for devices) is reached by each of this
        # machine's addresses, its LAN address as much as loopback.
        return self._api_everywhere and is_local_address(address)

    async def resolves_to_api(self, host: str, port: int) -> bool:
        """Whether a name reaches Ghost's own API through what it resolves to now (a name
        in /etc/hosts or DNS for 127.0.0.1). Only asked for the API's port, so the proxy
        resolves nothing extra for other traffic."""
        if port != self.api_port or host_address(host) is not None:
            return self.targets_api(host, port)
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError):
            return False  # no address: nothing to connect to
        return self.targets_api(host, port) or any(self.targets_api(str(info[4][0]), port) for info in infos)

    def proxy_status(self) -> dict[str, Any]:
        return self.proxy.status()

    def ca_path(self, fmt: str = "pem") -> Path:
        return self.proxy.confdir() / ("mitmproxy-ca-cert.pem" if fmt == "pem" else "mitmproxy-ca-cert.cer")

    # --- tasks and hooks ------------------------------------------------------------------

    def spawn(self, coro: Coroutine[Any, Any, T], name: str) -> asyncio.Task[T]:
        """Start background work that is kept referenced and cancelled at shutdown."""
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("background task %r failed", task.get_name(), exc_info=task.exception())

    async def call_hook(self, name: str, **kwargs: Any) -> list[Any]:
        return await settle(getattr(self.pm.hook, name)(**kwargs))

    # --- lifecycle --------------------------------------------------------------------------

    async def start(self) -> None:
        owners: list[tuple[str, list[str]]] = []

        def registrar(plugin: str) -> Callable[[str, list[str]], None]:
            def register(name: str, statements: list[str]) -> None:
                if name == "core" or any(owner == name for owner, _ in owners):
                    raise ValueError(f"migration owner name {name!r} is taken")
                owners.append((name, list(statements)))
                self.migration_owners.setdefault(plugin, []).append(name)

            return register

        call_each(self.pm, "ghost_migrations", lambda plugin: {"register": registrar(plugin)})
        applied = await self.store.open(owners)
        if applied:
            log.info("database migrations applied: %s", ", ".join(applied))
        self.active_session_id = await self.store.write(sessions.ensure_active_session)
        self.flow_writer.start()
        self.websockets.start()
        await self.call_hook("ghost_startup", ghost=self)
        await self.api.start()
        self.running = True
        self._write_running_file()
        # Everything loaded so far (mitmproxy, aiohttp, plugins) lives as long as Ghost: keep
        # it out of the collector's full passes, which otherwise stall the loop for ~50 ms.
        gc.collect()
        gc.freeze()
        log.warning(
            "Ghost API on %s (token in %s); proxy on %s",
            self.api_url, self.settings.path, ", ".join(self.proxy_status()["listen"]) or "?",
        )

    @property
    def running_file(self) -> Path:
        """Where a running Ghost says its actual addresses (tools such as
        `scripts/ghost extension` read it: the API port may differ from settings)."""
        return self.home / "running.json"

    def _write_running_file(self) -> None:
        data = {"pid": os.getpid(), "api_url": self.api_url, "proxy": self.proxy_status()["listen"]}
        write_private(self.running_file, json.dumps(data, indent=2))

    async def stop(self) -> None:
        self.running = False
        self.running_file.unlink(missing_ok=True)
        await self.api.stop()
        try:
            await self.call_hook("ghost_shutdown", ghost=self)
        finally:
            await self.flow_writer.drain()
            await self.websockets.close()
            for task in list(self._tasks):
                task.cancel()
            if self._tasks:
                await asyncio.gather(*self._tasks, return_exceptions=True)
            for future in self._pending_replays.values():
                future.cancel()
            await self.store.close()

    # --- state changes the API asks for ---------------------------------------------------

    def _capture_filter(self) -> CaptureFilter:
        return CaptureFilter(self.settings.get("proxy.host_include"), self.settings.get("proxy.host_exclude"))

    async def settings_changed(self, changed: set[str]) -> None:
        if not changed:
            return
        self.capture_filter = self._capture_filter()
        await self.call_hook("ghost_settings_changed", ghost=self, changed=changed)
        self.events.publish("settings.updated", {"changed": sorted(changed)})

    def rotate_token(self) -> str:
        """Make a new API token. The old one stops working for new requests at once, and
        every WebSocket and SSE stream opened with it (or with a credential a plugin issued,
        which rotation revokes too) is closed: the core's WebSockets and every stream held
        in `streams` here, each plugin's own WebSockets on the `api.token_rotated` event it
        hears through `ghost_event`."""
        token = self.settings.rotate_token()
        self.events.publish("api.token_rotated", {})
        self.events.revoke_all(TOKEN_ROTATED, "api.token_rotated", {})
        self.streams.end_all(TOKEN_ROTATED)
        return token

    async def activate_session(self, session_id: str) -> None:
        await self.store.write(sessions.set_kv, sessions.ACTIVE_SESSION_KEY, session_id)
        self.active_session_id = session_id
        self.events.publish("session.activated", {"id": session_id})

    async def replay(self, original: Flow, timeout: float) -> Flow:
        """Send a stored flow's request again through the proxy; returns the new stored flow.

        Ghost sends it itself, so it goes through the SSRF guard first (the literal host and
        what a name resolves to now): a loopback or private target is refused unless
        `replay.allow_hosts` lists it, and Ghost's own API always. The proxy checks again
        just before it sends (`replay_refusal`), after every pipeline stage."""
        from mitmproxy import connection, http

        problem = await self.replay_refusal(original.request.url)
        if problem:
            raise InvalidInput(f"replay of flow {original.id} refused: {problem}")
        request = http.Request.make(original.request.method, original.request.url, b"",
                                    [(header_bytes(k), header_bytes(v)) for k, v in original.request.headers])
        request.content = original.request.body
        live = http.HTTPFlow(
            connection.Client(peername=("127.0.0.1", 0), sockname=("127.0.0.1", 0), timestamp_start=time.time()),
            connection.Server(address=(original.request.host, original.request.port)),
        )
        live.request = request
        replay_id = new_id()
        live.metadata[ID_KEY] = replay_id
        live.metadata[SOURCE_KEY] = "replay"
        live.metadata[METADATA_KEY] = {"replay_of": original.id}
        future: asyncio.Future[Flow] = asyncio.get_running_loop().create_future()
        self._pending_replays[replay_id] = future
        try:
            try:
                self.proxy.replay(live)
            except RuntimeError as e:  # ProxyControl's "the proxy is not running"
                raise Unavailable(f"cannot replay {original.id}: {e}") from None
            return await asyncio.wait_for(future, timeout)
        except TimeoutError:
            raise TimedOut(f"replay of {original.id} got no answer within {timeout:.0f} s") from None
        finally:
            self._pending_replays.pop(replay_id, None)

    async def replay_refusal(self, url: str) -> str | None:
        """Why the SSRF guard refuses a replay of `url` (a bad allow-list included), or None."""
        try:
            guard = guard_for(self)
        except ValueError as e:
            return str(e)
        return await check_reachable(guard, url)

    def flow_committed(self, flow: Flow) -> None:
        if self.websockets.sockets:
            self.websockets.committed(flow.id)
        future = self._pending_replays.get(flow.id)
        if future is not None and not future.done():
            future.set_result(flow)
