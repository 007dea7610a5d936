"""Several processes on localhost (mpirun -n 2 --oversubscribe), each run under a deadline.

Each script checks its own results on every rank and fails the job on any mismatch
(see tests/distributed/scripts/); here we check that the job ended cleanly, in time.
"""
import os
import re

import numpy as np

from mpi_launch import REPO, check, mpi_env, run_mpi

EXAMPLE = os.path.join(REPO, "examples", "train_data_parallel.py")


def test_collective_values_and_derivatives_on_two_ranks():
    out = check(run_mpi(2, "collectives.py")).stdout
    assert out.count("collectives ok") == 2


def test_gpu_arrays_are_staged_through_host_memory():
    env = mpi_env()
    env["NUMBA_ENABLE_CUDASIM"] = "1"  # simulated device arrays: no GPU needed
    out = check(run_mpi(2, "collectives.py", env=env)).stdout
    assert out.count("staged CUDA path ok") == 2


def test_bucketed_mean_and_checksums_on_two_ranks():
    out = check(run_mpi(2, "buckets.py")).stdout
    assert out.count("buckets ok") == 2


def test_two_rank_training_matches_one_rank_on_the_full_batch(tmp_path):
    # Small buckets (1 KiB) so the gradients travel in several messages.
    args = ["--epochs", "2", "--limit", "400", "--hidden", "32", "--bucket-kb", "1"]
    one, two = tmp_path / "one.npz", tmp_path / "two.npz"
    r1 = check(run_mpi(1, EXAMPLE, *args, "--save", one))
    r2 = check(run_mpi(2, EXAMPLE, *args, "--save", two))
    assert "1 process(es)" in r1.stdout and "2 process(es)" in r2.stdout
    assert "identical on all ranks" in r2.stdout
    assert int(re.search(r"(\d+) bucket\(s\)", r2.stdout).group(1)) > 1
    a, b = np.load(one), np.load(two)
    assert list(a) == list(b) and len(a) == 4
    for k in a:
        np.testing.assert_allclose(b[k], a[k], rtol=1e-4, atol=1e-6)
    # Same data order, same trajectory: the test accuracy agrees too.
    acc = [float(r.stdout.split("test accuracy ")[-1].split(";")[0]) for r in (r1, r2)]
    assert abs(acc[0] - acc[1]) < 0.01


def test_a_failing_rank_ends_the_job_instead_of_hanging():
    result = run_mpi(2, "rank_fails.py", timeout=90)
    assert not result.timed_out, "the job hung after rank 1 failed"
    assert result.returncode != 0
    assert "deliberate failure on rank 1" in result.stderr
    assert "aborting all 2 processes" in result.stderr
    assert "rank 0 finished" not in result.stdout
