"""Map local: where a rule's file may live, and reading it safely.

A map-local file is named relative to the Ghost home (``mocks/cart.json``) or by an
absolute path inside it. Refused: ``..`` anywhere in the path, an absolute path outside the
home, a path whose real location (symlinks followed) is outside the home, Ghost's own
secrets (the config file with the API token, the database, the CA key), anything that is
not a regular file or directory, and files over `MAX_LOCAL_FILE_SIZE`. The same checks run
again every time the file is served, because the file system can change after the rule is
saved.

A directory maps the rest of the request path below the rule's path prefix onto files in
it (mitmproxy's `map_local` candidate rules: ``x``, then ``x/index.html``).
"""

from __future__ import annotations

import fnmatch
import mimetypes
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path

from mitmproxy.addons.maplocal import MapLocalSpec, file_candidates
from mitmproxy.flowfilter import match_all

MAX_LOCAL_FILE_SIZE = 50 * 1024 * 1024
MAX_INLINE_BODY = 1024 * 1024

# Files in the Ghost home that hold secrets or live state; never served.
DENIED_NAMES = ("config.yaml", "config.yaml.*", "ghost.db", "ghost.db-*", "mitmproxy-ca*", "*.key")


class LocalPathError(ValueError):
    """A map-local path that is unsafe or unusable; the message says why."""


def _denied(path: Path) -> bool:
    return any(fnmatch.fnmatch(path.name, pattern) for pattern in DENIED_NAMES)


def _inside(path: Path, root: Path) -> bool:
    return path == root or path.is_relative_to(root)


def check_local_path(home: Path, file_path: str) -> Path:
    """The real path of a map-local file or directory, or LocalPathError saying why not."""
    if "\0" in file_path:
        raise LocalPathError("file_path contains a NUL character")
    parts = re.split(r"[\\/]+", file_path)
    if ".." in parts:
        raise LocalPathError(f"file_path {file_path!r} must not contain '..'")
    root = home.resolve()
    given = Path(file_path).expanduser()
    if not given.is_absolute():
        given = root / given
    lexical = Path(os.path.normpath(given))
    # compare with the home as given and as resolved (the home itself may sit behind a symlink)
    if not (_inside(lexical, root) or _inside(lexical, Path(os.path.normpath(home.absolute())))):
        raise LocalPathError(f"file_path {file_path!r} is outside the Ghost home {root}")
    try:
        real = given.resolve(strict=True)
    except FileNotFoundError:
        raise LocalPathError(f"file_path {file_path!r} does not exist (looked for {given})") from None
    except (OSError, RuntimeError) as e:
        raise LocalPathError(f"file_path {file_path!r} cannot be resolved: {e}") from None
    if not _inside(real, root):
        raise LocalPathError(f"file_path {file_path!r} resolves to {real}, outside the Ghost home {root}")
    if real == root:
        raise LocalPathError("file_path must name a file or a folder inside the Ghost home, not the home itself")
    if _denied(real):
        raise LocalPathError(f"file_path {file_path!r} names a file Ghost keeps private ({real.name})")
    info = real.stat()
    if stat.S_ISREG(info.st_mode):
        if info.st_size > MAX_LOCAL_FILE_SIZE:
            raise LocalPathError(
                f"file_path {file_path!r} is {info.st_size} bytes; the limit is {MAX_LOCAL_FILE_SIZE}"
            )
    elif not stat.S_ISDIR(info.st_mode):
        raise LocalPathError(f"file_path {file_path!r} is not a regular file or folder")
    return real


def path_prefix(path_pattern: str) -> str:
    """The literal part of a path glob before its first wildcard (for directory mapping)."""
    cut = len(path_pattern)
    for ch in "*?[":
        index = path_pattern.find(ch)
        if index >= 0:
            cut = min(cut, index)
    return path_pattern[:cut]


def directory_candidates(directory: Path, path_pattern: str, request_path: str) -> list[Path]:
    """Files that may answer `request_path` from a mapped directory, in order of preference."""
    prefix = path_prefix(path_pattern).rstrip("/")
    regex = "^" + re.escape(prefix) + r"/*([^?#]*)"
    path = request_path.split("?", 1)[0].split("#", 1)[0]
    match = re.match(regex, path)
    if match is None:
        return []
    if not match.group(1).strip("/"):
        return [directory / "index.html"]
    spec = MapLocalSpec(match_all, regex, directory)
    return file_candidates(path, spec)


@dataclass(slots=True)
class LocalFile:
    status: int  # 200 when found; 404 when no candidate exists; 403 when refused
    body: bytes
    content_type: str
    reason: str = ""


def read_local(home: Path, file_path: str, path_pattern: str, request_path: str) -> LocalFile:
    """Read the file a map-local rule serves for a request. Blocking: run it in a thread."""
    try:
        real = check_local_path(home, file_path)
    except LocalPathError as e:
        status = 404 if "does not exist" in str(e) else 403
        return LocalFile(status, b"", "", str(e))
    candidates = directory_candidates(real, path_pattern, request_path) if real.is_dir() else [real]
    root = home.resolve()
    for candidate in candidates:
        try:
            resolved = candidate.resolve(strict=True)
        except (OSError, RuntimeError):
            continue
        if not _inside(resolved, root) or _denied(resolved):
            return LocalFile(403, b"", "", f"{candidate} resolves outside the Ghost home or is private")
        try:
            fd = os.open(resolved, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        except OSError:
            continue
        with os.fdopen(fd, "rb") as handle:
            info = os.fstat(handle.fileno())
            if not stat.S_ISREG(info.st_mode):
                continue
            if info.st_size > MAX_LOCAL_FILE_SIZE:
                return LocalFile(403, b"", "", f"{resolved.name} is over {MAX_LOCAL_FILE_SIZE} bytes")
            body = handle.read(MAX_LOCAL_FILE_SIZE + 1)
        if len(body) > MAX_LOCAL_FILE_SIZE:
            return LocalFile(403, b"", "", f"{resolved.name} is over {MAX_LOCAL_FILE_SIZE} bytes")
        return LocalFile(200, body, guess_content_type(resolved.name, body))
    return LocalFile(404, b"", "", "no map-local file for this path")


def guess_content_type(name: str, body: bytes) -> str:
    """Content type from the file name, else from the first bytes."""
    guessed = mimetypes.guess_type(name)[0]
    if guessed:
        if guessed.startswith("text/") or guessed in ("application/json", "application/javascript"):
            return f"{guessed}; charset=utf-8"
        return guessed
    return sniff_content_type(body)


def sniff_content_type(body: bytes) -> str:
    head = body[:512].lstrip()
    lowered = head.lower()
    if lowered.startswith((b"<!doctype html", b"<html", b"<head", b"<body")):
        return "text/html; charset=utf-8"
    if head[:1] in (b"{", b"["):
        return "application/json"
    if head.startswith(b"<?xml"):
        return "application/xml"
    if head.startswith(b"\x89PNG"):
        return "image/png"
    if head.startswith(b"GIF8"):
        return "image/gif"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    try:
        body[:4096].decode("utf-8")
    except UnicodeDecodeError as e:
        if e.start < 4090:  # not just a character cut at the edge
            return "application/octet-stream"
    return "text/plain; charset=utf-8"
