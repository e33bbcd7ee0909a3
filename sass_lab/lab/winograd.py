"""Winograd minimal filtering F(m×m, r×r): transform matrices and float64 numpy references.

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
    """``"0,1,-1,2,-2"`` or ``"0,±5/8,±3/2"`` or a sequence of numbers → exact Fractions."""
    if isinstance(points, str):
        out: list[Fraction] = []
        for part in points.replace(" ", "").split(","):
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
    y = np.zeros((n, k, p, q))
    for i in range(r):
        for j in range(s):
            patch = xp[:, :, i:i + stride * p:stride, j:j + stride * q:stride]  # N C P Q
            y += np.einsum("ncpq,kc->nkpq", patch, w[:, :, i, j])
    return y


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
    """The filter (K, C, r, r) whose transform is nearest ``u`` (α², C, K layout or (α, α, K, C))."""
    a = wg.alpha
    u = np.asarray(u, dtype=np.float64)
    if u.ndim != 4:
        raise ValueError("u must be 4-D")
    if u.shape[:2] != (a, a):  # (α², C, K) stored flat as (α*α, C, K) → (α, α, K, C)
        u = u.reshape(a, a, u.shape[-2], u.shape[-1]).transpose(0, 1, 3, 2)
    pg = np.linalg.pinv(wg.G)
    return np.einsum("ia,abkc,jb->kcij", pg, u, pg)


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
