"""dprog: differentiable programming for NumPy code, with fused Numba kernels.

    import dprog as dp
    import dprog.numpy as dnp

    @dp.jit
    def loss(w, x, y):
        return dnp.mean((dnp.tanh(x @ w) - y) ** 2)

    g = dp.grad(loss)(w, x, y)
"""
def _map_kernels_package():
    """kernels/ sits at the repository's top level and installs as dprog.kernels (see
    pyproject.toml). From a source checkout that was not installed (PYTHONPATH=.), map
    it here so generated kernels can import it the same way."""
    import importlib.util
    import os
    import sys
    package = os.path.dirname(os.path.abspath(__file__))
    folder = os.path.join(os.path.dirname(package), "kernels")
    # The kernels beside *this* dprog win over whatever an import finder offers: with
    # another checkout installed in editable mode, find_spec("dprog.kernels") names that
    # checkout's kernels, whose helpers need not match this dprog's generated code.
    source_checkout = (not os.path.isdir(os.path.join(package, "kernels"))
                       and os.path.isfile(os.path.join(folder, "scalar.py")))
    if "dprog.kernels" in sys.modules or (
            not source_checkout and importlib.util.find_spec("dprog.kernels") is not None):
        return
    spec = importlib.util.spec_from_file_location(
        "dprog.kernels", os.path.join(folder, "__init__.py"), submodule_search_locations=[folder])
    module = importlib.util.module_from_spec(spec)
    sys.modules["dprog.kernels"] = module
    spec.loader.exec_module(module)
    globals()["kernels"] = module


_map_kernels_package()

from . import tracer_methods as _tracer_methods  # noqa: F401  (Tracer operators)
from . import numpy  # noqa: F401
from . import nn, optim, random  # noqa: F401  (dp.nn, dp.optim, dp.random)
from .api import grad, jvp, linearize, make_graph, stop_gradient, value_and_grad, vjp  # noqa: F401
from .api_jac import hessian, jacfwd, jacrev  # noqa: F401
from .api_vmap import vmap  # noqa: F401
from .config import config  # noqa: F401
from .control import cond, fori_loop, scan, switch, while_loop  # noqa: F401
from .device import DeviceArray, block_until_ready, device_put  # noqa: F401
from .custom import checkpoint, custom_jvp, custom_vjp, remat  # noqa: F401
from . import distributed  # noqa: F401  (dp.distributed: MPI data parallelism)
from .distributed import all_gather, pmax, pmean, psum  # noqa: F401
from .errors import (DistributedError, DprogError, DtypeError, LeakedTracerError, PytreeError,  # noqa: F401
                     ShapeError, StaticArgError, TracerConversionError, TransformError,
                     UnsupportedError)
from .ir import Graph  # noqa: F401
from .runtime import jit  # noqa: F401
from .tree import (register_dataclass, register_pytree_node, tree_flatten, tree_leaves,  # noqa: F401
                   tree_map, tree_structure, tree_unflatten)

__version__ = "0.1.0"
