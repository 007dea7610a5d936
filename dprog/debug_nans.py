"""dp.config.debug_nans: find the op and the user's line that first produced a NaN.

When it is on, a compiled call whose outputs hold a NaN that its inputs did not is run
again, op by op, with the reference interpreter; the first node whose outputs gain a NaN
its operands did not have is reported with the source line that made it (Node.loc).
With the switch off nothing here runs: the per-call path tests one flag it tests anyway.
"""
import numpy as np

from .errors import NaNError, with_location
from .interpreter import run_graph
from .ir import Literal


def _has_nan(x):
    a = np.asarray(x)
    return a.dtype.kind in "fc" and bool(np.isnan(a).any())


def check(graph, consts, leaves, outs):
    """Raise NaNError if `outs` hold a NaN that `leaves` did not; else return nothing."""
    if not any(_has_nan(o) for o in outs) or any(_has_nan(x) for x in leaves):
        return
    env = {}

    def on_node(node, values):
        if any(_has_nan(v) for v in values):
            ins = [a.value if isinstance(a, Literal) else env.get(a.id) for a in node.inputs]
            if not any(x is not None and _has_nan(x) for x in ins):
                raise _error(node)
        for var, value in zip(node.outs, values):
            env[var.id] = value

    for v, x in zip(list(graph.constvars) + list(graph.invars), list(consts) + list(leaves)):
        env[v.id] = x
    with np.errstate(all="ignore"):
        run_graph(graph, consts, leaves, on_node=on_node)
    # The kernels made a NaN the reference did not: report it as such, not silently.
    raise NaNError(with_location(
        "debug_nans: the compiled call returned a NaN, but running the same graph op by op "
        "with the reference interpreter gives none; this is a dprog bug, please report it"))


def _error(node):
    where = " (inside the body of this control-flow op)" if node.subgraphs() else ""
    return NaNError(with_location(
        f"debug_nans: {node.op.name} produced a NaN from operands without one{where} "
        f"(for example log or sqrt of a negative number, 0/0 or inf - inf); fix the "
        f"inputs or guard the operation with dnp.where", node.loc))


