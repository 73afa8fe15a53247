"""The config file `HOME/config.yaml` (mode 0600) and the core's own settings.

The file holds the user's settings plus the API token and the setup-wizard state. Which
settings exist is declared: the core declares `proxy`, `api`, `store` and `replay` here,
each plugin its own through the `ghost_settings` hook (see `settings_schema`). The API
reads and writes settings through `Settings`; partial updates are validated against the
declarations, so a wrong type, a value out of range or an unknown key is refused before
anything changes.
"""

from __future__ import annotations

import copy
import logging
import os
import secrets
import tempfile
from pathlib import Path
from typing import Any

import yaml

from ghost_addons.settings_schema import Setting, SettingsError, SettingsSchema, check_value

TOKEN_BYTES = 32  # 64 hex characters
DEFAULT_HOME = "~/.ghost"  # the ghost_home option's default

log = logging.getLogger("ghost.settings")


def _upstream_problem(value: str) -> str | None:
    """mitmproxy must accept the upstream proxy, or Ghost would save it and then fail to start."""
    if not value:
        return None
    from mitmproxy.net import server_spec

    try:
        server_spec.parse(value, "http")
    except ValueError as e:
        return f"is not a proxy URL mitmproxy accepts ({e})"
    return None


def _allow_list_problem(value: list[str]) -> str | None:
    from ghost_addons.ssrf import AllowList

    try:
        AllowList.parse(value)
    except ValueError as e:
        return str(e)
    return None


def _listen_host_problem(value: str) -> str | None:
    import ipaddress

    if value == "localhost":
        return None
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return "must be an IP address such as 127.0.0.1 or 0.0.0.0 (or localhost)"
    return None


PORT: dict[str, Any] = {"minimum": 1, "maximum": 65535, "rule": "must be a port number 1-65535"}

CORE_SETTINGS: dict[str, tuple[Setting, ...]] = {
    "proxy": (
        Setting("port", 4545, "Port the proxy listens on (scripts/ghost passes it to mitmproxy).",
                **PORT, restart=True),
        Setting("listen_host", "127.0.0.1", "Address the proxy listens on; 0.0.0.0 lets phones and other "
                "devices use it, and anyone else who reaches it on the network (Ghost warns at start-up).",
                restart=True, check=_listen_host_problem),
        Setting("cert_cache_size", 10000, "How many generated certificates are kept.", minimum=1),
        Setting("host_include", [], "Capture only hosts matching these patterns (empty: all hosts)."),
        Setting("host_exclude", [], "Never capture hosts matching these patterns."),
        Setting("upstream_proxy", "", "Send traffic on through this http:// or https:// proxy (empty: direct).",
                url=True, check=_upstream_problem),
        Setting("ssl_bypass_hosts", [], "Hosts whose TLS passes through untouched (not decrypted)."),
    ),
    "api": (
        Setting("port", 5565, "Port of the REST API and WebSockets.", **PORT, restart=True),
        Setting("allowed_hosts", [], "Host names besides loopback that may address the API (DNS-rebinding guard)."),
    ),
    "store": (
        Setting("max_flow_body_size", 32 * 1024 * 1024,
                "Bodies larger than this many bytes are cut when stored, and compressed bodies are decoded "
                "no further (0: no limit, which lets a small compression bomb fill memory).",
                minimum=0),
        Setting("answer_after_commit", False,
                "Hold each captured response until its flow is committed to the database, so a crash of "
                "Ghost (kill -9, the OOM killer) cannot lose a flow the client was answered; costs "
                "throughput (see the README's Reliability section)."),
        Setting("max_db_size", 0,
                "Captured flows stop being stored once the database would grow past this many bytes "
                "(0: no limit but the disk's); the proxy keeps proxying and storing resumes when "
                "there is room again (flows deleted, or the limit raised).",
                minimum=0),
        Setting("websocket_max_messages", 10_000,
                "A WebSocket flow stores at most this many messages; later ones are counted as dropped, "
                "not stored (0: none stored).",
                minimum=0, maximum=10_000_000),
        Setting("websocket_max_bytes", 16 * 1024 * 1024,
                "A WebSocket flow stores at most this many bytes of messages; a message that would pass "
                "it is counted as dropped, not stored (0: none stored).",
                minimum=0),
    ),
    "replay": (
        Setting("allow_hosts", [], "Hosts (exact, or *.domain for it and its subdomains), IPs or CIDRs that "
                "requests Ghost sends itself (replay, compose, integrations) may reach although they are "
                "private or local.",
                check=_allow_list_problem),
    ),
}


def core_schema() -> SettingsSchema:
    """A schema holding only the core's own settings (what the launcher needs)."""
    schema = SettingsSchema()
    for section, settings in CORE_SETTINGS.items():
        schema.add("core", section, settings)
    return schema


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
    """The settings in memory and in `config.yaml`; the API token lives beside them.

    `data` holds the declared settings. What the file holds beyond them (the section of a
    plugin that is not loaded now, a key a newer Ghost wrote) is kept as it was and written
    back on save, so disabling a plugin never loses its settings.
    """

    def __init__(self, path: Path, schema: SettingsSchema) -> None:
        self.path = path
        self.schema = schema
        self.data: dict[str, dict[str, Any]] = schema.defaults()
        self.unclaimed: dict[str, Any] = {}
        self.problems: list[str] = []
        self.token = ""
        self.setup: dict[str, Any] = {"completed": False, "proxy_method": ""}

    @classmethod
    def read(cls, path: Path, schema: SettingsSchema | None = None) -> Settings:
        """The settings stored in `path` (defaults where it is silent); writes nothing.

        A stored value that breaks its declaration (a hand edit) is not used: the default
        is, and `problems` says why, so a bad value never stops Ghost from starting."""
        settings = cls(path, schema or core_schema())
        raw: dict[str, Any] = {}
        if path.exists():
            try:
                loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
            except yaml.YAMLError as e:
                raise SettingsError(f"{path} is not valid YAML: {e}") from None
            if loaded is not None and not isinstance(loaded, dict):
                raise SettingsError(f"{path} must hold a YAML mapping")
            raw = loaded or {}
        settings.token = str((raw.get("api") or {}).get("token") or "") if isinstance(raw.get("api"), dict) else ""
        setup = raw.get("setup")
        if isinstance(setup, dict):
            settings.setup.update({k: setup[k] for k in ("completed", "proxy_method") if k in setup})
        for section, values in raw.items():
            if section == "setup":
                continue
            settings._adopt(str(section), values)
        for problem in settings.problems:
            log.warning("config.yaml: %s; using the default", problem)
        return settings

    def _adopt(self, section: str, values: Any) -> None:
        declared = self.schema.sections.get(section)
        if not isinstance(values, dict):
            if declared:
                self.problems.append(f"section {section!r} is not a mapping")
            else:
                self.unclaimed[section] = values
            return
        for key, value in values.items():
            if section == "api" and key == "token":
                continue
            item = declared.get(key) if declared else None
            if item is None:
                self.unclaimed.setdefault(section, {})[key] = value
                continue
            try:
                self.data[section][key] = check_value(item, value)
            except SettingsError as e:
                self.problems.append(str(e))

    @classmethod
    def load(cls, path: Path, token_override: str = "", schema: SettingsSchema | None = None) -> Settings:
        """The stored settings, with a token made and saved on first use (or the override)."""
        settings = cls.read(path, schema)
        stored_token = settings.token
        settings.token = token_override or stored_token or secrets.token_hex(TOKEN_BYTES)
        if token_override or not path.exists() or not stored_token:
            settings.save()
        return settings

    def get(self, dotted: str) -> Any:
        section, key = dotted.split(".", 1)
        return self.data[section][key]

    def to_yaml(self) -> str:
        doc: dict[str, Any] = {}
        for section, values in self.data.items():
            kept = self.unclaimed.get(section)
            doc[section] = {**(kept if isinstance(kept, dict) else {}), **copy.deepcopy(values)}
        for section, values in self.unclaimed.items():
            doc.setdefault(section, copy.deepcopy(values))
        api = doc.get("api") if isinstance(doc.get("api"), dict) else {}
        doc["api"] = {**api, "token": self.token}
        doc["setup"] = dict(self.setup)
        return yaml.safe_dump(doc, sort_keys=False)

    def save(self) -> None:
        write_private(self.path, self.to_yaml())

    # --- the API's views and changes ------------------------------------------------------

    def masked(self) -> dict[str, dict[str, Any]]:
        return self.schema.masked_view(self.data)

    def exported(self) -> dict[str, dict[str, Any]]:
        return self.schema.export_view(self.data)

    def check_update(self, raw: Any) -> dict[str, dict[str, Any]]:
        """A partial update validated against the declarations (SettingsError if not)."""
        return self.schema.validate_update(raw, self.data)

    def check_import(self, raw: Any) -> dict[str, dict[str, Any]]:
        """The importable part of an exported settings file (never secrets)."""
        return self.schema.import_update(raw, self.data)

    def update(self, raw: Any) -> set[str]:
        """Validate, apply and persist a partial update; rolls back if the write fails."""
        return self.apply(self.check_update(raw))

    def import_(self, raw: Any) -> set[str]:
        return self.apply(self.check_import(raw))

    def apply(self, clean: dict[str, dict[str, Any]]) -> set[str]:
        """Apply an update already checked by `check_update`/`check_import`; returns the
        dotted names that changed."""
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


def merge(base: dict[str, dict[str, Any]], update: dict[str, dict[str, Any]]) -> set[str]:
    """Apply a validated update in place; returns the dotted names whose value changed."""
    changed = set()
    for section, values in update.items():
        for key, value in values.items():
            if base[section].get(key) != value:
                base[section][key] = copy.deepcopy(value)
                changed.add(f"{section}.{key}")
    return changed
