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
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from ghost_addons.model import Flow, flow_summary
from ghost_addons.plugins import settle
from ghost_addons.store import artifacts, db, flows, migrations, sessions
from ghost_addons.store.flow_process import FlowProcess

if TYPE_CHECKING:
    from ghost_addons.core import Ghost

log = logging.getLogger("ghost.store")

T = TypeVar("T")

FLOW_QUEUE_SIZE = 20_000
FLOW_BATCH_SIZE = 1_000
# A batch waits this long for company: a few commits a second instead of one per flow.
FLOW_BATCH_WINDOW = 0.05
EXPORT_BATCH_SIZE = 5_000
EXPORT_FLOW_CAP = 100_000


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
        return applied

    async def insert_flows(self, batch: list[Flow]) -> None:
        """Commit captured flows in one transaction, in the flow writer process."""
        if self._flow_process is None:
            raise RuntimeError("the store is not open")
        await self._flow_process.insert(batch)

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
        self, session_id: str, batch: int = EXPORT_BATCH_SIZE, limit: int = EXPORT_FLOW_CAP
    ) -> AsyncIterator[list[Flow]]:
        """Full flows of a session, oldest first, `batch` at a time, at most `limit`."""
        after, sent = "", 0
        while sent < limit:
            chunk = await self.read(flows.session_flow_batch, session_id, after, min(batch, limit - sent))
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
        await self.ghost.flow_writer.commit(batch)


class FlowWriter:
    """Batches captured flows into transactions; publishes each flow once it is committed.

    The queue is bounded: when the disk cannot keep up, `put()` makes the proxy wait
    rather than dropping flows.
    """

    def __init__(self, ghost: Ghost) -> None:
        self.ghost = ghost
        self.queue: asyncio.Queue[Flow] = asyncio.Queue(maxsize=FLOW_QUEUE_SIZE)
        self.written = 0
        self.draining = False
        self._task: asyncio.Task[None] | None = None

    @property
    def depth(self) -> int:
        return self.queue.qsize()

    def start(self) -> None:
        self._task = self.ghost.spawn(self._run(), name="ghost flow writer")

    def put(self, flow: Flow) -> Awaitable[None] | None:
        """Queue a flow; returns an awaitable only when the queue is full (back-pressure)."""
        try:
            self.queue.put_nowait(flow)
            return None
        except asyncio.QueueFull:
            return self.queue.put(flow)

    async def _run(self) -> None:
        while True:
            batch = [await self.queue.get()]
            if not self.draining:
                # Sleep through the window rather than await each flow: flows arriving now
                # only queue up, instead of waking this task once per flow.
                await asyncio.sleep(FLOW_BATCH_WINDOW)
            while len(batch) < FLOW_BATCH_SIZE and not self.queue.empty():
                batch.append(self.queue.get_nowait())
            try:
                await self.commit(batch)
            except Exception:
                log.exception("storing %d flows failed; they are lost", len(batch))
            finally:
                for _ in batch:
                    self.queue.task_done()

    async def commit(self, batch: list[Flow]) -> None:
        """Insert flows in one transaction, then announce them (event + hook)."""
        await self.ghost.store.insert_flows(batch)
        self.written += len(batch)
        await self.announce(batch)

    async def announce(self, batch: list[Flow]) -> None:
        flow_stored = self.ghost.pm.direct("ghost_flow_stored")
        for flow in batch:
            self.ghost.events.publish("flow.created", flow_summary(flow))
            self.ghost.flow_committed(flow)
            results = flow_stored(ghost=self.ghost, flow=flow)
            if results:  # most implementations return None: no coroutine per flow for them
                await settle(results)

    async def drain(self, timeout: float = 30.0) -> None:
        """Wait until every queued flow is committed (used at shutdown)."""
        if self._task is None or self._task.done():
            return
        self.draining = True
        try:
            await asyncio.wait_for(self.queue.join(), timeout)
        except TimeoutError:
            log.error("flow queue not drained after %.0f s; %d flows lost", timeout, self.depth)


__all__ = ["Store", "FlowWriter", "artifacts", "db", "flows", "sessions", "migrations"]
