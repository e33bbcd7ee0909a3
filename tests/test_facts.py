"""One home for every fact: the readers of the arch list, the special registers, PTX number literals,
the datasheet and the emulated device all read the same table."""

from __future__ import annotations

import numpy as np
import pytest

import sass_lab as sl
from sass_lab.dsl import fastparse
from sass_lab.dsl.names import SPECIALS as DSL_SPECIALS
from sass_lab.emulator import decode
from sass_lab.emulator.ptx import parse_float, parse_int
from sass_lab.hw.arch import ARCHS, TARGETS, arch_info
from sass_lab.hw.devices import DEVICES, REFERENCE, find, reference
from sass_lab.isa.literals import number
from sass_lab.isa.specials import CLOCKS, SPECIALS


def test_one_arch_list():
    from sass_lab.backend import ptx
    from sass_lab.cli.main import build_parser
    from sass_lab.toolchain import compile as comp

    assert sl.ARCHS is TARGETS and set(ARCHS) < set(TARGETS)
    assert ptx.TARGETS is TARGETS and comp.TARGETS is TARGETS
    sub = build_parser()._subparsers._group_actions[0].choices
    arch = next(a for a in sub["assemble"]._actions if a.dest == "arch")
    assert tuple(arch.choices) == TARGETS


def test_one_special_register_table():
    assert DSL_SPECIALS is SPECIALS
    assert set(decode.SPECIALS) <= set(SPECIALS)
    assert all(decode.SPECIAL_TYPE[s] == SPECIALS[s].type for s in decode.SPECIALS)
    assert set(decode.DYNAMIC_SPECIALS) <= CLOCKS and {"%clock", "%clock64", "%globaltimer"} <= CLOCKS
    assert {n for n, r in SPECIALS.items() if r.type == "u64"} >= {"%clock64", "%gridid", "%globaltimer"}


@pytest.mark.parametrize("text, value", [
    ("0x10", 16), ("0X1f", 31), ("0b101", 5), ("017", 15), ("7U", 7), ("-3", -3), ("0", 0),
    ("1.5e3", 1500.0), ("0f3F800000", 1.0), ("0d3FF0000000000000", 1.0), ("0fBF000000", -0.5),
])
def test_one_reader_of_number_literals(text, value):
    assert number(text) == value
    node = fastparse.parse_line(f"add.u32 r, r, {text};", 0) if not isinstance(value, float) else None
    if node is not None:
        assert node.ops[-1].value == value
    read = parse_float(text) if isinstance(value, float) else parse_int(text)
    assert read == value  # the emulator reads PTX the same way (017 is octal there too)


@pytest.mark.parametrize("name", list(DEVICES))
def test_datasheet_rows_agree_with_the_arch_table(name):
    d = DEVICES[name]
    derived = arch_info(d.arch).peak_fp32_flops(d.sms, d.boost_clock_hz)
    assert d.peak_fp32_flops == pytest.approx(derived, rel=0.01)
    assert find(f"NVIDIA {(d.match or (d.name,))[0]}") is d


def test_the_emulators_sm_count_comes_from_the_device_table():
    src = """
.kernel k(.u64 out)
    .reg .u32 n, s
    mov.u32 n, %nsmid
    mov.u32 s, %smid
    st.global.u32 [out], n
    st.global.u32 [out+4], s
    ret
"""
    out = np.zeros(2, np.uint32)
    sl.assemble(src)["k"].emulate((1, 1, 1), (1, 1, 1), out)
    assert out[0] == reference("sm_90").sms == 132 and out[1] == 0


def test_every_arch_has_a_reference_device():
    assert set(REFERENCE) == set(ARCHS)
    assert all(reference(a).arch == a for a in ARCHS) and reference("sm_90a") is reference("sm_90")
