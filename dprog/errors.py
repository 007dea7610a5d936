"""dprog's user-facing errors, and how they name the user's source line.

Every mistake a user can make while tracing raises a subclass of DprogError whose
message ends with the user's own file and line (the first stack frame outside the
dprog package), so the report points at their code, not ours.
"""
import contextlib
import os
import sys
import threading

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))
_KERNELS_DIR = os.path.join(os.path.dirname(_PACKAGE_DIR), "kernels")
_INTERNAL_DIRS = (_PACKAGE_DIR + os.sep, _KERNELS_DIR + os.sep)
_IGNORED_PREFIXES = ("<frozen ", "<string>")


class DprogError(Exception):
    """Base class of every error dprog raises for a user mistake."""


class TracerConversionError(DprogError, TypeError):
    """A traced value was used where Python needs a concrete value (if, int(), ...)."""


class ShapeError(DprogError, ValueError):
    """Operand shapes do not fit the operation."""


class DtypeError(DprogError, TypeError):
    """An operand has a dtype the operation does not accept."""


class PytreeError(DprogError, TypeError):
    """Arguments or results are not pytrees of arrays, or their structure changed."""


class StaticArgError(DprogError, TypeError):
    """A static argument is not hashable, or static_argnums names no argument."""


class UnsupportedError(DprogError, NotImplementedError):
    """A NumPy function or feature that dprog does not provide."""


class LeakedTracerError(DprogError, RuntimeError):
    """A traced value escaped the function that was being traced and was used later."""


class TransformError(DprogError, ValueError):
    """A transformation (grad, vjp, vmap, ...) was applied in a way it cannot support."""


class DistributedError(DprogError, RuntimeError):
    """MPI is missing or misused: an unknown communicator, ranks that disagree, ..."""


class NaNError(DprogError, FloatingPointError):
    """config.debug_nans found an op that turned NaN-free operands into a NaN."""


def _is_internal(filename):
    return filename.startswith(_INTERNAL_DIRS) or filename.startswith(_IGNORED_PREFIXES)


def user_frame():
    """The innermost stack frame that belongs to user code, or None."""
    frame = sys._getframe(1)
    while frame is not None and _is_internal(frame.f_code.co_filename):
        frame = frame.f_back
    return frame


def user_location():
    """(filename, lineno) of the user's code that is running now, or None."""
    frame = user_frame()
    if frame is None:
        return None
    return (frame.f_code.co_filename, frame.f_lineno)


def format_location(loc):
    if loc is None:
        return "<unknown location>"
    filename, lineno = loc
    return f'File "{filename}", line {lineno}'


def source_line(loc):
    """The text of the user's line, for messages ('' if unavailable)."""
    if loc is None:
        return ""
    import linecache
    return linecache.getline(loc[0], loc[1]).strip()


class _RuleLocations(threading.local):
    def __init__(self):
        self.stack = []


_rule_locations = _RuleLocations()


@contextlib.contextmanager
def node_location(loc):
    """While a node's derivative rule runs, errors name the user's line that made the
    node (e.g. the while_loop call), not the line that asked for the derivative."""
    _rule_locations.stack.append(loc)
    try:
        yield
    finally:
        _rule_locations.stack.pop()


def with_location(message, loc=None):
    """Append the user's location (and line text) to an error message."""
    if loc is None and _rule_locations.stack:
        loc = _rule_locations.stack[-1]
    if loc is None:
        loc = user_location()
    text = source_line(loc)
    where = format_location(loc)
    return f"{message}\n  at {where}" + (f": {text}" if text else "")
