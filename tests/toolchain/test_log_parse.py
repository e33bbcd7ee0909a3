"""The ptxas / nvJitLink log parsers on canned logs (both dialects)."""

from __future__ import annotations

import pytest

from sass_lab.toolchain.log import diagnostics, resources

NVJITLINK_LOG = """\
ptxas application ptx input, line 17; warning : .minnctapersm is ignored when neither .maxntid nor .reqntid is specified.
ptxas warning : For entry w adjusting per thread register count of 8 to lower bound of 24
ptxas info    : 0 bytes gmem
ptxas info    : Compiling entry function 'w' for 'sm_90'
ptxas info    : Function properties for w
ptxas         .     232 bytes stack frame, 228 bytes spill stores, 224 bytes spill loads
ptxas info    : Used 24 registers, used 2 barriers, 4000 bytes smem
ptxas info    : Compile time = 2.073 ms
info    : 0 bytes gmem
info    : Function properties for 'w':
info    : used 24 registers, used 2 barriers, 232 stack, 5024 bytes smem, 536 bytes cmem[0], 16 bytes lmem
"""

PTXAS_LOG = """\
ptxas info    : 0 bytes gmem, 8 bytes cmem[3]
ptxas info    : Function properties for helper
    16 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
ptxas info    : Compiling entry function 'k' for 'sm_75'
ptxas info    : Function properties for k
    0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
ptxas info    : Used 5 registers, used 1 barriers, 1024 bytes smem, 364 bytes cmem[0], 4 bytes cmem[2]
"""


def test_nvjitlink_dialect():
    r = resources(NVJITLINK_LOG)["w"]
    assert r.entry and r.registers == 24 and r.barriers == 2
    assert (r.stack_bytes, r.spill_stores, r.spill_loads) == (232, 228, 224)
    assert (r.shared_static, r.shared_linked, r.local_bytes) == (4000, 5024, 16)
    assert r.const_bytes == {0: 536}


def test_ptxas_dialect_and_functions():
    rs = resources(PTXAS_LOG)
    assert rs["k"].entry and not rs["helper"].entry
    assert rs["helper"].stack_bytes == 16 and rs["helper"].registers is None
    assert rs["k"].const_bytes == {0: 364, 2: 4} and rs["k"].shared_static == 1024


@pytest.mark.parametrize("line, sev, ptx_line, kernel", [
    ("ptxas application ptx input, line 24; error   : Unknown symbol 'y'", "error", 24, None),
    ("ptxas k.ptx, line 3; fatal   : Parsing error near 'x': syntax error", "fatal", 3, None),
    ("ptxas warning : For entry w adjusting per thread register count", "warning", None, "w"),
    ("ptxas fatal   : Ptx assembly aborted due to errors", "fatal", None, None),
])
def test_diagnostics(line, sev, ptx_line, kernel):
    (d,) = diagnostics(line)
    assert (d.severity, d.line, d.kernel) == (sev, ptx_line, kernel)


def test_info_lines_are_not_diagnostics():
    assert [d.severity for d in diagnostics(NVJITLINK_LOG)] == ["warning", "warning"]


def test_coded_advisory():
    (d,) = diagnostics("ptxas info    : (C7504) Potential Performance Loss: 'setmaxnreg' ignored to "
                       "maintain compatibility across compilation units.")
    assert d.severity == "advisory" and d.message.startswith("(C7504)") and d.line is None


def test_on_line_form():
    (d,) = diagnostics("ptxas fatal   : Unexpected non-ASCII character encountered on line 2")
    assert (d.severity, d.line) == ("fatal", 2)
