"""The SGEMM example of docs/SASS.md: the shipped kernel's main loop edited in SASS.

``edited()`` assembles kernels_asm/sgemm.sasm (defaults), writes its editable listing, moves every
LDS of the hottest loop up to ``DISTANCE`` places earlier (``sass.reorder.hoist``: only past
instructions it does not depend on), names the 64 accumulators (``.reg acc<0-63> auto``: the
bank-aware allocator places them; the ``CS2R Rk, SRZ`` that zeroed them in pairs become one
``MOV acc, RZ`` each, so that no accumulator is tied to a pair), sets every control field of the
function to ``auto`` and assembles it with ``--auto-control``. ``broken()`` is the ptxas listing with
the waits of the loop's FFMAs removed — what the hazard checker must catch.
"""

from __future__ import annotations

import functools
import hashlib
import re
from dataclasses import dataclass, replace

DISTANCE = 6


@dataclass(frozen=True)
class Edit:
    module: object  # the sass_lab Module (ptxas build)
    name: str
    text: str  # the ptxas listing
    edited_text: str  # reordered, control fields 'auto'
    moved: int
    cubin: bytes  # the edited kernel


@functools.cache
def shipped():
    import sass_lab
    from sass_lab.paths import KERNELS
    from sass_lab.sass import sassfile

    mod = sass_lab.assemble_file(KERNELS / "sgemm.sasm", "sm_90")
    (name,) = [k.name for k in mod]
    text = sassfile.write(mod.cubin, "sgemm.skel.cubin", hashlib.sha1(mod.cubin).hexdigest(), [name])
    return mod, name, text


@functools.cache
def edited(distance: int = DISTANCE) -> Edit:
    from sass_lab.sass import assembler, sassfile
    from sass_lab.sass.flow import hottest_loop
    from sass_lab.sass.names import name_accumulators
    from sass_lab.sass.reorder import hoist

    mod, name, text = shipped()
    lst = sassfile.read(text, "sgemm.sass")
    fn = lst.function(name)
    instrs, _spans, _labels = assembler.encode_function(fn, "sm_90")
    loop = hottest_loop(instrs)
    new_fn, moved = hoist(fn, instrs, ("LDS",), distance, loop.start, loop.end + 1)  # control: all 'auto'
    new_fn = name_accumulators(new_fn, instrs[loop.start:loop.end + 1])
    edited_text = sassfile.dump(replace(lst, functions=(new_fn,)))
    out = assembler.assemble(sassfile.read(edited_text, "sgemm_edited.sass"), mod.cubin, auto_control=True)
    return Edit(mod, name, text, edited_text, moved, out.cubin)


def broken() -> str:
    """The ptxas listing with every wait removed from the hot loop's FFMAs."""
    from sass_lab.sass import assembler, sassfile
    from sass_lab.sass.flow import hottest_loop

    _mod, name, text = shipped()
    fn = sassfile.read(text, "sgemm.sass").function(name)
    instrs, spans, _ = assembler.encode_function(fn, "sm_90")
    loop = hottest_loop(instrs)
    lines = set(spans[k].line for k in range(loop.start, loop.end + 1) if instrs[k].opcode == "FFMA")
    out = []
    for no, line in enumerate(text.splitlines(), 1):
        out.append(re.sub(r"^(\s+)[0-9a-f]{2}:", r"\1--:", line) if no in lines else line)
    return "\n".join(out) + "\n"



def main(argv: list[str] | None = None) -> int:
    """``python tests/sass/sgemm_edit.py OUTDIR``: write the example's listings and cubins there."""
    import sys
    from pathlib import Path

    from sass_lab.errors import SourceError
    from sass_lab.sass import assembler, sassfile

    out = Path((argv or sys.argv[1:] or ["sgemm_example"])[0])
    out.mkdir(parents=True, exist_ok=True)
    e = edited()
    (out / "sgemm.skel.cubin").write_bytes(e.module.cubin)
    (out / "sgemm.sass").write_text(e.text)
    (out / "sgemm_edited.sass").write_text(e.edited_text)
    (out / "sgemm_edited.cubin").write_bytes(e.cubin)
    (out / "sgemm_broken.sass").write_text(broken())
    print(f"{e.name}: {e.moved} places moved by the LDS hoist")
    try:
        assembler.assemble(sassfile.read(broken(), str(out / "sgemm_broken.sass")), e.module.cubin)
    except SourceError as err:
        print(err.render())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
