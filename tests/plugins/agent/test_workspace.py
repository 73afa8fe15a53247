"""The session workspace: sanitised names, regular files only, the 10 MB cap, and the
report/PoC routes' answers when something is missing or wrong."""

from __future__ import annotations

import asyncio
import io
import os
import zipfile
from pathlib import Path

import pytest

from plugins.agent import workspace
from plugins.agent.workspace import TooLarge, poc_name, poc_zip, read_report, write_poc, write_report

PLUGINS = ("plugins.agent",)


def sparse(path: Path, size: int) -> None:
    """A file of `size` bytes that takes no room on disk."""
    with open(path, "wb") as f:
        f.truncate(size)


@pytest.mark.parametrize(("given", "kept"), [
    ("exploit.sh", "exploit.sh"), ("../../etc/passwd", "passwd"), ("..\\..\\win.ini", "win.ini"),
    ("/abs/path/x.py", "x.py"), ("..", None), ("...hidden", "hidden"), ("a b;rm -rf.sh", "a_b_rm_-rf.sh"),
    ("", None), ("../", None), ("ü.txt", "_.txt"), ("x" * 300, "x" * 100),
])
def test_poc_names_stay_in_poc(given: str, kept: str | None) -> None:
    if kept is None:
        with pytest.raises(ValueError, match="no usable characters"):
            poc_name(given)
    else:
        assert poc_name(given) == kept


def test_the_zip_holds_regular_files_only_and_none_over_the_cap(tmp_path: Path) -> None:
    assert poc_zip(tmp_path) is None  # no poc/ yet
    write_poc(tmp_path, "b.sh", "echo b\n")
    write_poc(tmp_path, "a.py", "print('a')\n")
    poc = tmp_path / "poc"
    (poc / "folder").mkdir()
    (tmp_path / "secret").write_text("do not serve")
    (poc / "link").symlink_to(tmp_path / "secret")
    sparse(poc / "huge.bin", workspace.FILE_MAX_BYTES + 1)
    archive = zipfile.ZipFile(io.BytesIO(poc_zip(tmp_path) or b""))
    assert archive.namelist() == ["poc/a.py", "poc/b.sh"]


def test_writes_refuse_symlinks_and_oversize(tmp_path: Path) -> None:
    (tmp_path / "elsewhere").write_text("untouched")
    (tmp_path / "report.md").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(OSError):
        write_report(tmp_path, "# x")
    assert (tmp_path / "elsewhere").read_text() == "untouched"
    assert read_report(tmp_path) is None  # a symlinked report is not served either
    os.unlink(tmp_path / "report.md")
    with pytest.raises(TooLarge):
        write_report(tmp_path, "x" * (workspace.FILE_MAX_BYTES + 1))
    write_report(tmp_path, "# ok")
    assert read_report(tmp_path) == "# ok"


def test_workspace_ids_are_plain_names(tmp_path: Path) -> None:
    assert workspace.workspace_dir(tmp_path, "01ABC") == tmp_path / "workspaces" / "01ABC"
    for bad in ("..", "../x", "a/b", ""):
        with pytest.raises(ValueError):
            workspace.workspace_dir(tmp_path, bad)


@pytest.mark.parametrize(("accept", "html"), [
    ("", False), ("text/html", True), ("text/markdown", False), ("text/html,*/*;q=0.8", True),
    ("text/markdown, text/html", False), ("text/markdown;q=0.5, text/html", True), ("*/*", False),
    ("text/html;q=0", False), ("text/html;q=oops", False),
])
def test_content_negotiation(accept: str, html: bool) -> None:
    from plugins.agent import wants_html
    assert wants_html(accept) is html


async def test_report_and_poc_routes(ghost_app) -> None:  # type: ignore[no-untyped-def]
    api = await ghost_app(PLUGINS)
    session_id = api.ghost.active_session_id
    folder = workspace.workspace_dir(api.ghost.home, session_id)
    for path in ("report", "poc"):
        status, body = await api.call("GET", f"/api/v1/sessions/{session_id}/{path}")
        assert status == 404 and "no" in body["error"]
        status, body = await api.call("GET", f"/api/v1/sessions/01NOSUCHSESSION/{path}")
        assert status == 404 and "session" in body["error"]
    folder.mkdir(parents=True)
    sparse(folder / "report.md", workspace.FILE_MAX_BYTES + 1)
    status, body = await api.call("GET", f"/api/v1/sessions/{session_id}/report")
    assert status == 413 and "limit" in body["error"]
    write_report(folder, "# fine")
    write_poc(folder, "x.sh", "echo\n")
    assert await api.ok("GET", f"/api/v1/sessions/{session_id}/report") == b"# fine"
    # the workspace goes with its session
    other = await api.ok("POST", "/api/v1/sessions", 201, json={"name": "other"})
    await api.ok("POST", f"/api/v1/sessions/{other['id']}/activate")
    await api.ok("DELETE", f"/api/v1/sessions/{session_id}", 204)
    for _ in range(100):
        if not folder.exists():
            break
        await asyncio.sleep(0.02)
    assert not folder.exists()


def test_journey_exports_go_where_the_spec_says() -> None:
    from plugins.agent.workspace import export_files
    assert export_files("curl", "01JOURNEY", "Login", "journey-01JOURNE.sh", "curl x\n") == [
        ("exports", "journey-01JOURNE.sh", "curl x\n")]
    assert export_files("playwright-api", "01J", "Login", "journey-01J.api.spec.ts", "t") == [
        ("playwright", "journey-01J.api.spec.ts", "t")]
    assert export_files("k6", "01J", "", "", "t") == [("exports", "journey-01J.k6", "t")]
    pom = ("// ===== File: constants.js =====\nA\n\n// ===== File: pages/login.js =====\nB\n"
           "// ===== File: ../../../escape.cy.js =====\nC\n")
    assert export_files("cypress-ui", "01J", "Log in/out", "", pom) == [
        ("cypress/e2e/Log_in_out", "constants.js", "A\n"), ("cypress/e2e/Log_in_out/pages", "login.js", "B\n"),
        ("cypress/e2e/Log_in_out", "escape.cy.js", "C\n")]
    with pytest.raises(ValueError, match="limit"):
        export_files("cypress-ui", "01J", "x", "", "// ===== File: a.js =====\n" * 1001)
