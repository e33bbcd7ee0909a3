#!/usr/bin/env python3
"""Benchmark every shipped kernel (and its library peer) on the GPU; write bench.md and bench.jsonl.

Each kernel runs in its own ``sass_lab bench --json`` process, killed at its time share, so a kernel
that faults (which leaves its CUDA context unusable) or hangs costs only its own row. A peer that
fails is reported in the kernel's row by the child itself (``peer_error``); nothing is ever rerun.
Kernels and their shares come from the plan (``tools/gpu_check.plan``: ``bench`` lines, a glob with
a share in seconds); no kernel starts with less than its share left of the budget. The device peaks
are measured first (``--refresh``, at the peak kernels' sizes, unverified: the GPU tests check them
at small sizes) and cached for the children.

    python3 tools/bench_all.py --out out/                 # the plan's kernels at their SIZE
    python3 tools/bench_all.py --only sgemm --rep-ms 200
    python3 tools/bench_all.py --sizes test               # each kernel's last TEST_SIZES entry
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PLAN = ROOT / "tools" / "gpu_check.plan"
sys.path.insert(0, str(ROOT))


def child(argv: list[str], timeout: float) -> tuple[int, str, str]:
    """Run ``python argv`` killed (SIGKILL) after ``timeout`` s: (exit code or 124, stdout, stderr)."""
    try:
        p = subprocess.run([sys.executable, *argv], capture_output=True, text=True, timeout=max(1.0, timeout),
                           cwd=ROOT)
        return p.returncode, p.stdout, p.stderr
    except subprocess.TimeoutExpired as e:
        err = e.stderr.decode(errors="replace") if isinstance(e.stderr, bytes) else (e.stderr or "")
        return 124, "", f"{err}\ntimed out after {timeout:.0f} s (killed)"


def read_plan(path: Path = PLAN, kind: str = "bench") -> list[tuple[str, float, list[str]]]:
    """``(name, share_s, targets)`` for each ``kind`` line of the plan, in order."""
    out = []
    for line in path.read_text().splitlines():
        words = line.split("#", 1)[0].split()
        if len(words) >= 3 and words[0] == kind:
            out.append((words[1], float(words[2]), words[3:]))
    return out


def kernels(plan: list[tuple[str, float, list[str]]], only: str = "") -> list[tuple[Path, float]]:
    """Every ``kernels_asm/*.sasm`` with its share: the first plan line whose glob matches its name."""
    out = []
    for path in sorted((ROOT / "kernels_asm").glob("*.sasm")):
        if only and only not in path.name:
            continue
        share = next((s for pat, s, _ in plan if fnmatch.fnmatch(path.name, pat)), None)
        if share is not None and share > 0:
            out.append((path, share))
    return out


def measure_peaks() -> dict:
    """Child mode: measure the device peaks (refreshing the cache) and print them as JSON."""
    import sass_lab.runtime as rt
    from sass_lab.hw import peaks as pk
    from sass_lab.lab import bench as lb

    info = rt.context().info
    out = {"device": rt.device_info(), "datasheet": pk.datasheet_for(info).to_dict()}
    try:
        out["measured"] = lb.measured(info, refresh=True).to_dict()
    except Exception as e:  # noqa: BLE001 - reported in the table's header
        out["measured"] = None
        out["error"] = getattr(e, "message", None) or f"{type(e).__name__}: {e}"
    return out


def versions() -> dict:
    from importlib import metadata

    names = ("numpy", "cuda-bindings", "cuda-core", "nvidia-nvjitlink", "nvidia-cuda-nvdisasm", "torch",
             "cupy-cuda13x", "lark")
    out = {"python": sys.version.split()[0]}
    for n in names:
        try:
            out[n] = metadata.version(n)
        except metadata.PackageNotFoundError:
            pass
    return out


def test_size(path: Path) -> str:
    """The last TEST_SIZES entry of ``path`` as ``--size`` text."""
    from sass_lab.lab.spec import load_spec

    s = load_spec(path).test_sizes[-1]
    return ",".join(f"{k}={v}" for k, v in s.items())


def bench_one(path: Path, rep_ms: float, timeout: float, sizes: str = "size") -> dict:
    """One kernel in a child process; never retried (a timeout or a wrong result is the row)."""
    from sass_lab.lab.spec import load_spec

    argv = ["-m", "sass_lab.cli.main", "bench", str(path), "--json", "--no-peaks", "--rep-ms", str(rep_ms)]
    if sizes == "test":
        argv += ["--size", test_size(path)]
    peer = load_spec(path).peer_name
    if peer:
        argv += ["--vs", "auto"]
    t0 = time.time()
    rc, out, err = child(argv, timeout)
    entry: dict = {"file": path.name, "peer_asked": peer, "seconds": round(time.time() - t0, 2),
                   "share_s": timeout}
    if rc == 0:
        entry["results"] = json.loads(out)
        errs = [r["peer_error"] for r in entry["results"] if r.get("peer_error")]
        if errs:
            entry["peer_error"] = errs[0]
    else:
        entry["error"] = f"{'timed out' if rc == 124 else f'exit {rc}'}: {err.strip()[-2000:]}"
        entry["timed_out"] = rc == 124
    return entry


def markdown(meta: dict, entries: list[dict]) -> str:
    """The report: a header with date/GPU/driver/versions/peaks, one table row per run, then failures."""
    dev = meta.get("peaks", {}).get("device", {})
    peaks = meta.get("peaks", {})
    lines = [f"## {meta['date']} — {dev.get('name', '?')}", "",
             f"- driver: CUDA {dev.get('driver', '?')}; arch {dev.get('arch', '?')}; "
             f"{dev.get('sm_count', '?')} SMs; L2 {dev.get('l2_bytes', 0) / 2**20:.0f} MiB",
             "- versions: " + ", ".join(f"{k} {v}" for k, v in meta.get("versions", {}).items())]
    if meta.get("sizes") == "test":
        lines.append("- sizes: each kernel's last TEST_SIZES entry (a rehearsal, not figures to record)")
    for kind in ("datasheet", "measured"):
        p = peaks.get(kind)
        if p:
            lines.append(f"- {kind} peaks: FP32 {p['fp32_flops'] / 1e12:.1f} TFLOP/s, "
                         f"memory {p['bandwidth'] / 1e9:.0f} GB/s")
    if peaks.get("error"):
        lines.append(f"- measured peaks failed: {peaks['error']}")
    from sass_lab.ui.bench import markdown_table

    lines += ["", markdown_table([r for e in entries for r in e.get("results", [])])]
    bad = [e for e in entries if "error" in e or "peer_error" in e]
    if bad:
        lines += ["", "Failures:", ""]
        for e in bad:
            msg = e.get("error") or f"peer: {e['peer_error']}"
            lines.append(f"- {e['file']}: {msg.strip().splitlines()[-1] if msg.strip() else '?'}")
    return "\n".join(lines) + "\n"


def atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def append_jsonl(path: Path, record: dict) -> None:
    with path.open("a") as fh:
        fh.write(json.dumps(record) + "\n")
        fh.flush()
        os.fsync(fh.fileno())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(ROOT / "out"), help="folder for bench.md and bench.jsonl")
    ap.add_argument("--plan", default=str(PLAN), help="the plan's bench lines give kernels and shares")
    ap.add_argument("--only", default="", help="substring of the kernel files to run")
    ap.add_argument("--rep-ms", type=float, default=100.0)
    ap.add_argument("--sizes", choices=("size", "test"), default="size",
                    help="SIZE (default) or each kernel's last TEST_SIZES entry (rehearsal, CI)")
    ap.add_argument("--budget-s", type=float, default=120.0,
                    help="total seconds; a kernel starts only if its share is left")
    ap.add_argument("--scale", type=float, default=1.0, help="multiply every share (a slower machine)")
    ap.add_argument("--child-peaks", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child_peaks:
        from sass_lab.errors import NoGPUError

        try:
            print(json.dumps(measure_peaks()))
        except NoGPUError as e:
            print(e.message, file=sys.stderr)
            return 3
        return 0
    t0 = time.time()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    jsonl, md = out / "bench.jsonl", out / "bench.md"
    plan = [(n, s * args.scale, t) for n, s, t in read_plan(Path(args.plan))]
    todo = kernels(plan, args.only)
    peak_share = args.scale * next((s for n, s, _ in read_plan(Path(args.plan), "peaks")), 20.0)
    if peak_share > 0:
        rc, po, pe = child([str(Path(__file__).resolve()), "--child-peaks"], min(peak_share, args.budget_s))
        if rc == 3:
            print(pe.strip(), file=sys.stderr)
            return 3
        peaks = json.loads(po) if rc == 0 else {"error": f"exit {rc}: {pe.strip()[-1000:]}"}
    else:
        peaks = {"error": "not measured (the plan's peaks share is 0)"}
    meta = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "versions": versions(), "peaks": peaks,
            "sizes": args.sizes}
    append_jsonl(jsonl, {"meta": meta, "peaks_seconds": round(time.time() - t0, 2)})
    entries: list[dict] = []
    for path, share in todo:
        left = args.budget_s - (time.time() - t0)
        if left < share:
            entry = {"file": path.name, "error": f"skipped: {left:.0f} s left of the budget, share {share:.0f} s",
                     "skipped": True}
        else:
            print(f"bench {path.name} (share {share:.0f} s) ...", file=sys.stderr, flush=True)
            entry = bench_one(path, args.rep_ms, share, args.sizes)
        entries.append(entry)
        append_jsonl(jsonl, entry)  # after each kernel, so a run cut short still reports
        atomic_write(md, markdown(meta, entries))
    print(markdown(meta, entries))
    return 0 if all("error" not in e for e in entries) else 1


if __name__ == "__main__":
    sys.exit(main())
