"""The store: SQLite with one writer thread and a small pool of reader threads.

Nothing here touches the database on the event loop. Writes are serialized on the writer
thread, each in a `BEGIN IMMEDIATE` transaction; captured flows are batched by the
`FlowWriter` so thousands of flows a second cost a few commits, not thousands.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import pluggy

from ghost_addons.errors import Unavailable
from ghost_addons.lanes import DRAIN_SECONDS as LANE_DRAIN_SECONDS
from ghost_addons.lanes import Lanes
from ghost_addons.model import Flow, flow_summary
from ghost_addons.plugins import settle
from ghost_addons.store import artifacts, db, flows, migrations, sessions
from ghost_addons.store.flow_process import BatchResult, FlowProcess, FlowStoreError, StoreFull

if TYPE_CHECKING:
    from ghost_addons.core import Ghost

log = logging.getLogger("ghost.store")

T = TypeVar("T")

FLOW_QUEUE_SIZE = 20_000
# Bodies held by queued flows, at most (one larger flow is always let in alone). The count
# alone did not bound memory: when the writer fell behind under load with 5 MB bodies, the
# queue held 3,600 flows and Ghost's RSS climbed past 2.7 GB (`scripts/soak load`).
FLOW_QUEUE_BYTES = 256 * 1024 * 1024
FLOW_BATCH_SIZE = 1_000
# A batch waits this long for company: a few commits a second instead of one per flow.
FLOW_BATCH_WINDOW = 0.05
EXPORT_BATCH_SIZE = 5_000
EXPORT_FLOW_CAP = 100_000
# A batch of full flows also ends at this many bytes of bodies: 5,000 flows of 32 MB each
# would not fit in memory.
EXPORT_BATCH_BYTES = 64 * 1024 * 1024


class Store:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ghost-db-writer")
        self._readers = ThreadPoolExecutor(max_workers=2, thread_name_prefix="ghost-db-reader")
        self._local = threading.local()
        self._write_conn: db.Connection | None = None
        self._connections: list[db.Connection] = []
        self._lock = threading.Lock()
        self._flow_process: FlowProcess | None = None
        self.ghost: Ghost | None = None  # set by Ghost: announces events for flows/artifacts

    # --- connections and threads -------------------------------------------------------

    def _reader_conn(self) -> db.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = db.connect(self.path, readonly=True)
            self._local.conn = conn
            with self._lock:
                self._connections.append(conn)
        return conn

    def _run_write(self, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
        if self._write_conn is None:
            self._write_conn = db.connect(self.path)
        conn = self._write_conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            result = fn(conn, *args)
            conn.execute("COMMIT")
            return result
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    def _run_read(self, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
        return fn(self._reader_conn(), *args)

    async def write(self, fn: Callable[..., T], *args: Any) -> T:
        """Run fn(conn, *args) on the writer thread in one transaction."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._writer, self._run_write, fn, args)

    async def read(self, fn: Callable[..., T], *args: Any) -> T:
        """Run fn(conn, *args) on a reader thread."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._readers, self._run_read, fn, args)

    async def open(self, plugin_migrations: list[tuple[str, list[str]]]) -> list[str]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        owners = [(migrations.CORE, migrations.CORE_MIGRATIONS), *plugin_migrations]

        def migrate() -> list[str]:
            if self._write_conn is None:
                self._write_conn = db.connect(self.path)
            return migrations.apply(self._write_conn, owners)

        loop = asyncio.get_running_loop()
        applied = await loop.run_in_executor(self._writer, migrate)
        self._flow_process = FlowProcess(self.path)
        await self._flow_process.start()
        return applied

    async def insert_flows(self, batch: list[Flow], max_db_size: int = 0) -> BatchResult:
        """Commit captured flows in one transaction, in the flow writer process; a flow that
        cannot be stored as captured is stored as an error record or skipped, never takes
        the batch with it (see `flow_process`). StoreFull: the database would grow past
        `max_db_size` bytes (0: no limit) or the disk is full; nothing was stored."""
        if self._flow_process is None:
            raise RuntimeError("the store is not open")
        return await self._flow_process.insert(batch, max_db_size)

    async def insert_websocket(self, messages: list[Any], totals: list[Any], max_db_size: int = 0) -> None:
        """Commit captured WebSocket messages (rows of `websockets`) in the flow writer process."""
        if self._flow_process is None:
            raise RuntimeError("the store is not open")
        await self._flow_process.insert_websocket(messages, totals, max_db_size)

    async def close(self) -> None:
        if self._flow_process is not None:
            await self._flow_process.close()
            self._flow_process = None
        self._writer.shutdown(wait=True)
        self._readers.shutdown(wait=True)
        with self._lock:
            conns, self._connections = self._connections, []
        if self._write_conn is not None:
            conns.append(self._write_conn)
            self._write_conn = None
        for conn in conns:
            try:
                conn.close()
            except db.OperationalError as e:  # closing twice or from a busy thread
                log.warning("closing a database connection failed: %s", e)

    # --- convenience for the API and plugins ------------------------------------------

    async def get_flow(self, flow_id: str) -> Flow | None:
        return await self.read(flows.get_flow, flow_id)

    async def get_session(self, session_id: str) -> dict[str, Any] | None:
        return await self.read(sessions.get_session, session_id)

    async def iter_session_flows(
        self, session_id: str, batch: int = EXPORT_BATCH_SIZE, limit: int = EXPORT_FLOW_CAP,
        max_bytes: int = EXPORT_BATCH_BYTES, where: str = "1", params: tuple[Any, ...] = (),
    ) -> AsyncIterator[list[Flow]]:
        """Full flows of a session, oldest first, `batch` at a time (fewer when their bodies
        pass `max_bytes`), at most `limit`; with `where` (a compiled GQL query), only the
        flows it finds."""
        after, sent = "", 0
        while sent < limit:
            chunk = await self.read(flows.session_flow_batch, session_id, after, min(batch, limit - sent),
                                    max_bytes, where, params)
            if not chunk:
                return
            sent += len(chunk)
            after = chunk[-1].id
            yield chunk

    async def save_artifact(self, **fields: Any) -> dict[str, Any]:
        """Store an artifact (see `artifacts.insert_artifact`) and announce `artifact.created`."""
        artifact = await self.write(partial(artifacts.insert_artifact, **fields))
        if self.ghost is not None:
            self.ghost.events.publish("artifact.created", artifact)
        return artifact

    async def add_flows(self, batch: list[Flow]) -> None:
        """Store flows made outside the proxy (import, replay) in one transaction, then
        announce each like a captured one."""
        if self.ghost is None:
            raise RuntimeError("store is not bound to a running Ghost")
        try:
            await self.ghost.flow_writer.commit(batch)
        except StoreFull as e:
            raise Unavailable(str(e)) from None


FlowStoredCall = Callable[["Ghost", Flow], Any]


def positional(function: Callable[..., Any], argnames: tuple[str, ...]) -> FlowStoredCall:
    """An implementation made callable as ``call(ghost, flow)``, whichever of the two
    arguments it declares (pluggy lets it take fewer)."""
    if argnames == ("ghost", "flow"):
        return function

    def call(ghost: Ghost, flow: Flow) -> Any:
        given = {"ghost": ghost, "flow": flow}
        return function(*[given[name] for name in argnames])

    return call


def flow_stored_calls(hook: pluggy.HookCaller) -> list[tuple[str, FlowStoredCall]]:
    """Each ``ghost_flow_stored`` implementation as (plugin name, call), in pluggy's order.

    The writer calls them one by one, not through the hook, so that it knows which plugin
    returned an awaitable and can hand it to that plugin's lane. Wrappers need pluggy's
    own machinery: then the whole hook is one call and its awaitables share one lane.
    """
    impls = hook.get_hookimpls()
    if any(impl.hookwrapper or impl.wrapper for impl in impls):

        def through_pluggy(ghost: Ghost, flow: Flow) -> Any:
            results = hook(ghost=ghost, flow=flow)
            return settle(results) if results else None

        return [("ghost_flow_stored", through_pluggy)]
    return [(impl.plugin_name, positional(impl.function, tuple(impl.argnames)))
            for impl in reversed(impls)]


def body_bytes(flow: Flow) -> int:
    """What a queued flow holds in memory, roughly: its bodies."""
    response = flow.response
    return len(flow.request.body or b"") + (len(response.body or b"") if response is not None else 0)


class FlowWriter:
    """Batches captured flows into transactions; publishes each flow once it is committed.

    The queue is bounded, in flows and in body bytes: when the disk cannot keep up,
    `put()` makes the proxy wait rather than dropping flows or holding their bodies
    without limit. Plugins' `ghost_flow_stored` work never holds the writer:
    awaitables they return run in their own lane (see `ghost_addons.lanes`).
    """

    def __init__(self, ghost: Ghost) -> None:
        self.ghost = ghost
        self.queue: asyncio.Queue[Flow] = asyncio.Queue(maxsize=FLOW_QUEUE_SIZE)
        self.written = 0
        self.error_records = 0  # flows stored as error records (see flow_process)
        self.skipped = 0  # flows not stored at all, each with a logged reason
        self.last_skip_reason = ""
        self.draining = False
        self.lanes = Lanes(ghost.spawn, "ghost_flow_stored")
        # The database is full (disk, or store.max_db_size) since this time ("" while it is not).
        self.full_since = ""
        self.full_reason = ""
        self._lost_while_full = 0
        self._committing = 0  # flows taken off the queue into the batch being committed
        self.queued_bytes = 0  # body bytes of the flows queued or being committed
        self._room = asyncio.Event()  # set whenever queued_bytes fell
        # store.answer_after_commit: the captured responses held until their flow is committed
        self._commit_waiters: dict[str, asyncio.Future[bool]] = {}
        self._task: asyncio.Task[None] | None = None
        self._stored_caller: object = None
        self._stored_calls: list[tuple[str, FlowStoredCall]] = []

    @property
    def depth(self) -> int:
        """Flows queued or in the batch being committed: what a kill -9 now could lose."""
        return self.queue.qsize() + self._committing

    @property
    def full(self) -> bool:
        return bool(self.full_since)

    def start(self) -> None:
        self._task = self.ghost.spawn(self._run(), name="ghost flow writer")

    def put(self, flow: Flow) -> Awaitable[None] | None:
        """Queue a flow; returns an awaitable only when the queue is full, in flows or in
        bytes (back-pressure)."""
        size = body_bytes(flow)
        if self.queued_bytes and self.queued_bytes + size > FLOW_QUEUE_BYTES:
            return self._put_when_room(flow, size)
        try:
            self.queue.put_nowait(flow)
        except asyncio.QueueFull:
            return self._put_when_room(flow, size)
        self.queued_bytes += size
        return None

    async def _put_when_room(self, flow: Flow, size: int) -> None:
        while self.queued_bytes and self.queued_bytes + size > FLOW_QUEUE_BYTES:
            self._room.clear()
            await self._room.wait()
        self.queued_bytes += size  # counted before the wait for a place: no one overtakes the bytes
        await self.queue.put(flow)

    async def committed(self, flow: Flow) -> bool:
        """Queue a flow and wait until its row is committed (`store.answer_after_commit`);
        False when it was not stored (the database is full, the batch failed, Ghost stopped)."""
        waiter: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._commit_waiters[flow.id] = waiter
        pending = self.put(flow)
        if pending is not None:
            await pending
        return await waiter

    def _release(self, batch: list[Flow], stored: bool, skipped: dict[str, str] | None = None) -> None:
        if not self._commit_waiters:
            return
        for flow in batch:
            waiter = self._commit_waiters.pop(flow.id, None)
            if waiter is not None and not waiter.done():
                waiter.set_result(stored and not (skipped and flow.id in skipped))

    async def _run(self) -> None:
        while True:
            batch = [await self.queue.get()]
            # Counted from the moment it leaves the queue: during the batch window the
            # first flow is in neither the queue nor a commit, and `depth` must still
            # bound what a kill -9 would lose.
            self._committing = 1
            if not self.draining and not self._commit_waiters:
                # Sleep through the window rather than await each flow: flows arriving now
                # only queue up, instead of waking this task once per flow. (Not while
                # responses wait for their commit: they gather during the commit itself.)
                await asyncio.sleep(FLOW_BATCH_WINDOW)
            while len(batch) < FLOW_BATCH_SIZE and not self.queue.empty():
                batch.append(self.queue.get_nowait())
            self._committing = len(batch)
            try:
                await self.commit(batch, wait_for_lanes=False)
            except StoreFull as e:
                self._became_full(e, len(batch))
            except FlowStoreError as e:
                log.error("%s", e)
            except Exception:
                log.exception("storing %d flows failed; they are lost", len(batch))
            finally:
                self._committing = 0
                self._release(batch, stored=False)  # those commit() did not release: not stored
                self.queued_bytes -= sum(body_bytes(flow) for flow in batch)
                self._room.set()
                for _ in batch:
                    self.queue.task_done()

    def _became_full(self, e: StoreFull, lost: int) -> None:
        """Count the batch lost; the first time, say so (log, `store.full`, monitor flag).
        Each later batch tries again, so storing resumes by itself when there is room."""
        self.skipped += lost
        self._lost_while_full += lost
        self.last_skip_reason = str(e)
        if self.full_since:
            return
        self.full_since = datetime.now(UTC).isoformat()
        self.full_reason = str(e)
        log.error("%s. The proxy goes on proxying; flows are stored again once there is room "
                  "(delete flows or sessions, free disk space, or raise store.max_db_size).", e)
        self.ghost.events.publish("store.full", {"reason": self.full_reason, "since": self.full_since})

    def _resumed(self) -> None:
        log.warning("the database has room again: captured flows are stored again (%d were not stored while "
                    "it was full)", self._lost_while_full)
        self.ghost.events.publish("store.resumed", {"flows_not_stored": self._lost_while_full})
        self.full_since = self.full_reason = ""
        self._lost_while_full = 0

    async def commit(self, batch: list[Flow], *, wait_for_lanes: bool = True) -> None:
        """Insert flows in one transaction, then announce them (event + hook).

        ``wait_for_lanes``: when a plugin's lane is full, wait for room (imports and
        replays, which may be slowed) instead of dropping its work (the proxy's writer).
        Flows that became error records are announced as such; skipped flows are counted
        and logged, and then FlowStoreError says which, after the others are announced.
        """
        result = await self.ghost.store.insert_flows(batch, self.ghost.settings.get("store.max_db_size"))
        if self.full_since:
            self._resumed()
        self._release(batch, stored=True, skipped=result.skipped)
        if result.error_records or result.skipped:
            batch = [self._as_stored(f, result) for f in batch if f.id not in result.skipped]
            self.error_records += len(result.error_records)
            self.skipped += len(result.skipped)
            for flow_id, reason in result.skipped.items():
                log.error("flow %s was not stored: %s", flow_id, reason)
                self.last_skip_reason = f"{flow_id}: {reason}"
        self.written += len(batch)
        await self.announce(batch, wait_for_lanes=wait_for_lanes)
        if result.skipped:
            raise FlowStoreError(f"{len(result.skipped)} of {len(batch) + len(result.skipped)} flows were not "
                                 f"stored: {'; '.join(f'{k}: {v}' for k, v in result.skipped.items())}")

    @staticmethod
    def _as_stored(flow: Flow, result: BatchResult) -> Flow:
        reason = result.error_records.get(flow.id)
        if reason is None:
            return flow
        # announced as stored (see flows.error_rows): text escaped, no headers or bodies
        resp = flow.response
        request = flows.escaped(flow.request)
        response = None if resp is None else type(resp)(
            status_code=resp.status_code, status_text=flows.escaped_text(resp.status_text),
            http_version=resp.http_version, body_size=resp.body_size)
        return flow.replace(request=request, response=response, tags=["store-error"], metadata={},
                            error=flows.escaped_text(f"Ghost could not store this flow as captured: {reason}"))

    def stored_calls(self) -> list[tuple[str, FlowStoredCall]]:
        """The hook's implementations, rebuilt when the plugin manager rebuilds its fast
        caller (a plugin was registered or unregistered)."""
        caller = self.ghost.pm.direct("ghost_flow_stored")
        if caller is not self._stored_caller:
            self._stored_caller = caller
            self._stored_calls = flow_stored_calls(self.ghost.pm.hook.ghost_flow_stored)
        return self._stored_calls

    async def announce(self, batch: list[Flow], *, wait_for_lanes: bool = False) -> None:
        """Publish ``flow.created`` and call ``ghost_flow_stored`` for each committed flow.

        Synchronous implementations run here and must be quick; an awaitable returned by
        an implementation goes to its plugin's lane, so a slow plugin delays only itself.
        One plugin failing is logged and does not keep the flow from the others.
        """
        ghost = self.ghost
        calls = self.stored_calls()
        for flow in batch:
            ghost.events.publish("flow.created", flow_summary(flow))
            ghost.flow_committed(flow)
            for plugin, call in calls:
                try:
                    result = call(ghost, flow)
                except Exception:
                    log.exception("ghost_flow_stored of plugin %r failed on flow %s", plugin, flow.id)
                    continue
                if result is None or not isinstance(result, Awaitable):
                    continue
                if wait_for_lanes:
                    await self.lanes.put(plugin, result)
                else:
                    self.lanes.offer(plugin, result)

    async def drain(self, timeout: float = 30.0, lanes_timeout: float = LANE_DRAIN_SECONDS) -> None:
        """Wait until every queued flow is committed, then until the plugins' lanes have
        done their work for them, each within its timeout (used at shutdown)."""
        if self._task is not None and not self._task.done():
            self.draining = True
            try:
                await asyncio.wait_for(self.queue.join(), timeout)
            except TimeoutError:
                log.error("flow queue not drained after %.0f s; %d flows lost", timeout, self.depth)
        for waiter in self._commit_waiters.values():  # their flows are not answered
            if not waiter.done():
                waiter.set_result(False)
        self._commit_waiters.clear()
        await self.lanes.drain(lanes_timeout)


__all__ = ["Store", "FlowWriter", "artifacts", "db", "flows", "sessions", "migrations"]
