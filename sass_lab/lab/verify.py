"""Verify a kernel against its float64 numpy reference, on the emulator or the GPU.

``verify(path)`` assembles a .sasm file, reads its ``%% lab`` block, makes fresh random inputs (outputs
poisoned with NaN where the kernel does not read them), runs the kernel on a ``device.Device`` (the
emulator or the GPU: one call, no branching here), and compares every output with the reference. The error of one element is ``|got - want| / scale``, where ``scale`` is what the
kernel's lab block says (``def scale``: e.g. ``sum_k |a_ik||b_kj|`` for a GEMM) or, by default, the
largest ``|want|`` of that output. An output passes when its largest error is within the tolerance and
no NaN/inf is left where the reference is finite (an element the kernel never wrote); a run passes
when every output does and the emulator's checks found nothing.
"""

from __future__ import annotations

import copy
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..device import Device, device
from ..errors import SourceError, UsageError
from .spec import KernelSpec, load_spec, parse_size, read_lab


@dataclass
class OutputCheck:
    """How one output compares with its reference."""

    name: str
    shape: tuple[int, ...]
    max_rel_err: float  # over finite elements; inf when the shapes differ
    tol: float
    nonfinite: int  # NaN/inf left where the reference is finite (unwritten or overflowed elements)
    worst: tuple[int, ...] | None = None  # index of the largest error (or of the first NaN)
    got: float | None = None
    want: float | None = None

    @property
    def ok(self) -> bool:
        return self.nonfinite == 0 and self.max_rel_err <= self.tol

    def to_dict(self) -> dict:
        d = asdict(self)
        d["ok"] = self.ok
        d["shape"] = list(self.shape)
        d["worst"] = None if self.worst is None else list(self.worst)
        return d


@dataclass
class VerifyResult:
    """One verification run: which kernel, size and defines, where, and the per-output checks."""

    file: str
    kernel: str
    size: dict[str, int]
    defines: dict[str, Any]
    device: str  # "emulator" or "gpu"
    grid: tuple[int, int, int]
    block: tuple[int, int, int]
    checks: list[OutputCheck]
    tol_why: str = ""
    seed: int | None = None
    times: dict[str, float] = field(default_factory=dict)  # assemble_s, run_s, reference_s
    findings: tuple = ()  # the emulator's checks (races, out-of-bounds, ...): any one fails the run
    output: str = ""  # the kernel's printf output

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(c.ok for c in self.checks) and not self.findings

    @property
    def max_rel_err(self) -> float:
        return max((c.max_rel_err for c in self.checks), default=float("nan"))

    def to_dict(self) -> dict:
        return {"file": self.file, "kernel": self.kernel, "size": self.size,
                "defines": {k: _jsonable(v) for k, v in self.defines.items()}, "device": self.device,
                "grid": list(self.grid), "block": list(self.block), "ok": self.ok,
                "checks": [c.to_dict() for c in self.checks], "tol_why": self.tol_why, "seed": self.seed,
                "times": self.times, "findings": [f.render() for f in self.findings]}


def _jsonable(v):
    return v if isinstance(v, (int, float, str, bool, type(None))) else str(v)


def output_values(v):
    """An output as numbers: a TensorMap's tensor (decoded from bf16/f16 bits), else as it is."""
    from ..hw.tensormap import TensorMap

    return v.values() if isinstance(v, TensorMap) else v


def compare(outputs: dict[str, np.ndarray], reference: dict[str, np.ndarray], tol: float,
            scale: dict[str, Any] | None = None) -> list[OutputCheck]:
    """Compare each reference output with the kernel's; ``scale`` normalises the absolute error."""
    checks = []
    for name, want in reference.items():
        if name not in outputs:
            raise SourceError(f"the reference returns '{name}', which is not an output of the kernel",
                              hint="OUTPUTS in the %% lab block must list every parameter the kernel writes")
        want = np.asarray(want, dtype=np.float64)
        got = np.asarray(outputs[name]).astype(np.float64, copy=False)
        if got.size != want.size:
            raise SourceError(f"the reference's '{name}' has {want.size} value(s) ({want.shape}), the kernel's "
                              f"{got.size} ({got.shape})",
                              hint="reference() must return one value per element of each output")
        got = got.reshape(want.shape)
        checks.append(_check(name, got, want, tol, None if scale is None else scale.get(name)))
    return checks


def _check(name: str, got: np.ndarray, want: np.ndarray, tol: float, scale) -> OutputCheck:
    finite_ref = np.isfinite(want)
    bad = finite_ref & ~np.isfinite(got)
    nonfinite = int(bad.sum())
    if scale is None:
        scale = np.max(np.abs(want[finite_ref]), initial=0.0)
    scale = np.broadcast_to(np.asarray(scale, dtype=np.float64), want.shape)
    tiny = np.finfo(np.float64).tiny
    with np.errstate(invalid="ignore", over="ignore"):
        err = np.abs(got - want) / np.maximum(scale, tiny)
    err = np.where(finite_ref & np.isfinite(got), err, 0.0)
    err = np.where((scale == 0) & (got == want), 0.0, err)
    if nonfinite:
        worst = tuple(int(i) for i in np.argwhere(bad)[0])
    elif err.size:
        worst = tuple(int(i) for i in np.unravel_index(int(np.argmax(err)), err.shape))
    else:
        worst = None
    mx = float(err.max()) if err.size else 0.0
    g = float(got[worst]) if worst is not None else None
    w = float(want[worst]) if worst is not None else None
    return OutputCheck(name, tuple(want.shape), mx, tol, nonfinite, worst, g, w)


def param_key(ptx_name: str, args: dict[str, Any]) -> str | None:
    """The ``inputs`` key of a kernel parameter: its own name, or its DSL name (``.kernel k(.u64 A)``
    becomes the PTX parameter ``A_param``)."""
    if ptx_name in args:
        return ptx_name
    if ptx_name.endswith("_param") and ptx_name[:-6] in args:
        return ptx_name[:-6]
    return None


def order_args(kernel, args: dict[str, Any]) -> list[Any]:
    """The lab block's ``inputs`` dict in the kernel's parameter order (clear error on a mismatch)."""
    names = [p.name for p in kernel.params]
    keys = [param_key(n, args) for n in names]
    missing = [n.removesuffix("_param") for n, k in zip(names, keys) if k is None]
    extra = [a for a in args if a not in keys]
    if missing or extra:
        shown = ", ".join(n.removesuffix("_param") for n in names)
        raise SourceError(f"inputs() of the lab block does not match the parameters of '{kernel.name}'",
                          hint=f"parameters: {shown}; missing: {', '.join(missing) or '-'}; "
                               f"unknown: {', '.join(extra) or '-'}")
    return [args[k] for k in keys]


def _size(spec: KernelSpec, size, small: bool) -> dict[str, int]:
    """The run's size: ``size`` over the first TEST_SIZES entry when ``small`` (the emulator, so that
    a partial override such as ``beta=0`` stays small), over SIZE otherwise (the GPU)."""
    if isinstance(size, str):
        size = parse_size(size)
    base = dict(spec.test_sizes[0]) if small and spec.test_sizes else {}
    return spec.with_size({**base, **(size or {})})


def verify(path: str | Path, size: dict | str | None = None, emulate: bool = True,
           defines: dict[str, Any] | None = None, seed: int | None = None, kernel: str | None = None,
           arch: str | None = None, spec: KernelSpec | None = None, module=None,
           on: Device | None = None) -> VerifyResult:
    """Assemble ``path``, run it at ``size`` (default: the first TEST_SIZES entry on the emulator,
    SIZE on the GPU) on ``on`` (default: ``device(emulate)``) and check every output against the
    float64 reference; a finding of the emulator's checks fails the run too."""
    from ..api import DEFAULT_ARCH, assemble_file

    defines = dict(defines or {})
    dev = on or device(emulate)
    if seed is None:  # pick one and report it, so that any failure can be replayed with --seed
        seed = int(np.random.SeedSequence().entropy % (1 << 31))
    if spec is None:
        read_lab(path)  # no lab block: say so before assembling
    t0 = time.perf_counter()
    mod = module or assemble_file(path, arch or DEFAULT_ARCH, defines=defines)
    spec = spec or load_spec(path, resolved=mod.defines)  # expanded once, by the assembly
    s = _size(spec, size, dev.test_sizes)
    sized, defines = spec.for_size(s, defines)
    if sized is not spec:  # the size fixes a define (compile-time C): the build for it
        spec = sized
        mod = assemble_file(path, arch or DEFAULT_ARCH, defines=defines)
    if spec.size_defines(s) and not spec.valid(spec.defines):
        raise UsageError(f"{Path(path).name}: these defines do not work at size {s}",
                         hint="the lab block's valid() rejects them for this size (e.g. a chunk that "
                              "does not divide the channels)")
    t1 = time.perf_counter()
    name = kernel or spec.kernel_name(list(mod.kernels))
    k = mod[name]
    rng = np.random.default_rng(seed)
    args = spec.inputs(s, rng)
    pristine = copy.deepcopy(args)
    grid, block = spec.grid(s), spec.block(s)
    if any(g <= 0 for g in grid) or any(b <= 0 for b in block):
        raise UsageError(f"size {s} gives an empty launch (grid {grid}, block {block})")
    ordered = order_args(k, args)
    run = dev.launch(k, grid, block, ordered, dynamic_shared=spec.shared(s))
    t3 = time.perf_counter()
    ref = spec.reference(pristine, s)
    unknown = [o for o in spec.outputs if o not in args]
    if unknown:
        raise spec.at("OUTPUTS", f"OUTPUTS names {', '.join(map(repr, unknown))}, which inputs() does not return",
                      hint=f"OUTPUTS lists the kernel parameters it writes: {', '.join(args)}")
    outputs = spec.decode({o: output_values(args[o]) for o in (spec.outputs or list(ref))}, s)
    try:
        checks = compare(outputs, ref, spec.tolerance(s), spec.scale(pristine, s))
    except SourceError as e:  # the reference does not fit the outputs: said at reference()
        raise spec.at("reference", e.message, e.hint or "") from None
    return VerifyResult(file=str(path), kernel=name, size=s, defines=dict(spec.defines), device=dev.name,
                        grid=grid, block=block, checks=checks, tol_why=spec.tol_why, seed=seed,
                        times={"assemble_s": t1 - t0, "run_s": run.seconds,
                               "reference_s": time.perf_counter() - t3},
                        findings=run.findings, output=run.output)


def verify_sizes(path: str | Path, sizes: list[dict] | None = None, emulate: bool = True,
                 defines: dict[str, Any] | None = None, seed: int | None = None,
                 kernel: str | None = None, arch: str | None = None, on: Device | None = None) -> list[VerifyResult]:
    """``verify`` at each size (default: every TEST_SIZES entry), assembling the file once."""
    from ..api import DEFAULT_ARCH, assemble_file

    defines = dict(defines or {})
    dev = on or device(emulate)
    if seed is None:
        seed = int(np.random.SeedSequence().entropy % (1 << 31))
    read_lab(path)  # no lab block: say so before assembling
    t0 = time.perf_counter()
    mod = assemble_file(path, arch or DEFAULT_ARCH, defines=defines)
    took = time.perf_counter() - t0
    spec = load_spec(path, resolved=mod.defines)
    sizes = sizes if sizes is not None else (spec.test_sizes or [spec.size])
    builds = {tuple(sorted((k, repr(v)) for k, v in defines.items())): (spec, mod, took)}
    out = []
    for size in sizes:  # one build per set of size-fixed defines (the fused blocks' C)
        sized, merged = spec.for_size(_size(spec, size, dev.test_sizes), defines)
        key = tuple(sorted((k, repr(v)) for k, v in merged.items()))
        if key not in builds:
            t0 = time.perf_counter()
            built = assemble_file(path, arch or DEFAULT_ARCH, defines=merged)
            builds[key] = (sized, built, time.perf_counter() - t0)
        sp, m, took = builds[key]
        r = verify(path, dict(size), emulate, merged, seed, kernel, arch, spec=sp, module=m, on=dev)
        r.times["assemble_s"] = took  # each build's time on the first run that used it
        builds[key] = (sp, m, 0.0)
        out.append(r)
    return out
