"""The content-addressed cubin cache: hits skip the compiler, keys separate what changes a binary."""

from __future__ import annotations

import pytest
from ir_samples import saxpy

import sass_lab.toolchain.compile as C
from sass_lab.backend.ptx import emit
from sass_lab.toolchain import cache


@pytest.fixture
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SASS_LAB_CACHE", str(tmp_path))
    return tmp_path


def test_hit_skips_the_compiler(private_cache, monkeypatch):
    ptx = emit(saxpy(), "sm_90").text
    first = C.compile_ptx(ptx, "sm_90")
    assert len(list(private_cache.glob("*.cubin"))) == 1

    def boom(*a):
        raise AssertionError("compiled again")

    monkeypatch.setattr(C, "_run_nvjitlink", boom)
    second = C.compile_ptx(ptx, "sm_90")
    assert second.cubin == first.cubin and second.resources == first.resources
    with pytest.raises(AssertionError):
        C.compile_ptx(ptx, "sm_80")  # another arch is another key


def test_keys_differ_by_everything_that_changes_a_binary():
    base = cache.key("ptx", "sm_90", "nvjitlink:", ())
    assert base == cache.key("ptx", "sm_90", "nvjitlink:", ())
    others = {cache.key("ptx ", "sm_90", "nvjitlink:", ()), cache.key("ptx", "sm_80", "nvjitlink:", ()),
              cache.key("ptx", "sm_90", "ptxas:/x", ()), cache.key("ptx", "sm_90", "nvjitlink:", ("-O1",))}
    assert base not in others and len(others) == 4


def test_off_and_errors_not_cached(tmp_path, monkeypatch):
    monkeypatch.setenv("SASS_LAB_CACHE", "off")
    assert cache.cache_dir() is None and cache.load("x") is None
    cache.store("x", b"c", "l")  # no-op
    monkeypatch.setenv("SASS_LAB_CACHE", str(tmp_path))
    from sass_lab.errors import ToolchainError

    with pytest.raises(ToolchainError):
        C.compile_ptx(".version 9.0\n.target sm_90\n.address_size 64\n.visible .entry k() { bogus; }\n",
                      "sm_90")
    assert list(tmp_path.glob("*.cubin")) == []
