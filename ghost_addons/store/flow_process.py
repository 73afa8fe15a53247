"""The flow writer process: inserts captured flows into SQLite outside Ghost's process.

Measured here, SQLite inserts on a thread of the proxy's process cost the proxy's event loop
about 300 µs a flow (the GIL and the cores are shared); in a process of their own they cost
it a pickle. The parent sends length-prefixed pickled batches of rows on stdin; each batch
is one transaction, answered with `ok` or the error once it is committed. EOF on stdin
(Ghost stopped or died) ends the process after the batch in hand.

    python -m ghost_addons.store.flow_process DB_PATH
"""

from __future__ import annotations

import asyncio
import logging
import os
import pickle
import struct
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import IO

from ghost_addons.model import Flow

log = logging.getLogger("ghost.store")

HEADER = struct.Struct("!I")
OK = b"ok"
REPO_ROOT = Path(__file__).resolve().parents[2]


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
    """The parent's handle: start, insert batches (awaiting the commit), close."""

    def __init__(self, db_path: Path) -> None:
        self.db_path = db_path
        self.proc: subprocess.Popen[bytes] | None = None
        # pipe I/O off the event loop; one thread keeps batches in order
        self._io = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ghost-flow-pipe")
        self._lock = threading.Lock()

    def _start(self) -> subprocess.Popen[bytes]:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))}
        return subprocess.Popen(
            [sys.executable, "-m", "ghost_addons.store.flow_process", str(self.db_path)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, cwd=REPO_ROOT,
        )

    def _exchange(self, payload: bytes) -> bytes:
        with self._lock:
            if self.proc is None or self.proc.poll() is not None:
                if self.proc is not None:
                    log.warning("the flow writer process exited with %s; starting it again", self.proc.returncode)
                self.proc = self._start()
            assert self.proc.stdin is not None and self.proc.stdout is not None
            try:
                self.proc.stdin.write(frame(payload))
                self.proc.stdin.flush()
                header = read_exact(self.proc.stdout, HEADER.size)
            except (BrokenPipeError, OSError) as e:
                raise FlowStoreError(f"the flow writer process is gone: {e}") from e
            if len(header) < HEADER.size:
                raise FlowStoreError(f"the flow writer process exited with {self.proc.wait()}")
            return read_exact(self.proc.stdout, HEADER.unpack(header)[0])

    async def insert(self, batch: list[Flow]) -> None:
        payload = encode_batch(batch)
        reply = await asyncio.get_running_loop().run_in_executor(self._io, self._exchange, payload)
        if reply != OK:
            raise FlowStoreError(f"storing {len(batch)} flows failed: {reply.decode(errors='replace')}")

    def close(self, timeout: float = 30.0) -> None:
        self._io.shutdown(wait=True)
        proc, self.proc = self.proc, None
        if proc is None:
            return
        if proc.stdin is not None:
            proc.stdin.close()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            log.error("the flow writer process did not stop in %.0f s; killing it", timeout)
            proc.kill()
            proc.wait(10)
        if proc.stdout is not None:
            proc.stdout.close()


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m ghost_addons.store.flow_process DB_PATH", file=sys.stderr)
        return 2
    serve(Path(argv[0]), sys.stdin.buffer, sys.stdout.buffer)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

