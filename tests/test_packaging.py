"""The package carries every file it reads: pyproject's package data covers each non-Python file under
sass_lab/ (grammars, shipped kernels, networks), so a wheel works without the checkout. The wheel
itself is built, installed and run by tools/wheel_check.sh (a step of .ci/run)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import sass_lab
from sass_lab import paths
from sass_lab.cli import main as cli

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "sass_lab"


def _package_data() -> dict[str, list[str]]:
    tomllib = pytest.importorskip("tomllib")
    with open(ROOT / "pyproject.toml", "rb") as f:
        return tomllib.load(f)["tool"]["setuptools"]["package-data"]


def _data_files() -> list[Path]:
    out = []
    for dirpath, dirnames, filenames in os.walk(PKG, followlinks=True):
        dirnames[:] = [d for d in dirnames if d != "__pycache__"]
        out += [Path(dirpath) / f for f in filenames if not f.endswith((".py", ".pyc"))]
    return out


def _shipped(data: dict[str, list[str]]) -> set[Path]:
    """The files setuptools ships for ``data``: each package's globs below its folder ("*": every
    package folder, that is every folder with an __init__.py)."""
    out: set[Path] = set()
    for pkg, globs in data.items():
        if pkg == "*":
            bases = [p.parent for p in PKG.rglob("__init__.py")]
        else:
            bases = [ROOT.joinpath(*pkg.split("."))]
        for base in bases:
            for g in globs:
                out.update(base.glob(g))
    return out


def test_every_data_file_ships():
    data = _package_data()
    files = _data_files()
    assert any(f.suffix == ".lark" for f in files) and any(f.suffix == ".sasm" for f in files)
    shipped = _shipped(data)
    missing = [str(f.relative_to(PKG)) for f in files if f not in shipped]
    assert not missing, f"add to [tool.setuptools.package-data] in pyproject.toml: {missing}"


def test_data_lives_inside_the_package():
    assert paths.GRAMMARS.parent == Path(sass_lab.__file__).resolve().parent
    assert {p.name for p in paths.GRAMMARS.glob("*.lark")} >= {"sasm.lark", "ptx.lark", "sass.lark"}
    assert (paths.KERNELS / "saxpy.sasm").is_file()
    assert (PKG / "kernels_asm").resolve() == paths.KERNELS


def test_version(capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(["--version"])
    assert e.value.code == 0
    assert capsys.readouterr().out.strip() == f"sass_lab {sass_lab.__version__}"


def test_license_is_an_spdx_string():
    tomllib = pytest.importorskip("tomllib")
    with open(ROOT / "pyproject.toml", "rb") as f:
        project = tomllib.load(f)["project"]
    assert project["license"] == "MIT"  # the table form is deprecated (setuptools >= 77)
