"""What `scripts/ghost` adds to mitmproxy's command line: Ghost's proxy port and host.

mitmproxy loads `-s` scripts after it has bound its proxy, so without `-p` its first bind is
its own default, 8080 on every interface, before Ghost can move it to `proxy.port` on
127.0.0.1. When 8080 is taken (a dev server often has it) mitmproxy stops right there. The
launcher reads the port from Ghost's settings first and passes it, unless the command line
already chooses one; options given later on the command line win anyway.

    python -m ghost_addons.launch [mitmdump options]   # prints one argument a line
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from pathlib import Path

import yaml

from ghost_addons.config import DEFAULT_HOME, Settings, SettingsError

LOOPBACK = "127.0.0.1"


def chosen(argv: Iterable[str]) -> dict[str, str]:
    """The options among listen_port, listen_host and ghost_home that `argv` sets."""
    found: dict[str, str] = {}
    args = iter(argv)
    for arg in args:
        if arg in ("-p", "--listen-port"):
            found["listen_port"] = next(args, "")
        elif arg.startswith("--listen-port="):
            found["listen_port"] = arg.partition("=")[2]
        elif arg.startswith("-p") and arg[2:].isdigit():
            found["listen_port"] = arg[2:]
        elif arg == "--listen-host":
            found["listen_host"] = next(args, "")
        elif arg.startswith("--listen-host="):
            found["listen_host"] = arg.partition("=")[2]
        elif arg == "--set" or arg.startswith("--set="):
            name, _, value = (arg[len("--set="):] if arg != "--set" else next(args, "")).partition("=")
            if name in ("listen_port", "listen_host", "ghost_home"):
                found[name] = value
    return found


def launch_args(argv: list[str]) -> list[str]:
    """Options to put before `argv` so mitmproxy's first bind is already Ghost's."""
    given = chosen(argv)
    extra: list[str] = []
    if "listen_port" in given and "listen_host" in given:
        return extra
    home = Path(given.get("ghost_home") or DEFAULT_HOME).expanduser()
    settings = Settings.read(home / "config.yaml")
    if "listen_port" not in given:
        extra += ["--listen-port", str(settings.get("proxy.port"))]
    if "listen_host" not in given:
        # phones need 0.0.0.0: the proxy.listen_host setting or --set listen_host=0.0.0.0
        extra += ["--listen-host", settings.get("proxy.listen_host") or LOOPBACK]
    return extra


def main(argv: list[str]) -> int:
    try:
        extra = launch_args(argv)
    except (SettingsError, OSError, ValueError, yaml.YAMLError) as e:
        # Ghost itself reports a broken config.yaml at start-up, with more context.
        print(f"ghost: cannot read the proxy port from the settings ({e}); mitmproxy picks it", file=sys.stderr)
        extra = []
    if extra:  # no output at all, not an empty line (that would be an empty argument)
        print("\n".join(extra))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
