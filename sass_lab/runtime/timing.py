"""Device timing for the bench harness: CUDA events, an L2 flush, CUDA-graph capture.

:class:`CudaTimer` implements the small ``Timer`` interface that ``sass_lab.lab.bench`` drives (tests
drive the same harness with a fake clock). All work goes to the legacy default stream (0), which is
also PyTorch's and CuPy's default, so library peers are timed by the same events.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .driver import DeviceInfo, check, context, driver
from .memory import (
    DeviceBuffer,
    alloc,
    elapsed_ms,
    event,
    free_stream,
    memset,
    new_stream,
    record,
)

Run = Callable[[Any], None]  # enqueue one run on the given stream


def flush_bytes(l2_bytes: int) -> int:
    """Size of the buffer written before each timed run: at least twice the L2, at least 64 MiB."""
    return max(2 * int(l2_bytes), 64 << 20)


@dataclass(eq=False)
class CudaTimer:
    """Event pairs on stream 0, a memset of a buffer ≥ 2× L2 as the flush, and graph capture."""

    info: DeviceInfo
    stream: Any = 0
    _flush_buf: DeviceBuffer | None = None
    _events: list[Any] = field(default_factory=list)
    _graphs: list[tuple[Any, Any]] = field(default_factory=list)
    _count: int = 0

    @classmethod
    def create(cls, ordinal: int = 0) -> CudaTimer:
        return cls(context(ordinal).info)

    def flush(self) -> None:
        """Overwrite the L2 (enqueued before the start event, so it stays outside the timed window)."""
        if self._flush_buf is None:
            self._flush_buf = alloc(flush_bytes(self.info.l2_bytes))
        self._count += 1
        memset(self._flush_buf.ptr, self._flush_buf.nbytes, self._count, self.stream)

    def start(self) -> Any:
        ev = event()
        self._events.append(ev)
        record(ev, self.stream)
        return ev

    def stop(self, start: Any) -> tuple[Any, Any]:
        ev = event()
        self._events.append(ev)
        record(ev, self.stream)
        return (start, ev)

    def elapsed_ms(self, token: tuple[Any, Any]) -> float:
        return elapsed_ms(*token)

    def sync(self) -> None:
        check(driver().cuStreamSynchronize(self.stream), "waiting for the benchmark (cuStreamSynchronize)")

    def capture(self, run: Run) -> Run:
        """Record ``run`` into a CUDA graph once; the returned run replays it."""
        drv = driver()
        cap = new_stream()
        try:
            mode = drv.CUstreamCaptureMode.CU_STREAM_CAPTURE_MODE_THREAD_LOCAL
            check(drv.cuStreamBeginCapture(cap, mode), "cuStreamBeginCapture")
            try:
                run(cap)
            finally:
                graph = check(drv.cuStreamEndCapture(cap), "cuStreamEndCapture")
            exe = check(drv.cuGraphInstantiate(graph, 0), "cuGraphInstantiate")
        finally:
            free_stream(cap)
        self._graphs.append((graph, exe))

        def replay(stream: Any) -> None:
            check(drv.cuGraphLaunch(exe, stream), "cuGraphLaunch")

        return replay

    def close(self, quiet: bool = False) -> None:
        """Free the flush buffer, events and graphs (``quiet``: ignore errors, while another propagates)."""
        drv = driver()
        events, self._events = self._events, []
        for ev in events:
            res = drv.cuEventDestroy(ev)
            if not quiet:
                check(res, "cuEventDestroy")
        graphs, self._graphs = self._graphs, []
        for graph, exe in graphs:
            drv.cuGraphExecDestroy(exe)
            drv.cuGraphDestroy(graph)
        if self._flush_buf is not None:
            buf, self._flush_buf = self._flush_buf, None
            buf.free(quiet)

    def __enter__(self) -> CudaTimer:
        return self

    def __exit__(self, *exc) -> None:
        self.close(quiet=exc[0] is not None)
