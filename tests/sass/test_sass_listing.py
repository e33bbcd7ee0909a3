"""The editable listing end to end: write, read, assemble, splice; byte-identical round trips,
edits that change the code length (EXIT offsets, symbols, relocations), and user errors."""

from __future__ import annotations

import hashlib
import io
import re

import pytest
from sass_fixtures import compile_fixture

from sass_lab.cli.main import main
from sass_lab.errors import SourceError, UsageError
from sass_lab.sass import assembler, sassfile
from sass_lab.sass.disasm import disassemble
from sass_lab.toolchain.cubin import read_cubin


def listing_of(cubin: bytes) -> str:
    return sassfile.write(cubin, "k.skel.cubin", hashlib.sha1(cubin).hexdigest())


def assemble_text(text: str, cubin: bytes, **kw) -> assembler.Assembled:
    return assembler.assemble(sassfile.read(text, "k.sass"), cubin, **kw)


@pytest.mark.parametrize("name,arch", [("sgemm", "sm_90"), ("misc", "sm_90"), ("mma", "sm_90"),
                                       ("hopper", "sm_90a"), ("wgmma", "sm_90a")])
def test_unedited_listing_rebuilds_the_cubin_byte_for_byte(name, arch):
    cubin = compile_fixture(name, arch)
    text = listing_of(cubin)
    out = assemble_text(text, cubin, check=False)
    assert out.cubin == cubin
    assert sassfile.dump(sassfile.read(text, "k.sass")).count("\n") > 10


ODD_GLOBALS = """.version 9.0
.target sm_90
.address_size 64
.global .align 4 .b32 gv[3] = {1, 2, 3};
.global .align 1 .b8 gs[7] = {1, 2, 3, 4, 5, 6, 7};
.global .align 4 .u32 hits;
.visible .entry k(.param .u64 p)
{
  .reg .b32 %r<5>; .reg .b64 %rd<4>;
  ld.param.u64 %rd1, [p];
  ld.global.u32 %r1, [gv+4];
  ld.global.u8 %r2, [gs+3];
  ld.global.u32 %r4, [hits];
  add.s32 %r3, %r1, %r2;
  add.s32 %r3, %r3, %r4;
  st.global.u32 [%rd1], %r3;
  ret;
}
"""


def test_a_segment_padded_past_its_last_section_round_trips():
    """ptxas gives the data segment p_filesz 20 over a 19-byte .nv.global.init: the padding stays."""
    from elftools.elf.elffile import ELFFile

    from sass_lab.toolchain.compile import compile_ptx

    cubin = compile_ptx(ODD_GLOBALS, "sm_90").cubin
    init = ELFFile(io.BytesIO(cubin)).get_section_by_name(".nv.global.init")
    seg = next(s for s in ELFFile(io.BytesIO(cubin)).iter_segments() if s["p_offset"] == init["sh_offset"])
    assert seg["p_filesz"] > init["sh_size"]  # the case itself
    assert assemble_text(listing_of(cubin), cubin, check=False).cubin == cubin


def _relocs(cubin: bytes) -> dict[str, list[tuple[int, int]]]:
    from elftools.elf.elffile import ELFFile
    from elftools.elf.relocation import RelocationSection

    elf = ELFFile(io.BytesIO(cubin))
    return {s.name: [(r["r_offset"], r["r_addend"]) for r in s.iter_relocations()]
            for s in elf.iter_sections() if isinstance(s, RelocationSection) and s.name.startswith(".rela.text")}


def _returns(instrs) -> list[tuple[int, int]]:
    """(return address set by a MOV before each CALL.REL, address after that call)."""
    import re as _re

    out = []
    for k, ins in enumerate(instrs):
        if ins.opcode == "CALL" and "REL" in ins.text:
            mov = next(i for i in reversed(instrs[:k]) if _re.match(r"MOV R(2|14), 0x[0-9a-f]+", i.text))
            out.append((int(mov.text.split(",")[1].strip(" ;"), 16), ins.address + 16))
    return out


def test_return_addresses_are_labels_in_the_listing():
    cubin = compile_fixture("misc", "sm_90")
    text = listing_of(cubin)
    dmix = text[text.index(".function dmix"):text.index(".function", text.index(".function dmix") + 1)]
    assert "MOV R2, `(.L_ret_0) ;" in dmix and "MOV R14, `(.L_x_5) ;" in dmix
    assert "\n.L_ret_0:\n" in dmix
    assert all(a == b for a, b in _returns(disassemble(cubin)["dmix"]))


def test_longer_code_moves_exits_symbols_relocations_and_return_addresses():
    cubin = compile_fixture("misc", "sm_90")
    text = listing_of(cubin)
    # two NOPs at the top of dmix (it calls device functions through relocated operands)
    text = text.replace("\ndmix:\n", "\ndmix:\n        --:-:-:-:1      NOP ;\n        --:-:-:-:1      NOP ;\n", 1)
    out = assemble_text(text, cubin, check=False)
    assembler.readback(out, sassfile.read(text, "k.sass"))
    old, new = read_cubin(cubin)["dmix"], read_cubin(out.cubin)["dmix"]
    assert new.text_bytes == old.text_bytes + 32
    exits = [a.words() for a in new.attrs if a.name == "EXIT_INSTR_OFFSETS"][0]
    assert list(exits) == [a + 32 for a in [x.words() for x in old.attrs if x.name == "EXIT_INSTR_OFFSETS"][0]]
    instrs = disassemble(out.cubin)["dmix"]
    assert [i.address for i in instrs if i.opcode == "EXIT"] == list(exits)
    r_old, r_new = _relocs(cubin)[".rela.text.dmix"], _relocs(out.cubin)[".rela.text.dmix"]
    assert [o + 32 for o, _a in r_old] == [o for o, _a in r_new]
    by_addr = {i.address: i for i in instrs}
    assert all(("@lo" in by_addr[o].text or "@hi" in by_addr[o].text or by_addr[o].opcode == "CALL") for o, _ in r_new)
    # every call still returns to the instruction after it
    rets = _returns(instrs)
    assert len(rets) == 2 and all(a == b for a, b in rets)
    assert [a for a, _ in rets] == [a + 32 for a, _ in _returns(disassemble(cubin)["dmix"])]
    from elftools.elf.elffile import ELFFile

    sym = next(s for s in ELFFile(io.BytesIO(out.cubin)).get_section_by_name(".symtab").iter_symbols()
               if s.name == "dmix")
    assert sym["st_size"] == new.text_bytes


@pytest.mark.parametrize("pad", [1, 3, 17])
def test_calls_and_returns_at_other_offsets_read_back(pad):
    """RET.REL.NODEC and CALL.REL.NOINC at offsets shifted by 16, 48 and 272 bytes (their offset bits
    4-8 all change): encoded from the learned model, read back by nvdisasm, returning where they should."""
    cubin = compile_fixture("misc", "sm_90")
    text = listing_of(cubin).replace("\ndmix:\n", "\ndmix:\n" + "        --:-:-:-:1      NOP ;\n" * pad, 1)
    out = assemble_text(text, cubin, check=False)
    assembler.readback(out, sassfile.read(text, "k.sass"))
    instrs = disassemble(out.cubin)["dmix"]
    old = disassemble(cubin)["dmix"]
    shift = 16 * pad
    assert [(i.address, i.text) for i in instrs if i.opcode in ("RET", "CALL")] == \
        [(i.address + shift, i.text) for i in old if i.opcode in ("RET", "CALL")]
    rets = _returns(instrs)
    assert len(rets) == 2 and all(a == b for a, b in rets)


def test_code_before_the_entry_label_and_a_call_without_its_return_label_are_refused():
    cubin = compile_fixture("misc", "sm_90")
    text = listing_of(cubin)
    e = _err(text.replace(".function dmix\n", ".function dmix\n        --:-:-:-:1      NOP ;\n", 1), cubin, check=False)
    assert "entry label 'dmix:'" in e.message
    # the return address written as a number: right while the call stays, refused once it moves
    lines = text.replace("MOV R2, `(.L_ret_0)", "MOV R2, 0x280").splitlines()
    assemble_text("\n".join(lines) + "\n", cubin, check=False)
    k = lines.index("dmix:")
    moved = "\n".join(lines[:k + 1] + ["        --:-:-:-:1      NOP ;"] + lines[k + 1:]) + "\n"
    e = _err(moved, cubin, check=False)
    assert "return address" in e.message and "CALL.REL.NOINC" in e.span.source


def _int_warp_wide(cubin: bytes) -> list[int]:
    """.nv.info attribute 0x31 (EIATTR_INT_WARP_WIDE_INSTR_OFFSETS) of dmix."""
    return [w for a in read_cubin(cubin)["dmix"].attrs if a.name == "0x31" for w in a.words()]


def test_shorter_code_moves_the_warp_wide_sites_of_attribute_0x31():
    cubin = compile_fixture("misc", "sm_90")
    text = listing_of(cubin)
    lines = text.splitlines()
    start = lines.index(".function dmix")
    k = next(i for i in range(start, len(lines)) if "IMAD.MOV.U32" in lines[i] or re.search(r"\bMOV R", lines[i]))
    del lines[k]  # one register copy less (the result may differ; the layout must still be right)
    out = assemble_text("\n".join(lines) + "\n", cubin, check=False)
    assembler.readback(out, sassfile.read("\n".join(lines) + "\n", "k.sass"))
    assert read_cubin(out.cubin)["dmix"].text_bytes == read_cubin(cubin)["dmix"].text_bytes - 16
    old = {i.address: i.text for i in disassemble(cubin)["dmix"]}
    new = {i.address: i.text for i in disassemble(out.cubin)["dmix"]}
    sites_old, sites_new = _int_warp_wide(cubin), _int_warp_wide(out.cubin)
    assert sites_old and [a - 16 for a in sites_old] == sites_new  # all of them come after the deleted copy
    assert [old[a] for a in sites_old] == [new[a] for a in sites_new]
    assert any("VOTEU" in new[a] for a in sites_new)
    # a listed instruction that is edited cannot be followed: refused, naming it
    vote = next(i for i, line in enumerate(lines) if "VOTEU.ANY" in line)
    lines[vote] = lines[vote].replace("VOTEU.ANY UR4,", "VOTEU.ANY UR5,")
    with pytest.raises(Exception, match="0x31 lists the instruction"):
        assemble_text("\n".join(lines) + "\n", cubin, check=False)


def test_named_barrier_count_comes_from_the_barrier_operand_not_the_thread_count():
    cubin = compile_fixture("misc", "sm_90")
    text = listing_of(cubin).replace("\nsaxpy:\n", "\nsaxpy:\n", 1)
    lines = text.splitlines()
    start = lines.index(".function saxpy")
    k = next(i for i in range(start, len(lines)) if lines[i].startswith("        "))
    lines.insert(k, "        --:-:-:-:5      BAR.SYNC.DEFER_BLOCKING 0x1, 0x80 ;")
    out = assemble_text("\n".join(lines) + "\n", cubin, check=False)
    assert read_cubin(out.cubin)["saxpy"].barriers == 2  # barriers 0 and 1 (not 0x80 + 1)


def _err(text: str, cubin: bytes, **kw) -> SourceError:
    with pytest.raises(SourceError) as e:
        assemble_text(text, cubin, **kw)
    return e.value


def test_errors_point_at_the_line():
    cubin = compile_fixture("misc", "sm_90")
    text = listing_of(cubin)
    lines = text.splitlines()
    k = next(i for i, line in enumerate(lines) if "FADD" in line or "FFMA" in line)
    bad = lines[:k] + ["        --:-:-:-:1      FFMA.NOPE R1, R2, R3, R4 ;"] + lines[k + 1:]
    e = _err("\n".join(bad), cubin, check=False)
    assert e.span.line == k + 1 and "never seen" in e.message and "nearest seen variants: FFMA" in e.hint
    assert "^" in e.span.caret()
    bad = lines[:k] + ["        --:-:-:-:1      BRA `(.L_x_nowhere) ;"] + lines[k + 1:]
    assert "unknown label" in _err("\n".join(bad), cubin, check=False).message
    bad = lines[:k] + ["        99:-:-:-:1      NOP ;"] + lines[k + 1:]
    e = _err("\n".join(bad), cubin)
    assert "wait mask" in e.message and e.span.col == 9
    bad = lines[:k] + ["        --:-:-:-:1      FFMA R1, R2.reuse, R3, R4 ;"] + lines[k + 1:]
    assert "reuse" in _err("\n".join(bad), cubin).hint
    bad = lines[:k] + ["        NOP ;"] + lines[k + 1:]
    assert "without a control field" in _err("\n".join(bad), cubin).message
    assert "unknown directive" in _err(text.replace(".function saxpy", ".fnction saxpy"), cubin).message


def test_hazard_is_an_error_with_its_line():
    cubin = compile_fixture("misc", "sm_90")
    text = listing_of(cubin)
    lines = text.splitlines()
    # drop every wait in saxpy: its loads' consumers now race them
    s = lines.index(".function saxpy")
    broken = lines[:s] + [re.sub(r"^(\s+)[0-9a-f]{2}:", r"\1--:", ln) for ln in lines[s:]]
    e = _err("\n".join(broken), cubin)
    assert e.message.startswith("hazard: RAW") and "variable-latency" in e.message
    assert e.span.line > s


def test_skeleton_checks(tmp_path):
    cubin = compile_fixture("misc", "sm_90")
    (tmp_path / "k.skel.cubin").write_bytes(cubin)
    lst = sassfile.read(listing_of(cubin), str(tmp_path / "k.sass"))
    assert assembler.load_skeleton(lst) == cubin
    (tmp_path / "k.skel.cubin").write_bytes(cubin + b"\0")
    with pytest.raises(SourceError, match="changed since"):
        assembler.load_skeleton(lst)


def test_cli_edit_and_assemble(tmp_path, capsys):
    cubin = compile_fixture("sgemm", "sm_90")
    src = tmp_path / "s.cubin"
    src.write_bytes(cubin)
    assert main(["sass", str(src), "--edit", "-o", str(tmp_path / "s.sass")]) == 0
    assert (tmp_path / "s.skel.cubin").read_bytes() == cubin
    assert main(["assemble", str(tmp_path / "s.sass"), "-o", str(tmp_path / "out.cubin")]) == 0
    assert (tmp_path / "out.cubin").read_bytes() == cubin
    assert "nvdisasm reads it back" in capsys.readouterr().out
    assert main(["assemble", str(tmp_path / "s.sass"), "-o", str(tmp_path / "s.skel.cubin")]) == 1
    assert "would overwrite the input" in capsys.readouterr().err
    assert main(["sass", str(src), "--edit", "-o", str(tmp_path / "x.txt")]) == 1
    assert main(["sass", str(src), "-o", str(tmp_path / "x.sass")]) == 1
    text = (tmp_path / "s.sass").read_text().replace("FFMA R", "FFMA.BOGUS R", 1)
    (tmp_path / "bad.sass").write_text(text)
    assert main(["assemble", str(tmp_path / "bad.sass"), "-o", str(tmp_path / "b.cubin")]) == 1
    err = capsys.readouterr().err
    assert re.search(r"bad\.sass:\d+:\d+: error: cannot encode", err) and "^" in err
    assert not (tmp_path / "b.cubin").exists()


def test_usage_errors():
    with pytest.raises(SourceError, match="no .function"):
        sassfile.read("# nothing\n", "k.sass")
    with pytest.raises(SourceError, match="before any .function"):
        sassfile.read(".arch sm_90\n        --:-:-:-:1 NOP ;\n", "k.sass")
    with pytest.raises(UsageError):
        assembler.assemble(sassfile.read(".arch sm_80\n.function k\n--:-:-:-:1 NOP ;\n", "k.sass"), b"")


def test_settings_resize_shared_memory_and_registers():
    cubin = compile_fixture("sgemm", "sm_90")
    old = read_cubin(cubin)["sgemm"]
    assert old.shared_section > 0
    text = listing_of(cubin).replace(".function sgemm\n", f".function sgemm\n.shared {old.shared_section + 4096}\n"
                                                           f".registers {old.registers + 8}\n")
    out = assemble_text(text, cubin)
    new = read_cubin(out.cubin)["sgemm"]
    assert (new.shared_section, new.registers) == (old.shared_section + 4096, old.registers + 8)
    assembler.readback(out, sassfile.read(text, "k.sass"))
    low = listing_of(cubin).replace(".function sgemm\n", ".function sgemm\n.registers 16\n")
    assert "below what the code uses" in _err(low, cubin).message
