"""Tests of the example plugins in examples/. Each example is importable here as it would be
after `pip install -e examples/<name>`: its source folder is put on sys.path."""

from __future__ import annotations

import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

for folder in (EXAMPLES / "ghost-tagger",):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))
