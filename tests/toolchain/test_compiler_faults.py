"""The compiler in a cage: a native crash or a hang in the compiler costs one compile a clear error.

The crash is real: nvJitLink 13.0 corrupts its heap on an error message with a ~100 kB token
(``malloc(): corrupted top size``, SIGABRT); the ptxas command line reports the same PTX cleanly.
"""

from __future__ import annotations

import os

import pytest

from sass_lab.errors import CompilerFault, ToolchainError
from sass_lab.toolchain.compile import compile_ptx
from sass_lab.toolchain.options import CompileOptions

HEAD = ".version 9.0\n.target sm_90\n.address_size 64\n"


def _token_ptx(n: int) -> str:
    return HEAD + (".visible .entry k(.param .u64 p)\n{\n.reg .u64 a;\nld.param.u64 a, [p];\n"
                   f"mov.u64 a, {'x' * n};\nret;\n}}\n")


def _long_ptx(n: int) -> str:
    body = "\n".join(f"fma.rn.f32 f{i % 8}, f{(i + 1) % 8}, f{(i + 2) % 8}, f{i % 8};" for i in range(n))
    return HEAD + (".visible .entry k(.param .u64 p)\n{\n.reg .f32 f<8>;\n.reg .u64 a;\n"
                   f"ld.param.u64 a, [p];\n{body}\nst.global.f32 [a], f0;\nret;\n}}\n")


@pytest.fixture(autouse=True)
def _no_cache(monkeypatch):
    monkeypatch.setenv("SASS_LAB_CACHE", "off")


def test_a_native_crash_in_nvjitlink_costs_one_compile():
    ptx = _token_ptx(100_000)
    with pytest.raises(ToolchainError) as e:
        compile_ptx(ptx, "sm_90", options=CompileOptions(compiler="nvjitlink"))
    if isinstance(e.value, CompilerFault):  # it crashed (it does with 13.0.88): the signal is named
        assert "nvJitLink crashed" in e.value.message and "SIG" in e.value.message
        assert "--compiler ptxas" in e.value.hint
    pid = os.getpid()
    ok = compile_ptx(_token_ptx(1).replace("x;", "a;"), "sm_90", options=CompileOptions(compiler="nvjitlink"))
    assert "k" in ok.resources and os.getpid() == pid  # same process, a fresh worker
    with pytest.raises(ToolchainError) as e:  # the default: ptxas exits 1 with the message, clipped
        compile_ptx(ptx, "sm_90")
    assert not isinstance(e.value, CompilerFault) and "Unknown symbol" in e.value.message
    assert len(e.value.render()) < 5_000


@pytest.mark.parametrize("compiler", ["ptxas", "nvjitlink"])
def test_a_compile_past_its_timeout_is_killed(compiler):
    ptx = _long_ptx(20_000)  # ~0.5 s for either compiler on an idle machine
    with pytest.raises(CompilerFault) as e:
        compile_ptx(ptx, "sm_90", options=CompileOptions(compiler=compiler, timeout=0.05))
    assert "did not finish within the compile timeout (0.05 s)" in e.value.message
    assert "--compile-timeout" in e.value.hint
    small = _long_ptx(10)
    assert "k" in compile_ptx(small, "sm_90", options=CompileOptions(compiler=compiler)).resources
