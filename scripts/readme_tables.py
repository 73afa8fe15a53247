"""Rewrite the README's settings and events tables from what the built-in plugins declare.

    .venv/bin/python scripts/readme_tables.py          # rewrite README.md
    .venv/bin/python scripts/readme_tables.py --check  # exit 1 when README.md is stale
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ghost_addons.plugins import make_plugin_manager  # noqa: E402
from ghost_addons.reference import declared_tables, with_tables  # noqa: E402
from plugins import DEFAULT_PLUGINS  # noqa: E402


def main(argv: list[str]) -> int:
    readme = ROOT / "README.md"
    text = readme.read_text(encoding="utf-8")
    fresh = with_tables(text, declared_tables(make_plugin_manager(DEFAULT_PLUGINS, entry_points=False)))
    if "--check" in argv:
        if fresh != text:
            print("README.md's settings or events table is stale: run scripts/readme_tables.py", file=sys.stderr)
            return 1
        return 0
    if fresh != text:
        readme.write_text(fresh, encoding="utf-8")
        print("README.md updated")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
