"""The benchmark harness: event-timed runs with time budgets, L2 flush, rotating inputs, graph replay.

Like Triton's ``do_bench``: one run estimates the cost, warm-up and repetitions are derived from
millisecond budgets, the L2 is flushed before every timed run (outside its event pair), and the
report is the median with p20/p80 and the minimum. The device sits behind the small :class:`Timer`
interface (``runtime.timing.CudaTimer`` on a GPU), so tests drive the harness with a fake clock.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from ..errors import SasmError
from ..hw.peaks import Peaks, datasheet_for, device_key, load_cached, save_cached
from ..paths import KERNELS

Run = Callable[[Any], None]  # enqueue one run on the given stream


class Timer(Protocol):
    """What the harness needs from a device (see ``runtime.timing.CudaTimer``)."""

    stream: Any

    def flush(self) -> None: ...          # enqueue an L2 flush
    def start(self) -> Any: ...           # record a start mark
    def stop(self, start: Any) -> Any: ...  # record the end mark; returns a token for elapsed_ms
    def elapsed_ms(self, token: Any) -> float: ...
    def sync(self) -> None: ...
    def capture(self, run: Run) -> Run: ...  # a graph replay of ``run``


class VerifyFailed(SasmError):
    """The kernel's output disagrees with its reference, so it is not timed."""

    max_rel_err: float = float("nan")


@dataclass(frozen=True, slots=True)
class BenchConfig:
    """Budgets in milliseconds of device time, and the harness switches."""

    warmup_ms: float = 25.0
    rep_ms: float = 100.0
    min_reps: int = 10
    max_reps: int = 5000
    estimate_runs: int = 5
    flush_l2: bool = True
    graph: bool = False  # replay a captured CUDA graph instead of launching
    rotate: int = 0  # input sets to rotate through (0: enough to exceed twice the L2, at most 8)
    verify: bool = True  # check the output against the reference before timing
    seed: int | None = None


@dataclass(frozen=True, slots=True)
class Stats:
    """Order statistics of run times in milliseconds."""

    n: int
    median: float
    p20: float
    p80: float
    min: float
    max: float
    mean: float

    def to_dict(self) -> dict:
        return asdict(self)


def summarize(times_ms: Sequence[float]) -> Stats:
    """Median, p20/p80 (linear interpolation), min, max and mean of ``times_ms``."""
    t = np.asarray(list(times_ms), dtype=np.float64)
    if t.size == 0:
        raise ValueError("no times to summarize")
    if not np.all(np.isfinite(t)) or np.any(t < 0):
        raise ValueError("run times must be finite and non-negative")
    p20, med, p80 = np.quantile(t, [0.2, 0.5, 0.8])
    return Stats(int(t.size), float(med), float(p20), float(p80), float(t.min()), float(t.max()),
                 float(t.mean()))


def rep_counts(estimate_ms: float, cfg: BenchConfig) -> tuple[int, int]:
    """(warm-up runs, timed runs) that fill the budgets at ``estimate_ms`` per run."""
    per = max(estimate_ms, 1e-6)
    warm = max(1, int(cfg.warmup_ms / per))
    reps = min(cfg.max_reps, max(cfg.min_reps, int(cfg.rep_ms / per)))
    return warm, reps


def rotation_count(input_bytes: int, l2_bytes: int, cap: int = 8) -> int:
    """Input sets to rotate so that together they exceed twice the L2 (1 if one set already does)."""
    if input_bytes <= 0:
        return 1
    return max(1, min(cap, math.ceil(2 * l2_bytes / input_bytes)))


@dataclass(frozen=True, slots=True)
class Timing:
    """What :func:`do_bench` measured."""

    stats: Stats
    times: tuple[float, ...]
    warmup: int
    reps: int
    estimate_ms: float
    graph: bool
    flushed: bool
    sets: int


def do_bench(runs: Sequence[Run], timer: Timer, cfg: BenchConfig = BenchConfig()) -> Timing:
    """Time ``runs`` (one per input set, used in rotation) and summarise the per-run times."""
    if not runs:
        raise ValueError("nothing to time")
    if cfg.graph:
        runs = [timer.capture(r) for r in runs]
    s = timer.stream
    runs[0](s)  # first run: lazy loading and caches outside every measurement
    timer.sync()
    mark = timer.start()
    for i in range(cfg.estimate_runs):
        if cfg.flush_l2:
            timer.flush()
        runs[i % len(runs)](s)
    est = timer.elapsed_ms(timer.stop(mark)) / cfg.estimate_runs
    warm, reps = rep_counts(est, cfg)
    for i in range(warm):
        runs[i % len(runs)](s)
    tokens = []
    for i in range(reps):
        if cfg.flush_l2:
            timer.flush()
        mark = timer.start()
        runs[i % len(runs)](s)
        tokens.append(timer.stop(mark))
    timer.sync()
    times = tuple(timer.elapsed_ms(t) for t in tokens)
    return Timing(summarize(times), times, warm, reps, est, cfg.graph, cfg.flush_l2, len(runs))


# --------------------------------------------------------------------------- figures


@dataclass(frozen=True, slots=True)
class Figures:
    """Rates at the median time, and efficiency against datasheet and measured peaks (0..1)."""

    flop_rate: float  # FLOP/s
    byte_rate: float  # bytes/s
    flops_vs_datasheet: float | None
    bytes_vs_datasheet: float | None
    flops_vs_measured: float | None
    bytes_vs_measured: float | None

    def to_dict(self) -> dict:
        return asdict(self)


def figures(median_ms: float, flops: float, nbytes: float, datasheet: Peaks | None = None,
            measured: Peaks | None = None) -> Figures:
    """FLOP/s and bytes/s over ``median_ms``, each as a fraction of the given peaks."""
    sec = median_ms * 1e-3
    fr = flops / sec if sec > 0 else 0.0
    br = nbytes / sec if sec > 0 else 0.0

    def frac(rate: float, peak: float | None) -> float | None:
        return rate / peak if peak else None

    return Figures(fr, br,
                   frac(fr, datasheet and datasheet.fp32_flops), frac(br, datasheet and datasheet.bandwidth),
                   frac(fr, measured and measured.fp32_flops), frac(br, measured and measured.bandwidth))


@dataclass
class BenchResult:
    """One kernel at one size, with its peer when asked for."""

    file: str
    kernel: str
    device: str
    size: dict[str, int]
    defines: dict[str, Any]
    grid: tuple[int, int, int]
    block: tuple[int, int, int]
    flops: float
    nbytes: float
    timing: Timing
    max_rel_err: float | None = None
    figures: Figures | None = None
    peer: PeerResult | None = None
    peaks: dict[str, Any] = field(default_factory=dict)
    peer_error: str | None = None  # the peer was asked for but failed (our timing still stands)

    @property
    def stats(self) -> Stats:
        return self.timing.stats

    @property
    def ratio(self) -> float | None:
        """Peer median / our median: above 1 means faster than the peer."""
        return self.peer.timing.stats.median / self.stats.median if self.peer else None

    def to_dict(self) -> dict:
        t = self.timing
        return {"file": self.file, "kernel": self.kernel, "device": self.device, "size": self.size,
                "defines": {k: v if isinstance(v, (int, float, str, bool)) else str(v)
                            for k, v in self.defines.items()},
                "grid": list(self.grid), "block": list(self.block), "flops": self.flops, "bytes": self.nbytes,
                "time_ms": self.stats.to_dict(), "warmup": t.warmup, "reps": t.reps, "graph": t.graph,
                "l2_flush": t.flushed, "input_sets": t.sets, "max_rel_err": self.max_rel_err,
                "figures": self.figures.to_dict() if self.figures else None,
                "peer": self.peer.to_dict() if self.peer else None, "ratio_vs_peer": self.ratio,
                "peer_error": self.peer_error, "peaks": self.peaks}


@dataclass
class PeerResult:
    name: str  # "cuBLAS SGEMM (torch)"
    timing: Timing
    figures: Figures | None = None

    def to_dict(self) -> dict:
        return {"name": self.name, "time_ms": self.timing.stats.to_dict(), "reps": self.timing.reps,
                "figures": self.figures.to_dict() if self.figures else None}


# --------------------------------------------------------------------------- kernels from .sasm files


def time_spec(path: str | Path, size: dict | None = None, defines: dict | None = None,
              kernel: str | None = None, cfg: BenchConfig = BenchConfig(), timer: Timer | None = None,
              arch: str | None = None, vs: str | None = None, peaks: bool = True) -> BenchResult:
    """Assemble ``path``, verify it once on the GPU, time it, and time its peer when ``vs`` names one.

    Inputs go to the device once per rotating set; the kernel is timed with device pointers only.
    ``peaks`` adds efficiency against the datasheet and the measured (cached) device peaks.
    """
    from .. import runtime as rt
    from ..api import ARCHS, DEFAULT_ARCH, assemble_file
    from ..runtime.timing import CudaTimer
    from .spec import load_spec, read_lab

    rt.probe()
    info = rt.context().info
    defines = dict(defines or {})
    read_lab(path)  # no lab block: say so before assembling
    target = arch or (info.arch if info.arch in ARCHS else DEFAULT_ARCH)
    mod = assemble_file(path, target, defines=defines)
    spec = load_spec(path, resolved=mod.defines)
    s = spec.with_size(size)
    sized, defines = spec.for_size(s, defines)
    if sized is not spec:  # the size fixes a define (compile-time C): the build for it
        spec, mod = sized, assemble_file(path, target, defines=defines)
    k = mod[kernel or spec.kernel_name(list(mod.kernels))]
    grid, block, shm = spec.grid(s), spec.block(s), spec.shared(s)
    own = timer is None
    timer = timer or CudaTimer.create()
    rng = np.random.default_rng(cfg.seed)
    first = spec.inputs(s, rng)
    in_bytes = sum(int(v.nbytes) for v in first.values() if isinstance(v, np.ndarray))
    n_sets = cfg.rotate or rotation_count(in_bytes, info.l2_bytes)
    sets = [first] + [spec.inputs(s, rng) for _ in range(n_sets - 1)]
    buffers: list[Any] = []
    preps: list[Any] = []
    ok = False
    try:
        for host in sets:
            dev = {n: _upload(v, buffers) for n, v in host.items()}
            preps.append(rt.prepare(k, grid, block, *rt.args_from_dict(k.params, dev, k.name),
                                    dynamic_shared=shm, stream=timer.stream))
        err = _verify_once(spec, s, first, preps[0], buffers[:len(first)], k.name) if cfg.verify else None
        timing = do_bench([p.enqueue for p in preps], timer, cfg)
        res = BenchResult(str(path), k.name, info.name, s, dict(spec.defines), grid, block, spec.flops(s),
                          spec.nbytes(s), timing, err)
        if vs:
            try:
                res.peer = _time_peer(vs, spec, s, first, timer, cfg)
            except Exception as e:  # noqa: BLE001 - a failing peer is reported, our timing stands
                res.peer_error = getattr(e, "message", None) or f"{type(e).__name__}: {e}"
        _add_figures(res, info, timer, measure=peaks, kind=str(spec.ns.get("PEAK", "fp32")))
        ok = True
        return res
    finally:  # quiet while an error propagates: a broken context must not hide what broke it
        for p in preps:
            p.free(quiet=not ok)
        for b in buffers:
            if hasattr(b, "free"):
                b.free(quiet=not ok)
        if own:
            timer.close(quiet=not ok)


def _time_peer(vs: str, spec: Any, s: dict, first: dict, timer: Timer, cfg: BenchConfig) -> PeerResult:
    from .peers import make_peer

    peer = make_peer(vs, spec, s, first)
    pt = do_bench([peer.run], timer, BenchConfig(cfg.warmup_ms, cfg.rep_ms, cfg.min_reps, cfg.max_reps,
                                                 cfg.estimate_runs, cfg.flush_l2, graph=False))
    return PeerResult(peer.name, pt)


def _upload(v: Any, buffers: list) -> Any:
    if isinstance(v, np.ndarray) and v.ndim > 0:
        from ..runtime import to_device

        buf = to_device(v)
        buffers.append(buf)
        return buf
    buffers.append(None)
    return v


def _verify_once(spec: Any, s: dict, host: dict, prep: Any, bufs: list, name: str) -> float:
    """Run set 0 once, read the outputs back, compare with the reference; VerifyFailed if off."""
    from ..runtime import copy_out
    from .verify import compare, output_values

    prep.enqueue()
    prep.finish()
    names = list(host)
    ref = spec.reference(host, s)
    outputs = {}
    for o in spec.outputs or list(ref):
        if o in host and hasattr(host[o], "values") and hasattr(host[o], "box_dim"):  # a TensorMap: copied back
            outputs[o] = output_values(host[o])
            continue
        if o not in host or bufs[names.index(o)] is None:
            continue  # compare() names an output the kernel does not have
        arr = np.empty_like(np.ascontiguousarray(host[o]))
        copy_out(arr, bufs[names.index(o)].ptr)
        outputs[o] = arr
    checks = compare(spec.decode(outputs, s), ref, spec.tolerance(s), spec.scale(host, s))
    bad = [c for c in checks if not c.ok]
    if bad:
        c = bad[0]
        err = VerifyFailed(f"{name} is wrong at size {s}, so it was not timed: output '{c.name}' has max "
                           f"relative error {c.max_rel_err:.3g} (tolerance {c.tol:.3g}, {c.nonfinite} "
                           f"non-finite) at {c.worst}",
                           hint="sass_lab run FILE shows the failing output; fix it before benchmarking")
        err.max_rel_err = max(x.max_rel_err for x in checks)
        raise err
    return max((c.max_rel_err for c in checks), default=0.0)


def _add_figures(res: BenchResult, info: Any, timer: Timer, measure: bool, kind: str = "fp32") -> None:
    """Rates and efficiencies; measured peaks from the cache, measured now only when ``measure``.
    ``kind`` is the lab block's ``PEAK``: "fp32" (FFMA kernels) or "bf16" (the dense tensor-core rate of
    the datasheet; no measured bf16 peak exists, so that efficiency is left out)."""
    sheet = datasheet_for(info)
    try:
        meas = measured(info, timer=timer) if measure else load_cached(device_key(info))
    except SasmError as e:  # the peak kernels could not run: keep the datasheet figures
        meas = None
        res.peaks["measured_error"] = e.message
    res.peaks.update(datasheet=sheet.to_dict(), measured=meas.to_dict() if meas else None, kind=kind)
    if kind == "bf16":
        from dataclasses import replace

        sheet = replace(sheet, fp32_flops=sheet.bf16_flops)
        meas = replace(meas, fp32_flops=0.0) if meas else None
    res.figures = figures(res.stats.median, res.flops, res.nbytes, sheet, meas)
    if res.peer:
        res.peer.figures = figures(res.peer.timing.stats.median, res.flops, res.nbytes, sheet, meas)


def bench_file(path: str | Path, arch: str | None = None, size: dict | None = None,
               defines: dict | None = None, kernel: str | None = None, cfg: BenchConfig | None = None,
               vs: str | None = None) -> dict:
    """:func:`time_spec` as the results store's columns (what ``lab.tune`` records per candidate).

    A wrong result is returned as ``verified = "fail"`` with its error rather than raised.
    """
    try:
        r = time_spec(path, size, defines, kernel, cfg or BenchConfig(), None, arch, vs, peaks=False)
    except VerifyFailed as e:
        return {"verified": "fail", "max_rel_err": e.max_rel_err, "error": e.message}
    return columns(r)


def bench_candidate(path: str, arch: str, defines: dict, size: dict) -> dict:
    """:func:`bench_file` in the tuner's bench contract ``bench(path, arch, defines, size)``."""
    return bench_file(path, arch, size, defines)


def columns(r: BenchResult) -> dict:
    """The results store's columns for one result (``extra``: the whole JSON record)."""
    st, f = r.stats, r.figures
    return {"median_s": st.median * 1e-3, "p20_s": st.p20 * 1e-3, "p80_s": st.p80 * 1e-3,
            "min_s": st.min * 1e-3, "flops": r.flops, "flop_s": f.flop_rate if f else None,
            "bytes_s": f.byte_rate if f else None,
            "efficiency": f.flops_vs_datasheet if f else None,
            "verified": "pass" if r.max_rel_err is not None else "skipped", "max_rel_err": r.max_rel_err,
            "extra": r.to_dict()}


def save(results: Sequence[BenchResult], arch: str, driver: str, db: str | Path | None = None) -> list[int]:
    """Store each result as an ``ok`` bench row (the key the tuner uses); returns the row ids."""
    from ..toolchain.compile import compiler_label
    from .store import Key, Result, Store, package_versions, source_hash

    versions = {**package_versions(), "compiler": compiler_label(arch)}  # as the tuner keys its rows
    ids = []
    with Store(db) as st:
        for r in results:
            key = Key(r.kernel, r.file, source_hash(r.file), dict(r.to_dict()["defines"]), arch, r.device,
                      str(driver), versions, dict(r.size), "bench")
            ids.append(st.put(Result(key, "ok", columns(r))))
    return ids


# --------------------------------------------------------------------------- measured device peaks
# Two DSL kernels timed by this harness: kernels_asm/peak_ffma.sasm (independent FFMA chains in
# registers) and kernels_asm/peak_copy.sasm (a 16-byte-per-thread grid-stride copy, bytes read plus
# written); cached per device by hw.peaks.

PEAK_FFMA = KERNELS / "peak_ffma.sasm"
PEAK_COPY = KERNELS / "peak_copy.sasm"


def rates_from(flops: float, flop_ms: float, nbytes: float, copy_ms: float) -> tuple[float, float]:
    """(FLOP/s, bytes/s) from counted work and median milliseconds."""
    return flops / (flop_ms * 1e-3), nbytes / (copy_ms * 1e-3)


def ffma_size(sm_count: int, waves: int = 4, blocks_per_sm: int = 8) -> dict[str, int]:
    """Whole waves of peak_ffma blocks (256 threads: 8 resident per SM), so no SM idles at the tail."""
    return {"blocks": max(1, sm_count) * blocks_per_sm * waves, "iters": 256}


def measure(timer: Any = None, rep_ms: float = 200.0) -> Peaks:
    """Time the two peak kernels on the current device (needs a GPU)."""
    from .. import runtime as rt

    cfg = BenchConfig(warmup_ms=50.0, rep_ms=rep_ms, flush_l2=False, verify=False)
    size = ffma_size(rt.context().info.sm_count)
    ffma = time_spec(PEAK_FFMA, size, cfg=cfg, timer=timer, peaks=False)
    # unverified at these sizes: the GPU tests check both kernels at small sizes, where it costs no CPU
    copy = time_spec(PEAK_COPY, cfg=BenchConfig(warmup_ms=50.0, rep_ms=rep_ms, verify=False), timer=timer,
                     peaks=False)
    flops, bw = rates_from(ffma.flops, ffma.stats.median, copy.nbytes, copy.stats.median)
    return Peaks(flops, bw, "measured", ffma.device, when=time.strftime("%Y-%m-%d", time.gmtime()))


def measured(info: Any, refresh: bool = False, timer: Any = None) -> Peaks:
    """Measured peaks of ``info``'s device, from the cache unless ``refresh``."""
    key = device_key(info)
    if not refresh:
        hit = load_cached(key)
        if hit is not None:
            return hit
    peaks = measure(timer)
    save_cached(key, peaks)
    return peaks
