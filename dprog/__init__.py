"""dprog: differentiable programming for NumPy code, with fused Numba kernels.

    import dprog as dp
    import dprog.numpy as dnp

    @dp.jit
    def loss(w, x, y):
        return dnp.mean((dnp.tanh(x @ w) - y) ** 2)

    g = dp.grad(loss)(w, x, y)
"""
from . import tracer_methods as _tracer_methods  # noqa: F401  (Tracer operators)
from . import numpy  # noqa: F401
from .api import grad, jvp, linearize, make_graph, stop_gradient, value_and_grad, vjp  # noqa: F401
from .config import config  # noqa: F401
from .control import cond, fori_loop, scan, switch, while_loop  # noqa: F401
from .custom import checkpoint, custom_jvp, custom_vjp, remat  # noqa: F401
from .errors import (DprogError, DtypeError, LeakedTracerError, PytreeError,  # noqa: F401
                     ShapeError, StaticArgError, TracerConversionError, TransformError,
                     UnsupportedError)
from .ir import Graph  # noqa: F401
from .runtime import jit  # noqa: F401
from .tree import (register_dataclass, register_pytree_node, tree_flatten, tree_leaves,  # noqa: F401
                   tree_map, tree_structure, tree_unflatten)

__version__ = "0.1.0"
