#!/usr/bin/env python3
"""Print a QR code (in the terminal) pointing a phone at Ghost's setup page, and the steps.

    scripts/ghost qr [--home HOME]

The phone first sends its traffic through Ghost (Wi-Fi > proxy > manual: this machine's
address and Ghost's proxy port), then opens http://ghost.setup/ (the QR code), which the
proxy itself serves: the CA for iOS (a profile) and Android. Ghost must listen beyond
loopback for that: start it with `--set listen_host=0.0.0.0`.
"""

from __future__ import annotations

import argparse
import json
import socket
import sys
from pathlib import Path

import segno

from ghost_addons.config import DEFAULT_HOME

SETUP_URL = "http://ghost.setup/"


def lan_address() -> str:
    """This machine's address on the network its default route uses (no packet is sent)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # TEST-NET-1: only picks the outgoing interface
            return probe.getsockname()[0]
        except OSError:
            return "127.0.0.1"


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
    segno.make(SETUP_URL, error="m").terminal(out=sys.stdout, compact=True)
    print(f"1. On the phone: Wi-Fi > this network > Proxy > Manual: server {lan_address()}, port {port}.")
    print(f"2. Scan the code, or open {SETUP_URL} in the phone's browser: install and trust Ghost's CA.")
    if not listen:
        print("Ghost is not running with this home: start it with `scripts/ghost --set listen_host=0.0.0.0`.")
    elif all(a.startswith(("127.", "[::1]", "::1", "localhost")) for a in listen):
        print(f"Ghost's proxy listens on {', '.join(listen)} only: restart it with "
              "`scripts/ghost --set listen_host=0.0.0.0` so the phone can reach it.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
