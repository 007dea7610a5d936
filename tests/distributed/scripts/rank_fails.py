"""Rank 1 raises while rank 0 waits in a collective: the job must end, not hang."""
import numpy as np

import dprog as dp

info = dp.distributed.init(device="cpu")
if info.rank == 1:
    raise ValueError("deliberate failure on rank 1")
dp.jit(dp.psum)(np.ones(3))  # never completes: rank 1 is gone
print("rank 0 finished the psum: the failure was not propagated")
