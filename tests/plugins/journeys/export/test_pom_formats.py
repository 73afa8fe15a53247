"""playwright-ui and cypress-ui on a recorded journey, against golden files; the multi-file
output and its split.

Regenerate after an intended change with GHOST_UPDATE_GOLDEN=1 and read the diff.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import pytest

from plugins.journeys.export import BUILTIN
from plugins.journeys.export.model import ExportStep, JourneyExport
from plugins.journeys.export.pom.analysis import analyze_pom
from plugins.journeys.export.pom.multifile import (
    FileEntry,
    is_multi_file_export,
    join_files,
    split_multi_file_export,
    write_files,
)
from plugins.journeys.model import Journey, Step

from .journeys import JOURNEY_ID, START
from .ui_journeys import interaction, ui_journey

GOLDEN = Path(__file__).resolve().parents[3] / "data" / "golden" / "journey_export" / "ui"
REPO = Path(__file__).resolve().parents[4]
FILES = {
    "playwright-ui": ["constants.ts", "pages/HomePage.ts", "pages/DashboardPage.ts", "pages/WidgetsPage.ts",
                      "sign-in-add-a-note-pick-widgets.spec.ts"],
    "cypress-ui": ["constants.js", "pages/HomePage.js", "pages/DashboardPage.js", "pages/WidgetsPage.js",
                   "sign-in-add-a-note-pick-widgets.cy.js"],
}


@pytest.mark.parametrize("fmt", sorted(FILES))
def test_matches_the_golden_files(fmt: str) -> None:
    text = BUILTIN[fmt].generate(ui_journey())
    assert text == BUILTIN[fmt].generate(ui_journey())  # deterministic
    files = split_multi_file_export(text)
    assert [f.path for f in files] == FILES[fmt]
    for entry in files:
        path = GOLDEN / fmt / entry.path
        if os.environ.get("GHOST_UPDATE_GOLDEN"):
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(entry.content)
        assert entry.content == path.read_text(), entry.path


@pytest.mark.parametrize("fmt", sorted(FILES))
def test_secrets_appear_once_as_defaults(fmt: str) -> None:
    text = BUILTIN[fmt].generate(ui_journey())
    assert text.count("'secret'") == 1 and text.count("'alice'") == 1
    constants = split_multi_file_export(text)[0].content
    assert "'secret'" in constants and "PASSWORD" in constants
    assert "a3f1c0ffee5eed5ca1ab1e0123456789" not in text  # what the app handed out is never in a UI test


def test_playwright_waits_on_the_glob_cypress_intercepts() -> None:
    playwright = BUILTIN["playwright-ui"].generate(ui_journey())
    cypress = BUILTIN["cypress-ui"].generate(ui_journey())
    assert "page.waitForResponse('**/api/auth*')" in playwright
    assert "cy.intercept('POST', '**/api/auth*').as('authReq')" in cypress
    assert "page.waitForResponse('**/api/notes*')" in playwright
    assert "waitForTimeout" not in playwright  # no fixed sleep
    assert "await page.waitForURL('**/dashboard*');" in playwright
    assert "cy.url().should('include', '/dashboard');" in cypress
    assert playwright.count(".goto();") == 1 and cypress.count(".visit();") == 1  # the first page only


def test_another_test_id_attribute_is_set_for_the_spec() -> None:
    export = dataclasses.replace(ui_journey(), test_id_attribute="data-test")
    files = {f.path: f.content for f in split_multi_file_export(BUILTIN["playwright-ui"].generate(export))}
    assert "test.use({ testIdAttribute: 'data-test' });" in files["sign-in-add-a-note-pick-widgets.spec.ts"]
    widgets = files["pages/WidgetsPage.ts"]
    assert "this.countrySelect = page.getByTestId('country');" in widgets
    assert """page.locator('input[data-testid="username"]')""" in files["pages/HomePage.ts"]


def test_split_and_join_round_trip() -> None:
    files = [FileEntry("constants.ts", "export const A = 1;\n"), FileEntry("pages/A.ts", "a\n\nb\n"),
             FileEntry("x.spec.ts", "last")]
    text = join_files(files)
    assert is_multi_file_export(text) and not is_multi_file_export("const a = 1;\n")
    assert text.startswith("// ===== File: constants.ts =====\nexport const A = 1;\n\n// ===== File: pages/A.ts")
    assert split_multi_file_export(text) == [*files[:2], FileEntry("x.spec.ts", "last\n")]


@pytest.mark.parametrize("path", ["../evil.ts", "/etc/passwd", "pages/../../x", "a\\b"])
def test_a_path_leaving_the_folder_is_refused(path: str) -> None:
    with pytest.raises(ValueError, match="must be relative"):
        split_multi_file_export(f"// ===== File: {path} =====\nx\n")


def test_the_split_command_writes_the_folder(tmp_path: Path) -> None:
    saved = tmp_path / "journey.ui.spec.ts"
    saved.write_text(BUILTIN["playwright-ui"].generate(ui_journey()))
    result = subprocess.run([sys.executable, "-m", "plugins.journeys.export.pom.multifile", str(saved),
                             str(tmp_path / "out")], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert sorted(p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").rglob("*.ts")) == sorted(
        FILES["playwright-ui"])
    not_multi = tmp_path / "k6.js"
    not_multi.write_text("import http from 'k6/http';\n")
    result = subprocess.run([sys.executable, "-m", "plugins.journeys.export.pom.multifile", str(not_multi),
                             str(tmp_path / "no")], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1 and "not a multi-file export" in result.stderr
    assert write_files("", tmp_path / "empty") == []


def small_journey(*pages: str) -> JourneyExport:
    steps = []
    for n, page in enumerate(pages, start=1):
        i = interaction(n, "click", page, f"#b{n}", f"Button {n}", "button", id=f"b{n}")
        steps.append(ExportStep(Step(f"S{n:04d}", JOURNEY_ID, n, "interaction", i.id, None, "{}", START), None, i))
    return JourneyExport(Journey(JOURNEY_ID, "S", "Edit", "completed", START, START), steps)


def test_a_later_page_with_a_record_id_is_awaited_by_pattern() -> None:
    export = small_journey("/products", "/products/123/edit")
    cypress = BUILTIN["cypress-ui"].generate(export)
    assert "cy.location('pathname').should('match', /^\\/products\\/[^/]+\\/edit$/);" in cypress
    assert "await page.waitForURL('**/products/*/edit*');" in BUILTIN["playwright-ui"].generate(export)


def test_one_page_without_api_calls_imports_only_what_it_uses() -> None:
    files = {f.path: f.content for f in split_multi_file_export(BUILTIN["playwright-ui"].generate(
        small_journey("/settings")))}
    spec = files["edit.spec.ts"]
    assert "import { test } from '@playwright/test';" in spec and "expect" not in spec
    assert "async () => {" in spec and "./constants" not in spec
    cypress = {f.path: f.content for f in split_multi_file_export(BUILTIN["cypress-ui"].generate(
        small_journey("/settings")))}
    assert "cy.wait(" not in cypress["edit.cy.js"] and "./constants" not in cypress["edit.cy.js"]


def test_pages_that_are_not_http_are_left_out() -> None:
    export = small_journey("/a")
    browser_page = dataclasses.replace(export.steps[0].interaction, id="other", page_url="chrome://newtab/")
    export.steps.append(dataclasses.replace(export.steps[0], interaction=browser_page))
    assert [p.class_name for p in analyze_pom(export).pages] == ["APage"]
