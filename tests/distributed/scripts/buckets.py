"""Bucketed averaging on P processes: many leaves, two dtypes, several buckets."""
import numpy as np

import dprog as dp
from dprog.distributed.buckets import BucketedMean
from dprog.distributed.comm import group

info = dp.distributed.init(device="cpu")
r, P = info.rank, info.size
shapes = [(3, 4), (), (100,), (7,), (2, 2, 2)]
leaves = [np.full(s, r + 1.0, np.float32) * (i + 1) for i, s in enumerate(shapes)]
leaves.append(np.arange(5.0) * (r + 1))          # float64: a bucket of its own
reducer = BucketedMean(group(), bucket_bytes=64)  # tiny: forces several buckets
for _ in range(2):  # the second call reuses the planned buffers
    out = reducer.mean(leaves)
mean_factor = sum(s + 1 for s in range(P)) / P
for i, (x, y) in enumerate(zip(leaves, out)):
    assert y.shape == x.shape and y.dtype == x.dtype, (i, y.shape, y.dtype)
    np.testing.assert_allclose(y, x / (r + 1) * mean_factor, rtol=1e-6)
assert reducer.last["buckets"] == 3, reducer.last  # f32: 2 (64-byte cut), f64: 1
out[0][...] = -1  # results are fresh arrays, not views of the reused bucket buffers
assert reducer.mean(leaves)[0][0, 0] != -1
# Identity of the averaged trees across ranks, and a rank that drifted is caught.
dp.distributed.assert_synchronized(out)
try:
    dp.distributed.assert_synchronized([np.float32(r)])
except dp.DistributedError as e:
    assert "ranks [1" in str(e), str(e)
else:
    raise AssertionError("assert_synchronized missed differing parameters")
print(f"rank {r}: buckets ok ({reducer.last['buckets']} buckets)")
