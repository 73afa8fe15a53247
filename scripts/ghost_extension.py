#!/usr/bin/env python3
"""Write a copy of Ghost's browser extension set up for one Ghost (its API address and token).

    scripts/ghost extension DIR [--home HOME] [--api-url URL --token TOKEN]

The copy loads with Chromium's "Load unpacked" or `--load-extension=DIR` and connects
with no clicks in its options page. The address and token come from HOME/config.yaml
(`api: {port: 5565, token: ...}`, HOME defaults to ~/.ghost) unless given. DIR gets mode
0700 and its config.json 0600: it holds the API token.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from pathlib import Path
from urllib.parse import urlsplit

import yaml

from ghost_addons.config import DEFAULT_HOME

REPO = Path(__file__).resolve().parent.parent
SOURCE = REPO / "extension"
DEFAULT_PORT = 5565
CONFIG_NAME = "config.json"


class ExtensionSetupError(Exception):
    """Something the user must fix; the message says what."""


def read_home(home: Path) -> tuple[str, str]:
    """(api_url, token) from a Ghost home's config.yaml."""
    path = home / "config.yaml"
    if not path.is_file():
        raise ExtensionSetupError(
            f"{path} does not exist: start Ghost once with this home, or pass --api-url and --token"
        )
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as e:
        raise ExtensionSetupError(f"{path} is not valid YAML: {e}") from None
    api = raw.get("api") if isinstance(raw, dict) else None
    if not isinstance(api, dict):
        raise ExtensionSetupError(f"{path} has no 'api' section")
    token = str(api.get("token") or "")
    if not token:
        raise ExtensionSetupError(f"{path} has no api.token: start Ghost once to create it")
    running = running_api_url(home)
    if running:
        return running, token
    port = api.get("port", DEFAULT_PORT)
    if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
        raise ExtensionSetupError(f"{path}: api.port must be a port number, got {port!r}")
    return f"http://127.0.0.1:{port}", token


def running_api_url(home: Path) -> str:
    """The API address a Ghost running with this home wrote to running.json ("" if none runs)."""
    try:
        data = json.loads((home / "running.json").read_text(encoding="utf-8"))
        os.kill(int(data["pid"]), 0)
        return str(data["api_url"])
    except (OSError, ValueError, KeyError, TypeError):
        return ""


def check_api_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ExtensionSetupError(f"--api-url must be an http(s) URL like http://127.0.0.1:5565, got {url!r}")
    return url.rstrip("/")


def is_ghost_extension(directory: Path) -> bool:
    manifest = directory / "manifest.json"
    try:
        return json.loads(manifest.read_text(encoding="utf-8")).get("name") == "Ghost"
    except (OSError, ValueError, AttributeError):
        return False


def write_extension(target: Path, api_url: str, token: str, source: Path = SOURCE) -> Path:
    """Copy the extension to `target` with config.json filled in; returns the directory.

    An existing directory is replaced only when it is empty or an earlier Ghost extension copy.
    """
    if not (source / "manifest.json").is_file():
        raise ExtensionSetupError(f"the extension sources are missing: {source}/manifest.json")
    target = target.expanduser().resolve()
    if target == source.resolve():
        raise ExtensionSetupError("DIR must not be the extension's source folder")
    if target.exists():
        if not target.is_dir():
            raise ExtensionSetupError(f"{target} exists and is not a directory")
        if any(target.iterdir()) and not is_ghost_extension(target):
            raise ExtensionSetupError(f"{target} is not empty and is not a Ghost extension copy; choose another DIR")
        shutil.rmtree(target)
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", ".*"))
    target.chmod(0o700)
    config = target / CONFIG_NAME
    fd = os.open(config, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        json.dump({"api_url": api_url, "token": token}, out, indent=2)
        out.write("\n")
    config.chmod(0o600)
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="scripts/ghost extension",
        description="Write Ghost's browser extension, set up for a Ghost, to DIR "
        "(then load it with Chromium's 'Load unpacked' or --load-extension=DIR).",
    )
    parser.add_argument("dir", metavar="DIR", type=Path, help="where to write the extension")
    parser.add_argument("--home", type=Path, default=Path(DEFAULT_HOME),
                        help="Ghost home to read the API port and token from (default ~/.ghost)")
    parser.add_argument("--api-url", help="Ghost API address, e.g. http://127.0.0.1:5565")
    parser.add_argument("--token", help="Ghost API token")
    args = parser.parse_args(argv)
    try:
        if args.api_url or args.token:
            if not (args.api_url and args.token):
                raise ExtensionSetupError("--api-url and --token go together")
            api_url, token = check_api_url(args.api_url), args.token
        else:
            api_url, token = read_home(args.home.expanduser())
        target = write_extension(args.dir, api_url, token)
    except (ExtensionSetupError, OSError) as e:
        print(f"ghost extension: {e}", file=sys.stderr)
        return 2
    print(f"Ghost extension for {api_url} written to {target}")
    print(f"Load it in Chromium: chrome://extensions > Developer mode > Load unpacked > {target}")
    print(f"  or start Chromium with --load-extension={target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
