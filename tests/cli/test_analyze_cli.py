"""`sass_lab analyze`: exit codes, JSON, fusion what-if, bad input."""

from __future__ import annotations

import json

from sass_lab.cli.main import main


def test_analyze_json_with_fusion(capsys, tmp_path):
    times = tmp_path / "t.json"
    times.write_text(json.dumps({"dwconv7x7": 0.05}))
    assert main(["analyze", "convnext_block", "--batch", "8", "--fuse", "1:6", "--json",
                 "--times", str(times)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert len(out["base"]["layers"]) == 7 and len(out["fusions"]["1:6"]["layers"]) == 2
    assert out["fusions"]["1:6"]["waterline_s"] < out["base"]["waterline_s"]
    assert out["base"]["layers"][0]["time_s"] == 0.05e-3


def test_analyze_table(capsys):
    assert main(["analyze", "vgg16", "--fuse", "conv1_1:relu1_1"]) == 0
    assert "waterline" in capsys.readouterr().out


def test_analyze_bad_input(capsys):
    assert main(["analyze", "no_such_net"]) == 1
    err = capsys.readouterr().err
    assert "no network" in err and "Traceback" not in err
    assert main(["analyze", "vgg16", "--fuse", "nolayer:conv1_1"]) == 1
    assert main(["analyze"]) == 1


def test_analyze_results_empty_db(capsys, tmp_path):
    assert main(["analyze", "--results", "--db", str(tmp_path / "x.db")]) == 1
    assert "no results database at" in capsys.readouterr().err  # and none is created


def test_png(tmp_path):
    import pytest

    pytest.importorskip("matplotlib")  # the optional [plot] extra
    out = tmp_path / "gap.png"
    assert main(["analyze", "convnext_block", "--png", str(out)]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_block_networks_plan_and_fused_row(capsys):
    assert main(["analyze", "convfirst", "--batch", "8", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [x["name"] for x in out["base"]["layers"]] == ["grouped3x3", "expand1x1+silu", "project1x1+residual"]
    assert out["fused"]["layers"][0]["name"] == "convfirst_block"
    assert out["plan"]["registers_source"] == "ptxas" and out["plan"]["fits"]
    assert out["fused"]["waterline_s"] < out["base"]["waterline_s"]
    assert out["peak_flops"] == 989e12
    assert main(["analyze", "mbconv", "--batch", "2", "--channels", "32", "--hw", "12", "--tile", "8,8,4,16",
                 "--arch", "sm_80", "--json"]) == 0
    plan = json.loads(capsys.readouterr().out)["plan"]
    assert plan["c"] == 32 and plan["tile"] == {"th": 8, "tw": 8, "nw": 4, "ch": 16} and plan["arch"] == "sm_80"


def test_block_network_tables_and_tiles(capsys):
    assert main(["analyze", "mbconv", "--batch", "32", "--tiles", "--fuse", "0:2"]) == 0
    out = capsys.readouterr().out
    assert "planner: mbconv_block" in out and "tiles that fit" in out and "what-if: fuse 0:2" in out
    assert main(["analyze", "convfirst", "--tile", "8,x"]) == 1
    assert "bad --tile" in capsys.readouterr().err


def test_convnext_what_if_row(capsys):
    assert main(["analyze", "convnext_block", "--batch", "4", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["fused"]["layers"][0]["name"] == "fused (what-if, no kernel)" and "plan" not in out


def test_fusion_png(tmp_path):
    import pytest

    pytest.importorskip("matplotlib")
    png = tmp_path / "f.png"
    assert main(["analyze", "convfirst", "--batch", "32", "--png", str(png)]) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
