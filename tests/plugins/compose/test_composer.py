"""The composer against a real local aiohttp server (allowed through the allow-list)."""

import base64
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from ghost_addons.ssrf import AllowList, OutboundGuard
from plugins.compose.composer import MAX_RESPONSE_BYTES, ComposeError, parse_compose, send
from tests.support.ports import free_port


@pytest.fixture
async def server() -> AsyncIterator[str]:
    seen: list[web.Request] = []

    async def echo(request: web.Request) -> web.Response:
        seen.append(request)
        body = await request.read()
        return web.json_response({"method": request.method, "body": body.decode("latin-1"),
                                  "x": request.headers.get("X-Test", "")},
                                 headers={"X-Multi": "1"})

    async def big(request: web.Request) -> web.Response:
        return web.Response(body=b"a" * (MAX_RESPONSE_BYTES + 10), content_type="text/plain")

    async def redirect(request: web.Request) -> web.Response:
        raise web.HTTPFound(request.query["to"])

    async def png(request: web.Request) -> web.Response:
        return web.Response(body=b"\x89PNG\x00\xff", content_type="image/png")

    app = web.Application()
    app.router.add_route("*", "/echo", echo)
    app.router.add_get("/big", big)
    app.router.add_get("/redirect", redirect)
    app.router.add_get("/png", png)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    await web.TCPSite(runner, "127.0.0.2", port).start()  # a second loopback address
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


def no_api(host: str, port: int) -> bool:
    return False


def guard_allowing(*allow: str) -> OutboundGuard:
    return OutboundGuard(no_api, AllowList.parse(allow))


def allowed() -> OutboundGuard:
    return guard_allowing("127.0.0.1")


async def test_sends_method_headers_body(server: str) -> None:
    req = parse_compose({"method": "patch", "url": f"{server}/echo",
                         "headers": {"X-Test": "yes", "Content-Length": "999"}, "body": "hi"})
    out = await send(req, allowed())
    assert out["status_code"] == 200 and out["status_text"] == "OK"
    assert out["body_encoding"] == "utf8"
    assert '"method": "PATCH"' in out["body"] and '"body": "hi"' in out["body"]
    assert '"x": "yes"' in out["body"]
    assert out["headers"]["X-Multi"] == "1"
    assert out["duration_ms"] > 0


async def test_binary_response_is_base64(server: str) -> None:
    out = await send(parse_compose({"url": f"{server}/png"}), allowed())
    assert out["body_encoding"] == "base64"
    assert base64.b64decode(out["body"]) == b"\x89PNG\x00\xff"


async def test_response_body_is_cut_at_1_mb(server: str) -> None:
    out = await send(parse_compose({"url": f"{server}/big"}), allowed())
    assert len(out["body"]) == MAX_RESPONSE_BYTES and out["body_truncated"] is True


async def test_loopback_is_refused_without_the_allow_list(server: str) -> None:
    with pytest.raises(ComposeError, match="loopback") as info:
        await send(parse_compose({"url": f"{server}/echo"}), guard_allowing())
    assert info.value.status == 403


async def test_localhost_name_is_refused_by_the_resolver(server: str) -> None:
    url = server.replace("127.0.0.1", "localhost")
    with pytest.raises(ComposeError, match="loopback") as info:
        await send(parse_compose({"url": f"{url}/echo"}), guard_allowing())
    assert info.value.status == 403


async def test_redirect_to_a_forbidden_address_is_refused(server: str) -> None:
    guard = guard_allowing("127.0.0.2")  # 127.0.0.2 is allowed, 127.0.0.1 is not
    url = server.replace("127.0.0.1", "127.0.0.2")
    req = parse_compose({"url": f"{url}/redirect?to={server}/echo", "follow_redirects": True})
    with pytest.raises(ComposeError, match="refused") as info:
        await send(req, guard)
    assert info.value.status == 403
    not_followed = await send(parse_compose({"url": f"{url}/redirect?to=/echo"}), guard)
    assert not_followed["status_code"] == 302


async def test_refused_connection_is_502() -> None:
    with pytest.raises(ComposeError, match="could not connect") as info:
        await send(parse_compose({"url": f"http://127.0.0.1:{free_port()}/"}), allowed())
    assert info.value.status == 502


@pytest.mark.parametrize("body,message", [
    ({}, "field 'url' is required"),
    ({"url": "ftp://h/"}, "absolute http:// or https://"),
    ({"url": "http://h:99999/"}, "is not valid"),
    ({"url": "http://h/", "method": "GE T"}, "not a valid HTTP method"),
    ({"url": "http://h/", "headers": {"Bad Name": "x"}}, "not a valid HTTP token"),
    ({"url": "http://h/", "headers": {"X": "a\r\nB: c"}}, "line break"),
    ({"url": "http://h/", "body": "***", "body_encoding": "base64"}, "not valid base64"),
    ({"url": "http://h/", "timeout_ms": 0}, "timeout_ms"),
    ({"url": "http://h/", "body": 5}, "'body' must be a string"),
])
def test_bad_input_names_the_field(body: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_compose(body)


async def test_insecure_skips_certificate_checks_as_curl_k_does(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import ssl

    from tests.support.target import make_cert

    cert, key = make_cert(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    app = web.Application()
    app.router.add_get("/", lambda request: web.Response(text="tls ok"))
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port, ssl_context=context).start()
    try:
        url = f"https://127.0.0.1:{port}/"
        with pytest.raises(ComposeError) as refused:  # before, -k was ignored: this, always
            await send(parse_compose({"url": url}), allowed())
        assert refused.value.status == 502 and "CERTIFICATE_VERIFY_FAILED" in refused.value.message
        result = await send(parse_compose({"url": url, "insecure": True}), allowed())
        assert result["status_code"] == 200 and result["body"] == "tls ok"
    finally:
        await runner.cleanup()


async def test_a_timeout_is_a_504_that_says_so() -> None:
    import asyncio

    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(5)
        return web.Response(text="late")

    app = web.Application()
    app.router.add_get("/", slow)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        with pytest.raises(ComposeError) as late:  # before: 502 "could not connect to 127.0.0.1: "
            await send(parse_compose({"url": f"http://127.0.0.1:{port}/", "timeout_ms": 200}),
                       allowed())
        assert late.value.status == 504
        assert late.value.message.startswith("no answer from 127.0.0.1 within 0.2 s")
    finally:
        await runner.cleanup()


def test_the_method_keeps_its_case() -> None:
    assert parse_compose({"method": "wHat", "url": "http://h/"}).method == "wHat"
