"""The pipeline as one call: expand → parse → lower → passes → PTX → cubin → report.

``assemble(source, arch=..., defines=..., options=...)`` and ``assemble_file(path, ...)`` return a
:class:`Module` of :class:`Kernel` objects, each with ``.ptx``, ``.cubin``, ``.resources`` and
``.occupancy()``; the emulator, runtime and SASS view hang off the same objects.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from . import ir
from .errors import SourceError, Span, UsageError
from .hw.arch import TARGETS
from .hw.resources import Occupancy, Resources
from .toolchain.options import CompileOptions

ARCHS = TARGETS  # every target the assembler compiles for (the table lives in hw/arch.py)
DEFAULT_ARCH = "sm_90"


@dataclass
class Kernel:
    """One assembled kernel. ``ptx``/``cubin`` are the whole module's (one cubin per file)."""

    name: str
    arch: str
    module: Module = field(repr=False)
    ir: ir.Kernel = field(repr=False)
    resources: Resources
    pressure: Any = field(default=None, repr=False)  # passes.liveness.Pressure
    schedule: Any = field(default=None, repr=False)  # passes.schedule.ScheduleReport
    warnings: tuple[str, ...] = ()  # from the passes, e.g. pressure over a .maxnreg budget

    @property
    def ptx(self) -> str:
        return self.module.ptx

    @property
    def cubin(self) -> bytes:
        return self.module.cubin

    @property
    def params(self) -> tuple[ir.Param, ...]:
        return self.ir.params

    def occupancy(self, block: int | tuple[int, ...] | None = None, dynamic_shared: int = 0) -> Occupancy:
        """Blocks/SM, warps/SM, % and limiters for ``block`` threads (default: the kernel's max).

        Registers, static + dynamic shared memory and named barriers all count; a block shape the
        kernel's ``.reqntid``/``.maxntid`` forbids gives 0 blocks (limiter ``threads``).
        """
        from .hw.launch import kernel_occupancy

        threads = _threads(block) if block is not None else default_block(self.resources)
        return kernel_occupancy(self.arch, self.resources, threads, dynamic_shared)

    def emulate(self, grid, block, *args, dynamic_shared: int = 0, check: bool = True, **kw):
        """Run on the CPU emulator; numpy arrays are written back in place."""
        from .emulator import emulate

        return emulate(self.ptx, self.name, grid, block, list(args), dynamic_shared=dynamic_shared,
                       check=check, line_map=self.module.line_map, **kw)

    def launch(self, grid, block, *args, dynamic_shared: int = 0, **kw):
        """Launch on the GPU through the driver API (raises NoGPUError without one)."""
        from .runtime import launch

        return launch(self, grid, block, *args, dynamic_shared=dynamic_shared, **kw)

    @cached_property
    def sass(self):
        """Disassembled instructions with decoded control codes (nvdisasm)."""
        from .sass import disassemble

        return disassemble(self.cubin, self.arch)[self.name]


@dataclass
class Module:
    """An assembled .sasm/PTX file: PTX text, one cubin, and its kernels."""

    file: str
    arch: str
    defines: dict[str, Any]
    ptx: str
    cubin: bytes
    line_map: tuple[Span | None, ...]  # PTX line (index + 1) -> .sasm span
    log: str
    ir: ir.Module = field(repr=False)
    warnings: tuple = ()  # ptxas warnings mapped to .sasm spans (toolchain.compile.Compiled.warnings)
    options: CompileOptions = CompileOptions()
    compiler: str = ""  # what built the cubin: "ptxas 13.0.88" (whole program) or "nvJitLink 13.0.88"
    kernels: dict[str, Kernel] = field(default_factory=dict)
    sources: tuple[str, ...] = ()  # every file read: the source and what it includes

    def __getitem__(self, name: str) -> Kernel:
        try:
            return self.kernels[name]
        except KeyError:
            raise UsageError(f"no kernel '{name}' in {self.file}",
                             hint=f"kernels: {', '.join(self.kernels) or '(none)'}") from None

    def __iter__(self):
        return iter(self.kernels.values())

    def __len__(self) -> int:
        return len(self.kernels)


def _threads(block) -> int:
    if isinstance(block, int):
        return block
    n = 1
    for b in block:
        n *= int(b)
    return n


def default_block(res: Resources) -> int:
    if res.reqntid:
        return _threads(res.reqntid)
    return res.max_threads


class Reuse:
    """What one process keeps from assembling a source for the next, similar one (a tuning sweep's
    worker): the last front end result (``dsl.reuse.FrontMemo``) and pass work (``passes.PassMemo``).
    Results are the same as without it; only work is saved."""

    def __init__(self) -> None:
        from .dsl.reuse import FrontMemo
        from .passes import PassMemo

        self.front = FrontMemo()
        self.passes = PassMemo()


def assemble(source: str, arch: str = DEFAULT_ARCH, *, file: str = "<string>",
             defines: Mapping[str, Any] | None = None, options: CompileOptions = CompileOptions(),
             reuse: Reuse | None = None) -> Module:
    """Assemble DSL or PTX text into a :class:`Module` (PTX + cubin + per-kernel report).

    ``defines`` override the source's ``.define`` values (any name, ``schedule`` or ``file``
    included); ``options`` say how to compile (``toolchain.options.CompileOptions``); ``reuse``
    saves work between similar sources (:class:`Reuse`).
    """
    from .dsl import frontend
    from .files import normalize

    if arch not in ARCHS:
        raise UsageError(f"unknown arch '{arch}'", hint=f"choose one of {', '.join(ARCHS)}")
    source = normalize(source)
    front = (reuse.front.frontend if reuse is not None else frontend)(source, file, dict(defines or {}))
    return assemble_front(front, arch, file=file, options=options, empty=not source.strip(),
                          memo=reuse.passes if reuse is not None else None)


def assemble_front(front, arch: str, *, file: str, options: CompileOptions = CompileOptions(),
                   empty: bool = False, memo=None) -> Module:
    """The rest of :func:`assemble` for a front end's result (``dsl.FrontResult``): passes, PTX, cubin.

    ``memo`` (a ``passes.PassMemo``) reuses pass work between kernels that share a body.
    """
    from .isa import arch_specific
    from .passes import run_passes
    from .toolchain.compile import compile_module

    if not any(k.entry for k in front.module.kernels):
        raise SourceError(f"{file} has no kernel" + (" (the file is empty)" if empty else ""),
                          hint="a kernel starts with `.kernel name(params)` (or `.entry` in PTX); "
                               "see docs/DSL.md")
    _check_block_directives(front.module)
    if memo is not None:
        memo.begin()
    kernels, reports = [], {}
    for k in front.module.kernels:
        k2, rep = run_passes(k, schedule=options.schedule, share_registers=options.share_registers, memo=memo)
        kernels.append(k2)
        reports[k2.name] = rep
    mod_ir = ir.Module(kernels=tuple(kernels), vars=front.module.vars, raw=front.module.raw,
                       file=front.module.file)
    if arch == "sm_90" and any(arch_specific(s) for k in kernels for s in k.body if isinstance(s, ir.Instr)):
        arch = "sm_90a"  # wgmma and setmaxnreg exist only in sm_90's arch-specific feature set
    emitted, compiled = compile_module(mod_ir, arch, options)
    mod = Module(file=file, arch=arch, defines=dict(front.defines), ptx=emitted.text,
                 cubin=compiled.cubin, line_map=tuple(emitted.line_map), log=compiled.log, ir=mod_ir,
                 warnings=tuple(compiled.warnings), options=options, compiler=compiled.compiler,
                 sources=tuple(dict.fromkeys(x.file for x in front.expanded.sources)))
    for k in kernels:
        if not k.entry:
            continue
        rep = reports[k.name]
        mod.kernels[k.name] = Kernel(name=k.name, arch=arch, module=mod, ir=k,
                                     resources=compiled.resources[k.name],
                                     pressure=rep.pressure, schedule=rep.schedule,
                                     warnings=tuple(rep.warnings))
    return mod


def _check_block_directives(module: ir.Module) -> None:
    """A ``.maxntid``/``.reqntid`` no GPU can launch (over 1024 threads, an extent out of range) is an
    error here, where ptxas would only warn and ignore it."""
    from .errors import ResourceError
    from .hw.launch import block_shape_problem

    for k in module.kernels:
        for d in k.directives:
            if d.name in ("maxntid", "reqntid") and all(isinstance(v, int) for v in d.values):
                why = block_shape_problem(tuple(d.values))
                if why:
                    raise ResourceError(f"{k.name}: .{d.name} {','.join(map(str, d.values))}: {why}",
                                        span=d.span, hint="a block has at most 1024 threads (x, y ≤ 1024, "
                                                          "z ≤ 64): lower the block size")


def assemble_file(path: str | Path, arch: str = DEFAULT_ARCH, *, defines: Mapping[str, Any] | None = None,
                  options: CompileOptions = CompileOptions(), reuse: Reuse | None = None) -> Module:
    """Assemble a .sasm (or .ptx) file; ``.include`` paths resolve relative to it."""
    from .files import read_source

    path = Path(path)
    return assemble(read_source(path), arch, file=str(path), defines=defines, options=options, reuse=reuse)
