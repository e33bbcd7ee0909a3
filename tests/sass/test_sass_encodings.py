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


def test_a_nan_immediate_round_trips_through_the_listing():
    """intrinsics.sm_90.ptx makes ptxas write 'MUFU.RSQ R2, -QNAN' (bits 0xffc00000): the listing
    names the bits read through the learned placements and the cubin comes back byte for byte."""
    import hashlib

    from sass_lab.sass import assembler, sassfile
    from sass_lab.toolchain.compile import compile_ptx

    cubin = compile_ptx((ROOT / "tests/emulator/data/intrinsics.sm_90.ptx").read_text(), "sm_90").cubin
    assert "-QNAN" in listing(cubin)
    text = sassfile.write(cubin, "k.cubin", hashlib.sha1(cubin).hexdigest())
    assert "MUFU.RSQ R2, 0xffc00000 ;" in text
    assert assembler.assemble(sassfile.read(text, "k.sass"), cubin, check=False).cubin == cubin


def test_nan_samples_read_payloads_only_where_learned_placements_agree():
    import sys

    sys.path.insert(0, str(ROOT / "tools"))
    import harvest_sass as H

    from sass_lab.sass.learn import Sample

    ident = {"f": [[[0, 32, 32]], "0"]}
    spread = {"f": [[[0, 32, 32], [0, 64, 1]], "0"]}  # value bit 0 also placed at word bit 64
    models = {"X.A R, N": {"n": 9, "c": "0", "f": [{"": [[], "0"]}, ident]},
              "X.B R, N": {"n": 9, "c": "0", "f": [{"": [[], "0"]}, spread]},
              "X.C R, N": {"n": 9, "c": "0", "f": [{"": [[], "0"]}, ident]}}
    word = 0xFFC00001 << 32
    nan = [Sample("X.A R, N", "X R, N", (("R", 2), ("N", "-QNAN")), word)]
    assert H.nan_samples(nan, models)[0].atoms[1] == ("N", "0xffc00001")
    # word bits 32 and 64 disagree: the siblings (one placement each, the same) decide
    assert H.nan_samples([Sample("X.B R, N", "X R, N", nan[0].atoms, word)], models)[0].atoms[1] == ("N", "0xffc00001")
    del models["X.A R, N"], models["X.C R, N"]
    assert H.nan_samples([Sample("X.B R, N", "X R, N", nan[0].atoms, word)], models) == []  # nobody decides
    # the bits must spell a NaN of the printed sign
    assert H.nan_samples([Sample("X.B R, N", "X R, N", (("R", 2), ("N", "+QNAN")), word | 1 << 64)], models) == []
    # fp16 (HFMA2.MMA R, RZ, RZ, 0, +QNAN: ptxas's 0x7fff)
    models["H R, N"] = {"n": 9, "c": "0", "f": [{"": [[], "0"]}, {"h": [[[0, 32, 16]], "0"]}]}
    assert H.nan_samples([Sample("H R, N", "H R, N", (("R", 2), ("N", "+QNAN")), 0x7FFF << 32)], models)[0].atoms[1] \
        == ("N", "0x7fff")


def test_an_fp64_immediate_beyond_fp32_is_a_number_not_a_nan():
    from sass_lab.sass.fields import number_bits

    t = "8.98846567431157953865e+307"  # DMUL R, R, N in intrinsics: learned, not set aside as a NaN
    assert [number_bits(t, m) for m in "ifdhb"] == [None, None, 0x7FE00000, None, None]
