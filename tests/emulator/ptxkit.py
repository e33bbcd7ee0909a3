"""Build small hand-written PTX kernels for the emulator tests."""

from __future__ import annotations

from fractions import Fraction
from functools import cache
from pathlib import Path

import numpy as np

DATA = Path(__file__).parent / "data"


CORPUS = Path(__file__).parent / "corpus"


def committed_ptx(name: str, arch: str = "sm_80") -> str:
    return (DATA / f"{name}.{arch}.ptx").read_text()


def run_mangled(ptx: str, name: str, *args, **kw):
    """``emulate`` the one kernel of ``ptx`` whose mangled name is ``_Z<len>name…`` (or ``name``: extern "C")."""
    import re

    from sass_lab.emulator import emulate

    (k,) = [k for k in re.findall(r"\.entry\s+(\w+)", ptx) if k == name or re.match(rf"_Z\d+{name}", k)]
    return emulate(ptx, k, *args, **kw)


@cache
def corpus_ptx(stem: str, build: str) -> str:
    """``tests/emulator/corpus/<stem>.<build>.ptx`` (read once per test session)."""
    return (CORPUS / f"{stem}.{build}.ptx").read_text()

HEAD = """.version 8.0
.target sm_80
.address_size 64
.visible .entry k(
    .param .u64 out_param,
    .param .u64 in_param,
    .param .u32 n_param
)
{
    .reg .pred %p<8>;
    .reg .b16 %h<8>;
    .reg .b32 %r<40>;
    .reg .b64 %rd<20>;
    .reg .f32 %f<20>;
    .reg .f64 %fd<8>;
    .shared .align 16 .b8 sA[256];
    mov.u32 %r0, %tid.x;
    ld.param.u64 %rd0, [out_param];
    ld.param.u64 %rd1, [in_param];
    ld.param.u32 %r1, [n_param];
    mul.wide.u32 %rd2, %r0, 4;
    add.s64 %rd3, %rd0, %rd2;
    add.s64 %rd4, %rd1, %rd2;
    mov.u32 %r2, sA;
    shl.b32 %r3, %r0, 2;
    add.s32 %r4, %r2, %r3;
"""


def kernel(body: str) -> str:
    """A kernel ``k(out, in, n)``; the prologue sets %r0 = tid.x, %rd3 = &out[tid], %rd4 = &in[tid],
    %r1 = n, %r4 = shared address of sA[tid] (4-byte elements)."""
    return HEAD + body + "\n    ret;\n}\n"


# (precision bits, minimum normal exponent, maximum exponent) of each float format
FMT = {"f16": (11, -14, 15), "bf16": (8, -126, 127), "f32": (24, -126, 127), "f64": (53, -1022, 1023)}


def round_exact(q, fmt: str, mode: str) -> float:
    """The exact rational ``q`` (or ±inf/NaN) rounded once to ``fmt`` in PTX mode rn/rz/rm/rp."""
    if not isinstance(q, Fraction):
        return float(q)
    if q == 0:
        return 0.0
    p, emin, emax = FMT[fmt]
    neg, a = q < 0, abs(q)
    e = a.numerator.bit_length() - a.denominator.bit_length()
    if Fraction(2) ** e > a:
        e -= 1
    ulp = Fraction(2) ** (max(e, emin) - p + 1)
    k = a / ulp
    fl = k.numerator // k.denominator
    rem = k - fl
    up = {"rn": rem > Fraction(1, 2) or (rem == Fraction(1, 2) and fl % 2 == 1), "rz": False,
          "rm": neg and rem > 0, "rp": (not neg) and rem > 0}[mode]
    r = (fl + up) * ulp
    top = (2 - Fraction(2) ** (1 - p)) * Fraction(2) ** emax
    if r > top:  # overflow: nearest and away-from-zero modes give infinity, the others the largest finite
        r = np.inf if mode == "rn" or (mode == "rp" and not neg) or (mode == "rm" and neg) else top
    return -float(r) if neg else float(r)
