"""Simplify rule: a sum over a matmul's row (or column) axis sums the operand first.

    reduce_sum(matmul(a, b), rows)  ==  matmul(reduce_sum(a, rows), b)

with the rows kept as a unit axis, and likewise for columns and b. The product shrinks
from (m, k) x (k, n) to (1, k) x (k, n): reverse mode makes this pattern whenever a
matmul's input was broadcast along its rows, e.g. d/dmu of (x - mu) @ L summed over the
rows of x (GMM's gradient spent a third of its time in such a product). The sum is only
reassociated, as any blocked summation does; no term is dropped or subtracted.

The rule sees through what reverse mode puts between the matmul and the sum: transposes,
negation and scaling by a scalar. Those are applied to the small result instead.
"""
from ..ir import emit
from ..ops import elementwise as ew
from ..ops import shape as sh
from ..ops.contract import matmul_p
from ..ops.reduce import reduce_sum_p


def _scalar_factor(node):
    """The position of the array operand of x * s or s * x with a rank-0 s, or None."""
    if node.op is not ew.mul_p:
        return None
    ranks = [x.aval.ndim for x in node.inputs]
    if ranks[0] == 0 and ranks[1] > 0:
        return 1
    if ranks[1] == 0 and ranks[0] > 0:
        return 0
    return None


def _walk_to_matmul(x, producers):
    """From the summed value back to a matmul through transposes, neg and scalar products.

    Returns (matmul node, perm, scalings): the summed value's axis i is the matmul
    output's axis perm[i]; scalings are the (neg or mul) nodes met, outermost first.
    """
    perm, scalings = None, []
    while True:
        node = producers.get(getattr(x, "id", None))
        if node is None:
            return None
        if node.op is matmul_p:
            ndim = node.outs[0].aval.ndim
            return node, perm or tuple(range(ndim)), scalings
        if node.op is sh.transpose_p:
            inner = tuple(node.params["perm"])
            perm = inner if perm is None else sh.compose_perms(inner, perm)
        elif node.op is ew.neg_p or _scalar_factor(node) is not None:
            scalings.append(node)
        else:
            return None
        x = node.inputs[0] if node.op is not ew.mul_p else node.inputs[_scalar_factor(node)]


def _sum_operand(nodes, x, axis, producers, loc):
    """x summed over `axis`, with a unit axis left in its place. A transposed x is summed
    in its source's order (then transposed, now small), so the sum can join the kernel
    that produces the source instead of reading it across memory."""
    src, perm = x, tuple(range(x.aval.ndim))
    p = producers.get(getattr(x, "id", None))
    if p is not None and p.op is sh.transpose_p:
        src, perm = p.inputs[0], tuple(p.params["perm"])
    y = emit(nodes, reduce_sum_p, [src], {"axes": (perm[axis],)}, loc)
    kept = [a for a in perm if a != perm[axis]]  # source axes of x's other axes, in x's order
    order = [sorted(kept).index(a) for a in kept]
    if order != sorted(order):
        y = emit(nodes, sh.transpose_p, [y], {"perm": tuple(order)}, loc)
    shape = list(y.aval.shape)
    shape.insert(axis, 1)
    return emit(nodes, sh.reshape_p, [y], {"shape": tuple(shape)}, loc)


def sum_of_matmul(node, producers):
    if node.op is not reduce_sum_p:
        return None
    found = _walk_to_matmul(node.inputs[0], producers)
    if found is None:
        return None
    mm, perm, scalings = found
    ndim = mm.outs[0].aval.ndim
    summed = {perm[i] for i in node.params["axes"]}  # matmul output axes
    rows, cols = ndim - 2, ndim - 1
    if rows not in summed and cols not in summed or summed - {rows, cols}:
        return None  # nothing to gain, or a batch axis (both operands vary along it)
    if all(mm.outs[0].aval.shape[ax] == 1 for ax in summed):
        return None  # a sum over unit axes: a reshape, and nothing smaller to multiply
    nodes, loc = [], node.loc
    a, b = mm.inputs
    if rows in summed:
        a = _sum_operand(nodes, a, rows, producers, loc)
    if cols in summed:
        b = _sum_operand(nodes, b, cols, producers, loc)
    y = emit(nodes, matmul_p, [a, b], {}, loc)
    kept = [ax for ax in range(ndim) if ax not in summed]  # matmul axes left, in order
    y = emit(nodes, sh.reshape_p, [y], {"shape": tuple(y.aval.shape[ax] for ax in kept)}, loc)
    order = [kept.index(perm[i]) for i in range(ndim) if perm[i] not in summed]
    if order != sorted(order):
        y = emit(nodes, sh.transpose_p, [y], {"perm": tuple(order)}, loc)
    for s in reversed(scalings):  # innermost first, as the original applied them
        if s.op is ew.neg_p:
            y = emit(nodes, ew.neg_p, [y], {}, s.loc)
        else:
            i = _scalar_factor(s)
            inputs = [y, s.inputs[1]] if i == 0 else [s.inputs[0], y]
            y = emit(nodes, ew.mul_p, inputs, {}, s.loc)
    if y.aval.dtype != node.outs[0].aval.dtype or y.aval.shape != node.outs[0].aval.shape:
        return None  # a scalar that promoted: leave the program as written
    return nodes, y

