// Asynchronous copies and split barriers as CUDA code uses them: cuda::barrier (arrive/wait, tokens and
// parities, transaction counts), cuda::pipeline (block-wide, per-thread, producer/consumer roles),
// cuda::memcpy_async and the cp.async primitives. Compiled for sm_80 (cp.async + mbarrier) and sm_90
// (the bulk copy with complete_tx); the last kernels carry planted bugs the emulator must report.
#include <cooperative_groups.h>
#include <cooperative_groups/memcpy_async.h>
#include <cuda/barrier>
#include <cuda/pipeline>
#include <cuda_pipeline_primitives.h>

namespace cg = cooperative_groups;
using block_barrier = cuda::barrier<cuda::thread_scope_block>;

// Tree reduction with a cuda::barrier in place of __syncthreads: one partial sum per block.
extern "C" __global__ void barrier_reduce(const float* x, float* partial, int n) {
    __shared__ float s[256];
#pragma nv_diag_suppress static_var_with_dynamic_init
    __shared__ block_barrier bar;
    if (threadIdx.x == 0) init(&bar, blockDim.x);
    __syncthreads();
    float acc = 0.f;
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += blockDim.x * gridDim.x) acc += x[i];
    s[threadIdx.x] = acc;
    bar.arrive_and_wait();
    for (int h = blockDim.x / 2; h > 0; h /= 2) {
        float v = threadIdx.x < h ? s[threadIdx.x + h] : 0.f;
        bar.arrive_and_wait();
        if (threadIdx.x < h) s[threadIdx.x] += v;
        auto t = bar.arrive();
        bar.wait(cuda::std::move(t));
    }
    if (threadIdx.x == 0) partial[blockIdx.x] = s[0];
}

// A block-wide cuda::pipeline with three stages over 256-float tiles (grid-stride over tiles, a
// ragged last tile): y[t*256 + j] = tile[j] + tile[last - j].
extern "C" __global__ void pipeline_reverse_add(const float* x, float* y, int n) {
    constexpr int T = 256, S = 3;
    __shared__ alignas(16) float buf[S][T];
#pragma nv_diag_suppress static_var_with_dynamic_init
    __shared__ cuda::pipeline_shared_state<cuda::thread_scope_block, S> state;
    auto block = cg::this_thread_block();
    auto pipe = cuda::make_pipeline(block, &state);
    int tiles = (n + T - 1) / T;
    int mine = (tiles - (int)blockIdx.x + (int)gridDim.x - 1) / (int)gridDim.x;  // tiles of this block
    auto len = [&](int k) { int t = blockIdx.x + k * gridDim.x; return min(T, n - t * T); };
    int fetched = 0;
    for (int k = 0; k < mine; ++k) {
        for (; fetched < mine && fetched < k + S; ++fetched) {
            int t = blockIdx.x + fetched * gridDim.x;
            pipe.producer_acquire();
            cuda::memcpy_async(block, buf[fetched % S], x + t * T, sizeof(float) * len(fetched), pipe);
            pipe.producer_commit();
        }
        pipe.consumer_wait();
        int m = len(k), t = blockIdx.x + k * gridDim.x;
        for (int j = threadIdx.x; j < m; j += blockDim.x) y[t * T + j] = buf[k % S][j] + buf[k % S][m - 1 - j];
        pipe.consumer_release();
    }
}

// Per-thread double buffering with cuda::pipeline<thread_scope_thread>: y = x * x in float4 steps.
extern "C" __global__ void thread_pipeline_square(const float4* x, float4* y, int n4) {
    __shared__ float4 buf[2][128];
    auto pipe = cuda::make_pipeline();
    int stride = blockDim.x * gridDim.x;
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n4) {
        pipe.producer_acquire();
        cuda::memcpy_async(&buf[0][threadIdx.x], &x[i], sizeof(float4), pipe);
        pipe.producer_commit();
    }
    for (int k = 0; i < n4; i += stride, ++k) {
        int nxt = i + stride;
        if (nxt < n4) {
            pipe.producer_acquire();
            cuda::memcpy_async(&buf[(k + 1) & 1][threadIdx.x], &x[nxt], sizeof(float4), pipe);
            pipe.producer_commit();
        }
        cuda::pipeline_consumer_wait_prior<1>(pipe);
        if (nxt >= n4) cuda::pipeline_consumer_wait_prior<0>(pipe);
        float4 v = buf[k & 1][threadIdx.x];
        y[i] = make_float4(v.x * v.x, v.y * v.y, v.z * v.z, v.w * v.w);
        pipe.consumer_release();
    }
}

// Warp specialisation with a ring of two slots and full/empty barriers: warp 0 produces 128-float
// tiles, warps 1-4 consume them (y = 3 * tile + 1). Consumers park in their waits while warp 0 runs.
extern "C" __global__ void ws_ring(const float* x, float* y, int tiles) {
    constexpr int P = 32, C = 128;
    __shared__ float ring[2][128];
#pragma nv_diag_suppress static_var_with_dynamic_init
    __shared__ block_barrier full[2], empty[2];
    if (threadIdx.x == 0)
        for (int s = 0; s < 2; ++s) { init(&full[s], P + C); init(&empty[s], P + C); }
    __syncthreads();
    if (threadIdx.x < P) {
        for (int t = 0; t < tiles; ++t) {
            int s = t & 1;
            if (t >= 2) empty[s].arrive_and_wait();
            for (int j = threadIdx.x; j < 128; j += P) ring[s][j] = x[t * 128 + j];
            (void)full[s].arrive();
        }
    } else {
        int j = threadIdx.x - P;
        for (int t = 0; t < tiles; ++t) {
            int s = t & 1;
            full[s].arrive_and_wait();
            y[t * 128 + j] = 3.f * ring[s][j] + 1.f;
            (void)empty[s].arrive();
        }
    }
}

// The same ring with raw parities (CUTLASS style): warp 0 arrives on `full`, consumers wait on its
// parity without arriving, and arrive on `empty`, which warp 0 waits on by parity.
extern "C" __global__ void parity_ring(const float* x, float* y, int tiles) {
    __shared__ float ring[2][96];
#pragma nv_diag_suppress static_var_with_dynamic_init
    __shared__ block_barrier full[2], empty[2];
    if (threadIdx.x == 0)
        for (int s = 0; s < 2; ++s) { init(&full[s], 32); init(&empty[s], 96); }
    __syncthreads();
    if (threadIdx.x < 32) {
        for (int t = 0; t < tiles; ++t) {
            int s = t & 1;
            if (t >= 2) empty[s].wait_parity(((t >> 1) - 1) & 1);
            for (int j = threadIdx.x; j < 96; j += 32) ring[s][j] = x[t * 96 + j];
            (void)full[s].arrive();
        }
    } else {
        int j = threadIdx.x - 32;
        for (int t = 0; t < tiles; ++t) {
            int s = t & 1;
            full[s].wait_parity((t >> 1) & 1);
            y[t * 96 + j] = ring[s][j] * ring[s][95 - j];
            (void)empty[s].arrive();
        }
    }
}

// A partitioned cuda::pipeline: warp 0 holds the producer role, the other warps consume.
extern "C" __global__ void role_pipeline(const float* x, float* y, int tiles) {
    constexpr int S = 2, T = 128;
    __shared__ float buf[S][T];
#pragma nv_diag_suppress static_var_with_dynamic_init
    __shared__ cuda::pipeline_shared_state<cuda::thread_scope_block, S> state;
    auto block = cg::this_thread_block();
    bool producer = threadIdx.x < 32;
    auto pipe = cuda::make_pipeline(block, &state, producer ? cuda::pipeline_role::producer
                                                             : cuda::pipeline_role::consumer);
    for (int t = 0; t < tiles; ++t) {
        if (producer) {
            pipe.producer_acquire();
            for (int j = threadIdx.x; j < T; j += 32)
                cuda::memcpy_async(&buf[t % S][j], &x[t * T + j], sizeof(float), pipe);
            pipe.producer_commit();
        } else {
            pipe.consumer_wait();
            int j = threadIdx.x - 32;
            y[t * T + j] = buf[t % S][j] - buf[t % S][T - 1 - j];
            pipe.consumer_release();
        }
    }
}

// A whole tile through one barrier with a transaction count: cuda::memcpy_async with an aligned size
// is the bulk copy + complete_tx on sm_90 and cp.async + cp.async.mbarrier.arrive on sm_80.
extern "C" __global__ void tx_tile(const float* x, float* y) {
    __shared__ alignas(16) float buf[512];
#pragma nv_diag_suppress static_var_with_dynamic_init
    __shared__ block_barrier bar;
    auto block = cg::this_thread_block();
    if (block.thread_rank() == 0) init(&bar, block.size());
    block.sync();
    cuda::memcpy_async(block, buf, x + blockIdx.x * 512, cuda::aligned_size_t<16>(sizeof(float) * 512), bar);
    bar.arrive_and_wait();
    for (int j = threadIdx.x; j < 512; j += blockDim.x) y[blockIdx.x * 512 + j] = buf[511 - j] - buf[j];
}

// cp.async primitives (__pipeline_*): a ring of three slots, two tiles in flight, per-thread groups.
extern "C" __global__ void primitives_ring(const float* x, float* y, int tiles) {
    constexpr int S = 3;
    __shared__ float ring[S][128];
    int j = threadIdx.x;
    for (int t = 0; t < 2 && t < tiles; ++t) {
        __pipeline_memcpy_async(&ring[t][j], &x[t * 128 + j], sizeof(float));
        __pipeline_commit();
    }
    for (int t = 0; t < tiles; ++t) {
        if (t + 2 < tiles) __pipeline_memcpy_async(&ring[(t + 2) % S][j], &x[(t + 2) * 128 + j], sizeof(float));
        __pipeline_commit();
        __pipeline_wait_prior(2);
        y[t * 128 + j] = ring[t % S][j] * 0.5f;
    }
}

// ---- planted bugs -------------------------------------------------------------------------------

// The barrier expects one arrival more than the block has threads: every thread waits forever.
extern "C" __global__ void bug_count_too_high(float* y) {
#pragma nv_diag_suppress static_var_with_dynamic_init
    __shared__ block_barrier bar;
    if (threadIdx.x == 0) init(&bar, blockDim.x + 1);
    __syncthreads();
    bar.arrive_and_wait();
    y[threadIdx.x] = 1.f;
}

// Thread 0 leaves early, so the phase never completes.
extern "C" __global__ void bug_early_return(const float* x, float* y) {
#pragma nv_diag_suppress static_var_with_dynamic_init
    __shared__ block_barrier bar;
    if (threadIdx.x == 0) init(&bar, blockDim.x);
    __syncthreads();
    if (x[threadIdx.x] < 0.f) return;
    bar.arrive_and_wait();
    y[threadIdx.x] = x[threadIdx.x];
}

// Three tiles in flight in a ring of two slots: the copy into slot (t+2)%2 overwrites the slot that
// is about to be read, before anyone waited for its previous copy.
extern "C" __global__ void bug_ring_overrun(const float* x, float* y, int tiles) {
    __shared__ float ring[2][128];
    int j = threadIdx.x;
    for (int t = 0; t < 2 && t < tiles; ++t) {
        __pipeline_memcpy_async(&ring[t][j], &x[t * 128 + j], sizeof(float));
        __pipeline_commit();
    }
    for (int t = 0; t < tiles; ++t) {
        if (t + 2 < tiles) __pipeline_memcpy_async(&ring[t % 2][j], &x[(t + 2) * 128 + j], sizeof(float));
        __pipeline_commit();
        __pipeline_wait_prior(2);
        y[t * 128 + j] = ring[t % 2][j];
    }
}

// Reads the newest tile before waiting for it (wait_prior(1) leaves the last group in flight).
extern "C" __global__ void bug_read_in_flight(const float* x, float* y) {
    __shared__ float buf[2][128];
    int j = threadIdx.x;
    __pipeline_memcpy_async(&buf[0][j], &x[j], sizeof(float));
    __pipeline_commit();
    __pipeline_memcpy_async(&buf[1][j], &x[128 + j], sizeof(float));
    __pipeline_commit();
    __pipeline_wait_prior(1);
    y[j] = buf[0][j] + buf[1][j];
}
