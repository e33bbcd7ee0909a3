"""tools/gpu_check.sh and its runner: argument passing, isolation, partial results, the rehearsal.

``test_rehearsal`` runs the whole script against the stand-in driver (SASS_LAB_FAKE_GPU=1) with a small
plan (tests/tools/rehearsal.plan): a planted fault, a planted hang, the tuner's GPU path, two
benchmarks. It is the CI form of ``bash tools/gpu_check.sh --rehearse``.
"""

from __future__ import annotations

import fnmatch
import importlib.util
import json
import os
import re
import subprocess
import sys
import tarfile
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TOOLS = ROOT / "tools"
NAME = re.compile(r"^[A-Za-z0-9._-]+$")


def load(name: str):
    sys.path.insert(0, str(TOOLS))
    try:
        spec = importlib.util.spec_from_file_location(name, TOOLS / f"{name}.py")
        mod = importlib.util.module_from_spec(spec)
        sys.modules[name] = mod  # dataclasses look their module up
        spec.loader.exec_module(mod)
        return mod
    finally:
        sys.path.remove(str(TOOLS))


@pytest.fixture(scope="module")
def gc():
    return load("gpu_check")


@pytest.fixture(scope="module")
def ba():
    return load("bench_all")


def device_tool_would_return(out: Path) -> list[str]:
    """What the device tool brings back: at most 8 plain files, <= 2 folders deep, plain names."""
    files = [p for p in out.rglob("*") if p.is_file()]
    assert len(files) <= 8, files
    for p in files:
        rel = p.relative_to(out)
        assert len(rel.parts) <= 3 and all(NAME.match(x) for x in rel.parts), rel
        assert p.stat().st_size < 16 << 20
    return sorted(str(p.relative_to(out)) for p in files)


# ---------------------------------------------------------------------------------- arguments


def test_k_expression_reaches_pytest(tmp_path):
    """The defect: ``--tests-only -k EXPR`` gave pytest ``-k`` without its expression."""
    stub = tmp_path / "python"
    record = tmp_path / "argv"
    stub.write_text(f"#!/bin/sh\nprintf '%s\\n' \"$@\" >> {record}\n")
    stub.chmod(0o755)
    env = {**os.environ, "PYTHON": str(stub), "OUT": str(tmp_path / "out")}
    subprocess.run(["bash", str(TOOLS / "gpu_check.sh"), "--tests-only", "-k", "saxpy and not big"],
                   env=env, cwd=ROOT, check=False, capture_output=True, timeout=60)
    argv = record.read_text().splitlines()
    i = argv.index("-k")
    assert argv[i + 1] == "saxpy and not big" and "--tests-only" in argv


def test_runner_parses_k_and_modes(gc):
    a = gc.parse(["--tests-only", "-k", "saxpy"])
    assert a.tests_only and a.k == "saxpy" and not a.bench_only
    with pytest.raises(SystemExit):
        gc.parse(["--tests-only", "--bench-only"])


def test_plan_lists_groups_and_globs(gc, ba):
    steps = gc.read_plan(gc.PLAN)
    assert [s.name for s in steps if s.kind == "tests"][:2] == ["runtime", "sgemm"]
    assert [s.kind for s in steps].count("timing") == 1
    plan = ba.read_plan(ba.PLAN)
    names = {p.name: share for p, share in ba.kernels(plan)}
    assert "peak_copy.sasm" not in names and names["sgemm.sasm"] > 0 and names["saxpy.sasm"] > 0
    # a new kernel slots in by its glob
    assert ba.kernels([("*_block.sasm", 9.0, []), ("*.sasm", 1.0, [])], "saxpy")[0][1] == 1.0
    # issue 15's wgmma GEMM (kernels_asm/gemm_bf16.sasm, benchmarked against cuBLAS) counts before it lands
    names.setdefault("gemm_bf16.sasm", next(x for pat, x, _ in plan if fnmatch.fnmatch("gemm_bf16.sasm", pat)))
    assert names["gemm_bf16.sasm"] > 0
    tests = max(s.share for s in steps if s.kind == "tests")  # side by side
    serial = sum(s.share for s in steps if s.kind in ("timing", "peaks", "script")) + sum(names.values())
    assert tests + serial <= 230, (tests, serial)  # the whole check within 240 s, setup included
    assert [s.targets[0] for s in steps if s.kind == "script"] == ["tools/bench_blocks.py"]


def test_sass_group_writes_interleave_timings(gc, tmp_path):
    """The defect: SASS_LAB_BENCH_OUT was never set, so the interleave timings never came back."""
    env = gc.group_env(["tests/sass"], tmp_path)
    assert env["SASS_LAB_BENCH_OUT"] == str(tmp_path / "interleave.json")
    assert "interleave.json" in gc.OUT_FILES and len(gc.OUT_FILES) <= 8
    assert "SASS_LAB_BENCH_OUT" not in gc.group_env(["tests/kernels"], tmp_path)


# ---------------------------------------------------------------------------------- partial results


def test_absorb_marks_the_test_a_kill_stopped(gc, tmp_path):
    prog = tmp_path / "p.jsonl"
    ev = [{"event": "start", "nodeid": "t.py::a"},
          {"event": "report", "nodeid": "t.py::a", "when": "setup", "outcome": "passed", "duration": 0},
          {"event": "report", "nodeid": "t.py::a", "when": "call", "outcome": "passed", "duration": 1.5},
          {"event": "finish", "nodeid": "t.py::a"},
          {"event": "start", "nodeid": "t.py::b"}]
    prog.write_text("\n".join(json.dumps(e) for e in ev) + "\n")
    g = gc.Group("g")
    clean, culprit = gc.absorb(g, prog, "killed at the group's share (10 s)")
    assert not clean and culprit == "t.py::b"
    assert g.counts() == {"passed": 1, "failed": 0, "timed out": 1, "skipped": 0}
    root = ET.fromstring(gc.junit(g))
    assert root.get("tests") == "2" and root.get("errors") == "1"


def test_archive_is_replaced_atomically(gc, tmp_path):
    xml = tmp_path / "xml"
    xml.mkdir()
    out = tmp_path / "out"
    out.mkdir()
    for i in range(3):
        (xml / f"g{i}.xml").write_text("<testsuite/>")
        gc.write_archive(out, xml)
        assert sorted(os.listdir(out)) == ["junit.tar.gz"]
        with tarfile.open(out / "junit.tar.gz") as t:
            assert len(t.getnames()) == i + 1


# ---------------------------------------------------------------------------------- bench_all


def test_bench_never_reruns_a_kernel(ba, monkeypatch, tmp_path):
    """The defect: any failure (a timeout too) reran the kernel without its peer, with the full timeout."""
    calls = []

    def child(argv, timeout):
        calls.append((argv, timeout))
        return 124, "", "timed out after 5 s (killed)"

    monkeypatch.setattr(ba, "child", child)
    e = ba.bench_one(ROOT / "kernels_asm" / "sgemm_tiled.sasm", 10.0, 5.0)
    assert len(calls) == 1 and calls[0][1] == 5.0
    assert e["timed_out"] and e["error"].startswith("timed out")


def test_bench_keeps_a_peer_error_in_the_row(ba, monkeypatch):
    res = [{"kernel": "k", "peer_error": "no peer library: none of torch, cupy can be imported"}]
    monkeypatch.setattr(ba, "child", lambda argv, timeout: (0, json.dumps(res), ""))
    e = ba.bench_one(ROOT / "kernels_asm" / "sgemm_tiled.sasm", 10.0, 5.0)
    assert "error" not in e and e["peer_error"].startswith("no peer library")


def test_bench_shares_and_budget(ba, monkeypatch, tmp_path):
    runs = []

    def child(argv, timeout):
        if "--child-peaks" in argv:
            return 1, "", "no peaks here"
        runs.append((Path(argv[3]).name, timeout))
        return 0, "[]", ""

    monkeypatch.setattr(ba, "child", child)
    plan = tmp_path / "p.plan"
    plan.write_text("peaks peaks 1\nbench saxpy.sasm 4\nbench reduce.sasm 50\nbench *.sasm 0\n")
    rc = ba.main(["--out", str(tmp_path), "--plan", str(plan), "--budget-s", "20"])
    lines = [json.loads(x) for x in (tmp_path / "bench.jsonl").read_text().splitlines()]
    assert runs == [("saxpy.sasm", 4.0)] and rc == 1  # reduce's share (50 s) is not left: skipped
    assert [x["file"] for x in lines[1:]] == ["reduce.sasm", "saxpy.sasm"] and lines[1]["skipped"]
    assert "reduce.sasm: skipped" in (tmp_path / "bench.md").read_text()


# ---------------------------------------------------------------------------------- the rehearsal


def test_rehearsal(tmp_path):
    """bash tools/gpu_check.sh --rehearse on a small plan: a fault and a hang cost only their own test."""
    out = tmp_path / "out"
    env = {**os.environ, "OUT": str(out), "PYTHON": sys.executable, "SASS_LAB_FAKE_GPU_HANG": "planted_hang",
           "GPU_CHECK_TEST_TIMEOUT": "40",  # the tuner's workers on a loaded 2-core box: far below
           "XDG_CACHE_HOME": str(tmp_path / "c"),
           "XDG_DATA_HOME": str(tmp_path / "d")}
    env.pop("SASS_LAB_TEST_CUBINS", None)
    p = subprocess.run(["bash", str(TOOLS / "gpu_check.sh"), "--rehearse", "--plan",
                        str(ROOT / "tests" / "tools" / "rehearsal.plan")],
                       env=env, cwd=ROOT, capture_output=True, text=True, timeout=400)
    log = (out / "gpu_check.log").read_text()
    assert p.stdout.strip().splitlines()[-1] in log.strip().splitlines()[-1], p.stdout[-3000:]
    last = log.strip().splitlines()[-1]
    assert re.search(r"gpu_check FAILED in \d+ s: tests 6 passed, 0 failed, 1 timed out, 0 skipped; "
                     r"bench 2 ok, 0 failed, 0 timed out, 0 skipped$", last), log[-3000:]
    assert p.returncode == 1
    files = device_tool_would_return(out)
    assert files == ["bench.jsonl", "bench.md", "gpu_check.log", "junit.tar.gz", "tests.log", "versions.txt"]
    assert "stand-in" in (out / "versions.txt").read_text().splitlines()[0]
    assert re.search(r"phase tests:planted done in [\d.]+ s \(cpu [\d.]+ s[^)]*, 3 process\(es\)\)", log)
    with tarfile.open(out / "junit.tar.gz") as t:
        suites = {n: ET.fromstring(t.extractfile(n).read()) for n in t.getnames()}
    planted = suites["planted.xml"]
    cases = {c.get("name"): c for c in planted.iter("testcase")}
    assert cases["test_d_hangs"].find("error").get("type") == "timeout"
    assert "test_b_faults stopped the process (exit 75)" in log  # the broken context: a fresh process
    assert "test_d_hangs stopped the process (exit 124)" in log   # the hung synchronize: killed
    assert all(cases[n].find("*") is None for n in ("test_a_runs", "test_c_after_the_fault",
                                                      "test_e_after_the_hang"))
    assert suites["tuner.xml"].get("tests") == "1" and suites["tuner.xml"].get("failures") == "0"
    assert "test_f_alone_on_the_gpu" not in cases  # marked timing: not beside the other groups ...
    timing = {c.get("name"): c for c in suites["timing.xml"].iter("testcase")}
    assert list(timing) == ["test_f_alone_on_the_gpu"] and timing["test_f_alone_on_the_gpu"].find("*") is None
    assert re.search(r"phase tests done in [\d.]+ s \(2 groups, 2 at a time\)", log)
    rows = [json.loads(x) for x in (out / "bench.jsonl").read_text().splitlines()]
    sg = next(r for r in rows if r.get("file") == "sgemm_tiled.sasm")
    assert sg["results"] and sg["results"][0]["time_ms"]["median"] > 0 and "peer_error" in sg


def test_script_step_folds_its_files_into_the_bench_files(gc, tmp_path):
    """A comparison tool (tools/bench_blocks.py in the plan) adds no file to $OUT: its .json becomes a
    bench.jsonl line, its .md is appended to bench.md; it gets --out and a budget under its share."""
    tool = tmp_path / "tool.py"
    tool.write_text("import json, sys, pathlib\nout = pathlib.Path(sys.argv[sys.argv.index('--out') + 1])\n"
                    "b = float(sys.argv[sys.argv.index('--budget-s') + 1])\n"
                    "(out / 'blocks.json').write_text(json.dumps({'rows': [1], 'budget': b}))\n"
                    "(out / 'blocks.md').write_text('| fused | 1 |\\n')\n")
    args = gc.parse(["--out", str(tmp_path / "out"), "--budget-s", "100"])
    r = gc.Runner(args)
    r.script(gc.Step("script", "blocks", 20.0, (str(tool), "--n", "1")))
    line = json.loads((tmp_path / "out" / "bench.jsonl").read_text())
    assert line["script"] == "blocks" and line["data"] == {"rows": [1], "budget": 16.0}
    assert "## blocks (blocks.md)" in (tmp_path / "out" / "bench.md").read_text()
    assert r.bench == [{"file": "blocks"}] and "phase script:blocks done" in (tmp_path / "out" /
                                                                             "gpu_check.log").read_text()
