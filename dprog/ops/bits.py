"""Integer bit primitives: and, or, xor, shifts.

dprog.random builds its counter-based generator from these, so they must trace and
compile like any other elementwise op. They accept integer operands only (bool operands
go to the logical ops in dprog.numpy) and have no derivative.
"""
import numpy as np

from .elementwise import define

bitwise_and_p = define("bitwise_and", 2, np.bitwise_and, expr="({0} & {1})", accepts="int",
                       domain="int")
bitwise_or_p = define("bitwise_or", 2, np.bitwise_or, expr="({0} | {1})", accepts="int",
                      domain="int")
bitwise_xor_p = define("bitwise_xor", 2, np.bitwise_xor, expr="({0} ^ {1})", accepts="int",
                       domain="int")
# Shifts follow NumPy: right_shift of a signed value is arithmetic (sign-extending).
# Shift amounts must be within [0, bit width) for the codegen expressions to agree.
left_shift_p = define("left_shift", 2, np.left_shift, expr="({0} << {1})", accepts="int",
                      domain="shift")
right_shift_p = define("right_shift", 2, np.right_shift, expr="({0} >> {1})", accepts="int",
                       domain="shift")
