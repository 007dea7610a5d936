"""One Numba function per vecmath entry point, with its helpers inlined as source.

The vecmath functions are written as small @jit helpers (clamp, reduce, a polynomial,
split, ...) so that each piece is written once for both dtypes. Numba compiles every
helper as a function of its own: typing, lowering, LLVM optimisation and machine code for
each, about 20-50 ms apiece, so a kernel calling vtanh paid for seven compiles. `flatten`
turns an entry point and everything it calls into the text of one straight-line
function, which Numba compiles once.

The helpers are written in a small subset of Python, and anything outside it raises at
flatten time rather than being compiled differently:
- a body of assignments (to names or tuples of names) ending in `return`;
- `if C:` and `A if C else B` where C is a constant of the builder (such as `f32`) are
  decided here, so only the branch for this dtype is kept;
- calls to other @jit helpers anywhere in an expression: their arguments are bound to
  fresh names, their body is inlined, and the call becomes their return expression.
  The helpers are pure, so hoisting a call out of `A if c else B` computes the same value
  (the code is written branch-free: both sides are computed per lane anyway).
Other names (constants, intrinsics such as fma, numpy) become globals of the generated
function, which Numba freezes as constants just as it did the closure variables.
"""
import ast
import builtins
import inspect
import textwrap

from numba.core.registry import CPUDispatcher


class _Flattener:
    def __init__(self):
        self.globals = {}        # generated global name -> object
        self._by_id = {}         # id(object) -> generated global name
        self._count = 0
        self.lines = []          # ast statements of the flat body

    def fresh(self, stem):
        self._count += 1
        return f"{stem}_{self._count}"

    def bind_global(self, name, value):
        key = id(value)
        if key not in self._by_id:
            ref = self.fresh(f"g_{name}")
            self._by_id[key] = ref
            self.globals[ref] = value
        return self._by_id[key]

    def inline(self, dispatcher, args):
        """Emit the body of `dispatcher` applied to the expressions `args`; returns the
        expression of its result."""
        fn = dispatcher.py_func
        tree = _function_ast(fn)
        env = _environment(fn)
        params = [a.arg for a in tree.args.args]
        if len(params) != len(args) or tree.args.vararg or tree.args.kwonlyargs:
            raise TypeError(f"flatten: {fn.__qualname__} takes {params}, called with {len(args)} args")
        local = {}
        for p, a in zip(params, args):
            local[p] = self.fresh(f"{fn.__name__}_{p}")
            self.lines.append(_assign(local[p], a))
        result = self._statements(tree.body, fn, env, local)
        if result is None:
            raise TypeError(f"flatten: {fn.__qualname__} does not end in a return")
        return result

    def _statements(self, body, fn, env, local):
        for stmt in body:
            if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant):
                continue                                   # docstring
            if isinstance(stmt, ast.Return):
                return self._expr(stmt.value, fn, env, local)
            if isinstance(stmt, ast.If):
                branch = stmt.body if _static_test(stmt.test, fn, env, local) else stmt.orelse
                result = self._statements(branch, fn, env, local)
                if result is not None:
                    return result
                continue
            if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1:
                value = self._expr(stmt.value, fn, env, local)
                target = self._target(stmt.targets[0], fn, local)
                self.lines.append(ast.Assign(targets=[target], value=value))
                continue
            raise TypeError(f"flatten: {fn.__qualname__} line {stmt.lineno}: "
                            f"{type(stmt).__name__} statements are not supported")
        return None

    def _target(self, node, fn, local):
        if isinstance(node, ast.Name):
            if node.id not in local:
                local[node.id] = self.fresh(f"{fn.__name__}_{node.id}")
            return ast.Name(local[node.id], ast.Store())
        if isinstance(node, ast.Tuple):
            return ast.Tuple([self._target(e, fn, local) for e in node.elts], ast.Store())
        raise TypeError(f"flatten: {fn.__qualname__}: cannot assign to {ast.dump(node)}")

    def _expr(self, node, fn, env, local):
        flattener = self

        class Rewrite(ast.NodeTransformer):
            def visit_Name(self, n):
                if n.id in local:
                    return ast.Name(local[n.id], ast.Load())
                value = _lookup(n.id, env, fn)
                if isinstance(value, CPUDispatcher):
                    raise TypeError(f"flatten: {fn.__qualname__} uses helper {n.id} other than by calling it")
                return ast.Name(flattener.bind_global(n.id, value), ast.Load())

            def visit_IfExp(self, n):
                if _is_static(n.test, env, local):
                    chosen = n.body if _static_test(n.test, fn, env, local) else n.orelse
                    return self.visit(chosen)
                return self.generic_visit(n)

            def visit_Call(self, n):
                callee = _resolve(n.func, env, local)
                if isinstance(callee, CPUDispatcher):
                    if n.keywords:
                        raise TypeError(f"flatten: keyword arguments to {callee.py_func.__name__}")
                    args = [self.visit(a) for a in n.args]
                    return flattener.inline(callee, args)
                return self.generic_visit(n)

        return Rewrite().visit(node)


def _function_ast(fn):
    source = getattr(fn, "__dprog_source__", None) or textwrap.dedent(inspect.getsource(fn))
    tree = ast.parse(source).body[0]
    if not isinstance(tree, ast.FunctionDef):
        raise TypeError(f"flatten: {fn.__qualname__} is not a plain function")
    return tree


def _environment(fn):
    env = dict(fn.__globals__)
    if fn.__closure__:
        env.update(zip(fn.__code__.co_freevars, (c.cell_contents for c in fn.__closure__)))
    return env


def _lookup(name, env, fn):
    if name in env:
        return env[name]
    if hasattr(builtins, name):
        return getattr(builtins, name)
    raise NameError(f"flatten: {fn.__qualname__} uses undefined name {name!r}")


def _resolve(node, env, local):
    """The object a call's function expression names (a helper or anything else), or
    None when it is not a plain global/closure name."""
    if isinstance(node, ast.Name) and node.id not in local:
        return env.get(node.id)
    return None


def _is_static(test, env, local):
    return (isinstance(test, ast.Name) and test.id not in local
            and isinstance(env.get(test.id), bool))


def _static_test(test, fn, env, local):
    if not _is_static(test, env, local):
        raise TypeError(f"flatten: {fn.__qualname__}: an if statement must test a "
                        f"constant of the builder, not {ast.unparse(test)!r}")
    return env[test.id]


def _assign(name, value):
    return ast.Assign(targets=[ast.Name(name, ast.Store())], value=value)


def flatten(dispatcher, arg_names):
    """A plain Python function of `arg_names` equivalent to `dispatcher` (a @jit helper),
    with every helper it calls inlined: for Numba to compile as one function."""
    flat = _Flattener()
    fn = dispatcher.py_func
    params = list(arg_names)
    result = flat.inline(dispatcher, [ast.Name(p, ast.Load()) for p in params])
    body = flat.lines + [ast.Return(result)]
    fields = dict(name=fn.__name__, body=body, decorator_list=[], returns=None,
                  args=ast.arguments(posonlyargs=[], args=[ast.arg(p) for p in params],
                                     kwonlyargs=[], kw_defaults=[], defaults=[]))
    if "type_params" in ast.FunctionDef._fields:     # Python 3.12+
        fields["type_params"] = []
    tree = ast.Module([ast.FunctionDef(**fields)], type_ignores=[])
    source = ast.unparse(ast.fix_missing_locations(tree))
    namespace = dict(flat.globals)
    exec(compile(source, f"<dprog vecmath {fn.__qualname__}>", "exec"), namespace)
    python_fn = namespace[fn.__name__]
    python_fn.__dprog_source__ = source
    return python_fn
