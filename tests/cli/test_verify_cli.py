"""`sass_lab verify`: exit codes, tables and --json."""

from __future__ import annotations

import json

import pytest

from sass_lab.cli.main import main


def no_gpu():
    from tests.conftest import gpu_available

    if gpu_available():
        pytest.skip("a GPU is present: the no-GPU exit code cannot be observed")


def test_parser_accepts_the_documented_options():
    from sass_lab.cli.main import build_parser

    a = build_parser().parse_args(["verify", "k.sasm", "--emulate", "--size", "M=1,N=2", "-D", "BM=64",
                                   "-D", "TRANS_A=1", "--json", "--seed", "3"])
    assert a.file == "k.sasm" and a.emulate and a.size == "M=1,N=2" and a.defines == ["BM=64", "TRANS_A=1"]
    assert a.json and a.seed == 3 and not a.all_sizes


@pytest.mark.parametrize("argv, needle", [
    (["--size", "M"], "bad --size item"),
    (["--size", "M=1", "--all-sizes"], "exclude each other"),
])
def test_usage_errors_exit_1(capsys, argv, needle):
    assert main(["verify", "kernels_asm/saxpy.sasm", "--emulate", *argv]) == 1
    assert needle in capsys.readouterr().err


def test_missing_lab_block_exits_1(tmp_path, capsys):
    p = tmp_path / "k.sasm"
    p.write_text(".kernel k(.u64 y)\n    ret\n")
    assert main(["verify", str(p), "--emulate"]) == 1
    assert "no '%% lab' block" in capsys.readouterr().err


def test_no_gpu_exits_3(capsys):
    no_gpu()
    assert main(["verify", "kernels_asm/saxpy.sasm", "--size", "n=10"]) == 3
    err = capsys.readouterr().err
    assert "error" in err and "Traceback" not in err


def test_json_and_table(capsys):
    assert main(["verify", "kernels_asm/saxpy.sasm", "--emulate", "--json", "--size", "n=100"]) == 0
    (r,) = json.loads(capsys.readouterr().out)
    assert r["ok"] and r["size"] == {"n": 100} and r["device"] == "emulator"
    assert r["checks"][0]["name"] == "y" and r["checks"][0]["max_rel_err"] <= r["checks"][0]["tol"]
    assert main(["verify", "kernels_asm/saxpy.sasm", "--emulate", "--all-sizes", "-D", "BLOCK=128"]) == 0
    out = capsys.readouterr().out
    assert "PASS" in out and "all 4 run(s) passed" in out


def test_failed_check_exits_1_with_a_table(tmp_path, capsys):
    bad = tmp_path / "saxpy.sasm"
    src = open("kernels_asm/saxpy.sasm").read()
    assert "fma.rn.f32      yv[0], a, xv[0], yv[0]" in src
    bad.write_text(src.replace("fma.rn.f32      yv[0], a, xv[0], yv[0]", "fma.rn.f32      yv[0], a, yv[0], yv[0]"))
    assert main(["verify", str(bad), "--emulate", "--size", "n=64"]) == 1
    out = capsys.readouterr().out
    assert "FAIL" in out and "max err" in out
    assert main(["verify", str(bad), "--emulate", "--size", "n=64", "--json"]) == 1
    assert json.loads(capsys.readouterr().out)[0]["ok"] is False


def test_unknown_define_exits_1(capsys):
    assert main(["verify", "kernels_asm/saxpy.sasm", "--emulate", "-D", "NOPE=1"]) == 1
    assert "NOPE" in capsys.readouterr().err


def test_all_defines_sweeps_the_tuning_space(capsys):
    argv = ["verify", "kernels_asm/saxpy.sasm", "--emulate", "--all-defines", "--size", "n=700", "--json",
            "-D", "VEC=4"]
    assert main(argv) == 0
    rs = json.loads(capsys.readouterr().out)
    assert len(rs) == 9 and all(r["ok"] and r["defines"]["VEC"] == 4 for r in rs)
    assert {(r["defines"]["BLOCK"], r["defines"]["ITEMS"]) for r in rs} == {
        (b, i) for b in (128, 256, 512) for i in (1, 2, 4)}
