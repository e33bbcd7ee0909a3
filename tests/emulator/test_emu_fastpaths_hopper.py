"""Hopper fast paths against the general paths they replace (the pattern of test_emu_fastpaths.py):
TMA boxes and wgmma's operands read as 16-byte rows and its accumulators moved through strided views, against the
per-element reads and the layout's index arrays, on random bit patterns (NaN payloads, infinities,
subnormals), with findings."""

from __future__ import annotations

import numpy as np
import pytest
from hopperkit import tma_load_kernel, tma_store_kernel, wgmma_kernel
from test_emu_wgmma import B_OFF, IMG, NP, image

from sass_lab.emulator import emulate, ops_tma, ops_wgmma, races
from sass_lab.emulator.report import EmulatorCheckError
from sass_lab.hw.smem import SWIZZLE_WIDTH, SmemDescriptor
from sass_lab.hw.tensormap import TensorMap
from sass_lab.hw.wgmma import ELEM_BYTES, K_OF

INIT = races.RaceTracker.__init__


def _recorded(monkeypatch) -> list:
    """The shared race trackers the next launches create (their state is compared at the end)."""
    made: list = []
    init = INIT

    def record(self, st, units):
        init(self, st, units)
        made.append(self)
    monkeypatch.setattr(races.RaceTracker, "__init__", record)
    return made


def _same_tracking(a: list, b: list) -> None:
    """Two launches' trackers ended in the same state: write stamps, written units, copies in flight and,
    once every logged read is folded, reader stamps."""
    assert len(a) == len(b) > 0
    for x, y in zip(a, b):
        x.fold(), y.fold()
        for name in ("wr", "rd", "done"):
            np.testing.assert_array_equal(getattr(x, name), getattr(y, name), err_msg=name)
        if x.asyncs is not None:
            np.testing.assert_array_equal(x.asyncs.tag, y.asyncs.tag)


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
    threads = 256 if variant == "two" else 128
    frag = rng.integers(0, 2**32, 4 * threads, dtype=np.uint64).astype(np.uint32)
    f16acc = dtype == "f16"
    nacc = n // 4 if f16acc else n // 2
    out = rng.integers(0, 2**32, threads * nacc, dtype=np.uint64).astype(np.uint32)  # C: every bit pattern
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
    if variant == "two":  # two warpgroups, the second one's A 1 KiB further on: two descriptors in one wgmma
        ptx = ptx.replace("add.u32 %r1, %r1, 128;", "add.u32 %r1, %r1, 256;").replace(
            "    add.s64 %rd6, %rd6, %rd5;\n", "    add.s64 %rd6, %rd6, %rd5;\n    shr.u32 %r10, %r0, 7;\n"
            "    mul.wide.u32 %rd12, %r10, 64;\n    add.s64 %rd6, %rd6, %rd12;\n")
        assert "%rd12" in ptx
    try:
        found = [str(f) for f in emulate(ptx, "k", 1, threads, [img, out, np.uint64(da), np.uint64(db), frag,
                                                                 np.uint32(1)]).findings]
    except EmulatorCheckError as e:
        found = [str(f) for f in e.findings]
    return out, found


@pytest.mark.no_wave_audit  # one block of 128 threads: every wave size runs it alike
@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # NaN and infinite bit patterns
@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c[2]}.{c[0]}.{c[1]}.n{c[3]}{'.regsA' if c[8] else ''}")
@pytest.mark.parametrize("variant", ["clean", "two", "exited", "unfenced", "uninit"])
def test_wgmma_row_reads_and_strided_accumulators_are_the_general_path(monkeypatch, case, variant):
    ta = _recorded(monkeypatch)
    a, fa = _run(case, True, monkeypatch, variant)
    tb = _recorded(monkeypatch)
    b, fb = _run(case, False, monkeypatch, variant)
    np.testing.assert_array_equal(a, b)
    assert fa == fb
    _same_tracking(ta, tb)
    kinds = {f.split(":")[0] for f in fa}
    assert (variant in ("clean", "two", "exited")) == (not fa), (variant, kinds)


# ------------------------------------------------------------------ TMA: 16-byte rows for the race tracker


def _tma_scenarios():
    """(ptx, grid, block, args factory, cluster) of TMA loads and stores: swizzles, out-of-bounds boxes,
    element strides, 1-byte elements multicast, reductions, a missing fence, a read before the phase."""
    rng = np.random.default_rng(21)
    g = rng.integers(0, 2**16, size=(40, 72), dtype=np.uint64).astype(np.uint16)  # every bf16 bit pattern
    for mode in ("none", "32B", "128B"):
        inner = min(64, SWIZZLE_WIDTH[mode] // 2) if mode != "none" else 24
        tm = TensorMap(g, "bfloat16", (72, 40), (144,), (inner, 16), swizzle=mode)
        for c in ((8, 4), (-8, -3)):
            yield (tma_load_kernel(2, tm.box_bytes, 8192, dump=tm.smem_bytes), 1, 128,
                   lambda tm=tm, c=c: [tm, np.zeros(2048, np.uint32), np.uint32(c[0] & 0xFFFFFFFF),
                                       np.uint32(c[1] & 0xFFFFFFFF)], None)
    g5 = rng.standard_normal((3, 2, 5, 6, 8)).astype(np.float32)
    tm5 = TensorMap(g5, "float32", tuple(reversed(g5.shape)), tuple(g5.strides[::-1][1:]), (8, 4, 3, 2, 2),
                    (1, 2, 2, 1, 1), oob_fill="nan")
    yield (tma_load_kernel(5, tm5.box_bytes, 8192), 1, 64,
           lambda: [tm5, np.zeros(2048, np.uint32), *(np.uint32(c & 0xFFFFFFFF) for c in (-4, 3, 1, 1, 2))], None)
    g8 = rng.integers(0, 255, size=(64, 64), dtype=np.uint8)
    tm8 = TensorMap(g8, "uint8", (64, 64), (64,), (64, 32), swizzle="64B")
    yield (tma_load_kernel(2, tm8.box_bytes, 8192, multicast=True, dump=tm8.smem_bytes), 4, 128,
           lambda: [tm8, np.zeros(8192, np.uint32), np.uint32(0), np.uint32(16)], (2, 1, 1))
    for reduce, fence in ((None, True), ("add", True), (None, False)):
        gs = rng.standard_normal((20, 36)).astype(np.float32)
        src = rng.standard_normal(2048).astype(np.float32)
        yield (tma_store_kernel(2, 8192, reduce, fence=fence), 1, 128,  # (the tensor is written: a fresh one each run)
               lambda gs=gs, src=src: [TensorMap(gs.copy(), "float32", (36, 20), (144,), (16, 8), swizzle="64B"),
                                       src.copy(), np.uint32(28), np.uint32(15)], None)
    g1 = np.ones((16, 16), np.float32)
    tm1 = TensorMap(g1, "float32", (16, 16), (64,), (16, 16))
    ptx = tma_load_kernel(2, tm1.box_bytes, 1024)
    arm = f"    mbarrier.arrive.expect_tx.shared::cta.b64 %rd2, [%r3], {tm1.box_bytes};\n"
    load = next(line for line in ptx.splitlines(True) if line.lstrip().startswith("cp.async.bulk.tensor"))
    yield (ptx.replace(arm + load, load + "    ld.shared.u32 %r9, [%r2];\n" + arm), 1, 32,
           lambda: [tm1, np.zeros(256, np.uint32), np.uint32(0), np.uint32(0)], None)


@pytest.mark.no_wave_audit  # one or two clusters of blocks: every wave size runs them alike
@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_tma_row_checks_are_the_element_checks(monkeypatch):
    """TMA loads and stores with the race tracker told of whole 16-byte rows against element by element:
    the same shared images, global tensors, findings and tracker state (uninitialised-read findings whose
    values never matter are dropped, so the state is what shows every unit's tracking)."""
    kinds = set()
    for ptx, grid, block, make, cl in _tma_scenarios():
        results, made = [], []
        for rows in (True, False):
            monkeypatch.setattr(ops_tma, "ROWS", rows)
            made.append(_recorded(monkeypatch))
            args = make()
            try:
                found = [str(f) for f in emulate(ptx, "k", grid, block, args, cluster=cl).findings]
            except EmulatorCheckError as e:
                found = [str(f) for f in e.findings]
            results.append(([np.asarray(getattr(a, "array", a)).view(np.uint8).copy() for a in args[:2]], found))
        (oa, fa), (ob, fb) = results
        for x, y in zip(oa, ob):
            np.testing.assert_array_equal(x, y)
        assert fa == fb
        _same_tracking(*made)
        kinds |= {f.split(" ")[0] for f in fa}
    assert len(kinds) >= 2, kinds  # the missing fence and the early read
