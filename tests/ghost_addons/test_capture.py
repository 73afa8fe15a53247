import asyncio
import tracemalloc

import pytest
from mitmproxy.test import tflow

from ghost_addons.capture import (
    ConnectionsSeen,
    ResolutionTimer,
    flow_record,
    tag_flow,
    take_interaction_header,
    timings_of,
)


def test_record_from_a_mitmproxy_flow() -> None:
    f = tflow.tflow(resp=True)
    f.request.headers["X-Ghost-Interaction"] = "int-7"
    take_interaction_header(f)
    tag_flow(f, "rule:x")
    f.response.content = b"x" * 50
    record = flow_record(f, "s1", max_body_size=10)
    assert "X-Ghost-Interaction" not in f.request.headers
    assert record.interaction_id == "int-7" and record.tags == ["rule:x"] and record.session_id == "s1"
    assert record.response.body == b"x" * 10 and record.response.body_size == 50
    assert record.request.method == f.request.method and record.request.path == "/path"
    assert record.id == flow_record(f, "s1").id   # stable per live flow


def test_error_flow_has_no_response() -> None:
    f = tflow.tflow(err=True)
    record = flow_record(f, "s")
    assert record.response is None and record.error


def test_connections_seen_once() -> None:
    seen = ConnectionsSeen(capacity=2)
    assert seen.first_use("a") and not seen.first_use("a")
    seen.first_use("b"), seen.first_use("c")
    assert seen.first_use("a")   # forgotten beyond capacity


def test_a_connections_lookup_time_goes_to_its_first_flow_once() -> None:
    seen = ConnectionsSeen(capacity=2)
    seen.resolved("a", 1500)
    assert seen.lookup_us("a") == 1500 and seen.lookup_us("a") == -1
    seen.resolved("b", 1), seen.resolved("c", 2), seen.resolved("d", 3)
    assert seen.lookup_us("b") == -1 and seen.lookup_us("d") == 3   # bounded


def _timed_flow() -> object:
    f = tflow.tflow(resp=True)
    f.server_conn.timestamp_start = 100.0
    f.server_conn.timestamp_tcp_setup = 100.030   # lookup (10 ms) and TCP handshake (20 ms)
    f.server_conn.timestamp_tls_setup = 100.050
    f.request.timestamp_start, f.request.timestamp_end = 100.0, 100.001
    f.response.timestamp_start, f.response.timestamp_end = 100.060, 100.070
    return f


def test_the_lookup_is_taken_out_of_connect_time() -> None:
    t = timings_of(_timed_flow(), True, 10_000)
    assert (t.dns_us, t.connect_us, t.tls_us, t.wait_us, t.receive_us) == (10_000, 20_000, 20_000, 10_000, 10_000)
    t = timings_of(_timed_flow(), True)   # no lookup (an IP literal): connect keeps it all
    assert (t.dns_us, t.connect_us) == (-1, 30_000)
    t = timings_of(_timed_flow(), False, 10_000)   # a reused connection has neither
    assert (t.dns_us, t.connect_us, t.tls_us) == (-1, -1, -1)
    assert timings_of(_timed_flow(), True, 99_000).connect_us == 0   # never negative


def test_the_resolution_timer_times_the_lookups_of_its_own_task() -> None:
    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        timer = ResolutionTimer()
        timer.install(loop)

        async def open_connection() -> int:   # as mitmproxy opens each server connection
            server = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0)
            port = server.sockets[0].getsockname()[1]
            _, writer = await asyncio.open_connection("localhost", port)
            writer.close()
            server.close()
            return timer.take()

        assert await asyncio.create_task(open_connection()) >= 0
        assert timer.take() == -1   # another task's lookup is not this one's
        await loop.getaddrinfo("localhost", 80)
        assert timer.take() >= 0 and timer.take() == -1
        timer.uninstall()
        assert "getaddrinfo" not in loop.__dict__
        await loop.getaddrinfo("localhost", 80)
        assert timer.take() == -1

    asyncio.run(scenario())


def _compress(encoding: str, data: bytes) -> bytes:
    import gzip
    import zlib

    import brotli

    if encoding == "gzip":
        return gzip.compress(data)
    if encoding == "deflate":
        return zlib.compress(data)
    if encoding == "br":
        return brotli.compress(data, quality=1)
    from mitmproxy.net.encoding import zstd  # the module mitmproxy decodes zstd with

    return zstd.compress(data)


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "br", "zstd"])
def test_a_compression_bomb_is_decoded_only_up_to_the_limit(encoding: str) -> None:
    """Seen failing before: 64 MB decoded from a body of a few hundred KB, whatever the limit."""
    bomb = _compress(encoding, b"\0" * (64 << 20))
    assert len(bomb) < 300_000
    f = tflow.tflow(resp=True)
    f.response.headers["Content-Encoding"] = encoding
    f.response.raw_content = bomb
    tracemalloc.start()
    try:
        record = flow_record(f, "s", max_body_size=1 << 20)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 << 20, f"decoding took {peak:,} bytes"
    assert record.response is not None
    assert record.response.body == b"\0" * (1 << 20)
    assert record.response.body_size == (1 << 20) + 1   # a lower bound: decoding stopped there
    assert record.response.to_dict()["body_truncated"] is True


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "br", "zstd"])
def test_bodies_within_the_limit_are_decoded_whole(encoding: str) -> None:
    f = tflow.tflow(resp=True)
    f.response.headers["Content-Encoding"] = encoding
    f.response.raw_content = _compress(encoding, b'{"a": 1}' * 1000)
    record = flow_record(f, "s", max_body_size=8000)
    assert record.response is not None
    assert record.response.body == b'{"a": 1}' * 1000 and record.response.body_size == 8000
    assert record.response.to_dict()["body_truncated"] is False


def test_a_body_that_does_not_decode_is_kept_as_it_came() -> None:
    f = tflow.tflow(resp=True)
    f.response.headers["Content-Encoding"] = "gzip"
    f.response.raw_content = b"not gzip at all"
    record = flow_record(f, "s", max_body_size=100)
    assert record.response is not None and record.response.body == b"not gzip at all"


def test_bodies_are_capped_at_32_mb_by_default() -> None:
    from ghost_addons.config import CORE_SETTINGS

    setting = next(s for s in CORE_SETTINGS["store"] if s.key == "max_flow_body_size")
    assert setting.default == 32 * 1024 * 1024
