"""Check that a speed change changed no output: every candidate's PTX and summary, two trees compared.

    python tools/ptx_identity.py [kernels_asm/sgemm.sasm] --baseline DIR [--compiler ptxas] [-j 2]

Each tree (this checkout and ``--baseline DIR``, e.g. ``git worktree add --detach /tmp/base main``)
compiles every candidate of the file's tuning space as a ``--compile-only`` sweep does
(``compile_runner``: ``-j`` forked workers, candidates routed by the tree's own rules, so any work
a worker reuses between candidates is checked too; a fresh process with an empty cubin cache) and
reports the SHA-256 of its PTX and its summary (registers, shared memory, spills, occupancy, FFMA
share, ...; the compile time left out). Prints the differences and exits 1 on any.
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
import hashlib, json, sys
from dataclasses import asdict
from sass_lab.lab.candidate import cached_ptx, summary_key
from sass_lab.lab.spec import load_spec
from sass_lab.lab.store import canon
from sass_lab.lab.tune import compile_runner
path, comp, jobs = sys.argv[1], sys.argv[2] or None, int(sys.argv[3])
spec = load_spec(path)
size = spec.with_size(None)
spec, _ = spec.for_size(size)
cands = spec.combinations()
keys = [summary_key("identity", d, size, "sm_90", comp or "default") for d in cands]
where = {canon(d): k for d, k in zip(cands, keys)}
out = {}
for s in compile_runner(path, "sm_90", cands, size, jobs=jobs, compiler=comp, keys=keys):  # as a sweep does
    d = asdict(s)
    for k in ("exc", "compile_s", "cached"):
        d.pop(k, None)
    ptx = cached_ptx(where[canon(s.defines)]) or ""
    out[canon(s.defines)] = {"ptx_sha256": hashlib.sha256(ptx.encode()).hexdigest(), "ptx_bytes": len(ptx),
                             **json.loads(json.dumps(d, default=str))}
print(json.dumps(out))
"""


def digests(root: Path, path: str, compiler: str, jobs: int) -> dict:
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "SASS_LAB_CACHE": cache, "PYTHONPATH": str(root)}
        out = subprocess.run([sys.executable, "-c", CHILD, str(Path(path).resolve()), compiler, str(jobs)],
                             env=env, cwd=root, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("file", nargs="?", default="kernels_asm/sgemm.sasm")
    ap.add_argument("--baseline", metavar="DIR", required=True)
    ap.add_argument("--compiler", default="", choices=["", "ptxas", "nvjitlink"])
    ap.add_argument("-j", "--jobs", type=int, default=2)
    a = ap.parse_args()
    new = digests(ROOT, a.file, a.compiler, a.jobs)
    old = digests(Path(a.baseline).resolve(), a.file, a.compiler, a.jobs)
    bad = 0
    for d in sorted(set(new) | set(old)):
        if new.get(d) != old.get(d):
            bad += 1
            diff = {k for k in set(new.get(d, {})) | set(old.get(d, {}))
                    if new.get(d, {}).get(k) != old.get(d, {}).get(k)}
            print(f"DIFFERENT {d}: {', '.join(sorted(diff))}")
    same_ptx = sum(new[d].get("ptx_sha256") == old.get(d, {}).get("ptx_sha256") for d in new)
    print(f"{a.file}: {len(new)} candidates, {same_ptx} with byte-identical PTX, "
          f"{len(new) - bad} with identical PTX and summary, {bad} different")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
