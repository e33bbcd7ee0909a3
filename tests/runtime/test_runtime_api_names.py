"""The fake driver must not hide typos: every driver call and enum the runtime uses exists in the real
``cuda.bindings.driver`` with the arity the fake implements (read from the embedded signatures)."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import cuda.bindings.driver as real
import pytest
from runtime_fakes import FakeDriver

import sass_lab.runtime

SOURCES = sorted(Path(sass_lab.runtime.__file__).parent.glob("*.py"))
CALLS = sorted({m for p in SOURCES for m in re.findall(r"\b(?:drv|driver\(\))\.(cu[A-Za-z0-9_]+)\(", p.read_text())})
ENUMS = sorted({m for p in SOURCES for m in re.findall(r"\b(?:drv|driver\(\))\.(CU[a-z_A-Z]+)\.(CU_[A-Z0-9_]+)",
                                                          p.read_text())})


def test_the_scan_found_the_calls():
    assert {"cuInit", "cuLaunchKernel", "cuModuleLoadData", "cuMemcpyHtoD", "cuGraphLaunch"} <= set(CALLS)


@pytest.mark.parametrize("name", CALLS)
def test_driver_call_exists_with_the_fakes_arity(name):
    fn = getattr(real, name)
    sig = fn.__doc__.splitlines()[0]
    assert sig.startswith(name + "(")
    inner = sig[len(name) + 1:sig.rindex(")")].strip()
    n_real = 0 if not inner else inner.count(",") + 1
    n_fake = len(inspect.signature(getattr(FakeDriver(), name)).parameters)
    assert n_real == n_fake, f"{name}: real {sig}, fake takes {n_fake}"


@pytest.mark.parametrize("enum, member", ENUMS)
def test_enum_members_exist(enum, member):
    assert hasattr(getattr(real, enum), member)


def test_device_attributes_exist():
    from runtime_fakes import ATTRS

    for name in ATTRS:
        assert hasattr(real.CUdevice_attribute, name)
