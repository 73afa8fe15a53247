"""WebSocket messages through a real `mitmdump -s ghost.py` to a local echo server (ws and
wss): stored in order with their bytes, paged by the API, capped, exported to HAR."""

from __future__ import annotations

import asyncio
import base64
import ssl
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from playwright.sync_api import expect

from tests.e2e.test_webui import browser, open_ui  # noqa: F401 - browser is a fixture
from tests.support.ws_echo import WebSocketEchoServer

HOSTILE = '<img src=x onerror="window.pwned=1"><script>window.pwned=2</script>'
BINARY = bytes(range(256)) + b"\xff\xfe\x00"


@pytest.fixture(scope="module")
def echo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebSocketEchoServer]:
    server = WebSocketEchoServer().start(tmp_path_factory.mktemp("ws-echo"))
    yield server
    server.stop()


def talk(ghost: Any, url: str, script: list[str | bytes], timeout: float = 20.0,
         pause: threading.Event | None = None, paused: threading.Event | None = None) -> list[str | bytes]:
    """Connect through the proxy, send each message and wait for its answer(s), close. With
    `pause`: at a None in the script, say so (`paused`) and wait for `pause` before going on."""
    async def run() -> list[str | bytes]:
        ctx = ssl.create_default_context(cafile=str(ghost.ca_path))
        answers: list[str | bytes] = []
        async with aiohttp.ClientSession() as session, \
                session.ws_connect(url, proxy=ghost.proxy_url, ssl=ctx) as ws:
            for message in script:
                if message is None and pause is not None and paused is not None:
                    paused.set()
                    await asyncio.to_thread(pause.wait, timeout)
                    continue
                if isinstance(message, bytes):
                    await ws.send_bytes(message)
                else:
                    await ws.send_str(message)
                expect = int(message.split()[1]) if isinstance(message, str) and message.startswith("burst ") else 1
                for _ in range(expect):
                    answers.append((await ws.receive()).data)
        return answers

    return asyncio.run(asyncio.wait_for(run(), timeout))


def websocket_flow(ghost: Any) -> dict[str, Any]:
    return ghost.wait_flows(1, q="status:101")[0]


def wait_messages(ghost: Any, flow_id: str, stored: int, dropped: int = 0, timeout: float = 15.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    page: dict[str, Any] = {}
    while time.monotonic() < deadline:
        page = ghost.api("GET", f"/api/v1/flows/{flow_id}/websocket", params={"limit": 1000}).json()
        if page["stored"] >= stored and page["dropped"] >= dropped:
            return page
        time.sleep(0.1)
    raise TimeoutError(f"flow {flow_id}: expected {stored} messages stored, have {page}")


def expected_messages(script: list[str | bytes]) -> list[tuple[str, str, bytes]]:
    """(direction, type, bytes) of an echo conversation, in order."""
    out = []
    for message in script:
        kind, data = ("binary", message) if isinstance(message, bytes) else ("text", message.encode())
        out += [("client_to_server", kind, data), ("server_to_client", kind, data)]
    return out


def decoded(message: dict[str, Any]) -> tuple[str, str, bytes]:
    data = base64.b64decode(message["content"]) if message["encoding"] == "base64" else message["content"].encode()
    return message["direction"], message["type"], data


@pytest.mark.parametrize("secure", [False, True], ids=["ws", "wss"])
def test_messages_each_way_stored_in_order_with_their_bytes(ghost, echo_server, secure: bool) -> None:
    script: list[str | bytes] = [f"hello {i} ✓" for i in range(10)] + [BINARY, HOSTILE, b"", ""]
    answers = talk(ghost, echo_server.wss_url if secure else echo_server.ws_url, script)
    assert answers == script
    flow = websocket_flow(ghost)
    page = wait_messages(ghost, flow["id"], stored=2 * len(script))
    assert page["dropped"] == 0 and page["next_after"] is None
    assert [decoded(m) for m in page["messages"]] == expected_messages(script)
    assert [m["seq"] for m in page["messages"]] == list(range(2 * len(script)))
    assert all(m["size"] == len(decoded(m)[2]) for m in page["messages"])
    stamps = [m["timestamp"] for m in page["messages"]]
    assert stamps == sorted(stamps) and abs(stamps[0] - time.time()) < 60
    # keyset paging: 7 at a time gives the same messages
    paged, after = [], -1
    while after is not None:
        chunk = ghost.api("GET", f"/api/v1/flows/{flow['id']}/websocket", params={"after": after, "limit": 7}).json()
        paged += chunk["messages"]
        after = chunk["next_after"]
    assert paged == page["messages"]
    assert [f["id"] for f in ghost.flows(q="ws:HELLO*✓")] == [flow["id"]]  # GQL over the text messages
    assert ghost.flows(q="ws:nobody-said-this") == []
    full = ghost.api("GET", f"/api/v1/flows/{flow['id']}").json()
    assert full["response"]["status_code"] == 101 and full["request"]["scheme"] == ("https" if secure else "http")


def test_caps_count_what_they_do_not_store(ghost, echo_server) -> None:
    assert ghost.api("PUT", "/api/v1/settings", json={"store": {"websocket_max_messages": 5}}).status_code == 200
    talk(ghost, echo_server.ws_url, ["burst 40"])
    flow = websocket_flow(ghost)
    page = wait_messages(ghost, flow["id"], stored=5, dropped=36)
    assert (page["stored"], page["dropped"], len(page["messages"])) == (5, 36, 5)
    assert [decoded(m)[2] for m in page["messages"]] == [b"burst 40"] + [f"burst {i}".encode() for i in range(4)]
    # the byte cap: a message that would pass it is dropped, a smaller one after it still fits
    assert ghost.api("PUT", "/api/v1/settings", json={"store": {"websocket_max_messages": 100,
                                                                 "websocket_max_bytes": 100}}).status_code == 200
    talk(ghost, echo_server.ws_url, ["x" * 60, "y" * 30])
    second = [f for f in ghost.wait_flows(2, q="status:101") if f["id"] != flow["id"]][0]
    page = wait_messages(ghost, second["id"], stored=2, dropped=2)
    # x (60) fits, its echo would make 120; y (30) fits at 90, its echo would make 120
    assert [decoded(m)[2] for m in page["messages"]] == [b"x" * 60, b"y" * 30]
    assert [m["seq"] for m in page["messages"]] == [0, 2]


def test_unknown_flow_404_and_plain_flow_empty(ghost, echo_server, target) -> None:
    assert ghost.api("GET", "/api/v1/flows/nope/websocket").status_code == 404
    with ghost.client() as client:
        client.get(f"{target.http_url}/echo/x")
    plain = ghost.wait_flows(1)[0]
    page = ghost.api("GET", f"/api/v1/flows/{plain['id']}/websocket").json()
    assert page == {"flow_id": plain["id"], "messages": [], "next_after": None, "stored": 0, "dropped": 0}
    bad = ghost.api("GET", f"/api/v1/flows/{plain['id']}/websocket", params={"limit": 0})
    assert bad.status_code == 400 and "limit" in bad.json()["error"]


def test_deleting_the_flow_deletes_its_messages(ghost, echo_server, tmp_path: Path) -> None:
    talk(ghost, echo_server.ws_url, ["one", "two"])
    flow = websocket_flow(ghost)
    wait_messages(ghost, flow["id"], stored=4)
    assert ghost.api("DELETE", f"/api/v1/flows/{flow['id']}").status_code == 204
    assert ghost.api("GET", f"/api/v1/flows/{flow['id']}/websocket").status_code == 404
    import sqlite3
    with sqlite3.connect(ghost.home / "ghost.db") as conn:
        assert conn.execute("SELECT COUNT(*) FROM websocket_messages").fetchone()[0] == 0
        assert conn.execute("SELECT COUNT(*) FROM websocket_totals").fetchone()[0] == 0


def test_har_export_has_the_messages_and_imports_them_back(ghost, echo_server) -> None:
    script: list[str | bytes] = ["hi", BINARY, HOSTILE]
    talk(ghost, echo_server.wss_url, script)
    flow = websocket_flow(ghost)
    wait_messages(ghost, flow["id"], stored=6)
    har = ghost.api("GET", f"/api/v1/sessions/{flow['session_id']}/export/har")
    assert har.status_code == 200, har.text
    entry = next(e for e in har.json()["log"]["entries"] if e["response"]["status"] == 101)
    sent = entry["_webSocketMessages"]
    assert [(m["type"], m["opcode"]) for m in sent] == [("send", 1), ("receive", 1), ("send", 2), ("receive", 2),
                                                        ("send", 1), ("receive", 1)]
    assert base64.b64decode(sent[2]["data"]) == BINARY and sent[4]["data"] == HOSTILE
    session = ghost.api("POST", "/api/v1/sessions", json={"name": "again"}).json()
    imported = ghost.api("POST", f"/api/v1/sessions/{session['id']}/import/har", content=har.content)
    assert imported.status_code == 200 and imported.json()["imported"] == 1, imported.text
    again = ghost.api("GET", "/api/v1/flows", params={"session_id": session["id"]}).json()["flows"][0]
    page = ghost.api("GET", f"/api/v1/flows/{again['id']}/websocket").json()
    assert [decoded(m) for m in page["messages"]] == expected_messages(script)


def test_the_messages_tab_shows_them_live_and_inert(ghost, echo_server, browser) -> None:  # noqa: F811
    before: list[str | bytes] = [HOSTILE, '{"kind": "json", "n": [1, 2]}', BINARY]
    after: list[str | bytes] = ["later one", "later two"]
    pause, paused = threading.Event(), threading.Event()
    with ThreadPoolExecutor(1) as pool:
        conversation = pool.submit(talk, ghost, echo_server.ws_url, [*before, None, *after],
                                   30.0, pause, paused)
        assert paused.wait(20)
        flow = websocket_flow(ghost)
        wait_messages(ghost, flow["id"], stored=6)
        page, trouble = open_ui(browser, ghost)
        page.locator(".rows .row:not([hidden]) .c-status:text-is('101')").click()
        page.locator(".subtab", has_text="Messages").click()
        rows = page.locator(".ws-row")
        expect(rows).to_have_count(6)
        assert rows.nth(0).locator(".ws-arrow").text_content() == "↑"
        assert rows.nth(1).locator(".ws-arrow").text_content() == "↓"
        assert HOSTILE[:100] in rows.nth(0).locator(".ws-preview").text_content()
        pause.set()  # the socket talks on while the tab is open: the rows come live
        expect(rows).to_have_count(10)
        assert conversation.result(timeout=20)[-1] == "later two"
    assert rows.nth(9).locator(".ws-preview").text_content() == "later two"
    rows.nth(0).click()
    assert page.locator(".ws-detail pre").text_content() == HOSTILE  # as text, exactly
    rows.nth(2).click()
    assert '"n": [\n    1,' in page.locator(".ws-detail pre").text_content()  # JSON pretty-printed
    rows.nth(4).click()
    assert page.locator(".ws-detail pre.hex").text_content().startswith("00000000  00 01 02 03")
    page.fill(".ws-filter", "later")
    expect(rows).to_have_count(4)
    page.select_option(".ws-direction", "server_to_client")
    expect(rows).to_have_count(2)
    assert page.evaluate("window.pwned === undefined")
    assert page.locator("img[src=x]").count() == 0
    assert not trouble, trouble
