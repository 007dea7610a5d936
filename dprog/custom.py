"""dp.custom_vjp, dp.custom_jvp and dp.checkpoint.

    @dp.custom_vjp                          @dp.custom_jvp
    def f(x, y): ...                        def f(x): ...
    def f_fwd(x, y): return out, res        @f.defjvp
    def f_bwd(res, g): return (gx, gy)      def f_jvp(primals, tangents):
    f.defvjp(f_fwd, f_bwd)                      return out, t_out

With nondiff_argnums, those arguments are static Python values (functions, ints, ...):
fwd gets every argument, bwd gets them first (bwd(*nondiff, res, g)), the JVP rule too
(rule(*nondiff, primals, tangents)). The function and its rules are traced when it is
called and stored in one graph node, so the custom rule is used wherever the node goes:
under jit, inside loops, under nested transformations. Derivatives reach only the
explicit arguments; values the function closes over are constants to its rules.
"""
import contextlib
import functools

from .control import _trace
from .errors import PytreeError, TransformError, with_location
from .ops.control_custom import checkpoint_p, custom_jvp_call_p, custom_vjp_call_p
from .ops.control_util import same_avals
from .staging import leaf_aval
from .tree import tree_flatten, tree_structure, tree_unflatten


class _Custom:
    def __init__(self, fun, nondiff_argnums, kind):
        functools.update_wrapper(self, fun)
        self.fun = fun
        self.nondiff_argnums = tuple(sorted(nondiff_argnums))
        self.kind = kind
        self._rule_depth = 0  # > 0 while this function's own rules are being traced

    @contextlib.contextmanager
    def _tracing_rules(self):
        # The usual idiom `def f_fwd(x): return f(x), res` calls f inside its own rule:
        # there f is just its function, or tracing the rule would recurse forever.
        self._rule_depth += 1
        try:
            yield
        finally:
            self._rule_depth -= 1

    def _split(self, args):
        for i in self.nondiff_argnums:
            if not -len(args) <= i < len(args):
                raise TransformError(with_location(
                    f"{self.kind}: nondiff_argnums={self.nondiff_argnums} but the function was "
                    f"called with {len(args)} arguments"))
        nums = {i % len(args) for i in self.nondiff_argnums}
        nondiff = [a for i, a in enumerate(args) if i in nums]
        diff = tuple(a for i, a in enumerate(args) if i not in nums)

        def merged(fn):
            def call(*diff_args):
                it_d, it_n = iter(diff_args), iter(nondiff)
                return fn(*[next(it_n) if i in nums else next(it_d) for i in range(len(args))])
            return call
        return nondiff, diff, merged

    def _check_outs(self, what, tree, avals, ref_tree, ref_avals):
        if tree != ref_tree or not same_avals(avals, ref_avals):
            raise PytreeError(with_location(
                f"{self.kind}: {what} returns {tree} with {[str(a) for a in avals]} but the "
                f"function returns {ref_tree} with {[str(a) for a in ref_avals]}; they must match"))


def _pair(what):
    def split(out):
        if not (isinstance(out, (tuple, list)) and len(out) == 2):
            raise PytreeError(with_location(f"{what} must return a pair, got {type(out).__name__}"))
        return out
    return split


class custom_vjp(_Custom):
    """A function with a user-given reverse-mode rule (see the module docstring)."""

    def __init__(self, fun, nondiff_argnums=()):
        super().__init__(fun, nondiff_argnums, "custom_vjp")
        self.fwd = self.bwd = None

    def defvjp(self, fwd, bwd):
        self.fwd, self.bwd = fwd, bwd

    def __call__(self, *args):
        if self.fwd is None:
            raise TransformError(with_location(
                f"custom_vjp function {self.__name__} has no rule: call .defvjp(fwd, bwd) first"))
        if self._rule_depth:
            return self.fun(*args)
        nondiff, diff, merged = self._split(args)
        leaves, in_tree = tree_flatten(diff)
        avals = [leaf_aval(x) for x in leaves]
        fun, fun_k, (out_tree,) = _trace(merged(self.fun), in_tree, avals, "custom_vjp function")
        with self._tracing_rules():
            fwd, fwd_k, (fwd_out_tree, res_tree) = _trace(
                merged(self.fwd), in_tree, avals, "custom_vjp fwd", split=_pair("custom_vjp fwd"))
        n_out = len(fun.outvars)
        self._check_outs("fwd", fwd_out_tree, fwd.out_avals[:n_out], out_tree, fun.out_avals)
        res_avals = fwd.out_avals[n_out:]
        ct_avals = [a.strong() for a in fun.out_avals]
        arg_trees = [tree_structure(a) for a in diff]

        def bwd_flat(res, ct):
            cts = self.bwd(*nondiff, res, ct)
            if not (isinstance(cts, (tuple, list)) and len(cts) == len(diff)):
                raise PytreeError(with_location(
                    f"custom_vjp bwd must return a tuple of {len(diff)} cotangents (one per "
                    f"differentiable argument), got {type(cts).__name__}"))
            flat = []
            for k, (ct_k, tree_k, arg) in enumerate(zip(cts, arg_trees, diff)):
                arg_leaves = tree_flatten(arg)[0]
                if ct_k is None:  # None: a zero cotangent for the whole argument
                    from . import numpy as dnp
                    flat += [dnp.zeros(leaf_aval(x).shape, leaf_aval(x).dtype) for x in arg_leaves]
                    continue
                ct_leaves, ct_tree = tree_flatten(ct_k)
                shapes = [leaf_aval(x).shape for x in ct_leaves]
                if ct_tree != tree_k or shapes != [leaf_aval(x).shape for x in arg_leaves]:
                    raise PytreeError(with_location(
                        f"custom_vjp bwd: the cotangent for argument {k} is {ct_tree} of shapes "
                        f"{shapes}; it must match the argument's structure {tree_k} and shapes"))
                from .numpy._core import cast
                flat += [cast(c, leaf_aval(x).dtype) for c, x in zip(ct_leaves, arg_leaves)]
            return flat

        bwd_tree = tree_structure((tree_unflatten(res_tree, [0] * len(res_avals)),
                                   tree_unflatten(out_tree, [0] * n_out)))
        with self._tracing_rules():
            bwd, bwd_k, _ = _trace(bwd_flat, bwd_tree, res_avals + ct_avals, "custom_vjp bwd")
        outs = custom_vjp_call_p(*fun_k, *fwd_k, *bwd_k, *leaves, fun=fun, fwd=fwd, bwd=bwd,
                                 num_consts=(len(fun_k), len(fwd_k), len(bwd_k)))
        return tree_unflatten(out_tree, outs)


class custom_jvp(_Custom):
    """A function with a user-given forward-mode rule; reverse mode transposes it."""

    def __init__(self, fun, nondiff_argnums=()):
        super().__init__(fun, nondiff_argnums, "custom_jvp")
        self.rule = None

    def defjvp(self, rule):
        self.rule = rule
        return rule

    def __call__(self, *args):
        if self.rule is None:
            raise TransformError(with_location(
                f"custom_jvp function {self.__name__} has no rule: call .defjvp(rule) first"))
        if self._rule_depth:
            return self.fun(*args)
        nondiff, diff, merged = self._split(args)
        leaves, in_tree = tree_flatten(diff)
        avals = [leaf_aval(x) for x in leaves]
        fun, fun_k, (out_tree,) = _trace(merged(self.fun), in_tree, avals, "custom_jvp function")

        def rule_flat(primals, tangents):
            return self.rule(*nondiff, tuple(primals), tuple(tangents))

        rule_tree = tree_structure((diff, diff))
        with self._tracing_rules():
            jvp, jvp_k, (p_tree, t_tree) = _trace(
                rule_flat, rule_tree, avals + [a.strong() for a in avals], "custom_jvp rule",
                split=_pair("the custom_jvp rule"),
                cast_to=[None] * len(fun.outvars) + [a.dtype for a in fun.out_avals])
        n_out = len(fun.outvars)
        self._check_outs("the rule's primal output", p_tree, jvp.out_avals[:n_out], out_tree, fun.out_avals)
        t_avals = jvp.out_avals[n_out:]
        if t_tree != out_tree or [a.shape for a in t_avals] != [a.shape for a in fun.out_avals]:
            raise PytreeError(with_location(
                f"custom_jvp: the rule's tangent output is {t_tree} of {[str(a) for a in t_avals]} "
                f"but the function returns {out_tree} of {[str(a) for a in fun.out_avals]}"))
        outs = custom_jvp_call_p(*fun_k, *jvp_k, *leaves, fun=fun, jvp=jvp,
                                 num_consts=(len(fun_k), len(jvp_k)))
        return tree_unflatten(out_tree, outs)


def checkpoint(fun):
    """fun, whose intermediates are recomputed in the backward pass instead of saved."""

    @functools.wraps(fun)
    def wrapper(*args, **kwargs):
        leaves, in_tree = tree_flatten((args, kwargs))
        avals = [leaf_aval(x) for x in leaves]
        body, consts, (out_tree,) = _trace(lambda a, kw: fun(*a, **kw), in_tree, avals,
                                           "checkpointed function")
        return tree_unflatten(out_tree, checkpoint_p(*consts, *leaves, body=body))
    return wrapper


remat = checkpoint
