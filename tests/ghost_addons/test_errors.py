"""Domain errors become their HTTP status and `{"error": message}` in one place: the
API's `errors` middleware, exercised here on a real aiohttp app."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web

from ghost_addons.api.app import ERROR_STATUS, errors, status_of
from ghost_addons.api.http import ApiError
from ghost_addons.errors import (
    Conflict,
    GhostError,
    InvalidInput,
    NotFound,
    TimedOut,
    Unavailable,
    UpstreamFailed,
)

EXPECTED = [
    (InvalidInput, 400),
    (NotFound, 404),
    (Conflict, 409),
    (UpstreamFailed, 502),
    (Unavailable, 503),
    (TimedOut, 504),
]


class RecordingGone(NotFound):
    """A feature's own, finer kind of a mapped error."""


class Unmapped(GhostError):
    """A domain error nobody gave a status: a bug, so a 500."""


def raising(error: Exception) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def handler(request: web.Request) -> web.Response:
        raise error

    return handler


@pytest.fixture
async def client(aiohttp_client: Any) -> Any:
    app = web.Application(middlewares=[errors])
    for kind, _ in EXPECTED:
        app.router.add_get(f"/{kind.__name__}", raising(kind(f"{kind.__name__}: what went wrong")))
    app.router.add_get("/subclass", raising(RecordingGone("journey J was deleted while recording")))
    app.router.add_get("/unmapped", raising(Unmapped("nobody mapped me")))
    app.router.add_get("/api-error", raising(ApiError(413, "request body is too large")))
    return await aiohttp_client(app)


def test_every_kind_has_one_status() -> None:
    assert ERROR_STATUS == dict(EXPECTED)


@pytest.mark.parametrize(("kind", "status"), EXPECTED, ids=[k.__name__ for k, _ in EXPECTED])
async def test_domain_error_becomes_its_status_and_message(client, kind: type[GhostError], status: int) -> None:
    response = await client.get(f"/{kind.__name__}")
    assert response.status == status
    assert response.content_type == "application/json"
    assert await response.json() == {"error": f"{kind.__name__}: what went wrong"}


async def test_a_subclass_takes_its_base_status(client) -> None:
    response = await client.get("/subclass")
    assert response.status == 404
    assert await response.json() == {"error": "journey J was deleted while recording"}
    assert status_of(RecordingGone("x")) == 404


async def test_unmapped_domain_error_is_a_500(client) -> None:
    response = await client.get("/unmapped")
    assert response.status == 500
    assert (await response.json())["error"] == "internal error: Unmapped: nobody mapped me"
    assert status_of(Unmapped("x")) is None


async def test_api_error_keeps_its_own_status(client) -> None:
    response = await client.get("/api-error")
    assert response.status == 413
    assert await response.json() == {"error": "request body is too large"}


def test_invalid_input_is_a_value_error() -> None:
    # So the extension protocol's "raise ValueError to refuse" covers it.
    with pytest.raises(ValueError, match="bad value"):
        raise InvalidInput("bad value")
    assert InvalidInput("bad value").message == str(InvalidInput("bad value")) == "bad value"
