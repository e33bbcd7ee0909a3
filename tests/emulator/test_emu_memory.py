"""Memory spaces, atomics in thread order, cp.async, ldmatrix + mma, and module variables."""

from __future__ import annotations

import numpy as np
import pytest
from ptxkit import HEAD, kernel
from test_emu_instructions import LOAD, STORE, run

from sass_lab.emulator import EmulatorCheckError, emulate

N = 64
T = np.arange(N, dtype=np.uint32)


def _atomic_kernel(op: str, t: str = "u32", extra: str = "", space: str = "global") -> str:
    addr = "[%rd1]" if space == "global" else "[sA]"
    pre = "" if space == "global" else (
        "setp.eq.u32 %p1, %r0, 0; @%p1 st.shared.u32 [sA], %r5; bar.sync 0;"
    )
    post = "" if space == "global" else "bar.sync 0; ld.shared.u32 %r9, [sA]; st.global.u32 [%rd1+4], %r9;"
    return kernel("ld.global.u32 %r5, [%rd1];" + pre +
                  f"atom.{space}.{op}.{t} %r6, {addr}, {extra};" + post + STORE)


def _serial(init: int, fn, n: int = N):
    olds, cur = [], init
    for t in range(n):
        olds.append(cur)
        cur = fn(cur, t)
    return np.array(olds, np.uint64).astype(np.uint32), cur


ATOMS = {
    "add": ("%r0", lambda c, t: (c + t) & 0xFFFFFFFF),
    "exch": ("%r0", lambda c, t: t),
    "max": ("%r0", lambda c, t: max(c, t)),
    "min": ("%r0", lambda c, t: min(c, t)),
    "inc": ("5", lambda c, t: 0 if c >= 5 else c + 1),
    "dec": ("5", lambda c, t: 5 if c == 0 or c > 5 else c - 1),
    "or": ("%r0", lambda c, t: c | t),
    "xor": ("%r0", lambda c, t: c ^ t),
    "and": ("%r11", lambda c, t: c & (0xFFFFFFFF ^ ((1 << t) if t < 32 else 0))),  # %r11 = ~(1 << tid)
}


@pytest.mark.parametrize("space", ["global", "shared"])
@pytest.mark.parametrize("op", sorted(ATOMS))
def test_atomics_in_thread_order(op, space):
    extra, fn = ATOMS[op]
    init = 0xFFFFFFFF if op == "and" else 40
    if op == "and":
        body_extra = "shl.b32 %r11, 1, %r0; not.b32 %r11, %r11;"
        ptx = _atomic_kernel(op, "b32", "%r11", space).replace("ld.global.u32 %r5, [%rd1];",
                                                              "ld.global.u32 %r5, [%rd1];" + body_extra)
    else:
        ptx = _atomic_kernel(op, "u32", extra, space)
    out = np.zeros(N, np.uint32)
    buf = np.array([init, 0], np.uint32)
    emulate(ptx, "k", 1, N, [out, buf, np.uint32(N)])
    olds, final = _serial(init, fn)
    np.testing.assert_array_equal(out, olds)
    assert buf[1 if space == "shared" else 0] == final


def test_cas_chain_and_f32_add_order():
    ptx = kernel("add.u32 %r7, %r0, 1; atom.global.cas.b32 %r6, [%rd1], %r0, %r7;" + STORE)
    out, buf = np.zeros(N, np.uint32), np.zeros(1, np.uint32)
    emulate(ptx, "k", 1, N, [out, buf, np.uint32(0)])
    np.testing.assert_array_equal(out, T)
    assert buf[0] == N
    vals = np.random.default_rng(1).standard_normal(N).astype(np.float32) * 1e4
    ptx = kernel("ld.global.f32 %f1, [%rd4]; add.s64 %rd7, %rd1, 256; atom.global.add.f32 %f2, [%rd7], %f1;"
                 "st.global.f32 [%rd3], %f2;")
    buf = np.zeros(65, np.float32)
    buf[:N] = vals
    out = np.zeros(N, np.float32)
    emulate(ptx, "k", 1, N, [out, buf, np.uint32(0)])
    acc, olds = np.float32(0), []
    for v in vals:
        olds.append(acc)
        acc = np.float32(acc + v)
    np.testing.assert_array_equal(out, np.array(olds, np.float32))
    assert buf[64] == acc


def test_red_and_64bit_atomics():
    ptx = kernel("cvt.u64.u32 %rd7, %r0; red.global.add.u64 [%rd1], %rd7; atom.global.max.s32 %r6, [%rd1+8], %r0;")
    buf = np.zeros(3, np.uint64)
    emulate(ptx, "k", 2, N, [np.zeros(N, np.uint32), buf, np.uint32(0)])
    assert buf[0] == 2 * T.sum() and buf[1] == N - 1


def test_vector_loads_stores_and_cache_modifiers():
    body = ("shl.b32 %r7, %r0, 4; cvt.u64.u32 %rd7, %r7; add.s64 %rd8, %rd1, %rd7; add.s64 %rd9, %rd0, %rd7;"
            "ld.global.nc.v4.u32 {%r10, %r11, %r12, %r13}, [%rd8]; add.u32 %r10, %r10, %r13;"
            "st.global.cs.v2.u32 [%rd9], {%r11, %r10}; ld.global.cg.v2.u32 {%r14, _}, [%rd8+8];"
            "st.global.wb.u32 [%rd9+8], %r14;")
    src = np.arange(4 * N, dtype=np.uint32).reshape(N, 4)
    out = np.zeros((N, 4), np.uint32)
    emulate(kernel(body), "k", 1, N, [out, src, np.uint32(0)])
    np.testing.assert_array_equal(out[:, 0], src[:, 1])
    np.testing.assert_array_equal(out[:, 1], src[:, 0] + src[:, 3])
    np.testing.assert_array_equal(out[:, 2], src[:, 2])


def test_local_and_generic_addressing():
    ptx = HEAD.replace(".shared .align 16 .b8 sA[256];", ".shared .align 16 .b8 sA[256];\n"
                       ".local .align 8 .b8 depot[64];") + (
        "mov.u64 %rd10, depot; cvta.local.u64 %rd11, %rd10;"  # generic local
        "st.u32 [%rd11+12], %r0; ld.local.u32 %r6, [depot+12];"
        "cvt.u64.u32 %rd12, %r4; cvta.shared.u64 %rd13, %rd12;"  # generic shared
        "st.u32 [%rd13], %r6; bar.sync 0; ld.shared.u32 %r7, [%r4]; add.u32 %r6, %r6, %r7;"
        "cvta.to.shared.u64 %rd14, %rd13; cvt.u32.u64 %r8, %rd14; ld.shared.u32 %r9, [%r8]; add.u32 %r6, %r6, %r9;"
        + STORE + "ret; }")
    out = np.zeros(N, np.uint32)
    emulate(ptx, "k", 1, N, [out, np.zeros(N, np.uint32), np.uint32(0)])
    np.testing.assert_array_equal(out, 3 * T)


@pytest.mark.parametrize("src_size", ["16", "8", "0"])
def test_cp_async_with_zfill(src_size):
    body = ("shl.b32 %r7, %r0, 4; cvt.u64.u32 %rd7, %r7; add.s64 %rd8, %rd1, %rd7; add.s32 %r8, %r2, %r7;"
            f"cp.async.cg.shared.global [%r8], [%rd8], 16, {src_size}; cp.async.commit_group; cp.async.wait_group 0;"
            "bar.sync 0; ld.shared.v4.u32 {%r10, %r11, %r12, %r13}, [%r8]; add.u32 %r6, %r10, %r11;"
            "add.u32 %r6, %r6, %r12; add.u32 %r6, %r6, %r13;" + STORE)
    src = np.arange(4 * 16, dtype=np.uint32).reshape(16, 4) + 1
    out = np.zeros(16, np.uint32)
    emulate(kernel(body), "k", 1, 16, [out, src, np.uint32(0)])
    k = int(src_size) // 4
    np.testing.assert_array_equal(out, src[:, :k].sum(axis=1))


def test_cp_async_zfill_never_reads_out_of_bounds():
    # src-size 0 lanes point past the buffer: no finding, zeros land in shared
    body = ("setp.ge.u32 %p1, %r0, %r1; selp.u32 %r9, 0, 4, %p1; add.s32 %r8, %r2, %r3;"
            "cp.async.ca.shared.global [%r8], [%rd4], 4, %r9; cp.async.wait_all; bar.sync 0;"
            "ld.shared.u32 %r6, [%r8];" + STORE)
    out = np.full(32, 7, np.uint32)
    rep = emulate(kernel(body), "k", 1, 32, [out, np.arange(20, dtype=np.uint32) + 1, np.uint32(20)])
    assert rep.findings == ()
    np.testing.assert_array_equal(out, np.where(np.arange(32) < 20, np.arange(32) + 1, 0))



def test_cp_async_out_of_bounds_lanes_reported_once():
    # 16 lanes copy 16 bytes each from a 12-row source: the last 4 lanes read past its end (one finding
    # counting 4 lanes), the others copy their row; the bad lanes leave zeros in shared
    body = ("shl.b32 %r7, %r0, 4; cvt.u64.u32 %rd7, %r7; add.s64 %rd8, %rd1, %rd7; add.s32 %r8, %r2, %r7;"
            "st.shared.v4.u32 [%r8], {%r0, %r0, %r0, %r0}; bar.sync 0;"
            "cp.async.cg.shared.global [%r8], [%rd8], 16; cp.async.commit_group; cp.async.wait_group 0;"
            "bar.sync 0; ld.shared.v4.u32 {%r10, %r11, %r12, %r13}, [%r8]; add.u32 %r6, %r10, %r11;"
            "add.u32 %r6, %r6, %r12; add.u32 %r6, %r6, %r13;" + STORE)
    src = np.arange(4 * 12, dtype=np.uint32).reshape(12, 4) + 1
    out = np.zeros(16, np.uint32)
    with pytest.raises(EmulatorCheckError) as ei:
        emulate(kernel(body), "k", 1, 16, [out, src, np.uint32(0)])
    oob = [f for f in ei.value.findings if f.kind == "oob-global"]
    assert len(oob) == 1 and oob[0].count == 4 and oob[0].thread == (12, 0, 0)
    np.testing.assert_array_equal(out, np.concatenate([src.sum(axis=1), np.zeros(4, np.uint32)]))

MMA_PTX = HEAD + """
    .reg .b32 %a<4>; .reg .b32 %b<2>; .reg .f32 %d<4>;
    // A (16x16 f16, row-major) and B (16x8 f16, K x N row-major) into shared: 256 + 128 halves
    mov.u32 %r10, %r0;
    mov.u32 %r11, 0;
COPY:
    add.u32 %r12, %r10, %r11;
    cvt.u64.u32 %rd7, %r12; shl.b64 %rd7, %rd7, 1; add.s64 %rd8, %rd1, %rd7;
    ld.global.u16 %h1, [%rd8];
    shl.b32 %r13, %r12, 1; add.u32 %r14, %r2, %r13;
    setp.lt.u32 %p2, %r12, 384;
    @%p2 st.shared.u16 [%r14], %h1;
    add.u32 %r11, %r11, 32;
    setp.lt.u32 %p3, %r11, 384;
    @%p3 bra COPY;
    bar.sync 0;
    // ldmatrix.x4 for A: lane l -> &A[l % 16][(l / 16) * 8]
    and.b32 %r15, %r0, 15; shr.u32 %r16, %r0, 4; shl.b32 %r17, %r15, 5; shl.b32 %r18, %r16, 4;
    add.u32 %r19, %r17, %r18; add.u32 %r19, %r19, %r2;
    ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%a0, %a1, %a2, %a3}, [%r19];
    // ldmatrix.x2.trans for B: lane l (< 16) -> &B[l][0]
    shl.b32 %r20, %r15, 4; add.u32 %r20, %r20, 512; add.u32 %r20, %r20, %r2;
    ldmatrix.sync.aligned.m8n8.x2.trans.shared.b16 {%b0, %b1}, [%r20];
    mov.f32 %d0, 0f00000000; mov.f32 %d1, 0f00000000; mov.f32 %d2, 0f00000000; mov.f32 %d3, 0f3F800000;
    mma.sync.aligned.m16n8k16.row.col.f32.KIND.KIND.f32 {%d0, %d1, %d2, %d3}, {%a0, %a1, %a2, %a3}, {%b0, %b1},
        {%d0, %d1, %d2, %d3};
    // D layout: d0,d1 at (g, 2t), (g, 2t+1); d2,d3 at (g+8, ...)
    shr.u32 %r21, %r0, 2; and.b32 %r22, %r0, 3; shl.b32 %r22, %r22, 1; shl.b32 %r23, %r21, 3; add.u32 %r23, %r23, %r22;
    cvt.u64.u32 %rd9, %r23; shl.b64 %rd9, %rd9, 2; add.s64 %rd10, %rd0, %rd9;
    st.global.v2.f32 [%rd10], {%d0, %d1}; st.global.v2.f32 [%rd10+256], {%d2, %d3};
    ret;
}
"""


@pytest.mark.parametrize("kind", ["f16", "bf16"])
def test_ldmatrix_trans_and_mma(kind):
    rng = np.random.default_rng(5)
    A = rng.standard_normal((16, 16)).astype(np.float32)
    B = rng.standard_normal((16, 8)).astype(np.float32)
    if kind == "f16":
        bits = np.concatenate([A.astype(np.float16).ravel(), B.astype(np.float16).ravel()]).view(np.uint16)
        Aq, Bq = A.astype(np.float16).astype(np.float64), B.astype(np.float16).astype(np.float64)
    else:
        def bf(x):
            return (x.view(np.uint32) >> 16).astype(np.uint16)
        bits = np.concatenate([bf(A).ravel(), bf(B).ravel()])
        Aq = (bf(A).astype(np.uint32) << 16).view(np.float32).astype(np.float64)
        Bq = (bf(B).astype(np.uint32) << 16).view(np.float32).astype(np.float64)
    out = np.full((16, 8), np.nan, np.float32)
    emulate(MMA_PTX.replace("KIND", kind).replace("sA[256]", "sA[1024]"), "k", 1, 32, [out, bits, np.uint32(0)])
    # every lane's d3 (rows 8-15, odd columns) started at 1.0
    want = Aq @ Bq + np.where((np.arange(16)[:, None] >= 8) & (np.arange(8)[None, :] % 2 == 1), 1.0, 0.0)
    np.testing.assert_allclose(out, want, rtol=1e-5, atol=1e-5)


def test_mma_tf32_m16n8k8():
    ptx = HEAD + """
    .reg .b32 %a<4>; .reg .b32 %b<2>; .reg .f32 %d<4>;
    shr.u32 %r10, %r0, 2; and.b32 %r11, %r0, 3;
    // A is 16x8 f32 row-major at in[0..128), B is 8x8 (K x N) row-major at in[128..192)
    mad.lo.u32 %r12, %r10, 8, %r11; mul.wide.u32 %rd7, %r12, 4; add.s64 %rd8, %rd1, %rd7;
    ld.global.b32 %a0, [%rd8]; ld.global.b32 %a1, [%rd8+256]; ld.global.b32 %a2, [%rd8+16]; ld.global.b32 %a3, [%rd8+272];
    mad.lo.u32 %r13, %r11, 8, %r10; add.u32 %r13, %r13, 128; mul.wide.u32 %rd9, %r13, 4; add.s64 %rd10, %rd1, %rd9;
    ld.global.b32 %b0, [%rd10]; ld.global.b32 %b1, [%rd10+128];
    mov.f32 %d0, 0f00000000; mov.f32 %d1, 0f00000000; mov.f32 %d2, 0f00000000; mov.f32 %d3, 0f00000000;
    mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 {%d0, %d1, %d2, %d3}, {%a0, %a1, %a2, %a3}, {%b0, %b1},
        {%d0, %d1, %d2, %d3};
    shl.b32 %r22, %r11, 1; mad.lo.u32 %r23, %r10, 8, %r22;
    mul.wide.u32 %rd11, %r23, 4; add.s64 %rd12, %rd0, %rd11;
    st.global.v2.f32 [%rd12], {%d0, %d1}; st.global.v2.f32 [%rd12+256], {%d2, %d3};
    ret;
}
"""
    rng = np.random.default_rng(9)
    A = rng.standard_normal((16, 8)).astype(np.float32)
    B = rng.standard_normal((8, 8)).astype(np.float32)

    def tf32(x):
        return (x.view(np.uint32) & np.uint32(0xFFFFE000)).view(np.float32).astype(np.float64)
    out = np.full((16, 8), np.nan, np.float32)
    emulate(ptx, "k", 1, 32, [out, np.concatenate([A.ravel(), B.ravel()]), np.uint32(0)])
    np.testing.assert_allclose(out, tf32(A) @ tf32(B), rtol=1e-5, atol=1e-6)


def test_module_variables_const_and_dynamic_shared():
    ptx = """.version 8.0
.target sm_80
.address_size 64
.const .align 4 .u32 table[4] = {10, 20, 30, 40};
.global .align 4 .u32 counter;
.extern .shared .align 16 .b8 dyn[];
.visible .entry k(.param .u64 out_param)
{
    .reg .b32 %r<12>; .reg .b64 %rd<6>;
    mov.u32 %r0, %tid.x;
    and.b32 %r1, %r0, 3; shl.b32 %r2, %r1, 2; mov.u32 %r3, table; add.u32 %r3, %r3, %r2;
    ld.const.u32 %r4, [%r3];
    atom.global.add.u32 %r5, [counter], 1;
    shl.b32 %r6, %r0, 2; mov.u32 %r7, dyn; add.u32 %r7, %r7, %r6; st.shared.u32 [%r7], %r4;
    bar.sync 0;
    ld.shared.u32 %r8, [%r7]; ld.global.u32 %r9, [counter];
    add.u32 %r8, %r8, %r9;
    ld.param.u64 %rd0, [out_param]; mul.wide.u32 %rd1, %r0, 4; add.s64 %rd2, %rd0, %rd1;
    st.global.u32 [%rd2], %r8;
    ret;
}
"""
    out = np.zeros(64, np.uint32)
    emulate(ptx, "k", 1, 64, {"out_param": out}, dynamic_shared=256)
    np.testing.assert_array_equal(out, (np.arange(64) % 4 + 1) * 10 + 64)


def test_shared_address_of_symbol_and_uniform_loads():
    got = run(LOAD + "mov.u32 %r6, sA;" + STORE, T)
    assert (got == 0).all()
    got = run("ld.param.u32 %r6, [n_param];" + STORE, T)
    assert (got == N).all()


MMA_K8_PTX = HEAD.replace("sA[256]", "sA[1024]") + """
    .reg .b32 %a<2>; .reg .b32 %b<1>; .reg .f32 %d<4>;
    // A (16x8 f16 row-major, 128 halves) then B (8x8, K x N row-major, 64 halves) into shared
    mov.u32 %r11, 0;
COPY:
    add.u32 %r12, %r0, %r11;
    cvt.u64.u32 %rd7, %r12; shl.b64 %rd7, %rd7, 1; add.s64 %rd8, %rd1, %rd7;
    ld.global.u16 %h1, [%rd8];
    shl.b32 %r13, %r12, 1; add.u32 %r14, %r2, %r13;
    st.shared.u16 [%r14], %h1;
    add.u32 %r11, %r11, 32;
    setp.lt.u32 %p3, %r11, 192;
    @%p3 bra COPY;
    bar.sync 0;
    // ldmatrix.x2 for A: lane l (< 16) -> &A[l][0] (16-byte rows); x1.trans for B: lane l (< 8) -> &B[l][0]
    and.b32 %r15, %r0, 15; shl.b32 %r16, %r15, 4; add.u32 %r16, %r16, %r2;
    ldmatrix.sync.aligned.m8n8.x2.shared.b16 {%a0, %a1}, [%r16];
    and.b32 %r17, %r0, 7; shl.b32 %r18, %r17, 4; add.u32 %r18, %r18, 256; add.u32 %r18, %r18, %r2;
    ldmatrix.sync.aligned.m8n8.x1.trans.shared.b16 {%b0}, [%r18];
    mov.f32 %d0, 0f00000000; mov.f32 %d1, 0f00000000; mov.f32 %d2, 0f00000000; mov.f32 %d3, 0f00000000;
    mma.sync.aligned.m16n8k8.row.col.f32.f16.f16.f32 {%d0, %d1, %d2, %d3}, {%a0, %a1}, {%b0}, {%d0, %d1, %d2, %d3};
    shr.u32 %r21, %r0, 2; and.b32 %r22, %r0, 3; shl.b32 %r22, %r22, 1; shl.b32 %r23, %r21, 3; add.u32 %r23, %r23, %r22;
    cvt.u64.u32 %rd9, %r23; shl.b64 %rd9, %rd9, 2; add.s64 %rd10, %rd0, %rd9;
    st.global.v2.f32 [%rd10], {%d0, %d1}; st.global.v2.f32 [%rd10+256], {%d2, %d3};
    ret;
}
"""


def test_ldmatrix_x2_x1_and_mma_m16n8k8():
    rng = np.random.default_rng(11)
    A = rng.standard_normal((16, 8)).astype(np.float16)
    B = rng.standard_normal((8, 8)).astype(np.float16)
    out = np.full((16, 8), np.nan, np.float32)
    emulate(MMA_K8_PTX, "k", 1, 32, [out, np.concatenate([A.ravel(), B.ravel()]).view(np.uint16), np.uint32(0)])
    np.testing.assert_allclose(out, A.astype(np.float64) @ B.astype(np.float64), rtol=1e-5, atol=1e-5)


def test_clock_counts_steps():
    got = run("mov.u64 %rd5, %clock64; mov.u32 %r6, %clock; cvt.u32.u64 %r7, %rd5; sub.u32 %r6, %r6, %r7;" + STORE, T)
    assert (got == 1).all()


@pytest.mark.parametrize("trans", ["", ".trans"])
def test_stmatrix_inverts_ldmatrix(trans):
    # ldmatrix.x4 a 16x16 tile, stmatrix.x4 it to a second tile: the copy equals the original
    body = ("mov.u32 %r10, %r0; COPY: shl.b32 %r13, %r10, 1; add.u32 %r14, %r2, %r13;"
            "cvt.u64.u32 %rd7, %r13; add.s64 %rd8, %rd1, %rd7; ld.global.u16 %h1, [%rd8]; st.shared.u16 [%r14], %h1;"
            "add.u32 %r10, %r10, 32; setp.lt.u32 %p3, %r10, 256; @%p3 bra COPY; bar.sync 0;"
            "and.b32 %r15, %r0, 15; shr.u32 %r16, %r0, 4; shl.b32 %r17, %r15, 5; shl.b32 %r18, %r16, 4;"
            "add.u32 %r19, %r17, %r18; add.u32 %r20, %r19, %r2; add.u32 %r21, %r20, 512;"
            f"ldmatrix.sync.aligned.m8n8.x4{trans}.shared.b16 {{%r22, %r23, %r24, %r25}}, [%r20];"
            f"stmatrix.sync.aligned.m8n8.x4{trans}.shared.b16 [%r21], {{%r22, %r23, %r24, %r25}}; bar.sync 0;"
            "mov.u32 %r10, %r0; OUT: shl.b32 %r13, %r10, 1; add.u32 %r14, %r2, %r13; ld.shared.u16 %h2, [%r14+512];"
            "cvt.u64.u32 %rd9, %r13; add.s64 %rd10, %rd0, %rd9; st.global.u16 [%rd10], %h2;"
            "add.u32 %r10, %r10, 32; setp.lt.u32 %p4, %r10, 256; @%p4 bra OUT;")
    ptx = kernel(body).replace("sA[256]", "sA[1024]")
    src = np.arange(256, dtype=np.uint16) * 7 + 1
    out = np.zeros(256, np.uint16)
    emulate(ptx, "k", 1, 32, [out, src, np.uint32(0)])
    np.testing.assert_array_equal(out, src)


def _round_half(x: float, kind: str) -> int:
    """Bits of the f16/bf16 value nearest to ``x`` (ties to even), from the two candidates around it."""
    if kind == "f16":
        lo = np.float16(x)
        c = [lo, np.nextafter(lo, np.float16(np.inf)), np.nextafter(lo, np.float16(-np.inf))]
        vals = [(abs(float(v) - x), int(np.array(v).view(np.uint16)) & 1, int(np.array(v).view(np.uint16))) for v in c]
        return min(vals)[2]
    b = int(np.array(np.float32(x)).view(np.uint32)) >> 16  # truncation of a value exact in f32
    vals = [(abs(float(np.array(np.uint32(c << 16)).view(np.float32)) - x), c & 1, c) for c in (b, b + 1)]
    return min(vals)[2]


@pytest.mark.parametrize("t", ["f16", "bf16", "f16x2", "bf16x2"])
def test_half_atomic_add_noftz_in_thread_order(t):
    r = np.random.default_rng(3)
    kind = t[:-2] if t.endswith("x2") else t
    halves = 2 if t.endswith("x2") else 1
    vals = r.standard_normal((N, halves)).astype(np.float32)
    if kind == "f16":
        vals[::7] = np.float32(2.0 ** -24) * 3  # subnormal addends are kept (.noftz)
        bits = vals.astype(np.float16).view(np.uint16)
    else:
        bits = (vals.view(np.uint32) >> 16).astype(np.uint16)
    reg, load = ("%r7", "ld.global.u32 %r7, [%rd4];") if halves == 2 else ("%h1", "ld.global.u16 %h1, [%rd8];")
    store = "st.global.u32 [%rd3], %r6;" if halves == 2 else "st.global.u16 [%rd9], %h2;"
    dst = "%r6" if halves == 2 else "%h2"
    ptx = kernel("mul.wide.u32 %rd7, %r0, 2; add.s64 %rd8, %rd1, %rd7; add.s64 %rd9, %rd0, %rd7;" + load +
                 f"add.s64 %rd10, %rd1, 512; atom.global.add.noftz.{t} {dst}, [%rd10], {reg};" + store)
    buf = np.zeros(512 // 2 + 2, np.uint16)
    buf[:N * halves] = bits.reshape(-1)
    out = np.zeros(N * halves, np.uint16)
    emulate(ptx, "k", 1, N, [out, buf, np.uint32(0)])
    acc = [0, 0]
    olds = []
    for lane in range(N):
        olds.append(list(acc[:halves]))
        for h in range(halves):
            a = bits[lane, h]
            fa = float(np.array(a).view(np.float16)) if kind == "f16" else float(
                np.array(np.uint32(int(a) << 16)).view(np.float32))
            fo = float(np.array(np.uint16(acc[h])).view(np.float16)) if kind == "f16" else float(
                np.array(np.uint32(acc[h] << 16)).view(np.float32))
            acc[h] = _round_half(fo + fa, kind)
    np.testing.assert_array_equal(out, np.array(olds, np.uint16).reshape(-1))
    np.testing.assert_array_equal(buf[256:256 + halves], acc[:halves])


def test_half_atomics_need_noftz_add():
    from sass_lab.errors import EmulatorError

    with pytest.raises(EmulatorError, match="add.noftz on f16, bf16, f16x2 and bf16x2"):
        emulate(kernel("atom.global.max.bf16 %h1, [%rd1], %h2;"), "k", 1, 1, [np.zeros(1, np.uint32)] * 2 + [0])


CONST_PTR = """.version 9.0
.target sm_90
.address_size 64
.const .align 4 .b8 table[16] = {0, 0, 128, 63, 0, 0, 0, 64, 0, 0, 64, 64, 0, 0, 128, 64};
.func (.param .b32 r) pick(.param .b64 p, .param .b32 i)
{
    .reg .b64 %a<4>;
    .reg .b32 %k;
    .reg .f32 %v;
    ld.param.b64 %a0, [p];
    ld.param.b32 %k, [i];
    mul.wide.u32 %a1, %k, 4;
    add.s64 %a2, %a0, %a1;
    ld.f32 %v, [%a2];
    st.param.f32 [r], %v;
    ret;
}
.visible .entry k(.param .u64 out, .param .u32 wr)
{
    .reg .b64 %rd<6>;
    .reg .b32 %r<4>;
    .reg .f32 %f<2>;
    .reg .pred %p<3>;
    mov.u64 %rd1, table;
    cvta.const.u64 %rd2, %rd1;
    isspacep.const %p1, %rd2;
    isspacep.global %p2, %rd2;
    mov.u32 %r1, %tid.x;
    {
    .param .b64 param0;
    st.param.b64 [param0], %rd2;
    .param .b32 param1;
    st.param.b32 [param1], %r1;
    .param .b32 retval0;
    call.uni (retval0), pick, (param0, param1);
    ld.param.f32 %f1, [retval0];
    }
    selp.u32 %r2, 10, 0, %p1;
    selp.u32 %r3, 100, 0, %p2;
    cvt.rn.f32.u32 %f0, %r2;
    add.f32 %f1, %f1, %f0;
    cvt.rn.f32.u32 %f0, %r3;
    add.f32 %f1, %f1, %f0;
    ld.param.u64 %rd3, [out];
    cvta.to.global.u64 %rd3, %rd3;
    mul.wide.u32 %rd4, %r1, 4;
    add.s64 %rd5, %rd3, %rd4;
    st.global.f32 [%rd5], %f1;
    ld.param.u32 %r2, [wr];
    setp.ne.u32 %p1, %r2, 0;
    @%p1 st.f32 [%rd2], %f1;
    ret;
}
"""


def test_generic_pointer_to_constant_memory():
    """cvta.const (a pointer to __constant__ data, as nvcc -G and pointer-taking helpers make): loads
    through it read the bank, isspacep.const says so, a store through it is a bad address."""
    out = np.full(4, np.nan, np.float32)
    emulate(CONST_PTR, "k", 1, 4, [out, np.uint32(0)])
    np.testing.assert_array_equal(out, [11.0, 12.0, 13.0, 14.0])  # table + 10 (const, not global)
    with pytest.raises(EmulatorCheckError, match="constant memory, which is read-only"):
        emulate(CONST_PTR, "k", 1, 4, [out, np.uint32(1)])


def test_misaligned_local_and_param_accesses_are_findings():
    """The GPU faults on a misaligned local access; the emulator used to perform it (rounded down)."""
    body = """.local .align 8 .b8 buf[32];
    .reg .b64 %q<3>;
    mov.u64 %q1, 7;
    st.local.b64 [buf+4], %q1;
    ld.local.b64 %q2, [buf+4];
"""
    with pytest.raises(EmulatorCheckError, match="8-byte local store at offset 0x4 is not 8-byte aligned"):
        emulate(kernel(body), "k", 1, 1, [np.zeros(4, np.uint32), np.zeros(4, np.uint32), np.uint32(4)])
    rep = emulate(kernel(body), "k", 1, 1, [np.zeros(4, np.uint32), np.zeros(4, np.uint32), np.uint32(4)],
                  check=False)
    assert [f.kind for f in rep.findings] == ["misaligned", "misaligned"]
