"""``sass_lab assemble K.sass -o K.cubin [--auto-control] [--no-check] [--json]`` and
``sass_lab sass FILE --edit -o K.sass``: the editable SASS listing's two ends (docs/SASS.md).

``assemble`` routes here when its input is a ``.sass`` listing: the listing is encoded with the learned
encodings, checked by the hazard checker (hazards are errors unless ``--no-check``), spliced into its
skeleton cubin, and the new cubin is read back with nvdisasm before it is written.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from ..errors import UsageError
from ..files import check_output, read_bytes, read_text, write_output


def edit(args, src, names: list[str]) -> int:
    """Write the editable listing of ``names`` and its skeleton cubin next to it."""
    from ..sass import sassfile

    out = Path(args.out)
    if out.suffix != ".sass":
        raise UsageError(f"-o {out}: the editable listing is a .sass file", hint=f"-o {out.with_suffix('.sass')}")
    skel = out.with_name(out.stem + ".skel.cubin")
    inputs = list(src.sources) or [args.file]
    check_output(out, inputs)
    check_output(skel, inputs)
    text = sassfile.write(src.cubin, skel.name, hashlib.sha1(src.cubin).hexdigest(), names, src.arch)
    write_output(skel, src.cubin, inputs)
    write_output(out, text, inputs)
    n = text.count("\n        ")
    print(f"wrote {out} ({len(names)} function(s), {n} instructions) and its skeleton {skel}")
    return 0


def run(args, file: str) -> int:
    """Assemble one listing into a cubin."""
    from ..sass import assembler, sassfile
    from ..sass.stats import kernel_stats

    listing = sassfile.read(read_text(file), file)
    skeleton = _skeleton(listing, file)
    out = Path(args.out) if args.out else Path(file).with_suffix(".cubin")
    if out.is_dir():
        out = out / (Path(file).stem + ".cubin")
    check_output(out, [file, str(_skel_path(listing, file))])
    from ..sass.stats import BANK_MODELS

    model = BANK_MODELS.get(args.banks)
    if model is None:
        raise UsageError(f"--banks {args.banks}: named registers are allocated for volta or maxwell",
                         hint="--banks volta (default) or --banks maxwell")
    result = assembler.assemble(listing, skeleton, auto_control=args.auto_control, check=not args.no_check,
                                banks=model.name)
    assembler.readback(result, listing)
    write_output(out, result.cubin, [file])
    records = []
    for name, fr in result.functions.items():
        st = kernel_stats(list(fr.instrs), model)
        rec = {"name": name, "instructions": len(fr.instrs), "registers": fr.registers,
               "hazards": [h.describe() for h in fr.hazards], "stall_cycles": st.stall_cycles,
               "bank_conflicts": st.bank_conflicts, "reuse_rate": round(st.reuse_rate, 4)}
        if fr.names:
            rec["names"] = fr.names
        if fr.banks:
            rec["banks"] = fr.banks
        records.append(rec)
    if args.json:
        print(json.dumps({"cubin": str(out), "functions": records}, indent=1))
        return 0
    for r in records:
        line = (f"{r['name']}: {r['instructions']} instructions, {r['registers']} registers, "
                f"{r['stall_cycles']} stall cycles, {r['bank_conflicts']} bank-conflict cycles, "
                f"reuse {100 * r['reuse_rate']:.1f} %")
        print(line)
        if "banks" in r:
            b = r["banks"]
            print(f"  named registers ({b['model']}): bank conflicts {b['before']} before allocation -> "
                  f"{b['after']} after; reuse {100 * b['before_reuse']:.1f} % -> {100 * b['after_reuse']:.1f} %")
        for h in r["hazards"]:
            print(f"  warning: hazard: {h}")
    print(f"wrote {out}; nvdisasm reads it back as the listing"
          + (" (control codes computed)" if args.auto_control else ""))
    return 0


def _skel_path(listing, file: str) -> Path:
    p = Path(listing.skeleton or "")
    return p if p.is_absolute() else Path(file).parent / p


def _skeleton(listing, file: str) -> bytes:
    from ..errors import SourceError
    from ..sass.assembler import load_skeleton

    if listing.skeleton is None:
        raise SourceError("the listing names no skeleton cubin", listing.functions[0].span,
                          hint="add '.skeleton FILE.cubin' (sass --edit writes it)")
    path = _skel_path(listing, file)
    if not path.exists():
        raise SourceError(f"skeleton {path} not found", listing.skeleton_span,
                          hint="keep the .skel.cubin that 'sass --edit' wrote next to the listing")
    read_bytes(path)
    return load_skeleton(listing, Path(file).parent)
