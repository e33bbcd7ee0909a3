// Direct 3x3 convolution, stride 1, padding 1: out[k][y][x] = sum_c,r,s in[c][y+r-1][x+s-1] * w[k][c][r][s].
extern "C" __global__ void conv3x3(const float* in, const float* w, float* out, int C, int H, int W, int K) {
    int x = blockIdx.x * blockDim.x + threadIdx.x;
    int y = blockIdx.y * blockDim.y + threadIdx.y;
    int k = blockIdx.z;
    if (x >= W || y >= H) return;
    float acc = 0.0f;
    for (int c = 0; c < C; ++c)
        for (int r = 0; r < 3; ++r) {
            int yy = y + r - 1;
            if (yy < 0 || yy >= H) continue;
            for (int s = 0; s < 3; ++s) {
                int xx = x + s - 1;
                if (xx < 0 || xx >= W) continue;
                acc += in[(c * H + yy) * W + xx] * w[((k * C + c) * 3 + r) * 3 + s];
            }
        }
    out[(k * H + y) * W + x] = acc;
}
