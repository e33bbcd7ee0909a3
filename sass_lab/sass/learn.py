"""Learn fixed-position field encodings from (instruction text, word) samples — nothing is guessed.

A sample is one instruction as ``fields.split`` cuts it (variant key and atoms; labels resolved to
``(target, address)``) and its 128-bit word. For one variant, over its samples:

* every word bit outside the control bits (105–124) is a column of 0/1 over the samples; so is every
  bit of every field value under every mode (``fields.modes``: a number as int / fp32 / fp64-high, a
  label relative to the next instruction / this one / absolute);
* a value bit that **varies** is *placed* at every word bit whose column is identical to it; a mode
  fits a field when each of its varying bits is placed somewhere (fields with no fitting mode, and
  word bits that vary but equal no value bit, make the variant *unlearnable*: refused, with why);
* a value bit that never varied is *fixed*: an instruction may only encode it with the value seen —
  unless the **family** (same opcode and operand shape, any modifiers) placed that bit at exactly one
  word bit, which is constant in this variant with the value seen; then it is placed there too;
* a varying value bit placed at several word bits (it always moved with another field) is settled
  by the field's offset (word bit − value bit) when its other bits agree on one; register-like
  fields (R/U/P/Q/B/S) placed as one run get their never-varied bits at the same offset where the
  word bit is constant with the value seen and claimed by nothing else; the guard's place is learned
  over the whole corpus (``guard_positions``) and acts as every variant's family placement;
* every other word bit is constant: ``const``.

Encoding (``encoding.encode_atoms``) sets each placed word bit from its value bits (all claimants must
agree), checks fixed bits, and keeps ``const`` elsewhere: any hypothesis consistent with the samples
gives the same word, or the instruction is refused. Branch offsets split over two bit ranges, scaled
offsets and sign copies need no special case: each bit is placed on its own.

The model of a variant, as stored (JSON): ``{"n": samples, "c": const hex, "f": [per atom
{mode: [runs, fixed value hex]}], "x": unlearnable reason}``; ``runs`` are ``[k, p, length]``:
value bits ``k..k+length-1`` go to word bits ``p..p+length-1``; value bits in no run are fixed.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from .control import CTRL_MASK
from .fields import atom_bits, modes, width

WORD_BITS = tuple(p for p in range(128) if not (CTRL_MASK >> p) & 1)


@dataclass(frozen=True, slots=True)
class Sample:
    """One instruction: variant key, family key, atoms (labels as ``(target, address)``), word."""

    key: str
    family: str
    atoms: tuple[tuple[str, object], ...]
    word: int


def resolve(kind: str, raw, mode: str) -> int | None:
    """An atom's value bits under ``mode`` (labels carry ``(target, address)``)."""
    if kind == "L":
        target, address = raw
        return atom_bits(kind, "t", mode, address, {"t": target})
    return atom_bits(kind, raw, mode)


def _bits(values: Sequence[int], w: int) -> np.ndarray:
    """(n, w) uint8 matrix of the low ``w`` bits of each value."""
    arr = np.array([[(v >> k) & 1 for k in range(w)] for v in values], dtype=np.uint8) if values \
        else np.zeros((0, w), np.uint8)
    return arr


def _columns(mat: np.ndarray) -> list[bytes]:
    """Each column of a (n, w) 0/1 matrix as packed bytes (identical columns ⇔ equal bytes)."""
    packed = np.packbits(mat, axis=0)
    return [packed[:, j].tobytes() for j in range(mat.shape[1])]


def _word_matrix(words: Sequence[int]) -> np.ndarray:
    b = np.frombuffer(b"".join(w.to_bytes(16, "little") for w in words), dtype=np.uint8)
    return np.unpackbits(b.reshape(len(words), 16), axis=1, bitorder="little")


@dataclass
class _Placed:
    """Per (atom, mode): placements of value bits, the fixed value, whether the mode fits."""

    pos: dict[int, list[int]]
    fixed: int
    varying: set[int]


def _place(samples: Sequence[Sample]) -> tuple[dict[tuple[int, str], _Placed], dict[int, bytes], bytes, bytes]:
    """Placements of every (atom, mode) over ``samples`` and the word columns."""
    n = len(samples)
    W = _word_matrix([s.word for s in samples])
    wcols = _columns(W)
    zero = bytes(len(wcols[0]))
    ones = np.packbits(np.ones((n, 1), np.uint8), axis=0)[:, 0].tobytes()
    by_col: dict[bytes, list[int]] = defaultdict(list)
    for p in WORD_BITS:
        if wcols[p] not in (zero, ones):
            by_col[wcols[p]].append(p)
    out: dict[tuple[int, str], _Placed] = {}
    for a, (kind, _raw) in enumerate(samples[0].atoms):
        for m in modes(kind):
            vals = [resolve(kind, s.atoms[a][1], m) for s in samples]
            if any(v is None for v in vals):
                continue
            w = width(kind, m)
            cols = _columns(_bits(vals, w))
            pos, varying = {}, set()
            for k, c in enumerate(cols):
                if c in (zero, ones):
                    continue
                varying.add(k)
                pos[k] = list(by_col.get(c, ()))
            out[(a, m)] = _Placed(pos, vals[0], varying)
    return out, {p: wcols[p] for p in WORD_BITS}, zero, ones


def _runs(pos: dict[int, list[int]]) -> list[list[int]]:
    """``{k: [p, ...]}`` → ``[[k, p, length], ...]`` (one run per contiguous stretch)."""
    pairs = sorted((k, p) for k, ps in pos.items() for p in ps)
    runs: list[list[int]] = []
    for k, p in pairs:
        if runs and runs[-1][0] + runs[-1][2] == k and runs[-1][1] + runs[-1][2] == p:
            runs[-1][2] += 1
        else:
            runs.append([k, p, 1])
    return runs


CONTIGUOUS = ("R", "U", "P", "Q", "B", "S")  # register-like fields: all WIDTH bits, side by side


def _one_offset(pos: dict[int, list[int]]) -> tuple[dict[int, list[int]], int | None]:
    """Settle bits placed at several word bits by the field's offset ``d = word bit - value bit``
    when its singly placed bits agree on one ``d`` (or, with none single, every bit admits exactly
    one common ``d``). Returns the placements and ``d`` (None: no single offset)."""
    if not pos:
        return pos, None
    single = {ps[0] - k for k, ps in pos.items() if len(ps) == 1}
    if single:
        offs = single
    else:
        offs = set.intersection(*({p - k for p in ps} for k, ps in pos.items()))
    if len(offs) != 1:
        return pos, None
    d = next(iter(offs))
    if any(k + d not in ps for k, ps in pos.items()):
        return pos, None  # a bit that cannot sit at that offset: the field is not one run
    return {k: [k + d] for k in pos}, d


def _extend_registers(atoms, chosen: dict, fields: list[dict], const: int, claimed: set[int]) -> None:
    """A register-like field (``CONTIGUOUS``) placed as one run at offset ``d`` gets its bits that never
    varied at ``k + d`` too, where that word bit is a constant equal to the value bit seen and no other
    field (or a second such extension) claims it: registers are whole fields (R0…R255 in 8 bits)."""
    word_bits = set(WORD_BITS)
    proposals: dict[int, list[tuple[tuple[int, str], int]]] = defaultdict(list)
    for (a, m), pos in chosen.items():
        kind = atoms[a][0]
        if kind not in CONTIGUOUS or not pos or any(len(ps) != 1 for ps in pos.values()):
            continue
        offs = {ps[0] - k for k, ps in pos.items()}
        if len(offs) != 1:
            continue
        d = offs.pop()
        fixed = fields[a][m].fixed
        for k in range(width(kind, m)):
            p = k + d
            if k in pos or p not in word_bits or p in claimed or ((const >> p) & 1) != ((fixed >> k) & 1):
                continue
            proposals[p].append(((a, m), k))
    for p, who in proposals.items():
        if len(who) == 1:
            am, k = who[0]
            chosen[am][k] = [p]


def guard_positions(samples: Sequence[Sample]) -> dict[tuple[int, str], dict[int, int]]:
    """Where the guard sits in every variant: guard value bits (atom 0: predicate, atom 1: its ``!``)
    whose column over the *whole* corpus equals exactly one word bit's column. Used as the family
    placement of the guard in variants where it never varied."""
    if not samples:
        return {}
    W = _word_matrix([s.word for s in samples])
    wcols = _columns(W)
    by_col: dict[bytes, list[int]] = defaultdict(list)
    for p in WORD_BITS:
        by_col[wcols[p]].append(p)
    out: dict[tuple[int, str], dict[int, int]] = {}
    for a in (0, 1):
        vals = [int(s.atoms[a][1]) for s in samples]
        cols = _columns(_bits(vals, 3))
        out[(a, "")] = {k: by_col[c][0] for k, c in enumerate(cols) if len(by_col.get(c, ())) == 1}
    return out


def family_positions(samples: Sequence[Sample]) -> dict[tuple[int, str], dict[int, int]]:
    """Value bits the whole family places at exactly one word bit: ``{(atom, mode): {k: p}}``."""
    placed, _cols, _z, _o = _place(samples)
    return {am: {k: ps[0] for k, ps in pl.pos.items() if len(ps) == 1} for am, pl in placed.items()}


def learn_variant(samples: Sequence[Sample], family: dict[tuple[int, str], dict[int, int]] | None = None) -> dict:
    """The stored model of one variant (see the module docstring)."""
    placed, wcols, zero, ones = _place(samples)
    n = len(samples)
    const = samples[0].word & ~CTRL_MASK
    natoms = len(samples[0].atoms)
    fields: list[dict] = [{} for _ in range(natoms)]
    explained: set[int] = set()
    for (a, m), pl in placed.items():
        if all(pl.pos[k] for k in pl.varying):
            fields[a][m] = pl
            for k in pl.varying:
                explained.update(pl.pos[k])
    model: dict = {"n": n}
    bad = [a for a in range(natoms) if not fields[a]]
    if bad:
        kind = samples[0].atoms[bad[0]][0]
        model["x"] = f"operand field {bad[0]} ({kind}) is not at fixed bit positions in any mode"
        return model
    unexplained = [p for p, c in wcols.items() if c not in (zero, ones) and p not in explained]
    if unexplained:
        model["x"] = f"word bits {unexplained[:6]} vary with nothing in the text"
        return model
    claimed = set(explained)
    chosen: dict[tuple[int, str], dict[int, list[int]]] = {}
    orig: dict[tuple[int, str], dict[int, list[int]]] = {}
    for a in range(natoms):
        for m, pl in fields[a].items():
            fam = (family or {}).get((a, m), {})
            # a varying bit seen at several word bits (it always moved with another field here) takes
            # the family's single place for it when that is one of them, else the one place that
            # keeps the field's offset (word bit - value bit) the same as its other bits'
            pos = {k: [fam[k]] if len(pl.pos[k]) > 1 and fam.get(k) in pl.pos[k] else list(pl.pos[k])
                   for k in pl.varying}
            orig[(a, m)] = {k: list(pl.pos[k]) for k in pl.varying}  # before the family's choice too
            pos, _d = _one_offset(pos)
            for k in range(width(samples[0].atoms[a][0], m)):
                if k in pos or k not in fam:
                    continue
                p = fam[k]
                if p in claimed or ((const >> p) & 1) != ((pl.fixed >> k) & 1):
                    continue
                pos[k] = [p]
            chosen[(a, m)] = pos
    # a varying word bit that the settled placements no longer cover was a real second copy of a
    # bit: the fields that could have placed it keep all their places
    covered = {p for pos in chosen.values() for ps in pos.values() for p in ps}
    lost = explained - covered
    for am, pos in orig.items():
        if lost & {p for ps in pos.values() for p in ps}:
            chosen[am] = {**chosen[am], **pos}
    _extend_registers(samples[0].atoms, chosen, fields, const, claimed)
    out_fields = []
    for a in range(natoms):
        out_fields.append({m: [_runs(chosen[(a, m)]), f"{pl.fixed:x}"] for m, pl in fields[a].items()})
    model["c"] = f"{const:x}"
    model["f"] = out_fields
    return model


def learn(samples: Iterable[Sample]) -> dict[str, dict]:
    """Models of every variant in ``samples``: ``{key: model}`` (family placements applied)."""
    by_key: dict[str, list[Sample]] = defaultdict(list)
    by_family: dict[str, list[Sample]] = defaultdict(list)
    for s in samples:
        by_key[s.key].append(s)
        by_family[s.family].append(s)
    fam_pos = {f: family_positions(ss) for f, ss in by_family.items()
               if len({s.key for s in ss}) > 1}
    guard = guard_positions([s for ss in by_key.values() for s in ss])
    out = {}
    for k, ss in sorted(by_key.items()):
        fam = dict(fam_pos.get(ss[0].family, {}))
        for am, g in guard.items():
            fam[am] = {**g, **fam.get(am, {})}
        out[k] = learn_variant(ss, fam)
    return out
