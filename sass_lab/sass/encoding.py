"""Encode SASS instruction text with the learned models (``learn.py``) shipped in ``data/``.

``encoder(arch).encode(text, address, labels)`` returns the 128-bit word without control bits, or
raises :class:`Refused` with the reason and the nearest variants that were seen. Nothing is encoded
by guess: an unseen variant, a value bit that never varied (and that its family never placed), or
two placements that disagree are refused.
"""

from __future__ import annotations

import difflib
import functools
import gzip
import json
import os
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from ..errors import ToolchainError
from .fields import FieldError, atom_bits, split, width

_NAN = re.compile(r"[-+]?(?:QNAN|SNAN|NAN)")

DATA_ARCHS = {"sm_90": "sm_90", "sm_90a": "sm_90"}


class Refused(ValueError):
    """An instruction the learned encodings cannot encode exactly. ``nearest``: seen variants."""

    def __init__(self, message: str, key: str | None = None, nearest: tuple[str, ...] = (),
                 category: str = "value"):
        super().__init__(message)
        self.message = message
        self.key = key
        self.nearest = nearest
        self.category = category  # "variant" (never seen), "value", "unlearnable", "syntax"

    def hint(self) -> str:
        if self.nearest:
            return "nearest seen variants: " + "; ".join(self.nearest)
        return ""


@dataclass(frozen=True)
class Model:
    """One variant: constant word bits and, per atom and mode, value-bit runs and the fixed value."""

    samples: int
    const: int
    fields: tuple[tuple[tuple[str, tuple[tuple[int, int, int], ...], int], ...], ...]
    unlearnable: str | None = None


def _model(d: dict) -> Model:
    if "x" in d:
        return Model(d["n"], 0, (), d["x"])
    fields = tuple(tuple((m, tuple(tuple(r) for r in runs), int(fixed, 16)) for m, (runs, fixed) in fa.items())
                   for fa in d["f"])
    return Model(d["n"], int(d["c"], 16), fields)


class Encoder:
    """The learned encodings of one architecture."""

    def __init__(self, data: dict):
        self.arch = data["arch"]
        self.meta = {k: v for k, v in data.items() if k != "variants"}
        self._raw: dict[str, dict] = data["variants"]
        self._models: dict[str, Model] = {}
        self._by_opcode: dict[str, list[str]] = {}
        for k in self._raw:
            self._by_opcode.setdefault(_opbase(k), []).append(k)

    def __contains__(self, key: str) -> bool:
        return key in self._raw

    def __len__(self) -> int:
        return len(self._raw)

    def keys(self):
        return self._raw.keys()

    def model(self, key: str) -> Model | None:
        m = self._models.get(key)
        if m is None and key in self._raw:
            m = self._models[key] = _model(self._raw[key])
        return m

    def nearest(self, key: str, n: int = 3) -> tuple[str, ...]:
        """Seen variants closest to ``key`` (same opcode first)."""
        pool = self._by_opcode.get(_opbase(key)) or list(self._raw)
        return tuple(difflib.get_close_matches(key, pool, n=n, cutoff=0.0))

    def encode(self, text: str, address: int = 0, labels: dict[str, int] | None = None) -> int:
        """The word of ``text`` at ``address`` (control bits 0); ``labels`` maps label → address."""
        try:
            sp = split(text, labels)
        except FieldError as e:
            raise Refused(str(e), category="syntax") from None
        if any(k == "N" and _NAN.fullmatch(str(v)) for k, v in sp.atoms):
            raise Refused("NaN immediates name no payload (nvdisasm prints +QNAN for several bit patterns): "
                          "write the bits in hex, e.g. 0x7fffffff", sp.key, category="syntax")
        m = self.model(sp.key)
        if m is None:
            raise Refused(f"variant '{sp.key}' was never seen", sp.key, self.nearest(sp.key), "variant")
        if m.unlearnable:
            raise Refused(f"variant '{sp.key}' has no fixed-position encoding: {m.unlearnable}", sp.key,
                          (), "unlearnable")
        votes: dict[int, int] = {}
        for a, ((kind, raw), fa) in enumerate(zip(sp.atoms, m.fields)):
            alive = 0
            for mode, runs, fixed in fa:
                v = atom_bits(kind, raw, mode, address, labels)
                if v is None:
                    continue  # this reading cannot print that token: it is ruled out
                alive += 1
                placed = 0
                for k, p, n in runs:
                    placed |= ((1 << n) - 1) << k
                    for j in range(n):
                        bit = (v >> (k + j)) & 1
                        if votes.setdefault(p + j, bit) != bit:
                            raise Refused(f"operand field {a} of '{sp.key}' would set word bit {p + j} both "
                                          "ways (never seen to differ)", sp.key, category="value")
                w = width(kind, mode)
                if v >> w:
                    raise Refused(f"value '{raw}' does not fit field {a} of '{sp.key}'", sp.key, category="value")
                bad = (v ^ fixed) & ((1 << w) - 1) & ~placed
                if bad:
                    shown = raw if kind != "L" else f"label {raw}"
                    raise Refused(f"operand {shown} of '{sp.key}': value bits {_bitlist(bad)} were never "
                                  "seen to vary in this variant or its family", sp.key, category="value")
            if not alive:
                raise Refused(f"operand '{raw}' cannot be read as any learned form of field {a} of '{sp.key}'",
                              sp.key, category="value")
        word = m.const
        for p, bit in votes.items():
            word = (word & ~(1 << p)) | (bit << p)
        return word


def _bitlist(mask: int) -> str:
    bits = [k for k in range(mask.bit_length()) if (mask >> k) & 1]
    return ", ".join(map(str, bits[:6])) + (" …" if len(bits) > 6 else "")


def _opbase(key: str) -> str:
    return key.split(" ", 1)[0].split(".")[0]


def data_path(arch: str) -> Path:
    """The shipped encodings (``$SASS_LAB_ENCODINGS`` overrides, for the harvest's own checks)."""
    name = DATA_ARCHS.get(arch)
    if name is None:
        raise ToolchainError(f"no learned SASS encodings for {arch}", hint="encodings ship for sm_90 and sm_90a")
    if os.environ.get("SASS_LAB_ENCODINGS"):
        return Path(os.environ["SASS_LAB_ENCODINGS"])
    return Path(str(resources.files("sass_lab.sass") / "data" / f"{name}.json.gz"))


def load(path: str | Path) -> Encoder:
    with gzip.open(path, "rt") as f:
        return Encoder(json.load(f))


def encoder(arch: str = "sm_90") -> Encoder:
    """The shipped encodings for ``arch`` (loaded once; sm_90a shares sm_90's)."""
    return _encoder(DATA_ARCHS.get(arch, arch))


@functools.cache
def _encoder(arch: str) -> Encoder:
    path = data_path(arch)
    if not path.exists():
        raise ToolchainError(f"learned SASS encodings missing: {path}",
                             hint="run tools/harvest_sass.py to build them")
    return load(path)
