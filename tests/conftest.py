"""Shared test setup: the repository on sys.path and the hypothesis profiles.

Profiles: "ci" (default: few examples, derandomized, no deadline, so the whole suite runs
in well under a minute on two shared cores) and "long" (many random examples), chosen
with DPROG_HYPOTHESIS_PROFILE=long.
"""
import os
import sys

import pytest
from hypothesis import HealthCheck, settings

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

_QUIET = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much,
          HealthCheck.function_scoped_fixture]
settings.register_profile("ci", max_examples=10, deadline=None, derandomize=True,
                          suppress_health_check=_QUIET, print_blob=True)
settings.register_profile("long", max_examples=200, deadline=None,
                          suppress_health_check=_QUIET, print_blob=True)
settings.load_profile(os.environ.get("DPROG_HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture
def reference_backend():
    """Run jitted graphs with the NumPy reference interpreter. For tests about what a
    transformation computes (derivative rules against finite differences): they trace
    hundreds of distinct graphs, and compiling each would test Numba, not the rule.
    Compiled kernels are checked against this same interpreter in tests/codegen."""
    from dprog.config import config
    previous = config.backend
    config.backend = "reference"
    yield
    config.backend = previous


def pytest_xdist_auto_num_workers(config):
    """`pytest -n auto`: one test process per usable CPU, at most 8. Each process imports
    Numba and compiles its own test files' kernels (shared through the disk cache); more
    processes than that mostly add memory."""
    from dprog.codegen.cpu_threads import usable_cpus
    return max(1, min(usable_cpus(), 8))
