"""The corpus compiled with nvcc -G (debug code: every helper a real call, fragments and arrays in local
frames reached through generic pointers, each call's ``.param`` variables declared in its own block,
indirect calls in libcu++): the same checks as the optimised build, on the same inputs, or a refusal
that names the reason. Built by tools/build_corpus.py (DWARF sections stripped)."""

from __future__ import annotations

import numpy as np
import pytest
import test_emu_corpus as corpus

from sass_lab.emulator import emulate
from sass_lab.errors import EmulatorError

DEBUG = {name: (corpus.CORPUS / f"{name}.sm_90.G.ptx").read_text() for name in ("tensor", "numerics")}


@pytest.fixture
def debug_build(monkeypatch):
    monkeypatch.setattr(corpus, "ptx", lambda name, arch: DEBUG[name])


@pytest.mark.parametrize("check", [
    "test_wmma_tf32", "test_wmma_f64_m8n8k4", "test_int8_dot_products_and_byte_distances",
    "test_kth_positive_lane_from_a_ballot", "test_rounding_mode_intrinsics", "test_struct_parameters_with_a_pointer_member",
    "test_grid_sync_outside_a_cooperative_launch_says_why",
])
def test_debug_build_gives_the_same_results(debug_build, check):
    getattr(corpus, check)("sm_90")


@pytest.mark.parametrize("name, make, acc", corpus.WMMA_CASES)
def test_debug_build_wmma_tiles(debug_build, name, make, acc):
    corpus.test_wmma_tiles_from_shared_memory("sm_90", name, make, acc)


def test_debug_build_vector_atomics_through_generic_pointers(debug_build):
    assert "atom.add.v4.f32" in DEBUG["numerics"]  # -G keeps the pointer generic
    n, buckets = 1000, 7
    r = corpus.rng(15)
    x = r.integers(-8, 9, n).astype(np.float32) * 0.25
    bucket = r.integers(0, buckets, n).astype(np.int32)
    s2, s4 = np.zeros((buckets, 2), np.float32), np.zeros((buckets, 4), np.float32)
    emulate(DEBUG["numerics"], "scatter_add", 4, 256, [x, bucket, s2, s4, np.int32(n)])
    for b in range(buckets):
        v = x[bucket == b].astype(np.float64)
        np.testing.assert_array_equal(s4[b], [v.sum(), (v * v).sum(), -v.sum(), 2 * len(v)])


def test_debug_build_indirect_call_is_refused_with_the_reason():
    """libcu++'s atomic_ref calls through a function pointer under -G: refused at decode time, naming it."""
    with pytest.raises(EmulatorError, match="through the function pointer '%rd[0-9]+': indirect calls are not"):
        emulate(DEBUG["numerics"], "atomic_refs", 1, 32,
                [np.zeros(2, np.int32), np.zeros(1, np.uint64), np.zeros(4, np.uint16), np.zeros(32, np.uint32),
                 np.int32(32)])
