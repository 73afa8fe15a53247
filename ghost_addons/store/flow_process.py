"""The flow writer process: inserts captured flows into SQLite outside Ghost's process.

Measured here, SQLite inserts on a thread of the proxy's process cost the proxy's event loop
about 300 µs a flow (the GIL and the cores are shared); in a process of their own they cost
it a pickle. The parent sends length-prefixed pickled batches of rows on stdin; each batch
is one transaction, answered once it is committed. EOF on stdin (Ghost stopped or died)
ends the process after the batch in hand.

One bad flow never takes its batch with it. A flow whose row cannot even be built (say a
plugin left something in its metadata JSON cannot hold) goes as an error record (see
`flows.error_rows`). When the batch's transaction fails, the child rolls it back and
inserts flow by flow, each under a savepoint: a flow SQLite refuses is stored as an error
record instead, and only when that is refused too (its session is gone, its id is taken)
is it skipped. Each stored flow is indexed for full-text search in the same transaction
(`search.index_flows`), so a flow is searchable as soon as it is announced. The answer is `ok`, or `partial` and a pickled `BatchResult` that says
which flows became error records or were skipped, and why.

A full database (SQLITE_FULL: the disk, or the page limit `store.max_db_size` sets with
`PRAGMA max_page_count`, sent with every batch) is not a bad flow: the batch is rolled
back whole and the answer is `full` and SQLite's message (`StoreFull` in the parent).

    python -c "$CHILD_MAIN" DB_PATH     (CHILD_MAIN below)
"""

from __future__ import annotations

import asyncio
import logging
import os
import pickle
import signal
import struct
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from ghost_addons.model import Flow

log = logging.getLogger("ghost.store")

HEADER = struct.Struct("!I")
WRITE_SLICE = 4 * 1024 * 1024  # a larger payload goes to the pipe in slices this size
PIPE_SIZE = 4 << 20  # Linux caps it at /proc/sys/fs/pipe-max-size (1 MiB unless raised)
OK = b"ok"
# The query planner's statistics (ANALYZE) are refreshed whenever the flows stored since the
# last refresh reach this many, or as many as the table then held: at 50,000 flows, 100,000,
# 200,000... so the cost (seconds of this process at a million flows, never the proxy's) stays
# about twice one final analysis. Without them a filter may read a million rows through the
# wrong index; SQLite's own `PRAGMA optimize` samples too few rows to tell the indexes apart.
ANALYZE_AFTER = 50_000
PARTIAL = b"partial"
FULL = b"full"
REPO_ROOT = Path(__file__).resolve().parents[2]
# Not `-m ghost_addons.store.flow_process`: the package imports this module first, so -m
# would run it twice (and Python warns about it on every start).
CHILD_MAIN = "import sys; from ghost_addons.store.flow_process import main; sys.exit(main(sys.argv[1:]))"


class FlowStoreError(Exception):
    """The writer process refused or lost a batch; the message says why."""


class StoreFull(FlowStoreError):
    """The database is full (disk, or `store.max_db_size`): the batch was not stored."""


SQLITE_FULL = 13  # the primary result code; sqlean's errors carry it as the stdlib's do


def is_full(e: BaseException) -> bool:
    """Whether SQLite refused for want of room (the disk, or `PRAGMA max_page_count`)."""
    return getattr(e, "sqlite_errorcode", None) == SQLITE_FULL


def max_page_count(max_db_size: int, page_size: int, unlimited: int) -> int:
    """The `PRAGMA max_page_count` for a size limit in bytes (0: SQLite's own maximum)."""
    return unlimited if max_db_size <= 0 else max(1, max_db_size // page_size)


def read_exact(stream: IO[bytes], size: int) -> bytes:
    chunks, remaining = [], size
    while remaining:
        chunk = stream.read(remaining)
        if not chunk:
            break
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def frame(payload: bytes) -> bytes:
    return HEADER.pack(len(payload)) + payload


def widen_pipe(fd: int) -> int:
    """Give the pipe to the writer process room for a whole batch; returns its size.

    With Linux's default 64 KiB a batch of a few hundred KiB goes out in dozens of partial
    writes, each another trip around the proxy's event loop while the child reads.
    """
    try:
        import fcntl  # Unix only

        limit = int(Path("/proc/sys/fs/pipe-max-size").read_text())
        return fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, min(PIPE_SIZE, limit))
    except (ImportError, OSError, ValueError, AttributeError) as e:  # not Linux
        log.info("the flow writer pipe keeps its default size: %s", e)
        return -1


@dataclass(slots=True)
class BatchResult:
    """What became of a batch's flows that were not stored as captured (id -> reason)."""

    error_records: dict[str, str] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)

    def merge(self, other: BatchResult) -> None:
        self.error_records.update(other.error_records)
        self.skipped.update(other.skipped)


def _reason(e: Exception) -> str:
    return f"{type(e).__name__}: {e}"


def encode_batch(batch: list[Flow], max_db_size: int = 0) -> tuple[bytes, BatchResult]:
    from ghost_addons.store.flows import body_row, error_rows, flow_row, identity_row
    from ghost_addons.store.websockets import flow_rows as websocket_rows

    flow_rows, body_rows, result = [], [], BatchResult()
    for f in batch:
        try:
            rows = flow_row(f), body_row(f)
        except Exception as e:  # the flow goes as an error record; the batch goes on
            result.error_records[f.id] = reason = _reason(e)
            log.warning("flow %s cannot be stored as captured (%s); storing an error record", f.id, reason)
            rows = error_rows(identity_row(f), reason)
        flow_rows.append(rows[0])
        body_rows.append(rows[1])
    messages, totals = websocket_rows(batch)  # imported flows may carry their messages
    return pickle.dumps((flow_rows, body_rows, max_db_size, messages, totals), protocol=5), result


def encode_websocket_batch(messages: list[Any], totals: list[Any], max_db_size: int = 0) -> bytes:
    """A batch of captured WebSocket messages only (their flows are already stored)."""
    return pickle.dumps(([], [], max_db_size, messages, totals), protocol=5)


def _insert_one_by_one(conn: Any, flow_rows: list[tuple[Any, ...]], body_rows: list[tuple[Any, ...]]) -> BatchResult:
    """Insert each flow under its own savepoint (inside the caller's transaction); a flow
    SQLite refuses becomes an error record, or is skipped when that is refused too."""
    from ghost_addons.store.flows import INSERT_BODIES, INSERT_FLOW, error_rows
    from ghost_addons.store.search import index_flows

    result = BatchResult()
    for flow_row, body_row in zip(flow_rows, body_rows, strict=True):
        flow_id = str(flow_row[0])
        try:
            conn.execute("SAVEPOINT flow")
            conn.execute(INSERT_FLOW, flow_row)
            conn.execute(INSERT_BODIES, body_row)
            index_flows(conn, [flow_id])
            conn.execute("RELEASE flow")
            continue
        except Exception as e:
            conn.execute("ROLLBACK TO flow")
            conn.execute("RELEASE flow")
            if is_full(e):  # no flow fits: the whole batch is answered `full`
                raise
            reason = _reason(e)
        try:
            conn.execute("SAVEPOINT flow")
            error_row, error_body = error_rows(flow_row, reason)
            conn.execute(INSERT_FLOW, error_row)
            conn.execute(INSERT_BODIES, error_body)
            index_flows(conn, [flow_id])
            conn.execute("RELEASE flow")
            result.error_records[flow_id] = reason
        except Exception as e:
            conn.execute("ROLLBACK TO flow")
            conn.execute("RELEASE flow")
            result.skipped[flow_id] = f"{reason}; its error record too: {_reason(e)}"
    return result


class PlannerStatistics:
    """When to refresh the planner's statistics (see ANALYZE_AFTER), and doing it."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn
        self.since = 0
        row = conn.execute("SELECT stat FROM sqlite_stat1 WHERE tbl = 'flows' AND idx = 'idx_flows_session_id'"
                           ).fetchone() if _has_stat_table(conn) else None
        self.analysed_rows = int(row[0].split()[0]) if row else 0

    def stored(self, count: int) -> None:
        self.since += count
        if self.since < max(ANALYZE_AFTER, self.analysed_rows):
            return
        self.analysed_rows += self.since
        self.since = 0
        try:
            self.conn.execute("ANALYZE flows")
            self.conn.execute("ANALYZE flow_tags")
        except Exception as e:  # stale statistics only slow some queries; storing goes on
            print(f"ghost flow writer: refreshing the query planner's statistics failed: {_reason(e)}",
                  file=sys.stderr)


def _has_stat_table(conn: Any) -> bool:
    return conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'").fetchone() is not None


def serve(db_path: Path, inp: IO[bytes], out: IO[bytes]) -> None:
    """The child's loop: one transaction per batch, one answer per batch."""
    from ghost_addons.store import db
    from ghost_addons.store.flows import INSERT_BODIES, INSERT_FLOW
    from ghost_addons.store.search import index_flows
    from ghost_addons.store.websockets import insert as insert_websocket

    conn = db.connect(db_path)
    statistics = PlannerStatistics(conn)
    page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    unlimited = conn.execute("PRAGMA max_page_count").fetchone()[0]
    size_limit = 0
    try:
        while header := read_exact(inp, HEADER.size):
            if len(header) < HEADER.size:
                return
            payload = read_exact(inp, HEADER.unpack(header)[0])
            flow_rows: list[Any] = []
            try:
                # WebSocket rows (messages, totals) follow; an older parent sends none
                flow_rows, body_rows, max_db_size, *websocket = pickle.loads(payload)
                if max_db_size != size_limit:
                    conn.execute(f"PRAGMA max_page_count = {max_page_count(int(max_db_size), page_size, unlimited)}")
                    size_limit = max_db_size
                try:
                    conn.execute("BEGIN IMMEDIATE")
                    conn.executemany(INSERT_FLOW, flow_rows)
                    conn.executemany(INSERT_BODIES, body_rows)
                    index_flows(conn, [str(row[0]) for row in flow_rows])
                    if websocket:
                        insert_websocket(conn, *websocket)
                    conn.execute("COMMIT")
                    reply = OK
                except Exception as e:  # one bad flow: go flow by flow, so it takes no other with it
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                    if is_full(e):
                        raise
                    conn.execute("BEGIN IMMEDIATE")
                    result = _insert_one_by_one(conn, flow_rows, body_rows)
                    if websocket:  # those of flows not stored are left out (see websockets)
                        insert_websocket(conn, *websocket)
                    conn.execute("COMMIT")
                    reply = PARTIAL + pickle.dumps(result, protocol=5)
            except Exception as e:  # reported to the parent, which logs it
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                reply = (FULL if is_full(e) else b"") + _reason(e).encode()
            out.write(frame(reply))
            out.flush()
            statistics.stored(len(flow_rows))  # after the answer: no batch waits for it
    finally:
        conn.close()


class FlowProcess:
    """The parent's handle: start, insert batches (awaiting the commit), close.

    The pipes are the event loop's (asyncio's subprocess transports), not a thread's: a
    thread blocking on them had to take the GIL back from the busy proxy several times a batch.
    """

    def __init__(self, db_path: Path) -> None:
        self.db_path = db_path
        self.proc: asyncio.subprocess.Process | None = None
        self._lock = asyncio.Lock()  # one batch in flight: answers come back in order

    async def _start(self) -> asyncio.subprocess.Process:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))}
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-c", CHILD_MAIN, str(self.db_path),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, env=env, cwd=REPO_ROOT,
            # Its own process group: a SIGTERM or Ctrl-C to Ghost's group must not end it while
            # it starts (before main() ignores them); it ends at EOF on stdin, Ghost gone.
            process_group=0,
        )
        assert proc.stdin is not None
        widen_pipe(proc.stdin.get_extra_info("pipe").fileno())
        return proc

    async def start(self) -> None:
        """Start the writer process and wait until it answers (an empty batch), so the
        first captured flow does not wait for a Python to start and open the database (a
        second or more on a busy machine)."""
        async with self._lock:
            reply = await self._exchange(pickle.dumps(([], [], 0), protocol=5))
        if reply != OK:
            raise FlowStoreError(f"the flow writer process did not start: {reply.decode(errors='replace')}")

    async def _exchange(self, payload: bytes) -> bytes:
        if self.proc is None or self.proc.returncode is not None:
            if self.proc is not None:
                log.warning("the flow writer process exited with %s; starting it again", self.proc.returncode)
            self.proc = await self._start()
        proc = self.proc
        assert proc.stdin is not None and proc.stdout is not None
        try:
            if len(payload) <= WRITE_SLICE:  # every captured batch: one write, as before
                proc.stdin.write(frame(payload))
                await proc.stdin.drain()
            else:
                await self._write_in_slices(proc.stdin, payload)
            header = await proc.stdout.readexactly(HEADER.size)
            return await proc.stdout.readexactly(HEADER.unpack(header)[0])
        except (asyncio.IncompleteReadError, ConnectionError) as e:
            code = await asyncio.wait_for(proc.wait(), 10)
            raise FlowStoreError(f"the flow writer process exited with {code}: {e}") from e

    @staticmethod
    async def _write_in_slices(stdin: asyncio.StreamWriter, payload: bytes) -> None:
        """A large payload (an imported 64 MB body) handed to the pipe a slice at a time:
        in one write, framing it and asyncio buffering what the pipe did not take were two
        more whole copies in one step of the loop (~100 ms of CPU for 48 MB)."""
        stdin.write(HEADER.pack(len(payload)))
        view = memoryview(payload)
        for start in range(0, len(payload), WRITE_SLICE):
            stdin.write(view[start:start + WRITE_SLICE])
            await stdin.drain()

    async def insert(self, batch: list[Flow], max_db_size: int = 0) -> BatchResult:
        """Commit a batch; says which flows became error records or were skipped. Raises
        FlowStoreError only when the batch as a whole was not committed (StoreFull when the
        database is full)."""
        payload, result = encode_batch(batch, max_db_size)
        async with self._lock:
            reply = await self._exchange(payload)
        if reply.startswith(PARTIAL):
            result.merge(pickle.loads(reply[len(PARTIAL):]))
        elif reply.startswith(FULL):
            raise StoreFull(f"the database is full; {len(batch)} flows were not stored: "
                            f"{reply[len(FULL):].decode(errors='replace')}")
        elif reply != OK:
            raise FlowStoreError(f"storing {len(batch)} flows failed: {reply.decode(errors='replace')}")
        return result

    async def insert_websocket(self, messages: list[Any], totals: list[Any], max_db_size: int = 0) -> None:
        """Commit captured WebSocket messages and their flows' totals; after any flow batch
        sent before (one batch in flight, answered in order). FlowStoreError when refused."""
        payload = encode_websocket_batch(messages, totals, max_db_size)
        async with self._lock:
            reply = await self._exchange(payload)
        if reply.startswith(FULL):
            raise StoreFull(f"the database is full; {len(messages)} WebSocket messages were not stored: "
                            f"{reply[len(FULL):].decode(errors='replace')}")
        if reply != OK:
            raise FlowStoreError(f"storing {len(messages)} WebSocket messages failed: "
                                 f"{reply.decode(errors='replace')}")

    async def close(self, timeout: float = 30.0) -> None:
        async with self._lock:  # a batch being committed finishes first
            proc, self.proc = self.proc, None
        if proc is None:
            return
        if proc.stdin is not None:
            proc.stdin.close()  # EOF: the child ends after the batch in hand
        try:
            await asyncio.wait_for(proc.wait(), timeout)
        except TimeoutError:
            log.error("the flow writer process did not stop in %.0f s; killing it", timeout)
            proc.kill()
            await asyncio.wait_for(proc.wait(), 10)


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: the flow writer process takes one argument, the database path", file=sys.stderr)
        return 2
    # Ctrl-C and a SIGTERM to the process group reach this process too; it must live on
    # while Ghost drains its queue, and it ends by itself at EOF on stdin (Ghost gone).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    serve(Path(argv[0]), sys.stdin.buffer, sys.stdout.buffer)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

