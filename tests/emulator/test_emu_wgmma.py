"""wgmma.mma_async on the emulator against numpy: every dtype, swizzle and major-ness, A from
registers, f16 accumulators, scale-d, and the async findings (missing fences, early reads)."""

from __future__ import annotations

import numpy as np
import pytest
from hopperkit import HEAD, a_rc, acc_rc, random_bits, wgmma_kernel

from sass_lab.emulator import EmulatorCheckError, emulate
from sass_lab.hw.smem import SmemDescriptor, canonical, swizzle, tile_offsets
from sass_lab.hw.wgmma import ELEM_BYTES, FLOAT_N, INT_N, K_OF, decode

B_OFF = 16384
IMG = 65536
NP = {1: np.uint8, 2: np.uint16, 4: np.uint32}


def image(mat_bits: np.ndarray, k_major: bool, mode: str, base: int, img: np.ndarray) -> tuple[int, int]:
    """Write a rows × K tile of element bits at ``base`` in the canonical layout; return (LBO, SBO)."""
    rows, k = mat_bits.shape
    eb = mat_bits.dtype.itemsize
    offs = swizzle(base + tile_offsets(rows, k, eb, k_major, mode), mode)
    img[offs.ravel()[:, None] + np.arange(eb)] = mat_bits.reshape(-1, 1).view(np.uint8).reshape(-1, eb)
    return canonical(rows, k, eb, k_major, mode)


def run(atype, btype, dtype, n, mode_a, mode_b, ka, kb, regs_a=False, scale_d=1, neg_a=False, seed=0, sat=False,
        **kw):
    rng = np.random.default_rng(seed)
    k = K_OF[atype]
    eb = ELEM_BYTES[atype]
    A = random_bits(rng, (64, k), atype)
    B = random_bits(rng, (n, k), btype)
    img = np.zeros(IMG, np.uint8)
    la, sa = image(A, ka, mode_a, 0, img)
    lb, sbo = image(B, kb, mode_b, B_OFF, img)
    da = SmemDescriptor(0, la, sa, mode_a).encode()
    db = SmemDescriptor(B_OFF, lb, sbo, mode_b).encode()
    frag = np.zeros((128, 4), np.uint32)
    if regs_a:
        per = 4 // eb
        for t in range(128):
            for j in range(4):
                w = 0
                for h in range(per):
                    r, c = a_rc(t, j, h, eb)
                    w |= int(A[r, c]) << (8 * eb * h)
                frag[t, j] = w
    f16acc = dtype == "f16"
    nacc = n // 4 if f16acc else n // 2
    if dtype == "s32":  # within 2^16 of ±2^31: many sums wrap (or saturate)
        Cm = (rng.choice([-1, 1], (64, n)) * ((1 << 31) - rng.integers(1, 1 << 16, (64, n)))).astype(np.int32)
    else:
        Cm = rng.standard_normal((64, n)).astype(np.float16 if f16acc else np.float32)
    t, i = np.meshgrid(np.arange(128), np.arange(n // 2), indexing="ij")
    r, c = acc_rc(t, i)  # acc_rc is plain arithmetic: it maps whole index arrays
    if f16acc:
        h = Cm[r, c].view(np.uint16).astype(np.uint32)
        out = h[:, 0::2] | (h[:, 1::2] << np.uint32(16))
    else:
        out = np.ascontiguousarray(Cm[r, c].view(np.uint32))
    trans = "" if atype not in ("f16", "bf16") else (f", {int(not kb)}" if regs_a else f", {int(not ka)}, {int(not kb)}")
    imms = "" if dtype == "s32" else f", {-1 if neg_a else 1}, 1{trans}"  # integers take no scale-a/b
    mma = f"wgmma.mma_async.sync.aligned.m64n{n}k{k}{'.satfinite' if sat else ''}.{dtype}.{atype}.{btype} {{acc}}, {{a}}, {{b}}, {{sd}}{imms}"
    ptx = wgmma_kernel(mma, nacc, IMG, regs_a, f16acc=f16acc, **kw)
    rep = emulate(ptx, "k", 1, 128, [img, out, np.uint64(da), np.uint64(db), frag.reshape(-1), np.uint32(scale_d)])
    D = np.zeros((64, n), np.float64)
    if f16acc:
        D[r, c] = np.stack([out & np.uint32(0xFFFF), out >> np.uint32(16)], -1).reshape(128, -1).astype(
            np.uint16).view(np.float16)
    else:
        D[r, c] = out.view(np.int32 if dtype == "s32" else np.float32)
    if dtype == "s32":  # exact, wrapping modulo 2^32
        want = decode(A, atype) @ decode(B, btype).T + (Cm.astype(np.int64) if scale_d else 0)
        if sat:
            return D, np.clip(want, -(1 << 31), (1 << 31) - 1).astype(np.float64), rep
        return D, ((want + (1 << 31)) % (1 << 32) - (1 << 31)).astype(np.float64), rep
    want = (-1 if neg_a else 1) * decode(A, atype) @ decode(B, btype).T + (Cm.astype(np.float64) if scale_d else 0)
    return D, want, rep


CASES = [("f16", "f16", "f32"), ("f16", "f16", "f16"), ("bf16", "bf16", "f32"), ("tf32", "tf32", "f32"),
         ("e4m3", "e4m3", "f32"), ("e5m2", "e4m3", "f16"), ("e5m2", "e5m2", "f32")]


@pytest.mark.parametrize("atype,btype,dtype", CASES)
@pytest.mark.parametrize("mode", ["none", "32B", "64B", "128B"])
def test_wgmma_k_major_every_type_and_swizzle(atype, btype, dtype, mode):
    D, want, _ = run(atype, btype, dtype, 32, mode, mode, True, True, seed=len(mode))
    tol = 2e-3 if dtype == "f16" else 1e-5
    np.testing.assert_allclose(D, want, rtol=tol, atol=tol * np.abs(want).max())


@pytest.mark.parametrize("mode_a,mode_b", [("none", "128B"), ("128B", "64B"), ("32B", "none"), ("64B", "32B")])
@pytest.mark.parametrize("ka,kb", [(False, False), (True, False), (False, True)])
def test_wgmma_mn_major_16_bit(mode_a, mode_b, ka, kb):
    D, want, _ = run("bf16", "bf16", "f32", 64, mode_a, mode_b, ka, kb, seed=3)
    np.testing.assert_allclose(D, want, rtol=1e-5, atol=1e-5 * np.abs(want).max())


@pytest.mark.parametrize("atype,dtype,kb", [("bf16", "f32", True), ("f16", "f16", False), ("tf32", "f32", True),
                                            ("e4m3", "f32", True)])
def test_wgmma_a_from_registers(atype, dtype, kb):
    D, want, _ = run(atype, atype, dtype, 24, "none", "128B", True, kb, regs_a=True, seed=5)
    tol = 2e-3 if dtype == "f16" else 1e-5
    np.testing.assert_allclose(D, want, rtol=tol, atol=tol * np.abs(want).max())


@pytest.mark.parametrize("n", [8, 128, 256])
def test_wgmma_scale_d_and_negation(n):
    D, want, _ = run("bf16", "bf16", "f32", n, "128B", "128B", True, True, scale_d=0, neg_a=True, seed=n)
    np.testing.assert_allclose(D, want, rtol=1e-5, atol=1e-5 * np.abs(want).max())


@pytest.mark.no_wave_audit  # one block of 128 threads: every wave size runs it alike
def test_wgmma_every_legal_n():
    """Each of the 32 float N (8..256 step 8) and the 14 integer N: the accumulator fragment and the
    B tile of every width land where numpy says (an N the ISA forbids is refused in test_wgmma_math)."""
    for n in FLOAT_N:
        D, want, _ = run("bf16", "bf16", "f32", n, "128B", "64B", True, True, seed=n)
        np.testing.assert_allclose(D, want, rtol=1e-5, atol=1e-5 * np.abs(want).max(), err_msg=f"N={n}")
    for n in INT_N:
        D, want, _ = run("s8", "u8", "s32", n, "32B", "128B", True, True, seed=n)
        np.testing.assert_array_equal(D, want, err_msg=f"N={n}")


@pytest.mark.parametrize("atype,btype", [("s8", "s8"), ("u8", "s8"), ("s8", "u8"), ("u8", "u8")])
@pytest.mark.parametrize("regs_a", [False, True])
@pytest.mark.parametrize("sat", [False, True])
def test_wgmma_integer_exact_wrapping_or_saturating(atype, btype, regs_a, sat):
    D, want, _ = run(atype, btype, "s32", 48, "none" if regs_a else "64B", "128B", True, True, regs_a=regs_a, seed=4,
                     sat=sat)
    np.testing.assert_array_equal(D, want)
    assert (np.abs(want) == 2 ** 31 - (want > 0)).sum() > 100 if sat else True  # many sums saturated


def test_a_wrong_sbo_gives_the_wrong_numbers_the_gpu_would():
    """The descriptor is read as the hardware reads it: the B descriptor with SBO off by one core
    matrix reads the wrong rows (no finding: the memory is valid, the layout is the program's)."""
    rng = np.random.default_rng(9)
    n = 32
    A = random_bits(rng, (64, 16), "bf16")
    B = random_bits(rng, (n, 16), "bf16")
    img = np.zeros(IMG, np.uint8)
    la, sa = image(A, True, "128B", 0, img)
    lb, sb = image(B, True, "128B", B_OFF, img)
    ptx = wgmma_kernel("wgmma.mma_async.sync.aligned.m64n32k16.f32.bf16.bf16 {acc}, {a}, {b}, {sd}, 1, 1, 0, 0",
                       16, IMG, False)
    outs = []
    for sbo in (sb, sb + 128):
        out = np.zeros((128, 16), np.uint32)
        emulate(ptx, "k", 1, 128, [img, out, np.uint64(SmemDescriptor(0, la, sa, "128B").encode()),
                                   np.uint64(SmemDescriptor(B_OFF, lb, sbo, "128B").encode()),
                                   np.zeros(512, np.uint32), np.uint32(0)])
        outs.append(out.view(np.float32))
    good = decode(A, "bf16") @ decode(B, "bf16").T
    got = np.zeros((64, n))
    for t in range(128):
        for i in range(16):
            got[acc_rc(t, i)] = outs[0][t, i]
    np.testing.assert_allclose(got, good, rtol=1e-5, atol=1e-5)
    assert not np.allclose(outs[0], outs[1])


def test_a_swizzle_mismatch_gives_wrong_numbers():
    """B written in the 128B pattern (as a TMA box with the 128B swizzle lands) but described as 64B: the
    descriptor reads permuted 16-byte chunks, so the product is wrong, with no finding (every byte read is
    valid memory; the layout is the program's). The same tile described as 128B is right."""
    rng = np.random.default_rng(12)
    A = random_bits(rng, (64, 16), "bf16")
    B = random_bits(rng, (32, 16), "bf16")
    img = np.zeros(IMG, np.uint8)
    la, sa = image(A, True, "128B", 0, img)
    lb, sb = image(B, True, "128B", B_OFF, img)
    ptx = wgmma_kernel("wgmma.mma_async.sync.aligned.m64n32k16.f32.bf16.bf16 {acc}, {a}, {b}, {sd}, 1, 1, 0, 0",
                       16, IMG, False)
    good = decode(A, "bf16") @ decode(B, "bf16").T
    errs = {}
    for mode in ("128B", "64B"):
        out = np.zeros((128, 16), np.uint32)
        rep = emulate(ptx, "k", 1, 128, [img, out, np.uint64(SmemDescriptor(0, la, sa, "128B").encode()),
                                         np.uint64(SmemDescriptor(B_OFF, lb, sb, mode).encode()),
                                         np.zeros(512, np.uint32), np.uint32(0)])
        t, i = np.meshgrid(np.arange(128), np.arange(16), indexing="ij")
        got = np.zeros((64, 32))
        got[acc_rc(t, i)] = out.view(np.float32)
        errs[mode] = np.abs(got - good).max() / np.abs(good).max()
        assert rep.ok
    assert errs["128B"] < 1e-6 and errs["64B"] > 0.1, errs


def findings(**kw):
    with pytest.raises(EmulatorCheckError) as e:
        run("bf16", "bf16", "f32", 16, "128B", "128B", True, True, **kw)
    return {f.kind: f for f in e.value.findings}


def test_missing_fence_proxy_async_is_a_finding():
    f = findings(fence_proxy=False)["fence-proxy-async"]
    assert "wrote with an ordinary store and no fence.proxy.async" in f.message and "'sm'" in f.message


def test_missing_wgmma_fence_is_a_finding():
    assert "wgmma.fence" in findings(fence_wgmma=False)["wgmma-fence"].message


def test_reading_accumulators_before_wait_group_is_a_finding():
    f = findings(read_early=True)["wgmma-async"]
    assert "reads %d0" in f.message and "wgmma.wait_group" in f.message and f.instruction.startswith("st.global")


def test_a_partial_warpgroup_is_a_finding():
    ptx = wgmma_kernel("wgmma.mma_async.sync.aligned.m64n8k16.f32.bf16.bf16 {acc}, {a}, {b}, {sd}, 1, 1, 0, 0",
                       4, 1024, False)
    with pytest.raises(EmulatorCheckError) as e:
        emulate(ptx, "k", 1, 96, [np.zeros(1024, np.uint8), np.zeros(512, np.uint32), np.uint64(1 << 62 | 64 << 32 | 1),
                                  np.uint64(1 << 62 | 64 << 32 | 1), np.zeros(512, np.uint32), np.uint32(0)])
    assert any("whole warpgroup of 128 threads" in f.message for f in e.value.findings)


def setmaxnreg_kernel(dec: int, inc: int, only_warp0: bool = False) -> str:
    """k(out): warpgroup 0 gives registers back (setmaxnreg.dec), the others take them (.inc); each
    thread then writes its warpgroup index (``only_warp0``: just warp 0 of each warpgroup runs it)."""
    skip = "    and.b32 %r3, %r0, 127;\n    setp.ge.u32 %p1, %r3, 32;\n    @%p1 bra STORE;\n" if only_warp0 else ""
    return HEAD + f""".visible .entry k(.param .u64 out)
{{
    .reg .pred %p<4>;
    .reg .b32 %r<8>;
    .reg .b64 %rd<4>;
    mov.u32 %r0, %tid.x;
    shr.u32 %r1, %r0, 7;
{skip}    setp.ne.u32 %p0, %r1, 0;
    @%p0 bra CONSUMER;
    setmaxnreg.dec.sync.aligned.u32 {dec};
    bra STORE;
CONSUMER:
    setmaxnreg.inc.sync.aligned.u32 {inc};
STORE:
    ld.param.u64 %rd0, [out];
    mul.wide.u32 %rd1, %r0, 4;
    add.s64 %rd2, %rd0, %rd1;
    st.global.u32 [%rd2], %r1;
    ret;
}}
"""


def test_setmaxnreg_legal_counts_run_without_findings():
    out = np.zeros(384, np.uint32)
    rep = emulate(setmaxnreg_kernel(40, 232), "k", 1, 384, [out])
    assert rep.ok and (out == np.arange(384) // 128).all()
    assert emulate(setmaxnreg_kernel(24, 256), "k", 1, 256, [np.zeros(256, np.uint32)]).ok


@pytest.mark.parametrize("dec,inc,block,only_warp0,kind,words", [
    (40, 236, 384, False, "setmaxnreg", "setmaxnreg 236: the count must be a multiple of 8 in [24, 256]"),
    (16, 232, 384, False, "setmaxnreg", "setmaxnreg 16: the count must be a multiple of 8 in [24, 256]"),
    (40, 264, 384, False, "setmaxnreg", "setmaxnreg 264"),
    (40, 232, 192, False, "setmaxnreg", "needs a whole warpgroup of 128 threads, but the block has 192"),
    (40, 232, 256, True, "setmaxnreg", "live but not executing it with the others"),
])
def test_setmaxnreg_misuse_is_a_finding(dec, inc, block, only_warp0, kind, words):
    """A count outside [24, 256] or not a multiple of 8, a warpgroup the block does not fill, or one
    whose warps do not all execute it (the instruction is .sync.aligned over the warpgroup)."""
    with pytest.raises(EmulatorCheckError) as e:
        emulate(setmaxnreg_kernel(dec, inc, only_warp0), "k", 1, block, [np.zeros(block, np.uint32)])
    assert any(f.kind == kind and words in f.message for f in e.value.findings), [f.render() for f in e.value.findings]
