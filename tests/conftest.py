"""Shared fixtures; tests marked ``gpu`` skip cleanly when no CUDA driver/GPU is present."""

from __future__ import annotations

import functools

import pytest


@functools.lru_cache(maxsize=1)
def gpu_available() -> bool:
    try:
        from cuda.bindings import driver
    except Exception:  # noqa: BLE001
        return False
    try:
        (err,) = driver.cuInit(0)
        if int(err) != 0:
            return False
        err, n = driver.cuDeviceGetCount()
        return int(err) == 0 and n > 0
    except Exception:  # noqa: BLE001 - libcuda.so.1 missing raises RuntimeError
        return False


def pytest_collection_modifyitems(config, items):
    if gpu_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA GPU and driver (none found)")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True, scope="session")
def _private_cubin_cache(tmp_path_factory):
    """Tests share one cubin cache of their own (cold at the start of each run, never ~/.cache)."""
    import os

    old = os.environ.get("SASS_LAB_CACHE")
    os.environ["SASS_LAB_CACHE"] = str(tmp_path_factory.mktemp("cubins"))
    yield
    if old is None:
        os.environ.pop("SASS_LAB_CACHE", None)
    else:
        os.environ["SASS_LAB_CACHE"] = old
