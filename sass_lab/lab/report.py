"""One summary row per shipped kernel: resources, occupancy, static efficiency, best stored result."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

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
    static_eff: float | None = None
    static_eff_source: str | None = None
    best_median_s: float | None = None
    best_flop_s: float | None = None
    best_efficiency: float | None = None
    peer_ratio: float | None = None  # peer time / our time (> 1: we are faster)
    best_size: dict | None = None
    error: str | None = None

    def to_dict(self) -> dict:
        d = asdict(self)
        d["limiters"] = list(self.limiters)
        return d


def shipped_kernels(root: Path = KERNELS) -> list[Path]:
    """Every top-level .sasm in kernels_asm/ (include/ holds fragments, not kernels)."""
    return sorted(root.glob("*.sasm"))


def summarize(path: Path, arch: str = "sm_90", db=None) -> list[KernelSummary]:
    """Assemble one file with its defaults and join the best stored results."""
    from ..api import assemble_file
    from ..files import read_source
    from .spec import lab_source, load_spec
    from .store import Store

    path = Path(path)
    try:
        mod = assemble_file(path, arch)
    except SasmError as e:
        return [KernelSummary(str(path), path.stem, arch, error=e.render().splitlines()[0])]
    spec = None
    if lab_source(read_source(path)):
        try:
            spec = load_spec(path)
        except SasmError:
            spec = None
    out = []
    with Store(db) as st:
        best = st.best()
    for k in mod:
        r = k.resources
        block = None
        if spec is not None and (spec.kernel in (None, k.name)) and spec.size:
            try:
                b = spec.block(spec.size)
                block = b[0] * b[1] * b[2]
            except Exception:  # noqa: BLE001 - a lab block without block(): fall back below
                block = None
        occ = k.occupancy(block) if block else k.occupancy()
        s = KernelSummary(str(path), k.name, arch, r.registers, r.shared_static,
                          r.spill_stores + r.spill_loads, occ.block, occ.percent, tuple(occ.limiters))
        try:
            from .efficiency import static_efficiency

            se = static_efficiency(k)
            s.static_eff, s.static_eff_source = se.share, se.source
        except Exception:  # noqa: BLE001 - not every kernel has an FFMA loop
            pass
        name = (spec.kernel if spec and spec.kernel else path.stem) if spec else k.name
        ours = [b for b in best if b.kernel in (name, k.name) and b.kind == "bench"]
        if ours:
            top = min(ours, key=lambda b: b.values.get("median_s") or float("inf"))
            s.best_median_s = top.values.get("median_s")
            s.best_flop_s = top.values.get("flop_s")
            s.best_efficiency = top.values.get("efficiency")
            s.best_size = top.size
            peers = [b for b in best if b.kernel in (name, k.name) and b.kind == "peer" and b.size == top.size]
            if peers and s.best_median_s and peers[0].values.get("median_s"):
                s.peer_ratio = peers[0].values["median_s"] / s.best_median_s
        out.append(s)
    return out


def report(files: list[Path] | None = None, arch: str = "sm_90", db=None) -> list[KernelSummary]:
    rows = []
    for f in files or shipped_kernels():
        rows.extend(summarize(f, arch, db))
    return rows
