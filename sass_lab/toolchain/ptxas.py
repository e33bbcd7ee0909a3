"""The ptxas command line in a subprocess: whole-program code, exactly as ``nvcc`` builds it.

``ptxas -arch=sm_90 -O3 -v in.ptx -o out.cubin`` from CUDA 13.0 (the pinned ``nvidia-cuda-nvcc``
wheel, ``nvidia/cu13/bin/ptxas``); sm_70 takes the CUDA 12.9 ptxas of ``nvidia-cuda-nvcc-cu12``
because CUDA 13 has no Volta back end; ``$SASS_LAB_PTXAS`` overrides both. The subprocess also
isolates faults: a crash, a hang past the timeout or a signal costs this one compile a clear
:class:`ToolchainError`, never the calling process, and ptxas dies with its caller.

Dying with the caller: ptxas runs under util-linux ``setpriv --pdeathsig KILL`` and a one-line
``sh`` that exits unless its parent is still the caller (the caller may have died before setpriv
asked for the signal), so the kernel kills ptxas when the thread that started it exits, even by
``kill -9``. That keeps ``subprocess`` on its ``vfork`` path: a ``preexec_fn`` makes it ``fork`` a
big tuning worker (copying its page tables) and take a copy-on-write fault on every page the worker
writes afterwards, ~10 ms per compile. Without setpriv the ``preexec_fn`` does the same job.

Its heap: ptxas grows its heap a few 4 KiB pages at a time (about 7,500 page faults for an SGEMM
candidate). It runs with ``GLIBC_TUNABLES`` (:data:`HEAP_TUNABLES`) asking glibc to grow the heap in
256 MiB steps of transparent huge pages, big blocks included: ~600 page faults, 4-11 % less CPU per
compile (ptxas alone 8-11 %, in whole sweeps ~4 %: docs/TUNING.md), ~6 MB more resident memory, and the
very same cubin bytes (malloc does not decide code). A ``GLIBC_TUNABLES`` of the caller's own is left
as it is (set it empty to switch this off); without glibc or transparent huge pages it does nothing.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

from ..errors import CompilerFault, ToolchainError
from ..workers import describe_exit, die_with_parent

PTX_NAME = "input.ptx"
WHEELS = {"cu13": "nvidia-cuda-nvcc", "cuda_nvcc": "nvidia-cuda-nvcc-cu12"}  # folder → pip package


def _wheel_ptxas(folder: str) -> str | None:
    try:
        import nvidia
    except ImportError:
        return None
    for base in getattr(nvidia, "__path__", ()):
        exe = Path(base, folder, "bin", "ptxas")
        if exe.exists():
            return str(exe)
    return None


def ptxas_path(arch: str | None = None) -> str | None:
    """``$SASS_LAB_PTXAS``, else the pinned wheel's ptxas (CUDA 12.9 for sm_70, 13.0 otherwise)."""
    env = os.environ.get("SASS_LAB_PTXAS")
    if env:
        return env if Path(env).exists() else None
    return _wheel_ptxas("cuda_nvcc" if arch == "sm_70" else "cu13")


def ptxas_version(exe: str) -> str:
    """``13.0.88`` for a ptxas binary: its wheel's version, else what ``--version`` prints."""
    st = os.stat(exe)
    return _version(os.path.realpath(exe), st.st_size, st.st_mtime_ns)


@functools.cache
def _version(exe: str, size: int, mtime: int) -> str:
    parts = Path(exe).parts
    for folder, package in WHEELS.items():
        if len(parts) >= 4 and parts[-3] == folder and parts[-4] == "nvidia":
            from importlib import metadata

            try:
                return metadata.version(package)
            except metadata.PackageNotFoundError:
                break
    try:
        out = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=30,
                             preexec_fn=die_with_parent).stdout
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    m = re.search(r"V(\d+\.\d+\.\d+)", out)
    return m.group(1) if m else "unknown"


HEAP_TUNABLES = "glibc.malloc.hugetlb=1:glibc.malloc.top_pad=268435456:glibc.malloc.mmap_threshold=268435456"


def ptxas_env() -> dict[str, str] | None:
    """ptxas's environment: this process's with :data:`HEAP_TUNABLES` (None: inherit it unchanged,
    when ``GLIBC_TUNABLES`` is already set)."""
    if "GLIBC_TUNABLES" in os.environ:
        return None
    return {**os.environ, "GLIBC_TUNABLES": HEAP_TUNABLES}


# Run as: sh -c GUARD CALLER_PID ptxas ARGS... (after setpriv set the parent-death signal).
GUARD = '[ "$PPID" = "$0" ] || exit 125; exec "$@"'


@functools.cache
def spawn_helper() -> str | None:
    """util-linux setpriv when it can set the parent-death signal, else None."""
    exe = shutil.which("setpriv")
    if exe is None or not os.path.exists("/bin/sh"):
        return None
    try:
        ok = subprocess.run([exe, "--pdeathsig", "KILL", "--", "/bin/sh", "-c", GUARD, str(os.getpid()), "true"],
                            capture_output=True, timeout=30, preexec_fn=die_with_parent).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return None
    return exe if ok else None


def spawn(cmd: list[str], **kw) -> subprocess.Popen:
    """``Popen(cmd)`` in a new session that the kernel kills when the calling thread exits."""
    setpriv = spawn_helper()
    if setpriv is None:
        return subprocess.Popen(cmd, start_new_session=True, preexec_fn=die_with_parent, **kw)
    if not os.access(cmd[0], os.X_OK):  # what exec would have said, before the helpers hide it
        raise PermissionError(13, "Permission denied", cmd[0])
    return subprocess.Popen([setpriv, "--pdeathsig", "KILL", "--", "/bin/sh", "-c", GUARD, str(os.getpid()), *cmd],
                            start_new_session=True, **kw)


def missing(arch: str) -> ToolchainError:
    if os.environ.get("SASS_LAB_PTXAS"):
        return ToolchainError(f"SASS_LAB_PTXAS={os.environ['SASS_LAB_PTXAS']} does not exist",
                              hint="point SASS_LAB_PTXAS at a ptxas binary, or unset it to use the wheel's")
    if arch == "sm_70":
        return ToolchainError("no CUDA 12 ptxas for sm_70: CUDA 13 dropped Volta",
                              hint="pip install 'nvidia-cuda-nvcc-cu12>=12.9,<13' (a dependency of sass-lab) "
                                   "or set SASS_LAB_PTXAS=/path/to/a CUDA 12 ptxas")
    return ToolchainError("ptxas not found (the nvidia-cuda-nvcc 13.0 wheel is missing)",
                          hint="pip install 'nvidia-cuda-nvcc>=13.0,<13.1' (a dependency of sass-lab), set "
                               "SASS_LAB_PTXAS, or compile with --compiler nvjitlink")


def run_ptxas(ptx: str, arch: str, options: list[str], timeout: float | None) -> tuple[bytes | None, str, str]:
    """(cubin or None, info log, error log); raises ToolchainError when ptxas cannot finish."""
    exe = ptxas_path(arch)
    if exe is None:
        raise missing(arch)
    with tempfile.TemporaryDirectory(prefix="sass_lab_") as tmp:
        src, out = Path(tmp, PTX_NAME), Path(tmp, "out.cubin")
        src.write_text(ptx)
        opts = [o.removeprefix("-Xptxas=") for o in options]
        cmd = [exe, f"-arch={arch}", "-O3", "-v", *opts, str(src), "-o", str(out)]
        try:
            proc = spawn(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=ptxas_env())
        except OSError as e:
            raise ToolchainError(f"cannot run ptxas: {e}", hint=f"command: {' '.join(cmd)}") from None
        try:
            stdout, stderr = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill(proc)
            raise CompilerFault(f"ptxas did not finish within the compile timeout ({timeout:g} s); killed",
                                hint="raise the limit with --compile-timeout SECONDS "
                                     "(or $SASS_LAB_COMPILE_TIMEOUT)") from None
        except BaseException:  # Ctrl-C: nothing it started may keep running
            _kill(proc)
            raise
        text = (stdout + stderr).decode(errors="replace").replace(str(src), PTX_NAME)
        if proc.returncode < 0:
            tail = "\n".join(text.splitlines()[-20:])
            raise CompilerFault(f"ptxas crashed ({describe_exit(proc.returncode)}) on this PTX",
                                 hint="this is a ptxas fault; try --compiler nvjitlink", log=tail or None)
        if proc.returncode != 0 or not out.exists():
            return None, "", text or f"ptxas failed ({describe_exit(proc.returncode)}) without a message"
        return out.read_bytes(), text, ""


def _kill(proc: subprocess.Popen) -> None:
    """SIGKILL ptxas's process group (a wrapper script's children too) and reap it."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except OSError:
        proc.kill()
    proc.communicate()
