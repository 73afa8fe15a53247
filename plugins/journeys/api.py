"""Routes: interactions, journeys CRUD, recording control, replay (SSE)."""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import dataclasses
import logging
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from ghost_addons.api.http import ApiError, field, json_response, query_int, read_json_object, token_still_valid
from ghost_addons.api.lookups import outbound_guard
from ghost_addons.errors import Conflict, NotFound, UpstreamFailed
from ghost_addons.extension import BrowserExtension, browser_extension
from ghost_addons.ids import new_id
from ghost_addons.model import Flow
from ghost_addons.registry import Registry
from ghost_addons.ssrf import OutboundGuard
from plugins.journeys import browser_replay, export, tables
from plugins.journeys.browser_replay import BrowserStep, ReplayOptions
from plugins.journeys.export.model import filename
from plugins.journeys.model import Journey, now_utc
from plugins.journeys.recorder import Recorder
from plugins.journeys.replay import (
    WRITE_DEADLINE_S,
    clamp_delay,
    replay_events,
    replay_session,
    replayable,
    send_flow,
    sse_message,
)

if TYPE_CHECKING:
    from ghost_addons.api.routes import RouteTable
    from ghost_addons.core import Ghost

log = logging.getLogger("ghost.journeys")

NAME_LIMIT = 200
DISCONNECT_POLL_S = 0.25


def _name(body: dict[str, Any]) -> str:
    name = field(body, "name", str, required=True).strip()
    if not name:
        raise ApiError(400, "field 'name' must not be empty")
    if len(name) > NAME_LIMIT:
        raise ApiError(400, f"field 'name' is {len(name)} characters; the limit is {NAME_LIMIT}")
    return name


def _session_id(body: dict[str, Any]) -> str:
    session_id = field(body, "session_id", str, required=True).strip()
    if not session_id:
        raise ApiError(400, "field 'session_id' must not be empty")
    return session_id


def _query_session(request: web.Request) -> str:
    session_id = request.query.get("session_id", "").strip()
    if not session_id:
        raise ApiError(400, "query parameter session_id is required")
    return session_id


def replay_options(body: dict[str, Any]) -> ReplayOptions:
    """The body of a browser replay: {"compare"?, "update_baselines"?, "delay_ms"?, "threshold_percent"?}."""
    try:
        delay_ms = browser_replay.clamp_delay(body.get("delay_ms"))
    except ValueError as e:
        raise ApiError(400, str(e)) from None
    threshold = field(body, "threshold_percent", (int, float), default=browser_replay.DEFAULT_THRESHOLD_PERCENT)
    if not 0 <= threshold <= browser_replay.MAX_THRESHOLD_PERCENT:
        raise ApiError(400, f"field 'threshold_percent' must be 0-100, got {threshold}")
    update = field(body, "update_baselines", bool, default=False)
    return ReplayOptions(compare=field(body, "compare", bool, default=False) or update, update_baselines=update,
                         delay_ms=delay_ms, threshold_percent=float(threshold))


class StoredScreenshots:
    """A browser replay's screenshots in the journeys tables (browser_replay.ScreenshotStore)."""

    def __init__(self, ghost: Ghost, journey_id: str) -> None:
        self.store = ghost.store
        self.journey_id = journey_id

    async def baseline(self, step_order: int) -> bytes | None:
        return await self.store.read(tables.get_baseline, self.journey_id, step_order)

    async def store_baseline(self, step_order: int, png: bytes, size: tuple[int, int]) -> None:
        await self.store.write(tables.put_baseline, self.journey_id, step_order, png, *size, now_utc())

    async def keep(self, step_order: int, png: bytes, size: tuple[int, int]) -> None:
        await self.store.write(tables.put_screenshot, self.journey_id, step_order, png, *size, now_utc())


def browser_of(ghost: Ghost) -> BrowserExtension:
    extension = browser_extension(ghost)
    if extension is None:
        raise UpstreamFailed("the browser extension disconnected")
    return extension


async def run_browser_step(ghost: Ghost, step: BrowserStep, tab_id: int | None, reload: bool) -> dict[str, Any]:
    data: dict[str, Any] = {"action": "replay_step", "step": step.message(), "reload": reload}
    if tab_id is not None:
        data["tab_id"] = tab_id
    return await browser_of(ghost).request("action", data, browser_replay.STEP_TIMEOUT_S)


async def take_screenshot(ghost: Ghost, tab_id: int) -> bytes:
    shot = await browser_of(ghost).request("action", {"action": "screenshot", "tab_id": tab_id, "format": "png"},
                                           browser_replay.SCREENSHOT_TIMEOUT_S)
    try:
        return base64.b64decode(str(shot.get("data", "")), validate=True)
    except binascii.Error as e:
        raise UpstreamFailed(f"the extension's screenshot is not base64: {e}") from None


def browser_replay_stream(ghost: Ghost, journey_id: str, steps: list[BrowserStep], options: ReplayOptions
                          ) -> AsyncIterator[tuple[str, dict[str, Any]]]:
    """The events of a browser replay, the extension doing the steps, the store keeping the screenshots."""

    async def diff(baseline: bytes, current: bytes) -> dict[str, Any]:
        return await asyncio.to_thread(browser_replay.screenshot_diff, baseline, current, options.threshold_percent)

    return browser_replay.browser_replay_events(
        steps, lambda step, tab, reload: run_browser_step(ghost, step, tab, reload),
        lambda tab: take_screenshot(ghost, tab), StoredScreenshots(ghost, journey_id), diff, options)


def register(ghost: Ghost, routes: RouteTable, recorder: Recorder, exporters: Registry[Any]) -> None:
    store = ghost.store
    # The journey replayed in the browser right now: one at a time, the browser is shared.
    browser_replays: set[str] = set()

    async def journey_or_404(journey_id: str) -> Journey:
        journey = await store.read(tables.get_journey, journey_id)
        if journey is None:
            raise NotFound(f"journey {journey_id} not found")
        return journey

    # --- interactions --------------------------------------------------------------------

    async def create_interaction(request: web.Request) -> web.Response:
        body = await read_json_object(request)
        interaction = await recorder.add_interaction(body, ghost.active_session_id)
        return json_response(interaction.to_dict(), status=201)

    async def list_interactions(request: web.Request) -> web.Response:
        session_id = _query_session(request)
        limit = query_int(request, "limit", 100, 1, 10_000)
        offset = query_int(request, "offset", 0, 0, 10_000_000)
        items = await store.read(
            tables.list_interactions, session_id, request.query.get("flow_id", ""), limit, offset
        )
        return json_response([i.to_dict() for i in items])

    # --- journeys ---------------------------------------------------------------------------

    async def list_journeys(request: web.Request) -> web.Response:
        journeys = await store.read(tables.list_journeys, _query_session(request))
        return json_response([j.to_dict() for j in journeys])

    async def create_journey(request: web.Request) -> web.Response:
        body = await read_json_object(request)
        session_id, name = _session_id(body), _name(body)
        if not await store.read(tables.session_exists, session_id):
            raise NotFound(f"session {session_id} not found")
        moment = now_utc()
        # Not recorded by anyone: an empty, finished journey (start one with /journeys/start).
        journey = Journey(new_id(), session_id, name, "completed", moment, moment, completed_at=moment)
        await store.write(tables.insert_journey, journey)
        return json_response(journey.to_dict(), status=201)

    async def get_journey(request: web.Request) -> web.Response:
        return json_response((await journey_or_404(request.match_info["id"])).to_dict())

    async def rename_journey(request: web.Request) -> web.Response:
        name = _name(await read_json_object(request))
        journey = await store.write(tables.rename_journey, request.match_info["id"], name)
        if journey is None:
            raise NotFound(f"journey {request.match_info['id']} not found")
        ghost.events.publish("journey:updated", {"journey_id": journey.id, "session_id": journey.session_id,
                                                 "name": journey.name})
        return json_response(journey.to_dict())

    async def delete_journey(request: web.Request) -> web.Response:
        journey_id = request.match_info["id"]
        await journey_or_404(journey_id)
        async with recorder.lock:
            was_recording = recorder.forget(journey_id)
            deleted = await store.write(tables.delete_journey, journey_id)
        if not deleted:
            raise NotFound(f"journey {journey_id} not found")
        if was_recording:
            await recorder.announce_stop(journey_id)
        ghost.events.publish("journey:deleted", {"journey_id": journey_id})
        return web.Response(status=204)

    async def list_steps(request: web.Request) -> web.Response:
        journey = await journey_or_404(request.match_info["id"])
        steps = await store.read(tables.list_steps, journey.id)
        return json_response([s.to_dict() for s in steps])

    # --- recording control ---------------------------------------------------------------------

    async def start(request: web.Request) -> web.Response:
        body = await read_json_object(request)
        journey = await recorder.start(_session_id(body), _name(body))
        return json_response(journey.to_dict())

    async def stop(request: web.Request) -> web.Response:
        body = await read_json_object(request)
        journey = await recorder.stop(_session_id(body))
        return json_response(journey.to_dict())

    async def active(request: web.Request) -> web.Response:
        session_id = _query_session(request)
        journey = recorder.recording_of(session_id)
        if journey is None:
            return json_response({"is_recording": False})
        return json_response({"is_recording": True, "journey_id": journey.id, "session_id": session_id})

    async def complete(request: web.Request) -> web.Response:
        journey = await journey_or_404(request.match_info["id"])
        if journey.status == "replaying":
            raise Conflict(f"journey {journey.id} is being replayed; complete it when the replay ends")
        stopped = await recorder.stop_journey(journey.id)
        if stopped is not None:
            return json_response(stopped.to_dict())
        completed = await store.write(tables.complete_journey, journey.id, now_utc())
        if completed is None:
            raise NotFound(f"journey {journey.id} not found")
        return json_response(completed.to_dict())

    # --- replay -----------------------------------------------------------------------------------

    async def replay(request: web.Request) -> web.StreamResponse:
        journey = await journey_or_404(request.match_info["id"])
        try:
            delay_ms = clamp_delay(request.query.get("delay_ms"))
        except ValueError as e:
            raise ApiError(400, str(e)) from None
        if journey.status in ("recording", "replaying"):
            raise Conflict(f"journey {journey.id} is {journey.status}; replay it when that ends")
        guard = outbound_guard(ghost)
        flows = await replay_flows(journey.id)
        previous = journey.status
        marked = await store.write(tables.set_status, journey.id, "replaying", (previous,))
        if marked is None or marked.status != "replaying":
            raise Conflict(f"journey {journey.id} changed while the replay was starting; try again")
        try:
            response = await open_sse(request)
            with ghost.streams.hold(request, response):  # rotating the token ends it, whatever opened it
                await stream_replay(request, response, flows, guard, delay_ms, lambda: ghost.token)
            return response
        finally:
            await asyncio.shield(store.write(tables.set_status, journey.id, previous, ("replaying",)))

    async def replay_in_browser(request: web.Request) -> web.StreamResponse:
        journey = await journey_or_404(request.match_info["id"])
        options = replay_options(await read_json_object(request) if request.can_read_body else {})
        if journey.status in ("recording", "replaying"):
            raise Conflict(f"journey {journey.id} is {journey.status}; replay it when that ends")
        if browser_extension(ghost) is None:
            raise Conflict("no browser extension is connected to Ghost; a browser replay needs one")
        if browser_replays:
            raise Conflict(f"the browser is replaying journey {next(iter(browser_replays))}; one replay at a time")
        steps = browser_replay.browser_steps(await store.read(tables.list_steps, journey.id))
        if not steps:
            raise ApiError(422, "the journey has no interaction steps to replay in the browser")
        if browser_replays:  # another request got here while the steps were read
            raise Conflict(f"the browser is replaying journey {next(iter(browser_replays))}; one replay at a time")
        browser_replays.add(journey.id)
        previous = journey.status
        try:
            marked = await store.write(tables.set_status, journey.id, "replaying", (previous,))
            if marked is None or marked.status != "replaying":
                raise Conflict(f"journey {journey.id} changed while the replay was starting; try again")
            try:
                response = await open_sse(request)
                with ghost.streams.hold(request, response):
                    await stream_events(request, response,
                                        lambda: browser_replay_stream(ghost, journey.id, steps, options),
                                        lambda: ghost.token)
                return response
            finally:
                await asyncio.shield(store.write(tables.set_status, journey.id, previous, ("replaying",)))
        finally:
            browser_replays.discard(journey.id)

    def step_order_of(request: web.Request) -> int:
        raw = request.match_info["step"]
        if not raw.isdigit() or len(raw) > 9:
            raise ApiError(400, f"step must be a step_order (a non-negative integer), got {raw!r}")
        return int(raw)

    def png_response(png: bytes | None, what: str) -> web.Response:
        if png is None:
            raise NotFound(what)
        return web.Response(body=png, content_type="image/png", headers={"Cache-Control": "no-store"})

    async def list_baselines(request: web.Request) -> web.Response:
        journey = await journey_or_404(request.match_info["id"])
        return json_response(await store.read(tables.list_baselines, journey.id))

    async def delete_baselines(request: web.Request) -> web.Response:
        journey = await journey_or_404(request.match_info["id"])
        deleted = await store.write(tables.delete_baselines, journey.id, None)
        return json_response({"deleted": deleted})

    async def get_baseline(request: web.Request) -> web.Response:
        journey = await journey_or_404(request.match_info["id"])
        step = step_order_of(request)
        return png_response(await store.read(tables.get_baseline, journey.id, step),
                            f"journey {journey.id} has no baseline for step {step}")

    async def delete_baseline(request: web.Request) -> web.Response:
        journey = await journey_or_404(request.match_info["id"])
        step = step_order_of(request)
        if not await store.write(tables.delete_baselines, journey.id, step):
            raise NotFound(f"journey {journey.id} has no baseline for step {step}")
        return web.Response(status=204)

    async def get_screenshot(request: web.Request) -> web.Response:
        journey = await journey_or_404(request.match_info["id"])
        step = step_order_of(request)
        return png_response(await store.read(tables.get_screenshot, journey.id, step),
                            f"no browser replay of journey {journey.id} took a screenshot of step {step}")

    async def replay_flows(journey_id: str) -> list[Flow]:
        steps = await store.read(tables.list_steps, journey_id)
        flows = []
        for step in steps:
            if step.flow_id:
                flow = await store.get_flow(step.flow_id)
                if flow is not None and replayable(flow):
                    flows.append(flow)
        return flows

    # --- export ------------------------------------------------------------------------------------

    async def export_journey(request: web.Request) -> web.Response:
        supported = ", ".join(sorted(exporters))
        name = request.query.get("format", "").strip()
        if not name:
            raise ApiError(400, f"query parameter format is required; use one of {supported}")
        exporter = exporters.get(name)
        if exporter is None:
            raise ApiError(400, f"unsupported format {name!r}; use one of {supported}")
        journey_export = await export.load(store, request.match_info["id"])
        if journey_export is None:
            raise NotFound(f"journey {request.match_info['id']} not found")
        if getattr(exporter, "needs", "flows") == "interactions":
            if not any(s.interaction is not None for s in journey_export.steps):
                raise ApiError(422, "journey has no interactions")
        elif not journey_export.flows():
            raise ApiError(422, "journey has no exportable flows")
        journey_export = dataclasses.replace(
            journey_export, test_id_attribute=str(ghost.settings.get("journeys.test_id_attribute")))
        text = await asyncio.to_thread(exporter.generate, journey_export)
        charset = "" if exporter.content_type.endswith("charset=utf-8") else "; charset=utf-8"
        return web.Response(body=text.encode(), headers={
            "Content-Type": exporter.content_type + charset,
            "Content-Disposition": f'attachment; filename="{filename(journey_export.journey.id, exporter.extension)}"',
        })

    # --- the table ---------------------------------------------------------------------------------

    routes.add("POST", "/api/v1/interactions", create_interaction, "Record a browser interaction",
               body='{"type", "page_url", "selector"?, "element_text"?, "element_type"?, "page_title"?, '
                    '"data"?, "attributes"?, "session_id"?, "journey_id"?, "timestamp"? (Unix ms)}',
               responses={201: "The stored interaction"}, tag="interactions")
    routes.add("GET", "/api/v1/interactions", list_interactions, "List a session's browser interactions",
               query={"session_id": "required", "flow_id": "only those that triggered this flow",
                      "limit": "1-10000, default 100", "offset": "default 0"}, tag="interactions")
    routes.add("GET", "/api/v1/journeys", list_journeys, "List a session's journeys, newest first",
               query={"session_id": "required"}, tag="journeys")
    routes.add("POST", "/api/v1/journeys", create_journey, "Create an (empty) journey",
               body='{"session_id", "name"}', responses={201: "The journey"}, tag="journeys")
    routes.add("GET", "/api/v1/journeys/active", active, "Whether a session is recording a journey",
               query={"session_id": "required"}, tag="journeys")
    routes.add("POST", "/api/v1/journeys/start", start, "Start recording a journey through the extension",
               body='{"session_id", "name"}',
               responses={200: "The journey (recording)", 400: "Bad input or no extension connected",
                          404: "No such session", 409: "The session is already recording"}, tag="journeys")
    routes.add("POST", "/api/v1/journeys/stop", stop, "Stop a session's recording",
               body='{"session_id"}', responses={200: "The completed journey", 404: "No active recording"},
               tag="journeys")
    routes.add("GET", "/api/v1/journeys/{id}", get_journey, "Get a journey",
               responses={200: "The journey", 404: "Not found"}, tag="journeys")
    routes.add("PUT", "/api/v1/journeys/{id}", rename_journey, "Rename a journey",
               body="{name}", responses={400: "Empty or longer than 200 characters", 404: "Not found"},
               tag="journeys")
    routes.add("DELETE", "/api/v1/journeys/{id}", delete_journey, "Delete a journey and its steps",
               responses={204: "Deleted", 404: "Not found"}, tag="journeys")
    routes.add("GET", "/api/v1/journeys/{id}/steps", list_steps, "A journey's steps in order", tag="journeys")
    routes.add("POST", "/api/v1/journeys/{id}/complete", complete,
               "Complete a journey (recover a failed recording); recounts flows and interactions",
               responses={200: "The completed journey", 404: "Not found", 409: "Being replayed"},
               tag="journeys")
    routes.add("GET", "/api/v1/journeys/{id}/export", export_journey,
               "Export a journey as a file another tool runs (cURL, HAR, Postman, k6 ...)",
               query={"format": "required: a registered journey export format"},
               responses={200: "The file, with Content-Disposition: attachment",
                          400: "Missing or unsupported format (the message names the supported ones)",
                          404: "Journey not found", 422: "Journey has no exportable flows"}, tag="journeys")
    routes.add("GET", "/api/v1/journeys/{id}/replay", replay,
               "Replay a journey's flows and compare them with the recording (SSE)",
               query={"delay_ms": "pause between steps, clamped to 0-10000, default 0",
                      "token": "the API token, for EventSource clients that cannot send a header"},
               responses={200: "text/event-stream of step_start, step_complete, step_error, done",
                          404: "Not found", 409: "Recording or already replaying"}, tag="journeys")
    routes.add("POST", "/api/v1/journeys/{id}/replay/browser", replay_in_browser,
               "Replay a journey in the browser, step by step through the extension, with a screenshot per "
               "step compared with the journey's baselines (SSE)",
               body='{"compare"?: bool, "update_baselines"?: bool, "delay_ms"?: 0-10000, '
                    '"threshold_percent"?: 0-100 (default 0.5)} (the body may be empty)',
               responses={200: "text/event-stream of step_start, step_complete, step_error, done {summary}",
                          400: "Bad input", 404: "Not found",
                          409: "No extension connected, the journey is recording or replaying, or another "
                               "browser replay runs",
                          422: "The journey has no interaction steps"}, tag="journeys")
    routes.add("GET", "/api/v1/journeys/{id}/baselines", list_baselines,
               "The journey's screenshot baselines (one per step_order; PNG bytes at .../baselines/{step})",
               responses={200: "[{step_order, width, height, size, created_at}]", 404: "Not found"},
               tag="journeys")
    routes.add("DELETE", "/api/v1/journeys/{id}/baselines", delete_baselines,
               "Delete all the journey's screenshot baselines (the next compared replay stores new ones)",
               responses={200: '{"deleted": N}', 404: "Not found"}, tag="journeys")
    routes.add("GET", "/api/v1/journeys/{id}/baselines/{step}", get_baseline, "A step's baseline screenshot (PNG)",
               responses={200: "image/png", 404: "No such journey or baseline"}, tag="journeys")
    routes.add("DELETE", "/api/v1/journeys/{id}/baselines/{step}", delete_baseline, "Delete a step's baseline",
               responses={204: "Deleted", 404: "No such journey or baseline"}, tag="journeys")
    routes.add("GET", "/api/v1/journeys/{id}/screenshots/{step}", get_screenshot,
               "The screenshot the latest browser replay took after a step (PNG)",
               responses={200: "image/png", 404: "No such journey or screenshot"}, tag="journeys")


async def open_sse(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(headers={
        "Content-Type": "text/event-stream",
        "Cache-Control": "no-cache",
        "Connection": "keep-alive",
        "X-Accel-Buffering": "no",
    })
    await response.prepare(request)
    return response


async def stream_replay(
    request: web.Request,
    response: web.StreamResponse,
    flows: list[Flow],
    guard: OutboundGuard,
    delay_ms: int,
    current_token: Callable[[], str],
) -> None:
    """Run the HTTP replay and write its events (see `stream_events`)."""

    async def events() -> AsyncIterator[tuple[str, dict[str, Any]]]:
        async with replay_session(guard) as session:
            async for item in replay_events(flows, lambda f: send_flow(session, guard, f), guard, delay_ms):
                yield item

    await stream_events(request, response, events, current_token)


async def stream_events(
    request: web.Request,
    response: web.StreamResponse,
    events: Callable[[], AsyncIterator[tuple[str, dict[str, Any]]]],
    current_token: Callable[[], str],
) -> None:
    """Write a replay's events as SSE; stops as soon as the client goes away, or the
    token that opened the stream is rotated out (then the connection is closed)."""

    async def run() -> None:
        # aclosing: a cancelled replay closes its generator (and what it holds open) at once
        async with contextlib.aclosing(events()) as stream:
            async for event, data in stream:
                await asyncio.wait_for(response.write(sse_message(event, data)), WRITE_DEADLINE_S)

    async def watch_disconnect() -> None:
        # aiohttp signals no disconnect while a handler waits on something else (handler
        # cancellation is off), so look at the transport a few times a second; the token
        # is looked at on the same beat.
        while request.transport is not None and not request.transport.is_closing():
            if not token_still_valid(request, current_token()):
                log.info("journey replay stopped: the API token it was opened with was rotated")
                response.force_close()
                return
            await asyncio.sleep(DISCONNECT_POLL_S)

    work = asyncio.ensure_future(run())
    watcher = asyncio.ensure_future(watch_disconnect())
    try:
        await asyncio.wait({work, watcher}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (work, watcher):
            task.cancel()
        results = await asyncio.gather(work, watcher, return_exceptions=True)
    error = results[0]
    if isinstance(error, (ConnectionResetError, TimeoutError)):
        log.info("journey replay stopped: the client went away (%s)", type(error).__name__)
    elif isinstance(error, BaseException) and not isinstance(error, asyncio.CancelledError):
        raise error
