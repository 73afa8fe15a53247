from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack
from pathlib import Path

import pytest

from tests.support.ghostproc import GhostProcess
from tests.support.inprocess import TOKEN, Api, StartGhostApp, api_client, running_ghost
from tests.support.target import Target, TargetServer


@pytest.fixture(scope="session")
def target_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    server = TargetServer()
    target = server.start(tmp_path_factory.mktemp("target"))
    try:
        yield target
    finally:
        server.stop()


@pytest.fixture
def target(target_server: Target) -> Target:
    """The shared local target, with its record of seen requests cleared."""
    target_server.reset()
    return target_server


@pytest.fixture
def ghost_factory(tmp_path: Path) -> Iterator[callable]:
    """Make Ghost processes: `ghost_factory(home=None, **GhostProcess kwargs)`; all stopped after."""
    started: list[GhostProcess] = []

    def make(home: Path | None = None, start: bool = True, **kwargs: object) -> GhostProcess:
        proc = GhostProcess(home or tmp_path / f"home{len(started)}", **kwargs)  # type: ignore[arg-type]
        started.append(proc)
        return proc.start() if start else proc

    yield make
    for proc in started:
        proc.stop()


@pytest.fixture
def ghost(ghost_factory: callable) -> GhostProcess:
    """A running Ghost with a temporary home, token 'test-token'."""
    return ghost_factory()


@pytest.fixture
async def ghost_app(tmp_path: Path) -> AsyncIterator[StartGhostApp]:
    """Start real Ghosts in the test's event loop (no proxy): ``api = await ghost_app(plugins)``
    with a tuple of plugin module names; ``api.ghost`` is the Ghost, ``api.call``/``api.ok``
    speak to its API. Every Ghost started is stopped after the test (queue drained, store
    closed). See tests/support/inprocess.py."""
    async with AsyncExitStack() as stack:
        started = 0

        async def start(plugins: tuple[str, ...] = (), *, home: Path | None = None,
                        token: str = TOKEN) -> Api:
            nonlocal started
            started += 1
            home = home or tmp_path / f"ghost-app{started}"
            ghost = await stack.enter_async_context(running_ghost(home, plugins, token=token))
            return await stack.enter_async_context(api_client(ghost))

        yield start
