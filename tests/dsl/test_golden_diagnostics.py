"""Golden diagnostics: the rendered text of typical errors (message, location, caret, chain, hint).

Regenerate after an intended wording change with ``SASM_UPDATE_GOLDEN=1 pytest tests/dsl``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sass_lab.dsl import frontend
from sass_lab.errors import SourceError

DIR = Path(__file__).parent / "data" / "diagnostics"


def cases() -> dict[str, str]:
    out: dict[str, list[str]] = {}
    cur = None
    for line in (DIR / "cases.txt").read_text().splitlines():
        if line.startswith("=== "):
            cur = line[4:].strip()
            out[cur] = []
        elif cur is not None:
            out[cur].append(line)
    return {k: "\n".join(v) + "\n" for k, v in out.items()}


def render_all() -> str:
    parts = []
    for name, src in cases().items():
        defines = {"BN": 32} if name == "unknown_define" else {}
        with pytest.raises(SourceError) as e:
            frontend(src, f"{name}.sasm", defines)
        parts.append(f"=== {name}\n{e.value.render()}\n")
    return "\n".join(parts)


def test_rendered_diagnostics_match_golden():
    got = render_all()
    golden = DIR / "golden.txt"
    if os.environ.get("SASM_UPDATE_GOLDEN"):
        golden.write_text(got)
    assert got == golden.read_text()
