"""The FP32 accuracy study of Lavin & Gray (2015), reproduced in numpy.

Each algorithm runs in float32 arithmetic exactly as a GPU kernel would: every multiply-add is one
rounded FMA (emulated as ``float32(float64(a)·float64(b) + float64(c))``, exact product then one
rounding, up to a negligible double rounding), the transforms use the float32-rounded coefficients
and skip zero ones, sums run sequentially. The float64 direct convolution is the reference; all
algorithms see the same random inputs.

``study()`` returns :class:`Row` records; ``markdown()`` prints them beside the paper's figures.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .winograd import (
    Winograd,
    conv2d_direct,
    filter_transform32,
    fma32,
    input_tiles,
    out_size,
    sandwich32,
    toom_cook,
    transform32,
)

PAPER = {"direct": 9.0e-7, "F(2x2,3x3)": 9.6e-7, "F(4x4,3x3) 0,±1,±2": 1.1e-5,
         "F(4x4,3x3) 0,±5/8,±3/2": 4.0e-6}

ALGORITHMS = (("direct", None, None), ("F(2x2,3x3)", 2, "0,1,-1"),
              ("F(4x4,3x3) 0,±1,±2", 4, "0,1,-1,2,-2"), ("F(4x4,3x3) 0,±5/8,±3/2", 4, "0,±5/8,±3/2"))


@dataclass(frozen=True)
class Setup:
    """The experiment: tensor sizes, input distribution and seed."""

    n: int = 1
    c: int = 64
    h: int = 32
    w: int = 32
    k: int = 32
    dist: str = "normal"  # "normal": N(0,1); "uniform": U[-1,1); "positive": U[0,1)
    seed: int = 0


@dataclass
class Row:
    """One algorithm's errors against the float64 reference."""

    name: str
    max_abs: float
    max_rel: float  # max |err| / max |reference|
    mean_abs: float
    paper: float | None = None
    extra: dict = field(default_factory=dict)


def direct32(x: np.ndarray, w: np.ndarray, stride: int = 1, pad: int = 1) -> np.ndarray:
    """Direct convolution in float32, one FMA chain per output over (r, s) outer, c inner."""
    n, c, h, wd = x.shape
    k, _, r, s = w.shape
    p, q = out_size(h, r, stride, pad), out_size(wd, s, stride, pad)
    xp = np.zeros((n, c, h + 2 * pad + stride * r, wd + 2 * pad + stride * s), np.float32)
    xp[:, :, pad:pad + h, pad:pad + wd] = x
    w32 = np.asarray(w, np.float32)
    acc = np.zeros((n, k, p, q), np.float32)
    for i in range(r):
        for j in range(s):
            patch = xp[:, :, i:i + stride * p:stride, j:j + stride * q:stride]
            for cc in range(c):
                acc = fma32(w32[None, :, cc, i, j, None, None], patch[:, cc, None], acc)
    return acc


def winograd32(x: np.ndarray, w: np.ndarray, wg: Winograd, pad: int = 1,
               u: np.ndarray | None = None) -> np.ndarray:
    """F(m×m, 3×3) in float32: data transform, α² sequential GEMMs over channels, inverse transform."""
    n, c, h, wd = x.shape
    m = wg.m
    u = filter_transform32(w, wg) if u is None else np.asarray(u, np.float32)  # K C a a
    d = input_tiles(np.asarray(x, np.float32), m, wg.r, pad)  # N C TH TW a a
    v = sandwich32(wg.BT, d)
    acc = np.zeros((n, u.shape[0]) + v.shape[2:], np.float32)  # N K TH TW a a
    for cc in range(c):
        acc = fma32(u[None, :, cc, None, None], v[:, cc, None], acc)
    y = transform32(wg.AT, transform32(wg.AT, acc, acc.ndim - 2), acc.ndim - 1)  # N K TH TW m m
    nn, k, th, tw = y.shape[:4]
    y = y.transpose(0, 1, 2, 4, 3, 5).reshape(nn, k, th * m, tw * m)
    return y[:, :, :out_size(h, 3, 1, pad), :out_size(wd, 3, 1, pad)]


def make_inputs(st: Setup) -> tuple[np.ndarray, np.ndarray]:
    """The same float32 input and filter for every algorithm."""
    rng = np.random.default_rng(st.seed)
    shape_x, shape_w = (st.n, st.c, st.h, st.w), (st.k, st.c, 3, 3)
    if st.dist == "normal":
        x, w = rng.standard_normal(shape_x), rng.standard_normal(shape_w)
    elif st.dist == "uniform":
        x, w = rng.uniform(-1, 1, shape_x), rng.uniform(-1, 1, shape_w)
    elif st.dist == "positive":
        x, w = rng.uniform(0, 1, shape_x), rng.uniform(0, 1, shape_w)
    else:
        raise ValueError(f"unknown distribution '{st.dist}' (normal, uniform, positive)")
    return x.astype(np.float32), w.astype(np.float32)


def errors(got: np.ndarray, ref: np.ndarray) -> tuple[float, float, float]:
    """(max abs, max abs / max |ref|, mean abs) error."""
    e = np.abs(np.asarray(got, np.float64) - ref)
    return float(e.max()), float(e.max() / np.abs(ref).max()), float(e.mean())


def run_algorithm(name: str, x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """One row's float32 output for the study's inputs."""
    for nm, m, pts in ALGORITHMS:
        if nm == name:
            return direct32(x, w) if m is None else winograd32(x, w, toom_cook(m, 3, pts))
    raise ValueError(f"unknown algorithm '{name}'")


def study(st: Setup = Setup()) -> list[Row]:
    """Max/mean errors of direct FP32 and the three Winograd variants against float64 direct."""
    x, w = make_inputs(st)
    ref = conv2d_direct(x, w, 1, 1)
    rows = []
    for name, _, _ in ALGORITHMS:
        mx, rel, mean = errors(run_algorithm(name, x, w), ref)
        rows.append(Row(name, mx, rel, mean, PAPER.get(name)))
    return rows


def markdown(rows: list[Row], st: Setup) -> str:
    """A markdown table of the study beside the paper's maximum absolute errors."""
    head = (f"FP32, N={st.n} C={st.c} H={st.h} W={st.w} K={st.k}, inputs and filters {st.dist}, "
            f"seed {st.seed}; reference: float64 direct convolution.\n\n"
            "| algorithm | max abs error | max abs / max \\|y\\| | mean abs error | paper (max abs) | "
            "ratio to direct (ours) | ratio to direct (paper) |\n|---|---|---|---|---|---|---|")
    base = rows[0].max_abs
    lines = [head]
    for r in rows:
        paper = f"{r.paper:.1e}" if r.paper is not None else "—"
        pr = f"{r.paper / PAPER['direct']:.1f}×" if r.paper is not None else "—"
        lines.append(f"| {r.name} | {r.max_abs:.1e} | {r.max_rel:.1e} | {r.mean_abs:.1e} | {paper} | "
                     f"{r.max_abs / base:.1f}× | {pr} |")
    return "\n".join(lines)


def summary(st: Setup, seeds: int) -> str:
    """Median and range of the max abs error (and median max rel error) over seeds 0..seeds-1."""
    runs: dict[str, list[tuple[float, float]]] = {}
    for seed in range(seeds):
        for r in study(Setup(st.n, st.c, st.h, st.w, st.k, st.dist, seed)):
            runs.setdefault(r.name, []).append((r.max_abs, r.max_rel))
    lines = [f"FP32, N={st.n} C={st.c} H={st.h} W={st.w} K={st.k}, {st.dist}, seeds 0..{seeds - 1}.\n",
             "| algorithm | max abs error, median (min–max) | max abs / max \\|y\\|, median | paper (max abs) |",
             "|---|---|---|---|"]
    for name, v in runs.items():
        a = np.array(v)
        lines.append(f"| {name} | {np.median(a[:, 0]):.1e} ({a[:, 0].min():.1e}–{a[:, 0].max():.1e}) | "
                     f"{np.median(a[:, 1]):.1e} | {PAPER[name]:.1e} |")
    return "\n".join(lines)


# --------------------------------------------------------------------------- the DSL kernels


KERNEL_FILES = {"direct": ("conv_direct.sasm", {}), "F(2x2,3x3)": ("winograd_2x2_3x3.sasm", {}),
                "F(4x4,3x3) 0,±1,±2": ("winograd_4x4_3x3.sasm", {"POINTS": "0 1 -1 2 -2"}),
                "F(4x4,3x3) 0,±5/8,±3/2": ("winograd_4x4_3x3.sasm", {"POINTS": "0 ±5/8 ±3/2"})}


def run_kernel(name: str, x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """The DSL kernel of one row on the emulator (Winograd: filter kernel, then main kernel)."""
    from ..api import assemble_file
    from ..lab.spec import load_spec
    from ..paths import KERNELS

    file, defines = KERNEL_FILES[name]
    path = KERNELS / file
    mod = assemble_file(path, defines=defines)
    spec = load_spec(path, resolved=mod.defines)
    n, c, h, wd = x.shape
    k = w.shape[0]
    s = dict(N=n, C=c, H=h, W=wd, K=k, stride=1, pad=1)
    y = np.full((n, k, h, wd), np.nan, np.float32)
    dims = [np.uint32(v) for v in (n, c, h, wd, k)]
    if name == "direct":
        mod["conv_direct"].emulate(spec.grid(s), spec.block(s), x, w, y, *dims, np.uint32(h), np.uint32(wd),
                                   np.uint32(1), np.uint32(1), dynamic_shared=spec.shared(s))
        return y
    m = spec.defines["M"]
    u = np.full(((m + 2) ** 2, c, k), np.nan, np.float32)
    main = spec.kernel
    mod[f"{main}_filter"].emulate(spec.ns["filter_grid"](s, spec.defines), spec.ns["filter_block"](s, spec.defines),
                                  np.asarray(w, np.float32), u, np.uint32(k), np.uint32(c))
    th, tw = -(-h // m), -(-wd // m)
    mod[main].emulate(spec.grid(s), spec.block(s), x, u, y, *dims, np.uint32(th), np.uint32(tw),
                      dynamic_shared=spec.shared(s))
    return y


def kernel_study(st: Setup = Setup()) -> list[Row]:
    """``study`` with the DSL kernels on the emulator; ``extra`` holds the numpy model's max abs error
    and the largest difference between kernel and model."""
    x, w = make_inputs(st)
    ref = conv2d_direct(x, w, 1, 1)
    rows = []
    for name, _, _ in ALGORITHMS:
        got = run_kernel(name, x, w)
        model = run_algorithm(name, x, w)
        mx, rel, mean = errors(got, ref)
        rows.append(Row(name, mx, rel, mean, PAPER.get(name),
                        {"model_max_abs": errors(model, ref)[0],
                         "kernel_vs_model": float(np.abs(got.astype(np.float64) - model).max())}))
    return rows


def kernel_markdown(rows: list[Row], st: Setup) -> str:
    """The kernels' errors beside the numpy model's."""
    lines = [f"DSL kernels on the emulator, FP32, N={st.n} C={st.c} H={st.h} W={st.w} K={st.k}, {st.dist}, "
             f"seed {st.seed}.\n",
             "| algorithm | kernel max abs error | model max abs error | max \\|kernel − model\\| | paper |",
             "|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r.name} | {r.max_abs:.1e} | {r.extra['model_max_abs']:.1e} | "
                     f"{r.extra['kernel_vs_model']:.1e} | {r.paper:.1e} |")
    return "\n".join(lines)
