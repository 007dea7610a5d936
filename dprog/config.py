"""Global switches users flip at run time: dp.config.debug_nans, dp.config.disable_jit."""
import os


class _Config:
    def __init__(self):
        self.debug_nans = os.environ.get("DPROG_DEBUG_NANS", "") not in ("", "0")
        self.disable_jit = os.environ.get("DPROG_DISABLE_JIT", "") not in ("", "0")
        self.log_compiles = os.environ.get("DPROG_LOG_COMPILES", "") not in ("", "0")
        # Which executor runs compiled graphs: "reference" (NumPy interpreter) until a
        # native backend registers itself.
        self.backend = os.environ.get("DPROG_BACKEND", "")
        # BLAS threads for dprog's matrix products on the CPU (None: NumPy's setting).
        # One avoids OpenBLAS's spin-barrier stalls when cores are shared; see
        # dprog/codegen/cpu_blas.py for the measurements.
        threads = os.environ.get("DPROG_BLAS_THREADS", "1")
        self.blas_threads = None if threads in ("", "default") else int(threads)

    def update(self, name, value):
        if not hasattr(self, name):
            raise AttributeError(f"dprog.config has no option {name!r}")
        setattr(self, name, value)


config = _Config()
