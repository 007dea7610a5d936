"""Global switches users flip at run time: dp.config.debug_nans, dp.config.disable_jit."""
import os


class _Config:
    def __init__(self):
        object.__setattr__(self, "_watchers", {})
        self.debug_nans = os.environ.get("DPROG_DEBUG_NANS", "") not in ("", "0")
        self.disable_jit = os.environ.get("DPROG_DISABLE_JIT", "") not in ("", "0")
        self.log_compiles = os.environ.get("DPROG_LOG_COMPILES", "") not in ("", "0")
        # Which executor runs compiled graphs: "" = fused Numba CPU kernels,
        # "reference" = the NumPy interpreter.
        self.backend = os.environ.get("DPROG_BACKEND", "")
        # BLAS threads for dprog's matrix products on the CPU (None: NumPy's setting, the
        # fastest on an idle machine). 1 avoids OpenBLAS's spin-barrier stalls when other
        # processes share the cores; see dprog/codegen/cpu_blas.py for the measurements.
        threads = os.environ.get("DPROG_BLAS_THREADS", "default")
        self.blas_threads = None if threads in ("", "default") else int(threads)
        # Widest SIMD vectors the CPU kernels ask LLVM for (kernels/vector_width.py): 512
        # uses AVX-512 where the CPU has it; 256 keeps LLVM's default for such CPUs.
        # Read when a kernel is generated (the width is part of its cached source).
        width = os.environ.get("DPROG_VECTOR_WIDTH", "512")
        if width not in ("256", "512"):
            raise ValueError(f"DPROG_VECTOR_WIDTH must be 256 or 512, not {width!r}")
        self.vector_width = int(width)
        # Processes that compile a plan's kernels side by side on its first call
        # (codegen/cpu_precompile.py): None = one per usable CPU, up to 4; 1 = off.
        workers = os.environ.get("DPROG_COMPILE_WORKERS", "auto")
        self.compile_workers = None if workers in ("", "auto") else int(workers)
        # Replay CUDA executables as CUDA graphs where that saves host time
        # (codegen/cuda_graph.py). Read when an executable decides, on its third call.
        self.cuda_graphs = os.environ.get("DPROG_CUDA_GRAPHS", "1") not in ("", "0")

    def __setattr__(self, name, value):
        object.__setattr__(self, name, value)
        # A switch may change code paths instead of being tested on every call (debug_nans
        # swaps the per-call method), so setting it tells whoever watches it.
        for watcher in self._watchers.get(name, ()):
            watcher(value)

    def watch(self, name, callback):
        """Call callback(value) now and whenever option `name` is set."""
        self._watchers.setdefault(name, []).append(callback)
        callback(getattr(self, name))

    def update(self, name, value):
        if not hasattr(self, name):
            raise AttributeError(f"dprog.config has no option {name!r}")
        setattr(self, name, value)


config = _Config()
