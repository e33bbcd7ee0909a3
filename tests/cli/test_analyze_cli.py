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
