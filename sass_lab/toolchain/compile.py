"""PTX → cubin with the ptxas command line (default) or nvJitLink, plus resources and mapped diagnostics.

``compile_ptx(ptx, arch, line_map=...)`` returns a :class:`Compiled`. The default is whole-program
code from the CUDA 13.0 ``ptxas -arch=… -O3`` command line in a subprocess (:mod:`.ptxas`), the
binary ``nvcc`` users get; ``compiler="nvjitlink"`` compiles relocatable code in a worker process
(:mod:`.nvjitlink`). Either way a crash or a hang costs one compile a clear error. Every ptxas error
or warning that names a PTX line is mapped through ``line_map`` to the .sasm statement behind it:
the first error is raised as :class:`ToolchainError` with that span (the others listed in the hint,
the whole rewritten log attached); warnings are kept in ``Compiled.warnings``. Resources come from
the cubin ELF (``cubin.read_cubin``) with spills and local memory from the ``-v`` log, and the two
are cross-checked. ``Compiled.compiler`` names the compiler that built the cubin.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from ..errors import ResourceError, Span, ToolchainError, UsageError
from ..hw.arch import STATIC_SHARED_MAX, TARGETS, arch_info
from ..hw.resources import Resources
from . import cache, nvjitlink
from . import log as logparse
from .cubin import read_cubin
from .diagnostics import Diagnostic, hint_for, map_diagnostic, raise_errors
from .options import COMPILERS, CompileOptions, seconds
from .ptxas import missing as ptxas_missing
from .ptxas import ptxas_path, ptxas_version, run_ptxas

__all__ = ["COMPILERS", "Compiled", "Diagnostic", "compile_module", "compile_ptx", "default_compiler",
           "find_ptxas", "hint_for", "map_diagnostic"]

DEFAULT_TIMEOUT = 300.0


@dataclass(frozen=True, slots=True)
class Compiled:
    """A cubin, the tool log, per-entry resources and the mapped warnings."""

    cubin: bytes
    log: str
    resources: dict[str, Resources]
    warnings: tuple[Diagnostic, ...] = ()
    arch: str = "sm_90"
    tool: str = "ptxas"  # or "nvjitlink"
    seconds: float = 0.0
    options: tuple[str, ...] = field(default=())
    compiler: str = ""  # what built the cubin: "ptxas 13.0.88", "nvJitLink 13.0.88"


# --------------------------------------------------------------------------- compilers


def default_compiler() -> str:
    """``$SASS_LAB_COMPILER`` (``ptxas`` or ``nvjitlink``; the CLI's ``--compiler`` sets it), else ptxas."""
    return os.environ.get("SASS_LAB_COMPILER") or "ptxas"


def default_timeout() -> float:
    """``$SASS_LAB_COMPILE_TIMEOUT`` seconds (the CLI's ``--compile-timeout`` sets it), else 300."""
    return seconds(os.environ.get("SASS_LAB_COMPILE_TIMEOUT") or DEFAULT_TIMEOUT, "$SASS_LAB_COMPILE_TIMEOUT")


def find_ptxas(arch: str | None = None) -> str | None:
    """The ptxas that builds ``arch``: ``$SASS_LAB_PTXAS``, else the pinned wheel's (CUDA 12 for sm_70)."""
    return ptxas_path(arch)


def compiler_id(compiler: str, arch: str) -> tuple[str, str]:
    """(label for reports, identity for the cache key): ``ptxas 13.0.88`` / ``nvJitLink 13.0.88``."""
    if compiler == "nvjitlink":
        label = f"nvJitLink {nvjitlink.version()}"
        return label, label
    exe = ptxas_path(arch)
    if exe is None:
        raise ptxas_missing(arch)
    label = f"ptxas {ptxas_version(exe)}"
    return label, f"{label} {os.path.realpath(exe)} {os.path.getsize(exe)}"


def compiler_label(arch: str, compiler: str | None = None) -> str:
    """What would build a cubin for ``arch`` now: ``ptxas 13.0.88`` (the CUDA 12 one for sm_70)."""
    return compiler_id("ptxas" if arch == "sm_70" else (compiler or default_compiler()), arch)[0]


_ENTRY_RE = re.compile(r"^[ \t]*(?:\.(?:visible|weak|extern)[ \t]+)*\.entry[ \t]+([A-Za-z_$%][\w$]*)", re.M)


def _cached(ckey: str, ptx: str) -> cache.Entry | None:
    """A cache entry whose checksums, ELF and kernel names all check out (else None, entry dropped)."""
    entry = cache.load(ckey)
    if entry is None:
        return None
    try:
        names = {n for n, k in read_cubin(entry.cubin).items() if k.entry}
    except ToolchainError:
        names = None
    if names is None or names != set(entry.kernels) or not set(_ENTRY_RE.findall(ptx)) <= names:
        cache.discard(ckey)
        return None
    return entry


# --------------------------------------------------------------------------- resources


def build_resources(cubin: bytes, log: str, arch: str, kernels: dict | None = None) -> dict[str, Resources]:
    """Per-entry :class:`Resources`: the ELF is authoritative, the log adds spills and lmem.

    Where both state a figure (registers, shared memory, barriers) they must agree: a disagreement
    (e.g. 1 TiB of static shared memory, which ptxas logs but wraps to 0 in the ELF) is an error,
    never a silently wrong report.
    """
    info = arch_info(arch)
    from_log = logparse.resources(log)
    out = {}
    for name, k in (kernels if kernels is not None else read_cubin(cubin)).items():
        if not k.entry:
            continue
        lg = from_log.get(name)
        reserved = info.reserved_shared_per_block
        # on sm_90 .nv.shared.<k> (when present) includes the reserved area; see cubin.py
        shared = k.shared_section
        if shared and k.reserved_in_section:
            shared = max(0, shared - reserved)
        if lg:
            _cross_check(name, k, shared, lg)
        if shared > STATIC_SHARED_MAX:  # ptxas wraps its own check around 2^32: never report such a cubin
            raise ResourceError(f"kernel {name} declares {shared:,} bytes of static shared memory; a block "
                                f"can have at most {STATIC_SHARED_MAX:,} (48 KB) of static shared memory",
                                hint="declare less, or use dynamic shared memory (.extern .shared, up to "
                                     f"{info.max_shared_per_block_optin // 1024} KB per block on {arch} with "
                                     "the opt-in)")
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


def _cross_check(name: str, k, shared: int, lg) -> None:
    """The log's figures against the ELF's. nvJitLink's log carries two dialects: its ptxas step's
    static figure is for the relocatable object (alignment may differ), so there only its link
    line (section size, reservation included) must match exactly."""
    pairs = [("registers", k.registers, lg.registers), ("named barriers", k.barriers, lg.barriers)]
    if lg.shared_linked is not None:
        pairs.append(("shared memory with the reserved area (bytes)", k.shared_section, lg.shared_linked))
    else:
        pairs.append(("static shared memory (bytes)", shared, lg.shared_static))
    if lg.shared_static is not None and lg.shared_static > STATIC_SHARED_MAX:  # wrapped past the limit
        pairs.append(("static shared memory (bytes)", shared, lg.shared_static))
    for what, elf, said in pairs:
        if said is not None and said != elf:
            big = "shared" in what and max(said, elf) > STATIC_SHARED_MAX
            raise ToolchainError(
                f"the compiler's log and the cubin disagree on {name}'s {what}: log {said:,}, cubin {elf:,}",
                hint=(f"static shared memory is limited to {STATIC_SHARED_MAX // 1024} KB per block; a "
                      "larger declaration wraps around inside the compiler (use dynamic shared memory)"
                      if big else "the cubin cannot be trusted; please report this PTX"))


def compile_ptx(ptx: str, arch: str, *, line_map: Sequence[Span | None] | None = None,
                options: CompileOptions = CompileOptions()) -> Compiled:
    """Compile PTX for ``arch``; raise ToolchainError (mapped to the .sasm line) on any error.

    ``options.compiler``: ``"ptxas"`` (the default, ``$SASS_LAB_COMPILER`` aside: whole-program code
    from the CUDA 13.0 ptxas command line in a subprocess) or ``"nvjitlink"`` (relocatable code, in a
    worker process); sm_70 always uses the CUDA 12 ptxas. ``options.timeout``: seconds before the
    compile is killed (default 300, ``$SASS_LAB_COMPILE_TIMEOUT``). The flags come from
    ``CompileOptions.flags()``; a ``warn_spills`` warning names the spilling kernel's ``.entry``.
    """
    if arch not in TARGETS:
        raise UsageError(f"unknown arch '{arch}'", hint=f"choose one of {', '.join(TARGETS)}")
    compiler = options.compiler or default_compiler()
    if compiler not in COMPILERS:
        raise UsageError(f"unknown compiler '{compiler}'", hint=f"choose one of {', '.join(COMPILERS)}")
    timeout = default_timeout() if options.timeout is None else options.timeout
    flags = list(options.flags())
    if arch == "sm_70":
        compiler = "ptxas"  # nvJitLink 13 has no Volta back end; a CUDA 12 ptxas does
    t0 = time.perf_counter()
    label, ident = compiler_id(compiler, arch)
    ckey = cache.key(ptx, arch, ident, tuple(flags))
    hit = _cached(ckey, ptx)
    if hit is not None:
        cubin, info, err = hit.cubin, hit.log, ""
    elif compiler == "ptxas":
        cubin, info, err = run_ptxas(ptx, arch, flags, timeout)
    else:
        cubin, info, err = nvjitlink.run_caged(ptx, arch, flags, timeout)
    if cubin is None:
        raise_errors("\n".join(x for x in (err, info) if x), ptx, line_map, compiler)
    kernels = read_cubin(cubin)
    resources = build_resources(cubin, info, arch, kernels)
    if hit is None:
        cache.store(ckey, cache.Entry(cubin, info, tuple(n for n, k in kernels.items() if k.entry), label))
    seconds = time.perf_counter() - t0
    diags = [d for d in logparse.diagnostics(info) if d.severity in ("warning", "advisory")]
    ptx_lines = ptx.splitlines() if diags else []
    warns = tuple(map_diagnostic(d, ptx_lines, line_map) for d in diags)
    return Compiled(cubin=cubin, log=info, resources=resources, warnings=warns, arch=arch, tool=compiler,
                    seconds=seconds, options=tuple(flags), compiler=label)


def compile_module(module, arch: str, options: CompileOptions = CompileOptions()):
    """``emit`` + ``compile_ptx`` for an ``ir.Module``: returns ``(Emitted, Compiled)``."""
    from ..backend.ptx import emit

    em = emit(module, arch, lineinfo=options.lineinfo)
    return em, compile_ptx(em.text, arch, line_map=em.line_map, options=options)
