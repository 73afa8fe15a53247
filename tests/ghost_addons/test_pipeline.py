"""The proxy pipeline of ghost_addons/addon.py, without sockets.

`run_stages` is driven directly with a real plugin manager and small test plugins; the
`GhostAddon` hooks run inside mitmproxy's `taddons.context` (as mitmproxy's own
test_intercept.py does) over a real in-process Ghost, so capture, the store and
`ghost_flow_stored` are the production ones.

`tctx.cycle(addon, tflow.tflow(resp=True))` is not used for whole flows: the flow carries
its response (or, with `err=True`, its error) already when the `request` hook runs, which
Ghost rightly reads as "a stage answered (or killed) it" and so skips the request stages. `exchange()` below plays one flow in the
order mitmproxy's HTTP layer does (mitmproxy/proxy/layers/http/__init__.py), with the
upstream's answer arriving only after the request hooks.

Expected orders are written out literally: they are the spec (DESIGN.md, hookspecs.py),
so reordering `REQUEST_STAGES` or `RESPONSE_STAGES` must fail here.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import pytest
from mitmproxy import flow as mflow
from mitmproxy import http
from mitmproxy.proxy.layers.http import (
    HttpErrorHook,
    HttpRequestHeadersHook,
    HttpRequestHook,
    HttpResponseHeadersHook,
    HttpResponseHook,
)
from mitmproxy.test import taddons, tflow, tutils

from ghost_addons.addon import REQUEST_STAGES, RESPONSE_STAGES, GhostAddon, run_stages
from ghost_addons.core import Ghost
from ghost_addons.hookspecs import hookimpl
from ghost_addons.model import Flow
from ghost_addons.plugins import GhostPluginManager, make_plugin_manager
from tests.support.inprocess import StartGhostApp

STAGE_HOOKS = ("ghost_breakpoints", "ghost_map_rules", "ghost_addons")
Action = Callable[[http.HTTPFlow, str], Awaitable[None] | None]


def plugin(*, tryfirst: bool = False, trylast: bool = False, wrapper: bool = False,
           **hooks: Callable[..., Any]) -> SimpleNamespace:
    """A plugin object whose attributes are hook implementations, named after their hook."""
    marker = hookimpl(tryfirst=tryfirst, trylast=trylast, wrapper=wrapper)
    return SimpleNamespace(**{name: marker(function) for name, function in hooks.items()})


def recorder(log: list[str], actions: dict[str, Action] | None = None) -> SimpleNamespace:
    """Implements the three stages: appends "<stage>:<phase>" to `log` as each runs, then
    does that stage's action (answer, kill, wait...) if it has one."""
    actions = actions or {}

    def stage(hook: str) -> Callable[[http.HTTPFlow, str], Awaitable[None] | None]:
        def run(flow: http.HTTPFlow, phase: str) -> Awaitable[None] | None:
            log.append(f"{hook.removeprefix('ghost_')}:{phase}")
            action = actions.get(hook)
            return action(flow, phase) if action else None
        return run

    return plugin(**{hook: stage(hook) for hook in STAGE_HOOKS})


@dataclass
class PmOnly:
    """Everything `run_stages` reads from its Ghost."""

    pm: GhostPluginManager


def host(*plugins: object) -> PmOnly:
    pm = make_plugin_manager([], entry_points=False)
    for index, each in enumerate(plugins):
        pm.register(each, name=f"test-plugin-{index}")
    pm.check_pending()  # a misspelt hook name fails here, not silently
    return PmOnly(pm)


def answer(flow: http.HTTPFlow, phase: str) -> None:
    flow.response = http.Response.make(204)


def kill(flow: http.HTTPFlow, phase: str) -> None:
    flow.kill()


def fail(flow: http.HTTPFlow, phase: str) -> None:
    flow.error = mflow.Error("upstream went away")


def later(action: Action) -> Action:
    """The same action done by an async stage, after a turn of the event loop."""
    async def run(flow: http.HTTPFlow, phase: str) -> None:
        await asyncio.sleep(0)
        await_me = action(flow, phase)
        if await_me is not None:
            await await_me
    return run


def phase_flow(phase: str) -> http.HTTPFlow:
    return tflow.tflow(resp=phase == "response")


def stages_of(phase: str) -> tuple[str, ...]:
    return REQUEST_STAGES if phase == "request" else RESPONSE_STAGES


async def settle(pending: Awaitable[None] | None) -> None:
    if pending is not None:
        await asyncio.wait_for(pending, 5)


# --- run_stages -------------------------------------------------------------------------------


def test_request_stages_run_breakpoints_then_map_rules_then_addons() -> None:
    log: list[str] = []
    result = run_stages(host(recorder(log)), REQUEST_STAGES, tflow.tflow(), "request")
    assert result is None  # all synchronous: no awaitable, the cheap path
    assert log == ["breakpoints:request", "map_rules:request", "addons:request"]


def test_response_stages_run_map_rules_then_addons_then_breakpoints() -> None:
    log: list[str] = []
    result = run_stages(host(recorder(log)), RESPONSE_STAGES, tflow.tflow(resp=True), "response")
    assert result is None
    # the response is set all through this phase: it never counts as "answered"
    assert log == ["map_rules:response", "addons:response", "breakpoints:response"]


def test_stages_nobody_implements_are_skipped_and_cost_no_awaitable() -> None:
    assert run_stages(host(), REQUEST_STAGES, tflow.tflow(), "request") is None
    log: list[str] = []
    only_addons = plugin(ghost_addons=lambda phase: log.append(phase))
    assert run_stages(host(only_addons), RESPONSE_STAGES, tflow.tflow(resp=True), "response") is None
    assert log == ["response"]


@pytest.mark.parametrize("phase", ["request", "response"])
async def test_an_async_stage_in_the_middle_holds_the_later_ones_until_it_is_done(phase: str) -> None:
    log: list[str] = []
    release = asyncio.Event()

    async def hold(flow: http.HTTPFlow, phase: str) -> None:
        log.append("map_rules:started")
        await release.wait()
        log.append("map_rules:done")

    pending = run_stages(host(recorder(log, actions={"ghost_map_rules": hold})), stages_of(phase),
                         phase_flow(phase), phase)
    assert pending is not None and inspect.isawaitable(pending)
    first = "breakpoints" if phase == "request" else None
    before = [f"{first}:{phase}"] if first else []
    assert log == [*before, f"map_rules:{phase}"]  # nothing after the async stage ran yet
    task = asyncio.ensure_future(pending)
    for _ in range(5):
        await asyncio.sleep(0)
    assert log == [*before, f"map_rules:{phase}", "map_rules:started"]
    release.set()
    await asyncio.wait_for(task, 5)
    after = [f"addons:{phase}"] + ([] if phase == "request" else [f"breakpoints:{phase}"])
    assert log == [*before, f"map_rules:{phase}", "map_rules:started", "map_rules:done", *after]


async def test_sync_and_async_stages_mixed_all_run_in_order() -> None:
    log: list[str] = []

    async def async_step(flow: http.HTTPFlow, phase: str) -> None:
        await asyncio.sleep(0)
        log.append("breakpoints:awaited")

    def future_step(flow: http.HTTPFlow, phase: str) -> asyncio.Future[None]:
        # any awaitable counts, not only coroutines: a future resolved a little later
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        asyncio.get_running_loop().call_later(0.01, done.set_result, None)
        done.add_done_callback(lambda _: log.append("addons:resolved"))
        return done

    pending = run_stages(host(recorder(log, actions={"ghost_breakpoints": async_step, "ghost_addons": future_step})),
                         REQUEST_STAGES, tflow.tflow(), "request")
    assert log == ["breakpoints:request"]
    await settle(pending)
    assert log == ["breakpoints:request", "breakpoints:awaited", "map_rules:request", "addons:request",
                   "addons:resolved"]


@pytest.mark.parametrize(("answering", "ran"), [
    ("ghost_breakpoints", ["breakpoints:request"]),
    ("ghost_map_rules", ["breakpoints:request", "map_rules:request"]),
])
@pytest.mark.parametrize("style", ["sync", "async"])
async def test_a_stage_that_answers_a_request_stops_the_later_request_stages(
        answering: str, ran: list[str], style: str) -> None:
    log: list[str] = []
    action = answer if style == "sync" else later(answer)
    f = tflow.tflow()
    pending = run_stages(host(recorder(log, actions={answering: action})), REQUEST_STAGES, f, "request")
    assert (pending is None) == (style == "sync")
    await settle(pending)
    assert f.response is not None and f.response.status_code == 204
    assert log == ran


@pytest.mark.parametrize(("phase", "killing", "ran"), [
    ("request", "ghost_breakpoints", ["breakpoints:request"]),
    ("request", "ghost_map_rules", ["breakpoints:request", "map_rules:request"]),
    ("response", "ghost_map_rules", ["map_rules:response"]),
    ("response", "ghost_addons", ["map_rules:response", "addons:response"]),
])
@pytest.mark.parametrize("how", [kill, fail, later(kill), later(fail)],
                         ids=["kill", "error", "async-kill", "async-error"])
async def test_a_stage_that_kills_the_flow_stops_every_later_stage(
        phase: str, killing: str, ran: list[str], how: Action) -> None:
    log: list[str] = []
    f = phase_flow(phase)
    await settle(run_stages(host(recorder(log, actions={killing: how})), stages_of(phase), f, phase))
    assert f.error is not None
    assert log == ran


def test_a_flow_killed_before_the_pipeline_runs_no_stage() -> None:
    log: list[str] = []
    f = tflow.tflow(resp=True)
    f.kill()
    assert run_stages(host(recorder(log)), RESPONSE_STAGES, f, "response") is None
    assert log == []


def pluggy_order_plugins(log: list[str]) -> list[SimpleNamespace]:
    def mark(label: str) -> Callable[[str], None]:
        return lambda phase: log.append(label)

    # registered in this order; pluggy calls the last registered first, tryfirst before
    # and trylast after the rest
    return [plugin(ghost_map_rules=mark("first-registered")),
            plugin(ghost_map_rules=mark("second-registered")),
            plugin(tryfirst=True, ghost_map_rules=mark("tryfirst")),
            plugin(trylast=True, ghost_map_rules=mark("trylast"))]


def test_several_implementations_of_one_stage_run_in_pluggys_order() -> None:
    log: list[str] = []
    plugins = pluggy_order_plugins(log)
    assert run_stages(host(*plugins), ("ghost_map_rules",), tflow.tflow(), "request") is None
    expected = ["tryfirst", "second-registered", "first-registered", "trylast"]
    assert log == expected
    log.clear()  # and it is the order pluggy's own call gives
    host(*plugins).pm.hook.ghost_map_rules(ghost=None, flow=tflow.tflow(), phase="request")
    assert log == expected


async def test_every_implementation_of_a_stage_finishes_before_the_next_stage() -> None:
    log: list[str] = []

    async def slow(phase: str) -> None:
        await asyncio.sleep(0.01)
        log.append("map_rules:slow")

    plugins = [plugin(ghost_map_rules=slow),
               plugin(ghost_map_rules=lambda phase: log.append("map_rules:quick")),
               plugin(ghost_addons=lambda phase: log.append("addons"))]
    await settle(run_stages(host(*plugins), REQUEST_STAGES, tflow.tflow(), "request"))
    assert sorted(log[:2]) == ["map_rules:quick", "map_rules:slow"] and log[2:] == ["addons"]


def test_a_wrapper_around_a_stage_sees_it_whole() -> None:
    """A wrapper makes Ghost fall back to pluggy's own call: the stage still runs, in order."""
    log: list[str] = []

    def around(phase: str) -> Iterator[None]:
        log.append("wrapper:before")
        result = yield
        log.append("wrapper:after")
        return result

    plugins = [recorder(log), plugin(wrapper=True, ghost_map_rules=around)]
    assert run_stages(host(*plugins), REQUEST_STAGES, tflow.tflow(), "request") is None
    assert log == ["breakpoints:request", "wrapper:before", "map_rules:request", "wrapper:after",
                   "addons:request"]


# --- GhostAddon over a real Ghost ---------------------------------------------------------------


class Lifecycle:
    """A test plugin on every hook a flow passes through, recording the order."""

    def __init__(self, actions: dict[str, Action] | None = None, store: bool = True) -> None:
        self.log: list[str] = []
        self.stage = recorder(self.log, actions=actions)
        self.store = store
        self.stored: asyncio.Queue[Flow] = asyncio.Queue()

    @hookimpl
    def ghost_breakpoints(self, flow: http.HTTPFlow, phase: str) -> Awaitable[None] | None:
        return self.stage.ghost_breakpoints(flow, phase)

    @hookimpl
    def ghost_map_rules(self, flow: http.HTTPFlow, phase: str) -> Awaitable[None] | None:
        return self.stage.ghost_map_rules(flow, phase)

    @hookimpl
    def ghost_addons(self, flow: http.HTTPFlow, phase: str) -> Awaitable[None] | None:
        return self.stage.ghost_addons(flow, phase)

    @hookimpl
    def ghost_capture(self, record: Flow) -> None:
        self.log.append("capture")
        record.tags.append("captured-by-test")

    @hookimpl
    def ghost_should_store(self, record: Flow) -> bool:
        self.log.append("should_store")
        return self.store

    @hookimpl
    def ghost_flow_stored(self, flow: Flow) -> None:
        self.log.append("flow_stored")
        self.stored.put_nowait(flow)

    async def next_stored(self) -> Flow:
        return await asyncio.wait_for(self.stored.get(), 10)


@pytest.fixture
async def ghost(ghost_app: StartGhostApp) -> Ghost:
    """A running Ghost with no plugins but the ones each test registers."""
    return (await ghost_app(())).ghost


@contextmanager
def addon_for(ghost: Ghost, *plugins: object) -> Iterator[tuple[GhostAddon, taddons.context]]:
    for index, each in enumerate(plugins):
        ghost.pm.register(each, name=f"test-plugin-{index}")
    ghost.pm.check_pending()
    addon = GhostAddon()
    with taddons.context(addon) as tctx:
        addon.ghost = ghost  # what configure() does with ghost_home; the Ghost is already running
        yield addon, tctx


async def exchange(tctx: taddons.context, addon: GhostAddon, flow: http.HTTPFlow,
                   upstream: http.Response | mflow.Error) -> None:
    """One flow through `addon` as mitmproxy's HTTP layer runs it: the request hooks; a flow
    killed there gets the error hook; a request a hook answered goes back without the
    upstream; otherwise the upstream's response (or error) arrives, then its hooks."""
    invoke = tctx.master.addons.invoke_addon
    await invoke(addon, HttpRequestHeadersHook(flow))
    await invoke(addon, HttpRequestHook(flow))
    if flow.error is None and flow.response is None:
        if isinstance(upstream, mflow.Error):
            flow.error = upstream
        else:
            flow.response = upstream
    if flow.error is not None:
        await invoke(addon, HttpErrorHook(flow))
        return
    await invoke(addon, HttpResponseHeadersHook(flow))
    await invoke(addon, HttpResponseHook(flow))  # a kill in here sends no error hook


FULL_CYCLE = ["breakpoints:request", "map_rules:request", "addons:request",
              "map_rules:response", "addons:response", "breakpoints:response",
              "capture", "should_store", "flow_stored"]


async def test_a_flow_passes_every_stage_in_order_then_capture_and_store(ghost: Ghost) -> None:
    lifecycle = Lifecycle()
    with addon_for(ghost, lifecycle) as (addon, tctx):
        await exchange(tctx, addon, tflow.tflow(), tutils.tresp())
        stored = await lifecycle.next_stored()
    assert lifecycle.log == FULL_CYCLE
    again = await ghost.store.get_flow(stored.id)
    assert again is not None and "captured-by-test" in again.tags
    assert again.session_id == ghost.active_session_id


async def test_async_stages_keep_the_same_order_through_the_addon(ghost: Ghost) -> None:
    async def pause(flow: http.HTTPFlow, phase: str) -> None:
        await asyncio.sleep(0.01)

    lifecycle = Lifecycle(actions={"ghost_map_rules": pause, "ghost_breakpoints": pause})
    with addon_for(ghost, lifecycle) as (addon, tctx):
        await exchange(tctx, addon, tflow.tflow(), tutils.tresp())
        await lifecycle.next_stored()
    assert lifecycle.log == FULL_CYCLE


async def test_a_synchronous_pipeline_hands_mitmproxy_no_awaitable(ghost: Ghost) -> None:
    lifecycle = Lifecycle()
    f = tflow.tflow()
    with addon_for(ghost, lifecycle) as (addon, _):
        assert addon.request(f) is None
        f.response = tutils.tresp()
        assert addon.response(f) is None  # the write queue has room: no waiting either
        await lifecycle.next_stored()
    assert lifecycle.log == FULL_CYCLE


async def test_an_async_stage_makes_the_hook_return_an_awaitable(ghost: Ghost) -> None:
    async def pause(flow: http.HTTPFlow, phase: str) -> None:
        await asyncio.sleep(0)

    lifecycle = Lifecycle(actions={"ghost_addons": pause})
    f = tflow.tflow()
    with addon_for(ghost, lifecycle) as (addon, _):
        pending = addon.request(f)
        assert pending is not None and lifecycle.log == ["breakpoints:request", "map_rules:request",
                                                         "addons:request"]
        await settle(pending)
        f.response = tutils.tresp()
        pending = addon.response(f)
        assert pending is not None
        await settle(pending)
        await lifecycle.next_stored()
    assert lifecycle.log == FULL_CYCLE


async def test_an_answered_request_skips_later_request_stages_and_is_stored(ghost: Ghost) -> None:
    lifecycle = Lifecycle(actions={"ghost_breakpoints": lambda f, phase: answer(f, phase) if phase == "request" else None})
    f = tflow.tflow()
    upstream = tutils.tresp(status_code=502)  # never reached: the stage's answer is the response
    with addon_for(ghost, lifecycle) as (addon, tctx):
        await exchange(tctx, addon, f, upstream)
        stored = await lifecycle.next_stored()
    assert lifecycle.log == ["breakpoints:request",
                             "map_rules:response", "addons:response", "breakpoints:response",
                             "capture", "should_store", "flow_stored"]
    assert stored.response is not None and stored.response.status_code == 204


async def test_a_flow_killed_in_the_request_phase_runs_no_later_stage_and_is_still_stored(ghost: Ghost) -> None:
    lifecycle = Lifecycle(actions={"ghost_breakpoints": kill})
    with addon_for(ghost, lifecycle) as (addon, tctx):
        await exchange(tctx, addon, tflow.tflow(), tutils.tresp())
        stored = await lifecycle.next_stored()
    assert lifecycle.log == ["breakpoints:request", "capture", "should_store", "flow_stored"]
    assert stored.response is None and stored.error


async def test_a_flow_killed_in_the_response_phase_skips_later_stages_and_is_still_stored(ghost: Ghost) -> None:
    lifecycle = Lifecycle(actions={"ghost_map_rules": lambda f, phase: kill(f, phase) if phase == "response" else None})
    with addon_for(ghost, lifecycle) as (addon, tctx):
        await exchange(tctx, addon, tflow.tflow(), tutils.tresp())
        stored = await lifecycle.next_stored()
    assert lifecycle.log == ["breakpoints:request", "map_rules:request", "addons:request",
                             "map_rules:response", "capture", "should_store", "flow_stored"]
    assert stored.error


async def test_a_failed_flow_is_stored_without_response_stages(ghost: Ghost) -> None:
    lifecycle = Lifecycle()
    with addon_for(ghost, lifecycle) as (addon, tctx):
        await exchange(tctx, addon, tflow.tflow(), mflow.Error("Connection refused"))
        stored = await lifecycle.next_stored()
    assert lifecycle.log == ["breakpoints:request", "map_rules:request", "addons:request",
                             "capture", "should_store", "flow_stored"]
    assert stored.response is None and stored.error == "Connection refused"


async def test_should_store_false_keeps_the_flow_out_of_the_store(ghost: Ghost) -> None:
    vetoing = Lifecycle(store=False)
    with addon_for(ghost, vetoing) as (addon, tctx):
        await exchange(tctx, addon, tflow.tflow(), tutils.tresp())
        vetoing.store = True
        kept = tflow.tflow()
        kept.request.path = "/kept"
        await exchange(tctx, addon, kept, tutils.tresp())
        stored = await vetoing.next_stored()  # the queue is in order: the first would be here
    assert vetoing.log.count("should_store") == 2 and vetoing.log.count("flow_stored") == 1
    assert stored.request.url == kept.request.url
    assert vetoing.stored.empty()
    summaries = [f async for batch in ghost.store.iter_session_flows(ghost.active_session_id) for f in batch]
    assert [f.id for f in summaries] == [stored.id]


@pytest.mark.parametrize("style", ["sync", "async"])
async def test_a_stage_pointing_the_request_at_ghosts_api_is_refused(ghost: Ghost, style: str) -> None:
    def to_api(f: http.HTTPFlow, phase: str) -> None:
        if phase == "request":
            f.request.host, f.request.port = "127.0.0.1", ghost.api_port

    lifecycle = Lifecycle(actions={"ghost_map_rules": to_api if style == "sync" else later(to_api)})
    f = tflow.tflow()
    with addon_for(ghost, lifecycle) as (addon, _):
        await settle(addon.request(f))
    assert f.response is not None and f.response.status_code == 403
    assert b"own API" in f.response.content
