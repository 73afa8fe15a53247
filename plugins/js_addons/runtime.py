"""The addon runtime on Ghost's side: worker processes, the watchdog, loading and calling addons.

Addons run in worker processes (`worker.py`), never on mitmproxy's event loop. One shared
worker hosts every addon's own V8 context; an addon that once overran its time limit or
crashed a worker gets a worker of its own, so its next failures cost nobody else. A chain
of addons on one worker is one round trip per flow phase.

Limits on every worker: the OS memory limit (RLIMIT_DATA), a V8 heap cap per context, and
the watchdog here, which kills a worker whose current call has run past the per-call time
limit. A killed or crashed worker is restarted and its other addons are reloaded (their
stores start empty); flows that were waiting on it are sent again, without the culprit.
After `max_failures` failures in a row an addon is unloaded and reported disabled.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import itertools
import logging
import mmap
import os
import re
import signal
import struct
import subprocess
import sys
import time
from collections.abc import Awaitable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import orjson
from mitmproxy import http

from plugins.js_addons import changes as ch
from plugins.js_addons.worker import FRAME_HEADER, KIND_IDLE, KIND_LOAD, KIND_RUN, MARKER, MARKER_SIZE, MAX_FRAME

log = logging.getLogger("ghost.js_addons")

WORKER_PATH = Path(__file__).with_name("worker.py")
START_TIMEOUT = 20.0
READY_WAIT = 15.0
TICK = 0.01
MAX_RESTARTS_IN_A_ROW = 5
STDERR_TAIL = 4096
_BODY_WORD = re.compile(r"\bbody\b")


@dataclass(slots=True)
class RuntimeConfig:
    call_timeout_ms: int = 50
    load_timeout_ms: int = 2000
    memory_limit_mb: int = 1024
    heap_limit_mb: int = 128
    max_failures: int = 5
    python: str = sys.executable


class AddonLoadError(Exception):
    """Addon code that does not compile or fails while loading; line/column are 1-based (0: unknown)."""

    def __init__(self, message: str, line: int = 0, column: int = 0) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.column = column


class WorkerLost(Exception):
    """The worker died (or was killed) before answering. `slot` is the culprit when it was
    running this request, else None; `retry` says whether sending it again makes sense."""

    def __init__(self, reason: str, slot: str | None, retry: bool = True) -> None:
        super().__init__(reason)
        self.reason = reason
        self.slot = slot
        self.retry = retry


class RuntimeEvents(Protocol):
    """What the runtime reports; called on the event loop, must be quick."""

    def addon_log(self, addon: LoadedAddon, level: str, message: str) -> None: ...

    def addon_failed(self, addon: LoadedAddon, error: str) -> None: ...

    def addon_disabled(self, addon: LoadedAddon, reason: str) -> None: ...


@dataclass(eq=False, slots=True)
class LoadedAddon:
    id: str
    name: str
    priority: int
    created_at: str
    slot: str
    code: str
    hooks: frozenset[str]
    wants_body: bool
    worker: Worker
    failures: int = 0
    last_error: str = ""
    load_logs: list[tuple[str, str]] = dataclasses.field(default_factory=list)

    @property
    def order(self) -> tuple[int, str, str]:
        return (self.priority, self.created_at, self.id)


@dataclass(slots=True)
class _Pending:
    future: asyncio.Future[dict[str, Any]]
    message: dict[str, Any]


class _Process:
    """One worker OS process on raw non-blocking pipes (cheaper per message than asyncio's
    subprocess transports): frames in, stderr kept for crash reports, exit noticed at EOF."""

    def __init__(self, worker: Worker, popen: subprocess.Popen[bytes]) -> None:
        assert popen.stdin is not None and popen.stdout is not None and popen.stderr is not None
        self.worker = worker
        self.popen = popen
        self.loop = asyncio.get_running_loop()
        self.stdin, self.stdout, self.stderr_fd = popen.stdin.fileno(), popen.stdout.fileno(), popen.stderr.fileno()
        for fd in (self.stdin, self.stdout, self.stderr_fd):
            os.set_blocking(fd, False)
        self.buffer = bytearray()
        self.unsent = bytearray()
        self._flushing = False  # a flush is scheduled, or waiting for room in the pipe
        self.stderr: collections.deque[bytes] = collections.deque(maxlen=64)
        self.ready: asyncio.Future[dict[str, Any]] = self.loop.create_future()
        self.killed_reason = ""
        self.exited = False
        self.done = asyncio.Event()
        self.loop.add_reader(self.stdout, self._on_stdout)
        self.loop.add_reader(self.stderr_fd, self._on_stderr)

    @property
    def pid(self) -> int:
        return self.popen.pid

    # --- writing -----------------------------------------------------------------------

    def write(self, data: bytes) -> None:
        """Queue a frame. What is queued in one turn of the event loop goes out in one write:
        under load the requests of several flows share one system call and one wake-up of the
        worker, which then answers them in one write too."""
        if self.exited or self.popen.stdin is None:
            return
        self.unsent += data
        if not self._flushing:
            self._flushing = True
            self.loop.call_soon(self._flush)

    def _flush(self) -> None:
        """Write what is queued; the rest when the pipe has room (`_flushing` until all is out)."""
        if self.exited or self.popen.stdin is None or self.popen.stdin.closed:
            self.unsent.clear()
            self._flushing = False
            return
        try:
            sent = os.write(self.stdin, self.unsent)
        except BlockingIOError:
            sent = 0
        except OSError:  # the worker is gone; its exit is handled at EOF
            sent = len(self.unsent)
        del self.unsent[:sent]
        if self.unsent:
            self.loop.add_writer(self.stdin, self._on_writable)
        else:
            self._flushing = False

    def _on_writable(self) -> None:
        try:
            sent = os.write(self.stdin, self.unsent)
        except BlockingIOError:
            return
        except OSError:
            sent = len(self.unsent)
        del self.unsent[:sent]
        if not self.unsent:
            self.loop.remove_writer(self.stdin)
            self._flushing = False

    def close_stdin(self) -> None:
        """End of input: the worker exits on its own (once it has read what is queued, when
        the pipe takes it now)."""
        if self.popen.stdin is not None and not self.popen.stdin.closed:
            if self.unsent:
                try:
                    os.write(self.stdin, self.unsent)
                except OSError:  # full (BlockingIOError) or gone: what is left is dropped
                    pass
                self.loop.remove_writer(self.stdin)
                self.unsent.clear()
            self.popen.stdin.close()

    # --- reading -----------------------------------------------------------------------

    def _on_stderr(self) -> None:
        try:
            data = os.read(self.stderr_fd, 1 << 16)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if data:
            self.stderr.append(data)
        else:
            self.loop.remove_reader(self.stderr_fd)

    def _on_stdout(self) -> None:
        try:
            data = os.read(self.stdout, 1 << 18)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self.loop.remove_reader(self.stdout)
            self._reap(time.monotonic() + 5.0)
            return
        buffer = self.buffer
        buffer += data
        while len(buffer) >= 4:
            (size,) = FRAME_HEADER.unpack_from(buffer)
            if size > MAX_FRAME:
                self.kill("sent a frame over the size limit")
                buffer.clear()
                return
            if len(buffer) < 4 + size:
                break
            try:
                message = orjson.loads(memoryview(buffer)[4:4 + size])
            except orjson.JSONDecodeError:
                message = None
            del buffer[:4 + size]
            if not isinstance(message, dict):
                self.kill("sent a malformed frame")
                return
            if message.get("ready") and not self.ready.done():
                self.ready.set_result(message)
            else:
                self.worker._reply(message)

    # --- ending ------------------------------------------------------------------------

    def kill(self, reason: str) -> None:
        if not self.exited and not self.killed_reason:
            self.killed_reason = reason
            try:
                self.popen.kill()
            except ProcessLookupError:
                pass

    def _reap(self, deadline: float) -> None:
        """Its output ended: wait (without blocking) for the process, then report the exit."""
        if self.popen.poll() is None:
            if time.monotonic() > deadline:
                self.kill("closed its output but did not exit")
            self.loop.call_later(0.005, self._reap, deadline)
            return
        self.exited = True
        while True:  # what it printed before dying (a V8 fatal error, a traceback)
            try:
                data = os.read(self.stderr_fd, 1 << 16)
            except (BlockingIOError, OSError):
                break
            if not data:
                break
            self.stderr.append(data)
        self.loop.remove_reader(self.stderr_fd)
        if self.unsent:
            self.loop.remove_writer(self.stdin)
        for stream in (self.popen.stdin, self.popen.stdout, self.popen.stderr):
            if stream is not None:
                stream.close()
        if not self.ready.done():
            self.ready.set_exception(RuntimeError(f"the addon worker exited while starting: {self.describe_exit()}"))
            self.ready.exception()  # retrieved here: whoever waits on it sees it too
        self.done.set()
        self.worker._exited(self)

    def stderr_text(self) -> str:
        return b"".join(self.stderr)[-STDERR_TAIL:].decode("utf-8", "replace")

    def describe_exit(self) -> str:
        code = self.popen.returncode
        if code is not None and code < 0:
            try:
                what = f"signal {signal.Signals(-code).name}"
            except ValueError:
                what = f"signal {-code}"
        else:
            what = f"exit status {code}"
        lines = [line.strip("# \t") for line in self.stderr_text().splitlines()]
        lines = [line for line in lines if line and not line.startswith("<---")]
        fatal = [line for line in lines if "Fatal" in line or "OOM" in line]
        detail = (fatal or lines or [""])[-1]
        if "OOM" in detail:
            return f"crashed the worker: out of memory ({detail}; {what})"
        return f"crashed the worker: {detail} ({what})" if detail else f"crashed the worker ({what})"


def start_worker_process(config: RuntimeConfig, marker_fd: int) -> subprocess.Popen[bytes]:
    """Fork and exec a worker (vfork-fast, as asyncio's own subprocess support does it)."""
    return subprocess.Popen(
        [config.python, "-I", str(WORKER_PATH),
         "--memory-mb", str(config.memory_limit_mb), "--heap-mb", str(config.heap_limit_mb),
         "--marker-fd", str(marker_fd)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        pass_fds=(marker_fd,), start_new_session=True,
    )


class Worker:
    """A worker process that is restarted when it dies, with its requests, its watchdog and
    the addons it hosts (reloaded after a restart)."""

    def __init__(self, runtime: AddonRuntime, name: str) -> None:
        self.runtime = runtime
        self.name = name
        self.hosted: dict[str, str] = {}  # slot -> code
        self.pending: dict[int, _Pending] = {}
        self.proc: _Process | None = None
        self.ready = asyncio.Event()
        self.seq = itertools.count(1)
        self.closed = False
        self.restarting: asyncio.Task[None] | None = None
        self.restarts = 0
        self.v8_version = ""
        self.sandboxed = False
        self.sandbox_warned = False
        self._ticking: asyncio.TimerHandle | None = None
        fd = os.memfd_create(f"ghost-addons-{name}", 0)
        os.ftruncate(fd, MARKER_SIZE)
        self.marker_fd = fd
        self.marker = mmap.mmap(fd, MARKER_SIZE)

    # --- process lifecycle ---------------------------------------------------------------

    async def start(self) -> None:
        await self._spawn()
        self.ready.set()

    async def _spawn(self) -> None:
        self.marker[:] = bytes(MARKER_SIZE)
        config = self.runtime.config
        proc = _Process(self, start_worker_process(config, self.marker_fd))
        self.proc = proc
        try:
            hello = await asyncio.wait_for(asyncio.shield(proc.ready), START_TIMEOUT)
        except TimeoutError:
            proc.kill(f"did not start within {START_TIMEOUT:.0f} s")
            raise RuntimeError(f"the addon worker did not start within {START_TIMEOUT:.0f} s") from None
        self.v8_version = str(hello.get("v8", ""))
        if not hello.get("seccomp") and not self.sandbox_warned:
            self.sandbox_warned = True
            log.warning("addon worker %s runs without its syscall filter (seccomp not available here)", self.name)
        self.sandboxed = bool(hello.get("seccomp"))

    async def close(self) -> None:
        self.closed = True
        self.ready.clear()
        if self.restarting is not None:
            self.restarting.cancel()
        proc = self.proc
        if proc is not None and not proc.exited:
            proc.close_stdin()
            try:
                await asyncio.wait_for(proc.done.wait(), 2.0)
            except TimeoutError:
                proc.kill("Ghost is stopping")
                try:
                    await asyncio.wait_for(proc.done.wait(), 5.0)
                except TimeoutError:
                    log.error("addon worker %s (pid %d) did not exit after SIGKILL", self.name, proc.pid)
        self._fail_all(WorkerLost("Ghost is stopping", None, retry=False))
        self.marker.close()
        os.close(self.marker_fd)

    def _fail_all(self, error: WorkerLost) -> None:
        pending, self.pending = self.pending, {}
        for item in pending.values():
            if not item.future.done():
                item.future.set_exception(error)

    def _exited(self, proc: _Process) -> None:
        if proc is not self.proc:
            return
        seq, _, index, kind = MARKER.unpack_from(self.marker, 0)
        reason = proc.killed_reason or proc.describe_exit()
        culprit: str | None = None
        pending, self.pending = self.pending, {}
        for number, item in pending.items():
            slot = None
            if kind != KIND_IDLE and number == seq:
                message = item.message
                slot = message.get("slot") if kind == KIND_LOAD else _at(message.get("calls"), index)
                culprit = slot
            if not item.future.done():
                item.future.set_exception(WorkerLost(reason, slot))
        self.ready.clear()
        if self.closed:
            return
        log.warning("addon worker %s stopped (%s)%s", self.name, reason,
                    f"; running addon slot {culprit}" if culprit else "")
        self.runtime._worker_lost(self, culprit, reason)
        if self.restarting is None:
            self.restarting = asyncio.get_running_loop().create_task(self._restart(), name=f"restart {self.name}")

    async def _restart(self) -> None:
        try:
            for attempt in range(MAX_RESTARTS_IN_A_ROW):
                if self.closed:
                    return
                if attempt:
                    await asyncio.sleep(min(2.0, 0.1 * 2 ** attempt))
                try:
                    await self._spawn()
                    for slot, code in list(self.hosted.items()):
                        reply = await self._send({"op": "load", "slot": slot, "code": code})
                        if not reply.get("ok"):
                            self.hosted.pop(slot, None)
                            self.runtime._reload_failed(slot, str(reply.get("error", "unknown error")))
                except WorkerLost as lost:
                    if lost.slot is not None:
                        self.hosted.pop(lost.slot, None)
                        self.runtime._reload_failed(lost.slot, lost.reason)
                    continue
                except (OSError, RuntimeError) as e:
                    log.error("restarting addon worker %s failed: %s", self.name, e)
                    continue
                self.restarts += 1
                self.ready.set()
                return
            log.error("addon worker %s could not be restarted; its addons are not running", self.name)
            self.runtime._worker_broken(self)
        finally:
            self.restarting = None

    # --- requests ------------------------------------------------------------------------

    def request(self, message: dict[str, Any]) -> Awaitable[dict[str, Any]]:
        """Send a request (once the worker is up); the reply, or WorkerLost when it dies first.
        A running worker's reply is a plain future: no coroutine per call."""
        if self.ready.is_set():
            return self._send(message)
        return self._request_when_ready(message)

    async def _request_when_ready(self, message: dict[str, Any]) -> dict[str, Any]:
        if self.closed:
            raise WorkerLost("the addon runtime is stopped", None, retry=False)
        try:
            await asyncio.wait_for(self.ready.wait(), READY_WAIT)
        except TimeoutError:
            raise WorkerLost(f"addon worker {self.name} is not available", None, retry=False) from None
        return await self._send(message)

    def _send(self, message: dict[str, Any]) -> asyncio.Future[dict[str, Any]]:
        proc = self.proc
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        if proc is None or proc.exited:
            future.set_exception(WorkerLost(f"addon worker {self.name} is not running", None))
            return future
        seq = next(self.seq)
        message["seq"] = seq
        data = orjson.dumps(message)
        proc.write(FRAME_HEADER.pack(len(data)) + data)
        self.pending[seq] = _Pending(future, message)
        if self._ticking is None:
            self._ticking = asyncio.get_running_loop().call_later(TICK, self._tick)
        return future

    def _reply(self, message: dict[str, Any]) -> None:
        item = self.pending.pop(message.get("seq", -1), None)
        if item is not None and not item.future.done():
            item.future.set_result(message)

    def _tick(self) -> None:
        """The watchdog: kill the worker when its current call has overrun its limit."""
        self._ticking = None
        proc = self.proc
        if proc is None or proc.exited:
            return
        kind = struct.unpack_from("<i", self.marker, 20)[0]
        if kind != KIND_IDLE:
            start = struct.unpack_from("<q", self.marker, 8)[0]
            config = self.runtime.config
            limit_ms = config.call_timeout_ms if kind == KIND_RUN else config.load_timeout_ms
            elapsed_ms = (time.monotonic_ns() - start) / 1e6
            if elapsed_ms > limit_ms:
                what = "a handler" if kind == KIND_RUN else "the addon code"
                proc.kill(f"timed out: {what} ran longer than the {limit_ms} ms limit")
                return
        if self.pending:
            self._ticking = asyncio.get_running_loop().call_later(TICK, self._tick)


def _at(calls: Any, index: int) -> str | None:
    if isinstance(calls, list) and 0 <= index < len(calls):
        return str(calls[index])
    return None


def wants_body(code: str) -> bool:
    """Bodies are sent only to addons whose code mentions `body`."""
    return _BODY_WORD.search(code) is not None


@dataclass(slots=True)
class _Chains:
    request: tuple[LoadedAddon, ...] = ()
    response: tuple[LoadedAddon, ...] = ()


class AddonRuntime:
    """Load, unload and call addons. Create, `await start()`, `await stop()`."""

    def __init__(self, config: RuntimeConfig, events: RuntimeEvents) -> None:
        self.config = config
        self.events = events
        self.addons: dict[str, LoadedAddon] = {}
        self.chains = _Chains()
        self.shared: Worker | None = None
        self.checker: Worker | None = None
        self.own_workers: dict[str, Worker] = {}  # addon id -> its dedicated worker
        self.isolate_next: set[str] = set()
        self._versions = itertools.count(1)
        self._tasks: set[asyncio.Task[Any]] = set()
        self._stopped = False

    async def start(self) -> None:
        self.shared = Worker(self, "shared")
        await self.shared.start()

    async def stop(self) -> None:
        self._stopped = True
        self.addons.clear()
        self.chains = _Chains()
        for task in list(self._tasks):
            task.cancel()
        workers = [w for w in (self.shared, self.checker, *self.own_workers.values()) if w is not None]
        await asyncio.gather(*(w.close() for w in workers), return_exceptions=True)
        self.own_workers.clear()

    @property
    def v8_version(self) -> str:
        return self.shared.v8_version if self.shared is not None else ""

    # --- loading ---------------------------------------------------------------------------

    async def check(self, code: str) -> list[str]:
        """Compile and run `code`'s top level in a throwaway context of a worker that hosts no
        addon; returns the hooks it registered or raises AddonLoadError."""
        if self.checker is None:
            self.checker = Worker(self, "check")
            await self.checker.start()
        reply = await self._load_request(self.checker, {"op": "check", "code": code})
        return list(reply.get("hooks", []))

    async def _load_request(self, worker: Worker, message: dict[str, Any]) -> dict[str, Any]:
        try:
            reply = await worker.request(message)
        except WorkerLost as lost:
            raise AddonLoadError(f"the addon worker stopped while loading this code: {lost.reason}") from None
        if not reply.get("ok"):
            raise AddonLoadError(str(reply.get("error", "unknown error")), int(reply.get("line", 0) or 0),
                                 int(reply.get("column", 0) or 0))
        return reply

    async def load(self, addon_id: str, name: str, code: str, priority: int, created_at: str,
                   announce: bool = True) -> LoadedAddon:
        """Load (or hot-reload) an addon: a new context replaces the old one once it loaded.
        What its top level logged is reported now, or kept in `load_logs` when not `announce`."""
        worker = await self._worker_for(addon_id)
        slot = f"{addon_id}#{next(self._versions)}"
        reply = await self._load_request(worker, {"op": "load", "slot": slot, "code": code})
        if self._stopped:
            raise AddonLoadError("the addon runtime is stopped")
        worker.hosted[slot] = code
        addon = LoadedAddon(addon_id, name, priority, created_at, slot, code,
                            frozenset(reply.get("hooks", [])), wants_body(code), worker)
        old = self.addons.get(addon_id)
        self.addons[addon_id] = addon
        self._rebuild_chains()
        if old is not None:
            self._drop_context(old)
        addon.load_logs = ch.parse_logs(reply.get("logs"))
        if announce:
            self.announce(addon)
        return addon

    async def _worker_for(self, addon_id: str) -> Worker:
        if addon_id in self.own_workers:
            return self.own_workers[addon_id]
        if addon_id in self.isolate_next:
            worker = Worker(self, f"addon-{addon_id}")
            self.own_workers[addon_id] = worker
            self.isolate_next.discard(addon_id)
            await worker.start()
            return worker
        if self.shared is None:
            raise AddonLoadError("the addon runtime is not running")
        return self.shared

    def unload(self, addon_id: str) -> LoadedAddon | None:
        addon = self.addons.pop(addon_id, None)
        if addon is not None:
            self._rebuild_chains()
            self._drop_context(addon)
        own = self.own_workers.pop(addon_id, None)
        if own is not None:
            self._spawn_task(own.close(), f"close worker of {addon_id}")
        self.isolate_next.discard(addon_id)
        return addon

    def _drop_context(self, addon: LoadedAddon) -> None:
        worker = addon.worker
        if worker.hosted.pop(addon.slot, None) is not None and worker.ready.is_set():
            self._spawn_task(self._quiet(worker.request({"op": "unload", "slot": addon.slot})), "unload")

    @staticmethod
    async def _quiet(awaitable: Any) -> None:
        try:
            await awaitable
        except WorkerLost:
            pass

    def _spawn_task(self, coro: Any, name: str) -> None:
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _rebuild_chains(self) -> None:
        ordered = sorted(self.addons.values(), key=lambda a: a.order)
        self.chains = _Chains(
            tuple(a for a in ordered if "request" in a.hooks),
            tuple(a for a in ordered if "response" in a.hooks),
        )

    def chain(self, phase: str) -> tuple[LoadedAddon, ...]:
        return self.chains.request if phase == "request" else self.chains.response

    # --- failures ----------------------------------------------------------------------------

    def _by_slot(self, slot: str | None) -> LoadedAddon | None:
        if slot is None:
            return None
        addon = self.addons.get(slot.split("#", 1)[0])
        return addon if addon is not None and addon.slot == slot else None

    def _failed(self, addon: LoadedAddon, error: str) -> None:
        if self.addons.get(addon.id) is not addon:
            return
        addon.failures += 1
        addon.last_error = error
        self.events.addon_failed(addon, error)
        if addon.failures >= self.config.max_failures:
            self.unload(addon.id)
            self.events.addon_disabled(addon, f"disabled after {addon.failures} failures in a row; last: {error}")

    def _worker_lost(self, worker: Worker, slot: str | None, reason: str) -> None:
        """A worker died: blame the addon that was running, and give it a worker of its own."""
        addon = self._by_slot(slot)
        if addon is None:
            return
        self._failed(addon, reason)
        if addon.id in self.addons and worker is self.shared and len(worker.hosted) > 1:
            # Move it out: the shared worker restarts without it; it reloads on its own worker.
            worker.hosted.pop(addon.slot, None)
            del self.addons[addon.id]
            self._rebuild_chains()
            self.isolate_next.add(addon.id)
            self._spawn_task(self._move(addon), f"isolate addon {addon.id}")

    async def _move(self, addon: LoadedAddon) -> None:
        if addon.id not in self.isolate_next:  # deleted or reloaded meanwhile
            return
        try:
            moved = await self.load(addon.id, addon.name, addon.code, addon.priority, addon.created_at)
        except AddonLoadError as e:
            self.events.addon_disabled(addon, f"failed to reload on its own worker: {e.message}")
            return
        moved.failures = addon.failures
        moved.last_error = addon.last_error

    def _reload_failed(self, slot: str, error: str) -> None:
        addon = self._by_slot(slot)
        if addon is None:
            return
        self.unload(addon.id)
        self.events.addon_disabled(addon, f"failed to reload after a worker restart: {error}")

    def _worker_broken(self, worker: Worker) -> None:
        for addon in [a for a in self.addons.values() if a.worker is worker]:
            self.unload(addon.id)
            self.events.addon_disabled(addon, "its worker process could not be restarted")

    def announce(self, addon: LoadedAddon) -> None:
        """Report what the addon's top level logged while loading."""
        logs, addon.load_logs = addon.load_logs, []
        for level, message in logs:
            self.events.addon_log(addon, level, message)

    # --- calling ------------------------------------------------------------------------------

    async def run(self, flow: http.HTTPFlow, phase: str, chain: tuple[LoadedAddon, ...]) -> None:
        """Run `chain` (addons with a handler for `phase`, by priority) on the live flow."""
        index = 0
        while index < len(chain):
            if flow.error is not None or (phase == "request" and flow.response is not None):
                return
            worker = chain[index].worker
            end = index + 1
            while end < len(chain) and chain[end].worker is worker:
                end += 1
            segment = chain[index:end]
            index = end
            view = ch.flow_view(flow, phase, any(a.wants_body for a in segment))
            for addon, raw in await self._run_segment(worker, phase, segment, view,
                                                      bool(flow.metadata.get(ch.ANSWERED_KEY))):
                self._apply(flow, phase, addon, raw)

    async def _run_segment(self, worker: Worker, phase: str, segment: tuple[LoadedAddon, ...],
                           view: dict[str, Any], answered: bool) -> list[tuple[LoadedAddon, Any]]:
        calls = list(segment)
        for _ in range(3):
            message = {"op": "run", "phase": phase, "calls": [a.slot for a in calls], "flow": view,
                       "answered": answered}
            try:
                reply = await worker.request(message)
            except WorkerLost as lost:
                if not lost.retry:
                    return []
                calls = [a for a in calls if a.slot != lost.slot and self.addons.get(a.id) is a]
                if not calls:
                    return []
                continue
            results = reply.get("results")
            if not isinstance(results, list):
                return []
            by_slot = {a.slot: a for a in calls}
            return [(by_slot[r["slot"]], r) for r in results
                    if isinstance(r, dict) and isinstance(r.get("slot"), str) and r["slot"] in by_slot]
        return []

    def _apply(self, flow: http.HTTPFlow, phase: str, addon: LoadedAddon, raw: dict[str, Any]) -> None:
        if raw.get("missing") or self.addons.get(addon.id) is not addon:
            return
        result = ch.parse_result(raw)
        for level, message in result.logs:
            self.events.addon_log(addon, level, message)
        if not result.ok:
            self._failed(addon, result.error)
            return
        addon.failures = 0
        if result.changes is not None:
            ch.apply_changes(flow, phase, result.changes, addon.name)


