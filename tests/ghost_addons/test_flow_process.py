import asyncio
import fcntl
import signal
from pathlib import Path

import pytest

from ghost_addons.store import Store, db, flows, sessions
from ghost_addons.store.flow_process import FlowStoreError
from tests.ghost_addons.factories import make_flow


def test_batches_commit_in_the_writer_process_and_errors_come_back(tmp_path, capfd) -> None:
    async def scenario() -> None:
        store = Store(tmp_path / "g.db")
        await store.open([])
        session = await store.write(sessions.create_session, "s")
        batch = [make_flow(f"01F{i}", session_id=session["id"]) for i in range(50)]
        await store.insert_flows(batch)
        assert await store.get_flow("01F7") == batch[7]   # readable at once from this process
        with pytest.raises(FlowStoreError, match="FOREIGN KEY"):
            await store.insert_flows([make_flow("01X", session_id="no-such-session")])
        with pytest.raises(FlowStoreError, match="UNIQUE"):
            await store.insert_flows([make_flow("01F1", session_id=session["id"])])
        assert await store.read(flows.count_flows) == 50   # a failed batch leaves nothing behind
        process = store._flow_process
        assert process is not None and process.proc is not None
        process.proc.kill()   # a dead writer process is started again for the next batch
        await process.proc.wait()
        await store.insert_flows([make_flow("01G", session_id=session["id"])])
        assert await store.read(flows.count_flows) == 51
        await store.close()

    asyncio.run(scenario())
    conn = db.connect(tmp_path / "g.db")
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()
    assert "Warning" not in capfd.readouterr().err  # the writer process starts cleanly


def test_the_writer_process_outlives_ctrl_c_and_sigterm_until_its_pipe_closes(tmp_path) -> None:
    """Ctrl-C or a SIGTERM to Ghost's process group reaches the writer process too; it must
    keep committing while Ghost drains its queue, and end only when Ghost closes the pipe."""

    async def scenario() -> None:
        store = Store(tmp_path / "g.db")
        await store.open([])
        session = await store.write(sessions.create_session, "s")
        await store.insert_flows([make_flow("01A", session_id=session["id"])])
        process = store._flow_process
        assert process is not None and process.proc is not None
        child = process.proc
        child.send_signal(signal.SIGINT)
        child.send_signal(signal.SIGTERM)
        await asyncio.sleep(0.3)
        await store.insert_flows([make_flow("01B", session_id=session["id"])])
        assert process.proc is child and child.returncode is None
        assert await store.read(flows.count_flows) == 2
        await store.close()
        assert child.returncode == 0

    asyncio.run(scenario())



def test_the_pipe_to_the_writer_process_holds_a_whole_batch(tmp_path) -> None:
    """A batch goes out in one write, not in dozens of event loop trips (Linux's default
    pipe holds 64 KiB; a batch of flows with bodies is often more)."""

    async def scenario() -> int:
        store = Store(tmp_path / "g.db")
        await store.open([])
        session = await store.write(sessions.create_session, "s")
        body = b"x" * 4096
        await store.insert_flows([make_flow(f"01P{i:03d}", session_id=session["id"], response_body=body)
                                  for i in range(100)])   # about 400 KiB
        process = store._flow_process
        assert process is not None and process.proc is not None and process.proc.stdin is not None
        size = fcntl.fcntl(process.proc.stdin.get_extra_info("pipe").fileno(), fcntl.F_GETPIPE_SZ)
        await store.close()
        return size

    assert asyncio.run(scenario()) >= min(1 << 20, int(Path("/proc/sys/fs/pipe-max-size").read_text()))
