"""Health, resource monitor, proxy status, CA certificate, PAC file, OpenAPI, events WebSocket."""

from __future__ import annotations

import asyncio
import gc
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import orjson
from aiohttp import web

from ghost_addons.api.http import ApiError, json_response
from ghost_addons.ssrf import host_address, ip_literal, is_local_address, is_localhost_name
from ghost_addons.store import flows

if TYPE_CHECKING:
    from ghost_addons.api.routes import RouteTable
    from ghost_addons.core import Ghost


def human_size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n < 1024 or unit == "TB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1024
    return f"{n:.1f} TB"


def human_duration(seconds: float) -> str:
    minutes, _ = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    if days:
        return f"{days}d {hours}h {minutes}m"
    return f"{hours}h {minutes}m"


def process_memory() -> tuple[int, int]:
    """(resident bytes, virtual bytes) of this process, from /proc on Linux."""
    status = Path("/proc/self/status")
    rss = vms = 0
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1]) * 1024
            elif line.startswith("VmSize:"):
                vms = int(line.split()[1]) * 1024
    return rss, vms


def pac_script(proxy_host: str, proxy_port: int) -> str:
    """The PAC file; `proxy_host` must be checked first (`pac_host`). The proxy string goes
    in as a JSON string literal all the same, so nothing in it can end the string."""
    host = f"[{proxy_host}]" if ":" in proxy_host else proxy_host
    route = orjson.dumps(f"PROXY {host}:{proxy_port}; DIRECT").decode()
    return (
        "function FindProxyForURL(url, host) {\n"
        "  if (isPlainHostName(host) || host === \"localhost\" ||\n"
        "      shExpMatch(host, \"127.*\") || host === \"[::1]\") {\n"
        "    return \"DIRECT\";\n"
        "  }\n"
        f"  return {route};\n"
        "}\n"
    )


def pac_host(raw: str, request_host: str, allowed: list[str]) -> str:
    """The `host` a PAC file may point devices at: a host name or IP address of this
    machine (loopback, one of its addresses, the host the request itself reached Ghost
    by, or a name in `api.allowed_hosts`). The PAC route needs no token, so a link must
    not be able to hand someone a PAC that sends their traffic elsewhere. ApiError 400."""
    host = raw.strip().strip("[]").lower()
    address = ip_literal(host)
    if address is not None:
        host = str(address)
    elif not host or len(host) > 253 or not all(
        0 < len(label) <= 63 and label.replace("-", "").isalnum() and label.isascii()
        for label in host.rstrip(".").split(".")
    ):
        raise ApiError(400, f"host must be a host name or IP address, got {raw!r}")
    reached_by = (urlsplit(f"//{request_host}").hostname or "").lower()
    loopback = is_localhost_name(host) or bool(address and (host_address(host) or address).is_loopback)
    if (loopback or host == reached_by or host in {h.lower() for h in allowed}
            or (address is not None and is_local_address(address))):
        return host
    raise ApiError(400, f"host {raw!r} is not this machine: use one of its addresses, the host you reached "
                        "Ghost by, or a name listed in api.allowed_hosts")


def register(ghost: Ghost, routes: RouteTable) -> None:
    async def health(request: web.Request) -> web.Response:
        proxy = ghost.proxy_status()
        if not proxy["running"]:
            return json_response({"ok": False, "error": "proxy is not accepting connections"}, status=503)
        return json_response({"ok": True})

    def db_size(conn: Any) -> int:
        page_count = conn.execute("PRAGMA page_count").fetchone()[0]
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
        return int(page_count * page_size)

    async def monitor(request: web.Request) -> web.Response:
        size = await ghost.store.read(db_size)
        total = await ghost.store.read(flows.count_flows)
        rss, vms = process_memory()
        uptime = time.monotonic() - ghost.started_monotonic
        report: dict[str, Any] = {
            "db_size_bytes": size,
            "db_size_human": human_size(size),
            "mem_alloc_bytes": rss,
            "mem_alloc_human": human_size(rss),
            "mem_sys_bytes": vms,
            "goroutines": len(asyncio.all_tasks()),
            "total_flows": total,
            "uptime_seconds": int(uptime),
            "uptime_human": human_duration(uptime),
            "num_gc": sum(s["collections"] for s in gc.get_stats()),
            "flow_queue_depth": ghost.flow_writer.depth,
            "flow_queue_capacity": ghost.flow_writer.queue.maxsize,
            "flows_written": ghost.flow_writer.written,
            "flows_stored_as_error_records": ghost.flow_writer.error_records,
            "flows_not_stored": ghost.flow_writer.skipped,
            "flows_not_stored_last_reason": ghost.flow_writer.last_skip_reason,
            "store_full": ghost.flow_writer.full,
            "store_full_since": ghost.flow_writer.full_since,
            "store_full_reason": ghost.flow_writer.full_reason,
            "flow_stored": ghost.flow_writer.lanes.report(),
            "events_published": ghost.events.published,
            "event_clients": len(ghost.events.clients),
        }
        ghost.pm.hook.ghost_monitor(ghost=ghost, report=report)
        return json_response(report)

    async def proxy_status(request: web.Request) -> web.Response:
        return json_response(ghost.proxy_status())

    async def ca(request: web.Request) -> web.Response:
        fmt = request.query.get("format", "pem")
        if fmt not in ("pem", "der"):
            raise ApiError(400, f"format must be pem or der, got {fmt!r}")
        path = ghost.ca_path(fmt)
        if not path.exists():
            raise ApiError(404, "the CA certificate does not exist yet; is the proxy running?")
        content_type = "application/x-pem-file" if fmt == "pem" else "application/x-x509-ca-cert"
        return web.Response(
            body=path.read_bytes(), content_type=content_type,
            headers={"Content-Disposition": f'attachment; filename="ghost-ca.{"pem" if fmt == "pem" else "cer"}"'},
        )

    async def pac(request: web.Request) -> web.Response:
        status = ghost.proxy_status()
        host = pac_host(request.query.get("host") or "127.0.0.1", request.host,
                        ghost.settings.get("api.allowed_hosts"))
        return web.Response(text=pac_script(host, status["port"]),
                            content_type="application/x-ns-proxy-autoconfig")

    async def openapi(request: web.Request) -> web.Response:
        from ghost_addons.api.core_routes import ROUTES_KEY

        table = request.app[ROUTES_KEY]
        return json_response(table.openapi(ghost.version))  # type: ignore[attr-defined]

    async def events(request: web.Request) -> web.StreamResponse:
        return await ghost.events.serve(request)

    routes.add("GET", "/api/v1/health", health, "Liveness: 200 {ok: true} when proxy and API accept connections",
               public=True, responses={200: "Up", 503: "Proxy not accepting"})
    routes.add("GET", "/api/v1/monitor", monitor, "Resource usage, flow counts and the write queue depth")
    routes.add("GET", "/api/v1/proxy/status", proxy_status, "Proxy listen address, mode and upstream")
    routes.add("GET", "/api/v1/proxy/ca", ca, "The CA certificate to trust (PEM, or ?format=der)",
               public=True, query={"format": "pem (default) or der"})
    routes.add("GET", "/proxy.pac", pac, "Proxy auto-config file pointing at Ghost", public=True,
               query={"host": "address devices use to reach Ghost (default 127.0.0.1): a name or IP of this "
                                     "machine, the host the request came to, or one in api.allowed_hosts"},
               responses={200: "The PAC file", 400: "host is not a host name or IP of this machine"})
    routes.add("GET", "/api/v1/openapi.json", openapi, "This document")
    routes.add("GET", "/api/v1/ws", events,
               "Events WebSocket: {type, data} messages (token as ?token=)",
               query={"token": "the API token"})
