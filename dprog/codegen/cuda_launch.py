"""Launch configuration and kernel loading for the CUDA backend.

Sizes come from the device (multiprocessor count) on hardware. Under Numba's simulator
every CUDA thread is a Python thread, and the simulator polls every live thread while a
block runs, so launches are kept to 1-2 blocks of 8 threads (4x4 matmul tiles): the CUDA
suite took 62 s instead of ~120 s with blocks of 32. Grid-stride loops make any launch
size correct, and block reductions still make three tree levels.
"""
import functools

from .. import device
from . import module_cache
from .cuda_kernel import HEADER

SIM_BLOCK, SIM_MAX_BLOCKS, SIM_TILE = 8, 2, 4
HW_BLOCK, HW_BLOCKS_PER_SM, HW_TILE = 256, 8, 16


@functools.lru_cache(maxsize=None)
def config():
    """(block, max_blocks, matmul tile, warp shuffles?) for this process's device."""
    if device.simulating():
        return SIM_BLOCK, SIM_MAX_BLOCKS, SIM_TILE, False
    cuda = device.check_available()
    sms = cuda.get_current_device().MULTIPROCESSOR_COUNT
    return HW_BLOCK, sms * HW_BLOCKS_PER_SM, HW_TILE, True


def grid_for(work, block):
    """Blocks for `work` independent items (at least 1, at most the device's fill)."""
    _, max_blocks, _, _ = config()
    return max(1, min(-(-work // block), max_blocks))


_kernels = {}


def generated_kernel(source):
    """The @cuda.jit kernel of generated source, from a content-hashed module."""
    fn = _kernels.get(source)
    if fn is None:
        module = module_cache.load_module(HEADER + "\n\n" + source)
        fn = _kernels[source] = _GuardedKernel(module)
    return fn


class _GuardedKernel:
    """Launches `module.kernel`; the first launch recovers from a corrupt disk cache
    entry by recompiling in memory (as module_cache.call_guarded does for the CPU)."""
    __slots__ = ("module", "kernel", "checked")

    def __init__(self, module):
        self.module, self.kernel, self.checked = module, module.kernel, False

    def launch(self, grid, block, stream, args):
        if self.checked:
            self.kernel[grid, block, stream](*args)
            return
        self._guarded(lambda: self.kernel[grid, block, stream](*args))
        self.checked = True

    def prepare(self, params, grid, block):
        """A cuda_driver.Launch of this kernel (compiled for `params`' types now), with
        the same recovery from a corrupt disk cache entry as `launch`."""
        from . import cuda_driver
        return self._guarded(lambda: cuda_driver.Launch(self.kernel, params, grid, block))

    def _guarded(self, action):
        """action(), run once more on a kernel recompiled in memory if loading this one
        from the disk cache failed."""
        try:
            return action()
        except Exception as e:
            if not any("caching" in f.filename for f in _frames(e)):
                raise
            import warnings
            warnings.warn(f"dprog: corrupt CUDA kernel cache entry for {self.module.__name__} "
                          f"({type(e).__name__}: {e}); recompiling in memory", RuntimeWarning)
            fresh = module_cache._load_in_memory(self.module.__name__ + "_mem", self.module.__dprog_source__)
            self.kernel = fresh.kernel
            return action()


def _frames(exc):
    import traceback
    return traceback.extract_tb(exc.__traceback__)
