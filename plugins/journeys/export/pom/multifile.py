"""Multi-file exports: several files in one text, each after a `// ===== File: <path> =====`
line, and the split back into files.

    python -m plugins.journeys.export.pom.multifile EXPORT_FILE FOLDER

writes each file of a saved export under FOLDER (paths are relative; `..` and absolute
paths are refused).
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

SEPARATOR = "// ===== File: {path} ====="
_SEPARATOR = re.compile(r"^// ===== File: (.+) =====$", re.MULTILINE)
MAX_FILES = 1000


@dataclass(frozen=True, slots=True)
class FileEntry:
    path: str
    content: str


def join_files(files: list[FileEntry]) -> str:
    """One text: each file's separator line, then its content (ending in a newline)."""
    parts = []
    for entry in files:
        check_path(entry.path)
        body = entry.content if entry.content.endswith("\n") else entry.content + "\n"
        parts.append(SEPARATOR.format(path=entry.path) + "\n" + body)
    return "\n".join(parts)


def is_multi_file_export(text: str) -> bool:
    return text.startswith("// ===== File: ")


def split_multi_file_export(text: str) -> list[FileEntry]:
    """The files of a multi-file export; ValueError for a path that would leave the folder."""
    matches = list(_SEPARATOR.finditer(text))
    if len(matches) > MAX_FILES:
        raise ValueError(f"{len(matches)} files; the limit is {MAX_FILES}")
    out = []
    for index, match in enumerate(matches):
        end = matches[index + 1].start() if index + 1 < len(matches) else len(text)
        body = text[match.end() + 1: end]
        if index + 1 < len(matches) and body.endswith("\n\n"):
            body = body[:-1]  # the blank line join_files puts between files
        path = match.group(1).strip()
        check_path(path)
        out.append(FileEntry(path, body))
    return out


def check_path(path: str) -> None:
    pure = PurePosixPath(path)
    if not path or pure.is_absolute() or ".." in pure.parts or "\\" in path:
        raise ValueError(f"file path {path!r} must be relative and stay inside the folder")


def write_files(text: str, folder: Path) -> list[Path]:
    written = []
    for entry in split_multi_file_export(text):
        target = folder / entry.path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(entry.content, encoding="utf-8")
        written.append(target)
    return written


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m plugins.journeys.export.pom.multifile EXPORT_FILE FOLDER", file=sys.stderr)
        return 2
    text = Path(argv[0]).read_text(encoding="utf-8")
    if not is_multi_file_export(text):
        print(f"{argv[0]} is not a multi-file export (no '// ===== File:' line first)", file=sys.stderr)
        return 1
    for path in write_files(text, Path(argv[1])):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
