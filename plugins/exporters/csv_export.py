"""CSV: one row per flow, 12 columns, protected against formula injection."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Sequence

from ghost_addons.model import Flow
from plugins.exporters.contract import Exporter, ExportInfo

CSV_COLUMNS = ("id", "method", "url", "host", "path", "status", "duration_ms",
               "request_size", "response_size", "content_type", "tags", "error")

_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_quote(value: str) -> str:
    """Prefix a single quote when a spreadsheet would read the cell as a formula."""
    if value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


def response_type(flow: Flow) -> str:
    """The response's Content-Type; for an entry imported from a HAR file without that
    header, the ``content.mimeType`` the file gave (kept in ``metadata.har_entry``)."""
    if flow.response is None:
        return ""
    if flow.response.content_type:
        return flow.response.content_type
    kept = (flow.metadata or {}).get("har_entry")
    content = ((kept or {}).get("response") or {}).get("content") if isinstance(kept, dict) else None
    mime = content.get("mimeType") if isinstance(content, dict) else None
    return mime if isinstance(mime, str) else ""


def csv_row(flow: Flow) -> list[str]:
    req = flow.request
    resp = flow.response
    return [
        csv_quote(flow.id),
        csv_quote(req.method),
        csv_quote(req.url),
        csv_quote(req.host),
        csv_quote(req.path),
        str(resp.status_code if resp else 0),
        f"{flow.duration_us / 1000:.1f}",
        str(req.body_size),
        str(resp.body_size if resp else 0),
        csv_quote(response_type(flow)),
        csv_quote(";".join(flow.tags)),
        csv_quote(flow.error),
    ]


class CsvWriter:
    def __init__(self, info: ExportInfo) -> None:
        self.info = info
        self.header_written = False

    def _rows(self, rows: list[list[str]]) -> bytes:
        buf = io.StringIO()
        # csv quotes cells holding commas, quotes or newlines and doubles inner quotes.
        csv.writer(buf, lineterminator="\r\n").writerows(rows)
        return buf.getvalue().encode("utf-8", "replace")

    def write(self, flows: Sequence[Flow]) -> Iterator[bytes]:
        rows = [csv_row(f) for f in flows if f.request.method and f.request.url]
        if not self.header_written:
            rows.insert(0, list(CSV_COLUMNS))
            self.header_written = True
        if rows:
            yield self._rows(rows)

    def close(self) -> Iterator[bytes]:
        if not self.header_written:
            self.header_written = True
            yield self._rows([list(CSV_COLUMNS)])


CSV_EXPORTER = Exporter(
    name="csv",
    title="CSV",
    extension="csv",
    content_type="text/csv; charset=utf-8",
    artifact_format="csv",
    open=CsvWriter,
)
