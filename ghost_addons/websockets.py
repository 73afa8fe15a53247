"""Recording a captured WebSocket flow's messages: bounded per flow, written in batches.

mitmproxy stores the upgrade (the 101) as a flow at its `response` hook, then calls
`websocket_message` for each message and `websocket_end` once. Ghost's flow for the
upgrade is stored as any other; its messages follow it:

- Each message is counted against the flow's caps (`store.websocket_max_messages`,
  `store.websocket_max_bytes`): within them it is kept for the next batch, beyond them it
  is counted as dropped and not kept. The hook only appends to a list (the proxy's path).
- A task sends the messages waiting, of every socket whose flow is committed, to the flow
  writer process in one batch: `FLUSH_SECONDS` after the first waits, or at once when
  `FLUSH_MESSAGES` wait, so a long-lived socket is stored as it talks and a busy one costs
  a few commits a second. Each batch is announced per flow (`flow.websocket_messages`).
- A flow is committed by the flow writer a moment after its 101; its messages wait for
  that (`committed`), so a message row never precedes its flow. A socket whose flow is not
  committed `COMMIT_GRACE_SECONDS` after the upgrade (the database was full) is forgotten,
  so its messages do not pile up in memory.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ghost_addons.store.flow_process import FlowStoreError
from ghost_addons.store.websockets import MessageRow, TotalsRow

if TYPE_CHECKING:
    from ghost_addons.core import Ghost

log = logging.getLogger("ghost.websockets")

FLUSH_MESSAGES = 500
FLUSH_SECONDS = 0.5
COMMIT_GRACE_SECONDS = 30.0


@dataclass(slots=True)
class Socket:
    """One open (or just ended) WebSocket flow: its caps, counts, and messages not yet sent."""

    flow_id: str
    max_messages: int
    max_bytes: int
    seen: int = 0
    stored: int = 0
    stored_bytes: int = 0
    dropped: int = 0
    pending: list[MessageRow] = field(default_factory=list)
    changed: bool = False  # counts changed since the last batch
    committed: bool = False  # its flow is in the database
    opened_at: float = field(default_factory=time.monotonic)
    ended_at: float = 0.0  # time.monotonic() when it ended (0: open)

    def admits(self, size: int) -> bool:
        """Whether a message of `size` bytes fits within the caps."""
        return self.stored < self.max_messages and self.stored_bytes + size <= self.max_bytes

    def add(self, from_client: bool, opcode: int, timestamp: float, content: bytes) -> bool:
        """Count a message; keep it when it fits. Returns whether it was kept."""
        seq = self.seen
        self.seen += 1
        self.changed = True
        if not self.admits(len(content)):
            self.dropped += 1
            return False
        self.stored += 1
        self.stored_bytes += len(content)
        # the row `store.websockets.message_row` makes, built straight (this is the proxy's path)
        self.pending.append((self.flow_id, seq, int(from_client), opcode, timestamp, content))
        return True

    def take(self) -> tuple[list[MessageRow], TotalsRow]:
        rows, self.pending, self.changed = self.pending, [], False
        return rows, (self.flow_id, self.stored, self.dropped)


def take_batch(sockets: dict[str, Socket], now: float) -> tuple[list[MessageRow], list[TotalsRow], list[tuple[Socket, int]]]:
    """Take what waits on the committed sockets; forget those ended (once taken) and those
    whose flow was not committed within the grace. Returns (messages, totals, [(socket,
    messages taken)])."""
    messages: list[MessageRow] = []
    totals: list[TotalsRow] = []
    taken: list[tuple[Socket, int]] = []
    for flow_id, socket in list(sockets.items()):
        if not socket.committed:
            if now - socket.opened_at > COMMIT_GRACE_SECONDS:
                log.warning("the WebSocket messages of flow %s are not recorded: the flow itself was not stored "
                            "within %.0f s (%d messages lost)", flow_id, COMMIT_GRACE_SECONDS, socket.stored)
                del sockets[flow_id]
            continue
        if socket.pending or socket.changed:
            rows, total = socket.take()
            messages.extend(rows)
            totals.append(total)
            taken.append((socket, len(rows)))
        if socket.ended_at:
            del sockets[flow_id]
    return messages, totals, taken


class WebSocketRecorder:
    def __init__(self, ghost: Ghost) -> None:
        self.ghost = ghost
        self.sockets: dict[str, Socket] = {}
        self.waiting = 0  # messages kept and not yet sent
        self._wake = asyncio.Event()
        self._full = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        # one batch at a time, so the last one at stop waits for one under way
        self._flushing = asyncio.Lock()
        self.closed = False  # Ghost stopped: sockets still open are no longer recorded

    def start(self) -> None:
        self._task = self.ghost.spawn(self._run(), name="ghost websocket recorder")

    # --- from the proxy's hooks (sync, cheap) ----------------------------------------------

    def open(self, flow_id: str) -> None:
        if self.closed:
            return
        settings = self.ghost.settings
        self.sockets[flow_id] = Socket(flow_id, settings.get("store.websocket_max_messages"),
                                       settings.get("store.websocket_max_bytes"))

    def message(self, flow_id: str, from_client: bool, opcode: int, timestamp: float, content: bytes) -> None:
        socket = self.sockets.get(flow_id)
        if socket is None or self.closed:
            return
        if socket.add(from_client, opcode, timestamp, content):
            self.waiting += 1
            if self.waiting >= FLUSH_MESSAGES:
                self._full.set()
        self._wake.set()

    def end(self, flow_id: str) -> None:
        socket = self.sockets.get(flow_id)
        if socket is not None:
            socket.ended_at = time.monotonic()
            socket.changed = True
            self._wake.set()

    def committed(self, flow_id: str) -> None:
        """The flow writer committed this flow (called for every flow: one dict lookup)."""
        socket = self.sockets.get(flow_id)
        if socket is not None:
            socket.committed = True
            self._wake.set()

    # --- the writing task ------------------------------------------------------------------

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            try:
                await asyncio.wait_for(self._full.wait(), FLUSH_SECONDS)
            except TimeoutError:
                pass
            self._wake.clear()
            self._full.clear()
            try:
                await self.flush()
            except Exception:  # a bug here must not end the recording of every socket
                log.exception("storing a batch of WebSocket messages failed")
            if any(not s.committed for s in self.sockets.values()):
                self._wake.set()  # look again for the commit, or for the grace to pass

    async def flush(self) -> int:
        """Send what waits in one batch; returns how many messages were sent."""
        async with self._flushing:
            return await self._flush()

    async def _flush(self) -> int:
        messages, totals, taken = take_batch(self.sockets, time.monotonic())
        self.waiting = sum(len(s.pending) for s in self.sockets.values())
        if not totals:
            return 0
        ghost = self.ghost
        try:
            await ghost.store.insert_websocket(messages, totals, ghost.settings.get("store.max_db_size"))
        except FlowStoreError as e:
            log.error("%s", e)
            for socket, count in taken:  # not stored after all: counted as dropped, said in the next totals
                socket.stored -= count
                socket.dropped += count
                socket.changed = True
            return 0
        for socket, count in taken:
            ghost.events.publish("flow.websocket_messages", event_payload(socket, count))
        return len(messages)

    async def close(self) -> None:
        """At stop, after the flow writer drained: store what waits of every socket."""
        self.closed = True
        now = time.monotonic()
        for socket in self.sockets.values():
            socket.ended_at = socket.ended_at or now
        await self.flush()


def event_payload(socket: Socket, new: int) -> dict[str, Any]:
    return {"id": socket.flow_id, "new": new, "stored": socket.stored, "dropped": socket.dropped,
            "open": not socket.ended_at}
