#!/usr/bin/env python3
"""Open a Chromium that Ghost captures, ready in one step.

    scripts/ghost browser [URL] [--profile DIR] [--chromium PATH] [--home HOME] [-- CHROMIUM ARGS]

What it sets, for this browser profile only (nothing system-wide):
- the proxy: Ghost's proxy for everything, localhost apps too (`<-loopback>`), except Ghost's
  own API, which stays direct (Ghost refuses to proxy requests to its API);
- trust: Ghost's CA key through `--ignore-certificate-errors-spki-list=<its SPKI hash>`. Chromium
  then accepts a certificate chain only when it holds that key, i.e. what Ghost's proxy made;
  any other certificate error still stops the page. (An NSS database would need Chromium's
  HOME moved and certutil installed; the SPKI list needs neither and lives on the command line.)
- Ghost's browser extension, written into the profile with the API address and token.

It starts on a blank page, waits for the extension to connect, then has the extension open
URL: Chromium started with the extension and a URL on its command line sometimes stalls on
that first navigation. Closing the window ends it; the profile is removed unless --profile.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from ghost_extension import ExtensionSetupError, read_home, write_extension

from ghost_addons.config import DEFAULT_HOME

CA_NAME = "mitmproxy-ca-cert.pem"
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")
CONNECT_TIMEOUT = 30.0
NAVIGATE_TIMEOUT_MS = 60_000
# Chromium makes TMPDIR/org.chromium.Chromium.XXXXXX/SingletonSocket, and a Unix socket path
# must fit in 108 bytes
SCRATCH_PATH_MAX = 60


def spki_hash(ca_pem: bytes) -> str:
    """base64(SHA-256(SubjectPublicKeyInfo)) of a PEM certificate, as Chromium's SPKI list wants."""
    cert = x509.load_pem_x509_certificate(ca_pem)
    spki = cert.public_key().public_bytes(serialization.Encoding.DER,
                                          serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(hashlib.sha256(spki).digest()).decode()


def unpacked_extension_id(directory: Path) -> str:
    """The id Chromium gives an extension loaded unpacked from `directory` (a hash of its path)."""
    digest = hashlib.sha256(str(directory.resolve()).encode()).hexdigest()[:32]
    return "".join(chr(ord("a") + int(c, 16)) for c in digest)


def running_proxy(home: Path) -> str:
    """host:port of the proxy of the Ghost running with this home (a wildcard listen address
    becomes 127.0.0.1)."""
    try:
        data = json.loads((home / "running.json").read_text(encoding="utf-8"))
        os.kill(int(data["pid"]), 0)
        listen = [str(a) for a in data["proxy"]]
    except (OSError, ValueError, KeyError, TypeError):
        raise ExtensionSetupError(f"no Ghost runs with home {home}: start it first (scripts/ghost)") from None
    if not listen:
        raise ExtensionSetupError("Ghost runs but its proxy listens nowhere")
    host, _, port = listen[0].rpartition(":")
    if host in ("0.0.0.0", "::", "[::]", ""):
        host = "127.0.0.1"
    return f"{host}:{port}"


def api_port(api_url: str) -> int:
    return int(api_url.rsplit(":", 1)[1].split("/")[0])


def chromium_args(profile: Path, extension: Path, proxy: str, api_url: str, spki: str) -> list[str]:
    port = api_port(api_url)
    direct = dict.fromkeys([api_url.split("://", 1)[1].rstrip("/"), f"127.0.0.1:{port}", f"localhost:{port}"])
    return [
        f"--user-data-dir={profile}",
        f"--proxy-server=http://{proxy}",
        # `<-loopback>` captures localhost apps; Ghost's API stays direct (both spellings).
        "--proxy-bypass-list=" + ";".join(["<-loopback>", *direct]),
        f"--ignore-certificate-errors-spki-list={spki}",
        f"--disable-extensions-except={extension}",
        f"--load-extension={extension}",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-quic",  # QUIC (UDP) would bypass an HTTP proxy's view of the page
    ]


def browser_env(profile: Path) -> dict[str, str]:
    """The environment for Chromium: its per-user files that --user-data-dir does not cover
    (crash reports under XDG_CONFIG_HOME/chromium, GLib's dconf cache under XDG_CACHE_HOME)
    go into the profile too, so the user's own files stay untouched; so does its scratch
    directory when the path is short enough for the socket Chromium makes in it."""
    env = {**os.environ, "XDG_CONFIG_HOME": str(profile / "xdg-config"), "XDG_CACHE_HOME": str(profile / "xdg-cache")}
    scratch = profile / "tmp"
    if len(str(scratch)) <= SCRATCH_PATH_MAX:
        scratch.mkdir(exist_ok=True)
        env["TMPDIR"] = str(scratch)
    return env


def find_chromium(given: str | None) -> str:
    for name in ((given,) if given else CHROMIUM_NAMES):
        path = shutil.which(name)
        if path:
            return path
    raise ExtensionSetupError(f"{given} is not an executable" if given else
                              "no Chromium found (install Debian's `chromium`, or pass --chromium PATH)")


def api_call(api_url: str, token: str, method: str, path: str, body: Any = None, timeout: float = 10) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(api_url + path, data=data, method=method, headers={
        "Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    # the API is on loopback: never through a proxy from the environment
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(request, timeout=timeout) as response:
        return json.loads(response.read() or b"null")


def wait_connected(api_url: str, token: str, extension_id: str, browser: subprocess.Popen[bytes],
                   timeout: float) -> dict[str, Any]:
    """Wait until this browser's extension (by its id) said hello; returns Ghost's status."""
    deadline = time.monotonic() + timeout
    status: dict[str, Any] = {}
    while time.monotonic() < deadline:
        if browser.poll() is not None:
            raise ExtensionSetupError(f"Chromium exited ({browser.returncode}) before the extension connected")
        try:
            status = api_call(api_url, token, "GET", "/api/v1/extension/status")
            if status.get("connected"):
                info = api_call(api_url, token, "GET", "/api/v1/extension/info")
                if any(e.get("extension_id") == extension_id for e in info.get("extensions", [])):
                    return status
        except (urllib.error.URLError, OSError, ValueError):
            pass
        time.sleep(0.2)
    reason = status.get("last_error") or "no reason reported"
    raise ExtensionSetupError(f"the extension did not connect within {timeout:g} s: {reason}")


def open_page(api_url: str, token: str, url: str) -> None:
    """Have the extension open `url` in the blank tab; a page that fails to load leaves the
    browser open (the user sees why in it)."""
    try:
        result = api_call(api_url, token, "POST", "/api/v1/extension/actions",
                          {"action": "navigate", "url": url, "timeout_ms": NAVIGATE_TIMEOUT_MS},
                          timeout=NAVIGATE_TIMEOUT_MS / 1000 + 5)
        print(f"Opened {result['result'].get('url', url)}", flush=True)
    except urllib.error.HTTPError as e:
        print(f"ghost browser: opening {url} failed: {e.read().decode(errors='replace')}", file=sys.stderr, flush=True)
    except (urllib.error.URLError, OSError) as e:
        print(f"ghost browser: opening {url} failed: {e}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    extra: list[str] = []
    if "--" in argv:
        extra = argv[argv.index("--") + 1:]
        argv = argv[:argv.index("--")]
    parser = argparse.ArgumentParser(prog="scripts/ghost browser",
                                     description="Open a Chromium captured by Ghost (proxy, CA and extension set).")
    parser.add_argument("url", nargs="?", help="page to open once the extension is connected")
    parser.add_argument("--profile", type=Path, help="keep the browser profile in DIR (default: a temporary one)")
    parser.add_argument("--chromium", help="the Chromium executable (default: chromium on PATH)")
    parser.add_argument("--home", type=Path, default=Path(DEFAULT_HOME), help="Ghost home (default ~/.ghost)")
    parser.add_argument("--connect-timeout", type=float, default=CONNECT_TIMEOUT, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    home = args.home.expanduser()
    profile = args.profile.expanduser().resolve() if args.profile else Path(tempfile.mkdtemp(prefix="ghost-browser-"))
    browser: subprocess.Popen[bytes] | None = None
    try:
        api_url, token = read_home(home)
        proxy = running_proxy(home)
        spki = spki_hash((home / CA_NAME).read_bytes())
        chromium = find_chromium(args.chromium)
        profile.mkdir(parents=True, exist_ok=True)
        extension = write_extension(profile / "ghost-extension", api_url, token)
        flags = chromium_args(profile, extension, proxy, api_url, spki)
        if os.geteuid() == 0 and "--no-sandbox" not in extra:
            extra.append("--no-sandbox")  # Chromium refuses to start as root with its sandbox
        print(f"Chromium: {chromium}")
        print(f"  profile    {profile}{'' if args.profile else ' (temporary, removed on exit)'}")
        print(f"  proxy      {proxy}, localhost too; Ghost's API {api_url} direct")
        print(f"  trusts     Ghost's CA ({home / CA_NAME}) in this profile only, SPKI {spki}")
        print(f"  extension  {extension} (id {unpacked_extension_id(extension)})")
        sys.stdout.flush()
        browser = subprocess.Popen([chromium, *flags, *extra, "about:blank"], stdin=subprocess.DEVNULL,
                                   env=browser_env(profile))
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: browser.terminate() if browser else None)
        launched = time.monotonic()
        wait_connected(api_url, token, unpacked_extension_id(extension), browser, args.connect_timeout)
        print(f"Extension connected {time.monotonic() - launched:.1f} s after Chromium started: "
              "journeys record from this browser.", flush=True)
        if args.url:
            open_page(api_url, token, args.url)
        return browser.wait()
    except urllib.error.HTTPError as e:
        print(f"ghost browser: Ghost answered {e.code}: {e.read().decode(errors='replace')}", file=sys.stderr)
        return _stop(browser, 1)
    except (ExtensionSetupError, OSError, ValueError) as e:
        print(f"ghost browser: {e}", file=sys.stderr)
        return _stop(browser, 2)
    finally:
        if browser is not None and browser.poll() is None:
            browser.terminate()
            try:
                browser.wait(10)
            except subprocess.TimeoutExpired:
                browser.kill()
                browser.wait()
        if not args.profile:
            remove_profile(profile)


def remove_profile(profile: Path, timeout: float = 10) -> None:
    """Remove the temporary profile; Chromium's helper processes may still write to it for a
    moment after the browser process ended, so try again until it stays gone."""
    deadline = time.monotonic() + timeout
    while True:
        shutil.rmtree(profile, ignore_errors=True)
        if not profile.exists() or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    if profile.exists():
        print(f"ghost browser: could not remove the temporary profile {profile}", file=sys.stderr)


def _stop(browser: subprocess.Popen[bytes] | None, code: int) -> int:
    if browser is not None and browser.poll() is None:
        browser.terminate()
    return code


if __name__ == "__main__":
    sys.exit(main())
