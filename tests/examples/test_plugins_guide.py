"""docs/plugins.md stays true of the code: its excerpts are copied from the files they name,
its smallest plugin runs, and the error it quotes is the one Ghost gives."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from mitmproxy.test import tflow

from ghost_addons.core import Ghost
from ghost_addons.settings_schema import SettingsError
from tests.examples.conftest import EXAMPLES

REPO = EXAMPLES.parent
GUIDE = REPO / "docs" / "plugins.md"
MARKED_BLOCK = re.compile(r"<!-- (excerpt|runs): ([^>]+?) -->\n```\w*\n(.*?)```", re.DOTALL)


def marked_blocks(kind: str) -> list[tuple[str, str]]:
    """(what the marker names, code) of each fenced block after a `<!-- kind: ... -->` marker."""
    return [(m[2], m[3]) for m in MARKED_BLOCK.finditer(GUIDE.read_text(encoding="utf-8")) if m[1] == kind]


def test_the_guide_marks_its_code() -> None:
    assert len(marked_blocks("excerpt")) >= 15 and len(marked_blocks("runs")) == 1


@pytest.mark.parametrize("path, code", marked_blocks("excerpt"), ids=lambda v: v.splitlines()[0][:40])
def test_each_excerpt_is_copied_from_its_file(path: str, code: str) -> None:
    source = (REPO / path).read_text(encoding="utf-8")
    assert code in source, f"docs/plugins.md quotes {path}, which no longer says:\n{code}"


def test_the_smallest_plugin_runs(tmp_path: Path) -> None:
    [(_, code)] = marked_blocks("runs")
    plugin = tmp_path / "hello.py"
    plugin.write_text(code)
    ghost = Ghost(tmp_path / "home", plugin_paths=(str(plugin),), api_port=1)
    flow = tflow.tflow()
    ghost.pm.direct("ghost_map_rules")(ghost=ghost, flow=flow, phase="request")
    assert flow.request.headers["X-Hello"] == "from a Ghost plugin"


def test_the_quoted_error_is_ghosts(tmp_path: Path) -> None:
    ghost = Ghost(tmp_path / "home", plugin_paths=(str(EXAMPLES / "ghost-tagger" / "ghost_tagger"),), api_port=1)
    with pytest.raises(SettingsError) as caught:
        ghost.settings.check_update({"tagger": {"rules": ["colour:red -> x"]}})
    assert f'400 {{"error": "{caught.value}"}}' in GUIDE.read_text(encoding="utf-8")
