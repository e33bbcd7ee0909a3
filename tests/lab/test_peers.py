"""Peers without a GPU: numpy stands in for CuPy (same array API), a stub for PyTorch's flags."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from sass_lab.errors import UsageError
from sass_lab.lab import peers


def fake_spec(peer=None):
    return SimpleNamespace(peer=lambda: peer)


def test_gemm_peer_computes_the_product_with_numpy_as_cupy():
    run = peers.make_peer("cublas", fake_spec(), {"M": 6, "N": 5, "K": 4}, {}, lib=np)
    assert run.name == "cuBLAS SGEMM (numpy)" and run.lib == "numpy"
    run.run(0)  # numpy.matmul(a, b, out=c) — no error means shapes and dtypes line up


@pytest.mark.parametrize("vs, dtype", [("cublas", np.float32), ("cublas-hgemm", np.float16)])
def test_gemm_dtypes(vs, dtype, monkeypatch):
    seen = {}
    real = np.matmul

    def spy(a, b, out):
        seen["dtypes"] = (a.dtype, b.dtype, out.dtype)
        seen["shapes"] = (a.shape, b.shape, out.shape)
        return real(a, b, out=out)

    lib = SimpleNamespace(__name__="cupy", asarray=np.asarray, matmul=spy)
    peers.make_peer(vs, fake_spec(), {"m": 3, "n": 2, "k": 7}, {}, lib=lib).run(0)
    assert seen["dtypes"] == (dtype,) * 3
    assert seen["shapes"] == ((3, 7), (7, 2), (3, 2))


def test_custom_peer_gets_device_inputs_size_and_lib():
    got = {}

    def peer(a, s, lib):
        got.update(a=a, s=s, lib=lib)

    inputs = {"x": np.ones(3, np.float32), "n": np.uint32(3)}
    run = peers.make_peer("cublas", fake_spec(peer), {"n": 3}, inputs, lib=np)
    assert "lab peer()" in run.name
    run.run(0)
    assert got["s"] == {"n": 3} and got["lib"] is np and got["a"]["n"] == 3
    np.testing.assert_array_equal(got["a"]["x"], inputs["x"])


@pytest.mark.parametrize("vs, size, match", [
    ("cublas", {"n": 10}, "needs sizes M, N, K"),
    ("cudnn", {"M": 1, "N": 1, "K": 1}, "needs sizes N, C, H, W, K"),
    ("mkl", {}, "unknown peer 'mkl'"),
])
def test_peer_errors(vs, size, match):
    with pytest.raises(UsageError, match=match):
        peers.make_peer(vs, fake_spec(), size, {}, lib=np)


def test_cudnn_needs_torch():
    with pytest.raises(UsageError, match="PyTorch"):
        peers.conv2d(np, 1, 3, 8, 8, 4)


def fake_torch():
    flags = SimpleNamespace(matmul=SimpleNamespace(allow_tf32=True))
    calls = {}

    def conv2d(x, w, stride, padding):
        calls["conv"] = (x.shape, w.shape, stride, padding)

    torch = SimpleNamespace(__name__="torch", backends=SimpleNamespace(cuda=flags, cudnn=SimpleNamespace(
        allow_tf32=True, benchmark=False)), nn=SimpleNamespace(functional=SimpleNamespace(conv2d=conv2d)),
        from_numpy=lambda a: SimpleNamespace(to=lambda dev: a))
    return torch, calls


def test_fp32_peers_turn_tf32_off_and_conv_shapes():
    torch, calls = fake_torch()
    run = peers.make_peer("cudnn", fake_spec(), {"N": 2, "C": 3, "H": 8, "W": 9, "K": 4, "R": 5, "S": 5},
                          {}, lib=torch)
    assert torch.backends.cuda.matmul.allow_tf32 is False and torch.backends.cudnn.allow_tf32 is False
    run.run(0)
    assert calls["conv"] == ((2, 3, 8, 9), (4, 3, 5, 5), 1, 2)
    assert run.name.startswith("cuDNN conv2d FP32")


def test_find_lib_reports_missing(monkeypatch):
    with pytest.raises(UsageError, match="no peer library"):
        peers.find_lib(("surely_not_a_module_xyz",))
    assert peers.find_lib(("surely_not_a_module_xyz", "numpy")) is np


def test_new_torch_precision_switches_are_used_alone():
    torch, _ = fake_torch()
    torch.backends.cuda.matmul.fp32_precision = "tf32"
    torch.backends.cudnn.conv = SimpleNamespace(fp32_precision="tf32")
    peers.fp32_strict(torch)
    assert torch.backends.cuda.matmul.fp32_precision == "ieee"
    assert torch.backends.cudnn.conv.fp32_precision == "ieee"
    assert torch.backends.cuda.matmul.allow_tf32 is True  # the legacy switch left alone: no mixing
    assert torch.backends.cudnn.benchmark is True
