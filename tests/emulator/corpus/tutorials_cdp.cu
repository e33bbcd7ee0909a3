// Dynamic parallelism as tutorials write it (built with -rdc=true, as it must be): a parent kernel that
// launches a child grid per block, and a kernel that calls the device runtime API. The emulator refuses
// both at decode time with that reason, and the assembler says what the unresolved functions are; the child
// kernel itself is an ordinary kernel. Our own code (tests/emulator/test_emu_tutorials.py).
__global__ void cdp_child(int *data, int offset, int add) { data[offset + threadIdx.x] += add; }

__global__ void cdp_parent(int *data, int chunk) {
    if (threadIdx.x == 0) cdp_child<<<1, chunk>>>(data, blockIdx.x * chunk, blockIdx.x + 1);
}

__global__ void cdp_runtime_api(int *out) {
    int dev = -1;
    cudaGetDevice(&dev);
    out[0] = dev;
    out[1] = (int)cudaGetLastError();
}
