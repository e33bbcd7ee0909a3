"""Hopper fast paths against the general paths they replace (the pattern of test_emu_fastpaths.py):
wgmma's operands read as 16-byte rows and its accumulators moved through strided views, against the
per-element reads and the layout's index arrays, on random bit patterns (NaN payloads, infinities,
subnormals), with findings."""

from __future__ import annotations

import numpy as np
import pytest
from hopperkit import wgmma_kernel
from test_emu_wgmma import B_OFF, IMG, NP, image

from sass_lab.emulator import emulate, ops_wgmma
from sass_lab.emulator.report import EmulatorCheckError
from sass_lab.hw.smem import SmemDescriptor
from sass_lab.hw.wgmma import ELEM_BYTES, K_OF

CASES = [  # (atype, btype, dtype, n, A mode, B mode, A K-major, B K-major, A in registers)
    ("f16", "f16", "f32", 64, "128B", "128B", True, True, False),
    ("f16", "f16", "f16", 32, "none", "64B", False, True, False),  # f16x2 accumulators, MN-major A
    ("bf16", "bf16", "f32", 256, "32B", "none", True, False, False),  # MN-major B: per-element reads
    ("bf16", "bf16", "f32", 24, "none", "128B", True, True, True),
    ("tf32", "tf32", "f32", 16, "64B", "32B", True, True, False),
    ("e5m2", "e4m3", "f16", 48, "128B", "none", True, True, False),
    ("s8", "u8", "s32", 48, "none", "128B", True, True, False),
]


def _run(case, rows: bool, monkeypatch, variant: str):
    """Outputs (raw bits) and findings of one wgmma on random bit patterns, with ROWS on or off."""
    atype, btype, dtype, n, mode_a, mode_b, ka, kb, regs_a = case
    monkeypatch.setattr(ops_wgmma, "ROWS", rows)
    rng = np.random.default_rng(hash(case) % 2**32)
    k, eb = K_OF[atype], ELEM_BYTES[atype]
    A = rng.integers(0, 2 ** (8 * eb), (64, k), dtype=np.uint64).astype(NP[eb])  # every bit pattern
    B = rng.integers(0, 2 ** (8 * eb), (n, k), dtype=np.uint64).astype(NP[eb])
    img = np.zeros(IMG, np.uint8)
    la, sa = image(A, ka, mode_a, 0, img)
    lb, sbo = image(B, kb, mode_b, B_OFF, img)
    da, db = SmemDescriptor(0, la, sa, mode_a).encode(), SmemDescriptor(B_OFF, lb, sbo, mode_b).encode()
    frag = rng.integers(0, 2**32, 512, dtype=np.uint64).astype(np.uint32)
    f16acc = dtype == "f16"
    nacc = n // 4 if f16acc else n // 2
    out = rng.integers(0, 2**32, 128 * nacc, dtype=np.uint64).astype(np.uint32)  # C: every bit pattern
    fl = dtype != "s32"
    trans = "" if atype not in ("f16", "bf16") else (f", {int(not kb)}" if regs_a else f", {int(not ka)}, {int(not kb)}")
    mma = (f"wgmma.mma_async.sync.aligned.m64n{n}k{k}.{dtype}.{atype}.{btype} {{acc}}, {{a}}, {{b}}, {{sd}}"
           + (f", -1, 1{trans}" if fl else ""))
    ptx = wgmma_kernel(mma, nacc, IMG, regs_a, f16acc=f16acc, fence_proxy=variant != "unfenced")
    if variant == "exited":  # thread 5 has exited: the warpgroup's other lanes only
        ptx = ptx.replace("    ld.param.u32 %r9, [sd];", "    setp.eq.u32 %p3, %r0, 5;\n    @%p3 ret;\n"
                          "    ld.param.u32 %r9, [sd];")
    if variant == "uninit":  # the copy stops short of B's last rows: the wgmma reads unwritten shared memory
        ptx = ptx.replace(f"setp.ge.u32 %p0, %r1, {IMG // 16};", f"setp.ge.u32 %p0, %r1, {B_OFF // 16 + 1};")
    try:
        found = [str(f) for f in emulate(ptx, "k", 1, 128, [img, out, np.uint64(da), np.uint64(db), frag,
                                                             np.uint32(1)]).findings]
    except EmulatorCheckError as e:
        found = [str(f) for f in e.findings]
    return out, found


@pytest.mark.no_wave_audit  # one block of 128 threads: every wave size runs it alike
@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # NaN and infinite bit patterns
@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c[2]}.{c[0]}.{c[1]}.n{c[3]}{'.regsA' if c[8] else ''}")
@pytest.mark.parametrize("variant", ["clean", "exited", "unfenced", "uninit"])
def test_wgmma_row_reads_and_strided_accumulators_are_the_general_path(monkeypatch, case, variant):
    (a, fa), (b, fb) = _run(case, True, monkeypatch, variant), _run(case, False, monkeypatch, variant)
    np.testing.assert_array_equal(a, b)
    assert fa == fb
    kinds = {f.split(":")[0] for f in fa}
    assert (variant in ("clean", "exited")) == (not fa), (variant, kinds)
