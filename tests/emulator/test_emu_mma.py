"""Every mma.sync form against numpy, with fragment layouts transcribed from the PTX ISA's tables
("Matrix fragments for mma.m16n8k*"): written out element by element here, independently of the
emulator's compact formulas."""

from __future__ import annotations

import numpy as np
import pytest

from sass_lab.emulator import emulate


def isa_layout(shape: str, kind: str, which: str, i: int, g: int, t: int) -> tuple[int, int]:
    """(row, col) of element i held by the lane with groupID g and threadID_in_group t."""
    if which == "c":
        if shape.startswith("m8"):
            return g, t * 2 + (i & 1)
        return (g if i < 2 else g + 8), t * 2 + (i & 1)
    if kind in ("f16", "bf16"):
        if which == "a":
            row = g if i in (0, 1, 4, 5) else g + 8
            col = t * 2 + (i & 1) + (8 if i >= 4 else 0)
            return row, col
        return t * 2 + (i & 1) + (8 if i >= 2 else 0), g
    if kind == "tf32":
        if which == "a":
            return (g if i in (0, 2) else g + 8), (t if i < 2 else t + 4)
        return (t if i == 0 else t + 4), g
    if kind == "f64":
        return (g, t) if which == "a" else (t, g)
    per = 4 if kind in ("s8", "u8") else 8
    if shape.startswith("m8"):
        return (g, t * per + i) if which == "a" else (t * per + i, g)
    if which == "a":
        row = g if (i // per) % 2 == 0 else g + 8
        col = t * per + (i % per) + (4 * per if i >= 2 * per else 0)
        return row, col
    return t * per + (i % per) + (4 * per if i >= per else 0), g


FORMS = [  # shape, D, A, B, C
    ("m16n8k16", "f32", "f16", "f16", "f32"), ("m16n8k16", "f16", "f16", "f16", "f16"),
    ("m16n8k16", "f32", "f16", "f16", "f16"), ("m16n8k16", "f16", "f16", "f16", "f32"),
    ("m16n8k8", "f32", "f16", "f16", "f32"), ("m16n8k8", "f16", "f16", "f16", "f16"),
    ("m16n8k16", "f32", "bf16", "bf16", "f32"), ("m16n8k8", "f32", "bf16", "bf16", "f32"),
    ("m16n8k8", "f32", "tf32", "tf32", "f32"), ("m16n8k4", "f32", "tf32", "tf32", "f32"),
    ("m16n8k32", "s32", "s8", "s8", "s32"), ("m16n8k32", "s32", "u8", "s8", "s32"),
    ("m16n8k16", "s32", "s8", "u8", "s32"), ("m8n8k16", "s32", "u8", "u8", "s32"),
    ("m16n8k64", "s32", "s4", "s4", "s32"), ("m16n8k32", "s32", "u4", "s4", "s32"),
    ("m8n8k32", "s32", "s4", "u4", "s32"), ("m8n8k4", "f64", "f64", "f64", "f64"),
]
PER = {"f16": 2, "bf16": 2, "tf32": 1, "f32": 1, "s32": 1, "f64": 1, "s8": 4, "u8": 4, "s4": 8, "u4": 8}


def sample(kind: str, shape, rng):
    if kind in ("s8", "u8", "s4", "u4"):
        bits = 8 if kind[1] == "8" else 4
        lo, hi = (-(1 << (bits - 1)), 1 << (bits - 1)) if kind[0] == "s" else (0, 1 << bits)
        return rng.integers(lo, hi, shape)
    if kind == "s32":
        return rng.integers(-1000, 1000, shape)
    x = rng.standard_normal(shape)
    if kind == "f16":
        return x.astype(np.float16).astype(np.float64)
    if kind == "bf16":
        return ((x.astype(np.float32).view(np.uint32) >> 16) << 16).astype(np.uint32).view(np.float32).astype(np.float64)
    if kind == "tf32":
        return (x.astype(np.float32).view(np.uint32) & 0xFFFFE000).astype(np.uint32).view(np.float32).astype(np.float64)
    return x.astype(np.float32).astype(np.float64) if kind == "f32" else x


def pack(kind: str, vals: list) -> int | float:
    """Elements (low first) → one register's bits."""
    if kind == "f64":
        return vals[0]
    if kind in ("f16",):
        return sum(int(np.float16(v).view(np.uint16)) << (16 * j) for j, v in enumerate(vals))
    if kind == "bf16":
        return sum(int(np.float32(v).view(np.uint32) >> 16) << (16 * j) for j, v in enumerate(vals))
    if kind in ("f32", "tf32"):
        return int(np.float32(vals[0]).view(np.uint32))
    if kind == "s32":
        return int(vals[0]) & 0xFFFFFFFF
    bits = 8 if kind[1] == "8" else 4
    return sum((int(v) & ((1 << bits) - 1)) << (bits * j) for j, v in enumerate(vals))


def fragments(mat, kind, shape, which) -> np.ndarray:
    rows, cols = mat.shape
    n = rows * cols // 32
    per = PER[kind]
    out = []
    for lane in range(32):
        g, t = lane >> 2, lane & 3
        elems = [mat[isa_layout(shape, kind, which, i, g, t)] for i in range(n)]
        out.append([pack(kind, elems[r * per:(r + 1) * per]) for r in range(n // per)])
    return np.array(out, np.float64 if kind == "f64" else np.uint32)


def kernel_ptx(form, na, nb, nc, nd) -> str:
    shape, d, a, b, c = form
    f64 = a == "f64"
    rt, sz = (".f64", 8) if f64 else (".b32", 4)
    regs = ", ".join(f"%x{j}" for j in range(na + nb + nc + nd))
    loads, k = [], 0
    for name, cnt in (("a", na), ("b", nb), ("c", nc)):
        for _ in range(cnt):
            loads.append(f"ld.global{rt} %x{k}, [%rd{name}+{(k - (0 if name == 'a' else na if name == 'b' else na + nb)) * 32 * sz}];")
            k += 1
    sets = [", ".join(f"%x{j}" for j in range(s, s + n)) for s, n in ((na + nb + nc, nd), (0, na), (na, nb), (na + nb, nc))]
    stores = [f"st.global{rt} [%rdd+{j * 32 * sz}], %x{na + nb + nc + j};" for j in range(nd)]
    del regs
    return f""".version 8.0
.target sm_80
.address_size 64
.visible .entry k(.param .u64 pa, .param .u64 pb, .param .u64 pc, .param .u64 pd)
{{
    .reg {rt} %x<{na + nb + nc + nd}>;
    .reg .b32 %t;
    .reg .b64 %rda, %rdb, %rdc, %rdd, %off;
    mov.u32 %t, %tid.x;
    mul.wide.u32 %off, %t, {sz};
    ld.param.u64 %rda, [pa]; add.s64 %rda, %rda, %off;
    ld.param.u64 %rdb, [pb]; add.s64 %rdb, %rdb, %off;
    ld.param.u64 %rdc, [pc]; add.s64 %rdc, %rdc, %off;
    ld.param.u64 %rdd, [pd]; add.s64 %rdd, %rdd, %off;
    {' '.join(loads)}
    mma.sync.aligned.{shape}.row.col.{d}.{a}.{b}.{c} {{{sets[0]}}}, {{{sets[1]}}}, {{{sets[2]}}}, {{{sets[3]}}};
    {' '.join(stores)}
    ret;
}}
"""


@pytest.mark.parametrize("form", FORMS, ids=lambda f: ".".join(f))
def test_mma_form_against_numpy(form):
    shape, d, a, b, c = form
    M, K = int(shape[1:shape.index("n")]), int(shape.split("k")[1])
    rng = np.random.default_rng(hash(form) % 2**32)
    A, B, C = sample(a, (M, K), rng), sample(b, (K, 8), rng), sample(c, (M, 8), rng)
    fa, fb, fc = fragments(A, a, shape, "a"), fragments(B, b, shape, "b"), fragments(C, c, shape, "c")
    nd = (M * 8 // 32) // PER[d]
    out = np.zeros((nd, 32), np.float64 if d == "f64" else np.uint32)
    emulate(kernel_ptx(form, fa.shape[1], fb.shape[1], fc.shape[1], nd), "k", 1, 32,
            [np.ascontiguousarray(fa.T), np.ascontiguousarray(fb.T), np.ascontiguousarray(fc.T), out])
    want = A.astype(np.float64 if d != "s32" else np.int64) @ B + C
    got = np.zeros((M, 8))
    for lane in range(32):
        g, t = lane >> 2, lane & 3
        for i in range(M * 8 // 32):
            r = out[i // PER[d], lane]
            if d == "f16":
                v = float(np.uint16((int(r) >> (16 * (i % 2))) & 0xFFFF).view(np.float16))
            elif d == "f32":
                v = float(np.uint32(r).view(np.float32))
            elif d == "s32":
                v = float(np.uint32(r).view(np.int32))
            else:
                v = float(r)
            got[isa_layout(shape, d, "c", i, g, t)] = v
    if d == "s32":
        np.testing.assert_array_equal(got, want)
    else:
        rtol = {"f16": 1e-3, "f32": 1e-6, "f64": 1e-15}[d]
        np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol)


def test_integer_mma_wraps_or_saturates():
    form = ("m8n8k16", "s32", "s8", "s8", "s32")
    A = np.full((8, 16), 127)
    B = np.full((16, 8), 127)
    C = np.full((8, 8), 2**31 - 1 - 1000)
    args = [np.ascontiguousarray(fragments(m, k, form[0], w).T) for m, k, w in ((A, "s8", "a"), (B, "s8", "b"),
                                                                                 (C, "s32", "c"))]
    for sat, want in ((False, (2**31 - 1 - 1000 + 16 * 127 * 127) - 2**32), (True, 2**31 - 1)):
        out = np.zeros((2, 32), np.uint32)
        ptx = kernel_ptx(form, 1, 1, 2, 2)
        if sat:
            ptx = ptx.replace(".row.col.s32", ".row.col.satfinite.s32")
        emulate(ptx, "k", 1, 32, [*args, out])
        assert (out.view(np.int32) == want).all()
