"""Argument packing without a GPU: layout, scalar conversion, arrays, device pointers, errors."""

from __future__ import annotations

import ctypes
import struct

import numpy as np
import pytest

from sass_lab import ir
from sass_lab.errors import UsageError
from sass_lab.runtime.args import (
    PARAM_LIMIT,
    args_from_dict,
    device_pointer,
    dlpack_data_pointer,
    encode_scalar,
    layout,
    member_key,
    plan_args,
    pname,
)

P = ir.Param


@pytest.mark.parametrize("params, offsets, size", [
    ([P("a", "u32"), P("b", "u64")], [0, 8], 16),
    ([P("a", "u8"), P("b", "u16"), P("c", "u8"), P("d", "f32")], [0, 2, 4, 8], 12),
    ([P("a", "f16"), P("m", "b8", align=64, array=128), P("n", "u32")], [0, 64, 192], 196),
    ([P("a", "u32"), P("v", "b32", array=4)], [0, 4], 20),
    ([P("a", "u8"), P("v", "f32", align=16, array=4)], [0, 16], 32),
    ([], [], 0),
])
def test_layout_follows_ptx_alignment(params, offsets, size):
    slots, total = layout(params)
    assert [s.offset for s in slots] == offsets
    assert total == size
    for s in slots:
        assert s.offset % s.align == 0


def test_layout_rejects_pred_and_bad_align_and_oversize():
    with pytest.raises(UsageError, match="'p'"):
        layout([P("p", "pred")])
    with pytest.raises(UsageError, match="power of two"):
        layout([P("x", "u32", align=12)])
    with pytest.raises(UsageError, match="limit"):
        layout([P("big", "b8", array=PARAM_LIMIT + 1)])


@pytest.mark.parametrize("ptype, value, expected", [
    ("u32", 5, struct.pack("<I", 5)),
    ("u32", np.uint32(0xFFFFFFFF), b"\xff\xff\xff\xff"),
    ("s32", -2, struct.pack("<i", -2)),
    ("s64", -(1 << 63), struct.pack("<q", -(1 << 63))),
    ("u64", 1 << 40, struct.pack("<Q", 1 << 40)),
    ("b32", -1, b"\xff\xff\xff\xff"),
    ("b32", np.float32(1.0), struct.pack("<f", 1.0)),
    ("u16", 65535, b"\xff\xff"),
    ("s8", -128, b"\x80"),
    ("u8", True, b"\x01"),
    ("f32", 1.5, struct.pack("<f", 1.5)),
    ("f32", 2, struct.pack("<f", 2.0)),
    ("f32", np.float64(0.1), struct.pack("<f", 0.1)),
    ("f64", 0.1, struct.pack("<d", 0.1)),
    ("f16", 1.0, np.float16(1.0).tobytes()),
    ("bf16", 1.0, b"\x80\x3f"),
    ("bf16", -2.0, b"\x00\xc0"),
    ("u32", np.array(7, dtype=np.int64), struct.pack("<I", 7)),
])
def test_encode_scalar(ptype, value, expected):
    assert encode_scalar(P("v", ptype), value) == expected


@pytest.mark.parametrize("ptype, value, match", [
    ("u32", -1, r"\[0, 4294967295\]"),
    ("u32", 1 << 32, "4294967296"),
    ("s32", 1 << 31, r"\[-2147483648, 2147483647\]"),
    ("u32", 3.5, "integer"),
    ("u32", "7", "integer"),
    ("f32", "x", "number"),
    ("f32", 1e40, "overflows"),
    ("f16", 1e6, "overflows"),
    ("u32", np.zeros(3), "array"),
])
def test_encode_scalar_errors_name_the_param(ptype, value, match):
    with pytest.raises(UsageError, match=match) as e:
        encode_scalar(P("n", ptype), value, "saxpy")
    assert "'n'" in e.value.message and "saxpy" in e.value.message


def test_bf16_rounds_to_nearest_even():
    # 1 + 2^-8 is halfway between two bf16 values: ties to even (1.0); 1 + 3*2^-9 rounds up.
    assert encode_scalar(P("v", "bf16"), 1 + 2 ** -8) == b"\x80\x3f"
    assert encode_scalar(P("v", "bf16"), 1 + 3 * 2 ** -9) == b"\x81\x3f"
    assert encode_scalar(P("v", "bf16"), float("nan")) == b"\xc0\x7f"


SAXPY = (P("y", "u64"), P("x", "u64"), P("a", "f32"), P("n", "u32"))


def test_plan_copies_numpy_arrays_and_packs_scalars():
    y, x = np.zeros(8, np.float32), np.arange(8, dtype=np.float32)
    x.flags.writeable = False
    plan = plan_args(SAXPY, [y, x, 2.0, 8], "saxpy")
    assert [h.index for h in plan.host] == [0, 1]
    assert [h.index for h in plan.copy_backs] == [0]  # read-only x is copied in only
    assert plan.host[0].nbytes == 32
    blob = plan.encode({0: 0xAAAA0000, 1: 0xBBBB0000})
    assert struct.unpack_from("<QQfI", blob) == (0xAAAA0000, 0xBBBB0000, 2.0, 8)


def test_plan_staging_for_non_contiguous_arrays():
    a = np.zeros((4, 4), np.float32)
    view = a[:, 1]
    plan = plan_args((P("p", "u64"),), [view])
    h = plan.host[0]
    assert h.staging.flags.c_contiguous and h.target is view and h.staging is not view


def test_plan_missing_device_pointer_is_an_error():
    plan = plan_args(SAXPY, [np.zeros(2, np.float32), np.zeros(2, np.float32), 1.0, 2])
    with pytest.raises(UsageError, match="'x'"):
        plan.encode({0: 1})


@pytest.mark.parametrize("args, match", [
    ([1, 2, 3], r"takes 4 argument\(s\) \(y, x, a, n\) but got 3"),
    ([np.zeros(2), np.zeros(2), np.zeros(2), 2], "'a'.*array"),
    ([np.zeros(2), np.zeros(2), 1.0, 2.5], "'n'.*integer"),
    ([np.zeros(2), np.array([object()]), 1.0, 2], "'x'.*objects"),
])
def test_plan_errors(args, match):
    with pytest.raises(UsageError, match=match):
        plan_args(SAXPY, args, "saxpy")


class FakeCupy:
    """Looks like a CuPy array: only the CUDA array interface."""

    def __init__(self, ptr):
        self.__cuda_array_interface__ = {"data": (ptr, False), "shape": (4,), "typestr": "<f4", "version": 3}


def test_device_arrays_pass_without_copy():
    plan = plan_args(SAXPY, [FakeCupy(0x7000_0000), 0x8000_0000, 1.0, 4])
    assert plan.host == ()
    assert struct.unpack_from("<QQ", plan.encode()) == (0x7000_0000, 0x8000_0000)
    with pytest.raises(UsageError, match="'a'.*device array"):
        plan_args(SAXPY, [0, 0, FakeCupy(1), 4])


class GradTensor:
    """Like a CUDA torch tensor with requires_grad: the interface raises, data_ptr() works."""

    is_cuda = True

    @property
    def __cuda_array_interface__(self):
        raise RuntimeError("Can't get __cuda_array_interface__ on Variable that requires grad")

    def data_ptr(self):
        return 0x1234_0000


def test_tensor_refusing_the_interface_falls_back_to_data_ptr():
    assert device_pointer(GradTensor()) == 0x1234_0000


def test_dlpack_pointer_matches_numpy_address():
    a = np.arange(10, dtype=np.float32)[3:]
    assert dlpack_data_pointer(a.__dlpack__()) == a.ctypes.data
    assert device_pointer(a) is None  # a CPU DLPack producer is not a device array


class CpuTensor:
    """A host-memory DLPack producer that is not numpy (like a CPU torch tensor)."""

    def __dlpack_device__(self):
        return (1, 0)

    def __dlpack__(self, stream=None):
        return np.zeros(1).__dlpack__()


class CudaTensor:
    """A DLPack producer claiming CUDA memory; its capsule comes from numpy so it can be read here."""

    def __init__(self):
        self.host = np.zeros(16, np.float32)

    def __dlpack_device__(self):
        return (2, 0)

    def __dlpack__(self, stream=None):
        return self.host[4:].__dlpack__()


def test_dlpack_cuda_producer_and_cpu_tensor():
    t = CudaTensor()
    assert device_pointer(t) == t.host.ctypes.data + 16
    with pytest.raises(UsageError, match="host memory"):
        plan_args(SAXPY, [CpuTensor(), 0, 1.0, 1])


class TensorMap(ctypes.Structure):
    _fields_ = [("words", ctypes.c_uint64 * 16)]


@pytest.mark.parametrize("arg", [bytes(range(128)), bytearray(range(128)), np.arange(128, dtype=np.uint8),
                                 np.arange(32, dtype=np.uint32).view(np.uint8).copy()[:128], "struct"])
def test_byte_array_params(arg):
    p = (P("tmap", "b8", align=64, array=128),)
    if isinstance(arg, str):
        arg = TensorMap()
        arg.words[0] = 0x0102
    plan = plan_args(p, [arg])
    blob = plan.encode()
    assert len(blob) == 128
    expect = bytes(memoryview(arg).cast("B")) if not isinstance(arg, TensorMap) else \
        ctypes.string_at(ctypes.addressof(arg), 128)
    assert blob == expect


@pytest.mark.parametrize("arg, match", [(bytes(64), "exactly 128 bytes, got 64"), (3.0, "buffer of bytes")])
def test_byte_array_size_errors(arg, match):
    with pytest.raises(UsageError, match=match) as e:
        plan_args((P("tmap", "b8", align=64, array=128),), [arg], "k")
    assert "'tmap'" in e.value.message


def test_args_from_dict_accepts_dsl_names():
    ps = (P("A_param", "u64"), P("n_param", "u32"))
    assert args_from_dict(ps, {"n": 3, "A": 7}) == (7, 3)
    assert args_from_dict(ps, {"n_param": 3, "A_param": 7}) == (7, 3)
    with pytest.raises(UsageError, match="missing n") as e:
        args_from_dict(ps, {"A": 1})
    assert "parameters: A, n" in e.value.hint
    with pytest.raises(UsageError, match="parameter 'n' "):
        plan_args(ps, [0, -1], "k")


def test_args_from_dict_orders_and_reports():
    assert args_from_dict(SAXPY, {"n": 4, "a": 1.0, "x": 1, "y": 2}) == (2, 1, 1.0, 4)
    with pytest.raises(UsageError, match="missing n; unknown m"):
        args_from_dict(SAXPY, {"y": 0, "x": 0, "a": 0, "m": 1}, "saxpy")


def _shipped():
    from sass_lab.paths import KERNELS

    return sorted(KERNELS.glob("*.sasm"))


@pytest.mark.parametrize("path", _shipped(), ids=lambda p: p.stem)
def test_every_shipped_lab_block_packs_against_its_kernel(path):
    """The lab block's inputs convert to the assembled kernel's parameter list (no GPU time wasted)."""
    import sass_lab as sl
    from sass_lab.lab.spec import load_spec

    spec = load_spec(path)
    mod = sl.assemble_file(path)
    k = mod[spec.kernel_name(list(mod.kernels))]
    size = spec.test_sizes[0] if spec.test_sizes else spec.size
    inputs = spec.inputs(size, np.random.default_rng(0))
    plan = plan_args(k.params, args_from_dict(k.params, inputs, k.name), k.name)
    from sass_lab.hw.tensormap import TensorMap
    from sass_lab.runtime.args import tensor_key

    arrays = {i for i, p in enumerate(k.params) if isinstance(inputs[pname(p)], np.ndarray) and inputs[pname(p)].ndim}
    maps = {i for i, p in enumerate(k.params) if isinstance(inputs[pname(p)], TensorMap)}
    assert {h.index for h in plan.host} == arrays | {tensor_key(i) for i in maps}

    def param_of(index):  # a TensorMap's tensor is keyed tensor_key(i) = -2i - 1
        return index if index >= 0 else (-index - 1) // 2
    assert set(spec.outputs) <= {pname(k.params[param_of(h.index)]) for h in plan.copy_backs}
    blobs = {m.index: bytes(128) for m in plan.maps if m.by_value}
    ptrs = {h.index: 0x1000 * (abs(h.index) + 1) for h in plan.host} | {m.index: 0x9000 for m in plan.maps}
    assert len(plan.encode(ptrs, blobs)) == plan.size


def test_struct_by_value_with_pointer_members():
    """A struct parameter as {offsetof: value}: scalars packed, pointer members patched in encode()."""
    params = [P("n", "u32"), P("s", "b8", align=8, array=32), P("out", "u64")]
    src, dst = np.arange(4, dtype=np.float32), np.zeros(3)
    plan = plan_args(params, [np.uint32(7), {0: np.float32(1.5), 4: np.int32(-2), 8: src, 16: np.float64(0.25),
                                             24: dst}, np.zeros(2, np.float32)])
    keys = {h.index for h in plan.host}
    assert keys == {2, member_key(1, 8), member_key(1, 24)}
    blob = plan.encode({2: 0xC000, member_key(1, 8): 0xA000, member_key(1, 24): 0xB000})
    s0 = layout(params)[0][1].offset
    assert struct.unpack_from("<fiQdQ", blob, s0) == (1.5, -2, 0xA000, 0.25, 0xB000)
    assert struct.unpack_from("<Q", blob, layout(params)[0][2].offset) == (0xC000,)
    with pytest.raises(UsageError, match="no device pointer for member 8"):
        plan.encode({2: 1, member_key(1, 24): 2})
    for bad, msg in [({0: np.float64(1), 4: np.int32(1)}, "overlap"), ({30: np.int32(1)}, "offset 30"),
                     ({0: 1.5}, "numpy scalar"), ({"x": np.int32(1)}, "byte offsets"), ({4: np.int64(1)}, "offset 4")]:
        with pytest.raises(UsageError, match=msg):
            plan_args(params, [np.uint32(1), bad, np.zeros(1)])
