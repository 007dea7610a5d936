"""The primitive record: everything dprog knows about one op, in one place.

Passes, transforms, the interpreter and code generators branch on these fields, never on
an op's name. Derivative rules are written with dprog's own traced operations, so the
derivative of a derivative needs nothing more.
"""
from enum import Enum


class Kind(Enum):
    ELEMENTWISE = "elementwise"    # out[i] = f(in0[i], in1[i], ...); rank-0 operands broadcast
    REDUCTION = "reduction"        # reduces `axes` of one operand
    MOVEMENT = "movement"          # reshapes / permutes / selects elements, no arithmetic
    INDEX = "index"                # gathers or scatters through integer index arrays
    CONTRACTION = "contraction"    # matmul and friends: goes to BLAS
    SCAN = "scan"                  # prefix sums and products along one axis
    CREATION = "creation"          # makes an array from static params only
    CONTROL = "control"            # holds sub-graphs: cond, loops, custom rules
    COLLECTIVE = "collective"      # communicates across processes
    FUSED = "fused"                # a compiler-made group of ops run as one kernel


class Op:
    """One primitive.

    abstract(*avals, **params) -> Aval | list[Aval]   shape/dtype rule (may raise ShapeError)
    impl(*arrays, **params) -> array | list[array]    NumPy reference
    jvp(primals, tangents, outs, **params) -> tangent(s) of the outputs (None = zero)
    vjp(cts, primals, outs, **params) -> one cotangent per input (None = zero)
    batch(axis_size, args, dims, /, **params) -> (out, out_dim)   vmap rule: dims[i] is the
        batch axis of args[i] or None (lists of outs/out_dims for multiple_results ops);
        see dprog/ops/batching.py. Elementwise ops share one rule.
    identity(dtype) -> value a reduction starts from (None: not a fusible reduction); its
          `expr` then combines an accumulator with a value: "{acc} + {v}"
    expr: scalar expression template for codegen, e.g. "({0} + {1})", or a dict keyed by
          the operand dtype's kind ("f", "i", "b") where the expression differs by dtype.
          Names: math.* (Numba), vm.* (kernels/vecmath), sc.* (kernels/scalar)
    scalar_expr: the same for a value computed once per row rather than in a vectorised
          loop (a row kernel's log-sum-exp), where an `expr` calling kernels/vecmath has
          nothing to vectorise and its SIMD form only adds compile time (the libm call:
          ~50 ms less to compile the cross-entropy row kernel). None: use `expr`.
    fast: (expr, guard) templates, or None: a cheaper form of `expr` that is exact except
          where `guard` is true for the element (sin/cos of huge arguments, the special
          cases of pow and the logarithms), or a dict of them by operand dtype kind. A
          CPU kernel computes with it and runs its slice again with `expr` if any guard
          was true.
    rewrite(node, emit) -> an atom computing node's single output with cheaper ops, or None:
          the op's own algebra, which the simplify pass applies (pow by a literal
          exponent, select on a literal condition). emit(op, *inputs, **params) adds a
          node before it and returns that node's Var; a rank-0 result is broadcast.
    read_index(src_shape, index_names, **params) -> one index text per source axis, or
          None: for a movement op a CPU kernel reads through instead of materialising it
          (passes/fuse.py), where the output position index_names lies in the source
          (a broadcast drops axes, a transpose permutes them, a slice maps i to
          start + step*i, a reversal to n-1-i)
    domain: where its tests draw inputs from (see tests/ops)
    dce(node, used) -> a node computing only the outputs flagged in `used` (the same Vars,
          maybe from fewer inputs), or None: how dead-code elimination shrinks an op that
          holds sub-graphs (a scan whose stacked ys nobody reads)
    """

    def __init__(self, name, kind, abstract, impl, *, jvp=None, vjp=None, batch=None,
                 expr=None, scalar_expr=None, fast=None, rewrite=None, read_index=None, domain=None,
                 multiple_results=False, differentiable=True, effectful=False, identity=None,
                 dce=None, doc=""):
        self.name = name
        self.kind = kind
        self.abstract = abstract
        self.impl = impl
        self.jvp = jvp
        self.vjp = vjp
        self.batch = batch
        self.expr = expr
        self.scalar_expr = scalar_expr
        self.fast = fast
        self.rewrite = rewrite
        self.read_index = read_index
        self.identity = identity
        self.domain = domain
        self.multiple_results = multiple_results
        self.differentiable = differentiable
        self.effectful = effectful
        self.dce = dce
        self.__doc__ = doc or f"dprog primitive {name} ({kind.value})"

    def abstract_eval(self, avals, params):
        out = self.abstract(*avals, **params)
        return list(out) if self.multiple_results else [out]

    def __call__(self, *args, **params):
        from ..trace import bind
        return bind(self, args, params)

    def __repr__(self):
        return f"<dprog op {self.name}>"


REGISTRY = {}


def register(op):
    if op.name in REGISTRY:
        raise ValueError(f"op {op.name} registered twice")
    REGISTRY[op.name] = op
    return op


def ops_of_kind(kind):
    return [op for op in REGISTRY.values() if op.kind is kind]
