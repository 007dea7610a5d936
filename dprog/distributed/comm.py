"""Communicators: which processes a collective spans, looked up by name.

Collective ops carry a communicator *name* ("world", or one given to `register_comm`)
instead of an MPI object, so graphs print, hash and cache like any other. Without MPI
(mpi4py missing, or a plain `python` run that no launcher started) "world" is a group of
one process and every collective is an identity, so code written for several processes
runs unchanged, and testably, in one.
"""
import os
import sys
from typing import NamedTuple

from ..errors import DistributedError, with_location

# Set by the launchers we know (Open MPI 4/5, PMIx, MPICH/Hydra, Intel MPI): a process
# that sees one of them was started by mpirun and must join its job, not run alone.
_LAUNCHER_VARS = ("OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_SIZE", "PMI_RANK")


class Group:
    """A communicator as the collectives see it; comm is None for a single process."""
    __slots__ = ("comm", "rank", "size")

    def __init__(self, comm):
        self.comm = comm
        self.rank = 0 if comm is None else comm.Get_rank()
        self.size = 1 if comm is None else comm.Get_size()


class Info(NamedTuple):
    rank: int
    size: int
    local_rank: int     # rank among the processes on this host (picks the GPU)
    local_size: int
    device: str         # "cpu" or "cuda"


_SINGLE = Group(None)
_groups = {}            # name -> Group
_info = None            # Info once init() ran


def launched_by_mpi():
    """Started by mpirun/mpiexec (or DPROG_DISTRIBUTED=mpi, for launchers we do not
    recognise). Otherwise MPI is never initialised: a plain `python` run stays a
    process of its own, with no MPI start-up cost and no limits on fork()."""
    if os.environ.get("DPROG_DISTRIBUTED") == "mpi":
        return True
    return any(v in os.environ for v in _LAUNCHER_VARS)


def _import_mpi():
    if not launched_by_mpi():
        return None
    try:
        from mpi4py import MPI
    except ImportError:
        raise DistributedError(with_location(
            "this process was started by an MPI launcher (mpirun) but mpi4py is not "
            "installed, so it cannot join the job; install it with "
            "`pip install \"dprog[distributed]\"` (mpi4py + Open MPI)")) from None
    return MPI


def init(device="auto", limit_threads=True):
    """Join the MPI job (idempotent) and choose this process's device.

    device: "auto" (one GPU per process when CUDA is present, else the CPU), "cpu" or
    "cuda" (an error when no GPU is visible). limit_threads shares the host's cores among
    the processes on it, so N processes do not each start one thread per core.
    Returns Info(rank, size, local_rank, local_size, device).
    """
    global _info
    if device not in ("auto", "cpu", "cuda"):
        raise DistributedError(with_location(
            f"dp.distributed.init: device must be 'auto', 'cpu' or 'cuda', got {device!r}"))
    if _info is not None and device in ("auto", _info.device):
        return _info
    MPI = _import_mpi()
    if MPI is None:
        world, local_rank, local_size = _SINGLE, 0, 1
    else:
        world = Group(MPI.COMM_WORLD)
        local = MPI.COMM_WORLD.Split_type(MPI.COMM_TYPE_SHARED)
        local_rank, local_size = local.Get_rank(), local.Get_size()
        local.Free()
        if world.size > 1:
            install_abort_on_error(world)
    _groups["world"] = world
    if limit_threads and local_size > 1:
        _share_cores(local_size)
    chosen = _choose_device(device, local_rank)
    _info = Info(world.rank, world.size, local_rank, local_size, chosen)
    return _info


def _share_cores(local_size):
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count() or 1
    threads = max(1, cores // local_size)
    if "NUMBA_NUM_THREADS" not in os.environ:
        import numba
        numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
    try:  # BLAS pools (NumPy's matmul): optional, threadpoolctl comes with scikit-learn
        from threadpoolctl import threadpool_limits
        threadpool_limits(threads)
    except ImportError:
        pass


def _choose_device(device, local_rank):
    if device == "cpu":
        return "cpu"
    try:
        from numba import cuda
        available = bool(cuda.is_available())
    except Exception:  # numba without CUDA support, or no driver
        available = False
    if not available:
        if device == "cuda":
            raise DistributedError(with_location(
                "dp.distributed.init(device='cuda'): no CUDA GPU is visible to this process "
                "(numba.cuda.is_available() is False); use device='cpu' or run on GPU hosts"))
        return "cpu"
    cuda.select_device(local_rank % len(cuda.gpus))  # one GPU per process on this host
    return "cuda"


def install_abort_on_error(world):
    """An uncaught exception on one rank would leave the others waiting forever inside
    a collective. Print it, name the rank, then MPI_Abort the whole job."""
    previous = sys.excepthook
    if getattr(previous, "_dprog_abort", False):
        return

    def abort_on_error(exc_type, exc, tb):
        sys.stderr.write(f"[dprog rank {world.rank}/{world.size}] uncaught exception:\n")
        previous(exc_type, exc, tb)
        sys.stderr.write(
            f"[dprog rank {world.rank}/{world.size}] {exc_type.__name__} on rank "
            f"{world.rank}: aborting all {world.size} processes (MPI_Abort) so that the "
            f"other ranks do not wait forever in a collective\n")
        sys.stderr.flush()
        world.comm.Abort(1)

    abort_on_error._dprog_abort = True
    sys.excepthook = abort_on_error


def register_comm(name, comm):
    """Make an mpi4py communicator (e.g. from COMM_WORLD.Split) usable as axis_name=name."""
    if not isinstance(name, str) or name == "world":
        raise DistributedError(with_location(
            f"register_comm: the name must be a string other than 'world', got {name!r}"))
    if not hasattr(comm, "Allreduce"):
        raise DistributedError(with_location(
            f"register_comm: expected an mpi4py communicator, got {type(comm).__name__}"))
    _groups[name] = Group(comm)


def group(axis_name="world"):
    """The Group behind a name. "world" joins the job on first use when a launcher
    started this process, and is a single process otherwise."""
    g = _groups.get(axis_name)
    if g is not None:
        return g
    if axis_name == "world":
        if launched_by_mpi():
            init()
            return _groups["world"]
        return _SINGLE
    if not isinstance(axis_name, str):
        raise DistributedError(with_location(
            f"axis_name must be a communicator name (a string such as 'world'), got {axis_name!r}"))
    raise DistributedError(with_location(
        f"unknown communicator {axis_name!r}: use 'world' (every process), or register an "
        f"mpi4py communicator first with dp.distributed.register_comm({axis_name!r}, comm)"))


def rank(axis_name="world"):
    return group(axis_name).rank


def size(axis_name="world"):
    return group(axis_name).size
