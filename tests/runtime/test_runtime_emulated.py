"""Real DSL kernels through ``runtime.launch`` on a fake driver whose cuLaunchKernel runs the emulator.

This checks what no unit test of the packer can: that the bytes the runtime builds for each parameter
are what the assembled kernel reads (types, offsets, pointers), and that outputs come back.
"""

from __future__ import annotations

import ctypes
import struct

import cuda.bindings
import numpy as np
import pytest
from runtime_fakes import FakeDriver

import sass_lab as sl
import sass_lab.runtime as rt
from sass_lab import ir
from sass_lab.lab.spec import load_spec
from sass_lab.lab.verify import compare
from sass_lab.paths import KERNELS
from sass_lab.runtime import driver as drv_mod
from sass_lab.runtime.args import args_from_dict

_SCALAR = {("u", 4): np.uint32, ("s", 4): np.int32, ("b", 4): np.uint32, ("f", 4): np.float32,
           ("u", 8): np.uint64, ("s", 8): np.int64, ("b", 8): np.uint64, ("f", 8): np.float64,
           ("u", 2): np.uint16, ("s", 2): np.int16, ("f", 2): np.float16}


def emulated(fake: FakeDriver, k) -> tuple:
    """(param sizes, body) for FakeDriver: decode the packed params and emulate the kernel's PTX."""
    params: tuple[ir.Param, ...] = k.params

    def body(values, grid, block, shm):
        args = []
        for p, raw in zip(params, values):
            if p.array:
                args.append(raw)
                continue
            if p.type in ("u64", "s64", "b64"):
                addr = struct.unpack("<Q", raw)[0]
                if addr in fake.mem:
                    n = len(fake.mem[addr])
                    args.append(np.ctypeslib.as_array((ctypes.c_uint8 * n).from_address(addr)))
                    continue
            dt = _SCALAR[(ir.type_kind(p.type), p.size)]
            args.append(np.frombuffer(raw, dtype=dt)[0])
        sl.api.Kernel.emulate(k, grid, block, *args, dynamic_shared=shm)
        return None

    return tuple(p.size for p in params), body


@pytest.mark.parametrize("name", ["saxpy.sasm", "reduce.sasm", "sgemm_tiled.sasm", "peak_copy.sasm"])
def test_launch_through_fake_driver_runs_the_kernel(monkeypatch, name):
    path = KERNELS / name
    spec = load_spec(path)
    mod = sl.assemble_file(path)
    k = mod[spec.kernel_name(list(mod.kernels))]
    fake = FakeDriver()
    fake.kernels[k.name] = emulated(fake, k)
    monkeypatch.setattr(cuda.bindings, "driver", fake, raising=False)
    monkeypatch.setattr(drv_mod, "_CONTEXTS", {})
    size = spec.test_sizes[-1]
    inputs = spec.inputs(size, np.random.default_rng(5))
    pristine = {n: (v.copy() if isinstance(v, np.ndarray) else v) for n, v in inputs.items()}
    rt.launch(k, spec.grid(size), spec.block(size), *args_from_dict(k.params, inputs, k.name),
              dynamic_shared=spec.shared(size))
    checks = compare({o: inputs[o] for o in spec.outputs}, spec.reference(pristine, size),
                     spec.tolerance(size), spec.scale(pristine, size))
    assert checks and all(c.ok for c in checks), [c.to_dict() for c in checks]
    assert fake.mem == {}
