"""PTX → cubin, in-process with nvJitLink (or the ptxas CLI), plus resources and mapped diagnostics.

``compile_ptx(ptx, arch, line_map=...)`` returns a :class:`Compiled`. Every ptxas error or warning
that names a PTX line is mapped through ``line_map`` to the .sasm statement behind it: the first
error is raised as :class:`ToolchainError` with that span (the others listed in the hint, the whole
rewritten log attached); warnings are kept in ``Compiled.warnings``. Resources come from the cubin
ELF (``cubin.read_cubin``) with spills and local memory from the ``-verbose`` log.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import Span, ToolchainError, UsageError
from ..hw.arch import TARGETS, arch_info
from ..hw.resources import Resources
from . import cache
from . import log as logparse
from .cubin import read_cubin
from .diagnostics import Diagnostic, hint_for, map_diagnostic, raise_errors
from .options import CompileOptions

__all__ = ["Compiled", "Diagnostic", "compile_module", "compile_ptx", "find_ptxas", "hint_for",
           "map_diagnostic"]

PTX_NAME = "input.ptx"


@dataclass(frozen=True, slots=True)
class Compiled:
    """A cubin, the tool log, per-entry resources and the mapped warnings."""

    cubin: bytes
    log: str
    resources: dict[str, Resources]
    warnings: tuple[Diagnostic, ...] = ()
    arch: str = "sm_90"
    tool: str = "nvjitlink"  # or "ptxas"
    seconds: float = 0.0
    options: tuple[str, ...] = field(default=())


# --------------------------------------------------------------------------- back ends


@functools.cache
def _nvjitlink():
    """The nvJitLink binding (imported once; the only state cached in this module)."""
    try:
        from cuda.bindings import nvjitlink
    except ImportError as e:  # pragma: no cover - dependency is required
        raise ToolchainError(f"nvJitLink is not available: {e}",
                             hint="pip install 'nvidia-nvjitlink>=13.0,<13.1' cuda-bindings") from None
    return nvjitlink


def _read_log(nj, h, size_fn, get_fn) -> str:
    try:
        n = size_fn(h)
    except Exception:  # noqa: BLE001 - no log available
        return ""
    if n <= 1:
        return ""
    buf = bytearray(n)
    get_fn(h, buf)
    return buf.rstrip(b"\0").decode(errors="replace")


def _run_nvjitlink(ptx: str, arch: str, options: list[str]) -> tuple[bytes | None, str, str]:
    """(cubin or None, info log, error log)."""
    nj = _nvjitlink()
    opts = [f"-arch={arch}", "-verbose", *options]
    try:
        h = nj.create(len(opts), opts)
    except nj.nvJitLinkError as e:
        hint = ("CUDA 13 dropped sm_70 (Volta): install nvidia-cuda-nvcc-cu12 (a dependency of sass-lab) "
                "or set SASS_LAB_PTXAS=/path/to/a CUDA 12 ptxas" if arch == "sm_70" else "check the arch and options")
        raise ToolchainError(f"nvJitLink rejected {' '.join(opts)}: {e}", hint=hint) from None
    try:
        data = ptx.encode()
        try:
            nj.add_data(h, nj.InputType.PTX, data, len(data), PTX_NAME)
            nj.complete(h)
        except nj.nvJitLinkError:
            info = _read_log(nj, h, nj.get_info_log_size, nj.get_info_log)
            err = _read_log(nj, h, nj.get_error_log_size, nj.get_error_log)
            return None, info, err
        info = _read_log(nj, h, nj.get_info_log_size, nj.get_info_log)
        size = nj.get_linked_cubin_size(h)
        buf = bytearray(size)
        nj.get_linked_cubin(h, buf)
        return bytes(buf), info, ""
    finally:
        nj.destroy(h)


def volta_ptxas() -> str | None:
    """A CUDA 12 ptxas for sm_70: ``$SASS_LAB_PTXAS``, else the ``nvidia-cuda-nvcc-cu12`` wheel's."""
    env = os.environ.get("SASS_LAB_PTXAS")
    if env:
        return env if Path(env).exists() else None
    try:
        import nvidia
    except ImportError:
        return None
    for base in getattr(nvidia, "__path__", ()):
        exe = Path(base, "cuda_nvcc", "bin", "ptxas")
        if exe.exists():
            return str(exe)
    return None


def find_ptxas(arch: str | None = None) -> str | None:
    """``$SASS_LAB_PTXAS``, else ptxas on PATH, else one cuda.pathfinder knows (sm_70: a CUDA 12 one)."""
    if arch == "sm_70":
        return volta_ptxas()
    env = os.environ.get("SASS_LAB_PTXAS")
    if env:
        return env if Path(env).exists() else None
    found = shutil.which("ptxas")
    if found:
        return found
    try:
        from cuda.pathfinder import find_nvidia_binary_utility

        return find_nvidia_binary_utility("ptxas")
    except Exception:  # noqa: BLE001 - pathfinder missing or utility unknown
        return None


def _run_ptxas(ptx: str, arch: str, options: list[str]) -> tuple[bytes | None, str, str]:
    exe = find_ptxas(arch)
    if exe is None:
        raise ToolchainError("ptxas not found", hint="put CUDA's ptxas on PATH, set SASS_LAB_PTXAS, "
                             "or compile with nvJitLink (CompileOptions(ptxas=False))")
    with tempfile.TemporaryDirectory(prefix="sass_lab_") as tmp:
        src, out = Path(tmp, PTX_NAME), Path(tmp, "out.cubin")
        src.write_text(ptx)
        opts = [o.removeprefix("-Xptxas=") for o in options]
        cmd = [exe, f"-arch={arch}", "-v", *opts, str(src), "-o", str(out)]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        except (OSError, subprocess.TimeoutExpired) as e:
            raise ToolchainError(f"cannot run ptxas: {e}", hint=f"command: {' '.join(cmd)}") from None
        text = (proc.stdout + proc.stderr).replace(str(src), PTX_NAME)
        if proc.returncode != 0 or not out.exists():
            return None, "", text
        return out.read_bytes(), text, ""


# --------------------------------------------------------------------------- resources


def build_resources(cubin: bytes, log: str, arch: str) -> dict[str, Resources]:
    """Per-entry :class:`Resources`: the ELF is authoritative, the log adds spills and lmem."""
    info = arch_info(arch)
    from_log = logparse.resources(log)
    out = {}
    for name, k in read_cubin(cubin).items():
        if not k.entry:
            continue
        lg = from_log.get(name)
        reserved = info.reserved_shared_per_block
        # on sm_90 .nv.shared.<k> (when present) includes the reserved area; see cubin.py
        shared = k.shared_section
        if shared and k.reserved_in_section:
            shared = max(0, shared - reserved)
        threads = k.reqntid or k.max_threads
        prod = 1
        for t in threads:
            prod *= max(1, t)
        consts = {0: k.const0_bytes} if k.const0_bytes else {}
        if lg:
            consts = {**lg.const_bytes, **consts}
        out[name] = Resources(
            registers=k.registers, shared_static=shared, local_bytes=(lg.local_bytes or 0) if lg else 0,
            stack_bytes=k.frame_size, spill_stores=(lg.spill_stores or 0) if lg else 0,
            spill_loads=(lg.spill_loads or 0) if lg else 0, const_bytes=consts, barriers=k.barriers,
            max_threads=prod if threads else info.max_threads_per_block, reqntid=tuple(k.reqntid),
            reserved_shared=reserved, maxnreg=k.maxreg_count, param_bytes=k.param_bytes,
            code_bytes=k.text_bytes, cluster=tuple(k.cluster))
    return out


def compile_ptx(ptx: str, arch: str, *, line_map: Sequence[Span | None] | None = None,
                options: CompileOptions = CompileOptions()) -> Compiled:
    """Compile PTX for ``arch``; raise ToolchainError (mapped to the .sasm line) on any error.

    ``options`` picks the compiler (``ptxas``) and its flags (``CompileOptions.flags()``); a
    ``warn_spills`` warning names the spilling kernel's ``.entry``.
    """
    if arch not in TARGETS:
        raise UsageError(f"unknown arch '{arch}'", hint=f"choose one of {', '.join(TARGETS)}")
    flags = list(options.flags())
    ptxas = options.ptxas
    if arch == "sm_70" and not ptxas and volta_ptxas():
        ptxas = True  # nvJitLink 13 has no Volta back end; a CUDA 12 ptxas does
    t0 = time.perf_counter()
    tool = "ptxas" if ptxas else "nvjitlink"
    ckey = cache.key(ptx, arch, f"{tool}:{find_ptxas(arch) if ptxas else ''}", tuple(flags))
    hit = cache.load(ckey)
    if hit is not None:
        (cubin, info), err = hit, ""
    else:
        run = _run_ptxas if ptxas else _run_nvjitlink
        cubin, info, err = run(ptx, arch, flags)
        if cubin is not None:
            cache.store(ckey, cubin, info)
    if cubin is None:
        raise_errors("\n".join(x for x in (err, info) if x), ptx, line_map, tool)
    seconds = time.perf_counter() - t0
    ptx_lines = ptx.splitlines()
    warns = tuple(map_diagnostic(d, ptx_lines, line_map)
                  for d in logparse.diagnostics(info) if d.severity in ("warning", "advisory"))
    return Compiled(cubin=cubin, log=info, resources=build_resources(cubin, info, arch),
                    warnings=warns, arch=arch, tool=tool, seconds=seconds, options=tuple(flags))


def compile_module(module, arch: str, options: CompileOptions = CompileOptions()):
    """``emit`` + ``compile_ptx`` for an ``ir.Module``: returns ``(Emitted, Compiled)``."""
    from ..backend.ptx import emit

    em = emit(module, arch, lineinfo=options.lineinfo)
    return em, compile_ptx(em.text, arch, line_map=em.line_map, options=options)
