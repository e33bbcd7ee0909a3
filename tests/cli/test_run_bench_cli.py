"""`sass_lab run` / `sass_lab bench`: exit 3 with one sentence without a GPU; tables and JSON with fakes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

import sass_lab.runtime as rt
from sass_lab.cli import run as cli_run
from sass_lab.cli.main import main
from sass_lab.hw.peaks import Peaks
from sass_lab.lab import bench as lab_bench
from sass_lab.lab.bench import BenchConfig, BenchResult, PeerResult, Timing, figures, summarize
from sass_lab.ui import bench as ui_bench

ROOT = Path(__file__).resolve().parents[2]
SAXPY = str(ROOT / "kernels_asm" / "saxpy.sasm")
no_gpu = pytest.mark.skipif(rt.available(), reason="a GPU is present: the no-GPU path cannot be shown")


@no_gpu
@pytest.mark.parametrize("argv", [["run", SAXPY], ["run", SAXPY, "--size", "n=1000", "-D", "BLOCK=128"],
                                  ["bench", SAXPY], ["bench", SAXPY, "--vs", "cublas", "--json"]])
def test_no_gpu_exits_3_with_one_sentence(argv, capsys):
    assert main(argv) == 3
    cap = capsys.readouterr()
    lines = [ln for ln in cap.err.splitlines() if ln.strip()]
    assert len(lines) == 1, cap.err
    assert "No CUDA GPU can be used" in lines[0] and lines[0].rstrip().endswith(".")
    assert "--emulate" in lines[0] or "--compile-only" in lines[0]  # the CPU alternative
    assert "Traceback" not in cap.err and cap.out == ""


@no_gpu
def test_no_gpu_input_mistake_first(capsys):
    """The input's own mistake is exit 1 as with a GPU (the CPU alternative would meet it too)."""
    assert main(["run", "does_not_exist.sasm"]) == 1
    assert "does_not_exist.sasm" in capsys.readouterr().err


@no_gpu
@pytest.mark.parametrize("cmd", ["run", "bench"])
def test_no_gpu_subprocess(cmd):
    p = subprocess.run([sys.executable, "-m", "sass_lab.cli.main", cmd, SAXPY], capture_output=True,
                       text=True, cwd=ROOT, timeout=120)
    assert p.returncode == 3
    assert "No CUDA GPU can be used" in p.stderr and "Traceback" not in p.stderr


@pytest.mark.parametrize("argv", [["bench"], ["run"], ["bench", SAXPY, "--vs", "mkl"]])
def test_bad_arguments_exit_1(argv, capsys):
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 1
    assert "usage: sass_lab" in capsys.readouterr().err


@pytest.mark.parametrize("cc, arch", [((9, 0), "sm_90"), ((8, 6), "sm_86"), ((8, 7), "sm_86"),
                                      ((12, 0), "sm_90"), ((7, 5), "sm_75")])
def test_device_arch(cc, arch):
    assert cli_run.device_arch(cc) == arch


def timing(ms: list[float]) -> Timing:
    return Timing(summarize(ms), tuple(ms), 3, len(ms), ms[0], False, True, 1)


def fake_result(size=None, peer=True) -> BenchResult:
    sheet = Peaks(100e12, 4e12, "datasheet", "Fake GPU")
    meas = Peaks(50e12, 2e12, "measured", "Fake GPU")
    r = BenchResult("k.sasm", "sgemm", "Fake GPU", size or {"M": 64}, {}, (1, 1, 1), (256, 1, 1),
                    flops=2e9, nbytes=1e8, timing=timing([0.1, 0.2, 0.3]), max_rel_err=1e-7)
    r.figures = figures(0.2, 2e9, 1e8, sheet, meas)
    if peer:
        r.peer = PeerResult("cuBLAS SGEMM (torch)", timing([0.3, 0.3, 0.3]), figures(0.3, 2e9, 1e8, sheet, meas))
    return r


def test_rows_format_times_rates_and_ratio():
    rows = ui_bench.rows([fake_result().to_dict()])
    assert rows[0] == ["sgemm", "M=64", "200.0", "140.0–260.0", "100.0", "10.00", "500", "20.0% / 10.0%",
                       "25.0% / 12.5%", "1.50x"]
    assert rows[1][0] == "cuBLAS SGEMM (torch)" and rows[1][2] == "300.0" and rows[1][-1] == "-"


def test_rows_for_a_copy_kernel_and_without_figures():
    r = fake_result(peer=False)
    r.flops = 0.0
    r.figures = figures(0.2, 0.0, 1e8, Peaks(1, 4e12, "datasheet"), None)
    row = ui_bench.rows([r.to_dict()])[0]
    assert row[5] == "-" and row[7] == "-" and row[8] == "- / 12.5%"
    r.figures = None
    assert ui_bench.rows([r.to_dict()])[0][5:] == ["-", "-", "-", "-", "-"]


def test_markdown_table_shape():
    md = ui_bench.markdown_table([fake_result().to_dict()]).splitlines()
    assert len(md) == 4 and md[0].startswith("| kernel | size |") and md[1].count("|") == len(ui_bench.COLUMNS) + 1
    assert md[2].endswith("| 1.50x |")


@pytest.fixture
def fake_gpu(monkeypatch):
    info = SimpleNamespace(name="Fake GPU", cc=(9, 0), driver_version=13000)
    monkeypatch.setattr(rt, "require_gpu", lambda: None)
    monkeypatch.setattr(rt, "context", lambda ordinal=0: SimpleNamespace(info=info))
    calls = []

    def fake_time_spec(path, size, defines, kernel, cfg, timer, arch, vs, peaks=True):
        calls.append(dict(size=size, defines=defines, cfg=cfg, arch=arch, vs=vs, peaks=peaks))
        r = fake_result(size)
        r.file = str(path)
        return r

    monkeypatch.setattr(lab_bench, "time_spec", fake_time_spec)
    return calls


def test_bench_cli_table_and_options(fake_gpu, capsys):
    assert main(["bench", SAXPY, "--size", "n=4096", "--vs", "auto", "--graph", "--no-flush", "--rep-ms", "50",
                 "-D", "BLOCK=128", "--no-peaks", "--no-save"]) == 0
    out = capsys.readouterr().out
    assert "sgemm" in out and "1.50x" in out and "Fake GPU" in out
    c = fake_gpu[0]
    assert c["size"] == {"n": 4096} and c["defines"] == {"BLOCK": 128} and c["arch"] == "sm_90"
    assert c["vs"] is None  # saxpy's PEER is None
    assert c["cfg"] == BenchConfig(rep_ms=50.0, flush_l2=False, graph=True)
    assert c["peaks"] is False


def test_bench_cli_all_sizes_json_and_store(fake_gpu, capsys, tmp_path):
    from sass_lab.lab.store import Store

    db = tmp_path / "r.db"
    assert main(["bench", SAXPY, "--all-sizes", "--json", "--vs", "cublas", "--db", str(db)]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [d["size"] for d in data] == [{"n": 1 << p} for p in (20, 22, 24, 26)]
    assert all(d["ratio_vs_peer"] == pytest.approx(1.5) for d in data)
    assert fake_gpu[0]["vs"] == "cublas"
    with Store(db) as st:
        rows = st.rows(kind="bench")
    assert len(rows) == 4 and {r.device for r in rows} == {"Fake GPU"} and rows[0].driver == "13000"
    assert all(r.values["median_s"] == pytest.approx(2e-4) and r.values["verified"] == "pass" for r in rows)
    assert main(["bench", SAXPY, "--all-sizes", "--size", "n=1"]) == 1


def test_run_cli_reports_verification(monkeypatch, capsys, fake_gpu):
    from sass_lab.lab import verify as lab_verify

    def fake_verify(path, size, emulate, defines, seed, kernel, arch):
        assert emulate is False and arch == "sm_90"
        checks = [lab_verify.OutputCheck("y", (4,), 1e-8 if size is None else 1.0, 1e-6, 0)]
        return lab_verify.VerifyResult(path, "saxpy", {"n": 4}, {}, "gpu", (1, 1, 1), (4, 1, 1), checks)

    monkeypatch.setattr(lab_verify, "verify", fake_verify)
    assert main(["run", SAXPY]) == 0
    assert "PASS" in capsys.readouterr().out
    assert main(["run", SAXPY, "--size", "n=4", "--json"]) == 1
    assert json.loads(capsys.readouterr().out)["ok"] is False
