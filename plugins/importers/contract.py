"""What an importer is.

An importer reads one uploaded file (already spooled to disk) in two passes, both plain
generators that Ghost advances a little at a time so the event loop keeps serving:

* ``scan(path)`` checks the whole file (format, complete JSON, limits) and yields a
  running count now and then; it raises ``ImportRejected`` when the file cannot be
  imported at all. Nothing is written until the scan has passed.
* ``entries(path)`` yields one ``Flow`` per good entry and one ``SkippedEntry`` per bad
  one. Ghost gives every flow a fresh ULID, the target session, ``source: import`` and
  ``metadata.import_source = <importer name>``, and stores them in batches. It may also
  yield ``None`` (give the loop a turn) and ``InThread(job)``: one long step Ghost runs in
  a worker thread, resuming the generator when it is done (see ``InThread``).

A third-party plugin adds a format with the ``ghost_importers`` hook::

    @hookimpl
    def ghost_importers(register):
        register("saz", Importer(name="saz", title="Fiddler SAZ", scan=scan_saz,
                                 entries=saz_entries))
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ghost_addons.model import Flow

MAX_IMPORT_BYTES = 256 * 1024 * 1024
MAX_IMPORT_ERRORS = 100


class ImportRejected(Exception):
    """The file as a whole cannot be imported; becomes a 4xx with this message."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True, slots=True)
class SkippedEntry:
    index: int  # 0-based position in the file
    reason: str

    def message(self, noun: str = "entry") -> str:
        return f"{noun} {self.index}: {self.reason}"


class InThread:
    """One long step of an importer, run off the event loop: ``entries`` yields it and
    reads the result of ``job`` (what it appended or set) when resumed. For C work that
    releases the GIL (``b"".join`` of a large body copies 64 MB without it), so the loop
    keeps serving meanwhile. A consumer that iterates ``entries`` without running it (a
    test, a script) gets it done anyway: the generator calls ``run_unless_done()`` next."""

    __slots__ = ("done", "job")

    def __init__(self, job: Callable[[], None]) -> None:
        self.job = job
        self.done = False

    def run(self) -> None:
        self.job()
        self.done = True

    def run_unless_done(self) -> None:
        if not self.done:
            self.run()


@dataclass(frozen=True, slots=True)
class Importer:
    name: str  # the {format} in /import/{format}; also metadata.import_source
    title: str
    scan: Callable[[Path], Iterator[int]]
    entries: Callable[[Path], Iterator[Flow | SkippedEntry | InThread | None]]
    noun: str = "entry"  # how an error names an item: "entry 17: invalid URL"
    max_flows: int | None = None


@dataclass(slots=True)
class ImportResult:
    imported: int = 0
    skipped: int = 0
    errors: list[str] = field(default_factory=list)

    def skip(self, message: str) -> None:
        self.skipped += 1
        if len(self.errors) < MAX_IMPORT_ERRORS:
            self.errors.append(message)

    def to_dict(self) -> dict[str, object]:
        return {"imported": self.imported, "skipped": self.skipped, "errors": self.errors}
