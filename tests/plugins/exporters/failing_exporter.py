"""A test plugin: an exporter that fails part-way, after the download has started."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from ghost_addons.hookspecs import Register, hookimpl
from ghost_addons.model import Flow
from plugins.exporters.contract import Exporter, ExportInfo

FIRST_CHUNK = b"x" * (1 << 20)   # more than the stream's write chunk: the client gets it


class FailingWriter:
    def __init__(self, info: ExportInfo) -> None:
        self.batches = 0

    def write(self, flows: Sequence[Flow]) -> Iterator[bytes]:
        self.batches += 1
        if self.batches == 1:
            yield FIRST_CHUNK
            return
        raise MemoryError("the exporter ran out of memory")

    def close(self) -> Iterator[bytes]:
        yield b"END"


@hookimpl
def ghost_exporters(register: Register) -> None:
    register("failing", Exporter(name="failing", title="Failing", extension="txt",
                                 content_type="text/plain", artifact_format="markdown", open=FailingWriter))
