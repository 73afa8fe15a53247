from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.ghostproc import GhostProcess
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
