"""Shared fixtures; tests marked ``gpu`` skip cleanly when no CUDA driver/GPU is present."""

from __future__ import annotations

import functools
import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent / "standin"))  # cuda_standin, occupancy_header


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
        if item.get_closest_marker("gpu"):  # the marker, not the keyword: a checkout folder named gpu
            item.add_marker(skip)


@pytest.fixture(autouse=True, scope="session")
def _private_cubin_cache(tmp_path_factory):
    """Tests share one cubin cache of their own (cold at the start of each run, never ~/.cache)."""

    old = os.environ.get("SASS_LAB_CACHE")
    # tools/gpu_check.py shares one cache between its test processes (SASS_LAB_TEST_CUBINS)
    os.environ["SASS_LAB_CACHE"] = os.environ.get("SASS_LAB_TEST_CUBINS") or str(tmp_path_factory.mktemp("cubins"))
    yield
    if old is None:
        os.environ.pop("SASS_LAB_CACHE", None)
    else:
        os.environ["SASS_LAB_CACHE"] = old


# ------------------------------------------------------------------ the rehearsal (SASS_LAB_FAKE_GPU=1)


def _standin():
    """The stand-in driver when the rehearsal installed it (tests/standin/sitecustomize.py), else None."""
    if os.environ.get("SASS_LAB_FAKE_GPU") != "1":
        return None
    d = sys.modules.get("cuda.bindings.driver")
    return d if hasattr(d, "not_executed") else None


def pytest_runtest_setup(item):
    d = _standin()
    if d is not None:
        item.stash[_MARK] = len(d.not_executed)


_MARK = pytest.StashKey[int]()


def _verify_failed() -> type:
    from sass_lab.lab.bench import VerifyFailed

    return VerifyFailed


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """On the stand-in, a failed check (an assertion, a wrong result) is excused (reported as skipped,
    with the reason) only when the test launched work the stand-in did not execute (too large to
    emulate), or asserts on device speed (marker ``timing``): the stand-in's clock is a model. Every
    other failure stays a failure, and so does any error raised by the driver or the runtime."""
    outcome = yield
    rep = outcome.get_result()
    d = _standin()
    if d is None or rep.when != "call" or not rep.failed:
        return
    if call.excinfo is not None and not call.excinfo.errisinstance((AssertionError, _verify_failed())):
        return  # a driver error, a TypeError...: what the stand-in is there to catch, never excused
    skipped = d.not_executed[item.stash.get(_MARK, 0):]
    if skipped:
        why = f"stand-in: {len(skipped)} launch(es) not executed, e.g. {skipped[0]}"
    elif item.get_closest_marker("timing"):
        why = "stand-in: timing assertions need the real chip (the stand-in's clock is a model)"
    else:
        return
    rep.outcome = "skipped"
    rep.longrepr = (str(item.path), item.location[1] or 0, why)
