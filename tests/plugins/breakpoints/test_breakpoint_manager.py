import asyncio
from typing import Any

import pytest
from aiohttp import web
from mitmproxy.test import tflow

from ghost_addons.api.http import ApiError, error_response
from ghost_addons.api.routes import RouteTable
from ghost_addons.capture import flow_id
from plugins.breakpoints import api
from plugins.breakpoints.edits import parse_resolution
from plugins.breakpoints.manager import BreakpointManager, NotHeld
from plugins.breakpoints.rules import rule_from_input


class Settings:
    def __init__(self, timeout: float) -> None:
        self.timeout = timeout

    def get(self, name: str) -> Any:
        assert name == "breakpoints.timeout_secs"
        return self.timeout


class Events:
    def __init__(self) -> None:
        self.seen: list[tuple[str, Any]] = []
        self.changed = asyncio.Event()

    def publish(self, type: str, data: Any) -> None:
        self.seen.append((type, data))
        self.changed.set()


class Host:
    """The parts of `Ghost` the manager uses."""

    def __init__(self, timeout: float = 30) -> None:
        self.settings = Settings(timeout)
        self.events = Events()


def manager_with(timeout: float = 30, **rule: Any) -> tuple[BreakpointManager, Host]:
    host = Host(timeout)
    manager = BreakpointManager(host)  # type: ignore[arg-type]
    manager.put_rule(rule_from_input(rule))
    return manager, host


async def wait_held(manager: BreakpointManager, count: int = 1) -> None:
    events: Events = manager.ghost.events  # type: ignore[assignment]
    async with asyncio.timeout(5):
        while len(manager.held) < count:
            events.changed.clear()
            await events.changed.wait()


def test_matching_uses_phase_and_enabled():
    manager, _ = manager_with(path_pattern="/path", phase="response")
    flow = tflow.tflow()
    assert manager.match(flow, "request") is None
    rule = manager.match(flow, "response")
    assert rule is not None
    manager.put_rule(rule_from_input({"id": rule.id, "phase": "response", "enabled": False}))
    assert manager.match(flow, "response") is None
    assert manager.clear_rules() == 1 and manager.match(flow, "response") is None


async def test_hold_then_modify():
    manager, host = manager_with()
    flow = tflow.tflow()
    task = asyncio.ensure_future(manager.hold(flow, "request", manager.list_rules()[0]))
    await wait_held(manager)
    assert flow.intercepted and not task.done()
    kind, data = host.events.seen[0]
    assert kind == "flow.breakpoint" and data["flow_id"] == flow_id(flow) and data["phase"] == "request"
    manager.resume(flow_id(flow), parse_resolution({"action": "modify", "method": "DELETE"}))
    await asyncio.wait_for(task, 5)
    assert flow.request.method == "DELETE" and not flow.intercepted
    assert host.events.seen[-1] == ("flow.resumed", {"id": flow_id(flow), "flow_id": flow_id(flow),
                                                     "phase": "request", "action": "modify"})
    with pytest.raises(NotHeld):
        manager.resume(flow_id(flow), parse_resolution({}))


async def test_drop_kills_the_flow():
    manager, _ = manager_with(phase="response")
    flow = tflow.tflow(resp=True)
    task = asyncio.ensure_future(manager.hold(flow, "response", manager.list_rules()[0]))
    await wait_held(manager)
    manager.resume(flow_id(flow), parse_resolution({"action": "drop"}))
    await asyncio.wait_for(task, 5)
    assert flow.error is not None and flow.error.msg == flow.error.KILLED_MESSAGE


async def test_each_flow_has_its_own_timer():
    manager, host = manager_with(timeout=0.2)
    flows = [tflow.tflow() for _ in range(3)]
    tasks = [asyncio.ensure_future(manager.hold(f, "request", manager.list_rules()[0])) for f in flows]
    await wait_held(manager, 3)
    manager.resume(flow_id(flows[0]), parse_resolution({}))
    await asyncio.wait_for(asyncio.gather(*tasks), 5)
    actions = {d["flow_id"]: d["action"] for k, d in host.events.seen if k == "flow.resumed"}
    assert actions == {flow_id(flows[0]): "continue", flow_id(flows[1]): "timeout", flow_id(flows[2]): "timeout"}
    assert all(f.error is None and not f.intercepted for f in flows)


async def test_release_all_and_cancellation():
    manager, host = manager_with()
    first, second = tflow.tflow(), tflow.tflow()
    held = [asyncio.ensure_future(manager.hold(f, "request", manager.list_rules()[0])) for f in (first, second)]
    await wait_held(manager, 2)
    assert manager.release_all("shutdown") == 2
    await asyncio.wait_for(asyncio.gather(*held), 5)
    assert [d["reason"] for k, d in host.events.seen if k == "flow.resumed"] == ["shutdown", "shutdown"]
    third = tflow.tflow()
    task = asyncio.ensure_future(manager.hold(third, "request", manager.list_rules()[0]))
    await wait_held(manager)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert manager.held == {} and not third.intercepted


async def test_edits_of_the_other_phase_are_ignored():
    manager, _ = manager_with()
    flow = tflow.tflow(resp=True)
    task = asyncio.ensure_future(manager.hold(flow, "request", manager.list_rules()[0]))
    await wait_held(manager)
    manager.resume(flow_id(flow), parse_resolution({"action": "modify", "status_code": 500, "body": "edited"}))
    await asyncio.wait_for(task, 5)
    assert flow.request.content == b"edited" and flow.response.status_code == 200


async def test_continue_ignores_edits():
    manager, _ = manager_with()
    flow = tflow.tflow()
    task = asyncio.ensure_future(manager.hold(flow, "request", manager.list_rules()[0]))
    await wait_held(manager)
    manager.resume(flow_id(flow), parse_resolution({"action": "continue", "method": "DELETE"}))
    await asyncio.wait_for(task, 5)
    assert flow.request.method == "GET"


async def test_url_edit_to_a_refused_address_keeps_the_flow_held():
    host = Host()
    manager = BreakpointManager(host, lambda h, p: (h, p) == ("localhost", 5565))  # type: ignore[arg-type]
    manager.put_rule(rule_from_input({}))
    flow = tflow.tflow()
    task = asyncio.ensure_future(manager.hold(flow, "request", manager.list_rules()[0]))
    await wait_held(manager)
    with pytest.raises(ValueError, match="Ghost's own API"):
        manager.resume(flow_id(flow), parse_resolution({"action": "modify", "url": "http://localhost:5565/api/v1/x"}))
    assert flow_id(flow) in manager.held and flow.request.host == "address"
    manager.resume(flow_id(flow), parse_resolution({}))
    await asyncio.wait_for(task, 5)


async def test_routes_answer_503_without_a_manager(aiohttp_client):
    routes = RouteTable()
    api.register(routes, lambda: None)

    @web.middleware
    async def errors(request: web.Request, handler: Any) -> web.StreamResponse:
        try:
            return await handler(request)
        except ApiError as e:
            return error_response(e.status, e.message)

    app = web.Application(middlewares=[errors])
    routes.install(app)
    client = await aiohttp_client(app)
    for route in routes.routes:
        path = route.path.replace("{id}", "r1").replace("{flow_id}", "f1")
        response = await client.request(route.method, path, json={})
        assert response.status == 503, (route.method, path)
        assert (await response.json()) == {"error": "the breakpoint manager is not running"}
