"""The residual blocks of Lavin 2024 and their layers, in float64: the lab-block side of the fusion kernels.

ConvFirst: y = x + BNp(P(SiLU(BNe(E(BNg(G(x)))))))
MBConv:    y = x + BNp(P(SiLU(BNg(G(SiLU(BNe(E(x))))))))

G is a grouped 3×3 convolution (group width 8, stride 1, pad 1), E a 1×1 expansion C → EXP·C, P a 1×1
projection EXP·C → C; every BN is folded into a per-channel (scale, bias) pair. Tensors are NHWC.
Storage is 16-bit (``"f16"``: numpy float16; ``"bf16"``: raw uint16 bits), accumulation fp32.

Here: parameters, storage conversions, the float64 composition (optionally rounding at the kernels'
storage points, the model of docs/ACCURACY.md), and the error bound behind the tolerances. The
kernels (kernels_asm/convfirst_block.sasm, mbconv_block.sasm, grouped_conv3x3.sasm, pointwise_bn.sasm)
call these from their ``%% lab`` blocks.
"""

from __future__ import annotations

import numpy as np

UNIT = {"f16": 2.0 ** -11, "bf16": 2.0 ** -8}  # unit roundoff of the storage type
ACC = 2.0 ** -23        # per-term error of an fp32 sum (tensor-core adders truncate: 2u, u = 2^-24)
SILU_EPS = 4 * 2.0 ** -23  # relative error of SiLU by ex2.approx + rcp.approx (2 + 1 ulp, one rounding)
GROUP = 8               # group width of the grouped 3×3 convolution
KINDS = ("convfirst", "mbconv")


# --------------------------------------------------------------------------- storage types

def store(a, dtype: str) -> np.ndarray:
    """float → 16-bit storage, round to nearest even: float16, or bf16 bits in a uint16 array."""
    a = np.asarray(a, dtype=np.float32)
    if dtype == "f16":
        return a.astype(np.float16)
    if dtype != "bf16":
        raise ValueError(f"unknown storage type {dtype!r}")
    b = a.view(np.uint32).astype(np.uint64)
    r = (b + 0x7FFF + ((b >> 16) & 1)) >> 16
    nan = np.isnan(a)
    return np.where(nan, 0x7FC0, r).astype(np.uint16)


def load(a: np.ndarray, dtype: str) -> np.ndarray:
    """16-bit storage → float64 (exact)."""
    if dtype == "f16" or a.dtype == np.float16:
        return np.asarray(a, dtype=np.float64)
    return (a.astype(np.uint32) << 16).view(np.float32).astype(np.float64)


def poisoned(shape, dtype: str) -> np.ndarray:
    """An output buffer full of NaN in the storage type."""
    return store(np.full(shape, np.nan, np.float32), dtype)


# --------------------------------------------------------------------------- layers (float64)

def silu(v: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        return v / (1.0 + np.exp(-v))


def bn(v: np.ndarray, sb: np.ndarray) -> np.ndarray:
    """Folded BN: v·scale + bias over the last axis; sb is [channels][2] (scale, bias)."""
    return v * sb[:, 0] + sb[:, 1]


def grouped3x3(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Grouped 3×3 convolution, stride 1, pad 1, group width 8: x [N][H][W][C], w [C][8][3][3]
    (PyTorch's [out][in-group][r][s]); returns [N][H][W][C]. One batched matmul per tap."""
    n, h, wd, c = x.shape
    ng = c // GROUP
    xp = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
    wg = w.reshape(ng, GROUP, GROUP, 3, 3)
    # im2col per group: [g][pixel][(r, s, in)] @ [g][(r, s, in)][out], 72-term dot products in BLAS
    cols = np.empty((ng, n * h * wd, 9, GROUP))
    for r in range(3):
        for s in range(3):
            cols[:, :, 3 * r + s] = xp[:, r:r + h, s:s + wd].reshape(-1, ng, GROUP).transpose(1, 0, 2)
    wt = np.ascontiguousarray(wg.transpose(0, 3, 4, 2, 1).reshape(ng, 9 * GROUP, GROUP))
    out = np.matmul(cols.reshape(ng, -1, 9 * GROUP), wt)                         # g, pixels, out
    return out.transpose(1, 0, 2).reshape(n, h, wd, c)


def pointwise(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """1×1 convolution: x [..][Cin] · w[Cout][Cin]ᵀ (one GEMM over all pixels)."""
    return (x.reshape(-1, x.shape[-1]) @ w.T).reshape(*x.shape[:-1], w.shape[0])


# --------------------------------------------------------------------------- parameters

def make_params(kind: str, c: int, exp: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """float32 parameters of one block: filters scaled by 1/sqrt(fan-in), BN scale U(0.5, 1.5) and
    bias N(0, 0.2²), so activations stay O(1) through the block."""
    ce = exp * c
    gch = c if kind == "convfirst" else ce

    def w(shape, fan):
        return (rng.standard_normal(shape) / np.sqrt(fan)).astype(np.float32)

    def sb(ch):
        return np.stack([rng.uniform(0.5, 1.5, ch), rng.normal(0.0, 0.2, ch)], 1).astype(np.float32)
    return {"wg": w((gch, GROUP, 3, 3), 9 * GROUP), "bng": sb(gch), "we": w((ce, c), c), "bne": sb(ce),
            "wp": w((c, ce), ce), "bnp": sb(c)}


def forward(kind: str, x: np.ndarray, p: dict, round_to: str | None = None,
            intermediates: bool = True) -> np.ndarray:
    """The block in float64 (x and the filters as given). ``round_to`` rounds every intermediate
    to that storage type where the kernels store it (after each layer's BN/SiLU) and the output;
    ``intermediates=False`` rounds the output only (a kernel keeping its intermediates in fp32)."""
    def rnd(v):
        return v if round_to is None or not intermediates else load(store(v, round_to), round_to)
    if kind == "convfirst":
        g = rnd(bn(grouped3x3(x, p["wg"]), p["bng"]))
        h = rnd(silu(bn(pointwise(g, p["we"]), p["bne"])))
    else:
        e = rnd(silu(bn(pointwise(x, p["we"]), p["bne"])))
        h = rnd(silu(bn(grouped3x3(e, p["wg"]), p["bng"])))
    y = x + bn(pointwise(h, p["wp"]), p["bnp"])
    return y if round_to is None else load(store(y, round_to), round_to)


def dsilu(v: np.ndarray) -> np.ndarray:
    """SiLU'(v) = σ(v)·(1 + v·(1 − σ(v)))."""
    with np.errstate(over="ignore"):
        sg = 1.0 / (1.0 + np.exp(-v))
    return sg * (1.0 + v * (1.0 - sg))


def _rows(a: np.ndarray) -> np.ndarray:
    return a.reshape(-1, a.shape[-1])


EXACT_PIXELS = 4096  # error_scale: per-pixel Jacobians up to this many pixels, the split bound above


def _jg_exact(a_mat, d, b_mat, src, chunk=16):
    """Σ_k |(A·diag(d_p)·B)_ik| src_pk for each pixel p (rows of d and src)."""
    out = np.empty((len(d), a_mat.shape[0]))
    for i in range(0, len(d), chunk):
        j = np.abs((a_mat[None] * d[i:i + chunk, None, :]) @ b_mat)
        out[i:i + chunk] = (j @ src[i:i + chunk, :, None])[:, :, 0]
    return out


def _jg_split(a_mat, d, b_mat, src):
    """An upper bound of :func:`_jg_exact` with two matrix products in all: with d̄ the mean of d over
    the pixels, |A·diag(d_p)·B| <= |A·diag(d̄)·B| + |A|·diag(|d_p − d̄|)·|B| elementwise."""
    dbar = d.mean(axis=0)
    j0 = np.abs((a_mat * dbar) @ b_mat)
    return src @ j0.T + (np.abs(d - dbar) * (src @ np.abs(b_mat).T)) @ np.abs(a_mat).T


def _je_exact(a_mat, d, wg, srcp, shape, chunk=16):
    """Σ over taps and channels of |A·diag(d_p)·W_tap| applied to the padded src at the tap's pixel."""
    n, hh, ww, c = shape
    ce = a_mat.shape[1]
    ng = ce // GROUP
    taps = [srcp[:, r:r + hh, t:t + ww].reshape(n * hh * ww, ng, GROUP) for r in range(3) for t in range(3)]
    out = np.zeros((n * hh * ww, c))
    for i in range(0, len(d), chunk):
        ad = (a_mat[None] * d[i:i + chunk, None, :]).reshape(-1, ng, GROUP).transpose(1, 0, 2)  # g, p·c, o
        for r in range(3):
            for t in range(3):
                m = np.abs(ad @ wg[..., r, t]).reshape(ng, -1, c, GROUP)   # g, p, c, i
                out[i:i + chunk] += np.einsum("gpci,pgi->pc", m, taps[3 * r + t][i:i + chunk], optimize=True)
    return out


def _je_split(a_mat, d, wg, src, p_wg, shape):
    """An upper bound of :func:`_je_exact` (the split of :func:`_jg_split`, per tap): the d̄ part
    is the grouped convolution of src by |diag(d̄)·W_tap| followed by |A|... per tap, summed."""
    n, hh, ww, c = shape
    ce = a_mat.shape[1]
    dbar = d.mean(axis=0)
    ng = ce // GROUP
    out = np.zeros((n * hh * ww, c))
    srcp = np.pad(src, ((0, 0), (1, 1), (1, 1), (0, 0)))
    for r in range(3):
        for t in range(3):
            # |A·diag(d̄)·BD(W_tap)|: C × CE, built group by group
            m = np.abs(np.einsum("cgo,goi->cgi", (a_mat * dbar).reshape(c, ng, GROUP), wg[..., r, t]))
            out += srcp[:, r:r + hh, t:t + ww].reshape(n * hh * ww, ce) @ m.reshape(c, ce).T
    spread = _rows(grouped3x3(src, np.abs(p_wg)))            # Σ_tap |W_tap|·src at each pixel
    return out + (np.abs(d - dbar) * spread) @ np.abs(a_mat).T


def error_scale(kind: str, x: np.ndarray, p: dict, dtype: str, exact: bool | None = None) -> np.ndarray:
    """Per-element error scale s with |ŷ − y| <= 1.01·u·s (u: storage unit roundoff), to first order.

    The kernel rounds three (ConvFirst) or four (MBConv) quantities to 16 bits: G's or E's output
    (stored for the next layer), SiLU's output (the A fragments of P), and y. A relative rounding
    δ_v (|δ_v| <= u) of a stored v moves y_i by Σ_v J_iv·v·δ_v, at most u·Σ_v |J_iv||v|, with J the
    exact Jacobian of y with respect to v at the float64 point. So

        s = |y| + Σ_j |A_ij||h_j| + Σ_k |J_ik||g_k|      (A = diag(s_p)·W_p, h = SiLU(e))

    with g = G's output (ConvFirst; J = A·diag(SiLU'(e))·diag(s_e)·W_e per pixel) or e = SiLU(E's
    output) (MBConv; J through SiLU'(g) and the nine taps of the grouped filter), plus the fp32 sums
    (k-term sum: error <= k·2^-23·Σ|terms|, truncating tensor-core adders) and SiLU's approximation
    (ε = 4·2^-23 relative), each carried to y by the same |J|, divided by u. Terms of order u² are
    left to the 1.01. ``exact``: the per-pixel Jacobians (one C×EXP·C×C product per pixel); otherwise
    the split bound of :func:`_jg_split` (rigorous too, a few times larger in that term, and two
    matrix products in all). Default: exact up to EXACT_PIXELS pixels (the emulator's sizes)."""
    u = UNIT[dtype]
    ce = p["we"].shape[0]
    c = x.shape[-1]
    shape = x.shape
    if exact is None:
        exact = int(np.prod(shape[:3])) <= EXACT_PIXELS
    a_mat = p["bnp"][:, 0:1] * p["wp"]                       # C × CE
    aa = np.abs(a_mat)
    if kind == "convfirst":
        g = bn(grouped3x3(x, p["wg"]), p["bng"])
        pre = bn(pointwise(g, p["we"]), p["bne"])
        h = silu(pre)
        y = x + bn(pointwise(h, p["wp"]), p["bnp"])
        dg = 73 * ACC * np.abs(p["bng"][:, 0]) * grouped3x3(np.abs(x), np.abs(p["wg"]))   # G's sum
        de = (c + 1) * ACC * np.abs(p["bne"][:, 0]) * pointwise(np.abs(g), np.abs(p["we"]))  # E's sum
        b_mat = p["bne"][:, 0:1] * p["we"]                   # CE × C
        src = u * np.abs(_rows(g)) + _rows(dg)               # what each stored g may be off by
        ds = _rows(dsilu(pre))
        sg = _jg_exact(a_mat, ds, b_mat, src) if exact else _jg_split(a_mat, ds, b_mat, src)
        spread = sg.reshape(shape) + pointwise(np.abs(dsilu(pre)) * de, aa)
    elif kind == "mbconv":
        pre_e = bn(pointwise(x, p["we"]), p["bne"])
        e = silu(pre_e)
        pre_g = bn(grouped3x3(e, p["wg"]), p["bng"])
        h = silu(pre_g)
        y = x + bn(pointwise(h, p["wp"]), p["bnp"])
        de = (np.abs(dsilu(pre_e)) * (c + 1) * ACC * np.abs(p["bne"][:, 0]) * pointwise(np.abs(x), np.abs(p["we"]))
              + SILU_EPS * np.abs(e))                        # E's sum and SiLU, before rounding e
        dg = 73 * ACC * np.abs(p["bng"][:, 0]) * grouped3x3(np.abs(e), np.abs(p["wg"]))
        src = u * np.abs(e) + de                             # what each stored e may be off by
        d = _rows(dsilu(pre_g) * p["bng"][:, 0])
        wg = p["wg"].reshape(ce // GROUP, GROUP, GROUP, 3, 3)
        if exact:
            se = _je_exact(a_mat, d, wg, np.pad(src, ((0, 0), (1, 1), (1, 1), (0, 0))), shape)
        else:
            se = _je_split(a_mat, d, wg, src, p["wg"], shape)
        spread = se.reshape(shape) + pointwise(np.abs(dsilu(pre_g)) * dg, aa)
    else:
        raise ValueError(f"unknown block {kind!r}")
    sh = pointwise(np.abs(h), aa)                            # |A||h|: rounding of h, SiLU, P's sum
    acc_p = (ce + 1) * ACC * sh
    return np.abs(y) + (1 + SILU_EPS / u) * sh + (spread + acc_p) / u


def layer_scale(y: np.ndarray, pre: np.ndarray, sums: np.ndarray, terms: int, act: bool,
                dtype: str) -> np.ndarray:
    """Error scale of one layer y = fl(act(BN(Σ w·x)) [+ r]): |ŷ − y| <= 1.01·u·scale with
    scale = |y| + (terms+1)·2^-23/u · |SiLU'|·|s|Σ|w||x| (+ ε/u·|y| for SiLU); ``sums`` = |s|Σ|w||x|."""
    u = UNIT[dtype]
    lip = np.abs(dsilu(pre)) if act else 1.0
    return np.abs(y) * (1 + (SILU_EPS / u if act else 0.0)) + (terms + 1) * ACC / u * lip * sums


def tolerance(dtype: str) -> float:
    """1.01·u: the error scales above already carry every factor of the bound."""
    return 1.01 * UNIT[dtype]


def tol_why(kind: str) -> str:
    stored = ("G's output (shared memory), SiLU(E) (mma A fragments)" if kind == "convfirst" else
              "SiLU(E) on the halo (shared memory), SiLU(G) (mma A fragments)")
    return ("|err| <= 1.01·u·s per element, u = 2^-11 (f16) / 2^-8 (bf16): s = |y| + Σ|J||v| over the "
            f"16-bit values the kernel rounds ({stored}, y), J the exact Jacobian of y in each, plus the "
            "fp32 sums (k·2^-23 per k-term sum) and SiLU's ex2/rcp error carried by |J| (first order; "
            "sass_lab.studies.blocks.error_scale, docs/ACCURACY.md)")


# --------------------------------------------------------------------------- lab-block helpers

def kernel_filter(wg: np.ndarray) -> np.ndarray:
    """PyTorch's grouped filter [C][8][3][3] → the kernels' [C][3][3][8] (out, r, s, in-group)."""
    return np.ascontiguousarray(wg.transpose(0, 2, 3, 1))


def block_inputs(kind: str, s: dict, d: dict, rng: np.random.Generator) -> dict:
    """Arguments of a fused block kernel: x, the filters in storage type, BN pairs in float32, poisoned
    y, and the image height and width."""
    dt = d["DTYPE"]
    n, h, w, c = s["N"], s["H"], s["W"], s["C"]
    p = make_params(kind, c, d["EXP"], rng)
    x = store(rng.standard_normal((n, h, w, c)), dt)
    return {"x": x, "wg": store(kernel_filter(p["wg"]), dt), "bng": p["bng"], "we": store(p["we"], dt),
            "bne": p["bne"], "wp": store(p["wp"], dt), "bnp": p["bnp"], "y": poisoned((n, h, w, c), dt),
            "hin": np.uint32(h), "win": np.uint32(w)}


def block_params(a: dict, dt: str) -> dict:
    """float64 parameters back from a kernel's arguments (storage decoded, filter in PyTorch order)."""
    wg = load(a["wg"], dt)
    return {"wg": wg.transpose(0, 3, 1, 2), "bng": np.asarray(a["bng"], np.float64),
            "we": load(a["we"], dt), "bne": np.asarray(a["bne"], np.float64), "wp": load(a["wp"], dt),
            "bnp": np.asarray(a["bnp"], np.float64)}


def block_reference(kind: str, a: dict, d: dict) -> dict:
    dt = d["DTYPE"]
    return {"y": forward(kind, load(a["x"], dt), block_params(a, dt))}


def block_scale(kind: str, a: dict, d: dict) -> dict:
    dt = d["DTYPE"]
    return {"y": error_scale(kind, load(a["x"], dt), block_params(a, dt), dt)}


LAYERS = ("grouped", "expand", "project")


def layer_inputs(kind: str, s: dict, d: dict, rng: np.random.Generator) -> dict:
    """Arguments of an unfused layer kernel at size s (N, H, W, C and, for the 1×1 layers, K):
    grouped_conv3x3 (x, wg, bn, y, hin, win, cin) or pointwise_bn (x, w, bn, r, y, npix, cin, cout)."""
    dt = d["DTYPE"]
    n, h, w, c = s["N"], s["H"], s["W"], s["C"]
    x = store(rng.standard_normal((n, h, w, c)), dt)
    sb = np.stack([rng.uniform(0.5, 1.5, s.get("K", c)), rng.normal(0.0, 0.2, s.get("K", c))], 1).astype(np.float32)
    if kind == "grouped":
        wg = (rng.standard_normal((c, GROUP, 3, 3)) / np.sqrt(9 * GROUP)).astype(np.float32)
        return {"x": x, "wg": store(kernel_filter(wg), dt), "bn": sb, "y": poisoned((n, h, w, c), dt),
                "hin": np.uint32(h), "win": np.uint32(w), "cin": np.uint32(c)}
    k = s["K"]
    wt = (rng.standard_normal((k, c)) / np.sqrt(c)).astype(np.float32)
    r = store(rng.standard_normal((n, h, w, k)), dt) if kind == "project" else np.zeros(1, np.uint16)
    return {"x": x, "w": store(wt, dt), "bn": sb, "r": r, "y": poisoned((n, h, w, k), dt),
            "npix": np.uint32(n * h * w), "cin": np.uint32(c), "cout": np.uint32(k)}


def layer_forward(kind: str, a: dict, d: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(y, pre-activation, |s|·Σ|w||x|) of an unfused layer in float64; ACT (grouped) or the kind
    says whether SiLU follows."""
    dt = d["DTYPE"]
    x = load(a["x"], dt)
    sb = np.asarray(a["bn"], np.float64)
    if kind == "grouped":
        w = load(a["wg"], dt).transpose(0, 3, 1, 2)
        pre, sums = bn(grouped3x3(x, w), sb), np.abs(sb[:, 0]) * grouped3x3(np.abs(x), np.abs(w))
        return (silu(pre) if d["ACT"] else pre), pre, sums
    w = load(a["w"], dt)
    pre, sums = bn(pointwise(x, w), sb), np.abs(sb[:, 0]) * pointwise(np.abs(x), np.abs(w))
    if kind == "expand":
        return silu(pre), pre, sums
    return load(a["r"], dt) + pre, pre, sums


def layer_error_scale(kind: str, a: dict, d: dict) -> np.ndarray:
    y, pre, sums = layer_forward(kind, a, d)
    terms = 72 if kind == "grouped" else int(a["cin"])
    act = bool(d["ACT"]) if kind == "grouped" else kind == "expand"
    return layer_scale(y, pre, sums, terms, act, d["DTYPE"])


def block_flops(kind: str, s: dict, exp: int = 4) -> float:
    """Useful FLOPs: 2·N·H·W·(72·Cg + 2·C·EXP·C), Cg = channels of the grouped convolution."""
    c = s["C"]
    cg = c if kind == "convfirst" else exp * c
    return 2.0 * s["N"] * s["H"] * s["W"] * (9 * GROUP * cg + 2 * c * exp * c)


def block_nbytes(kind: str, s: dict, exp: int = 4, elem: int = 2) -> float:
    """Compulsory DRAM bytes of the fused block: x read once, y written once, filters and BN pairs."""
    c = s["C"]
    cg = c if kind == "convfirst" else exp * c
    act = 2.0 * s["N"] * s["H"] * s["W"] * c * elem
    return act + elem * (9 * GROUP * cg + 2 * c * exp * c) + 8.0 * (cg + exp * c + c)
