"""Noise detection: an endpoint hit more than `noise_threshold` times within
`noise_window_secs` is sampled 1 in `noise_sample_rate` into the store; the rest are
counted, not stored. Settings `proxy.noise_*`; counts in `GET /api/v1/monitor` under `noise`."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ghost_addons.hookspecs import RegisterSettings, hookimpl
from ghost_addons.settings_schema import Setting

if TYPE_CHECKING:
    from ghost_addons.core import Ghost
    from ghost_addons.model import Flow

MAX_TRACKED_ENDPOINTS = 10_000


@dataclass(slots=True)
class Window:
    started: float
    count: int = 0


@dataclass(slots=True)
class NoiseSettings:
    enabled: bool = True
    threshold: int = 20
    sample_rate: int = 10
    window_secs: float = 30.0


class NoiseSampler:
    """Decides, per endpoint, whether a flow is stored; pure apart from the clock it is given."""

    def __init__(self, settings: NoiseSettings, clock: Callable[[], float] = time.monotonic) -> None:
        self.settings = settings
        self.clock = clock
        self.windows: dict[tuple[str, str, str], Window] = {}
        self.dropped: dict[tuple[str, str, str], int] = {}

    def keep(self, method: str, host: str, path: str) -> bool:
        if not self.settings.enabled:
            return True
        key = (method, host, path)
        now = self.clock()
        window = self.windows.get(key)
        if window is None or now - window.started >= self.settings.window_secs:
            if window is None and len(self.windows) >= MAX_TRACKED_ENDPOINTS:
                self._forget_expired(now)
            window = self.windows[key] = Window(now)
        window.count += 1
        over = window.count - self.settings.threshold
        if over <= 0 or over % self.settings.sample_rate == 1 or self.settings.sample_rate == 1:
            return True
        self.dropped[key] = self.dropped.get(key, 0) + 1
        return False

    def _forget_expired(self, now: float) -> None:
        for key in [k for k, w in self.windows.items() if now - w.started >= self.settings.window_secs]:
            del self.windows[key]

    def report(self) -> dict[str, Any]:
        top = sorted(self.dropped.items(), key=lambda item: item[1], reverse=True)[:20]
        return {
            "enabled": self.settings.enabled,
            "dropped_flows": sum(self.dropped.values()),
            "endpoints": [
                {"method": m, "host": h, "path": p, "dropped": n} for (m, h, p), n in top
            ],
        }


def settings_of(ghost: Ghost) -> NoiseSettings:
    get = ghost.settings.get
    return NoiseSettings(
        enabled=get("proxy.noise_enabled"),
        threshold=get("proxy.noise_threshold"),
        sample_rate=get("proxy.noise_sample_rate"),
        window_secs=float(get("proxy.noise_window_secs")),
    )


SETTINGS = (
    Setting("noise_enabled", True, "Sample repetitive traffic (polling, heartbeats) instead of storing every flow."),
    Setting("noise_threshold", 20, "Requests to one endpoint within the window before sampling starts.", minimum=1),
    Setting("noise_sample_rate", 10, "Once sampling, store one flow in this many.", minimum=1),
    Setting("noise_window_secs", 30, "Length of the counting window in seconds.", minimum=1),
)


class NoisePlugin:
    def __init__(self) -> None:
        self.sampler: NoiseSampler | None = None

    @hookimpl
    def ghost_settings(self, register: RegisterSettings) -> None:
        register("proxy", *SETTINGS)

    @hookimpl
    def ghost_startup(self, ghost: Ghost) -> None:
        self.sampler = NoiseSampler(settings_of(ghost))

    @hookimpl
    def ghost_settings_changed(self, ghost: Ghost, changed: set[str]) -> None:
        if self.sampler is not None and any(n.startswith("proxy.noise_") for n in changed):
            self.sampler.settings = settings_of(ghost)

    @hookimpl
    def ghost_should_store(self, ghost: Ghost, record: Flow) -> bool | None:
        if self.sampler is None or record.source != "proxy":
            return None
        req = record.request
        return None if self.sampler.keep(req.method, req.host, req.path) else False

    @hookimpl
    def ghost_monitor(self, ghost: Ghost, report: dict[str, Any]) -> None:
        if self.sampler is not None:
            report["noise"] = self.sampler.report()


def make_plugin() -> NoisePlugin:
    return NoisePlugin()
