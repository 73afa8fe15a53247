"""Small pieces every API generator shares: the header comment, one-line text."""

from __future__ import annotations

from plugins.journeys.export.model import JourneyExport


def one_line(text: str) -> str:
    """Text safe inside a one-line comment."""
    return " ".join(text.split())


def banner(export: JourneyExport, count: int) -> str:
    journey = export.journey
    return f'Journey "{one_line(journey.name)}" ({journey.id}), exported by Ghost: {count} requests.'
