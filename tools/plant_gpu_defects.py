#!/usr/bin/env python3
"""Issue 10's defects and the real-driver mistakes the stand-in catches: plant each once in a scratch
checkout, run the test that guards it, expect red, restore the file. Never run it in your own worktree:

    git worktree add --detach /tmp/plant HEAD
    python3 tools/plant_gpu_defects.py /tmp/plant              # every plant: RED (caught) expected
    BASELINE=1 python3 tools/plant_gpu_defects.py /tmp/plant   # the same tests unplanted: GREEN expected
    OLDFAKE=1 python3 tools/plant_gpu_defects.py /tmp/plant S  # the S plants against the old fake's suites
    python3 tools/plant_gpu_defects.py /tmp/plant D1 S5        # some of them (name prefixes)
"""
import os
import subprocess
import sys
import time
from pathlib import Path

if len(sys.argv) < 2:
    sys.exit(__doc__)
ROOT = Path(sys.argv[1]).resolve()
ONLY = sys.argv[2:]  # names to run
PY = sys.executable
FAKE = {"SASS_LAB_FAKE_GPU": "1", "PYTHONPATH": f"{ROOT}/tests/standin:{ROOT}"}

OLD = ["tests/runtime/test_runtime_launch.py", "tests/lab/test_bench_pipeline.py", "tests/runtime/test_runtime_emulated.py"]
PLANTS = [
    # name, file, old, new, test argv (after pytest), extra env
    ("D1 -k loses its expression", "tools/gpu_check.sh", 'else args+=("$a"); fi', "else args+=($a); fi",
     ["tests/tools/test_gpu_check.py::test_k_expression_reaches_pytest"], {}),
    ("D2 nvdisasm of a --target wheel not found", "sass_lab/sass/disasm.py", "    path = wheel_nvdisasm()\n",
     "    path = None\n",
     ["tests/sass/test_sass_disasm.py::test_nvdisasm_from_a_target_folder_on_the_import_path"], {}),
    ("D3 bench reruns a failed kernel without its peer", "tools/bench_all.py",
     "    rc, out, err = child(argv, timeout)\n",
     "    rc, out, err = child(argv, timeout)\n    if rc != 0:\n"
     "        rc, out, err = child([a for a in argv if a not in ('--vs', 'auto')], timeout)\n",
     ["tests/tools/test_gpu_check.py::test_bench_never_reruns_a_kernel"], {}),
    ("D4 conv reference through einsum", "sass_lab/studies/winograd.py",
     "y += np.tensordot(w[:, :, i, j], patch, axes=([1], [1]))",
     "y += np.einsum('kc,ncpq->knpq', w[:, :, i, j], patch)",
     ["tests/studies/test_winograd.py::test_direct_reference_is_blas_not_einsum"], {}),
    ("D5 smem opt-in only when dynamic alone > 48 KB", "sass_lab/runtime/driver.py",
     "self.info.shared_per_block - static)", "self.info.shared_per_block)",
     ["tests/runtime/test_standin.py::test_runtime_opts_in_when_static_plus_dynamic_exceed_48k"], {}),
    ("D6 cleanup error hides the fault", "sass_lab/runtime/launch.py", "prep.free(quiet=not done)",
     "prep.free()", ["tests/runtime/test_standin.py::test_a_fault_is_reported_not_the_cleanup_after_it"], {}),
    ("D7 SASS_LAB_BENCH_OUT never set", "tools/gpu_check.py", 'env["SASS_LAB_BENCH_OUT"] =',
     'env["UNUSED_BENCH_OUT"] =', ["tests/tools/test_gpu_check.py::test_sass_group_writes_interleave_timings"], {}),
    ("D8 a failing peer fails the kernel's row", "sass_lab/lab/bench.py",
     "except Exception as e:  # noqa: BLE001 - a failing peer", "except ZeroDivisionError as e:  # noqa: BLE001 - a failing peer",
     ["tests/runtime/test_standin.py::test_bench_keeps_our_timing_when_the_peer_fails"], {}),
    ("D9 shares over the 240 s budget", "tools/gpu_check.plan", "tests   sgemm             85",
     "tests   sgemm             90", ["tests/tools/test_gpu_check.py::test_plan_lists_groups_and_globs"], {}),
    ("D10 the tuner's GPU bench with bench_file's argument order", "sass_lab/lab/bench.py",
     "return bench_file(path, arch, size, defines)", "return bench_file(path, arch, defines, size)",
     ["tests/lab/test_bench_pipeline.py::test_bench_candidate_takes_the_tuners_argument_order"], {}),
    ("D11 the tuner's GPU path on the stand-in", "sass_lab/lab/bench.py",
     "return bench_file(path, arch, size, defines)", "return bench_file(path, arch, defines, size)",
     ["-m", "gpu", "tests/lab/test_tune_gpu.py"], FAKE),
    ("S1 an int for a CUfunction_attribute enum", "sass_lab/runtime/driver.py",
     "attr = drv.CUfunction_attribute.CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES", "attr = 8",
     ["tests/runtime/test_standin.py::test_runtime_opts_in_when_static_plus_dynamic_exceed_48k"], {}),
    ("S2 no synchronize before copying results back", "sass_lab/runtime/launch.py",
     "err = driver().cuCtxSynchronize()[0]", "err = 0",
     ["tests/runtime/test_standin.py::test_a_fault_is_reported_not_the_cleanup_after_it"], {}),
    ("S3 elapsed time read without cuEventSynchronize", "sass_lab/runtime/memory.py",
     '    check(driver().cuEventSynchronize(end), "waiting for an event (cuEventSynchronize)")\n', "",
     ["tests/runtime/test_standin.py::test_bench_keeps_our_timing_when_the_peer_fails"], {}),
    ("S4 source and destination swapped in a DtoH copy", "sass_lab/runtime/memory.py",
     "cuMemcpyDtoH(out.ctypes.data, ptr, out.nbytes)", "cuMemcpyDtoH(ptr, out.ctypes.data, out.nbytes)",
     ["tests/runtime/test_standin.py::test_shipped_kernel_runs_on_the_stand_in"], {}),
    ("S5 graph captured on the legacy stream", "sass_lab/runtime/timing.py",
     'check(drv.cuStreamBeginCapture(cap, mode), "cuStreamBeginCapture")',
     'check(drv.cuStreamBeginCapture(drv.CUstream(0), mode), "cuStreamBeginCapture")',
     ["tests/runtime/test_standin.py::test_graph_timing_captures_on_its_own_stream"], {}),
    ("S6 cubin for a hard-coded sm_80 on the sm_90 device", "sass_lab/lab/bench.py",
     "target = arch or (info.arch if info.arch in ARCHS else DEFAULT_ARCH)", 'target = arch or "sm_80"',
     ["tests/runtime/test_standin.py::test_bench_keeps_our_timing_when_the_peer_fails"], {}),
    ("S7 cuInit never called", "sass_lab/runtime/driver.py", "(err,) = drv.cuInit(0)",
     "err = drv.CUresult.CUDA_SUCCESS",
     ["tests/runtime/test_standin.py::test_shipped_kernel_runs_on_the_stand_in"], {}),
    ("S8 primary context retained but never made current", "sass_lab/runtime/driver.py",
     "    ctx.make_current()\n    return ctx\n", "    return ctx\n",
     ["tests/runtime/test_standin.py::test_shipped_kernel_runs_on_the_stand_in"], {}),
    ("S9 occupancy model without the per-sub-partition register floor", "sass_lab/hw/occupancy.py",
     "warps = (info.regs_per_sm // info.sub_partitions // per_warp) * info.sub_partitions",
     "warps = info.regs_per_sm // per_warp",
     ["tests/runtime/test_standin.py::test_occupancy_is_the_headers_answer"], {}),
    ("S10 no restart after a fault broke the context", "tools/gpu_check_plugin.py", "    if broken:\n",
     "    if False:\n", ["tests/tools/test_gpu_check.py::test_rehearsal"], {}),
    ("S11 a hung synchronize not interrupted (no watchdog)", "tools/gpu_check_plugin.py",
     "    if TIMEOUT > 0:\n", "    if False:\n", ["tests/tools/test_gpu_check.py::test_rehearsal"], {}),
]


def main() -> int:
    dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"],
                           capture_output=True, text=True).stdout.strip()
    if dirty:
        sys.exit(f"{ROOT} has uncommitted changes: plant in a scratch checkout "
                 "(git worktree add --detach /tmp/plant HEAD)")
    bad = 0
    for name, rel, old, new, targets, env in PLANTS:
        if ONLY and not any(name.startswith(o) for o in ONLY):
            continue
        f = ROOT / rel
        text = f.read_text()
        assert text.count(old) >= 1, (name, old)
        base = os.environ.get('BASELINE') == '1'
        if not base:
            f.write_text(text.replace(old, new, 1))
        t = time.time()
        if os.environ.get("OLDFAKE") == "1":  # the old fake's suites under the same plant: expected green
            targets, env, base = OLD, {}, True
        try:
            e = {**os.environ, "XDG_CACHE_HOME": str(ROOT / ".plant-cache"), "XDG_DATA_HOME": str(ROOT / ".plant-data"),
                 "PYTHONPATH": str(ROOT), **env}
            p = subprocess.run([PY, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", *targets], cwd=ROOT,
                               env=e, capture_output=True, text=True, timeout=900)
        finally:
            f.write_text(text)
        tail = [ln for ln in p.stdout.splitlines() if ln.strip()][-1:]
        ok = p.returncode == (0 if base else 1)
        bad += not ok
        print(f"{('GREEN' if base else 'RED (caught)') if ok else 'UNEXPECTED  '} {name}: rc {p.returncode} {time.time() - t:.0f} s: "
              f"{tail[0] if tail else ''}", flush=True)
        if not ok:
            print(p.stdout[-3000:], p.stderr[-2000:])
    subprocess.run(["git", "-C", str(ROOT), "diff", "--stat"])  # nothing: every file restored
    return bad


if __name__ == "__main__":
    sys.exit(main())
