"""The encoding learner on a made-up instruction set with a known encoder: what it learns is exact,
what it has not seen is refused — never guessed."""

from __future__ import annotations

import random

import pytest

from sass_lab.sass.encoding import Encoder, Refused
from sass_lab.sass.fields import split
from sass_lab.sass.learn import Sample, learn

OPC = {"FOO": 0x123, "FOO.X": 0x523, "JMP": 0x947}


def truth(text: str, address: int = 0, labels: dict | None = None) -> int:
    """A fixed-position encoder: guard 12-15, Rd 16-23, Ra 24-31, imm 32-63, modifier bit 10,
    branch offset / 4 split over word bits 34-49 (low half) and 82-97 (high half)."""
    sp = split(text, labels)
    op = sp.opcode
    w = OPC[op] | (sp.atoms[0][1] << 12) | ((sp.atoms[1][1] >> 2) << 15)
    vals = [a for a in sp.atoms[2:] if a[0] != "F"]
    if op.startswith("FOO"):
        (_, rd), (_, ra), (_, imm) = vals
        w |= rd << 16 | ra << 24 | (int(imm, 16) << 32)
    else:
        off = ((labels[vals[0][1]] - address - 16) // 4) & 0xFFFFFFFF
        w |= (off & 0xFFFF) << 34 | (off >> 16) << 82
    return w


def sample(text: str, address: int = 0, labels: dict | None = None) -> Sample:
    sp = split(text, labels)
    atoms = tuple((k, (labels[v], address)) if k == "L" else (k, v) for k, v in sp.atoms)
    return Sample(sp.key, sp.family, atoms, truth(text, address, labels))


def encoder(samples) -> Encoder:
    return Encoder({"arch": "sm_90", "variants": learn(samples)})


def foo(rng, op="FOO", regs=range(0, 128), imm_bits=16) -> str:
    g = rng.choice(["", "@P0 ", "@!P3 ", "@P6 "])
    return f"{g}{op} R{rng.choice(regs)}, R{rng.choice(regs)}, 0x{rng.getrandbits(imm_bits):x} ;"


def test_learned_fields_encode_unseen_values_exactly():
    rng = random.Random(1)
    enc = encoder([sample(foo(rng)) for _ in range(300)])
    for _ in range(200):
        t = foo(rng)
        assert enc.encode(t) == truth(t)


def test_value_bits_never_seen_to_vary_are_refused():
    rng = random.Random(2)
    enc = encoder([sample(foo(rng, imm_bits=16)) for _ in range(300)])  # imm bits 16-31 always 0
    with pytest.raises(Refused, match="never seen to vary") as e:
        enc.encode("FOO R1, R2, 0x10000 ;")
    assert e.value.category == "value"
    # register bit 7 never set in the samples: a register is a whole 8-bit run, placed at the
    # offset its other bits share (where the word bit was constant and nothing else claims it)
    assert enc.encode("FOO R200, R2, 0x1 ;") == truth("FOO R200, R2, 0x1 ;")


def test_register_extension_needs_an_unclaimed_constant_bit():
    rng = random.Random(12)
    samples = [sample(foo(rng, regs=range(0, 64))) for _ in range(300)]
    # make word bit 22 (Rd bit 6, never varied) a constant 1: the extension must not claim it
    samples = [Sample(s.key, s.family, s.atoms, s.word | 1 << 22) for s in samples]
    enc = encoder(samples)
    with pytest.raises(Refused, match="never seen to vary"):
        enc.encode("FOO R64, R2, 0x1 ;")
    assert enc.encode("FOO R1, R130, 0x1 ;") == truth("FOO R1, R130, 0x1 ;") | 1 << 22


def test_an_offset_settles_a_bit_that_moved_with_another_field():
    rng = random.Random(13)
    samples = []
    for _ in range(300):  # Ra bit 0 always equals Rd bit 0 (both even or both odd), the rest vary
        rd = rng.randrange(128)
        ra = (rng.randrange(64) * 2) | (rd & 1)
        samples.append(sample(f"FOO R{rd}, R{ra}, 0x{rng.getrandbits(8):x} ;"))
    enc = encoder(samples)
    for t in ("FOO R9, R10, 0x3 ;", "FOO R8, R9, 0x3 ;"):
        assert enc.encode(t) == truth(t)


def test_the_guard_is_placed_from_the_whole_corpus():
    rng = random.Random(14)
    samples = [sample(foo(rng)) for _ in range(200)]  # guards vary in FOO
    samples += [sample("JMP `(.L_x_1) ;", a, {".L_x_1": rng.randrange(1 << 16) * 16})
                for a in range(0, 16 * 200, 16)]  # JMP is never guarded
    enc = encoder(samples)
    t = "@!P2 JMP `(.L_x_1) ;"
    assert enc.encode(t, 32, {".L_x_1": 4096}) == truth(t, 32, {".L_x_1": 4096})


def test_family_places_bits_a_variant_never_varied():
    rng = random.Random(3)
    samples = [sample(foo(rng, "FOO", regs=range(0, 255))) for _ in range(300)]
    samples += [sample(foo(rng, "FOO.X", regs=range(0, 64))) for _ in range(300)]  # bits 6, 7 fixed here
    enc = encoder(samples)
    t = "FOO.X R200, R130, 0x7 ;"
    assert enc.encode(t) == truth(t)  # placed by the family (same opcode and operand shape)


def test_unseen_variant_names_the_nearest():
    rng = random.Random(4)
    enc = encoder([sample(foo(rng)) for _ in range(50)])
    with pytest.raises(Refused) as e:
        enc.encode("FOO.Y R1, R2, 0x3 ;")
    assert e.value.category == "variant"
    assert e.value.nearest and e.value.nearest[0].startswith("FOO")


def test_fields_that_always_moved_together_are_refused_apart():
    rng = random.Random(5)
    samples = []
    for _ in range(200):
        r = rng.randrange(128)
        samples.append(sample(f"FOO R{r}, R{r}, 0x{rng.getrandbits(8):x} ;"))  # Rd == Ra always
    enc = encoder(samples)
    assert enc.encode("FOO R9, R9, 0x3 ;") == truth("FOO R9, R9, 0x3 ;")
    with pytest.raises(Refused, match="both ways"):
        enc.encode("FOO R9, R10, 0x3 ;")


def test_branch_offsets_split_over_two_ranges():
    rng = random.Random(6)
    samples = []
    for _ in range(400):
        addr = rng.randrange(0, 1 << 20) * 16
        tgt = rng.randrange(0, 1 << 20) * 16
        samples.append(sample("JMP `(.L_x_1) ;", addr, {".L_x_1": tgt}))
    enc = encoder(samples)
    for _ in range(100):
        addr, tgt = rng.randrange(0, 1 << 20) * 16, rng.randrange(0, 1 << 20) * 16
        assert enc.encode("JMP `(.L_x_9) ;", addr, {".L_x_9": tgt}) == truth("JMP `(.L_x_9) ;", addr, {".L_x_9": tgt})


def test_a_bit_no_field_explains_makes_the_variant_unlearnable():
    rng = random.Random(7)
    samples = [sample(foo(rng)) for _ in range(50)]
    samples = [Sample(s.key, s.family, s.atoms, s.word | (rng.getrandbits(1) << 100)) for s in samples]
    enc = encoder(samples)
    with pytest.raises(Refused, match="no fixed-position encoding") as e:
        enc.encode("FOO R1, R2, 0x3 ;")
    assert e.value.category == "unlearnable"


def test_relocated_operands_stay_in_the_shape():
    for text, key in (("UMOV UR5, 32@hi(__cudart_i2opi_d) ;", "UMOV U, 32@hi(X)"),
                      ("MOV R2, 32@lo((k + .L_x_0@srel)) ;", "MOV R, 32@lo(X)")):
        sp = split(text)
        assert sp.key == key and sp.symbols == (text.split(", ")[1][:-2],)


def test_a_family_placement_never_drops_a_word_bit_that_varies():
    """Immediate bits 0 and 3 always equal here (each could be word bit 32 or 35); a family whose other
    variants read the field differently (F2I: fp32 and fp64-high sources in one family) places both
    at 32. Word bit 35 still varies: it must stay placed, or every sample with bit 3 set re-encodes
    wrong (ptxas's F2I.U8.CEIL.NTZ R10, 1 came back as 1.5 before)."""
    from sass_lab.sass.learn import learn_variant

    rng = random.Random(21)
    samples = [sample("FOO.X R1, R2, 0x0 ;")]
    for _ in range(200):
        v = rng.getrandbits(16) & ~0b1001
        v |= 0b1001 if rng.getrandbits(1) else 0
        samples.append(sample(f"FOO.X R{rng.randrange(128)}, R{rng.randrange(128)}, 0x{v:x} ;"))
    imm = len(samples[0].atoms) - 1
    model = learn_variant(samples, {(imm, m): {0: 32, 3: 32} for m in "ifdhb"})
    enc = Encoder({"arch": "sm_90", "variants": {"FOO.X R, R, N": model}})
    for t in ("FOO.X R1, R2, 0x9 ;", "FOO.X R3, R4, 0xf9 ;"):
        assert enc.encode(t) == truth(t)
