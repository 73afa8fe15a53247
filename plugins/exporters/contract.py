"""What an exporter is, and the helpers every format shares (filenames, sizes).

An exporter turns a session's flows into one file. It is written for streaming: Ghost
feeds it batches of flows (5,000 at a time from the store) and sends each chunk of
bytes it returns straight to the client, so no format ever holds a whole session.

A third-party plugin adds a format with the ``ghost_exporters`` hook::

    @hookimpl
    def ghost_exporters(register):
        register("ndjson", Exporter(name="ndjson", title="NDJSON", extension="ndjson",
                                    content_type="application/x-ndjson",
                                    artifact_format="json", open=NdjsonWriter))
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

import orjson

from ghost_addons.model import Flow, without_surrogates
from ghost_addons.report_sections import ReportSection

EXPORT_BATCH = 5_000
EXPORT_MAX_FLOWS = 100_000


def dumps_entry(entry: object) -> bytes:
    """JSON for one entry of a text-only format; header bytes that were not UTF-8 (lone
    surrogates, which JSON cannot hold) are shown as U+FFFD."""
    try:
        return orjson.dumps(entry)
    except TypeError:  # orjson.JSONEncodeError
        return orjson.dumps(without_surrogates(entry))


@dataclass(frozen=True, slots=True)
class ExportInfo:
    """What an exporter knows about the session besides its flows."""

    session_id: str
    session_name: str
    exported_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    total_flows: int = 0  # flows in the session, which may be more than the format's cap
    # Sections other plugins add (ghost_report_sections), for exporters with wants_sections.
    sections: tuple[ReportSection, ...] = ()


class ExportWriter(Protocol):
    """One export in progress: ``write`` per batch of flows, then ``close`` once.

    Ghost runs both on the event loop and gives the loop a turn between the chunks they
    yield (every few ms, ``ghost_addons.slicing``), so yield as the work goes, not all at
    the end; a writer with nothing to send yet may yield ``b""`` just to give that turn.
    """

    def write(self, flows: Sequence[Flow]) -> Iterator[bytes]: ...

    def close(self) -> Iterator[bytes]: ...


@dataclass(frozen=True, slots=True)
class Exporter:
    name: str  # the {format} in /export/{format}
    title: str  # "HAR": used in the artifact title "{session} — HAR Export"
    extension: str  # file extension without the dot
    content_type: str
    artifact_format: str  # json | har | csv | html | markdown (artifact download type)
    open: Callable[[ExportInfo], ExportWriter]
    filename_suffix: str = ""  # "_postman_collection" for Postman
    max_flows: int = EXPORT_MAX_FLOWS
    wants_sections: bool = False  # ask plugins for ghost_report_sections before exporting


def export_chunks(exporter: Exporter, info: ExportInfo, flows: Iterable[Flow],
                  batch: int = EXPORT_BATCH) -> Iterator[bytes]:
    """Run an exporter over a plain iterable (tests, scripts): yields the file's bytes."""
    writer = exporter.open(info)
    pending: list[Flow] = []
    count = 0
    for flow in flows:
        if count >= exporter.max_flows:
            break
        pending.append(flow)
        count += 1
        if len(pending) >= batch:
            yield from writer.write(pending)
            pending = []
    if pending:
        yield from writer.write(pending)
    yield from writer.close()


_UNSAFE = re.compile(r"[^\w.\-]+")


def safe_name(name: str) -> str:
    """A session name made safe for a filename: anything but letters, digits, '.', '-'
    and '_' becomes '_'; 'session' when nothing meaningful is left."""
    cleaned = _UNSAFE.sub("_", name.strip())
    if not cleaned.strip("_."):
        return "session"
    return cleaned


def export_filename(exporter: Exporter, info: ExportInfo) -> str:
    """``{sessionName}_{timestamp}{suffix}.{ext}``, e.g. API_Tests_2025-03-08-143022.har."""
    stamp = info.exported_at.astimezone(UTC).strftime("%Y-%m-%d-%H%M%S")
    return f"{safe_name(info.session_name)}_{stamp}{exporter.filename_suffix}.{exporter.extension}"


def human_size(size: int) -> str:
    """1234567 -> '1.2 MB' (powers of 1024, one decimal above bytes)."""
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{size} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GB"  # pragma: no cover - loop always returns


def ms(us: int) -> float:
    """Microseconds to milliseconds, -1 kept for 'not measured'."""
    return -1 if us < 0 else round(us / 1000, 3)
