"""Control fields: bit positions checked against words nvdisasm printed, encode/decode round trip."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sass_lab.errors import UsageError
from sass_lab.sass.control import CTRL_MASK, Control, decode, encode, join_words, parse_value, with_field

# (lo, hi, notation, reuse) read off `nvdisasm -c -hex` listings of the fixtures (sm_90).
KNOWN = [
    # LDC R1, c[0x0][0x28]: write barrier 0, stall 1
    (0x00000A00FF017B82, 0x000E220000000800, "--:-:0:-:1", 0),
    # ISETP.LT.AND P0, PT, RZ, UR10, PT: yields, stall 13
    (0x0000000AFF007C0C, 0x000FDA000BF01270, "--:-:-:Y:13", 0),
    # FSETP.GEU.AND P0, PT, |R7|.reuse, ...: reuse A
    (0x001000000700780B, 0x040FE20003F0E200, "--:-:-:-:1", 1),
    # LOP3.LUT R25, R25, 0x80000000, R9.reuse, ...: reuse C
    (0x800000001919A812, 0x100FE400078EF809, "--:-:-:-:2", 4),
    # DFMA R24, R14, -R4, 1 after MUFU.RCP64H (write barrier 0): waits on barrier 0, yields, stall 8
    (0x3FF000000E18742B, 0x001FD00000000804, "01:-:-:Y:8", 0),
    # LDG.E.CONSTANT R88, desc[UR8][R18.64]: read barrier 0, write barrier 3
    (0x0000000812587981, 0x0000E2000C1E9900, "--:0:3:-:1", 0),
]


@pytest.mark.parametrize("lo,hi,notation,reuse", KNOWN)
def test_decode_known_words(lo, hi, notation, reuse):
    c = decode(join_words(lo, hi))
    assert c.notation() == notation
    assert c.reuse == reuse


def test_field_values():
    c = decode(join_words(0, 0x001FD00000000804))
    assert (c.stall, c.yield_, c.write_barrier, c.read_barrier, c.wait_mask) == (8, True, None, None, 1)


@given(st.integers(min_value=0, max_value=(1 << 128) - 1))
def test_round_trip_any_word(word):
    assert encode(decode(word), word) == word
    assert encode(decode(word), word & ~CTRL_MASK) == word  # the fields hold every bit of 105..124


@given(st.integers(0, 15), st.booleans(), st.sampled_from([None, 0, 1, 5]), st.sampled_from([None, 2, 3]),
       st.integers(0, 63), st.integers(0, 7))
def test_encode_then_decode(stall, yld, wr, rd, wait, reuse):
    c = Control(stall, yld, wr, rd, wait, reuse)
    word = encode(c, (1 << 128) - 1)
    assert decode(word) == c
    assert word & ~CTRL_MASK == ((1 << 128) - 1) & ~CTRL_MASK


@pytest.mark.parametrize("field,value", [("stall", 16), ("stall", -1), ("wait_mask", 64), ("reuse", 8),
                                         ("write_barrier", 9)])
def test_out_of_range(field, value):
    c = with_field(decode(0), field, value)
    with pytest.raises(UsageError):
        encode(c, 0)


@pytest.mark.parametrize("field,text,value", [
    ("yield", "Y", True), ("yield", "n", False), ("stall", "0xf", 15), ("write_barrier", "-", None),
    ("read_barrier", "3", 3), ("reuse", "AC", 5), ("reuse", "0", 0), ("wait_mask", "0x21", 33),
])
def test_parse_value(field, text, value):
    assert parse_value(field, text) == value


@pytest.mark.parametrize("field,text", [("yield", "maybe"), ("stall", "x")])
def test_parse_value_errors(field, text):
    with pytest.raises(UsageError):
        parse_value(field, text)


def test_with_field_unknown():
    with pytest.raises(UsageError):
        with_field(decode(0), "colour", 1)


def test_barrier_seven_means_none():
    assert with_field(decode(0), "write_barrier", 7).write_barrier is None
