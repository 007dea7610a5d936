"""The op registry: every primitive, one record each (see record.py)."""
from .record import REGISTRY, Kind, Op, ops_of_kind, register  # noqa: F401
from . import elementwise, shape, reduce, index, contract, misc, bits, fusion  # noqa: F401
from . import control_cond, control_loops, control_custom  # noqa: F401
from . import collective  # noqa: F401
