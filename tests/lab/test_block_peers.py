"""PyTorch's unfused blocks and layers (the GPU peers) compute what the kernels compute: checked on the
CPU with PyTorch when it is installed (skipped otherwise), and the peer names resolve."""

from __future__ import annotations

import numpy as np
import pytest

from sass_lab.lab import peers
from sass_lab.lab.spec import load_spec
from sass_lab.paths import KERNELS
from sass_lab.studies import blocks


def _cpu(torch, a):
    return {k: torch.from_numpy(np.ascontiguousarray(v)) if isinstance(v, np.ndarray) else v for k, v in a.items()}


@pytest.mark.parametrize("dtype", ["f16", "bf16"])
@pytest.mark.parametrize("kind", ["convfirst", "mbconv"])
def test_torch_block_is_the_block(kind, dtype):
    torch = pytest.importorskip("torch")
    size = dict(N=2, H=5, W=7, C=32)
    spec, _ = load_spec(KERNELS / f"{kind}_block.sasm", {"DTYPE": dtype}).for_size(size, {"DTYPE": dtype})
    a = spec.inputs(size, np.random.default_rng(0))
    y = peers.torch_block(kind, _cpu(torch, a), size, torch, dtype)()
    got = y.float().numpy().astype(np.float64)
    err = np.abs(got - spec.reference(a, size)["y"]) / spec.scale(a, size)["y"]
    assert y.shape == (2, 5, 7, 32) and err.max() < 2 * blocks.tolerance(dtype)  # PyTorch's own roundings


@pytest.mark.parametrize("which,defines,size", [
    ("grouped_conv3x3", dict(ACT=1), dict(N=1, H=5, W=6, C=40)),
    ("pointwise_bn", dict(EPI="silu"), dict(N=1, H=3, W=5, C=40, K=24)),
    ("pointwise_bn", dict(EPI="residual"), dict(N=1, H=3, W=5, C=40, K=24)),
])
def test_torch_layers_are_the_layers(which, defines, size):
    torch = pytest.importorskip("torch")
    spec = load_spec(KERNELS / f"{which}.sasm", defines)
    a = spec.inputs(size, np.random.default_rng(1))
    kind = "grouped" if which == "grouped_conv3x3" else ("expand" if defines["EPI"] == "silu" else "project")
    f32 = {k: (v.astype(np.float32) if isinstance(v, np.ndarray) and v.dtype == np.float16 else v)
           for k, v in a.items()}  # the layout, BN fold, activation and residual in float32 on the CPU
    y = peers.torch_layer(kind, _cpu(torch, f32), size, torch, "f16", defines.get("ACT", 0))
    want = spec.reference(a, size)["y"]
    got = y.numpy().astype(np.float64)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-5 * np.abs(want).max())


def test_block_peers_are_known():
    assert {"torch", "torch-compile"} <= set(peers.PEERS)
    for kind in ("convfirst", "mbconv"):
        spec = load_spec(KERNELS / f"{kind}_block.sasm")
        assert spec.peer_name == "torch" and spec.peer() is not None and "peer_compiled" in spec.ns


def test_torch_compile_peer_needs_the_lab_function():
    from sass_lab.errors import UsageError

    spec = load_spec(KERNELS / "saxpy.sasm")
    with pytest.raises(UsageError, match="torch.compile"):
        peers.make_peer("torch-compile", spec, spec.size, {}, lib=object())


def test_tensor_ceiling_counts_issue_slots():
    from sass_lab.lab.efficiency import StaticEff

    e = StaticEff(0.2, "SASS", 100, 4, tensor=16)
    assert e.ceiling("sm_90") == pytest.approx(0.64) and e.ceiling("sm_80") == 1.0
    assert StaticEff(0.9, "PTX", 10, 9).ceiling("sm_90") == pytest.approx(0.9)


@pytest.mark.gpu
@pytest.mark.parametrize("kind", ["convfirst", "mbconv"])
def test_torch_block_on_the_gpu(kind):
    """PyTorch's unfused block (the benchmark peer) on the device computes the block too."""
    torch = pytest.importorskip("torch")
    size = dict(N=2, H=14, W=14, C=64)
    spec, _ = load_spec(KERNELS / f"{kind}_block.sasm").for_size(size)
    a = spec.inputs(size, np.random.default_rng(0))
    dev = {k: peers.to_lib(torch, v) for k, v in a.items()}
    y = peers.torch_block(kind, dev, size, torch, "f16")()
    torch.cuda.synchronize()
    got = y.float().cpu().numpy().astype(np.float64)
    err = np.abs(got - spec.reference(a, size)["y"]) / spec.scale(a, size)["y"]
    assert err.max() < 2 * blocks.tolerance("f16")


def test_report_counts_dynamic_shared_memory_in_occupancy():
    """The fused blocks' shared memory is dynamic (the lab block's shared()): the report's occupancy
    must see it (62 KiB per block at C = 64: 3 blocks of 4 warps, not the register limit's 4)."""
    from sass_lab.lab.report import summarize

    (row,) = summarize(KERNELS / "convfirst_block.sasm")
    spec = load_spec(KERNELS / "convfirst_block.sasm")
    import sass_lab as sl

    k = sl.assemble_file(KERNELS / "convfirst_block.sasm")["convfirst_block"]
    assert row.occupancy == k.occupancy(128, dynamic_shared=spec.shared(spec.size)).percent
    assert row.occupancy <= k.occupancy(128).percent
