"""Ask LLVM for full-width (512-bit) vectors in the function that calls `prefer_wide()`.

LLVM's x86 backend vectorises loops 256 bits wide on AVX-512 CPUs unless a function says
otherwise (the "prefer-vector-width" attribute; the default guards against the clock
drop some older Xeons take on 512-bit instructions). dprog's kernels are mostly loops of
arithmetic and vectorised math, so generated kernels call `prefer_wide()` first, which
sets "prefer-vector-width"="512" on the kernel's own LLVM function and emits no code.

Measured on the development machine (Xeon, Emerald Rapids, AVX-512): the elementwise
benchmark's gradient kernel (tanh, exp and a division per element, 4M float32, one
thread) 6.1 -> 4.5 ms, results bit-identical. On a CPU without AVX-512 the attribute
changes nothing (LLVM keeps to the widest legal vectors). DPROG_VECTOR_WIDTH=256 turns
it off (dprog/config.py).

It also asks for a 64-byte aligned stack frame (alignstack(64): two instructions in the
prologue). A loop that calls a vector function (vecmath_simd.py) keeps the vectors of
its other interleaved iterations in stack slots across each call; at the default 16-byte
alignment a 64-byte slot straddles two cache lines, and reloading it right after the
store misses store-to-load forwarding. float32 pow loops, same process, alternating
(`vpow` at 512 bits, median of 21 rounds, ratio NumPy / ours): in cache 0.77 -> 0.86 and
0.85 -> 0.86, 10M elements 0.68 -> 0.87 and 0.80 -> 0.90. A float32 tanh vector function
tried alongside went from 0.99 to 0.66 ns per element in cache with it.
"""
from numba import types
from numba.extending import intrinsic


@intrinsic
def prefer_wide(typingctx):
    """Compiled code only: vectorise the calling function 512 bits wide."""
    def codegen(context, builder, signature, args):
        # The attribute must land on the function being lowered, so this is an intrinsic
        # (an overload's implementation would be a function of its own). llvmlite's
        # FunctionAttributes only accepts flag attributes it knows; a string attribute
        # goes into the same set and is printed verbatim in the definition.
        set.add(builder.function.attributes, '"prefer-vector-width"="512"')
        set.add(builder.function.attributes, 'alignstack(64)')     # (see the docstring)
        return context.get_dummy_value()
    return types.none(), codegen
