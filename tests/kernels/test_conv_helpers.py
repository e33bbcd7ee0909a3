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

    return sl.assemble_file(KERNELS / file, **dict(items))


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
