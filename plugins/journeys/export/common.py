"""Small pieces every API generator shares: the header comment, one-line text."""

from __future__ import annotations

import orjson

from plugins.journeys.export.correlation import Part, render
from plugins.journeys.export.model import JourneyExport


def one_line(text: str) -> str:
    """Text safe inside a one-line comment."""
    return " ".join(text.split())


def banner(export: JourneyExport, count: int) -> str:
    journey = export.journey
    return f'Journey "{one_line(journey.name)}" ({journey.id}), exported by Ghost: {count} requests.'


def js_string(text: str) -> str:
    """A JavaScript (and TypeScript) string literal: JSON's, with the two line separators JSON
    allows in strings but older JavaScript does not escaped."""
    return orjson.dumps(text).decode().replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def js_expression(parts: list[Part]) -> str:
    """Literal text and correlated variables as one JavaScript string expression."""
    if not parts:
        return '""'
    return render(parts, js_string, lambda v: v.name, join=" + ")
