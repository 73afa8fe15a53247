"""Devices: which device each flow came from, and the phone setup page.

- Every flow records its device in metadata `device`: `{"id": client address, "name": from
  the User-Agent}` ("iPhone (iOS 18.1)"); `GET /api/v1/devices` lists them; the GQL field
  `device:` filters by id or name.
- The proxy answers http://ghost.setup/ itself (to any client that uses it): Ghost's CA as
  PEM and DER, an iOS configuration profile, and the iOS and Android steps. A request
  addressed to the proxy's own address and port (http://LAN-IP:PORT/, sent by a phone whose
  proxy is not set yet) gets the same page, which then starts with the proxy to set; both
  are answered whatever `proxy.host_include`/`host_exclude` capture.
  `GET /api/v1/setup/qr.png` is a QR code to http://LAN-IP:PORT/ (`scripts/ghost qr` prints
  one), which works before the phone's proxy is set.
- At start-up a proxy listening beyond loopback (`--set listen_host=0.0.0.0`, for phones) is
  logged as a warning: anyone on the network can then use it.
"""

from __future__ import annotations

import io
import ipaddress
import logging
from typing import TYPE_CHECKING

import segno
from aiohttp import web
from mitmproxy import http

from ghost_addons.api.http import json_response
from ghost_addons.capture import tag_flow
from ghost_addons.hookspecs import hookimpl
from plugins.devices.names import MAX_USER_AGENT, device_id, device_name
from plugins.devices.setup_page import (
    SETUP_HOST,
    addressed_to_proxy,
    answer,
    direct_url,
    proxy_address,
    qr_host,
)
from plugins.devices.store import list_devices

if TYPE_CHECKING:
    from ghost_addons.api.routes import RouteTable
    from ghost_addons.core import Ghost
    from ghost_addons.model import Flow

log = logging.getLogger("ghost.devices")

DEVICE_KEY = "device"
SETUP_TAG = "ghost-setup"
MAX_DEVICES = 1000


def exposed_addresses(listen: list[str]) -> list[str]:
    """The proxy's listen addresses that are not loopback (reachable from the network)."""
    exposed = []
    for address in listen:
        host = address.rsplit(":", 1)[0].strip("[]")
        try:
            if not ipaddress.ip_address(host).is_loopback:
                exposed.append(address)
        except ValueError:
            if host not in ("localhost",):
                exposed.append(address)
    return exposed


def qr_png(url: str) -> bytes:
    out = io.BytesIO()
    segno.make(url, error="m").save(out, kind="png", scale=8, border=4)
    return out.getvalue()


class Devices:
    def __init__(self) -> None:
        self.ca_pem: bytes | None = None  # read once, off the proxy path

    @hookimpl
    def ghost_startup(self, ghost: Ghost) -> None:
        path = ghost.ca_path("pem")
        self.ca_pem = path.read_bytes() if path.exists() else None
        exposed = exposed_addresses(ghost.proxy_status()["listen"])
        if exposed:
            log.warning("the proxy listens on %s, beyond this machine: anyone who can reach it on the network "
                        "can send traffic through Ghost and see the setup page. Use it on a network you trust, "
                        "and restart without --set listen_host=0.0.0.0 when the phone is done", ", ".join(exposed))

    @hookimpl
    def ghost_map_rules(self, ghost: Ghost, flow: http.HTTPFlow, phase: str) -> None:
        # the setup page is answered by the proxy itself, before any rule could send it anywhere
        if phase == "request":
            self.answer_setup(ghost, flow)

    @hookimpl
    def ghost_uncaptured_request(self, ghost: Ghost, flow: http.HTTPFlow) -> None:
        # served whatever proxy.host_include / host_exclude capture
        self.answer_setup(ghost, flow)

    def answer_setup(self, ghost: Ghost, flow: http.HTTPFlow) -> None:
        """Answer the setup host, and any request addressed to the proxy itself (which
        mitmproxy would otherwise forward to itself), with the setup page."""
        request, sockname = flow.request, flow.client_conn.sockname
        direct = addressed_to_proxy(request.host, request.port, sockname)
        if not direct and request.pretty_host != SETUP_HOST:
            return
        if self.ca_pem is None:
            path = ghost.ca_path("pem")
            self.ca_pem = path.read_bytes() if path.exists() else b""
        # the address and port this client reached the proxy at: what the phone's proxy setting takes
        proxy = proxy_address(sockname) if sockname else "this computer"
        code, content_type, body, headers = answer(request.path, self.ca_pem, proxy, direct)
        flow.response = http.Response.make(code, body, {"Content-Type": content_type, "Cache-Control": "no-store",
                                                        **headers})
        tag_flow(flow, SETUP_TAG)

    @hookimpl
    def ghost_capture(self, ghost: Ghost, flow: http.HTTPFlow, record: Flow) -> None:
        if not record.client_addr:
            return
        user_agent = flow.request.headers.get("User-Agent", "")[:MAX_USER_AGENT]
        record.metadata[DEVICE_KEY] = {"id": device_id(record.client_addr), "name": device_name(user_agent)}

    @hookimpl
    def ghost_routes(self, ghost: Ghost, routes: RouteTable) -> None:
        async def devices(request: web.Request) -> web.Response:
            session_id = request.query.get("session_id") or ghost.active_session_id
            return json_response(await ghost.store.read(list_devices, session_id, MAX_DEVICES))

        async def qr(request: web.Request) -> web.Response:
            status = ghost.proxy_status()
            url = direct_url(qr_host(status["listen"]), status["port"])
            return web.Response(body=qr_png(url), content_type="image/png", headers={"X-Ghost-Setup-URL": url})

        routes.add("GET", "/api/v1/devices", devices,
                   "The devices flows came from: id (client address), name (from the User-Agent), flow count, "
                   "first and last seen", query={"session_id": "a session id, or `all` (default: the active one)"},
                   tag="devices")
        routes.add("GET", "/api/v1/setup/qr.png", qr,
                   "A QR code (PNG) pointing a phone at the setup page at the proxy's own address "
                   "(http://LAN-IP:PORT/, header X-Ghost-Setup-URL), which opens before the phone's proxy is set",
                   tag="devices")


def make_plugin() -> Devices:
    return Devices()



