"""A plan's kernels compiled side by side in forked processes before its first call.

Each kernel compiles on its first call, one after another, and a cold first call is
mostly that: 0.1-0.7 s per kernel. Numba compiles under one process-wide lock, so
threads cannot overlap compiles; processes can, and Numba's disk cache (which the
kernel modules use anyway) is how they hand over the results:

1. A dry run of the driver records each uncompiled kernel's argument types. Nothing
   runs: kernels and native loops are replaced by recorders, BLAS by a no-op, other
   ops by zeros of their output's shape and dtype.
2. The kernels not already in the disk cache go into a queue, costliest first (a pipe
   holding their numbers), and forked children (one per spare CPU,
   DPROG_COMPILE_WORKERS) start taking kernels from it.
3. This process and the children each take the next kernel whenever they finish one,
   and compile it (Dispatcher.compile, which saves to the disk cache). Taking work as
   they go, rather than splitting it up front, keeps a wrong cost estimate from leaving
   one process idle while another still has a queue. This process then waits for the
   children, and the real call loads their kernels from the cache (2-4 ms each).

This is only a head start. The real call dispatches as it always does, so a type the
dry run got wrong, a child that fails or hangs, or a cache in memory only, costs a
compile in this process, as it would have without this module.
"""
import os
import select
import signal
import sys
import time
import warnings

import numpy as np

from ..config import config
from . import cpu_threads

# Estimated compile cost in units of ~80 ms, which orders the queue (costliest first, so
# that the last kernels taken are short). Fitted to the MLP step's five kernels on the
# development machine (Numba 0.68): a flat kernel of 7-9 code lines took 0.08-0.10 s, one
# also calling an already-built vtanh 0.12-0.14 s, the first to call vtanh 0.35-0.46 s,
# and the 46-line cross-entropy row kernel (three vectorised loops, vexp) 0.67-0.76 s.
# Lines are counted without the module's imports, decorators and comments (the same ~11
# in every module).
BASE_COST = 0.5        # per signature
COST_PER_LINE = 0.15   # per code line of the kernel functions
VECMATH_COST = 2.0     # per vecmath function called (the first kernel to call it builds it)
# A child that finishes no kernel for this long after this process found the queue empty
# (or 4x the time this process spent compiling, if longer) is taken to hang: it is
# killed, and the kernel it had taken compiles here. Each kernel a child finishes
# restarts the clock.
MIN_WAIT_S = 30.0


class _Unit:
    """One dispatcher and the signatures to compile for it. A dispatcher's signatures
    stay in one process: two processes saving one index file would lose an entry."""

    def __init__(self, dispatcher, source):
        self.dispatcher = dispatcher
        self.sigs = []
        self.vecmath = {word for word in source.replace("(", " ").split() if word.startswith("vm.v")}
        self.lines = _code_lines(source)

    def cost(self):
        return BASE_COST * len(self.sigs) + COST_PER_LINE * self.lines + VECMATH_COST * len(self.vecmath)

    def compile(self):
        for sig in self.sigs:
            self.dispatcher.compile(sig)


def _code_lines(source):
    """Lines of code in a generated module, not counting imports, decorators, comments
    and blank lines (the same ~11 in every module, whatever it compiles)."""
    skip = ("import ", "from ", "@", "#")
    return sum(1 for line in source.splitlines() if line.strip() and not line.strip().startswith(skip))


class _Recorder:
    """Stands in for a kernel or native loop in the dry run: records argument types."""
    compiled = False  # cpu_threads.split then calls it once, whole

    def __init__(self, units, dispatcher, source, to_leaves=None):
        self.units, self.dispatcher, self.source = units, dispatcher, source
        self.to_leaves = to_leaves

    def __call__(self, *args):
        if self.to_leaves is not None:
            args = self.to_leaves(args)
        sig = tuple(self.dispatcher.typeof_pyval(a) for a in args)
        unit = self.units.get(id(self.dispatcher))
        if unit is None:
            unit = self.units[id(self.dispatcher)] = _Unit(self.dispatcher, self.source)
        if sig not in unit.sigs and sig not in self.dispatcher.overloads and not _in_disk_cache(self.dispatcher, sig):
            unit.sigs.append(sig)


def workers():
    """Processes compiling side by side (this one included); 1 turns this off."""
    if config.compile_workers is not None:
        return max(1, config.compile_workers)
    return min(cpu_threads.usable_cpus(), 4)


def precompile(source, namespace, steps, ops, n_slots, leaves):
    """Compile the pending kernels and loops of a driver before its first call.
    `steps`: the driver's names of kernels and native loops -> (dispatcher, kernel
    source, leaves function or None) for those not compiled yet, None for the others;
    `ops`: its names of other op steps -> (output avals, whether the op returns a
    tuple). Returns how many processes compiled (0: none; the real call compiles as
    usual)."""
    pending = [p for p in steps.values() if p is not None]
    if len(pending) < 2 or workers() < 2 or not hasattr(os, "fork") or not sys.platform.startswith("linux"):
        return 0
    if not all(_on_disk(dispatcher) for dispatcher, _, _ in pending):
        return 0  # a kernel compiled in memory cannot be handed over
    try:
        units = _dry_run(source, namespace, steps, ops, n_slots, leaves)
    except Exception:
        return 0  # the dry run is a guess; the real call will say what is wrong
    if len(units) < 2:
        return 0
    queue = _Queue(units)
    if queue.fd is None:
        return 0
    try:
        children = [_fork(queue) for _ in range(min(workers(), len(units)) - 1)]
        try:
            start = time.perf_counter()
            _work(queue)
            _wait(children, patience=max(MIN_WAIT_S, 4 * (time.perf_counter() - start)))
        finally:
            _reap(children)  # also on Ctrl-C: no child outlives the call
    finally:
        queue.close()
    return 1 + sum(pid is not None for pid, _ in children)


def _dry_run(source, namespace, steps, ops, n_slots, leaves):
    """Run a copy of the driver with recorders for the pending steps; returns the units
    with something to compile."""
    units = {}
    dry = dict(namespace, blas_matmul=_no_op)
    for name, pending in steps.items():
        dry[name] = _no_op if pending is None else _Recorder(units, *pending)
    for name, (avals, multiple) in ops.items():
        dry[name] = _zeros_of(avals, multiple)
    exec(compile(source, "<dprog dry run>", "exec"), dry)
    with np.errstate(all="ignore"):
        dry["driver"]([None] * n_slots if n_slots else None, *leaves)
    return [unit for unit in units.values() if unit.sigs]


def _no_op(*args):
    return None


def _zeros_of(avals, multiple):
    def fake(*args):
        outs = tuple(np.zeros(a.shape, a.dtype) for a in avals)
        return outs if multiple else outs[0]
    return fake


def _on_disk(dispatcher):
    """Is the dispatcher's module a file in the disk cache (not compiled in memory)?"""
    from numba.core.caching import NullCache
    return not isinstance(getattr(dispatcher, "_cache", None), (NullCache, type(None)))


def _in_disk_cache(dispatcher, sig):
    try:
        cache = dispatcher._cache
        key = cache._index_key(sig, dispatcher.targetctx.codegen())
        return key in cache._cache_file._load_index()
    except Exception:
        return False


class _Queue:
    """The units to compile, costliest first, as a pipe holding their indices: a read of
    one record takes the next unit, atomically across the processes sharing the pipe.
    All records are written before any process reads, and the write end is closed, so
    an empty pipe reads as end-of-file."""
    RECORD = 2  # bytes per index (a pipe read of up to PIPE_BUF bytes is atomic)

    def __init__(self, units):
        self.units = sorted(units, key=lambda u: -u.cost())
        self.fd = None  # stays None (no precompile) if the records do not fit in a pipe
        if len(self.units) >= 1 << (8 * self.RECORD):
            return
        data = b"".join(i.to_bytes(self.RECORD, "little") for i in range(len(self.units)))
        try:
            read_fd, write_fd = os.pipe()
        except OSError:
            return
        try:
            # A pipe holds 64 KiB, or 4 KiB for a user over the system's pipe quota:
            # never block here waiting for a reader that does not exist yet.
            os.set_blocking(write_fd, False)
            written = os.write(write_fd, data)
        except OSError:
            written = -1
        os.close(write_fd)
        if written != len(data):
            os.close(read_fd)
            return
        self.fd = read_fd

    def take(self):
        """The next unit, or None once the queue is empty."""
        try:
            record = os.read(self.fd, self.RECORD)
        except OSError:
            return None
        if len(record) != self.RECORD:
            return None
        return self.units[int.from_bytes(record, "little")]

    def close(self):
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


def _work(queue, progress_fd=None):
    """Compile units from the queue until it is empty; after each, write one byte of
    progress to progress_fd (a child's pipe to the parent)."""
    while True:
        unit = queue.take()
        if unit is None:
            return
        _try_compile(unit)
        if progress_fd is not None:
            os.write(progress_fd, b".")


def _try_compile(unit):
    try:
        unit.compile()
    except Exception:
        pass  # the real call compiles it again and reports the error there


def _fork(queue):
    """A child compiling units from `queue`; returns (pid, read end of its progress
    pipe), pid None if the fork failed. The fork happens under Numba's compiler lock, so
    no other thread of this process is inside a compile (holding locks the child would
    need)."""
    from numba.core.compiler_lock import global_compiler_lock
    try:
        read_fd, write_fd = os.pipe()
    except OSError:
        return None, None
    with global_compiler_lock, warnings.catch_warnings():
        # Python 3.12+ and JAX's at-fork hook warn that a child of a threaded process may
        # deadlock in code those threads were running. This child runs only Numba's
        # compiler, which no other thread was in (the lock above), and then exits.
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.filterwarnings("ignore", message=r"os\.fork\(\) was called", category=RuntimeWarning)
        try:
            pid = os.fork()
        except OSError:
            os.close(read_fd)
            os.close(write_fd)
            return None, None
        if pid == 0:
            _child(queue, read_fd, write_fd)  # never returns
    os.close(write_fd)
    return pid, read_fd


def _child(queue, read_fd, write_fd):
    code = 0
    try:
        os.close(read_fd)
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the parent
        warnings.simplefilter("ignore")
        _work(queue, progress_fd=write_fd)  # progress, for the parent's patience
    except BaseException:
        code = 1
    finally:
        os._exit(code)


def _wait(children, patience):
    """Wait for each child to exit (its pipe then closes). One that reports no progress
    for `patience` seconds is left to _reap; what it did not save compiles later in
    this process."""
    for pid, fd in children:
        if pid is None:
            continue
        deadline = time.perf_counter() + patience
        while True:
            left = deadline - time.perf_counter()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                break  # stuck
            if not os.read(fd, 64):
                break  # EOF: the child has exited
            deadline = time.perf_counter() + patience


def _reap(children):
    """Kill the children still running and collect every child's exit."""
    for pid, fd in children:
        if pid is None:
            continue
        os.close(fd)
        try:
            if os.waitpid(pid, os.WNOHANG) == (0, 0):
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
        except (ChildProcessError, ProcessLookupError):
            pass  # reaped by someone else (a SIGCHLD handler)
