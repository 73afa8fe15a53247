"""Browser replay: the selector chain, which steps are replayed, the screenshot diff, the
engine's events, and the route with a scripted extension answering `replay_step`."""

from __future__ import annotations

import asyncio
import base64
import io
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from PIL import Image, ImageDraw

from ghost_addons.errors import UpstreamFailed
from ghost_addons.ids import new_id
from plugins.journeys import tables
from plugins.journeys.browser_replay import (
    BrowserStep,
    ImageRefused,
    ReplayOptions,
    browser_replay_events,
    browser_step,
    browser_steps,
    png_size,
    screenshot_diff,
    selector_chain,
)
from plugins.journeys.correlation import StepDraft
from plugins.journeys.model import Journey, Step

from .conftest import Api, FakeExtension

MOMENT = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


def png(width: int = 200, height: int = 100, colour: str = "white", box: tuple[int, int, int, int] | None = None,
        box_colour: str = "red") -> bytes:
    image = Image.new("RGB", (width, height), colour)
    if box:
        ImageDraw.Draw(image).rectangle(box, fill=box_colour)
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def step(kind: str, data: dict[str, Any], order: int = 1) -> Step:
    return Step(new_id(), "J", order, kind, "I" if kind != "flow" else None, "F" if kind != "interaction" else None,
                orjson.dumps(data).decode(), MOMENT)


# --- the selector chain -------------------------------------------------------------------------


def test_the_recorded_selector_comes_first_then_the_stable_attributes() -> None:
    chain = selector_chain({
        "selector": 'button[data-testid="save"]', "element_type": "button",
        "attributes": {"tag": "button", "test_id": "save", "test_id_attr": "data-testid", "id": "save-1",
                       "name": "save", "aria_label": 'Save "all"', "placeholder": ""},
    })
    assert chain == ('button[data-testid="save"]', "#save-1", 'button[name="save"]', 'button[aria-label="Save \\"all\\""]')


def test_the_chain_without_a_recorded_selector_and_with_awkward_ids() -> None:
    chain = selector_chain({"selector": "", "attributes": {"tag": "input", "id": "1st field", "placeholder": "Name"}})
    assert chain == ('[id="1st field"]', 'input[placeholder="Name"]')
    # a tag that is no tag name is left out rather than trusted into a selector
    assert selector_chain({"attributes": {"tag": "a b{", "name": "q"}}) == ('[name="q"]',)
    assert selector_chain({}) == ()


def test_which_steps_replay_and_with_what() -> None:
    click = step("action", {"interaction_type": "click", "selector": "#go", "element_text": "Go",
                            "page_url": "http://app.test/", "attributes": {"tag": "button", "visible_text": "Go"},
                            "method": "POST", "url": "http://app.test/api"})
    typed = step("interaction", {"interaction_type": "input", "selector": "#name", "element_text": "ann",
                                 "page_url": "http://app.test/", "attributes": {"tag": "input", "name": "name"}}, 2)
    nav = step("interaction", {"interaction_type": "navigation", "selector": "", "page_url": "http://app.test/x"}, 3)
    flow = step("flow", {"method": "GET", "url": "http://app.test/poll"}, 4)
    hover = step("interaction", {"interaction_type": "hover", "selector": "#a", "page_url": "http://app.test/"}, 5)
    broken = Step(new_id(), "J", 6, "interaction", "I", None, "[1, 2]", MOMENT)
    assert browser_step(click) == BrowserStep(1, "click", "http://app.test/", ("#go",), text="Go", tag="button")
    assert browser_step(typed) == BrowserStep(2, "input", "http://app.test/", ("#name", 'input[name="name"]'),
                                              tag="input", value="ann")
    assert browser_step(nav) == BrowserStep(3, "navigation", "http://app.test/x", ())
    assert [s.step_order for s in browser_steps([click, typed, nav, flow, hover, broken])] == [1, 2, 3]
    assert browser_step(typed).message()["selectors"] == ["#name", 'input[name="name"]']  # type: ignore[union-attr]


# --- the screenshot diff ------------------------------------------------------------------------------


def test_identical_screenshots_do_not_differ() -> None:
    assert screenshot_diff(png(), png()) == {"changed": False, "diff_percent": 0.0, "size_changed": False}


def test_the_share_of_differing_pixels_against_the_threshold() -> None:
    # a 20x10 box in 200x100: 2 % of the pixels (the rectangle includes its far edges: 21x11)
    outcome = screenshot_diff(png(), png(box=(0, 0, 20, 10)))
    assert outcome["changed"] is True and outcome["diff_percent"] == pytest.approx(100 * 21 * 11 / 20000)
    assert screenshot_diff(png(), png(box=(0, 0, 20, 10)), threshold_percent=5)["changed"] is False
    # a near-identical colour (anti-aliasing noise) is within the per-pixel tolerance
    assert screenshot_diff(png(), png(box=(0, 0, 199, 99), box_colour="#f0f0f0"))["diff_percent"] == 0.0
    # a colour change of the same text counts
    assert screenshot_diff(png(box=(0, 0, 50, 50), box_colour="#00aa00"),
                           png(box=(0, 0, 50, 50), box_colour="#cc0000"))["changed"] is True


def test_a_resized_screenshot_differs_entirely_and_bad_images_are_refused() -> None:
    outcome = screenshot_diff(png(200, 100), png(100, 100))
    assert outcome == {"changed": True, "diff_percent": 100.0, "size_changed": True,
                       "baseline_size": [200, 100], "size": [100, 100]}
    with pytest.raises(ImageRefused, match="not a PNG"):
        png_size(b"GIF89a" + b"\0" * 30)
    huge = bytearray(png(1, 1))
    huge[16:24] = (100_000).to_bytes(4, "big") * 2  # the header claims 100000x100000
    with pytest.raises(ImageRefused, match="at most 16000000 pixels"):
        png_size(bytes(huge))
    assert png_size(png(3, 2)) == (3, 2)


# --- the engine -------------------------------------------------------------------------------------------


class MemoryScreenshots:
    def __init__(self) -> None:
        self.baselines: dict[int, bytes] = {}
        self.latest: dict[int, bytes] = {}

    async def baseline(self, step_order: int) -> bytes | None:
        return self.baselines.get(step_order)

    async def store_baseline(self, step_order: int, data: bytes, size: tuple[int, int]) -> None:
        self.baselines[step_order] = data

    async def keep(self, step_order: int, data: bytes, size: tuple[int, int]) -> None:
        self.latest[step_order] = data


async def run_engine(steps: list[BrowserStep], pages: dict[int, bytes], store: MemoryScreenshots,
                     options: ReplayOptions, missing: frozenset[int] = frozenset()) -> list[tuple[str, dict]]:
    calls: list[tuple[int, int | None, bool]] = []

    async def run_step(s: BrowserStep, tab: int | None, reload: bool) -> dict[str, Any]:
        calls.append((s.step_order, tab, reload))
        if s.step_order in missing:
            raise UpstreamFailed(f"the extension could not do it: element not found: {s.selector}")
        return {"tab_id": 7, "selector": s.selector, "url": s.page_url, "settled": True}

    current = {"step": 0}

    async def shot(tab: int) -> bytes:
        return pages[current["step"]]

    async def diff(a: bytes, b: bytes) -> dict[str, Any]:
        return await asyncio.to_thread(screenshot_diff, a, b, options.threshold_percent)

    events = []
    async for name, data in browser_replay_events(steps, run_step, shot, store, diff, options):
        if name == "step_start":
            current["step"] = data["step_order"]
        events.append((name, data))
    # until a step succeeded, each step loads its page afresh; then the replay stays in its tab
    first_ok = next(i for i, (order, _, _) in enumerate(calls) if order not in missing)
    assert all(tab is None and reload for _, tab, reload in calls[:first_ok + 1])
    assert all(tab == 7 and not reload for _, tab, reload in calls[first_ok + 1:])
    return events


async def test_the_first_compared_replay_stores_baselines_the_next_reports_changes() -> None:
    steps = [BrowserStep(1, "navigation", "http://app.test/", ()),
             BrowserStep(2, "click", "http://app.test/", ("#go",), text="Go")]
    store = MemoryScreenshots()
    pages = {1: png(), 2: png(box=(0, 0, 10, 10))}
    events = await run_engine(steps, pages, store, ReplayOptions(compare=True))
    assert [n for n, _ in events] == ["step_start", "step_complete"] * 2 + ["done"]
    assert [d["screenshot_diff"] for n, d in events if n == "step_complete"] == [
        {"baseline": "stored", "changed": False}] * 2
    assert events[-1][1]["summary"] == {"steps_run": 2, "failed": 0, "changed": 0, "changed_steps": [],
                                        "baselines_stored": 2}
    assert set(store.baselines) == set(store.latest) == {1, 2}

    events = await run_engine(steps, pages, store, ReplayOptions(compare=True))
    assert events[-1][1]["summary"]["changed"] == 0

    pages[2] = png(box=(0, 0, 10, 10), box_colour="blue", colour="black")
    events = await run_engine(steps, pages, store, ReplayOptions(compare=True))
    second = [d for n, d in events if n == "step_complete"][1]
    assert second["screenshot_diff"]["baseline"] == "compared" and second["screenshot_diff"]["changed"] is True
    assert events[-1][1]["summary"]["changed_steps"] == [2]

    events = await run_engine(steps, pages, store, ReplayOptions(compare=True, update_baselines=True))
    assert events[-1][1]["summary"]["baselines_stored"] == 2 and store.baselines[2] == pages[2]


async def test_a_failed_step_is_reported_and_the_replay_goes_on() -> None:
    steps = [BrowserStep(1, "click", "http://app.test/", ("#gone",)),
             BrowserStep(2, "click", "http://app.test/", ("#go",))]
    store = MemoryScreenshots()
    events = await run_engine(steps, {1: png(), 2: png()}, store, ReplayOptions(), missing=frozenset({1}))
    error = events[1][1]
    assert events[1][0] == "step_error" and error["ok"] is False and "element not found: #gone" in error["error"]
    assert events[3][0] == "step_complete" and "screenshot_diff" not in events[3][1]
    assert events[-1][1]["summary"] == {"steps_run": 2, "failed": 1, "changed": 0, "changed_steps": [],
                                        "baselines_stored": 0}


# --- the route, with a scripted extension -------------------------------------------------------------


async def recorded_journey(api: Api, kinds: list[tuple[str, dict[str, Any]]]) -> str:
    ghost = api.ghost
    journey = Journey(new_id(), ghost.active_session_id, "Greet", "completed", MOMENT, MOMENT, completed_at=MOMENT)
    await ghost.store.write(tables.insert_journey, journey)
    drafts = [StepDraft(i, kind, None, None, data, MOMENT) for i, (kind, data) in enumerate(kinds, start=1)]
    await ghost.store.write(tables.insert_steps, journey.id, drafts)
    return journey.id


GREET = [
    ("interaction", {"interaction_type": "navigation", "page_url": "http://app.test/greet"}),
    ("interaction", {"interaction_type": "input", "selector": "#name", "element_text": "ann",
                     "page_url": "http://app.test/greet", "attributes": {"tag": "input"}}),
    ("action", {"interaction_type": "click", "selector": "#greet", "element_text": "Greet",
                "page_url": "http://app.test/greet", "attributes": {"tag": "button", "visible_text": "Greet"},
                "method": "POST", "url": "http://app.test/api/greet"}),
]


async def answer_actions(extension: FakeExtension, pages: dict[str, bytes], seen: list[dict[str, Any]],
                         missing: str = "") -> None:
    """The extension's side: each replay_step and screenshot answered as background.js does."""
    while True:
        message = await extension.expect("action", timeout=30)
        data = message["data"]
        seen.append(data)
        if data["action"] == "replay_step":
            selectors = data["step"]["selectors"]
            if missing and missing in selectors:
                reply = {"ok": False, "error": f"element not found: {' | '.join(selectors)}"}
            else:
                reply = {"ok": True, "data": {"tab_id": 4, "url": data["step"]["page_url"], "title": "Greet",
                                              "selector": selectors[0] if selectors else "", "settled": True}}
        else:
            shot = pages.get(seen[-2]["step"]["action"], pages["default"])
            reply = {"ok": True, "data": {"tab_id": 4, "format": "png", "data": base64.b64encode(shot).decode()}}
        await extension.send({"type": "action.result", "id": message["id"], **reply})


async def read_events(api: Api, journey_id: str, body: dict[str, Any] | None = None) -> list[tuple[str, dict]]:
    events, name = [], ""
    async with api.session.post(f"{api.base}/api/v1/journeys/{journey_id}/replay/browser", json=body) as response:
        assert response.status == 200, await response.text()
        assert response.content_type == "text/event-stream"
        async for raw in response.content:
            line = raw.decode().rstrip("\n")
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: "):
                events.append((name, orjson.loads(line[6:])))
    return events


async def test_the_route_replays_step_by_step_and_keeps_screenshots_and_baselines(
        api: Api, extension: FakeExtension) -> None:
    journey_id = await recorded_journey(api, [*GREET, ("flow", {"method": "GET", "url": "http://app.test/poll"})])
    pages = {"default": png(), "click": png(box=(0, 0, 30, 30))}
    seen: list[dict[str, Any]] = []
    answering = asyncio.ensure_future(answer_actions(extension, pages, seen))
    try:
        events = await read_events(api, journey_id, {"compare": True})
        steps = [d for d in seen if d["action"] == "replay_step"]
        assert [(d["step"]["action"], d["reload"], d.get("tab_id")) for d in steps] == [
            ("navigation", True, None), ("input", False, 4), ("click", False, 4)]
        assert steps[1]["step"]["value"] == "ann" and steps[2]["step"]["text"] == "Greet"
        assert [d for d in seen if d["action"] == "screenshot"][0] == {"action": "screenshot", "tab_id": 4,
                                                                        "format": "png"}
        assert [n for n, _ in events] == ["step_start", "step_complete"] * 3 + ["done"]
        click = events[5][1]
        assert click["action"] == "click" and click["selector"] == "#greet" and click["ok"] is True
        assert click["screenshot_diff"] == {"baseline": "stored", "changed": False}
        assert events[-1][1]["summary"]["baselines_stored"] == 3

        listed = await api.ok("GET", f"/api/v1/journeys/{journey_id}/baselines")
        assert [b["step_order"] for b in listed] == [1, 2, 3] and listed[0]["width"] == 200
        async with api.session.get(f"{api.base}/api/v1/journeys/{journey_id}/screenshots/3") as response:
            assert response.status == 200 and response.content_type == "image/png"
            assert await response.read() == pages["click"]

        pages["click"] = png(box=(0, 0, 60, 60))
        events = await read_events(api, journey_id, {"compare": True})
        assert events[-1][1]["summary"] == {"steps_run": 3, "failed": 0, "changed": 1, "changed_steps": [3],
                                            "baselines_stored": 0}
        assert (await api.ok("GET", f"/api/v1/journeys/{journey_id}"))["status"] == "completed"

        events = await read_events(api, journey_id, {"update_baselines": True})
        assert events[-1][1]["summary"]["baselines_stored"] == 3
        async with api.session.get(f"{api.base}/api/v1/journeys/{journey_id}/baselines/3") as response:
            assert await response.read() == pages["click"]
        events = await read_events(api, journey_id)  # no body: replay without comparing
        assert "screenshot_diff" not in events[1][1] and events[-1][1]["summary"]["changed"] == 0

        status, _ = await api.call("DELETE", f"/api/v1/journeys/{journey_id}/baselines/3")
        assert status == 204
        status, body = await api.call("GET", f"/api/v1/journeys/{journey_id}/baselines/3")
        assert status == 404 and "no baseline for step 3" in body["error"]
        assert (await api.ok("DELETE", f"/api/v1/journeys/{journey_id}/baselines")) == {"deleted": 2}
    finally:
        answering.cancel()


async def test_a_missing_element_is_a_step_error(api: Api, extension: FakeExtension) -> None:
    journey_id = await recorded_journey(api, GREET)
    seen: list[dict[str, Any]] = []
    answering = asyncio.ensure_future(answer_actions(extension, {"default": png()}, seen, missing="#name"))
    try:
        events = await read_events(api, journey_id)
    finally:
        answering.cancel()
    errors = [d for n, d in events if n == "step_error"]
    assert len(errors) == 1 and errors[0]["step_order"] == 2 and errors[0]["ok"] is False
    assert "element not found: #name" in errors[0]["error"]
    assert events[-1][1]["summary"]["failed"] == 1


async def test_refusals(api: Api) -> None:
    journey_id = await recorded_journey(api, GREET)
    status, body = await api.call("POST", f"/api/v1/journeys/{journey_id}/replay/browser", json={})
    assert status == 409 and "no browser extension is connected" in body["error"]
    status, body = await api.call("POST", "/api/v1/journeys/nope/replay/browser", json={})
    assert status == 404
    extension = await FakeExtension(api).connect()
    try:
        for _ in range(100):
            if (await api.ok("GET", "/api/v1/extension/status"))["connected"]:
                break
            await asyncio.sleep(0.02)
        for bad, message in (({"compare": "yes"}, "compare"), ({"delay_ms": "5"}, "delay_ms"),
                             ({"threshold_percent": 101}, "threshold_percent")):
            status, body = await api.call("POST", f"/api/v1/journeys/{journey_id}/replay/browser", json=bad)
            assert status == 400 and message in body["error"], body
        empty = await recorded_journey(api, [("flow", {"method": "GET", "url": "http://app.test/"})])
        status, body = await api.call("POST", f"/api/v1/journeys/{empty}/replay/browser", json={})
        assert status == 422 and "no interaction steps" in body["error"]

        # one replay at a time: a second one while the first waits for the browser is refused
        first = asyncio.ensure_future(api.session.post(
            f"{api.base}/api/v1/journeys/{journey_id}/replay/browser", json={}))
        await extension.expect("action", timeout=10)
        other = await recorded_journey(api, GREET)
        status, body = await api.call("POST", f"/api/v1/journeys/{other}/replay/browser", json={})
        assert status == 409 and "one replay at a time" in body["error"]
        status, body = await api.call("POST", f"/api/v1/journeys/{journey_id}/replay/browser", json={})
        assert status == 409 and "replaying" in body["error"]
        response = await first
        response.close()  # the client goes away: the replay stops and the journey is completed again
        for _ in range(100):
            if (await api.ok("GET", f"/api/v1/journeys/{journey_id}"))["status"] == "completed":
                break
            await asyncio.sleep(0.05)
        assert (await api.ok("GET", f"/api/v1/journeys/{journey_id}"))["status"] == "completed"
        status, body = await api.call("GET", f"/api/v1/journeys/{journey_id}/screenshots/x")
        assert status == 400
    finally:
        await extension.close()
