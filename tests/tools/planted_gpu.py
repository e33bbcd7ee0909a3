"""GPU tests with a planted fault and a planted hang, for the rehearsal of tools/gpu_check.py.

Not collected by the normal run (no ``test_`` prefix): tests/tools/test_gpu_check.py passes this file
to the runner with the stand-in driver and ``SASS_LAB_FAKE_GPU_HANG=planted_hang``. Expected: the fault
breaks the context after ``test_b``, the rest of the file runs in a fresh process; ``test_d`` hangs in
its synchronize and is killed at the per-test timeout; ``test_e`` then passes in another process.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

pytestmark = pytest.mark.gpu


def _saxpy():
    import sass_lab as sl
    from sass_lab.paths import KERNELS

    return sl.assemble_file(KERNELS / "saxpy.sasm", defines={"ITEMS": 1})["saxpy"]


def _small_saxpy() -> None:
    k = _saxpy()
    x = np.arange(100, dtype=np.float32)
    y = np.ones(100, np.float32)
    k.launch((1, 1, 1), (256, 1, 1), y, x, np.float32(2), np.uint32(100))
    np.testing.assert_allclose(y, 2 * x + 1)


def test_a_runs():
    _small_saxpy()


def test_b_faults():
    import sass_lab.runtime as rt
    from sass_lab.errors import CudaError

    k = _saxpy()
    y, x = rt.to_device(np.zeros(4, np.float32)), rt.to_device(np.zeros(4, np.float32))
    with pytest.raises(CudaError, match="ILLEGAL_ADDRESS") as e:  # n far past the 4-element buffers
        k.launch((4, 1, 1), (256, 1, 1), y, x, np.float32(1), np.uint32(1024))
    assert "cuMemFree" not in e.value.message  # the fault, not the cleanup after it


def test_c_after_the_fault():
    _small_saxpy()


def test_d_hangs():
    import sass_lab.runtime as rt
    from sass_lab import ir
    from sass_lab.toolchain.compile import compile_ptx

    ptx = (".version 9.0\n.target sm_90\n.address_size 64\n"
           ".visible .entry planted_hang(.param .u64 p)\n{\n\tret;\n}\n")
    c = compile_ptx(ptx, "sm_90")
    k = SimpleNamespace(name="planted_hang", cubin=c.cubin, params=(ir.Param("p", "u64"),),
                        resources=c.resources["planted_hang"])
    rt.launch(k, 1, 32, 0)


def test_e_after_the_hang():
    _small_saxpy()


@pytest.mark.timing
def test_f_alone_on_the_gpu():
    """Marked ``timing``: left out of the side-by-side groups, run by the plan's ``timing`` group."""
    _small_saxpy()
