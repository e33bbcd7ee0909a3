#!/usr/bin/env python3
"""Benchmark every shipped kernel (and its library peer) on the GPU; write bench.md and bench.json.

Each kernel runs in its own ``sass_lab bench --json`` process with a timeout, so a kernel that faults
(which leaves its CUDA context unusable) or hangs costs only its own row. The device peaks are
measured first (``--refresh``) and cached for the children.

    python3 tools/bench_all.py --out out/            # every kernels_asm/*.sasm at its SIZE
    python3 tools/bench_all.py --only sgemm --rep-ms 200
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def child(argv: list[str], timeout: float) -> tuple[int, str, str]:
    try:
        p = subprocess.run([sys.executable, *argv], capture_output=True, text=True, timeout=timeout, cwd=ROOT)
        return p.returncode, p.stdout, p.stderr
    except subprocess.TimeoutExpired:
        return 124, "", f"timed out after {timeout:.0f} s"


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

    names = ("numpy", "cuda-bindings", "cuda-core", "nvidia-nvjitlink", "torch", "cupy-cuda13x", "lark")
    out = {"python": sys.version.split()[0]}
    for n in names:
        try:
            out[n] = metadata.version(n)
        except metadata.PackageNotFoundError:
            pass
    return out


def bench_one(path: Path, rep_ms: float, timeout: float) -> dict:
    from sass_lab.lab.spec import load_spec

    base = ["-m", "sass_lab.cli.main", "bench", str(path), "--json", "--no-peaks", "--rep-ms", str(rep_ms)]
    peer = load_spec(path).peer_name
    rc, out, err = child(base + (["--vs", "auto"] if peer else []), timeout)
    entry: dict = {"file": path.name, "peer_asked": peer}
    if rc != 0 and peer:
        entry["peer_error"] = err.strip()[-2000:]
        rc, out, err = child(base, timeout)
    if rc == 0:
        entry["results"] = json.loads(out)
    else:
        entry["error"] = f"exit {rc}: {err.strip()[-2000:]}"
    return entry


def markdown(meta: dict, entries: list[dict]) -> str:
    """The report: a header with date/GPU/driver/versions/peaks, one table row per run, then failures."""
    dev = meta.get("peaks", {}).get("device", {})
    peaks = meta.get("peaks", {})
    lines = [f"## {meta['date']} — {dev.get('name', '?')}", "",
             f"- driver: CUDA {dev.get('driver', '?')}; arch {dev.get('arch', '?')}; "
             f"{dev.get('sm_count', '?')} SMs; L2 {dev.get('l2_bytes', 0) / 2**20:.0f} MiB",
             "- versions: " + ", ".join(f"{k} {v}" for k, v in meta.get("versions", {}).items())]
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
            lines.append(f"- {e['file']}: {msg.splitlines()[-1] if msg else '?'}")
    return "\n".join(lines) + "\n"


def write(out: Path, meta: dict, entries: list[dict]) -> str:
    (out / "bench.json").write_text(json.dumps({**meta, "entries": entries}, indent=2))
    md = markdown(meta, entries)
    (out / "bench.md").write_text(md)
    return md


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(ROOT / "out"), help="folder for bench.md and bench.json")
    ap.add_argument("--only", default="", help="substring of the kernel files to run")
    ap.add_argument("--rep-ms", type=float, default=100.0)
    ap.add_argument("--timeout", type=float, default=150.0, help="seconds per kernel")
    ap.add_argument("--budget-s", type=float, default=300.0,
                    help="total seconds; no kernel runs past it (each gets at most what is left)")
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
    rc, po, pe = child([str(Path(__file__).resolve()), "--child-peaks"], args.timeout)
    if rc == 3:
        print(pe.strip(), file=sys.stderr)
        return 3
    peaks = json.loads(po) if rc == 0 else {"error": f"exit {rc}: {pe.strip()[-1000:]}"}
    meta = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "versions": versions(), "peaks": peaks}
    entries: list[dict] = []
    write(out, meta, entries)
    for path in sorted((ROOT / "kernels_asm").glob("*.sasm")):
        if args.only and args.only not in path.name:
            continue
        left = args.budget_s - (time.time() - t0)
        if left < 20:
            entries.append({"file": path.name, "error": "skipped: time budget spent"})
            continue
        print(f"bench {path.name} ...", file=sys.stderr, flush=True)
        entries.append(bench_one(path, args.rep_ms, min(args.timeout, left)))
        write(out, meta, entries)  # after each kernel, so a run cut short still reports
    print(write(out, meta, entries))
    return 0 if all("error" not in e for e in entries) else 1


if __name__ == "__main__":
    sys.exit(main())
