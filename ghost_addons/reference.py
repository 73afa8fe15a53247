"""The README's reference tables, made from the declarations (settings, event types).

The README holds each table between `<!-- NAME:begin -->` and `<!-- NAME:end -->`;
`scripts/readme-tables` rewrites them and a test fails when they differ from what the
loaded plugins declare, so the manual cannot drift from the code.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable

from ghost_addons.events import EventType
from ghost_addons.registry import Registry
from ghost_addons.settings_schema import SettingsSchema, range_text


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def settings_table(schema: SettingsSchema) -> str:
    lines = ["| setting | type | default | what it does | declared by |", "|---|---|---|---|---|"]
    for d in schema.declared():
        s = d.setting
        notes = []
        if s.minimum is not None or s.maximum is not None:
            notes.append(range_text(s).removeprefix("must be "))
        if s.choices:
            notes.append("one of " + ", ".join(f"`{c}`" if c else "empty" for c in s.choices))
        if s.secret:
            notes.append("secret: masked, never exported or imported")
        elif not s.exported:
            notes.append("not exported")
        if s.restart:
            notes.append("applies after a restart")
        extra = f" ({'; '.join(notes)})" if notes else ""
        lines.append(f"| `{d.name}` | {s.kind} | `{json.dumps(s.default)}` | {_cell(s.help)}{_cell(extra)} "
                     f"| {d.owner} |")
    return "\n".join(lines)


def events_table(types: Registry[EventType]) -> str:
    lines = ["| event | data | when | declared by |", "|---|---|---|---|"]
    for name, event in types.items():
        lines.append(f"| `{name}` | {_cell(event.payload)} | {_cell(event.summary)} | {types.owner_of(name)} |")
    return "\n".join(lines)


def replace_block(text: str, name: str, body: str) -> str:
    """`text` with the block between NAME's markers replaced by `body` (ValueError if absent)."""
    pattern = re.compile(rf"(<!-- {name}:begin -->\n)(?:.*?\n)?(<!-- {name}:end -->)", re.DOTALL)
    if not pattern.search(text):
        raise ValueError(f"the README has no <!-- {name}:begin --> ... <!-- {name}:end --> block")
    return pattern.sub(lambda m: m.group(1) + body + "\n" + m.group(2), text, count=1)


def with_tables(text: str, tables: Iterable[tuple[str, str]]) -> str:
    for name, body in tables:
        text = replace_block(text, name, body)
    return text


def declared_tables(pm: object) -> list[tuple[str, str]]:
    """The README's tables for the plugins in `pm` (a Ghost plugin manager)."""
    from ghost_addons.config import core_schema
    from ghost_addons.events import core_event_types, event_registrar
    from ghost_addons.plugins import declare

    schema = declare(pm, "ghost_settings", SettingsSchema.registrar, core_schema())  # type: ignore[arg-type]
    types = declare(pm, "ghost_event_types", event_registrar, core_event_types())  # type: ignore[arg-type]
    return [("settings", settings_table(schema)), ("events", events_table(types))]
