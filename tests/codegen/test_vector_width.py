"""Generated CPU kernels ask LLVM for 512-bit vectors (kernels/vector_width.py), unless
dprog.config.vector_width is 256; either way results are the same."""
import llvmlite.binding as ll
import numpy as np
import pytest

import dprog as dp
import dprog.numpy as dnp
from dprog.codegen import cpu_driver, module_cache
from dprog.config import config


def _has_avx512():
    ll.initialize_native_target()
    return bool(ll.get_host_cpu_features().get("avx512f"))


def _compiled_kernel(fun, x):
    """Run fun under jit and return the compiled kernel whose text holds `vm.vtanh`."""
    before = set(cpu_driver._kernel_cache)
    got = dp.jit(fun)(x)
    (body,) = [b for b in set(cpu_driver._kernel_cache) - before if "vm.vtanh" in b]
    module = cpu_driver._kernel_cache[body]
    # A kernel loaded from Numba's disk cache has no assembly to show: compile the same
    # source again in memory for it.
    fresh = module_cache._load_in_memory(module.__name__ + "_asm", module.__dprog_source__)
    signature = module.kernel.signatures[0]
    fresh.kernel.compile(signature)
    return got, body, fresh.kernel.inspect_asm(signature)


@pytest.fixture
def width():
    saved = config.vector_width
    yield lambda w: setattr(config, "vector_width", w)
    config.vector_width = saved


@pytest.mark.parametrize("w", [512, 256])
def test_kernel_vector_width_follows_the_config(width, w):
    width(w)
    x = np.linspace(-3, 3, 1000 + w, dtype=np.float32)   # a new kernel text per case
    got, body, asm = _compiled_kernel(lambda x: dnp.tanh(x) * np.float32(w), x)
    np.testing.assert_allclose(got, np.tanh(x) * w, rtol=3e-6)
    assert ("vw.prefer_wide()" in body) == (w == 512)
    if _has_avx512():
        assert ("zmm" in asm) == (w == 512)


def test_vector_width_setting_is_checked(monkeypatch):
    from dprog.config import _Config
    monkeypatch.setenv("DPROG_VECTOR_WIDTH", "1024")
    with pytest.raises(ValueError, match="DPROG_VECTOR_WIDTH"):
        _Config()
