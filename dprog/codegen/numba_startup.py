"""Cheaper Numba start-up for processes that load cached kernels.

Numba's first compile or cache load initialises its CPU target, which imports
numba.np.arraymath, which imports SciPy (0.3 s on the development machine, with
numpy.f2py behind it) only to learn whether np.dot could be compiled in nopython code.
dprog's kernels never call BLAS (products go through NumPy in the driver), so we let
that check look for SciPy without importing it: the answer is the same, and the real
import still happens if the user's own @njit code calls np.dot (Numba's BLAS binding
calls ensure_blas again, unpatched, when it lowers such a call).

Measured with `python -m benchmarks.compile_time`, warm kernel cache: see
benchmarks/RESULTS.md.
"""
import importlib.util
import sys
import threading

_done = threading.Event()
_lock = threading.Lock()


def prepare():
    """Import numba.np.arraymath with a SciPy check that does not import SciPy. Cheap
    after the first call; does nothing if Numba's target is already initialised."""
    if _done.is_set():
        return
    with _lock:
        if _done.is_set():
            return
        if "numba.np.arraymath" not in sys.modules:
            from numba.np import linalg
            real = linalg.ensure_blas

            def scipy_present():
                if importlib.util.find_spec("scipy") is None:
                    raise ImportError("scipy 0.16+ is required for linear algebra")
            linalg.ensure_blas = scipy_present
            try:
                import numba.np.arraymath  # noqa: F401  (binds ensure_blas at import)
            finally:
                linalg.ensure_blas = real
        _done.set()


def start():
    """Do Numba's one-time start-up now rather than inside the first compile: import it
    (prepare) and set up its CPU target's typing and lowering registries, about 0.4 s on
    the development machine. benchmarks/compile_time.py calls this before timing a first
    call, as it starts JAX's backend before timing JAX's."""
    prepare()
    import numpy.ma  # noqa: F401  (Numba's typeof of the first array argument imports it)
    from numba.core.registry import cpu_target
    cpu_target.typing_context.refresh()
    cpu_target.target_context.refresh()
