"""A Ghost plugin for tests: nothing a test browser sends leaves the machine.

Requests to analytics hosts get a 204 from Ghost itself (so a page's beacon is captured
like any flow), requests to any other non-loopback host (the browser's own background
services) a 502. With mitmproxy's `connection_strategy=lazy` no name is even resolved.

    mitmdump -s ghost.py --set connection_strategy=lazy \\
        --set ghost_plugins=tests/plugins/journeys/offline_sandbox.py
"""

from __future__ import annotations

import ipaddress
from typing import Any

from mitmproxy import http

from ghost_addons.hookspecs import hookimpl
from plugins.journeys.noise import is_noise_domain


def is_loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@hookimpl
def ghost_map_rules(ghost: Any, flow: http.HTTPFlow, phase: str) -> None:
    if phase != "request" or is_loopback(flow.request.host):
        return
    if is_noise_domain(flow.request.host, flow.request.path):
        flow.response = http.Response.make(204, b"", {"Access-Control-Allow-Origin": "*"})
    else:
        flow.response = http.Response.make(502, b"offline test sandbox", {"Content-Type": "text/plain"})
