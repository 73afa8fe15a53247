"""Browser replay: a journey's interaction steps executed again in the browser.

Each recorded interaction (navigation, click, input, change, submit) becomes one
`replay_step` action of the extension (extension/background.js): go to the step's page when
the tab is elsewhere, find the element by the recorded selector chain, act, wait until the
page settles. The requests the page sends are the browser's own, through Ghost's proxy, as
when the journey was recorded; Ghost re-sends nothing. After each step the extension takes a
screenshot; with `compare`, the screenshot is compared with the step's baseline (the first
replay stores the baselines, `update_baselines` replaces them).

Pure parts: `selector_chain`, `browser_steps`, `png_size`, `screenshot_diff`; the engine
`browser_replay_events` takes the browser and the store as callables, so it runs in tests
without either.
"""

from __future__ import annotations

import asyncio
import io
import struct
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import asdict, dataclass
from typing import Any, Protocol

import orjson

from ghost_addons.errors import GhostError
from plugins.journeys.model import Step

# What the extension can replay; `keypress` is accepted for steps made by hand.
REPLAYABLE_TYPES = ("navigation", "click", "input", "change", "submit", "keypress")
# Per-channel difference (0-255) a pixel may have and still count as the same (anti-aliasing).
PIXEL_TOLERANCE = 24
# A step has changed when more than this share of its pixels differ.
DEFAULT_THRESHOLD_PERCENT = 0.5
MAX_THRESHOLD_PERCENT = 100.0
# Screenshots larger than this are not decoded (a 4K screen is 8.3 million pixels).
MAX_IMAGE_PIXELS = 16_000_000
MAX_PNG_BYTES = 32 * 1024 * 1024
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# The extension waits up to 5 s for the element, 30 s for a page load, 10 s to settle.
STEP_TIMEOUT_S = 60.0
SCREENSHOT_TIMEOUT_S = 15.0
MAX_DELAY_MS = 10_000


class ImageRefused(ValueError):
    """A screenshot that is not a PNG Ghost will decode (not a PNG, too large)."""


@dataclass(frozen=True, slots=True)
class BrowserStep:
    """One journey step as the extension replays it."""

    step_order: int
    action: str
    page_url: str
    selectors: tuple[str, ...]
    text: str = ""  # the element's visible text: the last way to find it
    tag: str = ""
    value: str = ""  # typed text (input), the chosen option or checked/unchecked (change)

    @property
    def selector(self) -> str:
        return self.selectors[0] if self.selectors else ""

    def message(self) -> dict[str, Any]:
        """The `step` of a `replay_step` action."""
        out = asdict(self)
        out["selectors"] = list(self.selectors)
        return out


def _css_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\a ") + '"'


def _css_ident(value: str) -> str:
    """`#id` form for ids that need no escaping, else an attribute selector."""
    if value and (value[0].isalpha() or value[0] == "_") and all(c.isalnum() or c in "-_" for c in value):
        return f"#{value}"
    return f"[id={_css_string(value)}]"


def selector_chain(data: dict[str, Any]) -> tuple[str, ...]:
    """The selectors to find a recorded element by, most faithful first: the selector the
    extension recorded, then selectors from its stable attributes (test id, id, name,
    aria-label, placeholder), each once."""
    attributes = data.get("attributes") if isinstance(data.get("attributes"), dict) else {}
    tag = str(attributes.get("tag") or data.get("element_type") or "").lower()
    if not tag.replace("-", "").isalnum():
        tag = ""
    chain: list[str] = []
    recorded = data.get("selector")
    if isinstance(recorded, str) and recorded.strip():
        chain.append(recorded.strip())
    test_id, test_id_attr = attributes.get("test_id"), attributes.get("test_id_attr")
    if test_id and test_id_attr:
        chain.append(f"{tag}[{test_id_attr}={_css_string(test_id)}]")
    if attributes.get("id"):
        chain.append(_css_ident(attributes["id"]))
    for key, attr in (("name", "name"), ("aria_label", "aria-label"), ("placeholder", "placeholder")):
        if attributes.get(key):
            chain.append(f"{tag}[{attr}={_css_string(attributes[key])}]")
    return tuple(dict.fromkeys(chain))


def browser_step(step: Step) -> BrowserStep | None:
    """The replayable interaction of a journey step; None for a flow-only step, a step
    whose interaction type cannot be replayed, or one whose data is not an object."""
    if step.type not in ("action", "interaction") or not step.data:
        return None
    try:
        data = orjson.loads(step.data)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(data, dict):
        return None
    action = data.get("interaction_type")
    if action not in REPLAYABLE_TYPES:
        return None
    attributes = data.get("attributes") if isinstance(data.get("attributes"), dict) else {}
    element_text = str(data.get("element_text") or "")
    is_field_value = action in ("input", "change", "keypress")
    return BrowserStep(
        step_order=step.step_order,
        action=action,
        page_url=str(data.get("page_url") or ""),
        selectors=() if action == "navigation" else selector_chain(data),
        text="" if is_field_value or action == "navigation" else str(attributes.get("visible_text") or element_text),
        tag=str(attributes.get("tag") or data.get("element_type") or ""),
        value=element_text if is_field_value else "",
    )


def browser_steps(steps: Iterable[Step]) -> list[BrowserStep]:
    return [b for b in (browser_step(s) for s in steps) if b is not None]


def clamp_delay(value: Any) -> int:
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"delay_ms must be an integer number of milliseconds, got {value!r}")
    return max(0, min(MAX_DELAY_MS, value))


# --- screenshots --------------------------------------------------------------------------------


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height from a PNG's header, before anything is decoded; ImageRefused
    when it is not a PNG or larger than Ghost decodes."""
    if len(data) > MAX_PNG_BYTES:
        raise ImageRefused(f"the screenshot is {len(data)} bytes; the limit is {MAX_PNG_BYTES}")
    if len(data) < 24 or not data.startswith(PNG_SIGNATURE) or data[12:16] != b"IHDR":
        raise ImageRefused("the screenshot is not a PNG")
    width, height = struct.unpack(">II", data[16:24])
    if width == 0 or height == 0 or width * height > MAX_IMAGE_PIXELS:
        raise ImageRefused(f"the screenshot is {width}x{height}; at most {MAX_IMAGE_PIXELS} pixels are compared")
    return width, height


def screenshot_diff(baseline: bytes, current: bytes, threshold_percent: float = DEFAULT_THRESHOLD_PERCENT,
                    tolerance: int = PIXEL_TOLERANCE) -> dict[str, Any]:
    """Compare two PNG screenshots: the share of pixels whose colour differs by more than
    `tolerance` in any channel, and whether that share is over `threshold_percent`.
    Screenshots of different sizes differ entirely. CPU-bound: run it in a thread."""
    from PIL import Image, ImageChops  # Pillow costs its import only when a replay compares

    size_before, size_now = png_size(baseline), png_size(current)
    if size_before != size_now:
        return {"changed": True, "diff_percent": 100.0, "size_changed": True,
                "baseline_size": list(size_before), "size": list(size_now)}
    with Image.open(io.BytesIO(baseline)) as a, Image.open(io.BytesIO(current)) as b:
        difference = ImageChops.difference(a.convert("RGB"), b.convert("RGB"))
    red, green, blue = difference.split()
    largest = ImageChops.lighter(ImageChops.lighter(red, green), blue)
    differing = sum(largest.histogram()[tolerance + 1:])
    percent = round(100.0 * differing / (size_now[0] * size_now[1]), 4)
    return {"changed": percent > threshold_percent, "diff_percent": percent, "size_changed": False}


# --- the engine -----------------------------------------------------------------------------------


class ScreenshotStore(Protocol):
    """Where a replay keeps its screenshots (the journeys tables, or a dict in a test)."""

    async def baseline(self, step_order: int) -> bytes | None: ...

    async def store_baseline(self, step_order: int, png: bytes, size: tuple[int, int]) -> None: ...

    async def keep(self, step_order: int, png: bytes, size: tuple[int, int]) -> None: ...


RunStep = Callable[[BrowserStep, "int | None", bool], Awaitable[dict[str, Any]]]
TakeScreenshot = Callable[[int], Awaitable[bytes]]
Diff = Callable[[bytes, bytes], Awaitable[dict[str, Any]]]


@dataclass(frozen=True, slots=True)
class ReplayOptions:
    compare: bool = False
    update_baselines: bool = False
    delay_ms: int = 0
    threshold_percent: float = DEFAULT_THRESHOLD_PERCENT


async def browser_replay_events(
    steps: list[BrowserStep],
    run_step: RunStep,
    screenshot: TakeScreenshot,
    screenshots: ScreenshotStore,
    diff: Diff,
    options: ReplayOptions,
) -> AsyncIterator[tuple[str, dict[str, Any]]]:
    """The SSE events of a browser replay: `step_start`, then `step_complete` or
    `step_error` per step, then `done` with the summary. `run_step(step, tab_id, reload)`
    asks the browser to do one step; until one has succeeded, steps load their page afresh
    (a replay starts from the recorded page, not from what the tab shows). A failed step
    is reported and the replay goes on with the next."""
    total = len(steps)
    tab_id: int | None = None
    failed = changed = stored = 0
    changed_steps: list[int] = []
    for number, step in enumerate(steps, start=1):
        if number > 1 and options.delay_ms:
            await asyncio.sleep(options.delay_ms / 1000)
        base = {"step": number, "total": total, "step_order": step.step_order, "action": step.action,
                "page_url": step.page_url}
        yield "step_start", {"type": "step_start", **base, "selector": step.selector}
        started = time.perf_counter()
        try:
            result = await run_step(step, tab_id, tab_id is None)
            tab_id = result.get("tab_id") if isinstance(result.get("tab_id"), int) else tab_id
            if tab_id is None:
                raise ImageRefused("the extension did not say which tab it used")
            png = await screenshot(tab_id)
            size = png_size(png)
        except (GhostError, ImageRefused) as e:
            failed += 1
            yield "step_error", {"type": "step_error", **base, "selector": step.selector, "ok": False,
                                 "error": str(e), "duration_ms": _ms(started)}
            continue
        await screenshots.keep(step.step_order, png, size)
        event: dict[str, Any] = {
            "type": "step_complete", **base, "selector": str(result.get("selector") or ""), "ok": True,
            "url": str(result.get("url") or ""), "settled": bool(result.get("settled", True)),
            "screenshot": {"width": size[0], "height": size[1]}, "duration_ms": _ms(started),
        }
        if options.compare:
            before = None if options.update_baselines else await screenshots.baseline(step.step_order)
            if before is None:
                await screenshots.store_baseline(step.step_order, png, size)
                stored += 1
                event["screenshot_diff"] = {"baseline": "stored", "changed": False}
            else:
                try:
                    outcome = await diff(before, png)
                except ImageRefused as e:
                    outcome = {"changed": True, "diff_percent": 100.0, "error": f"the baseline: {e}"}
                event["screenshot_diff"] = {"baseline": "compared", **outcome}
                if outcome["changed"]:
                    changed += 1
                    changed_steps.append(step.step_order)
        yield "step_complete", event
    summary = {"steps_run": total, "failed": failed, "changed": changed, "changed_steps": changed_steps,
               "baselines_stored": stored}
    yield "done", {"type": "done", "total": total, "summary": summary}


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)
