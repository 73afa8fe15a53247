"""The addon worker: a separate process that hosts V8 contexts, one per addon.

Started by `runtime.Worker` as ``python -I worker.py --memory-mb N --heap-mb N --marker-fd FD``.
It imports only the standard library, orjson and py_mini_racer, so the proxy's modules never
load into the process that runs untrusted JavaScript.

Protocol: frames of a 4-byte little-endian length and an orjson object, requests on stdin,
replies on stdout in the same order (the worker handles one request at a time):

    {"op": "load", "seq": 1, "slot": "ID#1", "code": "..."}       -> {"seq": 1, "ok": true, "hooks": [...], "logs": [...]}
    {"op": "check", "seq": 2, "code": "..."}                       -> the same, in a throwaway context
    {"op": "unload", "seq": 3, "slot": "ID#1"}                     -> {"seq": 3, "ok": true}
    {"op": "run", "seq": 4, "phase": "request", "calls": [slot...], "flow": {...}, "answered": false}
                                                                   -> {"seq": 4, "results": [{"slot", "ok", ...}]}

A failed load answers ``{"ok": false, "error": "...", "line": L, "column": C}`` (1-based).
Each run result is ``{"slot", "ok": true, "changes": {...}, "logs": [...]}``, just
``{"slot", "ok": true}`` when the handler changed and logged nothing, or
``{"slot", "ok": false, "error": "...", "logs": [...]}``; results stop after a request-phase
answer (block/respond), and each addon sees the header changes of the ones before it.

The marker is a small shared memory block (`MARKER`): before each JavaScript evaluation the
worker writes (seq, start time on CLOCK_MONOTONIC, index in `calls`, kind) and resets kind to
idle after it. The parent's watchdog reads it to kill a call that overruns and to know which
addon was running when the process died.
"""

from __future__ import annotations

import argparse
import ctypes
import mmap
import os
import re
import resource
import signal
import struct
import sys
import time
from pathlib import Path
from typing import Any

import orjson

FRAME_HEADER = struct.Struct("<I")
MAX_FRAME = 64 << 20
MARKER = struct.Struct("<qqii")  # seq, start_ns, index, kind
MARKER_SIZE = 64
KIND_IDLE, KIND_RUN, KIND_LOAD = 0, 1, 2
PENDING = '{"pending":true}'  # the prelude's answer when a handler returned a promise
UNCHANGED = '{"ok":true}'  # the prelude's answer when a handler changed and logged nothing
PRELUDE_PATH = Path(__file__).with_name("prelude.js")
ADDON_SOURCE_URL = "\n//# sourceURL=addon.js\n"
_UNCAUGHT = re.compile(r"^Uncaught (.*) at (?:\S*):(\d+):(\d+)$")
PR_SET_PDEATHSIG = 1
PR_SET_SECCOMP, SECCOMP_MODE_FILTER, PR_SET_NO_NEW_PRIVS = 22, 2, 38


def encode_frame(message: dict[str, Any]) -> bytes:
    data = orjson.dumps(message)
    return FRAME_HEADER.pack(len(data)) + data


class FrameReader:
    """Messages from a file descriptor, read in large chunks: several frames often arrive in
    one read, and `has_frame()` tells whether one is waiting without blocking."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.buffer = bytearray()

    def has_frame(self) -> bool:
        if len(self.buffer) < FRAME_HEADER.size:
            return False
        (size,) = FRAME_HEADER.unpack_from(self.buffer)
        if size > MAX_FRAME:
            raise ValueError(f"frame of {size} bytes is over the {MAX_FRAME} byte limit")
        return len(self.buffer) >= FRAME_HEADER.size + size

    def next(self) -> dict[str, Any] | None:
        """The next message (blocking); None at end of input."""
        while not self.has_frame():
            chunk = os.read(self.fd, 1 << 16)
            if not chunk:
                return None
            self.buffer += chunk
        (size,) = FRAME_HEADER.unpack_from(self.buffer)
        end = FRAME_HEADER.size + size
        message = orjson.loads(memoryview(self.buffer)[FRAME_HEADER.size:end])
        del self.buffer[:end]
        return message


def v8_flags(heap_mb: int) -> list[str]:
    """Single-threaded (no platform threads), no JIT (no runtime code generation, no
    WebAssembly), and a heap cap per context."""
    return ["--single-threaded", "--jitless", f"--max-old-space-size={heap_mb}"]


def uncaught_location(message: str) -> tuple[str, int, int]:
    """Split py_mini_racer's "Uncaught X at addon.js:3:6" into ("X", 3, 7): 1-based column."""
    first = message.split("\n", 1)[0]
    match = _UNCAUGHT.match(first)
    if match is None:
        return first.removeprefix("Uncaught "), 0, 0
    return match.group(1), int(match.group(2)), int(match.group(3)) + 1


def apply_header_ops(headers: list[list[str]], ops: list[list[str]]) -> list[list[str]]:
    """The header list after an addon's set/remove operations (names match case-insensitively)."""
    for op in ops:
        name = op[1].lower()
        headers = [h for h in headers if h[0].lower() != name]
        if op[0] == "set":
            headers.append([op[1], op[2]])
    return headers


class Marker:
    """The shared block the parent reads; see the module docstring."""

    def __init__(self, block: mmap.mmap | None) -> None:
        self.block = block

    def busy(self, seq: int, index: int, kind: int) -> None:
        if self.block is not None:
            MARKER.pack_into(self.block, 0, seq, time.monotonic_ns(), index, KIND_IDLE)
            struct.pack_into("<i", self.block, 20, kind)

    def idle(self) -> None:
        if self.block is not None:
            struct.pack_into("<i", self.block, 20, KIND_IDLE)


class Engine:
    """The addon contexts of this worker and the operations on them."""

    def __init__(self, racer: Any, errors: Any, prelude: str, marker: Marker) -> None:
        self.racer = racer
        self.errors = errors
        self.prelude = prelude
        self.marker = marker
        self.contexts: dict[str, Any] = {}

    def handle(self, message: dict[str, Any]) -> dict[str, Any]:
        op = message.get("op")
        seq = message.get("seq", 0)
        if op == "run":
            return {"seq": seq, "results": self.run(message)}
        if op == "load" or op == "check":
            context, reply = self.load(seq, message["code"])
            if context is not None and op == "load":
                self.contexts[message["slot"]] = context
            return {"seq": seq, **reply}
        if op == "unload":
            self.contexts.pop(message["slot"], None)
            return {"seq": seq, "ok": True}
        if op == "ping":
            return {"seq": seq, "ok": True, "contexts": len(self.contexts)}
        return {"seq": seq, "ok": False, "error": f"unknown op {op!r}"}

    def load(self, seq: int, code: str) -> tuple[Any, dict[str, Any]]:
        context = self.racer()
        context.eval(self.prelude)
        self.marker.busy(seq, 0, KIND_LOAD)
        try:
            try:
                context.eval(code + ADDON_SOURCE_URL)
            except self.errors.JSParseException:
                return None, self._syntax_error(context, code)
            except self.errors.JSEvalException as e:
                text, line, column = uncaught_location(str(e))
                where = f" (line {line}, column {column})" if line else ""
                return None, {"ok": False, "error": f"addon code threw {text}{where} while loading",
                              "line": line, "column": column, "logs": self._logs(context)}
            try:
                loaded = orjson.loads(context.eval("ghost.__loaded__()"))
                return context, {"ok": True, "hooks": list(loaded["hooks"]), "logs": loaded["logs"]}
            except (self.errors.MiniRacerBaseException, ValueError, TypeError, KeyError) as e:
                return None, {"ok": False, "error": f"addon code broke Ghost's prelude: {e}", "line": 0, "column": 0}
        finally:
            self.marker.idle()

    def _syntax_error(self, context: Any, code: str) -> dict[str, Any]:
        # py_mini_racer 0.6 reports no detail for parse errors; an indirect eval of the same
        # source (which cannot run: it does not parse) throws a SyntaxError with its location.
        try:
            context.eval("(0, eval)(" + orjson.dumps(code).decode() + ")")
        except self.errors.JSEvalException as e:
            text, line, column = uncaught_location(str(e))
            return {"ok": False, "error": f"{text} at line {line}, column {column}", "line": line, "column": column}
        return {"ok": False, "error": "SyntaxError (no location available)", "line": 0, "column": 0}

    def _logs(self, context: Any) -> list[list[str]]:
        try:
            return orjson.loads(context.eval("ghost.__loaded__()"))["logs"]
        except Exception:  # noqa: BLE001 - the context may be unusable after an error
            return []

    def run(self, message: dict[str, Any]) -> list[dict[str, Any]]:
        seq, phase = message["seq"], message["phase"]
        flow = message["flow"]
        answered = bool(message.get("answered"))
        results: list[dict[str, Any]] = []
        source = self._call_source(phase, flow, answered)
        for index, slot in enumerate(message["calls"]):
            context = self.contexts.get(slot)
            if context is None:
                results.append({"slot": slot, "ok": False, "error": "not loaded", "missing": True, "logs": []})
                continue
            self.marker.busy(seq, index, KIND_RUN)
            try:
                raw = context.eval(source)
                if raw == PENDING:
                    raw = context.eval("ghost.__collect__()")
                if raw == UNCHANGED:  # most calls: nothing to check or apply
                    results.append({"slot": slot, "ok": True})
                    continue
                result = orjson.loads(raw)
                if not isinstance(result, dict):
                    raise TypeError(f"dispatch returned {type(result).__name__}")
            except (self.errors.MiniRacerBaseException, ValueError, TypeError) as e:
                result = {"ok": False, "error": uncaught_location(str(e))[0], "logs": []}
            finally:
                self.marker.idle()
            result["slot"] = slot
            results.append(result)
            if result.get("ok") is not True:
                continue
            try:
                changes = result["changes"]
                if changes["headers"]:
                    part = flow[phase]
                    part["headers"] = apply_header_ops(part["headers"], changes["headers"])
                answer = changes["answer"] is not None
            except (KeyError, TypeError, IndexError, AttributeError) as e:
                results[-1] = {"slot": slot, "ok": False, "error": f"malformed handler result: {e!r}", "logs": []}
                continue
            if answer:
                answered = True
                if phase == "request":
                    break
            if changes["headers"] or answer:
                source = self._call_source(phase, flow, answered)
        return results

    @staticmethod
    def _call_source(phase: str, flow: dict[str, Any], answered: bool) -> str:
        # orjson output is JSON, and JSON is an ECMAScript expression; keys are Ghost's own.
        return f'ghost.__dispatch__("{phase}",{orjson.dumps(flow).decode()},{"true" if answered else "false"})'


# --- the syscall filter (seccomp) ---------------------------------------------------------
#
# Once V8 is up, the worker needs to read and write its pipes, allocate memory and little
# else. A classic-BPF seccomp filter refuses (EPERM) what an attacker who broke out of V8
# would want: sockets, opening or changing files, exec, fork, ptrace, other processes'
# memory, signals to other processes, namespaces, kernel interfaces.

AUDIT_ARCH_X86_64 = 0xC000003E
SECCOMP_RET_ALLOW = 0x7FFF0000
SECCOMP_RET_ERRNO = 0x00050000
EPERM, ENOSYS = 1, 38
CLONE_THREAD = 0x00010000
_LD_W_ABS, _JEQ_K, _JSET_K, _RET_K = 0x20, 0x15, 0x45, 0x06
_NR, _ARCH, _ARG0 = 0, 4, 16  # offsets in struct seccomp_data (arg0's low 32 bits)
DENIED_SYSCALLS = {  # x86-64 numbers
    "socket": 41, "connect": 42, "accept": 43, "sendto": 44, "recvfrom": 45, "sendmsg": 46, "recvmsg": 47,
    "bind": 49, "listen": 50, "socketpair": 53, "accept4": 288, "recvmmsg": 299, "sendmmsg": 307,
    "fork": 57, "vfork": 58, "execve": 59, "execveat": 322, "ptrace": 101,
    "process_vm_readv": 310, "process_vm_writev": 311,
    "open": 2, "openat": 257, "openat2": 437, "creat": 85, "name_to_handle_at": 303, "open_by_handle_at": 304,
    "truncate": 76, "ftruncate": 77, "rename": 82, "renameat": 264, "renameat2": 316, "mkdir": 83,
    "mkdirat": 258, "rmdir": 84, "link": 86, "linkat": 265, "unlink": 87, "unlinkat": 263, "symlink": 88,
    "symlinkat": 266, "chmod": 90, "fchmod": 91, "fchmodat": 268, "chown": 92, "fchown": 93, "lchown": 94,
    "fchownat": 260, "mknod": 133, "mknodat": 259,
    "tkill": 200, "rt_sigqueueinfo": 129, "rt_tgsigqueueinfo": 297, "pidfd_open": 434,
    "pidfd_send_signal": 424, "pidfd_getfd": 438,
    "setuid": 105, "setgid": 106, "setreuid": 113, "setregid": 114, "setresuid": 117, "setresgid": 119,
    "mount": 165, "umount2": 166, "chroot": 161, "pivot_root": 155, "setns": 308, "unshare": 272,
    "init_module": 175, "finit_module": 313, "delete_module": 176, "kexec_load": 246, "reboot": 169,
    "bpf": 321, "perf_event_open": 298, "userfaultfd": 323, "keyctl": 250, "add_key": 248,
    "request_key": 249, "io_uring_setup": 425, "io_uring_enter": 426, "io_uring_register": 427,
    "memfd_create": 319,
}
SELF_ONLY_SYSCALLS = {"kill": 62, "tgkill": 234}  # allowed when the first argument is this process
CLONE, CLONE3 = 56, 435


def syscall_filter(pid: int) -> list[tuple[int, int, int, int]]:
    """The BPF program as (code, jt, jf, k) instructions (classic BPF jumps only forward):

        0       ld arch; jeq x86-64 ? next : DENY
        2       ld nr
        3...    jeq NR ? its target : next     (one per listed syscall)
        OPEN    ret allow                      (everything not listed)
        SELF    ld arg0; jeq pid ? ALLOW : DENY          (kill, tgkill: this process only)
        CLONE   ld arg0; jset CLONE_THREAD ? ALLOW : DENY (threads, not processes)
        ALLOW   ret allow
        DENY    ret errno(EPERM)
        NOSYS   ret errno(ENOSYS)              (clone3: glibc falls back to clone)
    """
    checks = [(nr, "DENY") for nr in sorted(DENIED_SYSCALLS.values())]
    checks += [(nr, "SELF") for nr in sorted(SELF_ONLY_SYSCALLS.values())]
    checks += [(CLONE, "CLONE"), (CLONE3, "NOSYS")]
    first = 3
    at = {"OPEN": first + len(checks)}
    at["SELF"] = at["OPEN"] + 1
    at["CLONE"] = at["SELF"] + 2
    at["ALLOW"] = at["CLONE"] + 2
    at["DENY"] = at["ALLOW"] + 1
    at["NOSYS"] = at["DENY"] + 1

    def jump(source: int, label: str) -> int:
        offset = at[label] - source - 1
        assert 0 <= offset < 256, (source, label, offset)
        return offset

    prog = [(_LD_W_ABS, 0, 0, _ARCH), (_JEQ_K, 0, jump(1, "DENY"), AUDIT_ARCH_X86_64), (_LD_W_ABS, 0, 0, _NR)]
    prog += [(_JEQ_K, jump(first + i, label), 0, nr) for i, (nr, label) in enumerate(checks)]
    prog.append((_RET_K, 0, 0, SECCOMP_RET_ALLOW))
    prog.append((_LD_W_ABS, 0, 0, _ARG0))
    prog.append((_JEQ_K, jump(at["SELF"] + 1, "ALLOW"), jump(at["SELF"] + 1, "DENY"), pid))
    prog.append((_LD_W_ABS, 0, 0, _ARG0))
    prog.append((_JSET_K, jump(at["CLONE"] + 1, "ALLOW"), jump(at["CLONE"] + 1, "DENY"), CLONE_THREAD))
    prog.append((_RET_K, 0, 0, SECCOMP_RET_ALLOW))
    prog.append((_RET_K, 0, 0, SECCOMP_RET_ERRNO | EPERM))
    prog.append((_RET_K, 0, 0, SECCOMP_RET_ERRNO | ENOSYS))
    assert len(prog) == at["NOSYS"] + 1
    return prog


def install_syscall_filter() -> bool:
    """Install the filter on this process (and any thread it starts); False where unsupported."""
    import platform

    if platform.machine() != "x86_64" or not sys.platform.startswith("linux"):
        return False

    class SockFilter(ctypes.Structure):
        _fields_ = [("code", ctypes.c_uint16), ("jt", ctypes.c_uint8), ("jf", ctypes.c_uint8),
                    ("k", ctypes.c_uint32)]

    class SockFprog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(SockFilter))]

    prog = syscall_filter(os.getpid())
    filters = (SockFilter * len(prog))(*(SockFilter(*ins) for ins in prog))
    fprog = SockFprog(len(prog), filters)
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_void_p, ctypes.c_ulong, ctypes.c_ulong]
    if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, None, 0, 0) != 0:
        return False
    return libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.addressof(fprog), 0, 0) == 0


def limit_process(memory_mb: int) -> None:
    """OS limits on this process: memory (data segment), no core files, no files written,
    and death with the parent."""
    size = memory_mb << 20
    resource.setrlimit(resource.RLIMIT_DATA, (size, size))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, ctypes.c_ulong(signal.SIGKILL), ctypes.c_ulong(0), ctypes.c_ulong(0),
               ctypes.c_ulong(0))
    if os.getppid() == 1:  # the parent died before prctl
        os._exit(1)
    # A waking worker should not preempt the proxy: it gets an idle core, or waits its turn.
    # (Measured with scripts/bench_addons.py: the proxy's CPU per request with three addons
    # +162 us under SCHED_BATCH against +334 us under the normal policy.)
    os.sched_setscheduler(0, os.SCHED_BATCH, os.sched_param(0))


def close_fd_limit() -> None:
    """No new file descriptors from here on (V8 is up; the pipes are open)."""
    highest = max(int(name) for name in os.listdir("/proc/self/fd"))
    resource.setrlimit(resource.RLIMIT_NOFILE, (highest + 1, highest + 1))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--memory-mb", type=int, default=1024)
    parser.add_argument("--heap-mb", type=int, default=128)
    parser.add_argument("--marker-fd", type=int, default=-1)
    args = parser.parse_args(argv)
    limit_process(args.memory_mb)
    marker = Marker(mmap.mmap(args.marker_fd, MARKER_SIZE) if args.marker_fd >= 0 else None)
    if args.marker_fd >= 0:
        os.close(args.marker_fd)
    # Frames go to a private copy of stdout; anything native code prints goes to stderr.
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)

    from py_mini_racer import py_mini_racer as errors
    from py_mini_racer.py_mini_racer import MiniRacer

    MiniRacer.v8_flags = v8_flags(args.heap_mb)
    engine = Engine(MiniRacer, errors, PRELUDE_PATH.read_text(encoding="utf-8"), marker)
    version = str(MiniRacer().v8_version).removeprefix("b'").removesuffix("'")  # 0.6 gives "b'8.9...'"
    close_fd_limit()
    sandboxed = install_syscall_filter()
    out.write(encode_frame({"seq": 0, "ready": True, "v8": version, "seccomp": sandboxed}))
    reader = FrameReader(0)
    while True:
        if not reader.has_frame():
            out.flush()  # answers go out together, once no request is waiting
        message = reader.next()
        if message is None:
            return 0
        out.write(encode_frame(engine.handle(message)))


if __name__ == "__main__":
    sys.exit(main())
