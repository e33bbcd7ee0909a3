"""``sass_lab sass`` and ``sass_lab patch`` end to end (JSON contract, listing, errors)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sass_fixtures import ROOT, compile_fixture

from sass_lab.cli.main import main
from sass_lab.sass import disassemble

INSTR_KEYS = {"address", "text", "word", "stall", "yield", "write_barrier", "read_barrier", "wait_mask", "reuse"}


@pytest.fixture(scope="module")
def cubins(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("cubins")
    out = {}
    from sass_lab.toolchain.compile import compile_ptx
    from sass_lab.toolchain.options import CompileOptions

    for name, arch in (("misc", "sm_90"), ("sgemm", "sm_80")):
        p = d / f"{name}_{arch}.cubin"
        # misc as relocatable code (nvJitLink): it keeps libdevice's f64 division as a device function
        p.write_bytes(compile_ptx((ROOT / "tests/sass/data/misc.ptx").read_text(), arch,
                                  options=CompileOptions(compiler="nvjitlink")).cubin
                      if name == "misc" else compile_fixture(name, arch))
        out[name] = p
    return out


def test_sass_json(cubins, capsys):
    assert main(["sass", str(cubins["misc"]), "--json"]) == 0
    recs = json.loads(capsys.readouterr().out)
    assert [r["name"] for r in recs] == ["dmix", "reduce", "saxpy"]  # kernels only by default
    for r in recs:
        assert r["arch"] == "sm_90" and r["entry"] is True
        assert {"mix", "hot_loop_math_share", "bank_conflicts", "reuse_rate", "live_peak"} <= set(r["stats"])
        for ins in r["instructions"]:
            assert INSTR_KEYS <= set(ins)
            assert len(ins["word"]) == 32
            assert ins["write_barrier"] is None or 0 <= ins["write_barrier"] <= 5
    words = {i["address"]: i["word"] for i in recs[2]["instructions"]}
    ref = {i.address: i.word_hex for i in disassemble(cubins["misc"].read_bytes())["saxpy"]}
    assert words == ref


def test_sass_all_and_kernel(cubins, capsys):
    assert main(["sass", str(cubins["misc"]), "--json", "--all"]) == 0
    names = [r["name"] for r in json.loads(capsys.readouterr().out)]
    assert "__cuda_sm20_div_rn_f64_full" in names
    assert main(["sass", str(cubins["misc"]), "--json", "--kernel", "saxpy"]) == 0
    assert [r["name"] for r in json.loads(capsys.readouterr().out)] == ["saxpy"]


def test_sass_listing(cubins, capsys):
    assert main(["sass", str(cubins["sgemm"]), "--banks", "maxwell"]) == 0
    out = capsys.readouterr().out
    assert "kernel sgemm" in out and "FFMA" in out and "hot-loop math share" in out
    assert "maxwell: 4 banks" in out
    assert "│" in out  # hot-loop bar


@pytest.mark.parametrize("argv", [
    ["sass", "missing.cubin"],
    ["sass", "README.md"],
    ["sass", "{misc}", "--kernel", "nope"],
    ["sass", "{misc}", "--arch", "sm_80"],
    ["sass", "{misc}", "--banks", "amd"],
    ["sass", "{misc}", "--banks", "0:1"],
    ["patch", "{misc}", "-o", "{out}"],
    ["patch", "{misc}", "-o", "{out}", "--set", "0x10:stall=3"],
    ["patch", "{misc}", "-o", "{out}", "--kernel", "saxpy", "--set", "0x10:stall=99"],
    ["patch", "{misc}", "-o", "{out}", "--kernel", "saxpy", "--set", "0x18:stall=3"],
])
def test_user_errors_exit_1(argv, cubins, tmp_path, capsys):
    argv = [a.format(misc=cubins["misc"], out=tmp_path / "o.cubin") for a in argv]
    assert main(argv) == 1
    assert "Traceback" not in capsys.readouterr().err


def test_patch_set(cubins, tmp_path, capsys):
    out = tmp_path / "p.cubin"
    assert main(["patch", str(cubins["misc"]), "-o", str(out), "--kernel", "saxpy", "--set", "0x10:stall=3",
                 "--set", "0x10:yield=Y", "--json"]) == 0
    changes = json.loads(capsys.readouterr().out)
    assert [c["address"] for c in changes] == [0x10]
    ins = {i.address: i for i in disassemble(out.read_bytes())["saxpy"]}[0x10]
    assert ins.stall == 3 and ins.yield_


def test_patch_interleave(cubins, tmp_path, capsys):
    out = tmp_path / "i.cubin"
    assert main(["patch", str(cubins["sgemm"]), "-o", str(out), "--interleave-ffma", "0.5"]) == 0
    assert "verified" in capsys.readouterr().out
    before = disassemble(cubins["sgemm"].read_bytes())["sgemm"]
    after = disassemble(out.read_bytes())["sgemm"]
    flipped = [a for b, a in zip(before, after) if a.word != b.word]
    assert flipped and all(a.opcode == "FFMA" and a.yield_ for a in flipped)


@pytest.mark.slow
def test_sass_on_sasm(capsys):
    path = ROOT / "kernels_asm" / "saxpy.sasm"
    try:
        import sass_lab

        sass_lab.assemble_file(path, "sm_80")
    except Exception:  # noqa: BLE001
        pytest.skip("kernels_asm/saxpy.sasm does not assemble yet")
    assert main(["sass", str(path), "--arch", "sm_80", "--json"]) == 0
    recs = json.loads(capsys.readouterr().out)
    assert recs and all(r["arch"] == "sm_80" for r in recs)


def test_custom_bank_model(cubins, capsys):
    assert main(["sass", str(cubins["sgemm"]), "--json", "--banks", "4:1"]) == 0
    custom = json.loads(capsys.readouterr().out)[0]["stats"]
    assert main(["sass", str(cubins["sgemm"]), "--json", "--banks", "maxwell"]) == 0
    maxwell = json.loads(capsys.readouterr().out)[0]["stats"]
    assert custom["bank_model"] == {"name": "4:1", "banks": 4, "ports": 1}
    assert custom["bank_conflicts"] == maxwell["bank_conflicts"] > 0
