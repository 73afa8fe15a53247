"""`GhostPluginManager.direct(name)` calls a hook exactly as pluggy would, only cheaper."""

from __future__ import annotations

from typing import Any

import pytest

from ghost_addons.hookspecs import hookimpl
from ghost_addons.plugins import GhostPluginManager, is_empty, make_plugin_manager


class Recorder:
    def __init__(self, name: str, calls: list[str], result: Any = None) -> None:
        self.name, self.calls, self.result = name, calls, result

    @hookimpl
    def ghost_event(self, type: str, data: Any) -> Any:  # takes a subset of the hook's arguments
        self.calls.append(f"{self.name}:{type}:{data}")
        return self.result


class First(Recorder):
    @hookimpl(tryfirst=True)
    def ghost_event(self, type: str, data: Any) -> Any:
        self.calls.append(f"{self.name}:{type}:{data}")
        return self.result


def manager(*plugins: object) -> GhostPluginManager:
    pm = make_plugin_manager((), entry_points=False)
    for n, plugin in enumerate(plugins):
        pm.register(plugin, name=f"p{n}")
    return pm


def test_direct_caller_matches_pluggy_order_arguments_and_results() -> None:
    pluggy_calls: list[str] = []
    direct_calls: list[str] = []

    def plugins(calls: list[str]) -> list[object]:
        return [Recorder("a", calls, 1), First("first", calls), Recorder("b", calls, 2)]

    via_pluggy = manager(*plugins(pluggy_calls)).hook.ghost_event(ghost=None, type="t", data=7)
    via_direct = manager(*plugins(direct_calls)).direct("ghost_event")(ghost=None, type="t", data=7)
    assert via_direct == via_pluggy == [2, 1]  # None results left out, last registered first
    assert direct_calls == pluggy_calls == ["first:t:7", "b:t:7", "a:t:7"]


def test_a_single_implementation_is_called_like_pluggy_would() -> None:
    calls: list[str] = []
    assert manager(Recorder("only", calls)).direct("ghost_event")(ghost=None, type="t", data=1) == []
    assert manager(Recorder("only", calls, 0)).direct("ghost_event")(ghost=None, type="t", data=2) == [0]
    assert calls == ["only:t:1", "only:t:2"]


def test_a_hook_nobody_implements_is_empty() -> None:
    pm = manager()
    assert is_empty(pm.direct("ghost_capture"))
    assert pm.direct("ghost_capture")(ghost=None, flow=None, record=None) == []


def test_registering_or_unregistering_rebuilds_the_caller() -> None:
    calls: list[str] = []
    pm = manager()
    assert pm.direct("ghost_event")(ghost=None, type="x", data=0) == []
    plugin = Recorder("late", calls, "seen")
    pm.register(plugin, name="late")
    assert pm.direct("ghost_event")(ghost=None, type="x", data=1) == ["seen"]
    pm.unregister(plugin)
    assert pm.direct("ghost_event")(ghost=None, type="x", data=2) == []
    assert calls == ["late:x:1"]


def test_exceptions_reach_the_caller() -> None:
    class Broken:
        @hookimpl
        def ghost_event(self, type: str) -> None:
            raise ValueError(f"cannot handle {type}")

    with pytest.raises(ValueError, match="cannot handle boom"):
        manager(Broken()).direct("ghost_event")(ghost=None, type="boom", data=None)


def test_wrappers_keep_pluggys_caller() -> None:
    order: list[str] = []

    class Wrapper:
        @hookimpl(wrapper=True)
        def ghost_event(self, type: str) -> Any:
            order.append("before")
            result = yield
            order.append("after")
            return result

    pm = manager(Recorder("inner", order, 3), Wrapper())
    assert pm.direct("ghost_event")(ghost=None, type="w", data=None) == [3]
    assert order == ["before", "inner:w:None", "after"]
