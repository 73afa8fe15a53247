"""The session workspace: where the agent writes `report.md` and `poc/<name>`.

A session's workspace is ``<Ghost home>/workspaces/<session id>/`` (Ghost keeps no other
per-session files on disk; its artifacts live in the database). Everything here is plain
functions on paths, run in a worker thread by the callers: names are sanitised so a file
never lands outside its folder, symlinks are never followed or served, and every file is
capped at `FILE_MAX_BYTES`.
"""

from __future__ import annotations

import io
import os
import re
import stat
import zipfile
from pathlib import Path

from markdown_it import MarkdownIt

FILE_MAX_BYTES = 10 * 1024 * 1024  # the spec's cap for the report and for each PoC file
REPORT_NAME = "report.md"
POC_DIR = "poc"
POC_NAME_MAX = 100
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_SESSION_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


class TooLarge(ValueError):
    """A file over `FILE_MAX_BYTES`."""


def workspace_dir(home: Path, session_id: str) -> Path:
    """The session's workspace; ValueError for an id that is not a plain name."""
    if not _SESSION_ID.fullmatch(session_id):
        raise ValueError(f"session id {session_id!r} is not a plain name")
    return home / "workspaces" / session_id


def poc_name(name: str) -> str:
    """A PoC file name that stays in poc/: the last path part, unsafe characters as `_`,
    no leading dots (no `..`, no hidden files). ValueError when nothing is left."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    cleaned = _UNSAFE.sub("_", base).lstrip(".")[:POC_NAME_MAX]
    if not cleaned.strip("_"):
        raise ValueError(f"file name {name!r} has no usable characters (use letters, digits, . _ -)")
    return cleaned


def write_file(folder: Path, name: str, content: str) -> Path:
    data = content.encode()
    if len(data) > FILE_MAX_BYTES:
        raise TooLarge(f"{name} would be {len(data)} bytes; the limit is {FILE_MAX_BYTES}")
    folder.mkdir(parents=True, exist_ok=True)
    if folder.is_symlink() or not folder.is_dir():
        raise ValueError(f"{folder} is not a plain folder")
    path = folder / name
    # O_NOFOLLOW: a symlink planted at the name is refused, never written through
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    return path


def write_report(workspace: Path, content: str) -> Path:
    return write_file(workspace, REPORT_NAME, content)


def write_poc(workspace: Path, name: str, content: str) -> Path:
    return write_file(workspace / POC_DIR, poc_name(name), content)


# Where journey_export puts each format (journey-recording spec, "Files are saved to
# format-appropriate subdirectories"); a multi-file Page Object export goes in a folder
# named after the journey.
EXPORT_FOLDERS = {"cypress-ui": "cypress/e2e", "cypress-api": "cypress/e2e", "playwright-ui": "playwright",
                  "playwright-api": "playwright"}
EXPORT_FILES_MAX = 1000
FILE_MARKER = re.compile(r"^// ===== File: (.+?) =====\s*$", re.MULTILINE)


def safe_relative(path: str) -> str:
    """A relative path whose every part is a plain name (poc_name's rules): nothing can
    climb out of the folder it is written in."""
    parts = [p for p in path.replace("\\", "/").split("/") if p not in ("", ".", "..")]
    if not parts:
        raise ValueError(f"file path {path!r} has no usable parts")
    return "/".join(poc_name(p) for p in parts)


def export_files(fmt: str, journey_id: str, journey_name: str, filename: str,
                 text: str) -> list[tuple[str, str, str]]:
    """(folder, name, content) of each file a journey export becomes: one file, or one per
    `// ===== File: <path> =====` section of a multi-file export."""
    folder = EXPORT_FOLDERS.get(fmt, "exports")
    sections = FILE_MARKER.split(text)
    if len(sections) < 3:
        return [(folder, poc_name(filename or f"journey-{journey_id}.{fmt}"), text)]
    journey_folder = re.sub(r"[/\\]", "_", journey_name) or f"journey-{journey_id}"
    base = f"{folder}/{poc_name(journey_folder)}"
    if len(sections) // 2 > EXPORT_FILES_MAX:
        raise ValueError(f"the export has {len(sections) // 2} files; the limit is {EXPORT_FILES_MAX}")
    files = []
    for path, content in zip(sections[1::2], sections[2::2], strict=True):
        relative = safe_relative(path.strip())
        sub, _, name = relative.rpartition("/")
        body = content.removeprefix("\n")
        if body.endswith("\n\n"):
            body = body[:-1]  # the blank line the exporter puts between files
        files.append((f"{base}/{sub}" if sub else base, name, body))
    return files


def _regular_size(path: Path) -> int | None:
    """The size of a regular file (not a symlink, not a folder), None otherwise."""
    try:
        info = path.lstat()
    except FileNotFoundError:
        return None
    return info.st_size if stat.S_ISREG(info.st_mode) else None


def read_report(workspace: Path) -> str | None:
    """report.md's text, None when there is none; TooLarge past the cap."""
    path = workspace / REPORT_NAME
    size = _regular_size(path)
    if size is None or workspace.is_symlink():
        return None
    if size > FILE_MAX_BYTES:
        raise TooLarge(f"report.md is {size} bytes; the limit is {FILE_MAX_BYTES}")
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    with os.fdopen(fd, "rb") as f:
        return f.read(FILE_MAX_BYTES + 1).decode("utf-8", "replace")


def poc_zip(workspace: Path) -> bytes | None:
    """A zip of poc/'s regular files (no folders, no symlinks, none over the cap), sorted
    by name; None when there is no such file."""
    folder = workspace / POC_DIR
    if workspace.is_symlink() or folder.is_symlink() or not folder.is_dir():
        return None
    buffer = io.BytesIO()
    added = 0
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.iterdir()):
            size = _regular_size(path)
            if size is None or size > FILE_MAX_BYTES:
                continue
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
            with os.fdopen(fd, "rb") as f:
                archive.writestr(f"{POC_DIR}/{path.name}", f.read(FILE_MAX_BYTES))
            added += 1
    return buffer.getvalue() if added else None


def report_html(markdown: str, title: str) -> str:
    """The report as one HTML page: Markdown rendered with raw HTML disabled (escaped)."""
    body = MarkdownIt("commonmark", {"html": False}).render(markdown)
    safe_title = title.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return ("<!doctype html>\n<html><head><meta charset=\"utf-8\">"
            f"<title>{safe_title}</title><style>body{{font-family:sans-serif;max-width:60rem;margin:2rem auto;"
            "padding:0 1rem;line-height:1.5}pre{background:#f4f4f4;padding:.75rem;overflow:auto}"
            "code{font-family:monospace}</style></head>\n<body>\n" + body + "</body></html>\n")
