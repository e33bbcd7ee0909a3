"""The shipped sm_90 encodings: what the harvest recorded, and kernels held out of learning."""

from __future__ import annotations

from pathlib import Path

import pytest
from sass_fixtures import ROOT

from sass_lab.sass.control import CTRL_MASK, join_words
from sass_lab.sass.disasm import listing, scan
from sass_lab.sass.encoding import Refused, encoder
from sass_lab.sass.sassfile import lossless_text, nan_bits

HELD_OUT_PTX = ["tests/emulator/data/histogram.sm_90.ptx", "tests/emulator/data/softmax.sm_90.ptx",
                "tests/emulator/data/transpose.sm_90.ptx", "tests/dsl/data/softmax.ptx", "tests/dsl/data/transpose.ptx"]


def test_data_records_the_harvest():
    enc = encoder("sm_90")
    c = enc.meta["corpus"]
    assert c["instructions"] > 1_000_000 and c["variants"] == len(enc) > 2000 and c["unlearnable_variants"] == 0
    v = c["verify"]  # recorded by a full run or `tools/harvest_sass.py --check-only`
    assert v["cubins"] == c["cubins"] > 2000 and v["instructions"] == v["instructions_in_identical"] > 1_000_000
    assert v["cubins_identical"] == v["cubins"]  # every harvested cubin round-trips byte for byte
    assert set(c["held_out"]) >= {"histogram", "softmax", "transpose"}
    assert c["held_out_result"]["wrong"] == 0 and c["held_out_result"]["encoded_share"] >= 0.9
    assert encoder("sm_90a") is enc


def _count(cubin: bytes) -> tuple[int, int, int]:
    enc, fix = encoder("sm_90"), nan_bits("sm_90")
    exact = wrong = refused = 0
    for _name, raws in scan(listing(cubin)).items():
        labels = {lab: r.address for r in raws for lab in r.labels}
        for r in raws:
            word = join_words(r.lo, r.hi)
            try:
                w = enc.encode(lossless_text(r.text, word, fix), r.address, labels)
            except Refused:
                refused += 1
                continue
            if w == word & ~CTRL_MASK:
                exact += 1
            else:
                wrong += 1
    return exact, wrong, refused


@pytest.mark.parametrize("path", HELD_OUT_PTX)
def test_held_out_kernels_encode_without_a_wrong_word(path):
    from sass_lab.toolchain.compile import compile_ptx

    stem = Path(path).name.split(".")[0]
    assert stem in encoder("sm_90").meta["corpus"]["held_out"]
    exact, wrong, refused = _count(compile_ptx((ROOT / path).read_text(), "sm_90").cubin)
    assert wrong == 0
    assert exact / (exact + refused) >= 0.9, (exact, refused)


def test_refusal_names_the_nearest_variants():
    with pytest.raises(Refused) as e:
        encoder("sm_90").encode("FFMA.SAT.BOGUS R1, R2, R3, R4 ;")
    assert e.value.category == "variant" and e.value.nearest
    assert all(n.startswith("FFMA") for n in e.value.nearest)


def test_nan_immediates_are_written_as_bits():
    with pytest.raises(Refused, match="hex"):
        encoder("sm_90").encode("FSEL R7, R7, +QNAN , !P0 ;")
    word = 0x7FF0000007077808 | (0x000FE40004000000 << 64)
    text = lossless_text("FSEL R7, R7, +QNAN , !P0 ;", word, nan_bits("sm_90"))
    assert text == "FSEL R7, R7, 0x7ff00000 , !P0 ;"
    assert encoder("sm_90").encode(text) == word & ~CTRL_MASK
