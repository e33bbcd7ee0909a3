"""Control-field patching: exact byte changes, nvdisasm read-back, the FFMA interleave pass."""

from __future__ import annotations

from fractions import Fraction

import pytest
from sass_fixtures import compile_fixture, make_instrs, shipped_cubins

from sass_lab.errors import SasmError, UsageError
from sass_lab.sass import disassemble, interleave_cubin, patch_cubin
from sass_lab.sass.control import CTRL_MASK
from sass_lab.sass.patch import (
    Change,
    Edit,
    PatchError,
    chosen,
    ffma_runs,
    interleave_ffma,
    parse_set,
    text_sections,
    verify_patch,
)


def _diff_offsets(a: bytes, b: bytes) -> list[int]:
    assert len(a) == len(b)
    return [i for i, (x, y) in enumerate(zip(a, b)) if x != y]


@pytest.fixture(scope="module")
def sgemm90() -> bytes:
    return compile_fixture("sgemm", "sm_90")


def test_set_fields_changes_only_control_bits(sgemm90):
    instrs = disassemble(sgemm90, "sm_90")["sgemm"]
    ffma = next(i for i in instrs if i.opcode == "FFMA")
    ldg = next(i for i in instrs if i.opcode == "LDG")
    edits = [Edit("sgemm", ffma.address, "stall", 9), Edit("sgemm", ffma.address, "yield", not ffma.yield_),
             Edit("sgemm", ldg.address, "write_barrier", 5), Edit("sgemm", ldg.address, "wait_mask", 0x3F)]
    p = patch_cubin(sgemm90, edits, "sm_90")
    assert p.verified and len(p.changes) == 2
    off = text_sections(sgemm90)["sgemm"][0]
    lo, hi = off, off + text_sections(sgemm90)["sgemm"][1]
    diff = _diff_offsets(sgemm90, p.cubin)
    assert diff and all(lo <= d < hi for d in diff)  # nothing outside .text moved
    for c in p.changes:
        assert (c.before ^ c.after) & ~CTRL_MASK == 0  # only bits 105..124 differ
    after = {i.address: i for i in disassemble(p.cubin, "sm_90")["sgemm"]}
    assert after[ffma.address].stall == 9 and after[ffma.address].yield_ != ffma.yield_
    assert after[ldg.address].write_barrier == 5 and after[ldg.address].wait_mask == 0x3F
    # nvdisasm hides .reuse on a yielding instruction (the cache does not survive a warp switch),
    # but the bits are kept
    assert after[ffma.address].body == ffma.body.replace(".reuse", "")
    assert after[ffma.address].reuse == ffma.reuse


def test_reuse_edit_changes_markers_only(sgemm90):
    instrs = disassemble(sgemm90)["sgemm"]
    ins = next(i for i in instrs if i.opcode == "FFMA" and i.reuse)
    p = patch_cubin(sgemm90, [Edit("sgemm", ins.address, "reuse", 0)])
    new = {i.address: i for i in disassemble(p.cubin)["sgemm"]}[ins.address]
    assert ".reuse" in ins.text and ".reuse" not in new.text
    assert new.text.replace(" ", "") == ins.text.replace(".reuse", "").replace(" ", "")


def test_noop_edit_changes_nothing(sgemm90):
    ins = disassemble(sgemm90)["sgemm"][5]
    p = patch_cubin(sgemm90, [Edit("sgemm", ins.address, "stall", ins.stall)])
    assert p.changes == () and p.cubin == sgemm90


@pytest.mark.parametrize("edit", [Edit("nope", 0, "stall", 1), Edit("sgemm", 0x8, "stall", 1),
                                  Edit("sgemm", 0x100000, "stall", 1), Edit("sgemm", 0, "colour", 1),
                                  Edit("sgemm", 0, "stall", 99)])
def test_bad_edits(sgemm90, edit):
    with pytest.raises(UsageError):
        patch_cubin(sgemm90, [edit])


def test_verify_catches_tampering(sgemm90):
    instrs = disassemble(sgemm90)["sgemm"]
    p = patch_cubin(sgemm90, [Edit("sgemm", instrs[3].address, "stall", 7)])
    bad = bytearray(p.cubin)
    bad[10] ^= 1  # a byte in the ELF header, outside .text
    with pytest.raises(PatchError):
        verify_patch(sgemm90, bytes(bad), p.changes)
    off = text_sections(sgemm90)["sgemm"][0]
    bad = bytearray(p.cubin)
    bad[off + 0x40] ^= 0x80  # an opcode bit of another instruction
    with pytest.raises(PatchError):
        verify_patch(sgemm90, bytes(bad), p.changes)


def test_verify_catches_changed_text(sgemm90):
    ins = disassemble(sgemm90)["sgemm"][0]
    off = text_sections(sgemm90)["sgemm"][0]
    other = ins.word ^ (1 << 16)  # a different destination register
    change = Change("sgemm", ins.address, off, ins.text, ins.word, other)
    bad = bytearray(sgemm90)
    bad[off:off + 16] = other.to_bytes(16, "little")
    with pytest.raises(PatchError) as e:
        verify_patch(sgemm90, bytes(bad), [change])
    assert "became" in e.value.log


@pytest.mark.parametrize("n,f,want", [(8, Fraction(1, 2), [1, 3, 5, 7]), (8, Fraction(1, 4), [3, 7]),
                                      (5, Fraction(1), [0, 1, 2, 3, 4]), (6, Fraction(0), []),
                                      (3, Fraction(1, 3), [2]), (7, Fraction(1, 2), [1, 3, 5])])
def test_chosen_positions(n, f, want):
    assert chosen(n, f) == want
    assert len(chosen(n, f)) == n * f.numerator // f.denominator


def test_ffma_runs_break_at_labels_and_other_ops():
    instrs = make_instrs(["FFMA R0, R1, R2, R0 ;", "FFMA R3, R1, R2, R3 ;", "LDS R4, [R5] ;",
                          "FFMA R0, R1, R2, R0 ;", ".L_x_0:", "FFMA R0, R1, R2, R0 ;", "FFMA R6, R1, R2, R6 ;",
                          "@P0 BRA `(.L_x_0) ;"])
    assert ffma_runs(instrs) == [[0, 1], [3], [4, 5]]


def test_interleave_edits():
    instrs = make_instrs(["FFMA R0, R1, R2, R0 |1,0,2", "FFMA R3, R1, R2, R3 |1,0,2",
                          "FFMA R4, R1, R2, R4 |1,0,3", "FFMA R5, R1, R2, R5 |1,0,0", "EXIT ;"])
    edits = interleave_ffma(instrs, "k", 0.5)
    assert edits == [Edit("k", 0x10, "yield", True), Edit("k", 0x10, "reuse", 0),
                     Edit("k", 0x30, "yield", True)]
    assert interleave_ffma(instrs, "k", 0.5, min_run=5) == []
    with pytest.raises(UsageError):
        interleave_ffma(instrs, "k", 1.5)
    with pytest.raises(UsageError):
        interleave_ffma(instrs, "k", 0.5, drop_reuse="D")


@pytest.mark.parametrize("arch", ["sm_80", "sm_90"])
def test_interleave_cubin(arch):
    cubin = compile_fixture("sgemm", arch)
    before = disassemble(cubin, arch)["sgemm"]
    p = interleave_cubin(cubin, 0.5, arch=arch)
    after = disassemble(p.cubin, arch)["sgemm"]
    runs = [r for r in ffma_runs(before) if len(r) >= 2]
    picked = {before[r[k]].address for r in runs for k in chosen(len(r), Fraction(1, 2))}
    assert picked and {c.address for c in p.changes} <= picked
    for b, a in zip(before, after):
        if b.address in picked:
            assert a.yield_ and not a.reuse & 2
            assert (a.stall, a.wait_mask, a.write_barrier, a.read_barrier) == \
                (b.stall, b.wait_mask, b.write_barrier, b.read_barrier)
        else:
            assert a.word == b.word


@pytest.mark.slow
def test_interleave_shipped_kernels():
    cubins = [(f, a, c) for f, a, c in shipped_cubins() if "sgemm" in f]
    if not cubins:
        pytest.skip("no shipped SGEMM assembles yet")
    for _f, arch, cubin in cubins:
        p = interleave_cubin(cubin, 0.5, arch=arch)
        assert p.verified and p.changes


@pytest.mark.parametrize("spec,edit", [("0x1a0:stall=4", Edit("k", 0x1A0, "stall", 4)),
                                       ("1b0:yield=Y", Edit("k", 0x1B0, "yield", True)),
                                       ("10:write_barrier=-", Edit("k", 0x10, "write_barrier", None)),
                                       ("20:reuse=AB", Edit("k", 0x20, "reuse", 3))])
def test_parse_set(spec, edit):
    assert parse_set(spec, "k") == edit


@pytest.mark.parametrize("spec", ["1a0", "zz:stall=1", "10:stall", "10:colour=1"])
def test_parse_set_errors(spec):
    with pytest.raises(SasmError):
        parse_set(spec, "k")


@pytest.mark.gpu
@pytest.mark.parametrize("fraction", [0.0, 0.5])
def test_patched_cubin_loads(fraction, sgemm90):
    from cuda.bindings import driver as cu

    p = interleave_cubin(sgemm90, fraction)
    assert cu.cuInit(0)[0] == cu.CUresult.CUDA_SUCCESS
    err, dev = cu.cuDeviceGet(0)
    err, ctx = cu.cuDevicePrimaryCtxRetain(dev)
    assert err == cu.CUresult.CUDA_SUCCESS
    cu.cuCtxSetCurrent(ctx)
    err, mod = cu.cuModuleLoadData(p.cubin)
    assert err == cu.CUresult.CUDA_SUCCESS
    err, fn = cu.cuModuleGetFunction(mod, b"sgemm")
    assert err == cu.CUresult.CUDA_SUCCESS
    cu.cuModuleUnload(mod)


def test_random_edits_change_exactly_their_bits():
    import random

    cubin = compile_fixture("misc", "sm_90")
    funcs = disassemble(cubin)
    rng = random.Random(7)
    # reuse is left out: nvdisasm rejects reuse bits on instructions without register slots
    edits, limits = [], {"stall": 16, "wait_mask": 64, "write_barrier": 6, "read_barrier": 6}
    for _ in range(25):
        name = rng.choice(sorted(funcs))
        ins = rng.choice(funcs[name])
        field = rng.choice([*limits, "yield"])
        value = rng.random() < 0.5 if field == "yield" else rng.randrange(limits[field])
        edits.append(Edit(name, ins.address, field, value))
    p = patch_cubin(cubin, edits)
    sections = text_sections(cubin)
    inside = {o for off, size in sections.values() for o in range(off, off + size)}
    assert all(d in inside for d in _diff_offsets(cubin, p.cubin))
    after = disassemble(p.cubin)
    final = {}
    for e in edits:
        final[(e.kernel, e.address, e.field)] = e.value
    for (name, addr, field), value in final.items():
        ins = {i.address: i for i in after[name]}[addr]
        got = ins.yield_ if field == "yield" else getattr(ins, field)
        assert got == value, (name, addr, field)


@pytest.mark.parametrize("opcode", ["NOP", "LDC"])
def test_undecodable_value_is_caught(opcode):
    cubin = compile_fixture("misc", "sm_90")
    ins = next(i for i in disassemble(cubin)["saxpy"] if i.opcode == opcode)
    with pytest.raises(PatchError) as e:
        patch_cubin(cubin, [Edit("saxpy", ins.address, "reuse", 7)])
    assert "not valid" in e.value.message and "nvdisasm" in e.value.log
