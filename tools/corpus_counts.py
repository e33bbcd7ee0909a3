"""Count the emulator corpus: per .cu file, its kernels and, over every committed build, how many decode
and how many are refused at decode time (with the refusal's first line).

Usage: python tools/corpus_counts.py [--refusals]

Whether the kernels that decode give the right numbers is what the corpus tests check
(tests/emulator/test_emu_{corpus,corpus_debug,samples,library,training,wild}.py); this tool says what
each build holds and what the emulator turns away before running anything.
"""

from __future__ import annotations

import re
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "tests" / "emulator" / "corpus"
ENTRY = re.compile(r"^\s*(?:\.(?:visible|weak)\s+)?\.entry\s+(\w+)", re.M)  # -G builds make template kernels .weak


def counts() -> dict[str, dict]:
    from sass_lab.emulator.program import program

    out: dict[str, dict] = defaultdict(lambda: {"builds": [], "kernels": set(), "decoded": 0, "refused": []})
    for ptx_file in sorted(CORPUS.glob("*.ptx")):
        stem, build = ptx_file.name.split(".", 1)
        row = out[stem]
        row["builds"].append(build.removesuffix(".ptx"))
        text = ptx_file.read_text()
        for k in ENTRY.findall(text):
            row["kernels"].add(k)
            try:
                program(text, k)
                row["decoded"] += 1
            except Exception as e:  # an EmulatorError is a refusal; anything else is reported the same way
                row["refused"].append((row["builds"][-1], k, str(e).splitlines()[0]))
    return out


def main(argv: list[str]) -> int:
    rows = counts()
    print("| file | builds | kernels | kernel builds | decode | refused at decode |")
    print("|---|---|---|---|---|---|")
    tot = [0, 0, 0, 0]
    for stem, r in rows.items():
        n = r["decoded"] + len(r["refused"])
        tot = [tot[0] + len(r["kernels"]), tot[1] + n, tot[2] + r["decoded"], tot[3] + len(r["refused"])]
        print(f"| {stem}.cu | {', '.join(r['builds'])} | {len(r['kernels'])} | {n} | {r['decoded']} | {len(r['refused'])} |")
    print(f"| **total** | | {tot[0]} | {tot[1]} | {tot[2]} | {tot[3]} |")
    if "--refusals" in argv:
        for stem, r in rows.items():
            for build, k, why in r["refused"]:
                print(f"{stem}.{build} {k}: {why}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
