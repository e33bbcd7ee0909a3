"""The stand-in's device side: handles, allocations, the per-stream queue and its execution on the PTX
emulator (at synchronize, never at launch), sticky faults; and the stream, graph and event calls."""

from __future__ import annotations

import bisect
import time
from typing import Any

import numpy as np
from standin_base import DEVICE, FAULTS, Event, Function, Launch, Op, R, Stream, _Err, _real


class Executor:
    """Queue and execution; mixed into :class:`cuda_standin.StandIn` (which supplies ``st`` and the limits)."""

    def _handle(self, kind: str, obj: Any) -> int:
        self.st.next_handle += 0x100
        self.st.handles[self.st.next_handle] = (kind, obj)
        return self.st.next_handle

    def _get(self, kind: str, h: int) -> Any:
        got = self.st.handles.get(h)
        if got is None or got[0] != kind:
            raise _Err(R.CUDA_ERROR_INVALID_HANDLE)
        return got[1]

    def _stream(self, h: int) -> int:
        if h in (0, 1, 2):  # NULL, CU_STREAM_LEGACY, CU_STREAM_PER_THREAD
            return 0
        self._get("stream", h)
        return h

    def _find(self, addr: int, n: int) -> tuple[np.ndarray, int]:
        """The allocation holding [addr, addr+n) and the offset of addr in it."""
        i = bisect.bisect_right(self.st.starts, addr) - 1
        if i >= 0:
            base = self.st.starts[i]
            arr = self.st.mem[base]
            if addr + n <= base + arr.size:
                self._materialize(arr)
                return arr, addr - base
        raise _Err(R.CUDA_ERROR_INVALID_VALUE)

    def _materialize(self, arr: np.ndarray) -> None:
        """Apply a pending whole-buffer memset before anything reads or writes part of the buffer."""
        v = self.st.fills.pop(id(arr), None)
        if v is not None:
            arr[...] = v

    def _blocking(self, sid: int) -> bool:
        return sid == 0 or (self._get("stream", sid).flags & 1) == 0

    # ------------------------------------------------------------------ execution

    def _drain(self, upto: Op | None = None, legacy: bool = False, stream: int | None = None) -> None:
        """Run queued work in order: all of it, up to ``upto``, the blocking streams, or one stream."""
        last = None
        if upto is not None:
            last = upto
        elif stream is not None:
            last = next((op for op in reversed(self.st.queue) if op.stream == stream), None)
            if last is None:
                return
        for op in list(self.st.queue):
            if self.st.sticky is not None:
                break
            if legacy and not self._blocking(op.stream):
                continue
            self._run_op(op)
            self.st.queue.remove(op)
            if op is last:
                break
        if self.st.sticky is not None:
            self.st.queue.clear()

    def _run_op(self, op: Op) -> None:
        if op.kind == "launch":
            self.st.clock_ms += self._execute(op.payload)
        elif op.kind == "memset":
            arr, off, n, value = op.payload
            if off == 0 and n == arr.size and n > (1 << 20):  # a whole large buffer (the L2 flush): lazily
                self.st.fills[id(arr)] = value
            else:
                self._materialize(arr)
                arr[off:off + n] = value
            self.st.clock_ms += 0.002 + n / 3e9
        elif op.kind == "event":
            op.payload.time_ms = self.st.clock_ms
        elif op.kind == "graph":
            for sub in op.payload:
                self._run_op(Op(op.stream, sub.kind, sub.payload))
        op.done = True

    def _execute(self, ln: Launch) -> float:
        """Run one launch (emulator or registered body); its modelled duration in ms."""
        fn = ln.fn
        threads = ln.grid[0] * ln.grid[1] * ln.grid[2] * ln.block[0] * ln.block[1] * ln.block[2]
        if self.hang and fn.name == self.hang:
            while True:  # a runaway kernel: the synchronize never returns (the GIL is free, as in the real one)
                time.sleep(0.05)
        key = (id(fn), ln.grid, ln.block, ln.shared, tuple(ln.params))
        if key in self.st.executed:
            return fn.last_ms
        if fn.name in self.kernels:
            err = self.kernels[fn.name](ln.params, ln.grid, ln.block, ln.shared, self)
            if err:
                self._fault(err)
            self.st.executed.add(key)
            return 0.003
        if key in self.st.too_much:  # the same launch ran out of the budget before: say so at once
            self.not_executed.append(f"{fn.name} grid={ln.grid} block={ln.block} (too much work to emulate)")
            return 0.003 + threads * 5e-7
        if fn.ptx is None or threads > self.max_threads:
            self.not_executed.append(f"{fn.name} grid={ln.grid} block={ln.block}"
                                     + (" (no PTX known)" if fn.ptx is None else " (too large to emulate)"))
            return 0.003 + threads * 5e-7
        from sass_lab.emulator import emulate
        from sass_lab.errors import EmulatorError

        args, views = self._emulator_args(fn, ln)
        steps = max(1000, int(self.work / min(threads, 1 << 16)))  # thread-instructions within the budget
        t0 = time.process_time()
        try:
            rep = emulate(fn.ptx, fn.name, ln.grid, ln.block, args, dynamic_shared=ln.shared, check=False,
                          max_steps=steps)
        except EmulatorError as e:
            self.emulate_s += time.process_time() - t0
            if "max_steps" in e.message:  # nothing was written back: the launch simply did not run here
                self.st.too_much.add(key)
                self.not_executed.append(f"{fn.name} grid={ln.grid} block={ln.block} (too much work to emulate)")
                return 0.003 + threads * 5e-7
            self._fault(R.CUDA_ERROR_LAUNCH_FAILED, str(e))
            return 0.003
        self.emulate_s += time.process_time() - t0
        for f in rep.findings:
            if f.kind in FAULTS:
                self._fault(FAULTS[f.kind], f.render())
                break
        self.st.executed.add(key)
        sms, lanes, hz = DEVICE["sms"], 128, DEVICE["clock_khz"] * 1e3
        fn.last_ms = 0.003 + 1e3 * rep.stats.thread_instructions / (sms * lanes * hz)
        return fn.last_ms

    def _emulator_args(self, fn: Function, ln: Launch) -> tuple[list, list]:
        """Emulator arguments: a pointer into an allocation is a view of it from that address on (the
        emulator writes it back in place); other pointers and scalars are numpy scalars of the PTX type."""
        from sass_lab import ir
        from sass_lab.emulator.program import program

        args, views, cache = [], [], {}
        for p, raw in zip(program(fn.ptx, fn.name).params, ln.params):
            if p.array:
                args.append(raw)
                continue
            kind, size = ir.type_kind(p.type), p.size
            if size == 8 and kind in ("u", "s", "b"):
                addr = int.from_bytes(raw, "little")
                try:
                    arr, off = self._find(addr, 1)
                    view = cache.setdefault(addr, arr[off:])  # the same pointer twice: one array
                    views.append(view)
                    args.append(view)
                    continue
                except _Err:
                    pass
            dt = {"f": {2: np.float16, 4: np.float32, 8: np.float64}}.get(kind, {}).get(size) or {
                1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.uint64}[size]
            if kind == "s":
                dt = {1: np.int8, 2: np.int16, 4: np.int32, 8: np.int64}[size]
            args.append(np.frombuffer(raw, dtype=dt)[0])
        return args, views

    def _fault(self, code, why: str = "") -> None:
        self.st.sticky = code
        self.fault_reason = why

    # ------------------------------------------------------------------ streams, graphs, events

    def cuStreamCreate(self, Flags):
        return _real.CUstream(self._handle("stream", Stream(Flags)))
    cuStreamCreate._outputs = 1

    def cuStreamDestroy(self, hStream):
        self._get("stream", hStream)
        self._drain(stream=hStream)
        del self.st.handles[hStream]

    def cuStreamSynchronize(self, hStream):
        sid = self._stream(hStream)
        if sid and self._get("stream", sid).capturing is not None:
            raise _Err(R.CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED)
        if sid == 0:
            self._drain(legacy=True)
        else:
            self._drain(stream=sid)
        if self.st.sticky is not None:
            raise _Err(self.st.sticky)

    def cuStreamBeginCapture(self, hStream, mode):
        sid = self._stream(hStream)
        if sid == 0:
            raise _Err(R.CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED)
        s = self._get("stream", sid)
        if s.capturing is not None:
            raise _Err(R.CUDA_ERROR_ILLEGAL_STATE)
        s.capturing = []

    def cuStreamEndCapture(self, hStream):
        sid = self._stream(hStream)
        s = self._get("stream", sid) if sid else None
        if s is None or s.capturing is None:
            raise _Err(R.CUDA_ERROR_ILLEGAL_STATE)
        ops, s.capturing = s.capturing, None
        return _real.CUgraph(self._handle("graph", ops))
    cuStreamEndCapture._outputs = 1

    def cuGraphInstantiate(self, hGraph, flags):
        return _real.CUgraphExec(self._handle("graphexec", list(self._get("graph", hGraph))))
    cuGraphInstantiate._outputs = 1

    def cuGraphLaunch(self, hGraphExec, hStream):
        ops = self._get("graphexec", hGraphExec)
        self._enqueue(Op(self._stream(hStream), "graph", ops))

    def cuGraphExecDestroy(self, hGraphExec):
        self._get("graphexec", hGraphExec)
        del self.st.handles[hGraphExec]

    def cuGraphDestroy(self, hGraph):
        self._get("graph", hGraph)
        del self.st.handles[hGraph]

    def cuEventCreate(self, Flags):
        return _real.CUevent(self._handle("event", Event()))
    cuEventCreate._outputs = 1

    def cuEventRecord(self, hEvent, hStream):
        ev: Event = self._get("event", hEvent)
        op = Op(self._stream(hStream), "event", ev)
        ev.recorded, ev.time_ms = op, None
        self._enqueue(op)

    def cuEventQuery(self, hEvent):
        ev: Event = self._get("event", hEvent)
        if ev.recorded is not None and not ev.recorded.done:
            raise _Err(R.CUDA_ERROR_NOT_READY)

    def cuEventSynchronize(self, hEvent):
        ev: Event = self._get("event", hEvent)
        if ev.recorded is not None and not ev.recorded.done:
            self._drain(upto=ev.recorded)
        if self.st.sticky is not None:
            raise _Err(self.st.sticky)

    def cuEventElapsedTime(self, hStart, hEnd):
        a: Event = self._get("event", hStart)
        b: Event = self._get("event", hEnd)
        if a.recorded is None or b.recorded is None:
            raise _Err(R.CUDA_ERROR_INVALID_HANDLE)
        if not (a.recorded.done and b.recorded.done):
            raise _Err(R.CUDA_ERROR_NOT_READY)
        return float(b.time_ms - a.time_ms)
    cuEventElapsedTime._outputs = 1

    def cuEventDestroy(self, hEvent):
        self._get("event", hEvent)
        del self.st.handles[hEvent]

    # ------------------------------------------------------------------ for tests

    def device_array(self, ptr: int, n: int) -> np.ndarray:
        """A view of ``n`` bytes of device memory at ``ptr`` (tests only)."""
        arr, off = self._find(int(ptr), n)
        return arr[off:off + n]

    def pending(self) -> int:
        return len(self.st.queue)

