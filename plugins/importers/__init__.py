"""Session import: HAR 1.2 and Ghost JSON into an existing session.

``POST /api/v1/sessions/{id}/import/{har|json}`` takes the file as the raw body or as the
multipart field ``file`` (at most 256 MB, read as 256 MB + 1 byte), spools it to disk,
checks it whole, then stores its flows in batches while the proxy keeps running. Formats
come from the ``ghost_importers`` hook, so plugins can add their own.
"""

from __future__ import annotations

import asyncio
import logging
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from aiohttp import BodyPartReader, web

from ghost_addons.api.http import ApiError, error_response, json_response
from ghost_addons.api.lookups import registered, session_or_404
from ghost_addons.hookspecs import Register, hookimpl
from plugins.importers.contract import MAX_IMPORT_BYTES, ImportRejected
from plugins.importers.engine import ImportCancelled, run_import
from plugins.importers.ghost_json import GHOST_JSON_IMPORTER
from plugins.importers.har import HAR_IMPORTER

if TYPE_CHECKING:
    from ghost_addons.api.routes import RouteTable
    from ghost_addons.core import Ghost

log = logging.getLogger("ghost.import")

READ_CHUNK = 256 * 1024
MULTIPART_OVERHEAD = 64 * 1024  # boundaries and part headers around the file


@hookimpl
def ghost_importers(register: Register) -> None:
    register(HAR_IMPORTER.name, HAR_IMPORTER)
    register(GHOST_JSON_IMPORTER.name, GHOST_JSON_IMPORTER)


def _too_large() -> ApiError:
    return ApiError(413, f"the upload is larger than the import limit of "
                         f"{MAX_IMPORT_BYTES // (1024 * 1024)} MB")


async def _copy(reader, out: BinaryIO, limit: int) -> int:  # type: ignore[no-untyped-def]
    """Copy a stream to ``out``; at most ``limit`` + 1 bytes are read, more is a 413."""
    size = 0
    read = reader.read_chunk if isinstance(reader, BodyPartReader) else reader.read
    while True:
        chunk = await read(min(READ_CHUNK, limit + 1 - size))
        if not chunk:
            return size
        size += len(chunk)
        if size > limit:
            raise _too_large()
        # in a thread: when the kernel throttles writers of many dirty pages, a write()
        # can block for hundreds of milliseconds, and the loop must not wait for it
        await asyncio.to_thread(out.write, chunk)


async def spool_upload(request: web.Request, out: BinaryIO, limit: int = MAX_IMPORT_BYTES) -> int:
    """Write the uploaded file (raw body or multipart field ``file``) to ``out``."""
    length = request.content_length
    if request.content_type.startswith("multipart/"):
        if length is not None and length > limit + MULTIPART_OVERHEAD:
            raise _too_large()
        try:  # aiohttp says what is malformed (no boundary, a bad part) with these
            reader = await request.multipart()
        except (ValueError, AssertionError) as e:
            raise ApiError(400, f"the multipart upload is malformed: {e}") from None
        while True:
            try:
                part = await reader.next()
            except (ValueError, AssertionError) as e:
                raise ApiError(400, f"the multipart upload is malformed: {e}") from None
            if part is None:
                raise ApiError(400, "the multipart upload has no field named 'file'")
            if getattr(part, "name", None) == "file":
                return await _copy(part, out, limit)
            await part.release()  # type: ignore[union-attr]
    if length is not None and length > limit:
        raise _too_large()
    return await _copy(request.content, out, limit)


def spool_dir(ghost: Ghost) -> Path:
    return ghost.home / "tmp"


def remove_stale_spools(directory: Path) -> int:
    """Uploads left behind by a Ghost that was killed mid-import."""
    removed = 0
    for path in directory.glob("import-*"):
        path.unlink(missing_ok=True)
        removed += 1
    return removed


@hookimpl
async def ghost_startup(ghost: Ghost) -> None:
    removed = await asyncio.to_thread(remove_stale_spools, spool_dir(ghost))
    if removed:
        log.info("removed %d upload(s) left by an interrupted import", removed)


def client_gone(request: web.Request) -> bool:
    transport = request.transport
    return transport is None or transport.is_closing()


@hookimpl
def ghost_routes(ghost: Ghost, routes: RouteTable) -> None:
    async def import_(request: web.Request) -> web.StreamResponse:
        fmt = request.match_info["format"]
        importer = registered(ghost.importers, fmt, "import format")
        session = await session_or_404(ghost, request.match_info["id"])
        directory = spool_dir(ghost)
        directory.mkdir(mode=0o700, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix="import-", suffix=f".{fmt}", dir=directory)
        path = Path(name)
        try:
            with os.fdopen(fd, "wb") as out:
                size = await spool_upload(request, out)
            if size == 0:
                raise ApiError(400, "the upload is empty; send the file as the request body "
                                    "or as the multipart field 'file'")
            try:
                result = await run_import(importer, path, session["id"], ghost.store,
                                          cancelled=lambda: client_gone(request))
            except ImportRejected as exc:
                raise ApiError(exc.status, exc.message) from None
            except ImportCancelled as exc:
                log.info("import into %s cancelled: %s", session["id"], exc)
                return error_response(400, str(exc))
            log.info("imported %d flows (%d skipped) from %s into session %s",
                     result.imported, result.skipped, importer.name, session["id"])
            return json_response(result.to_dict())
        finally:
            await asyncio.to_thread(path.unlink, missing_ok=True)

    routes.add("POST", "/api/v1/sessions/{id}/import/{format}", import_,
               "Import a HAR or Ghost JSON file into a session (raw body or multipart 'file', "
               "256 MB limit)",
               body="the file: raw JSON body or multipart/form-data field 'file'",
               responses={200: "{imported, skipped, errors}", 400: "Not a file of that format",
                          404: "No such session", 413: "Larger than 256 MB"})
