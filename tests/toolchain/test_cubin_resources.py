"""Resources from the cubin ELF cross-checked against the -verbose log, kernel by kernel."""

from __future__ import annotations

import pytest
from ptx_fixtures import barriers, local, ntid, shared, spill, two_kernels

from sass_lab.errors import ToolchainError
from sass_lab.hw.arch import arch_info
from sass_lab.toolchain import log as logparse
from sass_lab.toolchain.compile import compile_ptx
from sass_lab.toolchain.cubin import parse_nv_info, read_cubin
from sass_lab.toolchain.options import CompileOptions

ARCHS = ["sm_75", "sm_80", "sm_86", "sm_89", "sm_90", "sm_90a"]

CASES = [
    ("spill", spill(), {"maxrregcount": 24}),
    ("shared", shared(100), {}),
    ("shared", shared(4000), {}),
    ("ntid", ntid(), {}),
    ("ntid", ntid(".maxntid 256\n.minnctapersm 2"), {}),
    ("barriers", barriers(4), {}),
    ("local", local(), {}),
]


@pytest.mark.parametrize("compiler", ["ptxas", "nvjitlink"])
@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("name, ptx, kw", CASES, ids=[f"{c[0]}{i}" for i, c in enumerate(CASES)])
def test_elf_agrees_with_log(arch, name, ptx, kw, compiler):
    res = compile_ptx(ptx.replace("ARCH", arch), arch, options=CompileOptions(compiler=compiler, **kw))
    r = res.resources[name]
    lg = logparse.resources(res.log)[name]
    assert lg.entry
    assert r.registers == lg.registers
    assert r.barriers == lg.barriers
    assert r.stack_bytes == lg.stack_bytes
    assert r.shared_static == lg.shared_static  # ptxas dialect: static only
    k = read_cubin(res.cubin)[name]
    if compiler == "nvjitlink":  # its link step adds a line of its own: section size, reservation included
        assert lg.shared_linked == k.shared_section
    else:
        assert lg.shared_linked is None
    if r.shared_static:
        extra = arch_info(arch).reserved_shared_per_block if arch.startswith("sm_90") else 0
        assert k.shared_section == r.shared_static + extra
        assert k.reserved_in_section == arch.startswith("sm_90")
    assert r.const_bytes[0] == k.const0_bytes
    assert lg.const_bytes.get(0, k.const0_bytes) == k.const0_bytes  # ptxas 13 omits cmem on sm_90


@pytest.mark.parametrize("arch", ["sm_80", "sm_90"])
def test_specific_figures(arch):
    def one(name, ptx, **kw):
        return compile_ptx(ptx.replace("ARCH", arch), arch, options=CompileOptions(**kw)).resources[name]

    sp = one("spill", spill(), maxrregcount=24)
    assert sp.registers == 24 and sp.maxnreg == 24
    assert sp.spill_stores > 0 and sp.spill_loads > 0 and sp.stack_bytes >= sp.spill_stores
    assert one("spill", spill()).spill_stores == 0
    assert one("shared", shared(4000)).shared_static == 4000
    req = one("ntid", ntid())
    assert req.reqntid == (64, 2, 1) and req.max_threads == 128
    mx = one("ntid", ntid(".maxntid 256\n.minnctapersm 2"))
    assert mx.reqntid == () and mx.max_threads == 256 and mx.maxnreg == 128  # 64K / (256 × 2)
    assert one("barriers", barriers(3)).barriers == 3
    lo = one("local", local(32))
    assert lo.stack_bytes == 128 and lo.spill_stores == 0
    assert one("ntid", ntid()).param_bytes == 8
    assert one("ntid", ntid()).reserved_shared == arch_info(arch).reserved_shared_per_block


def test_two_kernels_one_cubin():
    res = compile_ptx(two_kernels().replace("ARCH", "sm_90"), "sm_90")
    assert set(res.resources) == {"shared", "barriers"}
    assert res.resources["shared"].shared_static == 256
    assert res.resources["barriers"].barriers == 2 and res.resources["barriers"].shared_static == 0


def test_params_layout():
    res = compile_ptx(shared().replace("ARCH", "sm_90"), "sm_90")
    k = read_cubin(res.cubin)["shared"]
    assert k.param_offset == 0x210 and [(p.ordinal, p.offset, p.size) for p in k.params] == [(0, 0, 8)]
    res80 = compile_ptx(shared().replace("ARCH", "sm_80"), "sm_80")
    assert read_cubin(res80.cubin)["shared"].param_offset == 0x160


@pytest.mark.parametrize("data, expect", [
    (bytes([4, 0x2F, 8, 0, 9, 0, 0, 0, 32, 0, 0, 0]), [("REGCOUNT", (9, 32))]),
    (bytes([3, 0x1B, 255, 0, 2, 0x4C, 3, 0]), [("MAXREG_COUNT", 255), ("NUM_BARRIERS", 3)]),
    (bytes([1, 0x04, 0, 0, 0, 3, 0x77, 1, 0]), [("CTAIDZ_USED", 0), ("0x77", 1)]),
])
def test_parse_nv_info(data, expect):
    got = parse_nv_info(data)
    out = [(a.name, a.words() if a.fmt == 4 else a.value) for a in got]
    assert out == expect


def test_not_a_cubin():
    with pytest.raises(ToolchainError):
        read_cubin(b"not an elf at all")


def test_device_function_is_not_an_entry():
    from ir_samples import kernel_from_lines

    from sass_lab import ir
    from sass_lab.backend.ptx import emit

    f = kernel_from_lines("helper", [("x", "u64")], [("a", "u64"), ("v", "u32")],
                          "ld.param.u64 a, [x];\nmov.u32 v, 7;\nst.global.u32 [a], v;\nret;")
    f = ir.Kernel(f.name, f.params, f.regs, f.vars, f.directives, f.body, entry=False, visible=False)
    k = kernel_from_lines("main", [], [("a", "u64")], "mov.u64 a, 0;\n{\n.param .u64 arg;\n"
                          "st.param.u64 [arg], a;\ncall.uni helper, (arg);\n}\nret;", extra_syms=("arg",))
    text = emit(ir.Module((f, k)), "sm_90").text
    assert ".func helper(" in text and ".visible .entry main()" in text
    res = compile_ptx(text, "sm_90", options=CompileOptions(compiler="nvjitlink"))  # relocatable code keeps the function
    assert set(res.resources) == {"main"}
    funcs = read_cubin(res.cubin)
    assert funcs["main"].entry and not funcs["helper"].entry
    assert set(compile_ptx(text, "sm_90").resources) == {"main"}  # whole program: inlined or kept, never listed


@pytest.mark.parametrize("directive, check", [
    (".reqntid 128\n.reqnctapercluster 2, 1, 1", lambda k: k.cluster == (2, 1, 1)),
    (".maxntid 128\n.explicitcluster", lambda k: k.explicit_cluster and k.cluster == ()),
    (".reqntid 64\n.maxclusterrank 8", lambda k: k.max_cluster_rank == 8),
    (".maxntid 128\n.maxnreg 40", lambda k: k.maxreg_count == 40),
])
def test_cluster_and_register_directives(directive, check):
    res = compile_ptx(ntid(directive).replace("ARCH", "sm_90"), "sm_90")
    assert check(read_cubin(res.cubin)["ntid"])
    if "reqnctapercluster" in directive:
        assert res.resources["ntid"].cluster == (2, 1, 1)


@pytest.mark.parametrize("cut", [8, 0x40, 200])
def test_a_cut_cubin_is_not_a_cubin(cut):
    from sass_lab.errors import ToolchainError as TE

    cubin = compile_ptx(shared(100).replace("ARCH", "sm_90"), "sm_90").cubin
    with pytest.raises(TE, match="not a cubin"):
        read_cubin(cubin[:cut])


def test_any_cut_or_flipped_cubin_reads_or_is_refused():
    """Every prefix (in 37-byte steps) and every single-byte corruption of a real cubin's ELF header
    and (every 5th byte of) its section header table gives resources or a ToolchainError — never a parser's own exception."""
    from sass_lab.errors import ToolchainError as TE

    cubin = compile_ptx(shared(100).replace("ARCH", "sm_90"), "sm_90").cubin
    shoff = int.from_bytes(cubin[0x28:0x30], "little")
    bad = [cubin[:cut] for cut in range(0, len(cubin), 37)]
    flips = [*range(0x40), *range(shoff, len(cubin), 5)]
    bad += [cubin[:i] + bytes([cubin[i] ^ 0xFF]) + cubin[i + 1:] for i in flips]
    for b in bad:
        try:
            read_cubin(b)
        except TE as e:
            assert "not a cubin" in e.message
