"""The recorder: active recordings, their steps on disk, the extension told, events out.

One recording per session at a time. Flows (`ghost_flow_stored`) and interactions (the
extension's WebSocket or `POST /api/v1/interactions`) go into the recording's
`RecordingBuffer`; one background task releases settled events as steps, in one
transaction per batch, and announces each with `journey:step_added`. Start, stop and
every release hold one lock, so step orders stay monotonic and nothing is written twice.

The browser is whatever `ghost_addons.extension.browser_extension(ghost)` returns, and
failures are `ghost_addons.errors` kinds: the API turns them into statuses, the extension
bridge into refusals sent back to the browser.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ghost_addons.errors import Conflict, InvalidInput, NotFound
from ghost_addons.extension import BrowserExtension, browser_extension
from ghost_addons.ids import new_id
from plugins.journeys import tables
from plugins.journeys.correlation import RecordingBuffer, StepDraft
from plugins.journeys.model import Interaction, Journey, Step, now_utc
from plugins.journeys.noise import journey_noise_reason

if TYPE_CHECKING:
    from ghost_addons.core import Ghost
    from ghost_addons.model import Flow

log = logging.getLogger("ghost.journeys")

IDLE_WAIT_S = 3600.0


@dataclass(slots=True)
class ActiveRecording:
    journey: Journey
    buffer: RecordingBuffer


class Recorder:
    def __init__(self, ghost: Ghost) -> None:
        self.ghost = ghost
        self.active: dict[str, ActiveRecording] = {}  # session id -> recording
        self.lock = asyncio.Lock()
        self._wake = asyncio.Event()
        self.noise_dropped = 0

    # --- lifecycle ------------------------------------------------------------------------

    async def run(self) -> None:
        """Release settled steps as they come due (spawned at start-up)."""
        while True:
            self._wake.clear()
            due = [r.buffer.next_due_ms() for r in self.active.values()]
            soonest = min((d for d in due if d is not None), default=None)
            if soonest is None or soonest > time.time() * 1000:
                wait = IDLE_WAIT_S if soonest is None else soonest / 1000 - time.time()
                try:
                    await asyncio.wait_for(self._wake.wait(), max(0.0, wait))
                    continue  # something new arrived: recompute the deadline
                except TimeoutError:
                    pass
            async with self.lock:
                for recording in list(self.active.values()):
                    drafts = recording.buffer.release(time.time() * 1000)
                    try:
                        await self._persist(recording, drafts)
                    except Exception:  # keep recording: one failed write loses only these steps
                        log.exception("storing %d steps of journey %s failed", len(drafts), recording.journey.id)

    async def flush_all(self) -> None:
        """Write every pending step now (Ghost stops; the journeys stay `recording`)."""
        async with self.lock:
            for recording in list(self.active.values()):
                await self._persist(recording, recording.buffer.release(None))

    # --- start / stop ------------------------------------------------------------------------

    def _extension(self) -> BrowserExtension:
        extension = browser_extension(self.ghost)
        if extension is None or not extension.connected:
            raise InvalidInput("the browser extension is not connected; journeys are recorded through it")
        return extension

    async def _broadcast(self, message: dict[str, Any]) -> None:
        """Tell the browser, if one is connected (nobody to tell is not an error)."""
        extension = browser_extension(self.ghost)
        if extension is not None:
            await extension.broadcast(message)

    async def announce_stop(self, journey_id: str) -> None:
        """The browser stops marking requests for this journey."""
        await self._broadcast({"type": "journey.recording_stop", "data": {"journey_id": journey_id}})

    async def start(self, session_id: str, name: str) -> Journey:
        extension = self._extension()
        async with self.lock:
            if session_id in self.active:
                current = self.active[session_id].journey
                raise Conflict(f"session {session_id} is already recording journey {current.id} ({current.name!r})")
            if not await self.ghost.store.read(tables.session_exists, session_id):
                raise NotFound(f"session {session_id} not found")
            refusal = start_refusal(session_id, self.ghost.active_session_id, self.active)
            if refusal is not None:
                raise refusal
            moment = now_utc()
            journey = Journey(new_id(), session_id, name, "recording", moment, moment)
            await self.ghost.store.write(tables.insert_journey, journey)
            self.active[session_id] = ActiveRecording(journey, RecordingBuffer(journey.id))
        await extension.broadcast(start_message(journey))
        self.ghost.events.publish(
            "journey:started", {"journey_id": journey.id, "session_id": session_id, "name": name}
        )
        return journey

    async def stop(self, session_id: str) -> Journey:
        async with self.lock:
            recording = self.active.get(session_id)
            if recording is None:
                raise NotFound(f"session {session_id} has no active recording")
            return await self._finish(recording)

    async def stop_journey(self, journey_id: str) -> Journey | None:
        """Stop the recording of this journey if it is active; None if it is not."""
        async with self.lock:
            for recording in self.active.values():
                if recording.journey.id == journey_id:
                    return await self._finish(recording)
        return None

    async def _finish(self, recording: ActiveRecording) -> Journey:
        journey = recording.journey
        await self._persist(recording, recording.buffer.release(None))
        del self.active[journey.session_id]
        completed = await self.ghost.store.write(tables.complete_journey, journey.id, now_utc())
        await self.announce_stop(journey.id)
        if completed is None:  # deleted while recording
            raise NotFound(f"journey {journey.id} was deleted while recording")
        self.ghost.events.publish("journey:completed", completed_event(completed))
        return completed

    def recording_of(self, session_id: str) -> Journey | None:
        recording = self.active.get(session_id)
        return recording.journey if recording else None

    def forget(self, journey_id: str) -> bool:
        """Drop an active recording without completing it (its journey is being deleted)."""
        for session_id, recording in list(self.active.items()):
            if recording.journey.id == journey_id:
                del self.active[session_id]
                return True
        return False

    # --- what arrives ----------------------------------------------------------------------------

    def on_flow(self, flow: Flow) -> None:
        recording = self.active.get(flow.session_id)
        if recording is None or flow.source != "proxy":
            return
        if journey_noise_reason(flow):
            self.noise_dropped += 1
            return
        recording.buffer.add_flow(flow)
        self._wake.set()

    async def add_interaction(self, raw: Any, default_session: str) -> Interaction:
        """Store an interaction (API or extension); a recording of its journey or session
        gets it as a pending step. InvalidInput (a ValueError) on bad input."""
        try:
            interaction = Interaction.from_payload(raw, id=new_id(), session_id=default_session)
        except ValueError as e:
            raise InvalidInput(str(e)) from None
        recording = self._recording_for(interaction)
        if recording is not None:
            interaction.session_id = recording.journey.session_id
            interaction.journey_id = recording.journey.id
        if not await self.ghost.store.read(tables.session_exists, interaction.session_id):
            raise InvalidInput(f"session {interaction.session_id!r} does not exist")
        fresh = await self.ghost.store.write(tables.insert_interaction, interaction, now_utc())
        if fresh and recording is not None and self.active.get(interaction.session_id) is recording:
            recording.buffer.add_interaction(interaction)
            self._wake.set()
        return interaction

    def _recording_for(self, interaction: Interaction) -> ActiveRecording | None:
        if interaction.journey_id:
            for recording in self.active.values():
                if recording.journey.id == interaction.journey_id:
                    return recording
            return None  # a journey that is not recording (a late message after stop)
        return self.active.get(interaction.session_id)

    async def extension_connected(self) -> None:
        """A (re)connected extension resumes header injection for running recordings."""
        for recording in list(self.active.values()):
            await self._broadcast(start_message(recording.journey))

    # --- writing steps ---------------------------------------------------------------------------

    async def _persist(self, recording: ActiveRecording, drafts: list[StepDraft]) -> list[Step]:
        if not drafts:
            return []
        steps = await self.ghost.store.write(tables.insert_steps, recording.journey.id, drafts)
        for step in steps:
            event: dict[str, Any] = {"journey_id": step.journey_id, "step_order": step.step_order, "type": step.type}
            if step.flow_id:
                event["flow_id"] = step.flow_id
            if step.interaction_id:
                event["interaction_id"] = step.interaction_id
            self.ghost.events.publish("journey:step_added", event)
        return steps


def start_message(journey: Journey) -> dict[str, Any]:
    return {
        "type": "journey.recording_start",
        "data": {"journey_id": journey.id, "session_id": journey.session_id, "name": journey.name},
    }


def start_refusal(session_id: str, active_session_id: str,
                  recordings: dict[str, ActiveRecording]) -> InvalidInput | Conflict | None:
    """Why a recording cannot start in `session_id`, or None.

    New flows land in the active session only, so a recording elsewhere would hold no
    flows; and the extension marks the requests of one recording at a time (one header
    rule), so two recordings would steal each other's steps."""
    if session_id != active_session_id:
        return InvalidInput(
            f"session {session_id} is not the active session ({active_session_id}): new flows land in the "
            f"active session, so a recording in this one would hold none; activate it first with "
            f"POST /api/v1/sessions/{session_id}/activate"
        )
    for other_session, recording in recordings.items():
        if other_session != session_id:
            journey = recording.journey
            return Conflict(
                f"journey {journey.id} ({journey.name!r}) is recording in session {other_session}; the browser "
                "extension marks the requests of one recording at a time: stop it first"
            )
    return None


def completed_event(journey: Journey) -> dict[str, Any]:
    return {
        "journey_id": journey.id,
        "flow_count": journey.flow_count,
        "interaction_count": journey.interaction_count,
        "duration_ms": journey.duration_ms,
    }
