"""Applying map rules to live flows, in priority order.

Request phase: the request (as breakpoints left it) is matched once against the enabled
local, remote and request-rewrite rules; they apply in order; a map-local rule answers
the flow and ends the request phase (mitmproxy never contacts the server). Response
phase: response-rewrite rules match the request as it was before map rules changed it
(so a map-remote rule does not hide the flow from its own response rewrites).

Every rule that applies tags the flow (``map-local``, ``map-remote`` or ``rewrite``, and
``rule:<id>``) and is listed under ``map_rules`` in the flow's metadata.

A rewrite's regex runs under a time limit (``limit``, the setting ``rules.regex_timeout_ms``)
and never holds the event loop for longer than ``INLINE_LIMIT``: a regex that backtracks for
ever costs that flow the limit and nobody else anything. Most rewrites take microseconds, and
a hop to a worker thread costs about 100 us of CPU, so a rewrite first runs on the loop with
``INLINE_LIMIT`` (1 ms); one that overruns that (or meets a body over ``INLINE_INPUT``) runs
again in a worker thread while the loop serves the API and other flows. When the worker's
run takes over ``INLINE_LIMIT`` of CPU too (so it was not a garbage collection that held the
first try up), the rule goes straight to a worker from then on (``MapRule.slow``). Rules
apply in order all the same: the phase waits for the worker, then goes on.

Two clocks: the ``regex`` package's ``timeout`` counts the CPU time of the thread that
matches (measured: a 1 s timeout took 6.6 s of wall-clock time with four busy loops on two
cores), and the flow waits for the worker at most ``limit`` of wall-clock time. A rewrite
not done by then is skipped for that flow (listed under ``map_rules_skipped``), counted in
the rule's ``timeouts``, kept as its ``last_error`` and logged, while its worker goes on to
its own CPU limit (one still queued is dropped). Only when the regex then runs out of CPU
time is the regex to blame (not a busy machine or a queue of work): that counts towards ``max_timeouts`` in a row, after
which the rule is switched off and ``on_disabled`` is told (the plugin stores and announces
it). A rewrite that succeeds ends the run.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

from mitmproxy import http

from ghost_addons.capture import METADATA_KEY, set_flow_metadata, tag_flow
from ghost_addons.matching import RuleIndex, build_index
from ghost_addons.model import format_time
from plugins.map_rules.local import read_local, sniff_content_type
from plugins.map_rules.remote import build_remote_url
from plugins.map_rules.rewrite import (
    DEFAULT_LIMIT,
    Change,
    Refused,
    RegexTimeout,
    RewriteFailed,
    apply_rewrite,
    plan_rewrite,
)
from plugins.map_rules.rules import LocalConfig, MapRule, RemoteConfig, RewriteConfig

log = logging.getLogger("ghost.map_rules")

MATCH_KEY = "ghost_map_rules_match"  # flow.metadata: the request identity the rules matched
APPLIED_KEY = "map_rules"  # the Ghost flow metadata key listing applied rule ids
SKIPPED_KEY = "map_rules_skipped"  # ... and the rules skipped because their regex overran
MAX_TIMEOUTS = 5  # timeouts in a row before a rule is switched off (as JavaScript addons)
WORKERS = 2  # threads running rewrite regexes
INLINE_LIMIT = 0.001  # seconds a rewrite's regex may hold the event loop before it moves to a worker
INLINE_INPUT = 64 * 1024  # bytes: a larger body is always rewritten in a worker
TYPE_TAGS = {"local": "map-local", "remote": "map-remote", "rewrite": "rewrite"}


def sort_key(rule: MapRule) -> tuple[int, str, str]:
    return (rule.priority, rule.created_at, rule.id)


def mark(flow: http.HTTPFlow, rule: MapRule) -> None:
    tag_flow(flow, TYPE_TAGS[rule.type])
    tag_flow(flow, f"rule:{rule.id}")
    applied = flow.metadata.get(METADATA_KEY, {}).get(APPLIED_KEY)
    if applied is None:
        applied = []
        set_flow_metadata(flow, APPLIED_KEY, applied)
    if rule.id not in applied:
        applied.append(rule.id)


def local_response(config: LocalConfig, body: bytes, content_type: str) -> http.Response:
    headers = {"Content-Type": config.content_type or content_type or sniff_content_type(body)}
    headers.update(config.headers)
    return http.Response.make(config.status_code, body, headers)


def missing_file_response(status: int, reason: str) -> http.Response:
    log.warning("map local: %s", reason)
    text = "Ghost map local: the mapped file was not found" if status == 404 else "Ghost map local: file refused"
    return http.Response.make(status, text.encode(), {"Content-Type": "text/plain; charset=utf-8"})


def skip(flow: http.HTTPFlow, rule: MapRule) -> None:
    skipped = flow.metadata.get(METADATA_KEY, {}).get(SKIPPED_KEY)
    if skipped is None:
        skipped = []
        set_flow_metadata(flow, SKIPPED_KEY, skipped)
    if rule.id not in skipped:
        skipped.append(rule.id)


def runs_regex(rule: MapRule) -> bool:
    """A rewrite that runs a regex (a header set or removed without `match` does not)."""
    return isinstance(rule.config, RewriteConfig) and rule.config.pattern is not None


def small_input(flow: http.HTTPFlow, config: RewriteConfig) -> bool:
    """Whether the part a rewrite reads is small enough to try on the event loop."""
    if not config.target.endswith("_body"):
        return True  # a URL or headers: bounded by mitmproxy's own limits
    message = flow.request if config.target == "request_body" else flow.response
    return message is None or message.raw_content is None or len(message.raw_content) <= INLINE_INPUT


def plan_timed(flow: http.HTTPFlow, config: RewriteConfig, limit: float,
               refused: Refused) -> tuple[Change | None, float]:
    """`plan_rewrite`, and the CPU time it took this thread."""
    start = time.thread_time()
    change = plan_rewrite(flow, config, limit, refused)
    return change, time.thread_time() - start


def _never(host: str, port: int) -> bool:
    return False


class MapRulesEngine:
    def __init__(self, home: Path, refused: Refused = _never, *, limit: float = DEFAULT_LIMIT,
                 max_timeouts: int = MAX_TIMEOUTS, on_disabled: Callable[[MapRule], None] | None = None) -> None:
        """`refused(host, port)` names addresses no rule may send a request to (Ghost's API);
        `limit` is the seconds a rewrite's regex may run on one flow; `on_disabled(rule)` hears
        of a rule switched off after `max_timeouts` timeouts in a row."""
        self.home = home
        self.refused = refused
        self.limit = limit
        self.max_timeouts = max_timeouts
        self.on_disabled = on_disabled
        self.rules: dict[str, MapRule] = {}
        self.request_index: RuleIndex[MapRule] = RuleIndex(())
        self.response_index: RuleIndex[MapRule] = RuleIndex(())
        self._executor: ThreadPoolExecutor | None = None
        self._late: set[asyncio.Future[tuple[Change | None, float]]] = set()  # see settled()

    def close(self) -> None:
        """Stop the regex workers (a running regex ends within its limit)."""
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None

    def set_rules(self, rules: list[MapRule]) -> None:
        self.rules = {rule.id: rule for rule in sorted(rules, key=sort_key)}
        ordered = list(self.rules.values())
        self.request_index = build_index(ordered, lambda r: r.matcher, lambda r: r.enabled and r.phase == "request")
        self.response_index = build_index(ordered, lambda r: r.matcher, lambda r: r.enabled and r.phase == "response")

    def ordered(self) -> list[MapRule]:
        return list(self.rules.values())

    # --- request phase -------------------------------------------------------------------

    def on_request(self, flow: http.HTTPFlow) -> Awaitable[None] | None:
        request_index, response_index = self.request_index, self.response_index
        if not request_index and not response_index:
            return None
        req = flow.request
        key = (req.method, req.host, req.port, req.path)
        if response_index:
            flow.metadata[MATCH_KEY] = key
        if not request_index:
            return None
        return self._request_rules(flow, request_index.find(*key), 0)

    def _request_rules(self, flow: http.HTTPFlow, matches: Sequence[MapRule], start: int) -> Awaitable[None] | None:
        """Apply `matches[start:]` in order; a coroutine from the first that must wait on."""
        for at in range(start, len(matches)):
            rule = matches[at]
            config = rule.config
            if isinstance(config, LocalConfig):
                mark(flow, rule)
                if config.file_path:
                    return self._serve_file(flow, rule, config)
                flow.response = local_response(config, config.body, "")
                return None
            if isinstance(config, RemoteConfig):
                flow.request.url = build_remote_url(
                    config.remote_url,
                    flow.request.path,
                    preserve_path=config.preserve_path,
                    preserve_query=config.preserve_query,
                )
                mark(flow, rule)
            elif runs_regex(rule):
                if not self._rewrite_inline(flow, rule):
                    return self._rewrite_then(flow, matches, at, self._request_rules)
            elif isinstance(config, RewriteConfig):
                apply_rewrite(flow, config, self.refused)
                mark(flow, rule)
        return None

    async def _serve_file(self, flow: http.HTTPFlow, rule: MapRule, config: LocalConfig) -> None:
        path_only = flow.request.path
        found = await asyncio.to_thread(read_local, self.home, config.file_path, rule.path_pattern, path_only)
        if found.status != 200:
            flow.response = missing_file_response(found.status, f"rule {rule.id}: {found.reason}")
            return
        flow.response = local_response(config, found.body, found.content_type)

    # --- response phase ------------------------------------------------------------------

    def on_response(self, flow: http.HTTPFlow) -> Awaitable[None] | None:
        index = self.response_index
        if not index or flow.response is None:
            return None
        key = flow.metadata.get(MATCH_KEY)
        if key is None:
            req = flow.request
            key = (req.method, req.host, req.port, req.path)
        return self._response_rules(flow, index.find(*key), 0)

    def _response_rules(self, flow: http.HTTPFlow, matches: Sequence[MapRule], start: int) -> Awaitable[None] | None:
        for at in range(start, len(matches)):
            rule = matches[at]
            assert isinstance(rule.config, RewriteConfig)
            if not runs_regex(rule):
                apply_rewrite(flow, rule.config)
                mark(flow, rule)
            elif not self._rewrite_inline(flow, rule):
                return self._rewrite_then(flow, matches, at, self._response_rules)
        return None

    # --- rewrites with a regex -----------------------------------------------------------

    async def _rewrite_then(
        self,
        flow: http.HTTPFlow,
        matches: Sequence[MapRule],
        at: int,
        rest: Callable[[http.HTTPFlow, Sequence[MapRule], int], Awaitable[None] | None],
    ) -> None:
        await self._rewrite(flow, matches[at])
        pending = rest(flow, matches, at + 1)
        if pending is not None:
            await pending

    def _rewrite_inline(self, flow: http.HTTPFlow, rule: MapRule) -> bool:
        """Try a rewrite on the event loop for at most INLINE_LIMIT; False: a worker must run it."""
        config = rule.config
        assert isinstance(config, RewriteConfig)
        if rule.slow or not small_input(flow, config):
            return False
        try:
            change = plan_rewrite(flow, config, INLINE_LIMIT, self.refused)
        except RegexTimeout:
            return False
        except RewriteFailed as e:  # the same in a worker: skip it here
            self._skipped(flow, rule, str(e))
            self._blame(rule, e)
            return True
        self._done(flow, rule, change)
        return True

    def _done(self, flow: http.HTTPFlow, rule: MapRule, change: Change | None) -> None:
        rule.timeouts_in_a_row = 0
        if change is not None:
            change()
        mark(flow, rule)

    def _workers(self) -> ThreadPoolExecutor:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(WORKERS, thread_name_prefix="ghost-rewrite")
        return self._executor

    async def _rewrite(self, flow: http.HTTPFlow, rule: MapRule) -> None:
        config = rule.config
        assert isinstance(config, RewriteConfig)
        limit = self.limit
        job = self._workers().submit(plan_timed, flow, config, limit, self.refused)
        work = asyncio.wrap_future(job)
        try:
            change, cpu = await asyncio.wait_for(asyncio.shield(work), limit)
        except RewriteFailed as e:  # out of CPU time before the flow's wait was over, or too large
            self._skipped(flow, rule, str(e))
            self._blame(rule, e)
            return
        except TimeoutError:  # the flow goes on; the worker's own limit tells whose fault it was
            self._skipped(flow, rule, f"the regex {config.match!r} did not finish within its "
                                      f"{limit * 1000:g} ms limit on the {config.target}")
            if job.cancel():
                return  # still queued behind other work: it never ran, so nothing to blame
            self._late.add(work)
            work.add_done_callback(lambda done: self._verdict(rule, done))
            return
        if cpu > INLINE_LIMIT:
            rule.slow = True
        self._done(flow, rule, change)

    def _skipped(self, flow: http.HTTPFlow, rule: MapRule, why: str) -> None:
        rule.timeouts += 1
        rule.last_error = f"{why}; skipped for {flow.request.method} {flow.request.pretty_url[:200]}"
        log.warning("map rule %s: %s", rule.id, rule.last_error)
        skip(flow, rule)

    def _verdict(self, rule: MapRule, done: asyncio.Future[tuple[Change | None, float]]) -> None:
        """A worker whose flow stopped waiting has finished: was the regex to blame?"""
        self._late.discard(done)
        if done.cancelled():
            return
        error = done.exception()
        if isinstance(error, RewriteFailed):
            self._blame(rule, error)
        elif error is not None:
            log.error("map rule %s failed in its worker: %r", rule.id, error)
        else:  # it finished, late: a busy machine or a queue of work, not the regex
            rule.timeouts_in_a_row = 0
            rule.slow = rule.slow or done.result()[1] > INLINE_LIMIT

    async def settled(self) -> None:
        """Wait for the workers whose flows stopped waiting (their verdicts are in then)."""
        while self._late:
            await asyncio.wait(list(self._late))

    def _blame(self, rule: MapRule, error: RewriteFailed) -> None:
        rule.slow = True
        rule.timeouts_in_a_row += 1
        if rule.timeouts_in_a_row >= self.max_timeouts and rule.enabled and self.rules.get(rule.id) is rule:
            what = "regex timeouts" if isinstance(error, RegexTimeout) else "failed rewrites"
            reason = f"switched off after {rule.timeouts_in_a_row} {what} in a row; last: {error}"
            log.warning("map rule %s %s", rule.id, reason)
            off = dataclasses.replace(rule, enabled=False, disabled_reason=reason,
                                      updated_at=format_time(datetime.now(UTC)))
            self.set_rules([off if r is rule else r for r in self.ordered()])
            if self.on_disabled is not None:
                self.on_disabled(off)
