// Point assignment kernels.
#ifndef GPUSIIBRA_SHARED
#define GPUSIIBRA_SHARED(type, name) extern __shared__ type name[]
#endif
//
// lookup_points: exact lookup. For point i at grid voxel lin[i] (-1 = outside
// the grid), write every stored (region, value) of that voxel with
// value > lower_threshold (strictly) at out_offset[i] onwards; out_offset is the
// exclusive scan of the per-point entry counts computed by the caller.
// Entries at or below the threshold are written with region -1 (dropped later).
//
// accumulate_gaussian_points: uncertain points. Point i carries siibra's Gaussian
// kernel cube in separable form: its value at cube voxel (a, b, c) is
// ((g[a] * g[b]) * g[c]) / total[i], g = profiles[prof_off[i] ...] (scipy's 1D
// weights), bit for bit the cube scipy's gaussian_filter makes. The cube's corner
// lies at grid voxel corner[i]; only its part on the grid, the box lo[i] ..
// hi[i] - 1, is visited (a kernel far wider than the brain costs the grid, not
// the cube). One block per (point, slab of that box): sums p * x and the count
// of p > 0 && x > 0 into shared memory, then flushes into spx / inter
// [n_points, n_regions] as accumulate_chunks does.

extern "C" __global__ void lookup_points(
    const long long* __restrict__ lin,
    const long long* __restrict__ out_offset,
    const int n_points,
    const int* __restrict__ voxels,
    const long long* __restrict__ row_ptr,
    const int* __restrict__ entry_region,
    const float* __restrict__ entry_value,
    const double lower_threshold,
    int* __restrict__ out_point,
    int* __restrict__ out_region,
    float* __restrict__ out_value)
{
    // grid-stride: any number of points, whatever number of blocks the caller launches
    for (long long ii = blockIdx.x * (long long)blockDim.x + threadIdx.x; ii < n_points;
         ii += (long long)gridDim.x * blockDim.x) {
        const int i = (int)ii;
        const long long v = lin[i];
        if (v < 0) continue;
        const int row = voxels[v];
        if (row < 0) continue;
        long long o = out_offset[i];
        for (long long e = row_ptr[row]; e < row_ptr[row + 1]; ++e, ++o) {
            const float p = entry_value[e];
            out_point[o] = i;
            out_region[o] = ((double)p > lower_threshold) ? entry_region[e] : -1;
            out_value[o] = p;
        }
    }
}

extern "C" __global__ void accumulate_gaussian_points(
    const long long* __restrict__ corner,   // [n_points, 3] grid voxel of the cube's corner
    const long long* __restrict__ lo,       // [n_points, 3] first grid voxel of the cube's part on the grid
    const long long* __restrict__ hi,       // [n_points, 3] last + 1
    const long long* __restrict__ prof_off, // [n_points] offset of the point's profile in profiles
    const double* __restrict__ total,       // [n_points] sum of the point's whole cube
    const double* __restrict__ profiles,    // concatenated 1D profiles
    const int slabs_per_point,
    const int gy, const int gz,             // grid shape (axes 1 and 2)
    const int* __restrict__ voxels,
    const long long* __restrict__ row_ptr,
    const int* __restrict__ entry_region,
    const float* __restrict__ entry_value,
    const double lower_threshold,
    const int n_regions,
    double* __restrict__ spx,
    unsigned int* __restrict__ inter)
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

    const long long pt = blockIdx.x / slabs_per_point;
    const int slab = blockIdx.x % slabs_per_point;
    const long long lx = lo[3 * pt], ly = lo[3 * pt + 1], lz = lo[3 * pt + 2];
    const long long by = hi[3 * pt + 1] - ly, bz = hi[3 * pt + 2] - lz;
    const long long n_box = (hi[3 * pt] - lx) * by * bz;
    const double* g = profiles + prof_off[pt];
    const long long cx = corner[3 * pt], cy = corner[3 * pt + 1], cz = corner[3 * pt + 2];
    const double tot = total[pt];
    for (long long j = (long long)slab * blockDim.x + threadIdx.x; j < n_box;
         j += (long long)slabs_per_point * blockDim.x) {
        const long long X = lx + j / (by * bz);
        const long long Y = ly + (j / bz) % by;
        const long long Z = lz + j % bz;
        const int row = voxels[(X * gy + Y) * gz + Z];
        if (row < 0) continue;
        const double xv = ((g[X - cx] * g[Y - cy]) * g[Z - cz]) / tot;
        for (long long e = row_ptr[row]; e < row_ptr[row + 1]; ++e) {
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
            const long long o = pt * n_regions + r;
            if (s_spx[r] != 0.0) atomicAdd(&spx[o], s_spx[r]);
            if (s_inter[r]) atomicAdd(&inter[o], s_inter[r]);
        }
    }
}
