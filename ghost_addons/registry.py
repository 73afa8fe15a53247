"""Registries: named things plugins contribute (exporters, importers, code generators ...).

A plugin adds to a registry through a registration hook (`ghost_exporters(register)` ...).
Ghost calls each plugin's implementation with a `register` bound to that plugin, so a
registry knows who registered what, and a name already taken is refused with an error that
names both plugins, instead of one silently replacing the other (the lesson of
`register=dict.__setitem__`, where a second `har` exporter replaced the built-in one).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any


class DuplicateRegistration(ValueError):
    """A name was registered twice in one registry."""


class Registry[T](Mapping[str, T]):
    """A read-only mapping of name -> entry that plugins fill through `add`.

    `check(name, entry)` may raise ValueError (or TypeError) to refuse an entry that does
    not fit the registry's contract (e.g. an exporter without a content type).
    """

    def __init__(self, kind: str, check: Callable[[str, Any], None] | None = None) -> None:
        self.kind = kind
        self._check = check
        self._entries: dict[str, T] = {}
        self._owners: dict[str, str] = {}

    def add(self, owner: str, name: str, entry: T) -> None:
        if not isinstance(name, str) or not name or len(name) > 64 or any(c.isspace() for c in name):
            raise ValueError(f"plugin {owner!r} registered a {self.kind} with a bad name {name!r}: "
                             "use a short name without spaces")
        taken = self._owners.get(name)
        if taken is not None:
            raise DuplicateRegistration(
                f"{self.kind} {name!r} is registered by both {taken!r} and {owner!r}; "
                f"disable one of them with --set ghost_disable_plugins=NAME"
            )
        if self._check is not None:
            try:
                self._check(name, entry)
            except (TypeError, ValueError) as e:
                raise ValueError(f"plugin {owner!r} registered {self.kind} {name!r}: {e}") from None
        self._entries[name] = entry
        self._owners[name] = owner

    def registrar(self, owner: str) -> Callable[[str, T], None]:
        """The `register(name, entry)` callable handed to `owner`'s registration hook."""

        def register(name: str, entry: T) -> None:
            self.add(owner, name, entry)

        return register

    def owner_of(self, name: str) -> str:
        return self._owners[name]

    def by_owner(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for name, owner in self._owners.items():
            out.setdefault(owner, []).append(name)
        return out

    def __contains__(self, name: object) -> bool:  # on the per-event path: one dict lookup
        return name in self._entries

    def __getitem__(self, name: str) -> T:
        return self._entries[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)
