"""@cuda.jit source for the movement ops that are not free views: pad and concatenate.

Broadcasts, transposes, slices, reversals and reshapes are strided views on CUDA
(cuda_layout.py); pad and concatenate make new arrays. Each gets a grid-stride kernel
over its output that decodes the output index and reads the one source element (or the
padding value) behind it. Every operand arrives as a flat buffer, an offset and one
stride per dim, so strided views need no copy. The source depends only on the rank (and
for concatenate the axis and operand count): sizes, widths and strides are arguments.
"""
from .cuda_kernel import _decode, _Writer


def _output_loop(name, params, ndim):
    """A kernel's header and its grid-stride loop over the output, with the output
    index i0.. decoded from `flat`."""
    w = _Writer()
    w(f"@cuda.jit(cache=True)\ndef {name}({', '.join(params)}):")
    w.depth = 1
    w("for flat in range(cuda.grid(1), total, cuda.gridsize(1)):")
    w.depth += 1
    _decode(w, "flat", list(range(ndim)), [f"n{d}" for d in range(ndim)])
    return w


def pad_source(ndim, name="kernel"):
    """out = pad(x, v): per dim d, the low width lo{d}, step{d} = interior + 1, the
    source extent m{d} and stride s{d}. Arguments: total, n0..(output sizes), out,
    x, x_off, v, v_off, then (lo, step, m, s) per dim."""
    dims = [f"lo{d}, step{d}, m{d}, s{d}" for d in range(ndim)]
    sizes = [f"n{d}" for d in range(ndim)]
    w = _output_loop(name, ['total'] + sizes + ['out', 'x', 'x_off', 'v', 'v_off'] + dims, ndim)
    w("inside = True")
    w("src = x_off")
    for d in range(ndim):
        w(f"j{d} = i{d} - lo{d}")
        w(f"if j{d} < 0 or j{d} % step{d} != 0 or j{d} // step{d} >= m{d}:")
        w("    inside = False")
        w(f"src += (j{d} // step{d}) * s{d}")
    w("if inside:")
    w("    out[flat] = x[src]")
    w("else:")
    w("    out[flat] = v[v_off]")
    return "\n".join(w.lines) + "\n"


def concatenate_source(ndim, axis, count, name="kernel"):
    """out = concatenate(x0, ..., x{count-1}, axis). Arguments: total, n0..(output
    sizes), out, then per operand: buffer, offset, a stride per dim, and after them the
    axis offsets b1..b{count-1} where operands 1.. start."""
    sizes = [f"n{d}" for d in range(ndim)]
    operands = []
    for k in range(count):
        operands += [f"x{k}", f"off{k}"] + [f"s{k}_{d}" for d in range(ndim)]
    starts = [f"b{k}" for k in range(1, count)]
    w = _output_loop(name, ['total'] + sizes + ['out'] + operands + starts, ndim)
    for k in range(count):
        start = f"b{k}" if k else "0"
        index = " + ".join(f"{f'(i{d} - {start})' if d == axis and k else f'i{d}'} * s{k}_{d}" for d in range(ndim))
        test = "if" if k == 0 else "elif"
        if k == count - 1:
            w("else:" if k else "if True:")
        else:
            w(f"{test} i{axis} < b{k + 1}:")
        w(f"    out[flat] = x{k}[off{k} + {index}]")
    return "\n".join(w.lines) + "\n"
