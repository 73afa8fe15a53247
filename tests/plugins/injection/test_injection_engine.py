from mitmproxy import http
from mitmproxy.test import tflow

from ghost_addons.capture import METADATA_KEY, TAGS_KEY
from plugins.injection.engine import InjectionEngine
from plugins.injection.rules import InjectionRule

PAGE = b"<html><head></head><body></body></html>"


def html_flow(url: str = "http://app/page", method: str = "GET", status: int = 200, body: bytes = PAGE):
    flow = tflow.tflow()
    flow.request.url = url
    flow.request.method = method
    flow.response = http.Response.make(status, body, {"content-type": "text/html"})
    return flow


def engine_with(*rules: InjectionRule) -> InjectionEngine:
    engine = InjectionEngine()
    engine.set_rules(list(rules))
    return engine


def test_active_session_enabled_matching_rules_only():
    engine = engine_with(
        InjectionRule(id="a", session_id="s1", url_pattern="http://app/*", script="a()", created_at="1"),
        InjectionRule(id="b", session_id="s1", url_pattern="http://other/*", script="b()", created_at="2"),
        InjectionRule(id="c", session_id="s1", url_pattern="*", script="c()", enabled=False, created_at="3"),
        InjectionRule(id="d", session_id="s2", url_pattern="*", script="d()", created_at="4"),
    )
    flow = html_flow()
    assert engine.on_response(flow, "s1") is None
    body = flow.response.content
    assert b"a()" in body and b"b()" not in body and b"c()" not in body and b"d()" not in body
    assert flow.metadata[TAGS_KEY] == ["injected"] and flow.metadata[METADATA_KEY] == {"injection_rules": ["a"]}
    untouched = html_flow()
    engine.on_response(untouched, "s3")
    assert untouched.response.content == PAGE and untouched.metadata == {}


def test_no_body_responses_untouched():
    engine = engine_with(InjectionRule(id="a", session_id="s", url_pattern="*", script="a()"))
    for flow in (html_flow(method="HEAD"), html_flow(status=304, body=b""), html_flow(status=204, body=b""),
                 html_flow(body=b"")):
        engine.on_response(flow, "s")
        assert b"a()" not in (flow.response.raw_content or b"")


async def test_large_pages_injected_in_a_thread():
    engine = engine_with(InjectionRule(id="a", session_id="s", url_pattern="*", script="a()"))
    flow = html_flow(body=b"<html><head></head><body>" + b"x" * 400_000 + b"</body></html>")
    pending = engine.on_response(flow, "s")
    assert pending is not None
    await pending
    assert b"<script data-ghost-injection=\"a\">a()</script></head>" in flow.response.content


def test_session_dropped_and_rules_replaced():
    engine = engine_with(InjectionRule(id="a", session_id="s", url_pattern="*", script="a()"))
    engine.put(InjectionRule(id="a", session_id="s", url_pattern="*", script="changed()"))
    assert [r.script for r in engine.for_session("s")] == ["changed()"]
    engine.drop_session("s")
    assert engine.for_session("s") == [] and engine.rules == {}
