"""Settings declarations: each plugin declares the settings it uses; the core declares its own.

A `Setting` says everything Ghost needs to handle one key without knowing the feature
behind it: its type (that of its default), range or choices, an extra check, whether it is
a secret (masked in `GET /api/v1/settings`, cleared in exports, never imported, and a masked
value sent back never overwrites it), whether it is left out of exports, and whether it is a
URL Ghost connects to (checked by the SSRF guard on import). The `SettingsSchema` collects
the declarations, refuses a key declared twice (naming both plugins), and does validation,
masking and the export and import views from them, so the same rules hold for a built-in
feature and a third-party plugin.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

MASK_PREFIX = "****"
MAX_LIST_ITEMS = 10_000
MAX_STRING_LENGTH = 64 * 1024

Check = Callable[[Any], str | None]
"""An extra check of a value of the right type: the rule it breaks (e.g. "must be a URL"), or None."""


class SettingsError(ValueError):
    """A settings update was refused; the message says which key and why."""


class DuplicateSetting(ValueError):
    """Two plugins declared the same setting."""


@dataclass(frozen=True, slots=True)
class Setting:
    """One declared key. The type is that of `default`: bool, int, str or list of str."""

    key: str
    default: bool | int | str | list[str]
    help: str
    minimum: int | None = None
    maximum: int | None = None
    choices: tuple[str, ...] = ()
    check: Check | None = None
    secret: bool = False
    exported: bool = True
    url: bool = False
    outbound: bool = False
    restart: bool = False
    rule: str = ""  # the range said in words, when "must be 1-65535" says less than "a port number"

    @property
    def kind(self) -> str:
        if isinstance(self.default, bool):
            return "boolean"
        if isinstance(self.default, int):
            return "integer"
        if isinstance(self.default, str):
            return "string"
        return "list"


@dataclass(frozen=True, slots=True)
class Declared:
    """A setting with the section it lives in and the plugin that declared it."""

    section: str
    setting: Setting
    owner: str

    @property
    def name(self) -> str:
        return f"{self.section}.{self.setting.key}"


@dataclass(slots=True)
class SettingsSchema:
    """Every declared setting, by section, in declaration order."""

    sections: dict[str, dict[str, Declared]] = field(default_factory=dict)
    import_requires: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def add(self, owner: str, section: str, settings: Iterable[Setting],
            import_requires: tuple[str, ...] = ()) -> None:
        """Declare `settings` in `section` for plugin `owner`; a key already declared is refused."""
        if not section.isidentifier() or not section.islower():
            raise ValueError(f"settings section {section!r} must be a lower-case identifier")
        keys = self.sections.setdefault(section, {})
        for setting in settings:
            _check_declaration(section, setting)
            taken = keys.get(setting.key)
            if taken is not None:
                raise DuplicateSetting(
                    f"setting {section}.{setting.key} is declared by both {taken.owner!r} and {owner!r}"
                )
            keys[setting.key] = Declared(section, setting, owner)
        if import_requires:
            missing = [key for key in import_requires if key not in keys]
            if missing:
                raise ValueError(f"import_requires names undeclared settings {section}.{missing[0]}")
            self.import_requires[section] = import_requires

    def registrar(self, owner: str) -> Callable[..., None]:
        """The `register(section, *settings, import_requires=())` handed to `owner`'s
        `ghost_settings` implementation."""

        def register(section: str, *settings: Setting, import_requires: tuple[str, ...] = ()) -> None:
            if not all(isinstance(s, Setting) for s in settings):
                raise TypeError(f"plugin {owner!r}: register({section!r}, ...) takes Setting objects")
            self.add(owner, section, settings, import_requires)

        return register

    def declared(self) -> list[Declared]:
        return [d for keys in self.sections.values() for d in keys.values()]

    def lookup(self, dotted: str) -> Declared | None:
        section, _, key = dotted.partition(".")
        return self.sections.get(section, {}).get(key)

    def defaults(self) -> dict[str, dict[str, Any]]:
        return {section: {key: copy.deepcopy(d.setting.default) for key, d in keys.items()}
                for section, keys in self.sections.items() if keys}

    def owners(self) -> dict[str, list[str]]:
        """Plugin name -> the dotted names it declared."""
        out: dict[str, list[str]] = {}
        for d in self.declared():
            out.setdefault(d.owner, []).append(d.name)
        return out

    # --- validation ------------------------------------------------------------------------

    def validate_update(self, update: Any, current: dict[str, dict[str, Any]] | None = None
                        ) -> dict[str, dict[str, Any]]:
        """Check a partial update `{section: {key: value}}`; returns it cleaned or raises
        SettingsError. A secret sent back as its own mask (`****1234`, what GET shows) is
        left out: the real value stays."""
        if not isinstance(update, dict):
            raise SettingsError("settings must be a JSON object of sections")
        clean: dict[str, dict[str, Any]] = {}
        for section, values in update.items():
            keys = self.sections.get(section) if isinstance(section, str) else None
            if not keys:
                known = ", ".join(s for s, k in self.sections.items() if k)
                raise SettingsError(f"unknown settings section {section!r}; known: {known}")
            if not isinstance(values, dict):
                raise SettingsError(f"settings section {section!r} must be an object")
            for key, value in values.items():
                declared = keys.get(key) if isinstance(key, str) else None
                if declared is None:
                    raise SettingsError(f"unknown setting {section}.{key}; known: {', '.join(keys)}")
                now = (current or {}).get(section, {}).get(key)
                if declared.setting.secret and _is_own_mask(value, now):
                    continue
                clean.setdefault(section, {})[key] = check_value(declared, value)
        return clean

    # --- views -----------------------------------------------------------------------------

    def masked_view(self, data: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        """What `GET /api/v1/settings` shows: secrets as `****` + their last 4 characters."""
        view = self._view(data)
        for d in self.declared():
            if d.setting.secret and d.section in view:
                view[d.section][d.setting.key] = mask(view[d.section].get(d.setting.key, ""))
        return view

    def export_view(self, data: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        """What a settings export holds: secrets and unexported keys cleared to empty."""
        view = self._view(data)
        for d in self.declared():
            if (d.setting.secret or not d.setting.exported) and d.section in view:
                view[d.section][d.setting.key] = _empty_like(d.setting.default)
        return view

    def import_update(self, raw: Any, current: dict[str, dict[str, Any]] | None = None
                      ) -> dict[str, dict[str, Any]]:
        """The part of an exported settings file that may be imported: never a secret, and
        no section whose `import_requires` keys are all empty (e.g. an `llm` section without
        a provider)."""
        update = self.validate_update(raw, current)
        for d in self.declared():
            if d.setting.secret:
                update.get(d.section, {}).pop(d.setting.key, None)
        for section, required in self.import_requires.items():
            values = update.get(section)
            if values is not None and not any(values.get(key) for key in required):
                del update[section]
        return {s: v for s, v in update.items() if v}

    def outbound_urls(self, update: dict[str, dict[str, Any]]) -> list[tuple[str, str]]:
        """(dotted name, URL) of the non-empty URLs in `update` that Ghost will connect to."""
        found = []
        for section, values in update.items():
            for key, value in values.items():
                declared = self.sections[section][key]
                if declared.setting.outbound and value:
                    found.append((declared.name, value))
        return found

    def describe(self) -> list[dict[str, Any]]:
        """Every declared setting for documentation and `GET /api/v1/settings/schema`."""
        out = []
        for d in self.declared():
            s = d.setting
            item: dict[str, Any] = {"name": d.name, "type": s.kind, "default": s.default, "help": s.help,
                                    "owner": d.owner, **_limits(s)}
            if s.choices:
                item["choices"] = list(s.choices)
            for flag in ("secret", "url", "outbound", "restart"):
                if getattr(s, flag):
                    item[flag] = True
            if not s.exported:
                item["exported"] = False
            out.append(item)
        return out

    def json_schema(self) -> dict[str, Any]:
        """A JSON Schema of a partial update (what `PUT /api/v1/settings` takes), for OpenAPI."""
        sections: dict[str, Any] = {}
        for section, keys in self.sections.items():
            if keys:
                properties = {key: _json_type(d.setting) for key, d in keys.items()}
                sections[section] = {"type": "object", "properties": properties, "additionalProperties": False}
        return {"type": "object", "properties": sections, "additionalProperties": False}

    def _view(self, data: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        return {section: copy.deepcopy(data.get(section, {})) for section, keys in self.sections.items() if keys}


def _limits(s: Setting) -> dict[str, int]:
    limits = {"minimum": s.minimum, "maximum": s.maximum}
    return {name: value for name, value in limits.items() if value is not None}


def _json_type(s: Setting) -> dict[str, Any]:
    out: dict[str, Any] = {"description": s.help, "default": s.default}
    if s.kind == "list":
        out.update(type="array", items={"type": "string", "maxLength": MAX_STRING_LENGTH}, maxItems=MAX_LIST_ITEMS)
    else:
        out["type"] = s.kind
    if s.kind == "string":
        out["maxLength"] = MAX_STRING_LENGTH
    out.update(_limits(s))
    if s.choices:
        out["enum"] = list(s.choices)
    if s.secret:
        out["writeOnly"] = True
    return out


def mask(value: str) -> str:
    if not value:
        return ""
    if len(value) <= 4:
        return MASK_PREFIX
    return MASK_PREFIX + value[-4:]


def _is_own_mask(value: Any, current: Any) -> bool:
    return isinstance(value, str) and value != "" and value == mask(current or "")


def _empty_like(default: Any) -> Any:
    return [] if isinstance(default, list) else type(default)()


def check_value(declared: Declared, value: Any) -> Any:
    """`value` if it fits the declaration, else SettingsError naming the key and the rule."""
    s = declared.setting
    name = declared.name
    if isinstance(s.default, bool):
        if not isinstance(value, bool):
            raise SettingsError(f"{name} must be true or false, got {value!r}")
    elif isinstance(s.default, int):
        if isinstance(value, bool) or not isinstance(value, int):
            raise SettingsError(f"{name} must be an integer, got {_short(value)}")
    elif isinstance(s.default, str):
        if not isinstance(value, str):
            raise SettingsError(f"{name} must be a string, got {_short(value)}")
        if len(value) > MAX_STRING_LENGTH:
            raise SettingsError(f"{name} is {len(value)} characters long; the limit is {MAX_STRING_LENGTH}")
    elif not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise SettingsError(f"{name} must be a list of strings, got {_short(value)}")
    elif len(value) > MAX_LIST_ITEMS or any(len(v) > MAX_STRING_LENGTH for v in value):
        raise SettingsError(f"{name} may hold at most {MAX_LIST_ITEMS} strings of up to "
                            f"{MAX_STRING_LENGTH} characters")
    if s.secret and isinstance(value, str) and value.startswith(MASK_PREFIX):
        raise SettingsError(f"{name} looks like a masked value ({value[:8]}...); send the real "
                            "secret, or leave the key out to keep the stored one")
    if s.minimum is not None and value < s.minimum:
        raise SettingsError(f"{name} {range_text(s)}, got {value!r}")
    if s.maximum is not None and value > s.maximum:
        raise SettingsError(f"{name} {range_text(s)}, got {value!r}")
    if s.choices and value not in s.choices:
        raise SettingsError(f"{name} must be one of {', '.join(s.choices)}, got {_short(value)}")
    if s.url and value:
        problem = url_problem(value)
        if problem:
            raise SettingsError(f"{name} {problem}, got {_short(value)}")
    if s.check is not None:
        problem = s.check(value)
        if problem:
            raise SettingsError(f"{name} {problem}, got {_short(value)}")
    return value


def range_text(s: Setting) -> str:
    if s.rule:
        return s.rule
    if s.minimum is not None and s.maximum is not None:
        return f"must be {s.minimum}-{s.maximum}"
    if s.minimum is not None:
        return f"must be >= {s.minimum}"
    return f"must be <= {s.maximum}"


def url_problem(value: str) -> str | None:
    """Why `value` is not an absolute http(s) URL with a host and a valid port, or None."""
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError:
        return "must be an http:// or https:// URL with a valid host and port"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "must be empty or an http:// or https:// URL"
    if port == 0:
        return "must not use port 0"
    return None


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 200 else text[:200] + "..."


def _check_declaration(section: str, setting: Setting) -> None:
    if not setting.key.isidentifier() or not setting.key.islower():
        raise ValueError(f"setting key {section}.{setting.key!r} must be a lower-case identifier")
    if not setting.help.strip():
        raise ValueError(f"setting {section}.{setting.key} needs a help text")
    default = setting.default
    if isinstance(default, list):
        if not all(isinstance(v, str) for v in default):
            raise ValueError(f"setting {section}.{setting.key}: a list default must hold strings")
    elif not isinstance(default, bool | int | str):
        raise ValueError(f"setting {section}.{setting.key}: the default must be a bool, int, str or "
                         f"list of str, not {type(default).__name__}")
    if setting.secret and not isinstance(default, str):
        raise ValueError(f"setting {section}.{setting.key}: only string settings can be secret")
    probe = Declared(section, setting, "")
    try:
        check_value(probe, copy.deepcopy(default))
    except SettingsError as e:
        raise ValueError(f"the default of {section}.{setting.key} breaks its own rules: {e}") from None
