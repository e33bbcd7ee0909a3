"""The grammar-driven front-end fuzzer (tools/fuzz_frontend.py), a short run; the long run is
``python tools/fuzz_frontend.py --n 20000`` (docs/DSL.md). Also checks that its oracle can fail:
a literal reader that takes hex for decimal, or an offset rounded, is caught; and that its runner
counts hangs and crashes."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import pytest

TOOL = Path(__file__).resolve().parents[2] / "tools" / "fuzz_frontend.py"
N = int(os.environ.get("SASS_LAB_FUZZ_N", "800"))


@pytest.fixture(scope="module")
def fz():
    spec = importlib.util.spec_from_file_location("fuzz_frontend", TOOL)
    mod = importlib.util.module_from_spec(spec)
    sys.modules["fuzz_frontend"] = mod
    spec.loader.exec_module(mod)
    yield mod
    del sys.modules["fuzz_frontend"]


def test_short_run_has_no_finding(fz):
    bad = [(i, *fz.run_one(1, i)) for i in range(N)]
    bad = [b for b in bad if b[1] != "ok"]
    assert not bad, "\n".join(f"input {i}: {st}: {msg}\n{fz.make(1, i).text}" for i, st, msg in bad[:3])


def test_inputs_cover_the_shapes(fz):
    """Valid and mutated inputs both occur, with every literal form and mistake kind."""
    progs = [fz.make(1, i) for i in range(N)]
    text = "\n".join(p.text for p in progs)
    for form in ("0x", "0X", "0b", "0f", "0d", "U,", "-", "[P+", "|", "{", "vv.", "%r", "@!", "bra L_end"):
        assert form in text, form
    kinds = {p.mutation for p in progs if p.mutated}
    assert sum(p.mutated is None for p in progs) > N // 4
    assert {"wrong type", "float offset", "malformed literal", "unknown opcode", "index out of range",
            "undefined label", "guard not a predicate"} <= kinds


def _patch_numbers(monkeypatch, fn):
    """Replace the literal reader wherever the front end holds a reference to it."""
    import sass_lab.dsl.fastparse as fastparse

    for cache in ("_cache", "_op_cache"):  # lines parsed before must be read again
        if isinstance(getattr(fastparse, cache, None), dict):
            monkeypatch.setattr(fastparse, cache, {})
    real = None
    for name in list(sys.modules):
        mod = sys.modules[name]
        if name.startswith(("sass_lab.dsl", "sass_lab.isa")) and callable(getattr(mod, "number", None)):
            real = real or mod.number
            monkeypatch.setattr(mod, "number", fn(mod.number))
    assert real is not None


def test_oracle_catches_hex_read_as_decimal(fz, monkeypatch):
    def wrong(real):
        def number(text):
            t = text.lstrip("-")
            if t[:2] in ("0x", "0X") and t[2:].rstrip("Uu").isdigit():
                v = int(t[2:].rstrip("Uu"))
                return -v if text.startswith("-") else v
            return real(text)
        return number

    _patch_numbers(monkeypatch, wrong)
    found = [fz.run_one(1, i) for i in range(300)]
    assert any(st == "finding" and "read as" in msg for st, msg in found)


def test_oracle_catches_a_rounded_offset(fz, monkeypatch):
    def rounding(real):
        def number(text):
            v = real(text)
            return v + 1 if isinstance(v, int) and abs(v) >= 4096 else v
        return number

    _patch_numbers(monkeypatch, rounding)
    found = [fz.run_one(1, i) for i in range(300)]
    assert any(st == "finding" for st, msg in found)


def test_runner_counts_hangs_and_crashes(fz, monkeypatch):
    import time

    real = fz.run_one

    def run_one(seed, i):
        if i == 2:
            time.sleep(30)
        if i == 4:
            os._exit(3)
        return real(seed, i)

    monkeypatch.setattr(fz, "run_one", run_one)  # the forked worker inherits it
    c = fz.fuzz(6, seed=1, timeout=2.0)
    assert c["hangs"] == 1 and c["crashes"] == 1 and c["inputs"] == 4
    assert any("input 2" in e for e in c["examples"]) and any("input 4" in e for e in c["examples"])
