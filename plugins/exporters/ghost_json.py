"""Ghost JSON: the session's flows as a streamed, 2-space indented array of
``Flow.to_dict()``, the only format that keeps every Ghost field (tags, metadata, source,
annotations) and the one ``/import/json`` reads back."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import orjson

from ghost_addons.model import Flow
from plugins.exporters.contract import Exporter, ExportInfo


class GhostJsonWriter:
    def __init__(self, info: ExportInfo) -> None:
        self.info = info
        self.count = 0

    def write(self, flows: Sequence[Flow]) -> Iterator[bytes]:
        for flow in flows:
            # JSON strings never hold a raw newline, so indenting each line is safe.
            body = b"  " + orjson.dumps(flow.to_dict(), option=orjson.OPT_INDENT_2).replace(
                b"\n", b"\n  ")
            yield (b"[\n" if self.count == 0 else b",\n") + body
            self.count += 1

    def close(self) -> Iterator[bytes]:
        yield b"[]\n" if self.count == 0 else b"\n]\n"


GHOST_JSON_EXPORTER = Exporter(
    name="json",
    title="JSON",
    extension="json",
    content_type="application/json; charset=utf-8",
    artifact_format="json",
    open=GhostJsonWriter,
)
