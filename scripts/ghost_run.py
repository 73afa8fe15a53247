#!/usr/bin/env python3
"""Run a command whose HTTP(S) traffic Ghost captures, with no certificate errors.

    scripts/ghost run [--home HOME] [--name NAME] -- COMMAND [ARGS]

The command gets the proxy and Ghost's CA in the variables the common runtimes read:
HTTP_PROXY/HTTPS_PROXY (both spellings), NO_PROXY without loopback (localhost apps are
captured too), SSL_CERT_FILE, REQUESTS_CA_BUNDLE, CURL_CA_BUNDLE, PIP_CERT, GIT_SSL_CAINFO (a
bundle: the system's authorities plus Ghost's CA, because these replace the trust store),
NODE_EXTRA_CA_CERTS (Ghost's CA: Node adds it), NODE_USE_ENV_PROXY=1 (Node 22.21+/24.5+), and
for older Node a preload (scripts/ghost_node_proxy.cjs) that sends fetch through the proxy.

The proxy URL carries the command's name as its user (http://NAME:ghost@127.0.0.1:4545): the
clients send it to Ghost as Proxy-Authorization, Ghost tags the flows `client:NAME` and takes
the header off, so it never reaches the target.
"""

from __future__ import annotations

import argparse
import os
import ssl
import sys
from pathlib import Path

from ghost_browser import CA_NAME, running_proxy
from ghost_extension import ExtensionSetupError

from ghost_addons.capture import clean_client_name
from ghost_addons.config import DEFAULT_HOME

BUNDLE_NAME = "run-ca-bundle.pem"
NODE_PRELOAD = Path(__file__).resolve().with_name("ghost_node_proxy.cjs")
LOOPBACK = {"localhost", "127.0.0.1", "::1", "[::1]", "localhost.localdomain", "ip6-localhost"}
SYSTEM_BUNDLES = ("/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt", "/etc/ssl/cert.pem")


def system_bundle() -> Path | None:
    """The system's CA bundle file (what SSL_CERT_FILE would replace)."""
    paths = ssl.get_default_verify_paths()
    for candidate in (paths.cafile, paths.openssl_cafile, *SYSTEM_BUNDLES):
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    return None


def write_bundle(home: Path) -> Path:
    """HOME/run-ca-bundle.pem: the system's authorities and Ghost's CA (rewritten each run)."""
    ghost_ca = (home / CA_NAME).read_bytes()
    system = system_bundle()
    parts = [system.read_bytes().rstrip(b"\n") + b"\n"] if system else []
    bundle = home / BUNDLE_NAME
    partial = bundle.with_suffix(f".{os.getpid()}.tmp")
    partial.write_bytes(b"".join(parts) + b"# Ghost's CA\n" + ghost_ca)
    partial.replace(bundle)
    return bundle


def without_loopback(no_proxy: str) -> str:
    return ",".join(e for e in (x.strip() for x in no_proxy.split(",")) if e and e.lower() not in LOOPBACK
                    and not e.startswith("127."))


def command_name(command: list[str]) -> str:
    """The name the command's flows are tagged with: its program's file name."""
    return clean_client_name(Path(command[0]).name) or "run"


def run_env(env: dict[str, str], proxy: str, name: str, bundle: Path, ghost_ca: Path) -> dict[str, str]:
    proxy_url = f"http://{name}:ghost@{proxy}"
    out = dict(env)
    for key in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
        out[key] = proxy_url
    no_proxy = without_loopback(env.get("NO_PROXY", env.get("no_proxy", "")))
    out["NO_PROXY"] = out["no_proxy"] = no_proxy
    for key in ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "PIP_CERT", "GIT_SSL_CAINFO"):
        out[key] = str(bundle)
    out["NODE_EXTRA_CA_CERTS"] = str(ghost_ca)
    out["NODE_USE_ENV_PROXY"] = "1"
    preload = f"--require={NODE_PRELOAD}"
    if preload not in env.get("NODE_OPTIONS", ""):
        out["NODE_OPTIONS"] = f"{env.get('NODE_OPTIONS', '')} {preload}".strip()
    return out


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if "--" not in argv:
        print("usage: scripts/ghost run [--home HOME] [--name NAME] -- COMMAND [ARGS]", file=sys.stderr)
        return 2
    split = argv.index("--")
    command = argv[split + 1:]
    parser = argparse.ArgumentParser(prog="scripts/ghost run",
                                     description="Run COMMAND with Ghost's proxy and CA set for it.")
    parser.add_argument("--home", type=Path, default=Path(DEFAULT_HOME), help="Ghost home (default ~/.ghost)")
    parser.add_argument("--name", help="tag the flows client:NAME (default: the program's name)")
    parser.add_argument("--quiet", "-q", action="store_true", help="print nothing before running")
    args = parser.parse_args(argv[:split])
    if not command:
        parser.error("give the command after --")
    home = args.home.expanduser()
    try:
        proxy = running_proxy(home)
        bundle = write_bundle(home)
    except (ExtensionSetupError, OSError) as e:
        print(f"ghost run: {e}", file=sys.stderr)
        return 2
    name = clean_client_name(args.name) if args.name else command_name(command)
    env = run_env(dict(os.environ), proxy, name or "run", bundle, home / CA_NAME)
    if not args.quiet:
        print(f"ghost run: {command[0]} through Ghost's proxy {proxy}, trusting Ghost's CA; "
              f"its flows are tagged client:{name}", file=sys.stderr, flush=True)
    try:
        os.execvpe(command[0], command, env)
    except OSError as e:
        print(f"ghost run: cannot run {command[0]}: {e}", file=sys.stderr)
        return 127


if __name__ == "__main__":
    sys.exit(main())
