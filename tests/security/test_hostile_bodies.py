"""Every write route of the live router table, given hostile bodies (empty, JSON of every
wrong kind, NaN, deep nesting, invalid UTF-8, a lone surrogate, 2 MB, a truncated multipart):
always a 2xx or 4xx with an error message, never a 5xx. Complements schemathesis, which
generates bodies from the schema; these are the ones a schema does not think of.

Found: a session import sent as multipart without a boundary was a 500 (now a 400)."""

from __future__ import annotations

import aiohttp
import yarl

from tests.security.helpers import ALL_PLUGINS, fill, journey_of, served_routes, stored_flow

BODIES: dict[str, tuple[bytes, str]] = {
    "empty": (b"", "application/json"),
    "null": (b"null", "application/json"),
    "list": (b"[1, 2]", "application/json"),
    "string": (b'"x"', "application/json"),
    "number": (b"1e999", "application/json"),
    "nan": (b'{"a": NaN}', "application/json"),
    "deep-array": (b"[" * 5000 + b"]" * 5000, "application/json"),
    "deep-object": (b'{"a":' * 3000 + b"1" + b"}" * 3000, "application/json"),
    "truncated": (b'{"name": "x", "url": "http://', "application/json"),
    "invalid-utf8": (b'{"name": "\xff\xfe", "url": "http://a/\xc0"}', "application/json"),
    "lone-surrogate": (b'{"name": "\\ud800", "url": "http://a/\\udfff", "method": "\\ud83d"}', "application/json"),
    "wrong-types": (b'{"name": [], "url": {}, "method": 5, "session_id": true, "enabled": "yes", "priority": "x",'
                    b' "headers": "h", "body": 7, "type": null}', "application/json"),
    "huge": (b'{"name": "' + b"a" * (2 << 20) + b'"}', "application/json"),
    "text": (b"hello", "text/plain"),
    "form": (b"a=1&b=2", "application/x-www-form-urlencoded"),
    "multipart-no-boundary": (b"--x\r\n", "multipart/form-data"),
    "multipart-truncated": (b'--b\r\nContent-Disposition: form-data; name="file"\r\n\r\n{"a"',
                            "multipart/form-data; boundary=b"),
}


def expected_5xx(method: str, path: str, status: int) -> bool:
    """In process there is no proxy, so a flow replay says so with a 503."""
    return status == 503 and path == "/api/v1/flows/{id}/replay"


async def test_no_write_route_answers_a_hostile_body_with_a_5xx(ghost_app) -> None:
    api = await ghost_app(ALL_PLUGINS)
    session = api.ghost.active_session_id
    flow = await stored_flow(api.ghost, "http://app.test/api/items")
    journey = await journey_of(api.ghost, ["http://app.test/api/items"])
    writes = [(m, p) for m, p in served_routes(api.ghost)
              if m in ("POST", "PUT", "PATCH") and not p.endswith("/rotate-token")]
    assert len(writes) > 30
    fivexx = []
    probes = 0
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {api.token}"}) as client:
        for method, path in writes:
            for value in {session, flow, journey}:
                url = api.base + fill(path, value).replace("/import/" + value, "/import/har")
                for name, (body, content_type) in BODIES.items():
                    async with client.request(method, url, data=body, headers={"Content-Type": content_type}) as r:
                        text = await r.text(errors="replace")
                        probes += 1
                        if r.status >= 500 and not expected_5xx(method, path, r.status):
                            fivexx.append((method, path, name, r.status, text[:200]))
                        elif r.status >= 400:
                            assert '"error"' in text, (method, path, name, r.status, text[:200])
    print(f"hostile bodies: {len(writes)} write routes, {probes} probes, {len(fivexx)} 5xx")
    for item in sorted(set((m, p, n, s, t[:120]) for m, p, n, s, t in fivexx)):
        print("5xx:", item)
    assert fivexx == []


QUERIES = [
    "limit=-1", "limit=99999999999999999999", "limit=1e3", "limit=NaN", "offset=-5", "offset=abc",
    "session_id=%00", "session_id=%FF%FE", "session_id=" + "a" * 5000, "q=%22unclosed", "q=" + "a:" * 500,
    "q=status:%3E%3E%3E", "q=-", "q=%5C", "format=%00", "format=../../etc/passwd", "delay_ms=1e309",
    "a=%ED%A0%80&b=x", "flow_id=%2e%2e", "token=x", "limit=1&limit=2", "%ZZ=1", "since=9999-99-99",
]


async def test_no_read_route_answers_a_hostile_query_with_a_5xx(ghost_app) -> None:
    api = await ghost_app(ALL_PLUGINS)
    session = api.ghost.active_session_id
    flow = await stored_flow(api.ghost, "http://app.test/api/items")
    reads = [p for m, p in served_routes(api.ghost) if m == "GET" and not p.endswith("/ws")]
    fivexx = []
    probes = 0
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {api.token}"}) as client:
        for path in reads:
            for value in {session, flow}:
                for query in QUERIES:
                    url = api.base + fill(path, value) + "?" + query
                    async with client.get(yarl.URL(url, encoded=True)) as r:
                        await r.read()
                        probes += 1
                        if r.status >= 500 and not (r.status == 503 and path == "/api/v1/health"):
                            fivexx.append((path, query[:60], r.status))
    print(f"hostile queries: {len(reads)} read routes, {probes} probes, {len(fivexx)} 5xx")
    assert fivexx == []
