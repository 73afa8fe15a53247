"""Settings: defaults, validation, masking, and the config file `HOME/config.yaml` (mode 0600).

The file holds the user's settings plus the API token and the setup-wizard state. The API
reads and writes settings through `Settings`; partial updates are validated against the
type of each default, so a wrong type or an unknown key is refused before anything changes.
"""

from __future__ import annotations

import copy
import os
import secrets
import tempfile
from pathlib import Path
from typing import Any

import yaml

DEFAULTS: dict[str, dict[str, Any]] = {
    "proxy": {
        "port": 4545,
        "cert_cache_size": 10000,
        "host_include": [],
        "host_exclude": [],
        "upstream_proxy": "",
        "ssl_bypass_hosts": [],
        "noise_enabled": True,
        "noise_threshold": 20,
        "noise_sample_rate": 10,
        "noise_window_secs": 30,
    },
    "api": {"port": 5565, "allowed_hosts": []},
    "store": {
        "max_flow_body_size": 0,
        "auto_purge_enabled": False,
        "auto_purge_max_age_hours": 0,
        "auto_purge_max_flows": 0,
    },
    "llm": {"provider": "anthropic", "api_key": "", "model": "claude-sonnet-4-20250514", "ollama_endpoint": ""},
    "logging": {"level": "info"},
    "security": {"target_hosts": []},
    "telemetry": {"sentry_dsn": "", "telemetry_enabled": False, "telemetry_endpoint": ""},
    "testrail": {"url": "", "email": "", "api_key": ""},
    "breakpoints": {"timeout_secs": 30},
    "addons": {"call_timeout_ms": 50},
    "replay": {"allow_hosts": []},
}

# (section, key) pairs shown masked in GET and cleared in exports.
MASKED = {("llm", "api_key"), ("testrail", "api_key")}
CLEARED_ON_EXPORT = MASKED | {("telemetry", "sentry_dsn")}
NEVER_IMPORTED = MASKED

# Extra per-key checks beyond the type of the default: (section, key) -> (predicate, rule).
_NON_NEGATIVE = (lambda v: v >= 0, "must be >= 0")
_POSITIVE = (lambda v: v > 0, "must be > 0")
_PORT = (lambda v: 0 < v < 65536, "must be a port number 1-65535")
CHECKS: dict[tuple[str, str], tuple[Any, str]] = {
    ("proxy", "port"): _PORT,
    ("api", "port"): _PORT,
    ("proxy", "noise_threshold"): _POSITIVE,
    ("proxy", "noise_sample_rate"): _POSITIVE,
    ("proxy", "noise_window_secs"): _POSITIVE,
    ("proxy", "cert_cache_size"): _POSITIVE,
    ("store", "max_flow_body_size"): _NON_NEGATIVE,
    ("store", "auto_purge_max_age_hours"): _NON_NEGATIVE,
    ("store", "auto_purge_max_flows"): _NON_NEGATIVE,
    ("breakpoints", "timeout_secs"): (lambda v: 0 < v <= 3600, "must be 1-3600 seconds"),
    ("addons", "call_timeout_ms"): (lambda v: 1 <= v <= 10000, "must be 1-10000 ms"),
    ("logging", "level"): (lambda v: v in ("debug", "info", "warn", "error"), "must be debug, info, warn or error"),
    ("proxy", "upstream_proxy"): (
        lambda v: v == "" or v.startswith(("http://", "https://")),
        "must be empty or an http:// or https:// URL",
    ),
}

TOKEN_BYTES = 32  # 64 hex characters
DEFAULT_HOME = "~/.ghost"  # the ghost_home option's default


class SettingsError(ValueError):
    """A settings update was refused; the message says which key and why."""


def mask(value: str) -> str:
    if not value:
        return ""
    if len(value) <= 4:
        return "****"
    return "****" + value[-4:]


def _check_value(section: str, key: str, value: Any) -> Any:
    default = DEFAULTS[section][key]
    name = f"{section}.{key}"
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise SettingsError(f"{name} must be true or false, got {value!r}")
    elif isinstance(default, int):
        if isinstance(value, bool) or not isinstance(value, int):
            raise SettingsError(f"{name} must be an integer, got {value!r}")
    elif isinstance(default, str):
        if not isinstance(value, str):
            raise SettingsError(f"{name} must be a string, got {value!r}")
    elif isinstance(default, list):
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise SettingsError(f"{name} must be a list of strings, got {value!r}")
    check = CHECKS.get((section, key))
    if check and not check[0](value):
        raise SettingsError(f"{name} {check[1]}, got {value!r}")
    return value


def validate_update(update: Any) -> dict[str, dict[str, Any]]:
    """Check a partial update; returns it cleaned or raises SettingsError."""
    if not isinstance(update, dict):
        raise SettingsError("settings must be a JSON object of sections")
    clean: dict[str, dict[str, Any]] = {}
    for section, values in update.items():
        if section not in DEFAULTS:
            raise SettingsError(f"unknown settings section {section!r}; known: {', '.join(DEFAULTS)}")
        if not isinstance(values, dict):
            raise SettingsError(f"settings section {section!r} must be an object")
        for key, value in values.items():
            if key not in DEFAULTS[section]:
                raise SettingsError(
                    f"unknown setting {section}.{key}; known: {', '.join(DEFAULTS[section])}"
                )
            clean.setdefault(section, {})[key] = _check_value(section, key, value)
    return clean


def merge(base: dict[str, dict[str, Any]], update: dict[str, dict[str, Any]]) -> set[str]:
    """Apply a validated update in place; returns the dotted names whose value changed."""
    changed = set()
    for section, values in update.items():
        for key, value in values.items():
            if base[section].get(key) != value:
                base[section][key] = copy.deepcopy(value)
                changed.add(f"{section}.{key}")
    return changed


def masked_view(data: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    view = copy.deepcopy(data)
    for section, key in MASKED:
        view[section][key] = mask(view[section][key])
    return view


def export_view(data: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    view = copy.deepcopy(data)
    for section, key in CLEARED_ON_EXPORT:
        view[section][key] = ""
    return view


def import_update(raw: Any) -> dict[str, dict[str, Any]]:
    """The part of an exported settings file that may be imported (never API keys)."""
    update = validate_update(raw)
    for section, key in NEVER_IMPORTED:
        update.get(section, {}).pop(key, None)
    if "llm" in update and not update["llm"].get("provider"):
        del update["llm"]
    testrail = update.get("testrail")
    if testrail is not None and not testrail.get("url") and not testrail.get("email"):
        del update["testrail"]
    return {s: v for s, v in update.items() if v}


def write_private(path: Path, text: str) -> None:
    """Write atomically with mode 0600 (no window where the file is world-readable)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".config-", suffix=".tmp")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class Settings:
    """The settings in memory and in `config.yaml`; the API token lives beside them."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.data: dict[str, dict[str, Any]] = copy.deepcopy(DEFAULTS)
        self.token = ""
        self.setup: dict[str, Any] = {"completed": False, "proxy_method": ""}

    @classmethod
    def read(cls, path: Path) -> Settings:
        """The settings stored in `path` (defaults where it is silent); writes nothing."""
        settings = cls(path)
        raw: dict[str, Any] = {}
        if path.exists():
            loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
            if loaded is not None and not isinstance(loaded, dict):
                raise SettingsError(f"{path} must hold a YAML mapping")
            raw = loaded or {}
        stored = {s: v for s, v in raw.items() if s in DEFAULTS and isinstance(v, dict)}
        update = {s: {k: v for k, v in vals.items() if k in DEFAULTS[s]} for s, vals in stored.items()}
        merge(settings.data, validate_update(update))
        settings.token = str((raw.get("api") or {}).get("token") or "")
        setup = raw.get("setup")
        if isinstance(setup, dict):
            settings.setup.update({k: setup[k] for k in ("completed", "proxy_method") if k in setup})
        return settings

    @classmethod
    def load(cls, path: Path, token_override: str = "") -> Settings:
        """The stored settings, with a token made and saved on first use (or the override)."""
        settings = cls.read(path)
        stored_token = settings.token
        settings.token = token_override or stored_token or secrets.token_hex(TOKEN_BYTES)
        if token_override or not path.exists() or not stored_token:
            settings.save()
        return settings

    def get(self, dotted: str) -> Any:
        section, key = dotted.split(".", 1)
        return self.data[section][key]

    def to_yaml(self) -> str:
        doc: dict[str, Any] = copy.deepcopy(self.data)
        doc["api"]["token"] = self.token
        doc["setup"] = dict(self.setup)
        return yaml.safe_dump(doc, sort_keys=False)

    def save(self) -> None:
        write_private(self.path, self.to_yaml())

    def update(self, raw: Any) -> set[str]:
        """Validate, apply and persist a partial update; rolls back if the write fails."""
        clean = validate_update(raw)
        return self._apply(clean)

    def import_(self, raw: Any) -> set[str]:
        return self._apply(import_update(raw))

    def _apply(self, clean: dict[str, dict[str, Any]]) -> set[str]:
        before = copy.deepcopy(self.data)
        changed = merge(self.data, clean)
        if changed:
            try:
                self.save()
            except OSError:
                self.data = before
                raise
        return changed

    def rotate_token(self) -> str:
        """New token in memory first (old one refused at once), then on disk; revert on failure."""
        old = self.token
        self.token = secrets.token_hex(TOKEN_BYTES)
        try:
            self.save()
        except OSError:
            self.token = old
            raise
        return self.token

    def complete_setup(self, proxy_method: str) -> None:
        before = dict(self.setup)
        self.setup = {"completed": True, "proxy_method": proxy_method}
        try:
            self.save()
        except OSError:
            self.setup = before
            raise
