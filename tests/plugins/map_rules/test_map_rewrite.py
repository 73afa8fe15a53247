import gzip
import time
from pathlib import Path

import pytest
from mitmproxy import http
from mitmproxy.test import tflow

from plugins.map_rules.rewrite import Budget, RegexTimeout, RewriteTooLarge, apply_rewrite, worst_case_size
from plugins.map_rules.rules import RewriteConfig, validate_rule


def config(**raw) -> RewriteConfig:
    rule = validate_rule({"type": "rewrite", **raw}, rule_id="r", created_at="", updated_at="", home=Path("/"))
    assert isinstance(rule.config, RewriteConfig)
    return rule.config


def json_flow(body: bytes, *, encoding: str = "") -> http.HTTPFlow:
    flow = tflow.tflow(resp=True)
    headers = {"content-type": "application/json"}
    if encoding:
        headers["content-encoding"] = encoding
    flow.response = http.Response.make(200, b"", headers)
    flow.response.content = body  # encodes per content-encoding, sets content-length
    return flow


def test_url_rewrite_updates_host_header():
    flow = tflow.tflow()
    flow.request.url = "http://old.example:8080/api/v1/users?x=1"
    flow.request.headers["host"] = "old.example:8080"
    assert apply_rewrite(flow, config(target="url", match=r"/api/v1/", replace="/api/v2/"))
    assert flow.request.url == "http://old.example:8080/api/v2/users?x=1"
    assert apply_rewrite(flow, config(target="url", match=r"old\.example:8080", replace="new.example:9090"))
    assert flow.request.host == "new.example" and flow.request.port == 9090
    assert flow.request.headers["host"] == "new.example:9090"
    assert not apply_rewrite(flow, config(target="url", match="nomatch", replace="x"))


def test_url_rewrite_to_garbage_is_ignored():
    flow = tflow.tflow()
    before = flow.request.url
    assert not apply_rewrite(flow, config(target="url", match=r"^http://", replace="nonsense "))
    assert flow.request.url == before


def test_header_set_remove_and_regex():
    flow = tflow.tflow(resp=True)
    assert apply_rewrite(flow, config(target="request_header", header_name="X-Debug", replace="1"))
    assert flow.request.headers["x-debug"] == "1"
    assert not apply_rewrite(flow, config(target="request_header", header_name="X-Debug", replace="1"))
    assert apply_rewrite(flow, config(target="request_header", header_name="x-debug", match="1", replace="2"))
    assert flow.request.headers["X-Debug"] == "2"
    assert apply_rewrite(flow, config(target="request_header", header_name="X-Debug", replace=""))
    assert "x-debug" not in flow.request.headers
    # line mode: rename a header, drop another
    flow.response.headers["Server"] = "nginx/1.2"
    assert apply_rewrite(flow, config(target="response_header", match=r"^Server: nginx/.*$", replace="Server: ghost"))
    assert flow.response.headers["server"] == "ghost"
    assert apply_rewrite(flow, config(target="response_header", match=r"^header-response:.*$", replace=""))
    assert "header-response" not in flow.response.headers
    # a result that is not a header line is ignored
    assert not apply_rewrite(flow, config(target="response_header", match=r"^Server: ghost$", replace="no colon here"))
    assert flow.response.headers["server"] == "ghost"


def test_body_rewrite_json_and_length():
    flow = json_flow(b'{"price": 100, "name": "x"}')
    assert apply_rewrite(flow, config(target="response_body", match=r'"price":\s*(\d+)', replace=r'"price": 0, "was": \1'))
    assert flow.response.content == b'{"price": 0, "was": 100, "name": "x"}'
    assert flow.response.headers["content-length"] == str(len(flow.response.raw_content))


def test_body_rewrite_gzip_stays_gzip():
    flow = json_flow(b'{"ok": false}', encoding="gzip")
    assert apply_rewrite(flow, config(target="response_body", match="false", replace="true"))
    assert flow.response.headers["content-encoding"] == "gzip"
    assert gzip.decompress(flow.response.raw_content) == b'{"ok": true}'
    assert flow.response.headers["content-length"] == str(len(flow.response.raw_content))


def test_body_rewrite_keeps_charset():
    flow = tflow.tflow(resp=True)
    flow.response = http.Response.make(200, "café".encode("latin-1"), {"content-type": "text/plain; charset=latin-1"})
    assert apply_rewrite(flow, config(target="response_body", match="caf", replace="CAF"))
    assert flow.response.raw_content == "CAFé".encode("latin-1")


def test_request_body_and_missing_response():
    flow = tflow.tflow()
    assert apply_rewrite(flow, config(target="request_body", match="content", replace="changed!"))
    assert flow.request.content == b"changed!" and flow.request.headers["content-length"] == "8"
    assert not apply_rewrite(flow, config(target="response_body", match="x", replace="y"))


def test_undecodable_body_left_alone():
    flow = tflow.tflow(resp=True)
    flow.response = http.Response.make(200, b"", {"content-encoding": "gzip"})
    flow.response.raw_content = b"not gzip"
    assert not apply_rewrite(flow, config(target="response_body", match="not", replace="yes"))
    assert flow.response.raw_content == b"not gzip"


def test_url_rewrite_never_targets_a_refused_address():
    flow = tflow.tflow()
    flow.request.url = "http://app.example/x"

    def refused(host: str, port: int) -> bool:
        return (host, port) == ("127.0.0.1", 5565)

    rule = config(target="url", match=r"app\.example", replace="127.0.0.1:5565")
    assert not apply_rewrite(flow, rule, refused)
    assert flow.request.url == "http://app.example/x"
    assert apply_rewrite(flow, config(target="url", match=r"app\.example", replace="127.0.0.1:5566"), refused)


@pytest.mark.parametrize("target", ["url", "request_header", "request_body", "response_header", "response_body"])
def test_a_regex_that_backtracks_for_ever_stops_at_its_limit(target: str):
    # Python's re takes about 4 s here, and doubles with every "a" more
    flow = tflow.tflow(resp=True)
    evil = "a" * 24 + "!"
    flow.request.url = f"http://h/{evil}"
    flow.request.headers["x-evil"] = evil
    flow.request.content = evil.encode()
    flow.response.headers["x-evil"] = evil
    flow.response.content = evil.encode()
    before = flow.get_state()
    started = time.monotonic()
    with pytest.raises(RegexTimeout, match="50 ms limit"):
        apply_rewrite(flow, config(target=target, match="(a|a)+$", replace="x"), limit=0.05)
    assert time.monotonic() - started < 0.5
    assert flow.get_state() == before  # nothing half-done


def test_the_limit_covers_all_header_lines_together():
    flow = tflow.tflow()
    for n in range(20):
        flow.request.headers.add(f"x-{n}", "a" * 22 + "!")
    started = time.monotonic()
    with pytest.raises(RegexTimeout):
        apply_rewrite(flow, config(target="request_header", match="(a|a)+$", replace="x"), limit=0.05)
    assert time.monotonic() - started < 0.5


# --- the size of what a rewrite produces --------------------------------------------------------------


def test_an_empty_match_replaced_by_a_long_text_is_refused_before_it_takes_the_memory():
    # before: 256 KB of body and an empty match replaced by 200 characters made 51 MB (and a
    # 16 MB body, 3.2 GB) before anything looked at the size
    flow = json_flow(b"x" * (1 << 18))
    before = flow.get_state()
    started = time.thread_time()
    with pytest.raises(RewriteTooLarge, match="larger than 33,554,432 characters"):
        apply_rewrite(flow, config(target="response_body", match="(?:)", replace="y" * 200), limit=10)
    assert time.thread_time() - started < 2
    assert flow.get_state() == before


def test_group_references_cannot_multiply_a_text_past_the_bound():
    cfg = config(target="response_body", match="(.)", replace=r"\1" * 100)
    budget = Budget(cfg, limit=30, size_limit=1_000_000)  # 100 K characters, each made 100: 10 MB
    with pytest.raises(RewriteTooLarge):
        budget.sub("ab" * 50_000)


def test_the_bound_counts_every_header_line_together():
    flow = tflow.tflow()
    for n in range(40):
        flow.request.headers.add(f"x-{n}", "a" * 1000)
    cfg = config(target="request_header", match="a", replace="b" * 10)
    budget = Budget(cfg, limit=10, size_limit=300_000)  # each line makes ~10 KB; 40 lines pass it
    with pytest.raises(RewriteTooLarge):
        for key, value in flow.request.headers.fields:
            budget.sub(f"{key.decode()}: {value.decode()}")


@pytest.mark.parametrize("template", ["x", r"<\1>", r"\g<0>\g<0>", r"[\g<word>]", ""])
def test_a_counted_replacement_gives_what_the_template_gives(template: str):
    """Near the bound the replacement is counted match by match; the result is the same."""
    cfg = config(target="response_body", match=r"(?P<word>\w+)", replace=template)
    text = "alpha beta, gamma! " * 50
    assert cfg.pattern is not None
    expected = cfg.pattern.sub(template, text)
    assert worst_case_size(len(text), template) > len(expected)
    counted = Budget(cfg, limit=10, size_limit=len(expected))  # forces the counted path
    assert counted.sub(text) == expected


def test_worst_case_size_bounds_every_result():
    assert worst_case_size(10, "ab") == 10 + 11 * 2
    assert worst_case_size(10, r"\1\2") == 20 + 11 * 4
    assert worst_case_size(0, "") == 0
