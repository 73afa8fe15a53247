"""Routes: interactions, journeys CRUD, recording control, replay (SSE)."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from ghost_addons.api.http import ApiError, field, json_response, query_int, read_json_object, token_still_valid
from ghost_addons.api.lookups import outbound_guard
from ghost_addons.errors import Conflict, NotFound
from ghost_addons.ids import new_id
from ghost_addons.model import Flow
from ghost_addons.registry import Registry
from ghost_addons.ssrf import OutboundGuard
from plugins.journeys import export, tables
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


def register(ghost: Ghost, routes: RouteTable, recorder: Recorder, exporters: Registry[Any]) -> None:
    store = ghost.store

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
            response = web.StreamResponse(headers={
                "Content-Type": "text/event-stream",
                "Cache-Control": "no-cache",
                "Connection": "keep-alive",
                "X-Accel-Buffering": "no",
            })
            await response.prepare(request)
            await stream_replay(request, response, flows, guard, delay_ms, lambda: ghost.token)
            return response
        finally:
            await asyncio.shield(store.write(tables.set_status, journey.id, previous, ("replaying",)))

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


async def stream_replay(
    request: web.Request,
    response: web.StreamResponse,
    flows: list[Flow],
    guard: OutboundGuard,
    delay_ms: int,
    current_token: Callable[[], str],
) -> None:
    """Run the replay and write its events; stops as soon as the client goes away, or
    the token that opened the stream is rotated out (then the connection is closed)."""

    async def run() -> None:
        async with replay_session(guard) as session:
            async for event, data in replay_events(flows, lambda f: send_flow(session, guard, f), guard, delay_ms):
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
