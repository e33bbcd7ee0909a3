"""Winograd minimal filtering F(m×m, r×r): transform matrices, float64 references, float32 models.

``toom_cook(m, r, points)`` builds ``Aᵀ`` (m×α), ``G`` (α×r) and ``Bᵀ`` (α×α), α = m+r−1, from α−1
finite interpolation points plus the point at infinity, by the Toom-Cook construction Lavin's wincnn
uses (exact rational arithmetic, so any rational points work)::

    Aᵀ[i, j] = p_j^i                      (∞ column: 1 in the last row)
    G[j, k]  = p_j^k / Π_{l≠j}(p_j − p_l)  (∞ row: [0 … 0 1])
    Bᵀ[j, :] = coefficients of Π_{l≠j}(x − p_l), lowest power first (∞ row: of Π_l (x − p_l))

so that the 1-D correlation ``y = Aᵀ[(G g) ⊙ (Bᵀ d)]`` and the 2-D one
``Y = Aᵀ[(G g Gᵀ) ⊙ (Bᵀ d B)]A`` are exact. The tables of Lavin & Gray (``LAVIN``) use the same
points with some rows scaled by −1 on both sides; :func:`row_products` is the scale-free invariant.

Layouts used by the convolution kernels and references: input NCHW, filter KCRS, output NKPQ.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

Points = tuple[Fraction, ...]

DEFAULT_POINTS = {2: "0,1,-1", 4: "0,1,-1,2,-2", 6: "0,1,-1,2,-2,1/2,-1/2"}

LAVIN = {  # the matrices printed in Lavin & Gray (2015), as in /work/shared/REFERENCES.md
    (2, 3): dict(
        BT=[[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]],
        G=[[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]],
        AT=[[1, 1, 1, 0], [0, 1, -1, -1]]),
    (4, 3): dict(
        BT=[[4, 0, -5, 0, 1, 0], [0, -4, -4, 1, 1, 0], [0, 4, -4, -1, 1, 0], [0, -2, -1, 2, 1, 0],
            [0, 2, -1, -2, 1, 0], [0, 4, 0, -5, 0, 1]],
        G=[[1 / 4, 0, 0], [-1 / 6, -1 / 6, -1 / 6], [-1 / 6, 1 / 6, -1 / 6], [1 / 24, 1 / 12, 1 / 6],
           [1 / 24, -1 / 12, 1 / 6], [0, 0, 1]],
        AT=[[1, 1, 1, 1, 1, 0], [0, 1, -1, 2, -2, 0], [0, 1, 1, 4, 4, 0], [0, 1, -1, 8, -8, 1]]),
}


@dataclass(frozen=True)
class Winograd:
    """The exact (Fraction) transform matrices of F(m, r) for ``points``; float64 views as properties."""

    m: int
    r: int
    points: Points
    at: tuple[tuple[Fraction, ...], ...]
    g: tuple[tuple[Fraction, ...], ...]
    bt: tuple[tuple[Fraction, ...], ...]

    @property
    def alpha(self) -> int:
        return self.m + self.r - 1

    @property
    def AT(self) -> np.ndarray:  # noqa: N802 - the paper's names
        return _f64(self.at)

    @property
    def G(self) -> np.ndarray:  # noqa: N802
        return _f64(self.g)

    @property
    def BT(self) -> np.ndarray:  # noqa: N802
        return _f64(self.bt)


def _f64(rows) -> np.ndarray:
    return np.array([[float(v) for v in row] for row in rows], dtype=np.float64)


def parse_points(points: str | Sequence) -> Points:
    """``"0,1,-1,2,-2"``, ``"0 ±5/8 ±3/2"`` (commas, spaces or semicolons) or numbers → exact Fractions."""
    if isinstance(points, str):
        out: list[Fraction] = []
        for part in re.split(r"[,;\s]+", points.strip()):
            if not part:
                continue
            if part.startswith(("±", "+-")):
                v = Fraction(part.lstrip("±+-"))
                out += [v, -v]
            else:
                out.append(Fraction(part))
        return tuple(out)
    return tuple(Fraction(p).limit_denominator(1 << 20) if isinstance(p, float) else Fraction(p)
                 for p in points)


def _poly_from_roots(roots: Sequence[Fraction]) -> list[Fraction]:
    """Coefficients of Π (x − root), lowest power first."""
    c = [Fraction(1)]
    for z in roots:
        nxt = [Fraction(0)] * (len(c) + 1)
        for i, a in enumerate(c):
            nxt[i + 1] += a
            nxt[i] -= z * a
        c = nxt
    return c


def toom_cook(m: int, r: int = 3, points: str | Sequence | None = None) -> Winograd:
    """F(m, r) by the Toom-Cook construction over ``points`` (α−1 distinct finite points, plus ∞)."""
    alpha = m + r - 1
    pts = parse_points(points if points is not None else DEFAULT_POINTS.get(m, ""))
    if len(pts) != alpha - 1:
        raise ValueError(f"F({m},{r}) needs {alpha - 1} finite interpolation points, got {len(pts)}")
    if len(set(pts)) != len(pts):
        raise ValueError(f"interpolation points must be distinct: {points}")
    at = [[p ** i for p in pts] + [Fraction(int(i == m - 1))] for i in range(m)]
    g, bt = [], []
    for j, p in enumerate(pts):
        others = [q for i, q in enumerate(pts) if i != j]
        f = Fraction(1)
        for q in others:
            f *= p - q
        g.append([p ** k / f for k in range(r)])
        bt.append(_poly_from_roots(others) + [Fraction(0)])
    g.append([Fraction(int(k == r - 1)) for k in range(r)])
    bt.append(_poly_from_roots(pts))
    tup = lambda rows: tuple(tuple(row) for row in rows)  # noqa: E731
    return Winograd(m, r, pts, tup(at), tup(g), tup(bt))


def row_products(AT: np.ndarray, G: np.ndarray, BT: np.ndarray) -> np.ndarray:  # noqa: N803
    """``[AT[:, j] ⊗ G[j] ⊗ BT[j]]_j``: invariant under scaling row j of G by s and of Bᵀ by 1/s."""
    return np.einsum("ij,jk,jl->jikl", AT, G, BT)


# --------------------------------------------------------------------------- float64 references


def out_size(h: int, r: int, stride: int, pad: int) -> int:
    return (h + 2 * pad - r) // stride + 1


def conv2d_direct(x: np.ndarray, w: np.ndarray, stride: int = 1, pad: int = 0) -> np.ndarray:
    """Cross-correlation as in deep learning: x NCHW, w KCRS → y NKPQ, in float64."""
    x = np.asarray(x, dtype=np.float64)
    w = np.asarray(w, dtype=np.float64)
    n, c, h, wd = x.shape
    k, c2, r, s = w.shape
    assert c == c2, "channel mismatch"
    p, q = out_size(h, r, stride, pad), out_size(wd, s, stride, pad)
    xp = np.zeros((n, c, h + 2 * pad + stride * r, wd + 2 * pad + stride * s))
    xp[:, :, pad:pad + h, pad:pad + wd] = x
    y = np.zeros((k, n, p, q))
    for i in range(r):
        for j in range(s):
            patch = xp[:, :, i:i + stride * p:stride, j:j + stride * q:stride]  # N C P Q
            # one BLAS product per tap (multi-threaded): K×C by C×(N·P·Q)
            y += np.tensordot(w[:, :, i, j], patch, axes=([1], [1]))  # K N P Q
    return np.ascontiguousarray(y.transpose(1, 0, 2, 3))


def tiles(h: int, w: int, m: int) -> tuple[int, int]:
    """Output tiles per image along H and W (stride 1, pad 1, 3×3 keeps P=H, Q=W)."""
    return -(-h // m), -(-w // m)


def input_tiles(x: np.ndarray, m: int, r: int = 3, pad: int = 1) -> np.ndarray:
    """The overlapping α×α input tiles: (N, C, TH, TW, α, α), zero outside the image."""
    n, c, h, w = x.shape
    alpha = m + r - 1
    th, tw = tiles(out_size(h, r, 1, pad), out_size(w, r, 1, pad), m)
    xp = np.zeros((n, c, th * m + alpha, tw * m + alpha), dtype=x.dtype)
    xp[:, :, pad:pad + h, pad:pad + w] = x
    d = np.empty((n, c, th, tw, alpha, alpha), dtype=x.dtype)
    for i in range(alpha):
        for j in range(alpha):
            d[..., i, j] = xp[:, :, i:i + th * m:m, j:j + tw * m:m]
    return d


def filter_transform(w: np.ndarray, wg: Winograd) -> np.ndarray:
    """U = G g Gᵀ for every (k, c): shape (α, α, K, C), float64."""
    G = wg.G  # noqa: N806
    return np.einsum("ai,kcij,bj->abkc", G, np.asarray(w, dtype=np.float64), G)


def filter_from_transform(u: np.ndarray, wg: Winograd) -> np.ndarray:
    """The filter (K, C, r, r) whose transform is nearest ``u``: (α, α, K, C) or the kernels' (α², C, K)."""
    a = wg.alpha
    u = np.asarray(u, dtype=np.float64)
    if u.ndim == 3:  # (α², C, K) → (α, α, K, C)
        u = u.reshape(a, a, u.shape[1], u.shape[2]).transpose(0, 1, 3, 2)
    if u.shape[:2] != (a, a):
        raise ValueError(f"u must be (α, α, K, C) or (α², C, K) with α = {a}, got {u.shape}")
    pg = np.linalg.pinv(wg.G)
    return np.einsum("ia,abkc,jb->kcij", pg, u, pg)


# --------------------------------------------------------------------------- float32 transforms
# One rounded FMA per step, zero coefficients skipped: the order the DSL kernels compute in, and the
# model of the accuracy study.


def fma32(a, b, c):
    """One float32 fused multiply-add (exact product, a single rounding)."""
    return (np.asarray(a, np.float64) * np.asarray(b, np.float64) + np.asarray(c, np.float64)
            ).astype(np.float32)


def transform32(t: np.ndarray, x: np.ndarray, axis: int) -> np.ndarray:
    """``t @ x`` along ``axis`` in float32: per output a sequential FMA chain over nonzero coefficients."""
    t32 = np.asarray(t, dtype=np.float32)
    x = np.moveaxis(np.asarray(x, dtype=np.float32), axis, 0)
    out = np.empty((t32.shape[0],) + x.shape[1:], dtype=np.float32)
    for i in range(t32.shape[0]):
        acc = np.zeros(x.shape[1:], dtype=np.float32)
        for k in np.nonzero(t32[i])[0]:
            acc = fma32(t32[i, k], x[k], acc)
        out[i] = acc
    return np.moveaxis(out, 0, axis)


def sandwich32(left: np.ndarray, x: np.ndarray) -> np.ndarray:
    """``left · x · leftᵀ`` over the last two axes, rows first then columns, in float32."""
    return transform32(left, transform32(left, x, x.ndim - 2), x.ndim - 1)


def filter_transform32(w: np.ndarray, wg: Winograd) -> np.ndarray:
    """U = G g Gᵀ in float32: shape (K, C, α, α)."""
    return sandwich32(wg.G, np.asarray(w, np.float32))


def winograd_conv2d(x: np.ndarray, w: np.ndarray, m: int, points=None, pad: int = 1) -> np.ndarray:
    """Stride-1 3×3 convolution by F(m×m, 3×3) in float64: Y = Aᵀ[U ⊙ V]A summed over channels."""
    wg = toom_cook(m, 3, points)
    x = np.asarray(x, dtype=np.float64)
    n, c, h, wd = x.shape
    u = filter_transform(w, wg)  # a b K C
    d = input_tiles(x, m, 3, pad)  # N C TH TW a a
    v = np.einsum("ai,nctuij,bj->abnctu", wg.BT, d, wg.BT)
    mm = np.einsum("abkc,abnctu->abnktu", u, v)
    y = np.einsum("ia,abnktu,jb->nktiuj", wg.AT, mm, wg.AT)
    nt, k, th, _, tw, _ = y.shape
    y = y.reshape(n, k, th * m, tw * m)
    return y[:, :, :out_size(h, 3, 1, pad), :out_size(wd, 3, 1, pad)]


def conv_flops(n: int, c: int, h: int, w: int, k: int, r: int = 3, s: int = 3, stride: int = 1,
               pad: int = 1) -> int:
    """Useful FLOPs as maxDNN counts them: 2·N·K·P·Q·C·R·S (also for Winograd)."""
    return 2 * n * k * out_size(h, r, stride, pad) * out_size(w, s, stride, pad) * c * r * s


# --------------------------------------------------------------------------- code generation


def f32_imm(v) -> str:
    """A PTX float32 immediate (``0f3F000000``) of ``v`` rounded to float32."""
    return f"0f{int(np.float32(float(v)).view(np.uint32)):08X}"


def lincomb_lines(mat, outs: Sequence[str], ins: Sequence[str]) -> list[str]:
    """PTX lines for ``outs[i] = Σ_k mat[i][k]·ins[k]`` in float32.

    Each output is one chain over its nonzero coefficients in index order: the first term is a
    ``mov``/``neg``/``mul``, the rest ``add``/``sub``/``fma`` (coefficient ±1 → add/sub), so every
    step is one float32 rounding exactly as in :func:`transform32`. ``outs`` and ``ins`` must not
    share names.
    """
    lines = []
    for i, out in enumerate(outs):
        first = True
        for k, src in enumerate(ins):
            v = np.float32(float(mat[i][k]))
            if v == 0:
                continue
            if first:
                if v == 1:
                    lines.append(f"mov.f32 {out}, {src}")
                elif v == -1:
                    lines.append(f"neg.f32 {out}, {src}")
                else:
                    lines.append(f"mul.rn.f32 {out}, {src}, {f32_imm(v)}")
                first = False
            elif v == 1:
                lines.append(f"add.rn.f32 {out}, {out}, {src}")
            elif v == -1:
                lines.append(f"sub.rn.f32 {out}, {out}, {src}")
            else:
                lines.append(f"fma.rn.f32 {out}, {src}, {f32_imm(v)}, {out}")
        if first:
            lines.append(f"mov.f32 {out}, 0f00000000")
    return lines


def _cell(arr, i: int, j: int) -> str:
    return arr(i, j) if callable(arr) else f"{arr}[{i}][{j}]"


def sandwich_lines(mat, dst, tmp, src, n_src: int) -> list[str]:
    """PTX lines for ``dst = mat · src · matᵀ`` over 2-D register arrays ``dst``/``tmp``/``src``.

    Each array is a name (``"d"`` → ``d[i][j]``) or a function ``(i, j) -> register``. ``src`` is
    n_src×n_src, ``tmp`` rows(mat)×n_src, ``dst`` rows(mat)×rows(mat); columns of ``src`` are
    transformed first, then the rows of ``tmp`` (the order of :func:`sandwich32`).
    """
    rows = len(mat)
    lines = []
    for j in range(n_src):
        lines += lincomb_lines(mat, [_cell(tmp, a, j) for a in range(rows)],
                               [_cell(src, i, j) for i in range(n_src)])
    for a in range(rows):
        lines += lincomb_lines(mat, [_cell(dst, a, b) for b in range(rows)],
                               [_cell(tmp, a, j) for j in range(n_src)])
    return lines


# --------------------------------------------------------------------------- lab-block helpers

# VGG-16's 3×3 layers (C, H=W, K), 224×224 input; every layer is stride 1, pad 1.
VGG16_3X3 = ((3, 224, 64), (64, 224, 64), (64, 112, 128), (128, 112, 128), (128, 56, 256),
             (256, 56, 256), (256, 28, 512), (512, 28, 512), (512, 14, 512))


def vgg_sizes(batches: Sequence[int] = (1, 8, 32, 64), **extra: int) -> list[dict[str, int]]:
    """The distinct VGG-16 3×3 layers at each batch size, as lab size dicts."""
    return [dict(N=n, C=c, H=h, W=h, K=k, **extra) for n in batches for c, h, k in VGG16_3X3]


def poisoned(shape) -> np.ndarray:
    return np.full(shape, np.nan, dtype=np.float32)


def conv_nbytes(s: dict, r: int = 3, sw: int = 3) -> float:
    """Compulsory bytes: input, filter and output once each, float32."""
    p = out_size(s["H"], r, s.get("stride", 1), s.get("pad", r // 2))
    q = out_size(s["W"], sw, s.get("stride", 1), s.get("pad", sw // 2))
    return 4.0 * (s["N"] * s["C"] * s["H"] * s["W"] + s["K"] * s["C"] * r * sw + s["N"] * s["K"] * p * q)


def wino_inputs(s: dict, m: int, points, rng: np.random.Generator) -> dict:
    """Arguments of the main Winograd kernel: x, u = G g Gᵀ (float32, [α²][C][K]), poisoned y."""
    n, c, h, w, k = s["N"], s["C"], s["H"], s["W"], s["K"]
    wg = toom_cook(m, 3, points)
    g = rng.standard_normal((k, c, 3, 3)).astype(np.float32)
    u = filter_transform32(g, wg).transpose(2, 3, 1, 0).reshape(wg.alpha ** 2, c, k)
    th, tw = tiles(h, w, m)
    return {"x": rng.standard_normal((n, c, h, w)).astype(np.float32), "u": np.ascontiguousarray(u),
            "y": poisoned((n, k, h, w)), "nimg": np.uint32(n), "cin": np.uint32(c), "hin": np.uint32(h),
            "win": np.uint32(w), "kout": np.uint32(k), "tilesh": np.uint32(th), "tilesw": np.uint32(tw)}


def wino_reference(a: dict, s: dict, m: int, points) -> dict:
    """Float64 direct convolution with the filter whose transform is the given u (least squares)."""
    g = filter_from_transform(a["u"], toom_cook(m, 3, points))
    return {"y": conv2d_direct(a["x"], g, 1, 1)}


def torch_conv_peer(a: dict, s: dict, lib, stride: int = 1, pad: int = 1, r: int = 3, sw: int = 3,
                    _cache: dict = {}) -> None:  # noqa: B006 - the cache is meant to persist
    """cuDNN through ``torch.nn.functional.conv2d`` on the kernel's input (TF32 off by the harness)."""
    key = (s["K"], s["C"], r, sw)
    if key not in _cache:
        _cache[key] = lib.randn(key, device="cuda", dtype=lib.float32)
    x = a["x"].view(s["N"], s["C"], s["H"], s["W"])
    lib.nn.functional.conv2d(x, _cache[key], stride=stride, padding=pad)
