#!/usr/bin/env python3
"""Print a QR code (in the terminal) pointing a phone at Ghost's setup page, and the steps.

    scripts/ghost qr [--home HOME]

The code opens http://LAN-IP:PROXY-PORT/: the proxy answers a request addressed to itself
with its setup page, so it opens before the phone's proxy is set. The page says which proxy
to set (Wi-Fi > proxy > manual) and offers the CA for iOS (a profile) and Android; once the
proxy is set, http://ghost.setup/ serves the same page. Ghost must listen beyond loopback for
that: start it with `--set listen_host=0.0.0.0`.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import segno

from ghost_addons.config import DEFAULT_HOME
from plugins.devices.setup_page import direct_url, qr_host

SETUP_URL = "http://ghost.setup/"


def listen_addresses(home: Path) -> list[str]:
    try:
        return [str(a) for a in json.loads((home / "running.json").read_text(encoding="utf-8"))["proxy"]]
    except (OSError, ValueError, KeyError, TypeError):
        return []


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/ghost qr", description="A QR code to Ghost's phone setup page.")
    parser.add_argument("--home", type=Path, default=Path(DEFAULT_HOME), help="Ghost home (default ~/.ghost)")
    args = parser.parse_args(argv)
    listen = listen_addresses(args.home.expanduser())
    port = listen[0].rsplit(":", 1)[1] if listen else "4545"
    host = qr_host(listen)
    url = direct_url(host, port)
    segno.make(url, error="m").terminal(out=sys.stdout, compact=True)
    print(f"1. Scan the code, or open {url} in the phone's browser (no proxy needed for it yet).")
    print(f"2. On the phone: Wi-Fi > this network > Proxy > Manual: server {host}, port {port}.")
    print(f"3. Install and trust Ghost's CA from that page (with the proxy set, {SETUP_URL} serves it too).")
    if not listen:
        print("Ghost is not running with this home: start it with `scripts/ghost --set listen_host=0.0.0.0`.")
    elif all(a.startswith(("127.", "[::1]", "::1", "localhost")) for a in listen):
        print(f"Ghost's proxy listens on {', '.join(listen)} only: restart it with "
              "`scripts/ghost --set listen_host=0.0.0.0` so the phone can reach it.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
