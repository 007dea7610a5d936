"""Random well-typed dprog programs, drawn with hypothesis and rendered as Python source.

A program is straight-line source `def f(x0, x1, ...): ... return out` over dnp and dp
calls, so a failing example (after shrinking) is readable and can be saved verbatim as a
regression test (tests/fuzz/regressions/). Statements are drawn from the op registry
(UNARY / BINARY below must name every float elementwise primitive: see
test_fuzz.test_every_elementwise_op_is_fuzzed) plus reductions, movement ops, matmul,
gathers and control flow (cond, fori_loop, scan).

Inputs are drawn from a seeded NumPy generator: hypothesis shrinks the program's
structure, and arguments outside an op's domain are mapped into it in the source
(e.g. log(x*x + 0.5)) so every program is defined everywhere it is evaluated.
"""
import numpy as np
from hypothesis import strategies as st

import dprog as dp
import dprog.numpy as dnp
from dprog.ops.record import REGISTRY, Kind

# Source that maps any real `{}` into an op's domain (the record's `domain` field).
DOMAIN_WRAP = {
    "real": "{}",
    "positive": "(dnp.square({}) + 0.5)",
    "nonzero": "(dnp.square({}) + 0.5)",
    "small": "dnp.tanh({})",
    "unit_open": "(0.9 * dnp.tanh({}))",
    "gt_minus1": "(dnp.square({}) - 0.5)",
    "gt1": "(dnp.square({}) + 1.5)",
    "bool": "{}",  # the template compares first
}

# registry name -> source template of the dnp call. `smooth`: differentiable with a
# nonzero derivative almost everywhere, so finite differences can check it.
UNARY = {
    "copy": ("dnp.positive({})", True), "neg": ("dnp.negative({})", True),
    "abs": ("dnp.abs({})", True), "sign": ("dnp.sign({})", False),
    "square": ("dnp.square({})", True), "sqrt": ("dnp.sqrt({})", True),
    "cbrt": ("dnp.cbrt({})", True), "reciprocal": ("dnp.reciprocal({})", True),
    "exp": ("dnp.exp({})", True), "exp2": ("dnp.exp2({})", True),
    "expm1": ("dnp.expm1({})", True), "log": ("dnp.log({})", True),
    "log2": ("dnp.log2({})", True), "log10": ("dnp.log10({})", True),
    "log1p": ("dnp.log1p({})", True), "sin": ("dnp.sin({})", True),
    "cos": ("dnp.cos({})", True), "tan": ("dnp.tan({})", True),
    "arcsin": ("dnp.arcsin({})", True), "arccos": ("dnp.arccos({})", True),
    "arctan": ("dnp.arctan({})", True), "sinh": ("dnp.sinh({})", True),
    "cosh": ("dnp.cosh({})", True), "tanh": ("dnp.tanh({})", True),
    "arcsinh": ("dnp.arcsinh({})", True), "arccosh": ("dnp.arccosh({})", True),
    "arctanh": ("dnp.arctanh({})", True), "logistic": ("dnp.sigmoid({})", True),
    "erf": ("dnp.erf({})", True), "floor": ("dnp.floor({})", False),
    "ceil": ("dnp.ceil({})", False), "round": ("dnp.round({})", False),
    "stop_gradient": ("dp.stop_gradient({})", False),
    # bool-valued ops become floats again through where(), so the program stays float
    "isnan": ("dnp.where(dnp.isnan({0}), 1.0, {0})", True),
    "isfinite": ("dnp.where(dnp.isfinite({0}), {0}, 0.0)", True),
    "logical_not": ("dnp.where(dnp.logical_not({0} > 0), {0}, 0.5 * {0})", False),
    "convert_element_type": ("dnp.astype(dnp.astype({0}, dnp.float64), {0}.dtype)", True),
}
BINARY = {
    "add": ("dnp.add({}, {})", True, "real"), "sub": ("dnp.subtract({}, {})", True, "real"),
    "mul": ("dnp.multiply({}, {})", True, "real"), "div": ("dnp.divide({}, {})", True, "nonzero"),
    "floor_divide": ("dnp.floor_divide({}, {})", False, "nonzero"),
    "mod": ("dnp.mod({}, {})", False, "nonzero"),
    "pow": ("dnp.power(dnp.square({}) + 0.5, {})", True, "small"),
    "maximum": ("dnp.maximum({}, {})", True, "real"), "minimum": ("dnp.minimum({}, {})", True, "real"),
    "arctan2": ("dnp.arctan2({}, {})", True, "nonzero"),
    "lt": ("dnp.where({0} < {1}, {0}, {1})", True, "real"),
    "le": ("dnp.where({0} <= {1}, {1}, {0})", True, "real"),
    "gt": ("dnp.where({0} > {1}, {0} * {1}, {1})", True, "real"),
    "ge": ("dnp.where({0} >= {1}, {0}, 2.0 * {1})", True, "real"),
    "eq": ("dnp.where({0} == {1}, 0.0, {0} + {1})", True, "real"),
    "ne": ("dnp.where({0} != {1}, {0} - {1}, 1.0)", True, "real"),
    "logical_and": ("dnp.where(dnp.logical_and({0} > 0, {1} > 0), {0}, {1})", False, "real"),
    "logical_or": ("dnp.where(dnp.logical_or({0} > 0, {1} > 0), {0}, {1})", False, "real"),
    "logical_xor": ("dnp.where(dnp.logical_xor({0} > 0, {1} > 0), {0}, {1})", False, "real"),
    "select": ("dnp.where({0} > 0.3, {0}, {1})", True, "real"),
}
# Elementwise primitives that programs over floats cannot reach, and why.
NOT_FUZZED = {
    "bitwise_and": "integer only", "bitwise_or": "integer only", "bitwise_xor": "integer only",
    "left_shift": "integer only", "right_shift": "integer only",
}
REDUCTIONS = ["dnp.sum", "dnp.mean", "dnp.max", "dnp.min", "dnp.prod"]
MAX_SIZE = 96  # elements per value: programs stay quick to compile and to difference


def elementwise_ops():
    return sorted(n for n, op in REGISTRY.items() if op.kind is Kind.ELEMENTWISE)


class Program:
    """Source of `f`, its input shapes and dtype, and the seed of its input values."""

    def __init__(self, lines, in_shapes, dtype, seed, outs):
        self.lines, self.in_shapes, self.dtype, self.seed, self.outs = lines, in_shapes, dtype, seed, outs

    @property
    def source(self):
        if getattr(self, "saved_source", None):
            return self.saved_source
        args = ", ".join(f"x{i}" for i in range(len(self.in_shapes)))
        body = "".join(f"    {line}\n" for line in self.lines)
        ret = self.outs[0] if len(self.outs) == 1 else "(" + ", ".join(self.outs) + ")"
        return f"def f({args}):\n{body}    return {ret}\n"

    @classmethod
    def from_source(cls, source, in_shapes, dtype, seed):
        """A saved program (tests/fuzz/regressions/): `source` is the text of `f`."""
        p = cls([], [tuple(s) for s in in_shapes], dtype, seed, [])
        p.saved_source = source
        return p

    def function(self):
        ns = {"dp": dp, "dnp": dnp, "np": np}
        exec(compile(self.source, "<fuzzed program>", "exec"), ns)
        return ns["f"]

    def inputs(self):
        rng = np.random.default_rng(self.seed)
        return [rng.standard_normal(s).astype(self.dtype) if s else self.dtype(rng.standard_normal())
                for s in self.in_shapes]

    def __repr__(self):
        return (f"# in_shapes={self.in_shapes} dtype={np.dtype(self.dtype).name} "
                f"seed={self.seed}\n{self.source}")


class _Builder:
    """Draws statements one by one, keeping the shape of every value defined so far."""

    def __init__(self, draw, dtype, smooth):
        self.draw, self.dtype, self.smooth = draw, dtype, smooth
        self.dname = "dnp." + np.dtype(dtype).name
        self.shapes = {}  # name -> shape
        self.lines = []

    def pick(self, names=None):
        """Mostly the newest value, so statements chain into one computation."""
        names = list(self.shapes) if names is None else names
        if self.draw(st.integers(0, 3)) > 0:
            return names[-1]
        return self.draw(st.sampled_from(names))

    def define(self, shape, expr):
        name = f"v{len(self.lines)}"
        self.lines.append(f"{name} = {expr}")
        self.shapes[name] = tuple(shape)
        return name

    def wrap(self, domain, name):
        return DOMAIN_WRAP[domain].format(name)

    def unary_expr(self, name):
        choices = sorted(k for k, (_, s) in UNARY.items() if s or not self.smooth)
        op = self.draw(st.sampled_from(choices))
        template = UNARY[op][0]
        arg = self.wrap(REGISTRY[op].domain, name)
        return template.format(arg)

    # --------------------------------------------------------------- statements

    def unary(self):
        a = self.pick()
        self.define(self.shapes[a], self.unary_expr(a))

    def binary(self):
        a = self.pick()
        partners = [b for b in self.shapes if b == a or _broadcasts(self.shapes[a], self.shapes[b])]
        b = self.pick(partners)
        choices = sorted(k for k, (_, s, _) in BINARY.items() if s or not self.smooth)
        op = self.draw(st.sampled_from(choices))
        template, _, domain = BINARY[op]
        if op == "pow":
            args = (a, self.wrap("small", b))
        else:
            args = (a, self.wrap(domain, b))
        if self.draw(st.booleans()):
            args = args[::-1] if domain == "real" else args
        shape = np.broadcast_shapes(self.shapes[a], self.shapes[b])
        self.define(shape, template.format(*args))

    def scalar_binary(self):
        a = self.pick()
        c = self.draw(st.sampled_from(["0.5", "2", "-1.5", "3.0"]))
        expr = self.draw(st.sampled_from([f"{a} * {c}", f"{c} - {a}", f"{a} / {c}", f"{a} ** 2", f"{a} ** 3"]))
        self.define(self.shapes[a], expr)

    def reduce(self):
        a = self.pick()
        shape = self.shapes[a]
        fn = self.draw(st.sampled_from(REDUCTIONS))
        keep = self.draw(st.booleans())
        if not shape or self.draw(st.booleans()):
            out = tuple(1 for _ in shape) if keep else ()
            self.define(out, f"{fn}({a}{', keepdims=True' if keep else ''})")
            return
        axis = self.draw(st.integers(-len(shape), len(shape) - 1))
        ax = axis % len(shape)
        out = shape[:ax] + ((1,) if keep else ()) + shape[ax + 1:]
        self.define(out, f"{fn}({a}, axis={axis}{', keepdims=True' if keep else ''})")

    def movement(self):
        a = self.pick()
        s = self.shapes[a]
        kinds = ["reshape", "broadcast", "expand"]
        if len(s) >= 2:
            kinds += ["transpose", "swap"]
        if len(s) >= 1:
            kinds += ["flip", "slice", "concat", "pad", "roll", "cumsum", "stride"]
        kind = self.draw(st.sampled_from(kinds))
        if kind == "reshape":
            self.define((_size(s),) if s else (1,), f"dnp.reshape({a}, (-1,))")
        elif kind == "broadcast":
            new = (self.draw(st.integers(1, 3)),) + s
            if _size(new) <= MAX_SIZE:
                self.define(new, f"dnp.broadcast_to({a}, {new})")
        elif kind == "expand":
            ax = self.draw(st.integers(0, len(s)))
            self.define(s[:ax] + (1,) + s[ax:], f"dnp.expand_dims({a}, {ax})")
        elif kind == "transpose":
            perm = tuple(self.draw(st.permutations(range(len(s)))))
            self.define(tuple(s[p] for p in perm), f"dnp.transpose({a}, {perm})")
        elif kind == "swap":
            self.define(s[:-2] + (s[-1], s[-2]), f"dnp.swapaxes({a}, -1, -2)")
        elif kind == "flip":
            ax = self.draw(st.integers(0, len(s) - 1))
            self.define(s, f"dnp.flip({a}, axis={ax})")
        elif kind == "slice":
            ax = self.draw(st.integers(0, len(s) - 1))
            start = self.draw(st.integers(0, max(0, s[ax] - 1)))
            key = ", ".join([":"] * ax + [f"{start}:"])
            self.define(s[:ax] + (s[ax] - start,) + s[ax + 1:], f"{a}[{key}]")
        elif kind == "stride":
            key = "::-2" if self.draw(st.booleans()) else "1::2"
            n = s[0]
            count = len(range(n)[slice(None, None, -2)] if key == "::-2" else range(n)[1::2])
            if count:
                self.define((count,) + s[1:], f"{a}[{key}]")
        elif kind == "concat":
            ax = self.draw(st.integers(0, len(s) - 1))
            if 2 * _size(s) <= MAX_SIZE:
                other = self.unary_expr(a)
                self.define(s[:ax] + (2 * s[ax],) + s[ax + 1:],
                            f"dnp.concatenate([{a}, {other}], axis={ax})")
        elif kind == "pad":
            new = tuple(n + 2 for n in s[:1]) + s[1:]
            if _size(new) <= MAX_SIZE:
                self.define(new, f"dnp.pad({a}, [(1, 1)] + [(0, 0)] * {len(s) - 1})")
        elif kind == "roll":
            self.define(s, f"dnp.roll({a}, {self.draw(st.integers(-2, 2))}, axis=0)")
        elif kind == "cumsum":
            ax = self.draw(st.integers(0, len(s) - 1))
            self.define(s, f"dnp.cumsum({a}, axis={ax})")

    def matmul(self):
        a = self.pick([n for n, s in self.shapes.items() if len(s) >= 1])
        sa = self.shapes[a]
        partners = [b for b, sb in self.shapes.items() if _matmul_shape(sa, sb) is not None]
        if partners and self.draw(st.booleans()):
            b = self.pick(partners)
            self.define(_matmul_shape(sa, self.shapes[b]), f"{a} @ {b}")
        elif len(sa) >= 2:
            self.define(sa[:-1] + (sa[-2],), f"dnp.matmul({a}, dnp.swapaxes({a}, -1, -2))")
        else:
            self.define((), f"dnp.dot({a}, {a})")

    def gather(self):
        a = self.pick([n for n, s in self.shapes.items() if len(s) >= 1])
        s = self.shapes[a]
        ax = self.draw(st.integers(0, len(s) - 1))
        idx = self.draw(st.lists(st.integers(-s[ax], s[ax] - 1), min_size=1, max_size=5))
        if _size(s) // s[ax] * len(idx) > MAX_SIZE:
            idx = idx[:1]
        if self.draw(st.booleans()) or ax == 0:
            expr = f"dnp.take({a}, np.array({idx}), axis={ax})"
        else:
            expr = f"{a}[{', '.join([':'] * ax)}, np.array({idx})]"
        self.define(s[:ax] + (len(idx),) + s[ax + 1:], expr)

    def cond(self):
        a = self.pick()
        t, e = self.unary_expr("t"), self.unary_expr("t")
        self.define(self.shapes[a], f"dp.cond(dnp.sum({a}) > 0, lambda t: {t}, lambda t: {e}, {a})")

    def fori(self):
        a = self.pick()
        n = self.draw(st.integers(0, 4))
        closed = [b for b in self.shapes if b == a or _broadcasts(self.shapes[a], self.shapes[b])
                  and np.broadcast_shapes(self.shapes[a], self.shapes[b]) == self.shapes[a]]
        w = self.pick(closed)
        # the cast keeps the carry's dtype when `w` has a wider one (mixed precision)
        body = f"dnp.astype(0.5 * c + 0.3 * {self.unary_expr('c')} * dnp.tanh({w}) + 0.01 * i, c.dtype)"
        self.define(self.shapes[a], f"dp.fori_loop(0, {n}, lambda i, c: {body}, {a})")

    def scan(self):
        a = self.pick([n for n, s in self.shapes.items() if len(s) >= 1])
        s = self.shapes[a]
        init = self.draw(st.sampled_from([f"{a}[0]", f"dnp.zeros({s[1:]}, {a}.dtype)"]))
        step = f"(0.5 * c + 0.3 * {self.unary_expr('x')}, c * x)"
        reverse = self.draw(st.booleans())
        name = f"v{len(self.lines)}"
        self.lines.append(f"{name}c, {name} = dp.scan(lambda c, x: {step}, {init}, {a}"
                          f"{', reverse=True' if reverse else ''})")
        self.shapes[name + "c"] = s[1:]
        self.shapes[name] = s

    def astype(self):
        a = self.pick()
        other = "dnp.float32" if self.dname == "dnp.float64" else "dnp.float64"
        self.define(self.shapes[a], f"dnp.astype({a}, {other}) * 1.5")


STATEMENTS = ["unary", "unary", "binary", "binary", "scalar_binary", "reduce", "movement",
              "movement", "matmul", "gather", "cond", "fori", "scan"]


def _size(shape):
    return int(np.prod(shape, dtype=np.int64))


def _broadcasts(a, b):
    try:
        return _size(np.broadcast_shapes(a, b)) <= MAX_SIZE
    except ValueError:
        return False


def _matmul_shape(a, b):
    if not a or not b:
        return None
    try:
        shape = np.matmul(np.zeros(a), np.zeros(b)).shape
    except ValueError:
        return None
    return shape if _size(shape) <= MAX_SIZE else None


@st.composite
def programs(draw, dtypes=(np.float32, np.float64), smooth=False, max_statements=10):
    """A Program; `smooth` keeps to ops whose derivatives finite differences can check.
    Mixed-precision casts appear only when not smooth (derivative checks run in float64)."""
    dtype = draw(st.sampled_from(dtypes))
    rank = draw(st.integers(0, 3))
    base = tuple(draw(st.lists(st.integers(1, 4), min_size=rank, max_size=rank)))
    n_in = draw(st.integers(1, 3))
    in_shapes = []
    for _ in range(n_in):  # suffixes of `base`, some dims 1: they broadcast together
        k = draw(st.integers(0, rank))
        in_shapes.append(tuple(d if draw(st.booleans()) else 1 for d in base[rank - k:]))
    b = _Builder(draw, dtype, smooth)
    for i, s in enumerate(in_shapes):
        b.shapes[f"x{i}"] = s
    kinds = STATEMENTS + ([] if smooth else ["astype"])
    for _ in range(draw(st.integers(1, max_statements))):  # noqa: B007
        kind = draw(st.sampled_from(kinds))
        if kind in ("matmul", "gather", "scan") and not any(len(s) for s in b.shapes.values()):
            kind = "unary"
        getattr(b, kind)()
    defined = [n for n in b.shapes if not n.startswith("x")] or ["x0"]
    outs = [defined[-1]]
    if len(defined) > 1 and draw(st.booleans()):
        outs.insert(0, draw(st.sampled_from(defined[:-1])))
    seed = draw(st.integers(0, 2**32 - 1))
    return Program(b.lines, in_shapes, dtype, seed, outs)
