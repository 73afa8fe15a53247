import asyncio

import pytest

from ghost_addons.model import Flow
from ghost_addons.store import Store, db, flows, sessions
from ghost_addons.store.migrations import CORE_MIGRATIONS, apply
from tests.ghost_addons.factories import make_flow


def test_flow_round_trips_through_sqlite(tmp_path) -> None:
    conn = db.connect(tmp_path / "g.db")
    apply(conn, [("core", CORE_MIGRATIONS)])
    conn.execute("INSERT INTO sessions VALUES ('s', 'S', '', 'x', 'x')")
    original = make_flow("01A", method="POST", body=b"\x00\xffbinary", response_body=b'{"ok":1}', tags=["t"])
    original.metadata = {"k": "v"}
    original.interaction_id = "int-1"
    # header bytes that are not UTF-8, held as mitmproxy holds them (surrogateescape)
    original.request.headers.append(("X-Bad-\udcff", "caf\udce9 \udcff"))
    assert original.response is not None
    original.response.headers.append(("X-Hostile", "\udcff"))
    conn.execute("BEGIN")
    flows.insert_flows(conn, [original])
    conn.execute("COMMIT")
    assert flows.get_flow(conn, "01A") == original
    assert Flow.from_dict(original.to_dict()) == original   # the JSON shape is lossless too
    shown = original.to_dict()["request"]["headers"][-1]
    assert shown == {"name": "X-Bad-\ufffd", "value": "caf\ufffd \ufffd",
                     "name_base64": "WC1CYWQt/w==", "value_base64": "Y2Fm6SD/"}
    assert original.to_dict()["request"]["headers"][0] == {"name": "Host", "value": "example.com"}
    summary = flows.list_flow_summaries(conn, "1", [], 10, 0)[0]
    assert summary["status_code"] == 200 and "headers" not in summary


def test_migrations_apply_once_and_plugin_migrations_follow(tmp_path) -> None:
    conn = db.connect(tmp_path / "g.db")
    plugin = ("demo", ["CREATE TABLE demo (id TEXT PRIMARY KEY, flow_id TEXT REFERENCES flows(id) ON DELETE SET NULL)"])
    assert apply(conn, [("core", CORE_MIGRATIONS), plugin]) == ["core#1", "core#2", "core#3", "core#4", "demo#1"]
    assert apply(conn, [("core", CORE_MIGRATIONS), plugin]) == []
    broken = ("broken", ["CREATE TABLE ok1 (a)", "CREATE TABLE demo (dup)"])
    with pytest.raises(db.OperationalError):
        apply(conn, [broken])
    # the failed migration left nothing behind; the one before it stays applied
    assert [r[0] for r in conn.execute("SELECT version FROM schema_migrations WHERE owner='broken'")] == [1]
    assert conn.execute("SELECT name FROM sqlite_master WHERE name='ok1'").fetchone() is not None


def test_foreign_keys_cascade_and_set_null(tmp_path) -> None:
    conn = db.connect(tmp_path / "g.db")
    apply(conn, [("core", CORE_MIGRATIONS),
                 ("demo", ["CREATE TABLE demo (id TEXT PRIMARY KEY, flow_id TEXT REFERENCES flows(id) ON DELETE SET NULL)"])])
    conn.execute("INSERT INTO sessions VALUES ('s', 'S', '', 'x', 'x')")
    conn.execute("BEGIN")
    flows.insert_flows(conn, [make_flow("01A")])
    conn.execute("COMMIT")
    conn.execute("INSERT INTO demo VALUES ('d', '01A')")
    assert sessions.delete_session(conn, "s")
    assert conn.execute("SELECT COUNT(*) FROM flows").fetchone()[0] == 0
    assert conn.execute("SELECT COUNT(*) FROM flow_bodies").fetchone()[0] == 0
    assert conn.execute("SELECT flow_id FROM demo").fetchone()[0] is None


def test_store_write_rolls_back_on_error(tmp_path) -> None:
    async def scenario() -> int:
        store = Store(tmp_path / "g.db")
        await store.open([])
        await store.write(sessions.create_session, "one")

        def half_then_fail(conn) -> None:
            sessions.create_session(conn, "two")
            raise ValueError("boom")

        with pytest.raises(ValueError):
            await store.write(half_then_fail)
        count = len(await store.read(sessions.list_sessions))
        await store.close()
        return count

    assert asyncio.run(scenario()) == 1


def test_purge_by_age_and_count(tmp_path) -> None:
    conn = db.connect(tmp_path / "g.db")
    apply(conn, [("core", CORE_MIGRATIONS)])
    conn.execute("INSERT INTO sessions VALUES ('s', 'S', '', 'x', 'x')")
    conn.execute("BEGIN")
    flows.insert_flows(conn, [make_flow(f"01{i}") for i in range(5)])
    conn.execute("COMMIT")
    assert flows.purge_flows(conn, None, 2) == 3
    assert [r[0] for r in conn.execute("SELECT id FROM flows ORDER BY id")] == ["013", "014"]
    assert flows.purge_flows(conn, "2030-01-01T00:00:00.000000Z", 0) == 2


def test_export_batches_end_at_a_byte_budget_so_large_bodies_are_read_a_few_at_a_time(tmp_path) -> None:
    """Seen failing before: one read took 5,000 full flows whatever their bodies weighed
    (a session of 200 MB bodies ran the export out of memory)."""

    async def scenario() -> list[list[str]]:
        store = Store(tmp_path / "g.db")
        await store.open([])
        session = await store.write(sessions.create_session, "s")
        big = b"x" * (1 << 20)
        await store.insert_flows([make_flow(f"01B{i}", session_id=session["id"], response_body=big)
                                  for i in range(10)])
        ids = [[f.id for f in batch]
               async for batch in store.iter_session_flows(session["id"], max_bytes=3 << 20)]
        await store.close()
        return ids

    ids = asyncio.run(scenario())
    assert [len(b) for b in ids] == [3, 3, 3, 1]
    assert sum(ids, []) == [f"01B{i}" for i in range(10)]
