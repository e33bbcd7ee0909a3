"""Launching a kernel: geometry checks, argument buffers, cuLaunchKernel, error check, copy-back.

:func:`prepare` does everything but the launch (load the cubin, raise the shared-memory limit, copy
numpy arguments to the device, build the pointer array), so benchmarks can enqueue the same launch many
times; :func:`launch` is prepare → enqueue → synchronize → copy back → free.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import CudaError, ResourceError, UsageError
from .args import ArgPlan, map_key, plan_args, tensor_key
from .driver import DeviceInfo, check, context, driver, stream_handle
from .memory import DeviceBuffer, alloc, copy_in, copy_out
from .tensormap import encode as encode_map


def dim3(v: int | tuple[int, ...] | list[int], what: str) -> tuple[int, int, int]:
    """``v`` as three positive ints (missing trailing dimensions are 1)."""
    t = (int(v),) if isinstance(v, (int, np.integer)) else tuple(int(x) for x in v)
    if not 1 <= len(t) <= 3:
        raise UsageError(f"{what} must have 1 to 3 dimensions, got {len(t)}")
    return (t + (1, 1, 1))[:3]  # type: ignore[return-value]


def block_registers(registers: int, threads: int) -> int:
    """Registers a block takes: per warp, ``registers × 32`` rounded up to the 256-register unit."""
    per_warp = -(-registers * 32 // 256) * 256
    return per_warp * -(-threads // 32)


def check_geometry(name: str, grid: tuple[int, int, int], block: tuple[int, int, int], dynamic_shared: int,
                   *, max_threads: int = 1024, shared_static: int = 0, registers: int = 0,
                   info: DeviceInfo | None = None) -> None:
    """Reject a launch the driver would refuse, with the limit it breaks (pure: no GPU needed)."""
    from ..hw.launch import block_problem, extent_problem

    for shape_error in (extent_problem(grid, "grid"), extent_problem(block, "block")):
        if shape_error:
            raise UsageError(f"{name}: {shape_error}")
    threads = block[0] * block[1] * block[2]
    p = block_problem(block, (max_threads,) if max_threads < 1024 else ())  # the cubin's .maxntid product
    if p is not None:
        raise ResourceError(f"{name}: {p.what}", hint=p.hint)
    need = block_registers(registers, threads)
    if need > 65536:
        raise ResourceError(f"{name}: a block of {threads} threads at {registers} registers each needs {need} "
                            "registers, over the 65536 of an SM",
                            hint=f"use at most {65536 // max(1, -(-registers * 32 // 256) * 256) * 32} threads "
                                 "per block, or cap registers (.maxnreg / maxrregcount)")
    if dynamic_shared < 0:
        raise UsageError(f"{name}: dynamic shared memory cannot be negative ({dynamic_shared})")
    if info is not None:
        total = shared_static + dynamic_shared
        if total > info.shared_per_block_optin:
            raise ResourceError(f"{name}: {total} bytes of shared memory per block ({shared_static} static + "
                                f"{dynamic_shared} dynamic) are over the {info.name}'s limit of "
                                f"{info.shared_per_block_optin}")


@dataclass(eq=False)
class Prepared:
    """A launch ready to enqueue any number of times; :meth:`free` releases its copies."""

    name: str
    fn: Any
    grid: tuple[int, int, int]
    block: tuple[int, int, int]
    dynamic_shared: int
    stream: Any
    plan: ArgPlan
    buffers: dict[int, DeviceBuffer] = field(default_factory=dict)
    blob: np.ndarray = field(default_factory=lambda: np.zeros(0, np.uint8))
    pointers: np.ndarray = field(default_factory=lambda: np.zeros(0, np.uint64))
    symbols_back: list = field(default_factory=list)  # (array, device address) read back after the run
    cluster: tuple[int, int, int] | None = None  # launch-time cluster shape (cuLaunchKernelEx)
    cooperative: bool = False  # cudaLaunchCooperativeKernel's launch: every block resident, grid.sync() works

    def enqueue(self, stream: Any = None) -> None:
        """cuLaunchKernel (cuLaunchKernelEx with a launch-time cluster shape or a cooperative launch) on
        ``stream`` (default: the prepared one); launch-time errors raise."""
        s = stream_handle(self.stream if stream is None else stream)
        params = int(self.pointers.ctypes.data) if len(self.pointers) else 0
        drv = driver()
        if self.cluster is None and not self.cooperative:
            result = drv.cuLaunchKernel(self.fn, *self.grid, *self.block, self.dynamic_shared, s, params, 0)
        else:
            result = drv.cuLaunchKernelEx(launch_config(self, s), self.fn, params, 0)
        check(result, f"launching '{self.name}' with grid {self.grid}, block {self.block}"
              + (f", cluster {self.cluster}" if self.cluster else "") + (", cooperative" if self.cooperative else ""))

    def finish(self) -> None:
        """Wait for the work, raise CudaError if the kernel faulted, copy numpy outputs back."""
        err = driver().cuCtxSynchronize()[0]
        if int(err) != 0:
            from .driver import error_text

            raise CudaError(f"kernel '{self.name}' failed: {error_text(err)}",
                            hint="run it on the emulator (Kernel.emulate) to find the faulting access; "
                                 "the CUDA context is unusable until the process restarts")
        for h in self.plan.copy_backs:
            copy_out(h.staging, self.buffers[h.index].ptr)
            if h.target is not h.staging:
                h.target[...] = h.staging.reshape(h.target.shape)
        for arr, ptr in self.symbols_back:
            copy_out(arr.reshape(-1).view(np.uint8), ptr)

    def free(self, quiet: bool = False) -> None:
        """Free the device copies; ``quiet`` (cleanup while an error propagates) never raises, so a
        broken context's error on cuMemFree cannot hide the error that broke it."""
        for b in self.buffers.values():
            b.free(quiet)
        self.buffers.clear()


def launch_config(prep: Prepared, stream: Any) -> Any:
    """A CUlaunchConfig with the grid, block, shared memory and the cluster-dimension and cooperative
    attributes the launch asks for."""
    drv = driver()
    cfg = drv.CUlaunchConfig()
    cfg.gridDimX, cfg.gridDimY, cfg.gridDimZ = prep.grid
    cfg.blockDimX, cfg.blockDimY, cfg.blockDimZ = prep.block
    cfg.sharedMemBytes = prep.dynamic_shared
    cfg.hStream = stream
    attrs = []
    if prep.cluster is not None:
        attr = drv.CUlaunchAttribute()
        attr.id = drv.CUlaunchAttributeID.CU_LAUNCH_ATTRIBUTE_CLUSTER_DIMENSION
        attr.value.clusterDim.x, attr.value.clusterDim.y, attr.value.clusterDim.z = prep.cluster
        attrs.append(attr)
    if prep.cooperative:
        attr = drv.CUlaunchAttribute()
        attr.id = drv.CUlaunchAttributeID.CU_LAUNCH_ATTRIBUTE_COOPERATIVE
        attr.value.cooperative = 1
        attrs.append(attr)
    cfg.attrs = attrs
    cfg.numAttrs = len(attrs)
    return cfg


def launch_cluster(kernel: Any, grid: tuple[int, int, int], cluster: Any) -> tuple[int, int, int] | None:
    """The cluster shape to pass at launch (None: none, or the kernel's own compile-time one, which a
    plain launch applies); refuses a ``cluster=`` that disagrees with ``.reqnctapercluster``."""
    fixed = tuple(getattr(kernel.resources, "cluster", ()) or ())
    if cluster is None:
        return None
    c = dim3(cluster, "cluster")
    if fixed and tuple((list(fixed) + [1, 1])[:3]) != c:
        raise UsageError(f"{kernel.name} declares .reqnctapercluster {','.join(map(str, fixed))} but is launched "
                         f"with cluster={c}", hint="launch with the cluster shape the kernel declares (or none)")
    if any(g % k for g, k in zip(grid, c)):
        raise UsageError(f"{kernel.name}: grid {grid} is not a multiple of the cluster shape {c}")
    if c[0] * c[1] * c[2] > 16:
        raise UsageError(f"{kernel.name}: a cluster of {c[0] * c[1] * c[2]} blocks; at most 16 (8 portable)")
    return None if fixed else c


def _hw_problems(kernel: Any, threads: int, dynamic_shared: int) -> None:
    """The hardware tables' launch checks (``.reqntid`` shape and the like) as a ResourceError."""
    arch = getattr(kernel, "arch", None)
    if not arch:
        return
    from ..hw.launch import launch_problems

    fatal = [p for p in launch_problems(arch, kernel.resources, threads, dynamic_shared) if p.fatal]
    if fatal:
        raise ResourceError(f"{kernel.name}: {fatal[0].what}", hint=fatal[0].hint or None)


def pointer_array(blob: np.ndarray, plan: ArgPlan) -> np.ndarray:
    """The ``void*[]`` cuLaunchKernel reads: the address of each parameter inside ``blob``."""
    base = int(blob.ctypes.data) if blob.size else 0
    return np.array([base + s.offset for s in plan.slots], dtype=np.uint64)


def set_symbols(ctx: Any, kernel: Any, symbols: dict | None) -> list:
    """Copy host arrays into module variables (cudaMemcpyToSymbol); [(array, address)] to read back."""
    back = []
    for name, value in (symbols or {}).items():
        arr = np.ascontiguousarray(value) if isinstance(value, np.ndarray) else np.asarray(value)
        ptr, size = ctx.symbol(kernel.cubin, name)
        if arr.nbytes > size:
            raise UsageError(f"symbol '{name}' is {size} bytes; {arr.nbytes} bytes given")
        copy_in(ptr, arr.reshape(-1).view(np.uint8))
        if isinstance(value, np.ndarray) and value.flags.writeable and value.flags.c_contiguous:
            back.append((value, ptr))
    return back


def prepare(kernel: Any, grid: Any, block: Any, *args: Any, dynamic_shared: int = 0,
            stream: Any = None, symbols: dict | None = None, cluster: Any = None,
            cooperative: bool = False) -> Prepared:
    """Load, check and pack a launch of ``kernel`` (an ``api.Kernel``) without running it.

    ``symbols`` sets ``__constant__``/``__device__`` variables by name first (read back after the run);
    ``cluster=(cx, cy, cz)`` launches thread-block clusters (it must agree with ``.reqnctapercluster``);
    ``cooperative=True`` launches as cudaLaunchCooperativeKernel (every block resident, so cooperative
    groups' ``grid.sync()`` works; the driver refuses a grid larger than the GPU holds at once);
    TensorMap arguments are encoded by the driver once their tensors are on the device."""
    g, b = dim3(grid, "grid"), dim3(block, "block")
    cl = launch_cluster(kernel, g, cluster)
    plan = plan_args(kernel.params, args, kernel.name)
    res = kernel.resources
    ctx = context()
    check_geometry(kernel.name, g, b, int(dynamic_shared), max_threads=res.max_threads,
                   shared_static=res.shared_static, registers=res.registers, info=ctx.info)
    _hw_problems(kernel, b[0] * b[1] * b[2], int(dynamic_shared))
    fn = ctx.function(kernel.cubin, kernel.name)
    ctx.allow_shared(kernel.cubin, kernel.name, fn, int(dynamic_shared), res.shared_static)
    prep = Prepared(kernel.name, fn, g, b, int(dynamic_shared), stream, plan, cluster=cl, cooperative=bool(cooperative))
    prep.symbols_back = set_symbols(ctx, kernel, symbols)
    try:
        for h in plan.host:
            buf = alloc(h.nbytes)
            prep.buffers[h.index] = buf
            copy_in(buf.ptr, h.staging)
        ptrs, blobs = {i: bf.ptr for i, bf in prep.buffers.items()}, {}
        for m in plan.maps:  # the tensor is on the device: now the driver can encode the map
            raw = encode_map(m.map, prep.buffers[tensor_key(m.index)].ptr)
            if m.by_value:
                blobs[m.index] = raw
            else:
                buf = prep.buffers[map_key(m.index)] = alloc(128)
                copy_in(buf.ptr, np.frombuffer(raw, np.uint8))
                ptrs[m.index] = buf.ptr
        encoded = plan.encode(ptrs, blobs)
        prep.blob = np.zeros(max(1, len(encoded)), dtype=np.uint8)  # numpy-aligned host copy
        prep.blob[:len(encoded)] = np.frombuffer(encoded, dtype=np.uint8)
        prep.pointers = pointer_array(prep.blob, plan)
    except BaseException:
        prep.free(quiet=True)
        raise
    return prep


def launch(kernel: Any, grid: Any, block: Any, *args: Any, dynamic_shared: int = 0, stream: Any = None,
           symbols: dict | None = None, cluster: Any = None, cooperative: bool = False) -> None:
    """Run ``kernel`` once and wait; numpy arrays (TensorMap tensors too) are copied in and written back."""
    prep = prepare(kernel, grid, block, *args, dynamic_shared=dynamic_shared, stream=stream, symbols=symbols,
                   cluster=cluster, cooperative=cooperative)
    done = False
    try:
        prep.enqueue()
        prep.finish()
        done = True
    finally:
        prep.free(quiet=not done)


def max_active_blocks(kernel: Any, block_threads: int, dynamic_shared: int = 0) -> int:
    """cuOccupancyMaxActiveBlocksPerMultiprocessor for ``kernel`` (the occupancy model's judge)."""
    ctx = context()
    fn = ctx.function(kernel.cubin, kernel.name)
    ctx.allow_shared(kernel.cubin, kernel.name, fn, int(dynamic_shared), kernel.resources.shared_static)
    n = check(driver().cuOccupancyMaxActiveBlocksPerMultiprocessor(fn, int(block_threads), int(dynamic_shared)),
              f"occupancy of '{kernel.name}' at {block_threads} threads")
    return int(n)
