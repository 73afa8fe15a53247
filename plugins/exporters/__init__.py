"""Session export: HAR 1.2, Ghost JSON, CSV, Postman Collection v2.1.0, HTML report.

``GET /api/v1/sessions/{id}/export/{format}`` streams the file while reading the session
from the store 5,000 flows at a time (at most 100,000; the report 10,000), stops when the
client goes away, and keeps a copy as a ``session_export`` artifact when the file is at
most 20 MB. Formats come from the ``ghost_exporters`` hook, so plugins can add their own.

An export that fails before its first byte is an error response; one that fails after the
download started aborts the connection without the terminating chunk, so the client sees a
failed download, never a complete-looking, silently truncated file.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from aiohttp import web

from ghost_addons.api.lookups import registered, session_or_404
from ghost_addons.errors import InvalidInput
from ghost_addons.hookspecs import Register, hookimpl
from ghost_addons.plugins import settle
from ghost_addons.report_sections import ReportSection
from ghost_addons.slicing import Slicer
from ghost_addons.store.gql import GqlError, compile_query
from plugins.exporters.contract import (
    EXPORT_BATCH,
    Exporter,
    ExportInfo,
    export_filename,
    human_size,
)
from plugins.exporters.csv_export import CSV_EXPORTER
from plugins.exporters.ghost_json import GHOST_JSON_EXPORTER
from plugins.exporters.har import HAR_EXPORTER
from plugins.exporters.postman import POSTMAN_EXPORTER
from plugins.exporters.report import REPORT_EXPORTER

if TYPE_CHECKING:
    from ghost_addons.api.routes import RouteTable
    from ghost_addons.core import Ghost
    from ghost_addons.model import Flow
    from ghost_addons.store.db import Connection

log = logging.getLogger("ghost.export")

ARTIFACT_MAX_BYTES = 20 * 1024 * 1024
WRITE_CHUNK = 256 * 1024
BUILTIN_EXPORTERS = (HAR_EXPORTER, GHOST_JSON_EXPORTER, CSV_EXPORTER, POSTMAN_EXPORTER,
                     REPORT_EXPORTER)


@hookimpl
def ghost_exporters(register: Register) -> None:
    for exporter in BUILTIN_EXPORTERS:
        register(exporter.name, exporter)


def _count_flows(conn: Connection, session_id: str, where: str = "1", params: tuple[Any, ...] = ()) -> int:
    return int(conn.execute(f"SELECT COUNT(*) FROM flows WHERE session_id = ? AND ({where})",
                            (session_id, *params)).fetchone()[0])


def export_query(q: str) -> tuple[str, tuple[Any, ...]]:
    """The flows a `?q=` export holds: the same GQL as the flow list (all flows when empty)."""
    try:
        where, params = compile_query(q)
    except GqlError as e:
        raise InvalidInput(f"bad query: {e}") from None
    return where, tuple(params)


def content_disposition(filename: str) -> str:
    ascii_name = filename.encode("ascii", "replace").decode("ascii").replace("?", "_")
    ascii_name = ascii_name.replace('"', "_").replace("\\", "_")
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename, safe='')}"


def client_gone(request: web.Request) -> bool:
    transport = request.transport
    return transport is None or transport.is_closing()


def abort_download(request: web.Request) -> None:
    """Drop the connection mid-body: no terminating chunk, so the client's download fails."""
    transport = request.transport
    if transport is not None:
        transport.abort()


async def report_sections(ghost: Ghost, session_id: str) -> tuple[ReportSection, ...]:
    """What plugins add to the report (``ghost_report_sections``), in plugin order."""
    results = await settle(ghost.pm.hook.ghost_report_sections(ghost=ghost, session_id=session_id))
    sections: list[ReportSection] = []
    for result in results:
        for section in result or ():
            if not isinstance(section, ReportSection):
                raise TypeError(f"ghost_report_sections returned {type(section).__name__}, not a ReportSection")
            sections.append(section)
    return tuple(sections)


async def stream_export(ghost: Ghost, request: web.Request, exporter: Exporter,
                        session: dict, query: str = "") -> web.StreamResponse:
    where, params = export_query(query)
    total = await ghost.store.read(_count_flows, session["id"], where, params)
    sections = await report_sections(ghost, session["id"]) if exporter.wants_sections else ()
    info = ExportInfo(session_id=session["id"], session_name=session["name"], total_flows=total,
                      sections=sections)
    limit = exporter.max_flows
    if total > limit:
        log.warning("session %s has %d flows; the %s export holds the first %d",
                    session["id"], total, exporter.name, limit)
    filename = export_filename(exporter, info)
    response = web.StreamResponse(headers={
        "Content-Type": exporter.content_type,
        "Content-Disposition": content_disposition(filename),
        "X-Ghost-Flow-Count": str(min(total, limit)),
        "X-Ghost-Truncated": "true" if total > limit else "false",
    })
    writer = exporter.open(info)
    keep: list[bytes] | None = []  # a copy for the artifact while it stays <= 20 MB
    size = 0
    pending: list[bytes] = []
    pending_size = 0
    exported = 0
    devices = DevicesSeen()
    slicer = Slicer()

    async def send(chunk: bytes) -> None:
        nonlocal size, keep, pending, pending_size
        if not chunk:  # the writer is busy and offers the loop a turn
            await slicer.tick()
            return
        size += len(chunk)
        if keep is not None:
            if size <= ARTIFACT_MAX_BYTES:
                keep.append(chunk)
            else:
                keep = None
        pending.append(chunk)
        pending_size += len(chunk)
        if pending_size >= WRITE_CHUNK:
            data, pending, pending_size = b"".join(pending), [], 0
            if not response.prepared:
                await response.prepare(request)
            await response.write(data)
        await slicer.tick()

    try:
        async for batch in ghost.store.iter_session_flows(session["id"], batch=EXPORT_BATCH,
                                                          limit=limit, where=where, params=params):
            if client_gone(request):
                log.info("export of %s cancelled after %d flows: client went away",
                         session["id"], exported)
                return response
            devices.add(batch)
            for chunk in writer.write(batch):
                await send(chunk)
            exported += len(batch)
        for chunk in writer.close():
            await send(chunk)
        if not response.prepared:
            await response.prepare(request)
        if pending:
            await response.write(b"".join(pending))
        await response.write_eof()
    except (ConnectionError, RuntimeError) as exc:  # the client closed the connection
        log.info("export of %s stopped after %d flows: %s", session["id"], exported, exc)
        return response
    except Exception:
        if not response.prepared:
            raise  # nothing sent yet: the error middleware answers with the error
        log.exception("export of %s failed after %d flows and %s sent; aborting the download",
                      session["id"], exported, human_size(size))
        abort_download(request)
        return response
    if keep is not None:
        await ghost.store.save_artifact(
            type="session_export",
            title=f"{session['name']} — {exporter.title} Export",
            summary=f"{exported:,} flows, {human_size(size)}",
            format=exporter.artifact_format,
            content=b"".join(keep),
            session_id=session["id"],
            device_id=devices.only_id(), device_name=devices.only_name(),
            metadata={"flow_count": exported, "session_name": session["name"],
                      "export_format": exporter.name, "filename": filename,
                      **({"query": query} if query else {})},
        )
    return response


class DevicesSeen:
    """The devices (flow metadata `device`, see plugins/devices) an export's flows came from:
    an export made from one device's traffic carries its device_id and device_name."""

    def __init__(self) -> None:
        self.ids: set[str] = set()
        self.name = ""
        self.unknown = False

    def add(self, batch: list[Flow]) -> None:
        for flow in batch:
            device = flow.metadata.get("device")
            if isinstance(device, dict) and isinstance(device.get("id"), str):
                self.ids.add(device["id"])
                self.name = str(device.get("name") or self.name)
            else:
                self.unknown = True

    def only_id(self) -> str:
        return next(iter(self.ids)) if len(self.ids) == 1 and not self.unknown else ""

    def only_name(self) -> str:
        return self.name if self.only_id() else ""


@hookimpl
def ghost_routes(ghost: Ghost, routes: RouteTable) -> None:
    async def export(request: web.Request) -> web.StreamResponse:
        fmt = request.match_info["format"]
        exporter = registered(ghost.exporters, fmt, "export format")
        session = await session_or_404(ghost, request.match_info["id"])
        return await stream_export(ghost, request, exporter, session, request.query.get("q", ""))

    routes.add("GET", "/api/v1/sessions/{id}/export/{format}", export,
               "Export a session as har, json, csv, postman or report (HTML); `?q=` (GQL) exports "
               "only the flows it finds",
               responses={200: "The file, streamed", 400: "Unknown format",
                          404: "No such session"})
