"""An export that fails after its download started must fail visibly: the connection is
aborted (no terminating chunk), never a complete-looking, silently truncated file."""

from __future__ import annotations

import asyncio
import socket

import httpx
import pytest

from tests.ghost_addons.factories import make_flow
from tests.plugins.exporters.failing_exporter import FIRST_CHUNK

PLUGINS = ("plugins.exporters", "tests.plugins.exporters.failing_exporter")


def download(url: str, token: str) -> bytes:
    with httpx.stream("GET", url, headers={"Authorization": f"Bearer {token}"}, timeout=30) as response:
        assert response.status_code == 200
        return b"".join(response.iter_raw())


def raw_download(base: str, url: str, token: str) -> bytes:
    host, port = base.removeprefix("http://").split(":")
    path = url.removeprefix(base)
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: Bearer {token}\r\n"
                     "Connection: keep-alive\r\n\r\n".encode())
        data = b""
        while chunk := sock.recv(1 << 20):
            data += chunk
    return data


async def test_a_failure_mid_export_aborts_the_download(ghost_app) -> None:
    """Seen failing before: the client got a 200 with a well-formed chunked body (the 500
    spliced in), i.e. a file that looked complete."""
    api = await ghost_app(PLUGINS)
    ghost = api.ghost
    session = ghost.active_session_id
    await ghost.store.add_flows([make_flow(f"01E{i:04d}", session_id=session) for i in range(3)])
    url = f"{api.base}/api/v1/sessions/{session}/export/failing"
    # batches of one flow: the first batch's chunk goes out, the second batch fails
    original = ghost.store.iter_session_flows

    def one_at_a_time(session_id, batch=1, **kwargs):  # type: ignore[no-untyped-def]
        return original(session_id, batch=1, **kwargs)

    ghost.store.iter_session_flows = one_at_a_time  # type: ignore[method-assign]
    with pytest.raises(httpx.RemoteProtocolError, match="without sending complete message body"):
        await asyncio.to_thread(download, url, api.token)
    raw = await asyncio.to_thread(raw_download, api.base, url, api.token)
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200") and b"chunked" in head.lower()
    assert b"HTTP/1.1 500" not in body   # no error response spliced into the file
    assert not body.endswith(b"0\r\n\r\n")   # no terminating chunk: the download is incomplete
    assert len(body) > len(FIRST_CHUNK)   # the failure came after the download started
    status, body = await api.call("GET", f"/api/v1/sessions/{session}/export/json")
    assert status == 200 and len(body) > 0   # the server goes on serving
