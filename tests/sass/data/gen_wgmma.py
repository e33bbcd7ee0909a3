n = 32
f = ", ".join(f"%f{i}" for i in range(n))
lines = [
    ".version 9.0", ".target sm_90a", ".address_size 64", "",
    ".visible .entry wgmma_loop(.param .u64 p_out, .param .u64 p_da, .param .u64 p_db, .param .u32 p_k)",
    "{", f"  .reg .f32 %f<{n}>;", "  .reg .b64 %rd<8>;", "  .reg .b32 %r<4>;", "  .reg .pred %p<2>;",
    "  ld.param.u64 %rd0, [p_out];", "  ld.param.u64 %rd1, [p_da];", "  ld.param.u64 %rd2, [p_db];",
    "  ld.param.u32 %r0, [p_k];", "  mov.u32 %r1, 0;",
]
lines += [f"  mov.f32 %f{i}, 0f00000000;" for i in range(n)]
lines += [
    "LOOP:", "  wgmma.fence.sync.aligned;",
    f"  wgmma.mma_async.sync.aligned.m64n64k16.f32.bf16.bf16 {{{f}}}, %rd1, %rd2, 1, 1, 1, 0, 0;",
    "  wgmma.commit_group.sync.aligned;", "  wgmma.wait_group.sync.aligned 0;",
    "  add.s64 %rd1, %rd1, 2;", "  add.s64 %rd2, %rd2, 2;", "  add.s32 %r1, %r1, 16;",
    "  setp.lt.s32 %p0, %r1, %r0;", "  @%p0 bra LOOP;",
    "  mov.u32 %r2, %tid.x;", "  mul.wide.u32 %rd3, %r2, 128;", "  add.s64 %rd4, %rd0, %rd3;",
]
lines += [f"  st.global.f32 [%rd4+{4 * i}], %f{i};" for i in range(n)]
lines += ["  ret;", "}"]
open("wgmma.ptx", "w").write("\n".join(lines) + "\n")
