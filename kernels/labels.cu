// Connected components by union-find over an edge list (the runs of an image's support
// and the pairs of runs that touch), for the GPU. Roots are the smallest node of each
// component: a link always hangs the larger root under the smaller one, so after
// uf_flatten parent[i] is the smallest node of i's component, and nodes numbered in
// raster order give components numbered in raster order, as scipy.ndimage.label does.
//
// uf_union: one thread per edge (a[e], b[e]); parent[] starts as 0, 1, 2, ...
//   Finds both roots (halving paths on the way: a node's parent only ever moves to an
//   ancestor, so racing halvings are harmless), then hangs the larger root under the
//   smaller with atomicCAS; when another thread changed that root first, it retries.
// uf_flatten: parent[i] = root of i, for every node.

__device__ __forceinline__ int uf_load(const int* p) { return *((const volatile int*)p); }
__device__ __forceinline__ void uf_store(int* p, int v) { *((volatile int*)p) = v; }

__device__ int uf_find(int* parent, int x)
{
    int p = uf_load(parent + x);
    while (p != x) {
        const int gp = uf_load(parent + p);
        if (gp != p) uf_store(parent + x, gp);  // path halving
        x = p;
        p = gp;
    }
    return x;
}

extern "C" __global__ void uf_union(
    const int* __restrict__ a,
    const int* __restrict__ b,
    const long long n_edges,
    int* parent)
{
    for (long long e = blockIdx.x * (long long)blockDim.x + threadIdx.x; e < n_edges;
         e += (long long)gridDim.x * blockDim.x) {
        int x = a[e], y = b[e];
        while (true) {
            x = uf_find(parent, x);
            y = uf_find(parent, y);
            if (x == y) break;
            if (x < y) { const int t = x; x = y; y = t; }  // x: the larger root, hung under y
            const int old = atomicCAS(parent + x, x, y);
            if (old == x) break;
            x = old;  // x was linked meanwhile: go on from where it now points
        }
    }
}

extern "C" __global__ void uf_flatten(int* parent, const long long n)
{
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n;
         i += (long long)gridDim.x * blockDim.x)
        parent[i] = uf_find(parent, (int)i);
}
