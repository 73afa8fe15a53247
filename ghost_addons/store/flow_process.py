"""The flow writer process: inserts captured flows into SQLite outside Ghost's process.

Measured here, SQLite inserts on a thread of the proxy's process cost the proxy's event loop
about 300 µs a flow (the GIL and the cores are shared); in a process of their own they cost
it a pickle. The parent sends length-prefixed pickled batches of rows on stdin; each batch
is one transaction, answered with `ok` or the error once it is committed. EOF on stdin
(Ghost stopped or died) ends the process after the batch in hand.

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
from pathlib import Path
from typing import IO

from ghost_addons.model import Flow

log = logging.getLogger("ghost.store")

HEADER = struct.Struct("!I")
PIPE_SIZE = 4 << 20  # Linux caps it at /proc/sys/fs/pipe-max-size (1 MiB unless raised)
OK = b"ok"
REPO_ROOT = Path(__file__).resolve().parents[2]
# Not `-m ghost_addons.store.flow_process`: the package imports this module first, so -m
# would run it twice (and Python warns about it on every start).
CHILD_MAIN = "import sys; from ghost_addons.store.flow_process import main; sys.exit(main(sys.argv[1:]))"


class FlowStoreError(Exception):
    """The writer process refused or lost a batch; the message says why."""


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


def encode_batch(batch: list[Flow]) -> bytes:
    from ghost_addons.store.flows import body_row, flow_row

    return pickle.dumps(([flow_row(f) for f in batch], [body_row(f) for f in batch]), protocol=5)


def serve(db_path: Path, inp: IO[bytes], out: IO[bytes]) -> None:
    """The child's loop: one transaction per batch, one answer per batch."""
    from ghost_addons.store import db
    from ghost_addons.store.flows import INSERT_BODIES, INSERT_FLOW

    conn = db.connect(db_path)
    try:
        while header := read_exact(inp, HEADER.size):
            if len(header) < HEADER.size:
                return
            payload = read_exact(inp, HEADER.unpack(header)[0])
            try:
                flow_rows, body_rows = pickle.loads(payload)
                conn.execute("BEGIN IMMEDIATE")
                conn.executemany(INSERT_FLOW, flow_rows)
                conn.executemany(INSERT_BODIES, body_rows)
                conn.execute("COMMIT")
                reply = OK
            except Exception as e:  # reported to the parent, which logs it
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                reply = f"{type(e).__name__}: {e}".encode()
            out.write(frame(reply))
            out.flush()
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
        )
        assert proc.stdin is not None
        widen_pipe(proc.stdin.get_extra_info("pipe").fileno())
        return proc

    async def _exchange(self, payload: bytes) -> bytes:
        if self.proc is None or self.proc.returncode is not None:
            if self.proc is not None:
                log.warning("the flow writer process exited with %s; starting it again", self.proc.returncode)
            self.proc = await self._start()
        proc = self.proc
        assert proc.stdin is not None and proc.stdout is not None
        try:
            proc.stdin.write(frame(payload))
            await proc.stdin.drain()
            header = await proc.stdout.readexactly(HEADER.size)
            return await proc.stdout.readexactly(HEADER.unpack(header)[0])
        except (asyncio.IncompleteReadError, ConnectionError) as e:
            code = await asyncio.wait_for(proc.wait(), 10)
            raise FlowStoreError(f"the flow writer process exited with {code}: {e}") from e

    async def insert(self, batch: list[Flow]) -> None:
        payload = encode_batch(batch)
        async with self._lock:
            reply = await self._exchange(payload)
        if reply != OK:
            raise FlowStoreError(f"storing {len(batch)} flows failed: {reply.decode(errors='replace')}")

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

