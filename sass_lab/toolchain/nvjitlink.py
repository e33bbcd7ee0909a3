"""nvJitLink (the option, not the default), always run in a worker process.

nvJitLink compiles PTX as relocatable code (like ``ptxas -c``), so its cubins can use more registers
than the whole-program code nvcc users get; and it runs native code that can corrupt its heap or
crash on hostile input (a ~100 kB token in an error message aborts it). So a compile runs in a
warm forked worker (:mod:`sass_lab.workers`): a crash or a hang past the timeout costs that one
compile a clear :class:`ToolchainError` and a fresh worker. Inside a worker already (tuning), it
runs inline: that worker is the cage.
"""

from __future__ import annotations

import atexit
import functools
import threading

from ..errors import CompilerFault, ToolchainError
from ..workers import Pool, in_worker

PTX_NAME = "input.ptx"
_CAGE: Pool | None = None
_LOCK = threading.Lock()


@functools.cache
def binding():
    """The nvJitLink binding (imported once; the only state cached here)."""
    try:
        from cuda.bindings import nvjitlink
    except ImportError as e:  # pragma: no cover - dependency is required
        raise ToolchainError(f"nvJitLink is not available: {e}",
                             hint="pip install 'nvidia-nvjitlink>=13.0,<13.1' cuda-bindings") from None
    return nvjitlink


@functools.cache
def version() -> str:
    from importlib import metadata

    try:
        return metadata.version("nvidia-nvjitlink")
    except metadata.PackageNotFoundError:  # pragma: no cover - dependency is required
        return "unknown"


def _read_log(h, size_fn, get_fn) -> str:
    try:
        n = size_fn(h)
    except Exception:  # noqa: BLE001 - no log available
        return ""
    if n <= 1:
        return ""
    buf = bytearray(n)
    get_fn(h, buf)
    return buf.rstrip(b"\0").decode(errors="replace")


def run_here(ptx: str, arch: str, options: list[str]) -> tuple[bytes | None, str, str]:
    """(cubin or None, info log, error log), in this process."""
    nj = binding()
    opts = [f"-arch={arch}", "-verbose", *options]
    try:
        h = nj.create(len(opts), opts)
    except nj.nvJitLinkError as e:
        hint = ("CUDA 13 dropped sm_70 (Volta): compile with ptxas (the default)" if arch == "sm_70"
                else "check the arch and options")
        raise ToolchainError(f"nvJitLink rejected {' '.join(opts)}: {e}", hint=hint) from None
    try:
        data = ptx.encode()
        try:
            nj.add_data(h, nj.InputType.PTX, data, len(data), PTX_NAME)
            nj.complete(h)
        except nj.nvJitLinkError:
            info = _read_log(h, nj.get_info_log_size, nj.get_info_log)
            err = _read_log(h, nj.get_error_log_size, nj.get_error_log)
            return None, info, err
        info = _read_log(h, nj.get_info_log_size, nj.get_info_log)
        size = nj.get_linked_cubin_size(h)
        buf = bytearray(size)
        nj.get_linked_cubin(h, buf)
        return bytes(buf), info, ""
    finally:
        nj.destroy(h)


def _cage() -> Pool:
    global _CAGE
    if _CAGE is None:
        _CAGE = Pool(1, preload=binding)
        atexit.register(_CAGE.close)
    return _CAGE


def run_caged(ptx: str, arch: str, options: list[str], timeout: float | None) -> tuple[bytes | None, str, str]:
    """:func:`run_here` in a warm worker process; a crash or a hang raises ToolchainError."""
    if in_worker():
        return run_here(ptx, arch, options)
    with _LOCK:
        done = _cage().call(run_here, ptx, arch, options, timeout=timeout)
    if done.error is not None:
        raise done.error
    if done.crash is not None:
        if done.crash.startswith("timed out"):
            raise CompilerFault(f"nvJitLink did not finish within the compile timeout ({timeout:g} s); killed",
                                 hint="raise the limit with --compile-timeout SECONDS (or $SASS_LAB_COMPILE_TIMEOUT)")
        raise CompilerFault(f"nvJitLink crashed on this PTX: {done.crash}",
                             hint="a fault inside nvJitLink; the ptxas command line (--compiler ptxas, the "
                                  "default) compiles the same PTX in its own process")
    return done.value
