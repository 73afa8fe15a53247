import asyncio
import fcntl
import signal
from pathlib import Path

from ghost_addons.store import Store, db, flows, sessions
from ghost_addons.store.flow_process import BatchResult
from tests.ghost_addons.factories import make_flow


def test_batches_commit_in_the_writer_process_and_a_refused_flow_is_skipped_alone(tmp_path, capfd) -> None:
    async def scenario() -> None:
        store = Store(tmp_path / "g.db")
        await store.open([])
        session = await store.write(sessions.create_session, "s")
        batch = [make_flow(f"01F{i}", session_id=session["id"]) for i in range(50)]
        assert await store.insert_flows(batch) == BatchResult()
        assert await store.get_flow("01F7") == batch[7]   # readable at once from this process
        # Flows SQLite refuses even as error records are skipped, each with its reason,
        # and the flows beside them in the batch are stored.
        result = await store.insert_flows([make_flow("01X", session_id="no-such-session"),
                                           make_flow("01F1", session_id=session["id"]),
                                           make_flow("01H", session_id=session["id"])])
        assert set(result.skipped) == {"01X", "01F1"} and not result.error_records
        assert "FOREIGN KEY" in result.skipped["01X"] and "UNIQUE" in result.skipped["01F1"]
        assert await store.read(flows.count_flows) == 51
        assert await store.get_flow("01F1") == batch[1]   # what was stored is untouched
        process = store._flow_process
        assert process is not None and process.proc is not None
        process.proc.kill()   # a dead writer process is started again for the next batch
        await process.proc.wait()
        await store.insert_flows([make_flow("01G", session_id=session["id"])])
        assert await store.read(flows.count_flows) == 52
        await store.close()

    asyncio.run(scenario())
    conn = db.connect(tmp_path / "g.db")
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()
    assert "Warning" not in capfd.readouterr().err  # the writer process starts cleanly


def test_one_flow_that_cannot_be_stored_becomes_an_error_record_and_takes_no_other(tmp_path) -> None:
    """Seen failing before: the whole batch was rolled back (or never sent) and lost."""

    async def scenario() -> None:
        store = Store(tmp_path / "g.db")
        await store.open([])
        session = await store.write(sessions.create_session, "s")
        batch = [make_flow(f"01F{i:03d}", session_id=session["id"]) for i in range(100)]
        batch[10].metadata = {"plugin left": {1, 2}}   # JSON cannot hold it: the parent's row fails
        batch[20] = make_flow("01F020", session_id=session["id"], url="http://h/caf\udcff")   # SQLite refuses
        batch[30].request.headers.append(("X-Bad", "\udcff\udcfe"))   # a header byte that is not UTF-8
        result = await store.insert_flows(batch)
        assert set(result.error_records) == {"01F010", "01F020"} and not result.skipped
        assert await store.read(flows.count_flows) == 100
        for i in (0, 9, 11, 19, 21, 99):
            assert await store.get_flow(f"01F{i:03d}") == batch[i]
        assert await store.get_flow("01F030") == batch[30]   # the header bytes as they came
        for i, cause in ((10, "Type"), (20, "UnicodeEncodeError")):
            record = await store.get_flow(f"01F{i:03d}")
            assert record is not None and record.tags == ["store-error"] and cause in record.error
            assert record.request.method == "GET" and record.response is not None
            assert record.response.status_code == 200 and record.session_id == session["id"]
        record = await store.get_flow("01F020")
        assert record is not None and record.request.url == "http://h/caf\\udcff"
        await store.close()

    asyncio.run(scenario())


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


def test_planner_statistics_are_refreshed_as_the_table_doubles(tmp_path, monkeypatch) -> None:
    from ghost_addons.store import db, flow_process, flows
    from ghost_addons.store.migrations import CORE_MIGRATIONS, apply
    from tests.ghost_addons.factories import make_flow

    monkeypatch.setattr(flow_process, "ANALYZE_AFTER", 10)
    conn = db.connect(tmp_path / "g.db")
    apply(conn, [("core", CORE_MIGRATIONS)])
    conn.execute("INSERT INTO sessions VALUES ('s', 's', '', 'now', 'now')")
    refresh = flow_process.PlannerStatistics(conn)

    def analysed() -> int | None:
        row = conn.execute("SELECT stat FROM sqlite_stat1 WHERE idx = 'idx_flows_session_id'").fetchone()
        return int(row[0].split()[0]) if row else None

    def store(count: int, start: int) -> None:
        flows.insert_flows(conn, [make_flow(f"01T{start + i:04d}") for i in range(count)])
        refresh.stored(count)

    store(9, 0)
    assert analysed() is None  # the migration analysed an empty table: no row for it
    store(1, 9)
    assert analysed() == 10
    store(9, 10)
    assert analysed() == 10  # not yet doubled
    store(1, 19)
    assert analysed() == 20
    assert flow_process.PlannerStatistics(conn).analysed_rows == 20  # a restarted writer knows it


def test_the_size_limit_becomes_a_page_count_and_full_is_told_by_sqlites_code() -> None:
    from ghost_addons.store.flow_process import is_full, max_page_count

    assert max_page_count(0, 4096, 4294967294) == 4294967294   # no limit: SQLite's own maximum
    assert max_page_count(10 * 4096 + 5, 4096, 4294967294) == 10
    assert max_page_count(1, 4096, 4294967294) == 1   # below one page: full at the first new page
    conn = db.connect(Path(":memory:"))
    conn.execute("CREATE TABLE t (x)")
    conn.execute("PRAGMA max_page_count = 2")
    try:
        for _ in range(100):
            conn.execute("INSERT INTO t VALUES (randomblob(2000))")
        raise AssertionError("the page limit was never reached")
    except db.OperationalError as e:
        assert is_full(e)
    try:
        conn.execute("INSERT INTO nowhere VALUES (1)")
    except db.OperationalError as e:
        assert not is_full(e)   # other errors are a bad flow, not a full database
    conn.close()


def test_a_batch_larger_than_a_write_slice_goes_to_the_pipe_in_slices(tmp_path) -> None:
    """An imported 64 MB body: framed and buffered whole, it cost ~100 ms of the loop in one step."""
    from ghost_addons.store.flow_process import WRITE_SLICE

    async def scenario() -> None:
        store = Store(tmp_path / "g.db")
        await store.open([])
        session = await store.write(sessions.create_session, "s")
        big = make_flow("01BIG", session_id=session["id"])
        assert big.response is not None
        big.response.body = bytes(range(256)) * (WRITE_SLICE * 2 // 256 + 7)
        big.response.body_size = len(big.response.body)
        small = make_flow("01SMALL", session_id=session["id"])
        assert await store.insert_flows([big]) == BatchResult()
        assert await store.insert_flows([small]) == BatchResult()  # the frame after it is intact
        assert await store.get_flow("01BIG") == big and await store.get_flow("01SMALL") == small
        await store.close()

    asyncio.run(scenario())
