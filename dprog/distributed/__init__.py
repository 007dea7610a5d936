"""dp.distributed: run one program on several processes (MPI via mpi4py).

    info = dp.distributed.init()                  # rank, size, this process's device
    x, y = dp.distributed.shard_batch((x, y))     # this process's slice of a global batch
    step = dp.distributed.data_parallel(dp.jit(dp.value_and_grad(loss)),
                                        has_value=True, optimizer=opt)

Launch with `mpirun -n 2 python train.py`. Run with plain `python`, everything here
behaves as a job of one process (collectives are identities).
"""
from .collectives import all_gather, pmax, pmean, psum  # noqa: F401
from .comm import Info, init, launched_by_mpi, rank, register_comm, size  # noqa: F401
from .buffers import mpi_is_cuda_aware  # noqa: F401
from .data import assert_synchronized, broadcast, checksum, shard_batch  # noqa: F401
from .data_parallel import DataParallel, data_parallel  # noqa: F401
