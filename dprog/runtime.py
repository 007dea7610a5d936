"""dp.jit: the compile cache, executables and the per-call path.

A call flattens its arguments, builds a cache key from the pytree structure, each leaf's
shape/dtype/weak type, the static arguments and the device, and runs the cached
Executable. A miss traces, runs the pass pipeline and builds an Executable. Inside an
enclosing trace (jit of jit, grad of jit) the traced graph is inlined instead.
"""
import functools
import inspect
import sys
import threading
import time

import numpy as np

from . import debug_nans, dtypes
from .config import config
from .device import DeviceArray, is_cuda_array
from .errors import StaticArgError, UnsupportedError, with_location
from .gc_scope import new_objects_only
from .interpreter import run_graph
from .ir import Aval
from .passes import run_pipeline
from .staging import inline, leaf_aval, trace_pytree
from .trace import Tracer, is_tracing
from .tree import tree_flatten, tree_unflatten

DEVICES = ("cpu", "cuda")


_SUPPORTED_DTYPES = frozenset(dtypes.SUPPORTED)


def _leaf_key(x):
    """A hashable description of one argument leaf (fast paths first). Only NumPy arrays
    of a supported dtype get the (shape, dtype) form: they reach kernels as they are;
    every other leaf is converted on the way in (see CacheEntry)."""
    t = type(x)
    if t is np.ndarray and x.dtype in _SUPPORTED_DTYPES:
        return (x.shape, x.dtype)
    if t is float or t is int or t is bool:
        return t
    if t is DeviceArray:
        return (x.shape, x.dtype, "cuda")
    if is_cuda_array(x):  # placement is part of the key: these run on CUDA
        aval = leaf_aval(x)
        return (aval.shape, aval.dtype, "cuda")
    return leaf_aval(x)


_flat_trees = {}  # n -> the treedef of ((n arrays), {})


def _run(entry, leaves):
    if is_tracing():
        # Inside an enclosing trace (jit of jit, grad of jit): record, don't run.
        outs = inline(entry.graph, entry.graph.consts, leaves)
        return tree_unflatten(entry.out_tree, outs)
    return entry.run(leaves)


def _same_arrays(args, spec):
    """Are args arrays with exactly the shapes, dtypes and placement of `spec` (a flat
    array key's ((shape, dtype), ...), with (shape, dtype, "cuda") for dprog's device
    arrays)? dtypes compare by identity: an equal dtype that is another object only
    misses this shortcut."""
    if len(args) != len(spec):
        return False
    for a, key in zip(args, spec):
        t = type(a)
        if t is np.ndarray:
            if a.dtype is not key[1] or a.shape != key[0] or len(key) != 2:
                return False
        elif t is DeviceArray:
            if a.dtype is not key[1] or a.shape != key[0] or len(key) != 3:
                return False
        else:
            return False
    return True


def _flat_array_key(args):
    """The cache key when every argument is a NumPy array of a supported dtype or a dprog
    device array (the common cases), built without a pytree flatten; None otherwise."""
    shapes = []
    for a in args:
        t = type(a)
        if t is DeviceArray:
            shapes.append((a.shape, a.dtype, "cuda"))
            continue
        if t is not np.ndarray or a.dtype not in _SUPPORTED_DTYPES:
            return None
        shapes.append((a.shape, a.dtype))
    tree = _flat_trees.get(len(args))
    if tree is None:
        tree = _flat_trees[len(args)] = tree_flatten((tuple(range(len(args))), {}))[1]
    return (tree, tuple(shapes), ())


class Executable:
    """A compiled graph: call with flat argument leaves, get flat NumPy results."""

    def __init__(self, graph, in_avals):
        self.graph = graph
        self.in_avals = in_avals
        self.consts = list(graph.consts)
        self._input_ids = None

    def __call__(self, leaves):
        outs = run_graph(self.graph, self.consts, leaves)
        return [_fresh(o, list(leaves) + self.consts) for o in outs]  # never hand out captured arrays


def make_executable(graph, in_avals, device="cpu"):
    """The executable for an optimised graph on `device` (backend chosen by config)."""
    backend = config.backend or "cpu"
    if backend == "reference" or config.disable_jit:
        return Executable(graph, in_avals)
    if backend != "cpu":
        raise UnsupportedError(with_location(
            f"dp.config.backend must be '' (compiled CPU kernels) or 'reference', got {backend!r}"))
    from .passes import CPU_FUSION, CUDA_FUSION, run_pipeline
    if device == "cuda":
        from .codegen.cuda_executable import CudaExecutable
        return CudaExecutable(run_pipeline(graph, CUDA_FUSION), in_avals)
    from .codegen.cpu_driver import CpuExecutable
    return CpuExecutable(run_pipeline(graph, CPU_FUSION), in_avals)


def _fresh(out, args):
    """Results never alias arguments or each other's memory (as JAX and NumPy ops)."""
    if isinstance(out, np.ndarray) and out.flags.owndata and not any(out is a for a in args):
        return out
    return np.array(out, copy=True)


class CacheEntry:
    """One compiled specialisation: run(leaves) -> the caller's result structure."""
    __slots__ = ("executable", "out_tree", "graph", "convert", "single")

    def __init__(self, executable, out_tree, graph, key_leaves, in_avals):
        self.executable = executable
        self.out_tree = out_tree
        self.graph = graph
        # Leaves that are not arrays of their final dtype (Python scalars, NumPy
        # scalars, lists, float16 arrays) are converted on each call; arrays pass as they are.
        self.convert = [(i, a.dtype) for i, (k, a) in enumerate(zip(key_leaves, in_avals))
                        if type(k) is not tuple]
        self.single = out_tree.num_leaves == 1 and out_tree.num_nodes == 1

    def run_fast(self, leaves):
        if self.convert:
            leaves = list(leaves)
            for i, dtype in self.convert:
                leaves[i] = np.asarray(leaves[i], dtype=dtype)
        outs = self.executable(leaves)
        return outs[0] if self.single else tree_unflatten(self.out_tree, outs)

    def run_checking_nans(self, leaves):
        leaves = [np.asarray(x, dtype=a.dtype) for x, a in zip(leaves, self.executable.in_avals)]
        outs = self.executable(leaves)
        debug_nans.check(self.graph, self.graph.consts, leaves, outs)
        return outs[0] if self.single else tree_unflatten(self.out_tree, outs)

    run = run_fast


def _use_debug_nans(on):
    """dp.config.debug_nans swaps CacheEntry.run, so with it off a call pays nothing."""
    CacheEntry.run = CacheEntry.run_checking_nans if on else CacheEntry.run_fast


config.watch("debug_nans", _use_debug_nans)


def _normalize_static(fun, static_argnums, static_argnames):
    if isinstance(static_argnums, int):
        static_argnums = (static_argnums,)
    if isinstance(static_argnames, str):
        static_argnames = (static_argnames,)
    static_argnums = tuple(static_argnums or ())
    static_argnames = tuple(static_argnames or ())
    try:
        params = list(inspect.signature(fun).parameters.values())
    except (TypeError, ValueError):
        params = []
    positional = [p.name for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if params and not any(p.kind is p.VAR_POSITIONAL for p in params):
        bad = [n for n in static_argnums if not -len(positional) <= n < len(positional)]
        if bad:
            raise StaticArgError(with_location(
                f"static_argnums={static_argnums} names argument {bad[0]}, but the function "
                f"takes {len(positional)} positional arguments"))
        static_argnums = tuple(n % len(positional) for n in static_argnums)
    # A static argument may be given by position or by name: know both.
    nums = set(static_argnums) | {positional.index(n) for n in static_argnames if n in positional}
    names = set(static_argnames) | {positional[i] for i in static_argnums if 0 <= i < len(positional)}
    return tuple(sorted(nums)), frozenset(names)


class Jitted:
    """The callable that dp.jit returns."""

    def __init__(self, fun, static_argnums=(), static_argnames=(), device="cpu"):
        if device not in DEVICES:
            raise UnsupportedError(with_location(f"device must be one of {DEVICES}, got {device!r}"))
        functools.update_wrapper(self, fun)
        self.fun = fun
        self.device = device
        self.static_argnums, self.static_argnames = _normalize_static(fun, static_argnums, static_argnames)
        self._cache = {}
        # Re-entrant: tracing f may call f again with other static arguments (recursion
        # that ends on a static value); a plain lock would deadlock there.
        self._lock = threading.RLock()
        self._tracing = set()  # keys being traced now (only the lock's holder touches it)
        self._last_key = None
        self._last_hit = None  # (argument shapes and dtypes, entry) of the last array call

    def __get__(self, obj, objtype=None):  # usable as a method decorator
        return self if obj is None else functools.partial(self, obj)

    def _split(self, args, kwargs):
        statics = []
        dyn_args = []
        for i, a in enumerate(args):
            if i in self.static_argnums:
                statics.append((i, _hashable(a, f"argument {i}")))
            else:
                dyn_args.append(a)
        dyn_kwargs = {}
        for k, v in kwargs.items():
            if k in self.static_argnames:
                statics.append((k, _hashable(v, f"argument {k!r}")))
            else:
                dyn_kwargs[k] = v
        return tuple(statics), tuple(dyn_args), dyn_kwargs

    def _bind_statics(self, statics):
        """fun with the static arguments filled in, taking the dynamic ones."""
        by_pos = {k: v.value for k, v in statics if isinstance(k, int)}
        by_name = {k: v.value for k, v in statics if isinstance(k, str)}

        def fun(*dyn_args, **dyn_kwargs):
            args, it = [], iter(dyn_args)
            for i in range(len(dyn_args) + len(by_pos)):
                args.append(by_pos[i] if i in by_pos else next(it))
            return self.fun(*args, **dyn_kwargs, **by_name)
        return fun

    def __call__(self, *args, **kwargs):
        if config.disable_jit:
            return self.fun(*args, **kwargs)
        if kwargs or self.static_argnums:
            statics, args, kwargs = self._split(args, kwargs)
            leaves, in_tree = tree_flatten((args, kwargs))
            key = (in_tree, tuple(map(_leaf_key, leaves)), statics)
        else:
            statics = ()
            hit = self._last_hit
            if hit is not None and _same_arrays(args, hit[0]):
                # The same shapes and dtypes as the previous call (a training loop): its
                # entry, without building and hashing the key (1.4 of 3.9 us a call).
                return _run(hit[1], args)
            key = _flat_array_key(args)
            if key is None:  # not just arrays: flatten the pytree
                leaves, in_tree = tree_flatten((args, kwargs))
                key = (in_tree, tuple(map(_leaf_key, leaves)), ())
            else:
                leaves, in_tree = args, key[0]
        entry = self._cache.get(key)
        if entry is None:
            # the first run loads (or compiles) the kernels too
            with new_objects_only():
                entry = self._compile(key, leaves, in_tree, statics)
                self._remember(key, statics, leaves, args, entry)
                return _run(entry, leaves)
        self._remember(key, statics, leaves, args, entry)
        return _run(entry, leaves)

    def _remember(self, key, statics, leaves, args, entry):
        """Make entry the fast path's for calls like this one (plain array arguments)."""
        if not statics and leaves is args and self._cache.get(key) is entry:
            self._last_hit = (key[1], entry)  # one assignment: threads see old or new

    def interpret(self, *args, **kwargs):
        """Trace, then run op by op with the reference interpreter, compiling and caching
        nothing: config.disable_jit for bodies that only work traced (grad's, jvp's)."""
        statics, args, kwargs = self._split(args, kwargs)
        leaves, in_tree = tree_flatten((args, kwargs))
        in_avals = [leaf_aval(x) for x in leaves]
        graph, out_tree = trace_pytree(self._bind_statics(statics), in_tree, in_avals)
        if is_tracing():
            return tree_unflatten(out_tree, inline(graph, graph.consts, leaves))
        values = [np.asarray(x, dtype=a.dtype) for x, a in zip(leaves, in_avals)]
        outs = run_graph(graph, graph.consts, values)
        return tree_unflatten(out_tree, [_fresh(np.asarray(o), values) for o in outs])

    def _compile(self, key, leaves, in_tree, statics):
        with self._lock:
            entry = self._cache.get(key)
            if entry is not None:
                return entry
            if key in self._tracing:
                raise UnsupportedError(with_location(
                    f"{getattr(self.fun, '__qualname__', 'the jitted function')} calls itself "
                    f"with the same argument shapes and static values while it is being "
                    f"traced, so tracing would never end; recursion under dp.jit must stop on "
                    f"a static argument (static_argnums), or use dp.while_loop / dp.fori_loop"))
            start = time.perf_counter()
            in_avals = [leaf_aval(x) for x in leaves]
            self._tracing.add(key)
            try:
                graph, out_tree = trace_pytree(self._bind_statics(statics), in_tree, in_avals)
            finally:
                self._tracing.discard(key)
            graph = run_pipeline(graph)
            # Placement by argument: any CUDA array argument puts the call on CUDA.
            device = "cuda" if any(isinstance(k, tuple) and k[2:] == ("cuda",) for k in key[1]) else self.device
            executable = make_executable(graph, in_avals, device)
            entry = CacheEntry(executable, out_tree, graph, key[1], in_avals)
            # A graph that captured a value of an enclosing trace is only valid inside
            # that trace: never cache it.
            if not any(isinstance(c, Tracer) for c in graph.consts):
                self._cache[key] = entry
            if config.log_compiles:
                self._log(key, in_avals, time.perf_counter() - start)
            self._last_key = key
            return entry

    def _log(self, key, in_avals, seconds):
        name = getattr(self.fun, "__qualname__", repr(self.fun))
        reason = _key_change(self._last_key, key)
        sig = ", ".join(str(a) for a in in_avals)
        print(f"dprog: compiled {name}({sig}) on {self.device} in {seconds * 1e3:.1f} ms: {reason}",
              file=sys.stderr)

    def lower(self, *args, **kwargs):
        """The optimised Graph this call would run."""
        statics, dyn_args, dyn_kwargs = self._split(args, kwargs)
        leaves, in_tree = tree_flatten((dyn_args, dyn_kwargs))
        key = (in_tree, tuple(_leaf_key(x) for x in leaves), statics)
        entry = self._cache.get(key) or self._compile(key, leaves, in_tree, statics)
        return entry.graph

    def cache_size(self):
        return len(self._cache)


class _Static:
    """A static argument value, hashed by its own hash and compared by equality."""
    __slots__ = ("value", "_hash")

    def __init__(self, value, h):
        self.value = value
        self._hash = h

    def __hash__(self):
        return self._hash

    def __eq__(self, other):
        if not isinstance(other, _Static) or type(self.value) is not type(other.value):
            return False
        eq = self.value == other.value
        return bool(eq) if not isinstance(eq, np.ndarray) else False

    def __repr__(self):
        return repr(self.value)


def _hashable(value, what):
    try:
        return _Static(value, hash(value))
    except TypeError:
        raise StaticArgError(with_location(
            f"static {what} of type {type(value).__name__} is not hashable; pass a tuple "
            f"instead of a list, or make the argument non-static")) from None


def _key_change(old, new):
    if old is None:
        return "first call"
    if old[0] != new[0]:
        return f"argument structure changed: {old[0]} -> {new[0]}"
    if old[2] != new[2]:
        return f"static arguments changed: {old[2]} -> {new[2]}"
    changes = [f"leaf {i}: {_describe(a)} -> {_describe(b)}"
               for i, (a, b) in enumerate(zip(old[1], new[1])) if a != b]
    return "new " + "; ".join(changes) if changes else "new key"


def _describe(leaf_key):
    if isinstance(leaf_key, tuple):
        shape, dtype = leaf_key[:2]
        return str(Aval(shape, dtype)) + "".join(f" on {d}" for d in leaf_key[2:])
    if isinstance(leaf_key, type):
        return f"python {leaf_key.__name__}"
    return str(leaf_key)


def jit(fun=None, *, static_argnums=(), static_argnames=(), device="cpu"):
    """Trace and compile `fun`; usable as @jit, @jit(...) or jit(f, ...)."""
    if fun is None:
        return lambda f: Jitted(f, static_argnums, static_argnames, device)
    return Jitted(fun, static_argnums, static_argnames, device)


