"""nvdisasm listing → SassInstr: every instruction of every fixture and shipped kernel parses."""

from __future__ import annotations

import pytest
from sass_fixtures import FIXTURE_IDS, compile_fixture, make_instrs, shipped_cubins

from sass_lab.errors import ToolchainError, UsageError
from sass_lab.sass import disassemble, entries
from sass_lab.sass.disasm import cubin_arch, scan
from sass_lab.sass.parse import parse_instructions
from sass_lab.sass.patch import text_sections
from sass_lab.sass.regs import marked_reuse
from sass_lab.sass.stats import effective_reuse


def _check_function(cubin: bytes, name: str, instrs) -> None:
    off, size = text_sections(cubin)[name]
    assert len(instrs) == size // 16  # every 16-byte word became an instruction
    for k, ins in enumerate(instrs):
        assert ins.address == 16 * k
        assert int.from_bytes(cubin[off + ins.address: off + ins.address + 16], "little") == ins.word
        assert ins.opcode and ins.opcode.isupper()
        assert marked_reuse(ins) == effective_reuse(ins), ins.text  # markers sit where the bits say


@pytest.mark.parametrize("name,arch", FIXTURE_IDS)
def test_fixture_parses(name, arch):
    cubin = compile_fixture(name, arch)
    funcs = disassemble(cubin, arch)
    assert funcs and set(entries(cubin)) <= set(funcs)
    for fname, instrs in funcs.items():
        _check_function(cubin, fname, instrs)


@pytest.mark.slow
def test_shipped_kernels_parse():
    cubins = shipped_cubins()
    if not cubins:
        pytest.skip("no kernels_asm/*.sasm assembles yet")
    for _file, arch, cubin in cubins:
        for fname, instrs in disassemble(cubin, arch).items():
            _check_function(cubin, fname, instrs)


@pytest.mark.parametrize("text,kinds,extra", [
    ("FFMA R34, R25, R85.reuse, R34 ;", ["reg"] * 4, lambda o: o[2].reuse and o[2].reg == 85),
    ("@!P0 FSETP.GEU.AND P0, PT, -|R7|.reuse, 1.5e-39, PT ;", ["pred", "pred", "reg", "float", "pred"],
     lambda o: o[2].neg and o[2].absolute and o[2].reuse and o[3].value == 1.5e-39),
    ("STG.E.64 desc[UR8][R4.64+0x1c], R10 ;", ["mem", "reg"],
     lambda o: o[0].base == "desc" and [p.base for p in o[0].parts] == ["UR8", "R4", None]
     and o[0].parts[1].suffixes == ("64",)),
    ("ULDC.64 UR8, c[0x0][0x208] ;", ["ureg", "const"], lambda o: o[1].text == "c[0x0][0x208]"),
    ("LDS.U.128 R4, [R2.X4+UR4+-0x10] ;", ["reg", "mem"], lambda o: o[1].parts[2].value == -16),
    ("@P0 BRA `(.L_x_0) ;", ["label"], lambda o: o[0].text == "`(.L_x_0)"),
    ("RET.ABS.NODEC R20 0x0 ;", ["reg", "imm"], lambda o: o[1].value == 0),
    ("BRX R4 -0x3e0 ;", ["reg", "imm"], lambda o: o[1].value == -0x3E0),
    ("HGMMA.64x64x16.F32.BF16 R24, gdesc[UR8], R24, gsb0 ;", ["reg", "mem", "reg", "name"],
     lambda o: o[1].base == "gdesc"),
    ("MOV R2, 0x0@lo((dmix + .L_x_36@srel)) ;", ["reg", "reloc"], lambda o: True),
    ("UMOV UR5, 32@hi(__cudart_i2opi_d) ;", ["ureg", "reloc"], lambda o: o[1].text == "32@hi(__cudart_i2opi_d)"),
    ("S2R R9, SR_TID.X ;", ["reg", "name"], lambda o: o[1].text == "SR_TID.X"),
    ("DEPBAR.LE SB0, 0x1, {5,4} ;", ["name", "imm", "group"], lambda o: len(o[2].parts) == 2),
    ("FMUL R0, R2, -INF ;", ["reg", "reg", "float"], lambda o: o[2].value == float("-inf")),
    ("LOP3.LUT P0, RZ, R4, 0x1, RZ, 0xc0, !PT ;", ["pred", "reg", "reg", "imm", "reg", "imm", "pred"],
     lambda o: o[6].inverted and o[1].reg is None),
    ("NOP;", [], lambda o: True),
    ("EXIT ;", [], lambda o: True),
    ("HADD2.F32 R0, -RZ, R2.H0_H0 ;", ["reg", "reg", "reg"], lambda o: o[2].suffixes == ("H0_H0",)),
    ("UTMALDG.2D [UR8], [UR14], desc[UR16] ;", ["mem", "mem", "mem"], lambda o: True),
])
def test_operand_forms(text, kinds, extra):
    (guard, opcode, ops), = parse_instructions([text])
    assert [o.kind for o in ops] == kinds
    assert extra(ops)


def test_guard_and_modifiers():
    ins, = make_instrs(["@!P2 ISETP.GE.U32.AND P3, PT, R0, R3, PT ;"])
    assert (ins.guard, ins.opcode, ins.modifiers, ins.op) == ("@!P2", "ISETP", ("GE", "U32", "AND"),
                                                              "ISETP.GE.U32.AND")


def test_branch_targets_resolve():
    instrs = make_instrs(["MOV R0, RZ ;", ".L_x_0:", "IADD3 R0, R0, 0x1, RZ ;", "@P0 BRA `(.L_x_0) ;",
                          "BRA `(.L_x_9) ;"])
    assert instrs[2].target == 0x10
    assert instrs[3].target is None  # unknown label


def test_parse_error_is_toolchain_error():
    with pytest.raises(ToolchainError) as e:
        parse_instructions(["MOV R0, RZ ;", "MOV R0 ,, ;"], where="f")
    assert "MOV R0 ,, ;" in e.value.log


def test_scan_sections_and_labels():
    text = """
\t.section\t.text.k,"ax",@progbits
.text.k:
        /*0000*/                   MOV R1, R2 ;        /* 0x0000000200017202 */
                                                       /* 0x000fe20000000f00 */
.L_x_0:
        /*0010*/                   EXIT ;              /* 0x000000000000794d */
                                                       /* 0x000fea0003800000 */
\t.section\t.nv.info,"",@"SHT_CUDA_INFO"
"""
    raws = scan(text)["k"]
    assert [r.address for r in raws] == [0, 0x10]
    assert raws[1].labels == (".L_x_0",)
    assert raws[0].hi == 0x000FE20000000F00


def test_missing_high_word():
    text = "\t.section\t.text.k,\"ax\",@progbits\n /*0000*/ MOV R1, R2 ; /* 0x0000000200017202 */\nEXIT\n"
    with pytest.raises(ToolchainError):
        scan(text)


@pytest.mark.parametrize("data", [b"", b"not an elf at all", b"\x7fELF" + b"\0" * 60])
def test_not_a_cubin(data):
    with pytest.raises((UsageError, ToolchainError)):
        disassemble(data, "sm_90")


def test_arch_checks():
    cubin = compile_fixture("misc", "sm_80")
    assert cubin_arch(cubin) == "sm_80"
    with pytest.raises(UsageError):
        disassemble(cubin, "sm_90")
    assert cubin_arch(compile_fixture("wgmma", "sm_90a")) == "sm_90"
    disassemble(compile_fixture("wgmma", "sm_90a"), "sm_90a")


def test_disassemble_needs_bytes():
    with pytest.raises(UsageError):
        disassemble("a string", "sm_90")


def test_json_record_shape():
    ins = disassemble(compile_fixture("misc", "sm_90"))["saxpy"][0]
    rec = ins.to_dict()
    assert list(rec) == ["address", "text", "word", "stall", "yield", "write_barrier", "read_barrier",
                         "wait_mask", "reuse"]
    assert len(rec["word"]) == 32 and int(rec["word"], 16) == ins.word
    assert rec["word"][:16] == f"{ins.hi:016x}"  # high word first


def test_target_tells_sm_90a():
    from sass_lab.sass.disasm import target

    assert target(compile_fixture("wgmma", "sm_90a")) == "sm_90a"
    assert target(compile_fixture("misc", "sm_90")) == "sm_90"


def test_nvdisasm_from_a_target_folder_on_the_import_path(tmp_path, monkeypatch):
    """The device machine installs wheels with ``pip install --target DIR`` and PYTHONPATH=DIR, where
    cuda.pathfinder does not look: the carried wheel must win over whatever nvdisasm the host has."""
    import sys

    import cuda.pathfinder

    from sass_lab.sass import disasm

    tool = tmp_path / "site" / "nvidia" / "cu13" / "bin" / "nvdisasm"
    tool.parent.mkdir(parents=True)
    tool.write_text("#!/bin/sh\n")
    tool.chmod(0o644)  # not executable, as some unzip paths leave it
    monkeypatch.setattr(sys, "path", [str(tmp_path / "site"), *sys.path])
    monkeypatch.setattr(cuda.pathfinder, "find_nvidia_binary_utility", lambda name: "/usr/bin/host-nvdisasm",
                        raising=False)
    assert disasm.nvdisasm_path() == str(tool)
    assert tool.stat().st_mode & 0o100
