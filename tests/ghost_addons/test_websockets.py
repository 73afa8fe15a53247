"""WebSocket messages: the per-flow caps, batching, the store's rows and the JSON shape."""

from __future__ import annotations

import asyncio

import pytest

from ghost_addons.model import WEBSOCKET_BINARY, WEBSOCKET_TEXT, Flow, WebSocketLog, WebSocketMessage
from ghost_addons.store import Store, db, flows, sessions, websockets
from ghost_addons.store.gql import compile_query
from ghost_addons.store.migrations import CORE_MIGRATIONS, apply
from ghost_addons.websockets import COMMIT_GRACE_SECONDS, Socket, take_batch
from tests.ghost_addons.factories import make_flow


def test_caps_keep_what_fits_and_count_the_rest() -> None:
    socket = Socket("f", max_messages=3, max_bytes=10)
    assert socket.add(True, WEBSOCKET_TEXT, 1.0, b"12345678")
    assert not socket.add(False, WEBSOCKET_TEXT, 1.1, b"123")  # would make 11 bytes
    assert socket.add(False, WEBSOCKET_BINARY, 1.2, b"12")
    assert socket.add(True, WEBSOCKET_TEXT, 1.3, b"")
    assert not socket.add(True, WEBSOCKET_TEXT, 1.4, b"")  # the fourth message
    assert (socket.seen, socket.stored, socket.dropped, socket.stored_bytes) == (5, 3, 2, 10)
    assert [row[1] for row in socket.pending] == [0, 2, 3]  # seq counts the dropped ones too
    nothing = Socket("g", max_messages=0, max_bytes=10)
    assert not nothing.add(True, WEBSOCKET_TEXT, 1.0, b"x") and nothing.dropped == 1


def test_a_batch_waits_for_the_flow_and_forgets_ended_sockets() -> None:
    waiting = Socket("a", 10, 100, opened_at=100.0)
    done = Socket("b", 10, 100, opened_at=100.0)
    lost = Socket("c", 10, 100, opened_at=90.0)
    for socket in (waiting, done, lost):
        socket.add(True, WEBSOCKET_TEXT, 1.0, b"hi")
    done.committed = True
    done.ended_at = 101.0
    sockets = {"a": waiting, "b": done, "c": lost}
    messages, totals, taken = take_batch(sockets, now=102.0)
    assert [m[0] for m in messages] == ["b"] and totals == [("b", 1, 0)] and taken == [(done, 1)]
    assert set(sockets) == {"a", "c"}  # b ended and is stored; a's and c's flows are not committed yet
    take_batch(sockets, now=90.0 + COMMIT_GRACE_SECONDS + 1)
    assert set(sockets) == {"a"}  # c's flow never came: forgotten after the grace, open or not
    waiting.committed = True
    assert take_batch(sockets, now=200.0)[1] == [("a", 1, 0)]
    assert take_batch(sockets, now=200.0)[1] == []  # nothing new, nothing sent
    assert set(sockets) == {"a"}  # still open: kept (its grace ran out, but its flow is stored)


def test_message_json_round_trip() -> None:
    text = WebSocketMessage(0, True, WEBSOCKET_TEXT, 1.5, "héllo <b>".encode())
    binary = WebSocketMessage(1, False, WEBSOCKET_BINARY, 2.5, b"\x00\xff")
    assert text.to_dict() == {"seq": 0, "direction": "client_to_server", "type": "text", "timestamp": 1.5,
                              "size": 10, "encoding": "utf8", "content": "héllo <b>"}
    assert binary.to_dict()["content"] == "AP8=" and binary.to_dict()["encoding"] == "base64"
    log = WebSocketLog((text, binary), dropped=3)
    assert WebSocketLog.from_dict(log.to_dict(), max_messages=10) == log
    assert WebSocketLog.from_dict(log.to_dict(), max_messages=1) == WebSocketLog((text,), dropped=4)
    for bad in ({"messages": [{"type": "ping", "content": ""}]}, {"messages": "x"},
                {"messages": [{"type": "binary", "encoding": "base64", "content": "%%"}]}):
        with pytest.raises(ValueError):
            WebSocketLog.from_dict(bad, 10)


def test_imported_flow_carries_its_messages_and_deletes_them_with_it(tmp_path) -> None:
    log = WebSocketLog((WebSocketMessage(0, True, WEBSOCKET_TEXT, 1.0, b"ping"),
                        WebSocketMessage(1, False, WEBSOCKET_BINARY, 2.0, b"\x01\x02")), dropped=5)

    async def scenario() -> None:
        store = Store(tmp_path / "g.db")
        await store.open([])
        session = await store.write(sessions.create_session, "s")
        upgrade = make_flow("01A", status=101, session_id=session["id"]).replace(websocket=log)
        odd = make_flow("01C", status=None, session_id=session["id"]).replace(websocket=WebSocketLog(log.messages[:1]))
        await store.insert_flows([upgrade, make_flow("01B", session_id=session["id"]), odd])
        page = await store.read(websockets.page, "01A", -1, 1)
        assert page["stored"] == 2 and page["dropped"] == 5 and page["next_after"] == 0
        assert [m["content"] for m in page["messages"]] == ["ping"]
        assert (await store.read(websockets.page, "01A", 0, 10))["messages"][0]["content"] == "AQI="
        assert (await store.read(websockets.page, "01B", -1, 10))["messages"] == []
        assert await store.read(websockets.page, "01Z", -1, 10) is None
        # captured messages after their flow; a batch for a flow that is gone is left out
        await store.insert_websocket([("01A", 2, 1, WEBSOCKET_TEXT, 3.0, b"late"), ("01Q", 0, 1, 1, 3.0, b"x")],
                                     [("01A", 3, 5), ("01Q", 1, 0)])
        batch = [f async for chunk in store.iter_session_flows(session["id"]) for f in chunk]
        by_id: dict[str, Flow] = {f.id: f for f in batch}
        assert by_id["01B"].websocket is None
        assert by_id["01C"].websocket == WebSocketLog(log.messages[:1])  # no 101, still its messages
        stored = by_id["01A"].websocket
        assert stored is not None and stored.dropped == 5
        assert [m.content for m in stored.messages] == [b"ping", b"\x01\x02", b"late"]
        assert Flow.from_dict(by_id["01A"].to_dict()) == by_id["01A"]
        await store.write(flows.delete_flow, "01A")
        counts = await store.read(lambda conn: conn.execute(
            "SELECT (SELECT COUNT(*) FROM websocket_messages WHERE flow_id = '01A'),"
            " (SELECT COUNT(*) FROM websocket_totals WHERE flow_id = '01A')").fetchone())
        assert tuple(counts) == (0, 0)
        await store.close()

    asyncio.run(scenario())


def test_gql_ws_finds_sockets_and_what_they_said(tmp_path) -> None:
    conn = db.connect(tmp_path / "g.db")
    apply(conn, [("core", CORE_MIGRATIONS)])
    conn.execute("INSERT INTO sessions VALUES ('s', 's', '', 'now', 'now')")
    flows.insert_flows(conn, [make_flow("01A", status=101), make_flow("01B", status=101), make_flow("01C")])
    websockets.insert(conn, [("01A", 0, 1, WEBSOCKET_TEXT, 1.0, b'{"Order": "100%_done"}'),
                             ("01B", 0, 0, WEBSOCKET_BINARY, 1.0, b"order")], [("01A", 1, 0), ("01B", 1, 0)])

    def found(query: str) -> set[str]:
        where, params = compile_query(query)
        return {r[0] for r in conn.execute(f"SELECT id FROM flows WHERE {where}", params)}

    assert found("ws:true") == {"01A", "01B"} and found("ws:false") == {"01C"}
    assert found("ws:order") == {"01A"}  # any case; binary messages are not text
    assert found('ws:"100%_done"') == {"01A"} and found("ws:100x") == set()  # % and _ are literal
    assert found("ws:ord*done") == {"01A"} and found("-ws:order") == {"01B", "01C"}
    conn.close()
