"""The planner ("tensor machine", Lavin 2024, at this project's level) for the block-fusion kernels.

For a block (ConvFirst or MBConv), channel count, tile and arch it says what the fused kernel keeps on
chip and whether that fits — registers per thread, shared memory per block (the kernel's own layout,
:func:`layout`, which kernels_asm/convfirst_block.sasm and mbconv_block.sasm import), the L2 working
set — and what it saves: DRAM bytes fused vs unfused and the predicted waterline (each kernel's floor
max(FLOPs / tensor peak, DRAM bytes / bandwidth), summed).

Traffic model (stated, not measured): the fused kernel reads x once from DRAM and y is written once;
a block's (TH+2)×(TW+2) halo tile and every block's pass over the filters are L2 requests, which hit
as long as the filters and the halo rows of the resident blocks fit in L2 (checked). The unfused
layers each read their input and write their output through DRAM (the EXP·C-channel intermediate
is N·H·W·EXP·C·2 bytes: 51 MB at N=32, 56×56, C=64, past any L2).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from ..hw.arch import arch_info
from ..hw.occupancy import occupancy
from .blocks import GROUP, block_flops

DEVICE_FOR_ARCH = {"sm_90": "H100-SXM", "sm_80": "A100-SXM"}


@dataclass(frozen=True, slots=True)
class Tile:
    """TH×TW output pixels per block, NW warps, CH expanded channels per chunk."""

    th: int = 8
    tw: int = 16
    nw: int = 4
    ch: int = 32

    @property
    def pix(self) -> int:
        return self.th * self.tw

    @property
    def halo(self) -> int:
        return (self.th + 2) * (self.tw + 2)

    @property
    def mt(self) -> int:
        """m16 pixel tiles per warp."""
        return self.pix // (16 * self.nw)

    @classmethod
    def of(cls, d: dict) -> Tile:
        return cls(int(d["TH"]), int(d["TW"]), int(d["NW"]), int(d["CH"]))


@dataclass(frozen=True, slots=True)
class Layout:
    """Byte offsets of the fused kernel's shared memory (one chunk buffer at ``we``/``wp``/``wgc``,
    the second ``buf`` bytes later) and its total."""

    x: int          # halo tile of x: HP rows of C channels (RX bytes)
    gs: int         # ConvFirst: G's output, PIX rows of C channels
    wg: int         # ConvFirst: the grouped filter, C rows of 72 halves (144 bytes), in chunk buffer 1
                    # when it fits there (needed only before the chunk loop)
    hs: int         # MBConv: SiLU(E) of one chunk on the halo, HM·16 rows of CH channels (RP bytes)
    we: int         # chunk buffer: We rows [CH][C]
    wp: int         #               Wp columns [C][CH]
    wgc: int        #               MBConv: the chunk's grouped filter [CH][72]
    buf: int        # bytes of one chunk buffer
    total: int
    rx: int         # bytes per shared row of C channels (padded by 16)
    rp: int         # bytes per shared row of CH channels (padded by 16)


def layout(kind: str, c: int, exp: int, tile: Tile) -> Layout:
    """The shared-memory layout of the fused kernel (the kernels compute their offsets here)."""
    rx, rp = 2 * c + 16, 2 * tile.ch + 16
    x = 0
    buf1 = tile.ch * rx + c * rp          # chunk buffer without a grouped filter
    if kind == "convfirst":
        gs = x + tile.halo * rx
        if buf1 >= c * 144:               # the filter waits in chunk buffer 1, free until chunk 1 arrives
            hs = we = gs + tile.pix * rx
            wg = we + buf1
        else:
            wg = gs + tile.pix * rx
            hs = we = wg + c * 144
        wgc_size = 0
    elif kind == "mbconv":
        gs = wg = hs = x + tile.halo * rx
        hm = -(-tile.halo // 16)
        we = hs + hm * 16 * rp
        wgc_size = tile.ch * 144
    else:
        raise ValueError(f"unknown block {kind!r}")
    wp = we + tile.ch * rx
    wgc = wp + c * rp
    buf = buf1 + wgc_size
    return Layout(x, gs, wg, hs, we, wp, wgc, buf, we + 2 * buf, rx, rp)


def valid_tile(kind: str, c: int, exp: int, tile: Tile, arch: str = "sm_90") -> str | None:
    """Why the kernels cannot take this tile (None when they can)."""
    if tile.tw not in (8, 16, 32):
        return "TW must be 8, 16 or 32 (rows g and g+8 of an m16 tile at a fixed halo distance)"
    if tile.pix % (16 * tile.nw):
        return "TH·TW must be a multiple of 16·NW (whole m16 tiles per warp)"
    if tile.ch % 16 or (exp * c) % tile.ch:
        return "CH must be a multiple of 16 that divides EXP·C"
    if c % 8 or not 8 <= c:
        return "C must be a multiple of 8"
    if not 32 <= 32 * tile.nw <= 1024:
        return "NW must give 32..1024 threads"
    if layout(kind, c, exp, tile).total > arch_info(arch).max_shared_per_block:
        return "shared memory over the per-block limit"
    if registers_estimate(kind, c, tile) > 232:
        return "more than 232 live registers per thread (ptxas needs headroom under 255)"
    return None


def registers_estimate(kind: str, c: int, tile: Tile) -> int:
    """Live 32-bit registers at the fused kernel's peak (what the DSL's liveness pass reports for the
    build; fitted to it within about ±10 over C = 32..256 and the tiles of docs/KERNELS.md): P's
    accumulators (MT m-tiles × C/8 n-tiles × 4), the chunk's products and their 16-bit A fragments,
    fragments, addresses and loop state. ptxas allocates more (it hoists loads for latency); cap it
    with the MAXNREG define."""
    mt, ch = tile.mt, tile.ch
    if kind == "convfirst":
        return mt * c // 2 + mt * 3 * ch // 4 + 4 * mt + 10 + 12 // mt
    return mt * c // 2 + mt * ch // 4 + 7 * mt + 41 + (6 if mt == 1 else 0)


# --------------------------------------------------------------------------- traffic and the plan


@dataclass(frozen=True, slots=True)
class Traffic:
    """FLOPs and predicted DRAM bytes of one kernel of a block (fused, or one unfused layer)."""

    name: str
    flops: float            # executed (tile padding and the MBConv halo recompute included)
    useful_flops: float     # the block's (or layer's) own FLOPs, as the efficiency gap counts them
    in_bytes: float         # activations read from DRAM (x; the residual for the projection)
    weight_bytes: float     # filters and BN pairs
    out_bytes: float        # activations written
    l2_bytes: float = 0.0   # fused: global loads and stores as issued (halo tiles, filters per block)

    @property
    def dram_bytes(self) -> float:
        return self.in_bytes + self.weight_bytes + self.out_bytes


def _tiles(n: int, h: int, w: int, tile: Tile) -> int:
    return n * -(-h // tile.th) * -(-w // tile.tw)


def block_weight_bytes(kind: str, c: int, exp: int = 4, elem: int = 2) -> float:
    """Filters (16-bit) and BN pairs (2 float32 per channel) of one block."""
    ce = exp * c
    cg = c if kind == "convfirst" else ce
    return elem * (9 * GROUP * cg + 2 * c * ce) + 8.0 * (cg + ce + c)


def fused_traffic(kind: str, n: int, h: int, w: int, c: int, tile: Tile, exp: int = 4,
                  elem: int = 2) -> Traffic:
    """The fused kernel's FLOPs and bytes, from its tiling: x read once and y written once through
    DRAM; the halo tiles and every block's pass over the filters are L2 requests."""
    ce = exp * c
    cg = c if kind == "convfirst" else ce
    useful = block_flops(kind, dict(N=n, H=h, W=w, C=c), exp)
    blocks = _tiles(n, h, w, tile)
    rows_e = tile.pix if kind == "convfirst" else -(-tile.halo // 16) * 16   # E on the halo (MBConv)
    per_block = 2.0 * (tile.pix * 9 * GROUP * cg + rows_e * c * ce + tile.pix * ce * c)
    weights = block_weight_bytes(kind, c, exp, elem)
    act = float(n * h * w * c * elem)
    l2 = blocks * (tile.halo * c * elem + weights + tile.pix * c * elem)
    return Traffic(f"{kind}_block", blocks * per_block, useful, act, weights, act, l2)


def unfused_traffic(kind: str, n: int, h: int, w: int, c: int, exp: int = 4, elem: int = 2) -> list[Traffic]:
    """The unfused layers (grouped 3×3 + BN (+SiLU), 1×1 + BN + SiLU, 1×1 + BN + residual), in block
    order: each reads its inputs and writes its output through DRAM."""
    ce = exp * c
    px = float(n * h * w)
    g_ch = c if kind == "convfirst" else ce
    gf = 2.0 * px * 9 * GROUP * g_ch
    g = Traffic("grouped3x3" + ("" if kind == "convfirst" else "+silu"), gf, gf, px * g_ch * elem,
                9 * GROUP * g_ch * elem + 8.0 * g_ch, px * g_ch * elem)
    pf = 2.0 * px * c * ce
    e = Traffic("expand1x1+silu", pf, pf, px * c * elem, c * ce * elem + 8.0 * ce, px * ce * elem)
    p = Traffic("project1x1+residual", pf, pf, px * (ce + c) * elem, c * ce * elem + 8.0 * c, px * c * elem)
    return [g, e, p] if kind == "convfirst" else [e, g, p]


@dataclass(frozen=True)
class Plan:
    """What the planner says about one fused kernel configuration at one size."""

    kind: str
    size: dict
    c: int
    tile: Tile
    arch: str
    device: str
    registers: int                 # ptxas's allocation when assembled, else the live estimate
    registers_source: str          # "estimate" or "ptxas"
    live_registers: int            # the live working set (registers_estimate)
    shared_bytes: int
    blocks_per_sm: int
    warps_per_sm: int
    occupancy_limiters: tuple[str, ...]
    l2_working_set: int
    l2_bytes_device: int
    fits: bool
    why_not: tuple[str, ...]
    fused: Traffic
    unfused: tuple[Traffic, ...]
    peak_flops: float
    bandwidth: float
    notes: tuple[str, ...] = field(default=())

    def floor_s(self, t: Traffic) -> float:
        return max(t.flops / self.peak_flops, t.dram_bytes / self.bandwidth)

    @property
    def waterline_fused_s(self) -> float:
        return self.floor_s(self.fused)

    @property
    def waterline_unfused_s(self) -> float:
        return sum(self.floor_s(t) for t in self.unfused)

    @property
    def dram_ratio(self) -> float:
        return sum(t.dram_bytes for t in self.unfused) / self.fused.dram_bytes

    def to_dict(self) -> dict:
        d = asdict(self)
        d.update(waterline_fused_s=self.waterline_fused_s, waterline_unfused_s=self.waterline_unfused_s,
                 dram_ratio=self.dram_ratio)
        return d


def plan(kind: str, n: int, h: int, w: int, c: int, tile: Tile = Tile(), arch: str = "sm_90",
         exp: int = 4, device: str | None = None, resources=None) -> Plan:
    """The plan for ``kind`` at N×H×W×C with ``tile`` on ``arch`` (``resources``: an assembled
    kernel's, to use ptxas's register count instead of the estimate)."""
    from ..hw.devices import device as lookup

    dev = lookup(device or DEVICE_FOR_ARCH.get(arch[:5], "H100-SXM"))
    peak = dev.bf16_flops or dev.peak_fp32_flops  # dense FP16/BF16 tensor rate (= FP16 with fp32 sums)
    lay = layout(kind, c, exp, tile)
    regs = resources.registers if resources is not None else registers_estimate(kind, c, tile)
    occ = occupancy(arch, 32 * tile.nw, min(regs, 255), lay.total)
    ft = fused_traffic(kind, n, h, w, c, tile, exp)
    weights = block_weight_bytes(kind, c, exp)
    # L2 must hold the filters (every block reads them all) and the rows of x the resident blocks span
    # plus one tile row (the halo the next row of blocks re-reads), and their y tiles
    resident = max(1, occ.blocks_per_sm * dev.sms)
    rows = -(-resident // -(-w // tile.tw)) + 1
    l2_ws = int(weights + rows * (tile.th + 2) * w * c * 2 + resident * tile.pix * c * 2)
    why = []
    reason = valid_tile(kind, c, exp, tile, arch)
    if reason:
        why.append(reason)
    if regs > 255:
        why.append(f"{regs} registers per thread (at most 255)")
    if occ.blocks_per_sm == 0:
        why.append("no block fits on an SM")
    if l2_ws > dev.l2_bytes // 2:
        why.append(f"L2 working set {l2_ws / 2**20:.1f} MiB over half of the {dev.l2_bytes / 2**20:.0f} MiB L2")
    return Plan(kind, dict(N=n, H=h, W=w, C=c), c, tile, arch, dev.name, regs,
                "ptxas" if resources is not None else "estimate", registers_estimate(kind, c, tile),
                lay.total, occ.blocks_per_sm,
                occ.warps_per_sm, tuple(occ.limiters), l2_ws, dev.l2_bytes, not why, tuple(why), ft,
                tuple(unfused_traffic(kind, n, h, w, c, exp)), peak, dev.dram_bytes_per_s)


KERNEL_FILES = {"convfirst": "convfirst_block.sasm", "mbconv": "mbconv_block.sasm"}


def kernel_plan(kind: str, n: int, h: int, w: int, c: int, arch: str = "sm_90", device: str | None = None,
                tile: Tile | None = None, exp: int = 4, assemble: bool = True) -> Plan:
    """:func:`plan` for the shipped kernel: its default tile at this C (or ``tile``) and, when
    ``assemble``, ptxas's register count for that build (the estimate when it cannot be built)."""
    from ..errors import SasmError
    from ..lab.spec import load_spec
    from ..paths import KERNELS

    path = KERNELS / KERNEL_FILES[kind]
    size = dict(N=n, H=h, W=w, C=c)
    defines = {} if tile is None else {"TH": tile.th, "TW": tile.tw, "NW": tile.nw, "CH": tile.ch}
    spec, built = load_spec(path, defines).for_size(size, defines)
    resources = None
    if assemble and valid_tile(kind, c, exp, Tile.of(spec.defines), arch) is None:
        try:
            from ..api import assemble_file

            resources = assemble_file(path, arch, defines=built)[spec.kernel].resources
        except SasmError:
            resources = None
    return plan(kind, n, h, w, c, Tile.of(spec.defines), arch, exp, device, resources)


def rank_tiles(kind: str, n: int, h: int, w: int, c: int, arch: str = "sm_90", device: str | None = None,
               exp: int = 4) -> list[Plan]:
    """Plans for every tile of the kernel's TUNE space that fits, best predicted floor first (then
    more warps per SM), with estimated registers (assemble the winners for ptxas's counts)."""
    from ..lab.spec import load_spec
    from ..paths import KERNELS

    spec = load_spec(KERNELS / KERNEL_FILES[kind])
    space = spec.tune
    out = []
    for th in space["TH"]:
        for tw in space["TW"]:
            for nw in space["NW"]:
                for ch in space["CH"]:
                    t = Tile(th, tw, nw, ch)
                    if valid_tile(kind, c, exp, t, arch) is None:
                        p = plan(kind, n, h, w, c, t, arch, exp, device)
                        if p.fits:
                            out.append(p)
    return sorted(out, key=lambda p: (p.waterline_fused_s, -p.warps_per_sm, -p.tile.ch))
