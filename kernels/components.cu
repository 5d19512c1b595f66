// Per-component summaries that have no fast library equivalent on the GPU.
//
// segment_min_max: values is (n, d) int64, row i in segment seg[i]; lo and hi
// are (n_segments, d), filled by the caller with the largest / smallest int64,
// and receive the per-segment minimum and maximum of each column (the boxes of
// image components).

extern "C" __global__ void segment_min_max(
    const long long* __restrict__ values,
    const int* __restrict__ seg,
    const long long n,
    const int d,
    long long* __restrict__ lo,
    long long* __restrict__ hi)
{
    // grid-stride: any n, whatever number of blocks the caller launches
    for (long long t = blockIdx.x * (long long)blockDim.x + threadIdx.x; t < n * d;
         t += (long long)gridDim.x * blockDim.x) {
        const long long i = t / d;
        const int a = (int)(t % d);
        const long long v = values[t];
        const long long o = (long long)seg[i] * d + a;
        atomicMin(lo + o, v);
        atomicMax(hi + o, v);
    }
}

// segment_sum: values is (n, d) float64, row i in segment seg[i]; out is (n_segments, d), zero-filled by the
// caller, and receives the per-segment sum of each column (component sums, resampling cells, counts per map):
// an array of known size, so the host never waits to learn one (CuPy's bincount waits twice).
extern "C" __global__ void segment_sum(
    const double* __restrict__ values,
    const int* __restrict__ seg,
    const long long n,
    const int d,
    double* __restrict__ out)
{
    for (long long t = blockIdx.x * (long long)blockDim.x + threadIdx.x; t < n * d;
         t += (long long)gridDim.x * blockDim.x) {
        const double v = values[t];
        if (v != 0.0) atomicAdd(out + (long long)seg[t / d] * d + (int)(t % d), v);
    }
}
