"""The content-addressed cubin cache: hits skip the compiler, keys separate what changes a binary,
and a damaged or planted entry is never served: it is dropped and compiled again."""

from __future__ import annotations

import pytest
from ir_samples import kernel_from_lines, saxpy

import sass_lab.toolchain.compile as C
from sass_lab.backend.ptx import emit
from sass_lab.toolchain import cache
from sass_lab.toolchain.options import CompileOptions


@pytest.fixture
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SASS_LAB_CACHE", str(tmp_path))
    return tmp_path


def _no_compiler(monkeypatch):
    def boom(*a):
        raise AssertionError("compiled again")

    monkeypatch.setattr(C, "run_ptxas", boom)
    monkeypatch.setattr(C.nvjitlink, "run_caged", boom)


@pytest.mark.parametrize("compiler", ["ptxas", "nvjitlink"])
def test_hit_skips_the_compiler(private_cache, monkeypatch, compiler):
    ptx = emit(saxpy(), "sm_90").text
    first = C.compile_ptx(ptx, "sm_90", options=CompileOptions(compiler=compiler))
    assert len(list(private_cache.glob("*.entry"))) == 1
    _no_compiler(monkeypatch)
    second = C.compile_ptx(ptx, "sm_90", options=CompileOptions(compiler=compiler))
    assert second.cubin == first.cubin and second.resources == first.resources
    assert second.compiler == first.compiler
    with pytest.raises(AssertionError):
        C.compile_ptx(ptx, "sm_80", options=CompileOptions(compiler=compiler))  # another arch is another key
    other = "ptxas" if compiler == "nvjitlink" else "nvjitlink"
    with pytest.raises(AssertionError):
        C.compile_ptx(ptx, "sm_90", options=CompileOptions(compiler=other))  # another compiler is another key


def test_keys_differ_by_everything_that_changes_a_binary():
    base = cache.key("ptx", "sm_90", "nvJitLink 13.0.88", ())
    assert base == cache.key("ptx", "sm_90", "nvJitLink 13.0.88", ())
    others = {cache.key("ptx ", "sm_90", "nvJitLink 13.0.88", ()), cache.key("ptx", "sm_80", "nvJitLink 13.0.88", ()),
              cache.key("ptx", "sm_90", "ptxas 13.0.88 /x 1", ()), cache.key("ptx", "sm_90", "nvJitLink 13.0.88", ("-O1",)),
              cache.key("ptx", "sm_90", "nvJitLink 13.0.89", ())}
    assert base not in others and len(others) == 5


def test_compiler_identity_names_version_and_binary():
    label, ident = C.compiler_id("ptxas", "sm_90")
    assert label.startswith("ptxas 13.0.") and label in ident and "/ptxas" in ident
    assert C.compiler_id("nvjitlink", "sm_90")[0].startswith("nvJitLink 13.0.")
    assert C.compiler_id("ptxas", "sm_70")[0].startswith("ptxas 12.")


def test_off_and_errors_not_cached(tmp_path, monkeypatch):
    monkeypatch.setenv("SASS_LAB_CACHE", "off")
    assert cache.cache_dir() is None and cache.load("x") is None
    cache.store("x", cache.Entry(b"c", "l", ("k",), "t"))  # no-op
    monkeypatch.setenv("SASS_LAB_CACHE", str(tmp_path))
    from sass_lab.errors import ToolchainError

    with pytest.raises(ToolchainError):
        C.compile_ptx(".version 9.0\n.target sm_90\n.address_size 64\n.visible .entry k() { bogus; }\n",
                      "sm_90")
    assert list(tmp_path.glob("*.entry")) == []


def _other_kernel_ptx() -> str:
    k = kernel_from_lines("other", [("P", "u64")], [("a", "u64")], "ld.param.u64 a, [P];\nret;",
                          file="o.sasm", first_line=2)
    from sass_lab import ir

    return emit(ir.Module((k,), file="o.sasm"), "sm_90").text


@pytest.mark.parametrize("damage", ["truncate", "flip", "garbage", "planted", "empty"])
def test_bad_entry_is_replaced_never_served(private_cache, damage):
    ptx = emit(saxpy(), "sm_90").text
    good = C.compile_ptx(ptx, "sm_90")
    (entry,) = private_cache.glob("*.entry")
    data = entry.read_bytes()
    if damage == "truncate":
        entry.write_bytes(data[: len(data) - 100])
    elif damage == "flip":  # one bit of the cubin: the checksum catches it
        entry.write_bytes(data[:-50] + bytes([data[-50] ^ 1]) + data[-49:])
    elif damage == "garbage":
        entry.write_bytes(b"\x7fELF" + b"\0" * 200)
    elif damage == "empty":
        entry.write_bytes(b"")
    else:  # another kernel's valid cubin, with matching checksums, planted under this key
        other = C.compile_ptx(_other_kernel_ptx(), "sm_90")
        k = entry.name.removesuffix(".entry")
        entry.unlink()
        cache.store(k, cache.Entry(other.cubin, other.log, ("saxpy",), good.compiler))  # a lying header
    again = C.compile_ptx(ptx, "sm_90")
    assert again.cubin == good.cubin and set(again.resources) == {"saxpy"}
    assert cache._decode(entry.read_bytes()).cubin == good.cubin  # replaced by a good entry


def test_unwritable_cache_only_costs_a_recompile(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    monkeypatch.setenv("SASS_LAB_CACHE", str(blocker / "cubins"))
    res = C.compile_ptx(emit(saxpy(), "sm_90").text, "sm_90")
    assert "saxpy" in res.resources
