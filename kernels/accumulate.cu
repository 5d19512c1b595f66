// Accumulation of the sums behind siibra's assignment statistics, against every region at once.
//
// For each voxel v of a component c with value x (the query image), and each
// region r stored at v with value p (thresholded: p < lower_threshold -> 0):
//     spx[c, r]   += p * x
//     inter[c, r] += (p > 0 && x > 0)
// The atlas is the voxel-major CSR: voxels (grid -> row, -1 = none), row_ptr,
// entry_region, entry_value. Output arrays are dense [n_components, n_regions],
// zeroed by the caller.
//
// accumulate_chunks: one block per chunk of voxels that all belong to one
// component; the block sums into shared memory and flushes each touched region
// once (few global atomics however large the component). n_regions must fit
// shared memory (see max_shared_regions() in gpusiibra/_kernels.py).
// accumulate_global: one thread per voxel with global atomics, any n_regions.

#ifndef GPUSIIBRA_SHARED
#define GPUSIIBRA_SHARED(type, name) extern __shared__ type name[]
#endif

extern "C" __global__ void accumulate_chunks(
    const long long* __restrict__ voxel_lin,   // grid linear index per component voxel
    const double* __restrict__ x,              // query value per component voxel
    const long long* __restrict__ chunk_start, // first voxel of each chunk
    const long long* __restrict__ chunk_stop,  // one past the last voxel
    const int* __restrict__ chunk_comp,        // component of each chunk
    const int* __restrict__ voxels,            // grid -> row (-1 = none)
    const long long* __restrict__ row_ptr,
    const int* __restrict__ entry_region,
    const float* __restrict__ entry_value,
    const double lower_threshold,
    const int n_regions,
    double* __restrict__ spx,                  // [n_components, n_regions]
    unsigned int* __restrict__ inter)          // [n_components, n_regions]
{
    GPUSIIBRA_SHARED(unsigned char, smem);
    double* s_spx = reinterpret_cast<double*>(smem);
    unsigned int* s_inter = reinterpret_cast<unsigned int*>(s_spx + n_regions);
    unsigned int* s_touched = s_inter + n_regions;

    for (int r = threadIdx.x; r < n_regions; r += blockDim.x) {
        s_spx[r] = 0.0;
        s_inter[r] = 0u;
        s_touched[r] = 0u;
    }
    __syncthreads();

    const long long start = chunk_start[blockIdx.x];
    const long long stop = chunk_stop[blockIdx.x];
    const long long comp = chunk_comp[blockIdx.x];
    for (long long i = start + threadIdx.x; i < stop; i += blockDim.x) {
        const int row = voxels[voxel_lin[i]];
        if (row < 0) continue;
        const double xv = x[i];
        const long long e1 = row_ptr[row + 1];
        for (long long e = row_ptr[row]; e < e1; ++e) {
            float p = entry_value[e];
            if ((double)p < lower_threshold) p = 0.0f;
            const int r = entry_region[e];
            s_touched[r] = 1u;
            if (p != 0.0f && xv != 0.0) atomicAdd(&s_spx[r], (double)p * xv);
            if (p > 0.0f && xv > 0.0) atomicAdd(&s_inter[r], 1u);
        }
    }
    __syncthreads();

    for (int r = threadIdx.x; r < n_regions; r += blockDim.x) {
        if (s_touched[r]) {
            const long long o = comp * n_regions + r;
            if (s_spx[r] != 0.0) atomicAdd(&spx[o], s_spx[r]);
            if (s_inter[r]) atomicAdd(&inter[o], s_inter[r]);
        }
    }
}

extern "C" __global__ void accumulate_global(
    const long long* __restrict__ voxel_lin,
    const double* __restrict__ x,
    const int* __restrict__ comp_of_voxel,
    const long long n_voxels,
    const int* __restrict__ voxels,
    const long long* __restrict__ row_ptr,
    const int* __restrict__ entry_region,
    const float* __restrict__ entry_value,
    const double lower_threshold,
    const int n_regions,
    double* __restrict__ spx,
    unsigned int* __restrict__ inter)
{
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n_voxels;
         i += (long long)gridDim.x * blockDim.x) {
        const int row = voxels[voxel_lin[i]];
        if (row < 0) continue;
        const double xv = x[i];
        const long long base = (long long)comp_of_voxel[i] * n_regions;
        const long long e1 = row_ptr[row + 1];
        for (long long e = row_ptr[row]; e < e1; ++e) {
            float p = entry_value[e];
            if ((double)p < lower_threshold) p = 0.0f;
            const long long o = base + entry_region[e];
            if (p != 0.0f && xv != 0.0) atomicAdd(&spx[o], (double)p * xv);
            if (p > 0.0f && xv > 0.0) atomicAdd(&inter[o], 1u);
        }
    }
}
