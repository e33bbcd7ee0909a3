"""pytest plugin for tools/gpu_check.py: progress as each test ends, a hard per-test timeout, a restart
after a fault that breaks the CUDA context.

Loaded with ``-p gpu_check_plugin`` (tools/ on PYTHONPATH). It appends one JSON line per event to
``$GPU_CHECK_PROGRESS`` (``start``, one ``report`` per phase, ``exit``), flushed at once, so the runner
knows what finished even when this process is killed. A watchdog thread ends the process
(``os._exit(124)``) when a test runs past ``$GPU_CHECK_TEST_TIMEOUT`` seconds: a hung
``cuCtxSynchronize`` releases the GIL, so the thread runs while the main thread is stuck in C, which
pytest-timeout's signal method cannot interrupt. After each test it asks the driver for the context's
state (one cuCtxSynchronize): a sticky error (illegal address…) would make every later test in this
process fail, so it exits with 75 and the runner starts the rest of the group in a fresh process.
"""

from __future__ import annotations

import json
import os
import threading
import time

PROGRESS = os.environ.get("GPU_CHECK_PROGRESS", "")
TIMEOUT = float(os.environ.get("GPU_CHECK_TEST_TIMEOUT", "0") or 0)
RESTART = 75  # exit code: the context is broken, run the rest in a new process
STICKY = {"CUDA_ERROR_ILLEGAL_ADDRESS", "CUDA_ERROR_MISALIGNED_ADDRESS", "CUDA_ERROR_LAUNCH_FAILED",
          "CUDA_ERROR_ILLEGAL_INSTRUCTION", "CUDA_ERROR_HARDWARE_STACK_ERROR", "CUDA_ERROR_INVALID_PC",
          "CUDA_ERROR_ECC_UNCORRECTABLE", "CUDA_ERROR_UNKNOWN"}

_lock = threading.Lock()
_timer: threading.Timer | None = None


def _emit(**record) -> None:
    if not PROGRESS:
        return
    record["t"] = round(time.time(), 3)
    line = json.dumps(record) + "\n"
    with _lock:
        fd = os.open(PROGRESS, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line.encode())
        finally:
            os.close(fd)


def _expire(nodeid: str) -> None:
    _emit(event="timeout", nodeid=nodeid, seconds=TIMEOUT)
    os._exit(124)


def pytest_runtest_logstart(nodeid, location):
    global _timer
    _emit(event="start", nodeid=nodeid)
    if TIMEOUT > 0:
        _timer = threading.Timer(TIMEOUT, _expire, args=(nodeid,))
        _timer.daemon = True
        _timer.start()


def pytest_runtest_logreport(report):
    longrepr = ""
    if report.failed or report.skipped:
        longrepr = str(report.longrepr)[-4000:] if report.longrepr else ""
    _emit(event="report", nodeid=report.nodeid, when=report.when, outcome=report.outcome,
          duration=round(report.duration, 3), longrepr=longrepr)


def pytest_runtest_logfinish(nodeid, location):
    global _timer
    if _timer is not None:
        _timer.cancel()
        _timer = None
    _emit(event="finish", nodeid=nodeid)
    broken = context_broken()  # after every test: one that expected a fault breaks the context too
    if broken:
        _emit(event="restart", nodeid=nodeid, reason=broken)
        os._exit(RESTART)


def context_broken() -> str | None:
    """The sticky error's name when this process's current CUDA context is broken, else None."""
    try:
        from cuda.bindings import driver as d

        err = d.cuCtxSynchronize()[0]
    except Exception:  # noqa: BLE001 - no driver: nothing to break
        return None
    name = getattr(err, "name", str(err))
    return name if name in STICKY else None


def pytest_sessionfinish(session, exitstatus):
    _emit(event="exit", status=int(exitstatus))
