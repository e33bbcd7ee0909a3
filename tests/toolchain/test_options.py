"""Compile options are one frozen object with one field-to-flag table; defines never mix with them."""

from __future__ import annotations

import dataclasses

import pytest
from ptx_fixtures import spill

import sass_lab as sl
from sass_lab.cli.main import main
from sass_lab.lab.spec import load_spec
from sass_lab.paths import KERNELS
from sass_lab.toolchain.options import FLAGS, CompileOptions

# a kernel whose defines are named like the options and keyword arguments of the API
NAMED_LIKE_OPTIONS = """\
.define schedule = 1, file = 2, maxrregcount = 3, ptxas = 4, defines = 5, options = 6
.kernel k(.u64 out)
    .reg .u32 v
    mov.u32 v, ${schedule * 100000 + file * 10000 + maxrregcount * 1000 + ptxas * 100 + defines * 10 + options}
    st.global.u32 [out], v
    ret
%% lab
KERNEL = "k"
%%
"""


def test_flags_come_from_the_table():
    assert CompileOptions().flags() == ()
    o = CompileOptions(maxrregcount=32, lineinfo=True, warn_spills=True, extra=("-Xptxas=-O1",))
    assert o.flags() == ("-maxrregcount=32", "-lineinfo", "-Xptxas=-warn-spills", "-Xptxas=-O1")
    assert set(FLAGS) <= {f.name for f in dataclasses.fields(CompileOptions)}


def test_options_are_frozen_and_checked():
    with pytest.raises(dataclasses.FrozenInstanceError):
        CompileOptions().compiler = "nvjitlink"  # type: ignore[misc]
    with pytest.raises(sl.UsageError, match="maxrregcount 8 out of range"):
        CompileOptions(maxrregcount=8)
    with pytest.raises(sl.UsageError, match="unknown compiler"):
        CompileOptions(compiler="nvcc")
    for bad in (0, -1, float("nan"), float("inf")):
        with pytest.raises(sl.UsageError, match="positive number of seconds"):
            CompileOptions(timeout=bad)


def test_options_reach_the_compiler():
    ptx = spill().replace("ARCH", "sm_90")  # 64 values live at once, no .maxntid (which overrides the cap)
    free = sl.assemble(ptx)
    capped = sl.assemble(ptx, options=CompileOptions(maxrregcount=32))
    assert capped.options.maxrregcount == 32 and free.options == CompileOptions()
    assert capped["spill"].resources.registers <= 32 < free["spill"].resources.registers
    assert capped["spill"].resources.spill_stores > 0


@pytest.mark.parametrize("name, value, digit", [("schedule", 0, 0), ("file", 7, 1), ("maxrregcount", 9, 2),
                                                ("ptxas", 0, 3), ("defines", 8, 4), ("options", 0, 5)])
def test_a_define_named_like_an_option_reaches_the_expander(tmp_path, name, value, digit):
    f = tmp_path / "named.sasm"
    f.write_text(NAMED_LIKE_OPTIONS)
    mod = sl.assemble_file(f, defines={name: value})
    assert mod.defines[name] == value
    imm = next(int(t.rstrip(";")) for t in mod.ptx.split() if t.rstrip(";").isdigit() and len(t) > 4)
    assert str(imm).zfill(6)[digit] == str(value)
    assert load_spec(f, {name: value}).defines[name] == value


def test_cli_define_named_like_an_option(tmp_path, capsys):
    f = tmp_path / "named.sasm"
    f.write_text(NAMED_LIKE_OPTIONS)
    assert main(["assemble", str(f), "-D", "schedule=0", "-D", "file=9", "--json"]) == 0
    assert '"name": "k"' in capsys.readouterr().out


@pytest.mark.parametrize("define", ["schedule=0", "file=x"])
def test_cli_unknown_define_named_like_an_option_is_the_expanders_error(define, capsys):
    assert main(["assemble", str(KERNELS / "saxpy.sasm"), "-D", define]) == 1
    err = capsys.readouterr().err
    assert f"unknown define '{define.split('=')[0]}'" in err and "Traceback" not in err
