"""Shared pieces of the convolution kernel tests (no tests here): skip until the pipeline lands, cached assembly."""

from __future__ import annotations

import functools
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
KERNELS = ROOT / "kernels_asm"


def pipeline_ready() -> bool:
    try:
        from sass_lab.dsl import frontend  # noqa: F401
        from sass_lab.emulator import emulate  # noqa: F401
    except ImportError:
        return False
    return True


needs_pipeline = pytest.mark.skipif(not pipeline_ready(), reason="DSL front end / emulator not landed yet")


@functools.lru_cache(maxsize=64)
def assembled(file: str, items: tuple):
    import sass_lab as sl

    return sl.assemble_file(KERNELS / file, defines=dict(items))


def module(file: str, defines: dict):
    return assembled(file, tuple(sorted(defines.items())))


def pick(spec, wanted: list[dict]) -> list[dict]:
    """The define combinations of ``wanted`` that the kernel's ``valid`` accepts (defaults filled)."""
    out = []
    for w in wanted:
        d = dict(spec.defines)
        d.update(w)
        if spec.valid(d):
            out.append(w)
    return out


def covering(spec) -> list[dict]:
    """Define combinations of the kernel's TUNE space covering every valid pair of define values.

    Pairwise coverage: for any two defines, every pair of values that some valid combination has
    occurs in a chosen one. The defaults come first; then, greedily, the combination adding most.
    With SASS_LAB_FULL_SWEEP=1 in the environment: every valid combination instead.
    """
    import os

    combos = spec.combinations()
    if os.environ.get("SASS_LAB_FULL_SWEEP"):
        return combos
    import itertools

    def pairs(c):
        items = sorted((k, repr(v)) for k, v in c.items())
        return set(itertools.combinations(items, 2)) | {(i,) for i in items}

    default = {k: spec.defines[k] for k in spec.tune}
    chosen = [default] if spec.valid(dict(spec.defines)) else []
    seen = set().union(*(pairs(c) for c in chosen)) if chosen else set()
    want = set().union(*(pairs(c) for c in combos))
    while not want <= seen:
        best = max(combos, key=lambda c: len(pairs(c) - seen))
        chosen.append(best)
        seen |= pairs(best)
    return chosen


def red(path, size: dict, seed: int, defines: dict | None = None) -> bool:
    """Whether verification fails: wrong numbers, or a memory/barrier finding of the emulator (a mutant
    that does not assemble raises instead, so it cannot pass for red)."""
    from sass_lab.errors import EmulatorError
    from sass_lab.lab.verify import verify

    try:
        return not verify(path, size, emulate=True, defines=defines, seed=seed).ok
    except EmulatorError:
        return True
