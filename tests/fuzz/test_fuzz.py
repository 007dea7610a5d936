"""Differential fuzzing of random dprog programs (tests/fuzz/programs.py).

Each program goes through one of three checks (tests/fuzz/fuzz_checks.py): reference
interpreter vs compiled CPU kernels; grad/jvp vs central differences in float64;
<vjp(u), v> == <u, jvp(v)> on compiled kernels.

Profiles: the default (CI) runs a few hundred programs, derandomized so a CI run is
repeatable. DPROG_FUZZ=long runs >= 10,000 programs with fresh randomness and, on a
failure, writes the shrunk program to tests/fuzz/regressions/ as a test file.
"""
import hashlib
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, reject, settings

from fuzz_checks import CHECKS, NotApplicable
from programs import BINARY, NOT_FUZZED, UNARY, elementwise_ops, programs

LONG = os.environ.get("DPROG_FUZZ", "") == "long"
EXAMPLES = {"backends": 120, "derivatives": 300, "transpose": 25}  # ~45 s cold on 2 busy cores
LONG_EXAMPLES = int(os.environ.get("DPROG_FUZZ_EXAMPLES", "3400"))  # per check: 10,200 in all
REGRESSIONS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "regressions")
STRATEGIES = {
    "backends": programs(),
    "derivatives": programs(dtypes=(np.float64,), smooth=True),
    "transpose": programs(smooth=True),
}


def _settings(check):
    common = dict(deadline=None, suppress_health_check=list(HealthCheck), print_blob=True)
    if LONG:
        return settings(max_examples=LONG_EXAMPLES, **common)
    return settings(max_examples=EXAMPLES[check], derandomize=True, database=None, **common)


def write_regression(program, check, error):
    """Save a failing program as tests/fuzz/regressions/test_<check>_<hash>.py."""
    source = program.source
    digest = hashlib.sha256(f"{check}{source}{program.in_shapes}".encode()).hexdigest()[:10]
    path = os.path.join(REGRESSIONS, f"test_{check}_{digest}.py")
    first_line = (str(error).strip().splitlines() or [type(error).__name__])[0][:150]
    text = (f'"""Fuzzer regression ({check} check): {type(error).__name__}: {first_line}\n\n'
            f'Written by tests/fuzz/test_fuzz.py under DPROG_FUZZ=long. Once the bug is fixed,\n'
            f'this test keeps it fixed."""\nimport numpy as np\n\nfrom fuzz_checks import run_saved\n\n'
            f'SOURCE = """\\\n{source}"""\n\n\ndef test_regression():\n'
            f'    run_saved(SOURCE, {program.in_shapes!r}, np.{np.dtype(program.dtype).name}, '
            f'{program.seed}, {check!r})\n')
    os.makedirs(REGRESSIONS, exist_ok=True)
    with open(path, "w") as f:
        f.write(text)
    return path


@pytest.mark.parametrize("check", sorted(CHECKS))
def test_random_programs(check):
    failures, counts = [], {"checked": 0, "not applicable": 0}

    @_settings(check)
    @given(STRATEGIES[check])
    def prop(program):
        try:
            CHECKS[check](program)
            counts["checked"] += 1
        except NotApplicable:
            counts["not applicable"] += 1
            reject()
        except Exception as e:
            failures.append((program, e))
            raise

    try:
        prop()
    except BaseException as e:
        if LONG and failures:
            # Hypothesis replays each distinct shrunk failure last: save those.
            n = len(getattr(e, "exceptions", [e]))
            for program, error in failures[-n:]:
                print("dprog fuzz: wrote", write_regression(program, check, error))
        raise
    finally:
        print(f"dprog fuzz: {check}: {counts}")  # shown with -s (the long profile's log)


def test_every_elementwise_op_is_fuzzed():
    """Adding an elementwise primitive must add it to the fuzzer (or say why not)."""
    covered = set(UNARY) | set(BINARY) | set(NOT_FUZZED)
    missing = [op for op in elementwise_ops() if op not in covered]
    assert not missing, f"add these ops to tests/fuzz/programs.py UNARY/BINARY: {missing}"
