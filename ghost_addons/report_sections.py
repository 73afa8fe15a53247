"""A section a plugin adds to a session's HTML report (the `ghost_report_sections` hook).

Plain text only: the report's template autoescapes every field, so a plugin cannot inject
markup into a file users open in their browser.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

SECTION_MAX_ROWS = 1000


@dataclass(frozen=True, slots=True)
class ReportSection:
    title: str
    summary: str = ""
    columns: Sequence[str] = ()
    rows: Sequence[Sequence[str]] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        if not isinstance(self.title, str) or not self.title:
            raise ValueError("a report section needs a title")
        for row in self.rows:
            if len(row) != len(self.columns):
                raise ValueError(f"report section {self.title!r}: a row has {len(row)} cells for "
                                 f"{len(self.columns)} columns")

    @property
    def shown_rows(self) -> Sequence[Sequence[str]]:
        """At most SECTION_MAX_ROWS rows, so one plugin cannot make the report unbounded."""
        return self.rows[:SECTION_MAX_ROWS]
