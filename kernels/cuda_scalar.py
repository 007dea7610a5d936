"""CUDA spellings of the `sc.*`, `vm.*` and `np.*` names that op records' `expr` templates use.

The CPU helpers (kernels/scalar.py, kernels/vecmath.py) are @njit functions that CUDA
code cannot call. CUDA device functions would do, but numba-cuda compiles a called
device function for the *current device*, so `cuda.compile_ptx` of any kernel calling
one needs a GPU. Instead each name maps to an inline expression over CUDA's
libdevice-backed `math.*`, expanded by the CUDA code generator. Arguments are always
atoms (local names or typed constants), so repeating one in an expansion costs nothing.

Every expansion is wrapped in `np.<dtype>(...)` and uses typed constants: a float32
kernel never widens to float64 (in PTX) and the simulator computes in the op's dtype.

Each entry: name -> function(args, dtype_name) -> expression text, or (statements,
expression text) for what needs a loop (int_pow).
"""


def _c(dt, value):
    return f"np.{dt}({value!r})"


def _typed(fn):
    """math.fn(x) cast back to the operand dtype."""
    return lambda a, dt: f"np.{dt}(math.{fn}({', '.join(a)}))"


def _maximum(a, dt):
    x, y = a
    # NumPy's maximum propagates NaN from either side (x != x only for NaN).
    return f"({x} if {x} != {x} else ({y} if {y} != {y} else ({x} if {x} >= {y} else {y})))"


def _minimum(a, dt):
    x, y = a
    return f"({x} if {x} != {x} else ({y} if {y} != {y} else ({x} if {x} <= {y} else {y})))"


def _sign(a, dt):
    (x,) = a
    one, zero = _c(dt, 1), _c(dt, 0)
    return f"({x} if {x} != {x} else ({one} if {x} > {zero} else (-{one} if {x} < {zero} else {zero})))"


def _fmod_floor(a, dt):
    x, y = a
    r = f"np.{dt}(math.fmod({x}, {y}))"
    zero = _c(dt, 0.0)
    return (f"(np.{dt}({r} + {y}) if ({r} != {zero} and (({r} < {zero}) != ({y} < {zero}))) "
            f"else {r})")


def _int_mod(a, dt):
    x, y = a
    return f"(np.{dt}(0) if {y} == 0 else np.{dt}({x} % {y}))"


def _int_floor_divide(a, dt):
    x, y = a
    return f"(np.{dt}(0) if {y} == 0 else np.{dt}({x} // {y}))"


def _float_floor_divide(a, dt):
    x, y = a
    return f"(np.{dt}(math.floor({x} / {y})) if {y} != {_c(dt, 0.0)} else np.{dt}({x} / {y}))"


def _round_half_even(a, dt):
    (x,) = a
    r = f"np.{dt}(math.floor({x} + {_c(dt, 0.5)}))"
    # Exactly halfway and odd: step to the even neighbour (as np.round).
    return (f"({x} if {x} != {x} else (np.{dt}({r} - {_c(dt, 1.0)}) if ({r} - {x} == {_c(dt, 0.5)} "
            f"and math.fmod({r}, {_c(dt, 2.0)}) != {_c(dt, 0.0)}) else {r}))")


def _cbrt(a, dt):
    (x,) = a
    r = f"np.{dt}(math.pow(abs({x}), {_c(dt, 1.0 / 3.0)}))"
    # One Newton step tightens pow's estimate, as kernels/scalar.cbrt does.
    refined = f"({r} - ({r} * {r} * {r} - abs({x})) / ({_c(dt, 3.0)} * {r} * {r}))"
    return (f"({x} if ({x} == {_c(dt, 0.0)} or not math.isfinite({x})) "
            f"else np.{dt}(math.copysign({refined}, {x})))")


def _sigmoid(a, dt):
    (x,) = a
    one = _c(dt, 1.0)
    return f"np.{dt}({one} / ({one} + np.{dt}(math.exp(-{x}))))"


def _pow(a, dt):
    x, y = a
    return f"np.{dt}(math.pow({x}, {y}))"


def _int_pow(a, dt):
    """Integer power by squaring, wrapping on overflow as NumPy does. A loop has no
    expression form, so this expansion is (statements, expression): the code generator
    emits the statements first (their ip_* names are reused by every int_pow, each
    consumed at once). Negative exponents give what kernels/scalar.py int_pow gives."""
    x, y = a
    one = _c(dt, 1)
    lines = [f"ip_b = np.int64({y})",
             f"ip_base = np.{dt}({x})",
             f"ip_r = {one}",
             "while ip_b > 0:",
             "    if ip_b & 1:",
             f"        ip_r = np.{dt}(ip_r * ip_base)",
             f"    ip_base = np.{dt}(ip_base * ip_base)",
             "    ip_b = ip_b >> 1"]
    negative = (f"({one} if {x} == 1 else (np.{dt}(1 - 2 * ((-np.int64({y})) % 2)) if {x} == -1 "
                f"else {_c(dt, 0)}))")
    return lines, f"({negative} if {y} < 0 else ip_r)"


EXPANSIONS = {
    "sc.int_pow": _int_pow,
    # kernels/scalar.py (sc.*)
    "sc.maximum": _maximum,
    "sc.minimum": _minimum,
    "sc.sign": _sign,
    "sc.fmod_floor": _fmod_floor,
    "sc.int_mod": _int_mod,
    "sc.int_floor_divide": _int_floor_divide,
    "sc.float_floor_divide": _float_floor_divide,
    "sc.round_half_even": _round_half_even,
    "sc.cbrt": _cbrt,
    # kernels/vecmath.py (vm.*): CUDA's libdevice math is already fast.
    "vm.vexp": _typed("exp"),
    "vm.vexp2": _typed("exp2"),
    "vm.vexpm1": _typed("expm1"),
    "vm.vlog": _typed("log"),
    "vm.vlog2": _typed("log2"),
    "vm.vlog10": _typed("log10"),
    "vm.vlog1p": _typed("log1p"),
    "vm.vsin": _typed("sin"),
    "vm.vcos": _typed("cos"),
    "vm.vatan": _typed("atan"),
    "vm.vsinh": _typed("sinh"),
    "vm.vcosh": _typed("cosh"),
    "vm.vtanh": _typed("tanh"),
    "vm.verf": _typed("erf"),
    "vm.vsigmoid": _sigmoid,
    "vm.vpow": _pow,
    # NumPy ufuncs: numba-cuda types only some of them on the device; math.* has all.
    "np.sqrt": _typed("sqrt"),
    "np.tan": _typed("tan"),
    "np.arcsin": _typed("asin"),
    "np.arccos": _typed("acos"),
    "np.arcsinh": _typed("asinh"),
    "np.arccosh": _typed("acosh"),
    "np.arctanh": _typed("atanh"),
    "np.arctan2": _typed("atan2"),
    "np.floor": _typed("floor"),
    "np.ceil": _typed("ceil"),
    "np.isnan": lambda a, dt: f"math.isnan({a[0]})",
    "np.isfinite": lambda a, dt: f"math.isfinite({a[0]})",
}
