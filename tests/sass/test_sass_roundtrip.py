"""Decoding and re-encoding the control fields reproduces every instruction word bit for bit,
over every fixture cubin and every cubin the project's shipped kernels build (sm_80 and sm_90)."""

from __future__ import annotations

import pytest
from sass_fixtures import FIXTURE_IDS, compile_fixture, shipped_cubins

from sass_lab.sass import disassemble
from sass_lab.sass.control import CTRL_MASK, decode, encode
from sass_lab.sass.patch import text_sections


def _round_trip(cubin: bytes, arch: str) -> int:
    sections = text_sections(cubin)
    n = 0
    for name, instrs in disassemble(cubin, arch).items():
        off = sections[name][0]
        for ins in instrs:
            c = decode(ins.word)
            assert encode(c, ins.word & ~CTRL_MASK) == ins.word, (name, ins.address, ins.text)
            raw = cubin[off + ins.address: off + ins.address + 16]
            assert encode(c, int.from_bytes(raw, "little")).to_bytes(16, "little") == raw
            n += 1
    return n


@pytest.mark.parametrize("name,arch", FIXTURE_IDS)
def test_fixture_round_trip(name, arch):
    assert _round_trip(compile_fixture(name, arch), arch) > 0


@pytest.mark.slow
def test_shipped_round_trip():
    cubins = shipped_cubins()
    if not cubins:
        pytest.skip("no kernels_asm/*.sasm assembles yet")
    archs = {arch for _f, arch, _c in cubins}
    assert archs == {"sm_80", "sm_90"}, "every shipped kernel must build for sm_80 and sm_90"
    for file, arch, cubin in cubins:
        assert _round_trip(cubin, arch) > 0, file
