"""WebSocket messages in HAR as Chrome writes them (`_webSocketMessages`): exported from a
flow's messages and imported back into them, within bounds."""

from __future__ import annotations

import orjson

from ghost_addons.model import WEBSOCKET_BINARY, WEBSOCKET_TEXT, Flow, WebSocketLog, WebSocketMessage
from plugins.exporters.har import har_document
from plugins.importers.har import har_entry_to_flow, websocket_log
from tests.ghost_addons.factories import make_flow

LOG = WebSocketLog((
    WebSocketMessage(0, True, WEBSOCKET_TEXT, 1_700_000_000.25, '{"hi": "✓"} <script>'.encode()),
    WebSocketMessage(2, False, WEBSOCKET_BINARY, 1_700_000_000.5, bytes(range(256))),
    WebSocketMessage(3, False, WEBSOCKET_TEXT, 1_700_000_001.0, b""),
), dropped=1)


def exported_entry(flow: Flow) -> dict:
    return orjson.loads(b"".join(har_document([flow])))["log"]["entries"][0]


def test_export_writes_chrome_messages_and_import_reads_them_back() -> None:
    flow = make_flow("01A", url="https://example.com/socket", status=101).replace(websocket=LOG)
    entry = exported_entry(flow)
    assert entry["_webSocketMessages"] == [
        {"type": "send", "time": 1_700_000_000.25, "opcode": 1, "data": '{"hi": "✓"} <script>'},
        {"type": "receive", "time": 1_700_000_000.5, "opcode": 2,
         "data": "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEyMzQ1Njc4OTo7PD0+P0BBQkNERUZH"
                 "SElKS0xNTk9QUVJTVFVWV1hZWltcXV5fYGFiY2RlZmdoaWprbG1ub3BxcnN0dXZ3eHl6e3x9fn+AgYKDhIWGh4iJiouMjY6P"
                 "kJGSk5SVlpeYmZqbnJ2en6ChoqOkpaanqKmqq6ytrq+wsbKztLW2t7i5uru8vb6/wMHCw8TFxsfIycrLzM3Oz9DR0tPU1dbX"
                 "2Nna29zd3t/g4eLj5OXm5+jp6uvs7e7v8PHy8/T19vf4+fr7/P3+/w=="},
        {"type": "receive", "time": 1_700_000_001.0, "opcode": 1, "data": ""},
    ]
    back = har_entry_to_flow(entry).websocket
    assert back is not None and back.dropped == 0
    assert [(m.from_client, m.opcode, m.timestamp, m.content) for m in back.messages] == \
        [(m.from_client, m.opcode, m.timestamp, m.content) for m in LOG.messages]
    # kept apart from the entry Ghost keeps in metadata (no second copy), and exported again
    imported = har_entry_to_flow(entry)
    assert "_webSocketMessages" not in imported.metadata["har_entry"]
    again = exported_entry(imported.replace(id="01B", session_id="s"))
    assert again["_webSocketMessages"] == entry["_webSocketMessages"]


def test_a_flow_without_messages_has_no_field() -> None:
    assert "_webSocketMessages" not in exported_entry(make_flow("01A"))
    assert har_entry_to_flow(exported_entry(make_flow("01A"))).websocket is None


def test_import_is_bounded_and_skips_what_it_cannot_read() -> None:
    good = {"type": "send", "time": 1.0, "opcode": 1, "data": "x"}
    odd = [{"type": "send", "time": 1.0, "opcode": 9, "data": ""},  # a ping: not a message Ghost keeps
           {"type": "receive", "time": "soon", "opcode": 1, "data": "x"},
           {"type": "receive", "time": 1.0, "opcode": 2, "data": "not base64!"},
           {"type": "sideways", "time": 1.0, "opcode": 1, "data": "x"}, "junk", None]
    log = websocket_log([good, *odd, good], max_messages=100)
    assert log is not None and [m.seq for m in log.messages] == [0, 7] and log.dropped == len(odd)
    capped = websocket_log([good] * 10, max_messages=4)
    assert capped is not None and len(capped.messages) == 4 and capped.dropped == 6
    assert websocket_log({"not": "a list"}) is None
