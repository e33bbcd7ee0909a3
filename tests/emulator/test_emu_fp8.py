"""fp8 conversions (cvt to and from e4m3x2/e5m2x2) on the emulator against a brute-force reference:
nearest of every finite code, ties to the even code, saturation, NaN, relu, packing order."""

from __future__ import annotations

import numpy as np
import pytest
from hopperkit import HEAD

from sass_lab.emulator import emulate
from sass_lab.errors import EmulatorError
from sass_lab.hw.wgmma import E4M3, E5M2

TABLE = {"e4m3": E4M3, "e5m2": E5M2}


def reference(x: float, t: str, relu: bool) -> int:
    """By brute force over the codes 0x00-0x7F: the finite one nearest to |x| (ties: the even code),
    |x| beyond the largest finite value clamped to it, then the sign bit; NaN → 0x7F; relu: negatives
    (and -0) → 0."""
    if np.isnan(x):
        return 0x7F
    if relu and np.signbit(x):
        return 0
    tab = TABLE[t]
    pos = [c for c in range(128) if np.isfinite(tab[c])]
    mag = min(abs(x), max(tab[c] for c in pos))
    best = min(pos, key=lambda c: (abs(tab[c] - mag), c & 1))
    return best | (0x80 if np.signbit(x) else 0)


def values(t: str, rng) -> np.ndarray:
    tab = TABLE[t]
    fin = np.sort(np.unique(np.abs(tab[np.isfinite(tab)])))
    mids = (fin[:-1] + fin[1:]) / 2  # every tie between neighbours (exact in f32)
    near = np.concatenate([np.nextafter(mids.astype(np.float32), np.float32(np.inf)),
                           np.nextafter(mids.astype(np.float32), np.float32(-np.inf))])
    x = np.concatenate([fin, mids, near, rng.standard_normal(200) * 4, [fin[-1] * 1.01, fin[-1] * 1.1, 1e30, np.inf,
                        fin[1] / 2, fin[1] / 3, 0.0]]).astype(np.float32)
    x = np.concatenate([x, -x, [np.nan]]).astype(np.float32)
    return x if len(x) % 2 == 0 else np.append(x, np.float32(1.0))


def kernel(cvt: str, src: str, dst: str, nsrc: int) -> str:
    """k(in, out): thread t (of the grid) converts in[nsrc*t...] with ``cvt`` into out[t]."""
    w = {"f32": 4, "b16": 2, "b32": 4}
    srcs = ", ".join(f"%s{i}" for i in range(nsrc))
    loads = "\n".join(f"    ld.global.{src} %s{i}, [%rd3+{w[src] * i}];" for i in range(nsrc))
    return HEAD + f""".visible .entry k(.param .u64 inp, .param .u64 out)
{{
    .reg .{src} %s<2>;
    .reg .{dst} %d;
    .reg .b32 %r<2>;
    .reg .b64 %rd<8>;
    mov.u32 %r0, %ctaid.x;
    mov.u32 %r1, %ntid.x;
    mad.lo.u32 %r0, %r0, %r1, %tid.x;
    ld.param.u64 %rd0, [inp];
    ld.param.u64 %rd1, [out];
    mul.wide.u32 %rd2, %r0, {w[src] * nsrc};
    add.s64 %rd3, %rd0, %rd2;
{loads}
    {cvt} %d, {srcs};
    mul.wide.u32 %rd4, %r0, {w[dst]};
    add.s64 %rd5, %rd1, %rd4;
    st.global.{dst} [%rd5], %d;
    ret;
}}
"""


@pytest.mark.parametrize("t", ["e4m3", "e5m2"])
@pytest.mark.parametrize("relu", [False, True])
def test_f32_pairs_to_fp8_round_to_nearest_even_and_saturate(t, relu):
    x = values(t, np.random.default_rng(len(t)))
    n = len(x) // 2
    out = np.zeros(n, np.uint16)
    r = ".relu" if relu else ""
    emulate(kernel(f"cvt.rn.satfinite{r}.{t}x2.f32", "f32", "b16", 2), "k", 1, n, [x, out])
    hi, lo = out >> 8, out & 0xFF  # a (the first source) → the upper byte
    want_hi = [reference(float(v), t, relu) for v in x[0::2]]
    want_lo = [reference(float(v), t, relu) for v in x[1::2]]
    np.testing.assert_array_equal(hi, want_hi)
    np.testing.assert_array_equal(lo, want_lo)


@pytest.mark.parametrize("t", ["e4m3", "e5m2"])
def test_f16x2_to_fp8_and_back(t):
    rng = np.random.default_rng(3)
    h = np.concatenate([rng.standard_normal(62) * 8, [np.inf, -np.nan]]).astype(np.float16)
    out = np.zeros(32, np.uint16)
    emulate(kernel(f"cvt.rn.satfinite.{t}x2.f16x2", "b32", "b16", 1), "k", 1, 32, [h.view(np.uint32), out])
    # the upper f16 of each pair (h[2i+1]) → the upper byte
    np.testing.assert_array_equal(out >> 8, [reference(float(v), t, False) for v in h[1::2]])
    np.testing.assert_array_equal(out & 0xFF, [reference(float(v), t, False) for v in h[0::2]])
    codes = np.arange(65536, dtype=np.uint32).astype(np.uint16)  # every pair of fp8 codes
    back = np.zeros(65536, np.uint32)
    emulate(kernel(f"cvt.rn.f16x2.{t}x2", "b16", "b32", 1), "k", 256, 256, [codes, back])
    v = TABLE[t]
    want_half = np.where(np.isnan(v), np.uint16(0x7FFF), v.astype(np.float16).view(np.uint16))  # exact: f16 ⊃ fp8
    np.testing.assert_array_equal(back & 0xFFFF, want_half[codes & 0xFF])
    np.testing.assert_array_equal(back >> 16, want_half[codes >> 8])


@pytest.mark.parametrize("cvt", ["cvt.rn.e4m3x2.f32", "cvt.rz.satfinite.e4m3x2.f32", "cvt.rn.satfinite.ftz.e5m2x2.f32"])
def test_fp8_conversions_without_their_modifiers_are_refused(cvt):
    with pytest.raises(EmulatorError, match=r"cvt.rn.satfinite\{.relu\}"):
        emulate(kernel(cvt, "f32", "b16", 2), "k", 1, 32, [np.zeros(64, np.float32), np.zeros(32, np.uint16)])



@pytest.mark.gpu
@pytest.mark.parametrize("t", ["e4m3", "e5m2"])
def test_fp8_conversions_match_the_gpu(t):
    """The GPU judges the rounding and settles what the ISA leaves open (the NaN bit patterns: 0x7F,
    and 0x7FFF widened): the f32 test set and every code pair, both directions, bit for bit."""
    import copy

    import sass_lab as sl

    x = values(t, np.random.default_rng(7))
    x = np.concatenate([x, np.zeros(-len(x) % 512, np.float32)])
    cases = [(f"cvt.rn.satfinite.{t}x2.f32", "f32", "b16", 2, x, np.zeros(len(x) // 2, np.uint16)),
             (f"cvt.rn.f16x2.{t}x2", "b16", "b32", 1, np.arange(65536, dtype=np.uint32).astype(np.uint16),
              np.zeros(65536, np.uint32))]
    for cvt, src, dst, nsrc, inp, out in cases:
        k = sl.assemble(kernel(cvt, src, dst, nsrc), "sm_90a")["k"]
        emu, gpu = [inp, copy.deepcopy(out)], [inp.copy(), copy.deepcopy(out)]
        k.emulate(len(out) // 256, 256, *emu)
        k.launch(len(out) // 256, 256, *gpu)
        np.testing.assert_array_equal(emu[1], gpu[1])
