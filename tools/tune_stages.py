"""Where a tuning candidate's CPU goes: every candidate of a space compiled in one process, by stage.

    python tools/tune_stages.py [kernels_asm/sgemm.sasm] [--baseline DIR] [--limit N]

Runs ``compile_one`` on every candidate (``--limit``: the first N) in the order one worker of a
sweep sees them (the tree's ``reuse_groups`` kept together, when it has them), with an empty cubin
cache, and prints the CPU milliseconds per candidate of each stage, exclusive (a stage's time
without the stages inside it): the front end (expand, parse, lower, and the reuse check), liveness,
pressure, scheduling, register sharing, emit, the parent's side of the compiler call and the rest of
``compile_ptx``, the FFMA share, the lab spec, and the glue (what ``compile_one`` spends outside
them), then the CPU of the compiler processes (ptxas). ``--baseline DIR`` runs an older checkout the
same way, in a fresh process after this one, so both lines come from the same machine and load.
CPU is the process's own (``time.process_time``) and its reaped children's (``RUSAGE_CHILDREN``).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = r"""
import json, os, resource, sys, time
from sass_lab.lab import candidate as C
from sass_lab.lab.spec import load_spec
from sass_lab.lab.store import canon
path, limit = sys.argv[1], int(sys.argv[2])
STAGES = [  # (label, module, function): patched wherever the module tree holds that function
    ("expand", "sass_lab.dsl.expand", "expand"), ("parse", "sass_lab.dsl.parse", "parse"),
    ("lower", "sass_lab.dsl.lower", "lower"), ("reuse check", "sass_lab.dsl.reuse", "FrontMemo._reuse"),
    ("liveness", "sass_lab.passes.liveness", "flow"), ("pressure", "sass_lab.passes.liveness", "pressure_of"),
    ("scheduling", "sass_lab.passes.schedule", "schedule_with_flow"),
    ("register sharing", "sass_lab.passes.regalloc", "share_registers"),
    ("emit", "sass_lab.backend.ptx", "emit"), ("compiler call", "sass_lab.toolchain.ptxas", "run_ptxas"),
    ("compile_ptx rest", "sass_lab.toolchain.compile", "compile_ptx"),
    ("FFMA share", "sass_lab.lab.efficiency", "static_efficiency"), ("lab spec", "sass_lab.lab.spec", "load_spec"),
]
spent = {label: 0.0 for label, _, _ in STAGES}
stack = []

def timed(label, fn):
    def run(*a, **k):
        t = time.process_time()
        stack.append(0.0)
        try:
            return fn(*a, **k)
        finally:
            inner = stack.pop()
            took = time.process_time() - t
            spent[label] += took - inner
            if stack:
                stack[-1] += took
    return run

C.warm_up()
import importlib
for label, mod, name in STAGES:
    try:
        m = importlib.import_module(mod)
    except ImportError:
        continue
    owner, attr = (getattr(m, name.split(".")[0]), name.split(".")[1]) if "." in name else (m, name)
    orig = getattr(owner, attr, None)
    if orig is None:
        continue
    wrapped = timed(label, orig)
    setattr(owner, attr, wrapped)
    for other in list(sys.modules.values()):
        if getattr(other, "__name__", "").startswith("sass_lab") and other is not m:
            for k, v in list(vars(other).items()):
                if v is orig:
                    setattr(other, k, wrapped)
spec = load_spec(path)
size = spec.with_size(None)
spec, _ = spec.for_size(size)
cands = spec.combinations()
spent["lab spec"] = 0.0
try:
    from sass_lab.lab.tune import reuse_groups
    groups = reuse_groups(path, cands)
    first = {}
    for i, g in enumerate(groups):
        first.setdefault(g, i)
    cands = [d for _, d in sorted(zip(groups, cands), key=lambda x: (first[x[0]], canon(x[1])))]
except ImportError:
    pass
cands = cands[:limit] if limit else cands
total = 0.0
c0 = resource.getrusage(resource.RUSAGE_CHILDREN)
for d in cands:
    t = time.process_time()
    stack.append(0.0)
    try:
        C.compile_one(path, "sm_90", d, size)
    except Exception:
        pass
    inner = stack.pop()
    took = time.process_time() - t
    total += took
    spent.setdefault("glue", 0.0)
    spent["glue"] += took - inner
c1 = resource.getrusage(resource.RUSAGE_CHILDREN)
n = len(cands)
out = {k: 1000 * v / n for k, v in spent.items()}
out["python total"] = 1000 * total / n
out["compiler processes"] = 1000 * ((c1.ru_utime - c0.ru_utime) + (c1.ru_stime - c0.ru_stime)) / n
out["candidates"] = n
print(json.dumps(out))
"""


def measure(root: Path, path: str, limit: int) -> dict:
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "SASS_LAB_CACHE": cache, "PYTHONPATH": str(root)}
        out = subprocess.run([sys.executable, "-c", CHILD, str(Path(path).resolve()), str(limit)], env=env,
                             cwd=root, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("file", nargs="?", default="kernels_asm/sgemm.sasm")
    ap.add_argument("--baseline", metavar="DIR")
    ap.add_argument("--limit", type=int, default=0, help="only the first N candidates (0: all)")
    a = ap.parse_args()
    rows = [("this tree", measure(ROOT, a.file, a.limit))]
    if a.baseline:
        rows.append(("baseline", measure(Path(a.baseline).resolve(), a.file, a.limit)))
    keys = [k for k in rows[0][1] if k != "candidates"]
    print(f"{a.file}: CPU ms per candidate, {rows[0][1]['candidates']} candidates, load {os.getloadavg()[0]:.1f}")
    print(f"{'stage':22}" + "".join(f"{name:>12}" for name, _ in rows))
    for k in keys:
        print(f"{k:22}" + "".join(f"{r.get(k, 0.0):12.1f}" for _, r in rows))


if __name__ == "__main__":
    main()
