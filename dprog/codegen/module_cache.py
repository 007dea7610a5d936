"""Generated kernel modules on disk, named by the hash of their text.

A module's file name is the SHA-256 of its source, so a file never changes once written
(Numba's disk cache does not notice changed callees, so mutable modules would go stale).
Numba's `cache=True` stores compiled code beside it, so a second process loads kernels
instead of compiling them. A read-only or unusable cache directory, or a corrupt cache
entry, falls back to compiling in memory with one warning: never a crash or a stale kernel.
"""
import hashlib
import importlib.util
import os
import sys
import tempfile
import threading
import warnings

_lock = threading.Lock()
_modules = {}          # source hash -> module
_warned = set()


def cache_dir():
    path = os.environ.get("DPROG_CACHE_DIR")
    if path:
        return path
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "dprog")


def _warn_once(key, message):
    if key not in _warned:
        _warned.add(key)
        warnings.warn(message, RuntimeWarning, stacklevel=3)


def _write_atomic(path, text):
    """Write via a temporary file and rename, so a killed writer never leaves half a file."""
    directory = os.path.dirname(path)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-", suffix=".py")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _load_from_file(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _load_in_memory(name, source):
    """Compile without the disk cache (Numba's cache=True needs a real, writable file)."""
    import types
    module = types.ModuleType(name)
    module.__file__ = f"<dprog {name}>"
    code = compile(source.replace("cache=True", "cache=False"), module.__file__, "exec")
    exec(code, module.__dict__)
    return module


def load_module(source):
    """Import generated source (deduplicated by content); returns the module."""
    digest = hashlib.sha256(source.encode()).hexdigest()[:24]
    module = _modules.get(digest)
    if module is not None:
        return module
    with _lock:
        module = _modules.get(digest)
        if module is not None:
            return module
        name = f"dprog_gen_{digest}"
        directory = cache_dir()
        try:
            os.makedirs(directory, exist_ok=True)
            path = os.path.join(directory, name + ".py")
            if not _file_matches(path, source):
                _write_atomic(path, source)
            module = _load_from_file(name, path)
        except (OSError, PermissionError, RuntimeError) as e:
            _warn_once("dir", f"dprog: kernel cache directory {directory!r} is not usable "
                              f"({e}); compiling in memory (set DPROG_CACHE_DIR to a writable folder)")
            module = _load_in_memory(name, source)
        module.__dprog_source__ = source
        sys.modules[name] = module
        _modules[digest] = module
        return module


def _file_matches(path, source):
    try:
        with open(path) as f:
            return f.read() == source
    except OSError:
        return False


def _from_disk_cache(exc):
    """Did this error come from reading Numba's on-disk cache (not from the kernel)?"""
    import traceback
    return any("numba/core/caching" in frame.filename.replace("\\", "/")
               for frame in traceback.extract_tb(exc.__traceback__))


def call_guarded(module, fn_name, args):
    """Call a kernel for the first time; if its disk cache entry is corrupt, recompile it
    in memory (one warning), so a bad cache file never breaks a run. Returns the result
    and the function to use from now on."""
    fn = getattr(module, fn_name)
    try:
        return fn(*args), fn
    except Exception as e:
        if not _from_disk_cache(e):
            raise
        _warn_once(("corrupt", module.__name__), f"dprog: corrupt kernel cache entry for "
                   f"{module.__name__} ({type(e).__name__}: {e}); recompiling in memory")
        fresh = getattr(_load_in_memory(module.__name__ + "_mem", module.__dprog_source__), fn_name)
        setattr(module, fn_name, fresh)
        return fresh(*args), fresh
