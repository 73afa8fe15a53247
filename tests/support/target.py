"""A local target web server (HTTP and HTTPS) that records what it received.

Runs aiohttp on its own event loop in a thread, so tests can use blocking clients.
"""

from __future__ import annotations

import asyncio
import datetime
import gzip
import ipaddress
import ssl
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.support.ports import free_port

SEEN_KEY = web.RequestKey("seen", object)

PNG_BYTES = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)


@dataclass
class Seen:
    method: str
    path: str
    query: str
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None


def make_cert(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName([
            x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "target-cert.pem", directory / "target-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


@dataclass
class Target:
    """The running target: `http_url`, `https_url`, and `seen` requests."""

    http_port: int
    https_port: int
    seen: list[Seen] = field(default_factory=list)
    overrides: dict[str, int] = field(default_factory=dict)  # path -> forced status

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def https_url(self) -> str:
        return f"https://localhost:{self.https_port}"

    def reset(self) -> None:
        self.seen.clear()
        self.overrides.clear()


def make_app(target: Target) -> web.Application:
    async def record(request: web.Request) -> Seen:
        body = await request.read()
        seen = Seen(request.method, request.path, request.query_string,
                    list(request.headers.items()), body)
        target.seen.append(seen)
        return seen

    @web.middleware
    async def remember(request: web.Request, handler: Any) -> web.StreamResponse:
        seen = await record(request)
        request[SEEN_KEY] = seen
        if request.path in target.overrides:
            return web.json_response({"forced": True}, status=target.overrides[request.path])
        return await handler(request)

    async def echo(request: web.Request) -> web.Response:
        seen: Seen = request[SEEN_KEY]
        return web.json_response({
            "method": seen.method, "path": seen.path, "query": seen.query,
            "headers": dict(seen.headers), "body": seen.body.decode("utf-8", "replace"),
        }, headers={"Set-Cookie": "sid=abc; Path=/", "X-Multi": "one"})

    async def json_(request: web.Request) -> web.Response:
        return web.json_response({"items": [1, 2, 3], "ok": True})

    async def image(request: web.Request) -> web.Response:
        return web.Response(body=PNG_BYTES, content_type="image/png")

    async def gz(request: web.Request) -> web.Response:
        body = gzip.compress(orjson.dumps({"compressed": True, "pad": "x" * 500}))
        return web.Response(body=body, headers={"Content-Encoding": "gzip", "Content-Type": "application/json"})

    async def redirect(request: web.Request) -> web.Response:
        raise web.HTTPFound("/json")

    async def status(request: web.Request) -> web.Response:
        code = int(request.match_info["code"])
        return web.json_response({"status": code}, status=code)

    async def size(request: web.Request) -> web.Response:
        n = int(request.match_info["n"])
        return web.Response(body=b"a" * n, content_type="text/plain")

    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(int(request.query.get("ms", "200")) / 1000)
        return web.json_response({"slow": True})

    async def page(request: web.Request) -> web.Response:
        return web.Response(text="<html><head><title>Target</title></head><body><h1>Hello</h1></body></html>",
                            content_type="text/html")

    app = web.Application(middlewares=[remember], client_max_size=64 << 20)
    app.router.add_route("*", "/echo", echo)
    app.router.add_route("*", "/echo/{tail:.*}", echo)
    app.router.add_get("/json", json_)
    app.router.add_get("/image.png", image)
    app.router.add_get("/gzip", gz)
    app.router.add_get("/redirect", redirect)
    app.router.add_route("*", "/status/{code}", status)
    app.router.add_get("/size/{n}", size)
    app.router.add_get("/slow", slow)
    app.router.add_get("/page", page)
    return app


class TargetServer:
    """Start with `start(tmpdir)`, stop with `stop()`; serves both HTTP and HTTPS."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True, name="target")
        self.runner: web.AppRunner | None = None
        self.target = Target(free_port(), free_port())

    def start(self, directory: Path) -> Target:
        cert, key = make_cert(directory)
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(cert, key)
        self.thread.start()

        async def up() -> None:
            self.runner = web.AppRunner(make_app(self.target), access_log=None)
            await self.runner.setup()
            await web.TCPSite(self.runner, "127.0.0.1", self.target.http_port).start()
            await web.TCPSite(self.runner, "127.0.0.1", self.target.https_port, ssl_context=ctx).start()

        asyncio.run_coroutine_threadsafe(up(), self.loop).result(15)
        return self.target

    def stop(self) -> None:
        if self.runner is not None:
            asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(15)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(15)
