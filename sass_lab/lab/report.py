"""One summary row per kernel: resources, occupancy, static efficiency, best stored result.

A kernel is *compute-bound* when its lab block's FLOPs per compulsory byte at SIZE exceed the ridge
of the reference device of its arch (``hw.devices.reference``), else *memory-bound*; a kernel
without a lab block of its own is judged by its main loop (math in it: compute-bound). The static
efficiency is the math share of the main loop for compute-bound kernels and the global bytes moved
per instruction issued for memory-bound ones (``lab.efficiency``); the measured efficiency is the
best stored run against the peak that bounds it (FP32 FLOP/s or DRAM bandwidth), and the peer ratio
is that run's peer time over its time (above 1: faster than cuBLAS/cuDNN).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from ..errors import SasmError
from ..paths import KERNELS


@dataclass
class KernelSummary:
    file: str
    kernel: str
    arch: str
    registers: int | None = None
    shared_bytes: int | None = None
    spills: int | None = None
    block: int | None = None
    occupancy: float | None = None
    limiters: tuple[str, ...] = ()
    static_eff: float | None = None  # math (FFMA + tensor) share of the main loop, 0..1
    static_eff_source: str | None = None  # "SASS" or "PTX"
    bytes_per_instr: float | None = None  # global bytes per instruction issued in the busiest loop
    bound: str | None = None  # "compute" or "memory"
    intensity: float | None = None  # FLOPs per compulsory byte at the lab block's SIZE
    best_median_s: float | None = None
    best_flop_s: float | None = None
    best_efficiency: float | None = None  # against the peak that bounds the kernel, 0..1
    peer_ratio: float | None = None  # peer time / our time (> 1: we are faster)
    best_size: dict | None = None
    error: str | None = None
    compiler: str = ""  # what built the cubin ("ptxas 13.0.88")

    def to_dict(self) -> dict:
        d = asdict(self)
        d["limiters"] = list(self.limiters)
        return d


def shipped_kernels(root: Path = KERNELS) -> list[Path]:
    """Every top-level .sasm in kernels_asm/ (include/ holds fragments, not kernels)."""
    return sorted(root.glob("*.sasm"))


def lab_spec(path: Path, mod: Any):
    """The file's lab block over the module's resolved defines, or None (no block, or a broken one)."""
    from .spec import lab_source, load_spec

    try:
        if not lab_source(Path(path).read_text()):
            return None
        return load_spec(path, resolved=mod.defines)
    except (SasmError, OSError, UnicodeDecodeError):
        return None


def _dynamic_shared(spec: Any) -> int:
    """The lab block's dynamic shared memory at SIZE (0 without one): it limits occupancy too."""
    try:
        return spec.shared(spec.size) if spec.size else 0
    except Exception:  # noqa: BLE001 - a broken shared(): judged by static shared memory alone
        return 0


def summarize_module(mod: Any, spec: Any, best: list, arch: str) -> list[KernelSummary]:
    """One row per kernel of an assembled module, joined with the ``best`` stored rows."""
    from ..hw.devices import reference
    from .efficiency import static_efficiency

    ridge = reference(arch).ridge_flops_per_byte
    out = []
    for k in mod:
        mine = spec is not None and spec.kernel in (None, k.name)
        r = k.resources
        occ = k.occupancy(_block(spec) if mine else None, dynamic_shared=_dynamic_shared(spec) if mine else 0)
        s = KernelSummary(str(mod.file), k.name, arch, r.registers, r.shared_static,
                          r.spill_stores + r.spill_loads, occ.block, occ.percent, tuple(occ.limiters), compiler=mod.compiler)
        try:
            se = static_efficiency(k)
            s.static_eff, s.static_eff_source, s.bytes_per_instr = se.share, se.source, se.bytes_per_instr
        except SasmError:
            pass
        if mine and spec.size:
            try:
                flops, nbytes = spec.flops(spec.size), spec.nbytes(spec.size)
                s.intensity = flops / nbytes if nbytes else float("inf")
            except Exception:  # noqa: BLE001 - a lab block without flops()/nbytes(): judged by its loop
                s.intensity = None
        if s.intensity is not None:
            s.bound = "compute" if s.intensity >= ridge else "memory"
        elif s.static_eff is not None:
            s.bound = "compute" if s.static_eff > 0 else "memory"
        _join_best(s, best, {k.name, spec.kernel or Path(mod.file).stem} if mine else {k.name}, arch)
        out.append(s)
    return out


def _block(spec) -> int | None:
    try:
        b = spec.block(spec.size)
        return b[0] * b[1] * b[2]
    except Exception:  # noqa: BLE001 - a lab block without block(): the kernel's own maximum
        return None


def _join_best(s: KernelSummary, best: list, names: set[str], arch: str) -> None:
    """The fastest stored bench run of this kernel, its efficiency and its peer ratio."""
    from ..hw.devices import reference

    ours = [b for b in best if b.kernel in names and b.kind == "bench" and b.values.get("median_s")]
    if not ours:
        return
    top = min(ours, key=lambda b: b.values["median_s"])
    v = top.values
    s.best_median_s, s.best_flop_s, s.best_size = v["median_s"], v.get("flop_s"), top.size
    extra = v.get("extra") or {}
    sheet = (extra.get("peaks") or {}).get("datasheet") or {}
    if s.bound == "memory" and v.get("bytes_s"):
        bw = sheet.get("bandwidth") or reference(arch).dram_bytes_per_s
        s.best_efficiency = v["bytes_s"] / bw
    else:
        s.best_efficiency = v.get("efficiency")
    s.peer_ratio = extra.get("ratio_vs_peer")


def summarize(path: Path, arch: str = "sm_90", db=None, best: list | None = None) -> list[KernelSummary]:
    """Assemble one file with its defaults and join the best stored results; a file that does not
    assemble, or whose lab block is broken, is one row with the error."""
    from ..api import assemble_file
    from ..files import read_source
    from .spec import lab_source, load_spec

    path = Path(path)
    try:
        mod = assemble_file(path, arch)
        spec = load_spec(path, resolved=mod.defines) if lab_source(read_source(path)) else None
    except SasmError as e:
        said = e.render().splitlines()[0] + (f" ({e.hint})" if e.hint else "")  # what is wrong, what to do
        return [KernelSummary(str(path), path.stem, arch, error=said)]
    return summarize_module(mod, spec, stored_best(db) if best is None else best, arch)


def stored_best(db=None) -> list:
    """The best stored row per (kernel, size, kind); nothing when the database does not exist yet."""
    from .store import Store, default_db_path

    if not Path(db or default_db_path()).exists():
        return []
    with Store(db, write=False) as st:
        return st.best()


def report(files: list[Path] | None = None, arch: str = "sm_90", db=None) -> list[KernelSummary]:
    best = stored_best(db)
    rows = []
    for f in files or shipped_kernels():
        rows.extend(summarize(f, arch, db, best))
    return rows


# --------------------------------------------------------------------------- the efficiency gap of one kernel


@dataclass(frozen=True)
class GapPoint:
    """One problem size of a kernel on the efficiency-gap plot (latency against FLOPs, Lavin 2024).

    ``ideal_s`` is FLOPs / peak (100 % efficiency); ``floor_s`` adds the compulsory bytes over the
    bandwidth; ``static_s`` is what the main loop's instruction mix allows (FLOPs / (peak × math
    share), never below the floor); ``measured_s`` and ``peer_s`` come from stored runs.
    """

    size: dict
    flops: float
    nbytes: float
    ideal_s: float
    floor_s: float
    static_s: float | None
    measured_s: float | None = None
    peer_s: float | None = None

    @property
    def efficiency(self) -> float | None:
        return self.ideal_s / self.measured_s if self.measured_s else None


@dataclass(frozen=True)
class Gap:
    """The points of one kernel, the peaks they are measured against, and why there are none."""

    kernel: str
    device: str
    peak_flops: float
    bandwidth: float
    points: tuple[GapPoint, ...] = ()
    why_empty: str = ""


def kernel_gap(summary: KernelSummary, spec: Any, best: list) -> Gap:
    """The efficiency gap of one kernel over its lab block's BENCH_SIZES."""
    from ..hw.devices import reference

    ref = reference(summary.arch)
    mine = spec is not None and spec.kernel in (None, summary.kernel)
    names = {summary.kernel, spec.kernel} if mine else {summary.kernel}
    runs = {_key(b.size): b for b in best if b.kernel in names and b.kind == "bench" and b.values.get("median_s")}
    sheet = next(((r.values.get("extra") or {}).get("peaks", {}).get("datasheet") for r in runs.values()), None)
    device, peak, bw = ((sheet["device"], sheet["fp32_flops"], sheet["bandwidth"]) if sheet
                        else (f"{ref.name} (datasheet)", ref.peak_fp32_flops, ref.dram_bytes_per_s))
    gap = Gap(summary.kernel, device, peak, bw)
    if not mine:
        return replace(gap, why_empty="this kernel has no %% lab block of its own, so no FLOPs or bytes to "
                                       "place on the plot")
    points = []
    for s in spec.bench_sizes:
        try:
            flops, nbytes = spec.flops(s), spec.nbytes(s)
        except Exception as e:  # noqa: BLE001 - user code in the lab block: said, not raised
            return replace(gap, why_empty=e.message if isinstance(e, SasmError) else
                           f"the lab block's flops()/nbytes() raised {type(e).__name__}: {e}")
        ideal, floor = flops / peak, max(flops / peak, nbytes / bw)
        share = summary.static_eff if summary.bound == "compute" else None
        static = max(ideal / share, floor) if share else floor
        run = runs.get(_key(s))
        measured = run.values["median_s"] if run else None
        peer = (((run.values.get("extra") or {}).get("peer") or {}).get("time_ms") or {}).get("median") if run else None
        points.append(GapPoint(dict(s), flops, nbytes, ideal, floor, static, measured,
                               peer * 1e-3 if peer else None))
    if not any(p.flops > 0 for p in points):
        return replace(gap, points=tuple(points), why_empty="the lab block counts no FLOPs (a memory-bound "
                                                             "kernel): see its bandwidth in the kernel list")
    return replace(gap, points=tuple(points))


def _key(size: dict) -> str:
    return ",".join(f"{k}={size[k]}" for k in sorted(size))
