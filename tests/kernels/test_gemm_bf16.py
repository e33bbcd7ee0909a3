"""gemm_bf16 (TMA + wgmma, warp-specialised, 2-CTA cluster with multicast, persistent) on the emulator:
every test size, the tuning knobs, and each Hopper bug class planted in the real kernel."""

from __future__ import annotations

import pytest

from sass_lab.lab.spec import load_spec
from sass_lab.lab.verify import verify, verify_sizes
from sass_lab.paths import KERNELS

PATH = KERNELS / "gemm_bf16.sasm"
SPEC = load_spec(PATH)
SMALL = dict(M=256, N=256, K=128, sms=132)
RAGGED = dict(M=200, N=300, K=72, sms=4)
PICK = [dict(CLUSTER=1), dict(RASTER=0), dict(RASTER=1, CLUSTER=1), dict(BN=128, STAGES=5),
        dict(BN=128, STAGES=2, CLUSTER=1)]


def failures(results):
    return [(r.size, [(c.name, c.max_rel_err, c.tol, c.nonfinite, c.worst) for c in r.checks],
             [f.render() for f in r.findings]) for r in results if not r.ok]


def test_gemm_verifies_at_every_test_size():
    results = verify_sizes(PATH, arch="sm_90a", seed=11)
    sizes = [r.size for r in results]
    assert len(sizes) >= 3 and any(s["M"] % 128 or s["N"] % 256 or s["K"] % 64 for s in sizes)
    assert not failures(results)


@pytest.mark.parametrize("defines", PICK, ids=lambda d: "-".join(f"{k}{v}" for k, v in d.items()))
def test_gemm_tuning_knobs_verify(defines):
    assert SPEC.valid(dict(SPEC.defines, **defines))
    assert not failures([verify(PATH, RAGGED, defines=defines, arch="sm_90a", seed=3)])


def test_the_tuning_space_fits_shared_memory():
    combos = SPEC.combinations()
    assert combos and all(SPEC.valid(c) for c in combos)
    assert not SPEC.valid(dict(SPEC.defines, BN=256, STAGES=4))  # 262 KB of shared memory


def planted(tmp_path, old: str, new: str, size=SMALL, **kw):
    text = PATH.read_text()
    assert text.count(old) >= 1, old
    p = tmp_path / "gemm_bf16.sasm"
    p.write_text(text.replace(old, new, 1))
    return verify(p, size, arch="sm_90a", seed=1, **kw)


def test_planted_wrong_descriptor_offset_gives_wrong_numbers(tmp_path):
    """The K step of the A descriptor off by 16 bytes: the emulator reads what the GPU would, wrong."""
    r = planted(tmp_path, '%     desc_add("da", "da", 32)', '%     desc_add("da", "da", 48)')
    assert not r.ok and r.checks[0].max_rel_err > 10 * r.checks[0].tol  # (and it reads bytes never written)


def test_planted_swizzle_mismatch_gives_wrong_numbers(tmp_path):
    """TMA writes B with the 128B swizzle, the descriptor reads it as 64B."""
    r = planted(tmp_path, 'wgmma_desc("db0", "x", LBO, SBO, "128B")', 'wgmma_desc("db0", "x", LBO, SBO, "64B")')
    assert not r.ok and r.checks[0].max_rel_err > 10 * r.checks[0].tol


def test_planted_arrive_count_deadlock_is_a_finding(tmp_path):
    """empty barriers initialised for one arrival more than the consumers make: the producer waits
    forever once the ring wraps (more k-steps than stages); the finding names the barrier, its phase
    and its counts."""
    r = planted(tmp_path, "], ${2 * CLUSTER}\n", "], ${2 * CLUSTER + 1}\n", size=dict(SMALL, K=320))
    dead = [f for f in r.findings if f.kind == "mbarrier-deadlock"]
    producer = next(f for f in dead if "1 of 5 arrivals pending" in f.message)  # the empty barrier
    assert "'smem'+" in producer.message and "phase 0" in producer.message and "would hang" in producer.message
    assert any("phase 1" in f.message for f in dead)  # and the consumers, waiting for the data it never loads


def test_planted_missing_fence_proxy_async_is_a_finding(tmp_path):
    """The epilogue's ordinary stores to the staging tile, then the TMA store, with no proxy fence."""
    r = planted(tmp_path, "    fence.proxy.async.shared::cta\n    bar.sync        nb, 128\n",
                "    bar.sync        nb, 128\n")
    f = next(f for f in r.findings if f.kind == "fence-proxy-async")
    assert "TMA store" in f.message and f.span is not None and f.span.file.endswith("gemm_bf16.sasm")


def test_planted_read_of_accumulators_before_wait_group_is_a_finding(tmp_path):
    r = planted(tmp_path, "    wgmma.wait_group.sync.aligned 0\n", "    wgmma.wait_group.sync.aligned 1\n")
    f = next(f for f in r.findings if f.kind == "wgmma-async")
    assert "reads acc_" in f.message and f.instruction.startswith("cvt.rn.bf16x2.f32")


def test_planted_missing_wgmma_fence_is_a_finding(tmp_path):
    r = planted(tmp_path, "    wgmma.fence.sync.aligned\n", "")
    assert any(f.kind == "wgmma-fence" for f in r.findings)


def test_the_sass_is_a_hopper_pipeline():
    """ptxas kept the Hopper path: HGMMA from shared memory, TMA loads and store, setmaxnreg honoured
    (whole-program ptxas), no spills."""
    import collections

    import sass_lab as sl

    k = sl.assemble_file(PATH)["gemm_bf16"]
    assert k.arch == "sm_90a" and k.resources.spill_stores == 0 and k.resources.cluster == (2, 1, 1)
    ops = collections.Counter(i.opcode.split(".")[0] for i in k.sass)
    assert ops["HGMMA"] >= 4 and ops["UTMALDG"] >= 2 and ops["UTMASTG"] >= 1 and ops["USETMAXREG"] == 2
    assert not ops["HMMA"] and not ops["FFMA"]
