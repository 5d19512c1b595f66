"""The hot loops: accumulation against every region, union-find labelling, segment sums and min/max (the
points' loops are in :mod:`gpusiibra._point_kernels`).

Each function has a NumPy/SciPy implementation (the CPU backend) and a path
through the CUDA kernels of ``kernels/*.cu`` (the GPU backend, loaded with
``cupy.RawModule``). The kernel paths are written on the array module, so the
same Python code drives the device with CuPy arrays and, in the tests, the
host emulation of the same CUDA sources with NumPy arrays (``_EMULATOR``,
``tests/cuda_emulator.py``). Inputs and outputs are arrays of the backend in
force.

The sums are those behind siibra's statistics: for component c and region r,
``spx = sum p x`` and ``inter = #{p > 0, x > 0}`` over the component's voxels,
with atlas values ``p < lower_threshold`` taken as 0.
"""
from __future__ import annotations

import os
from functools import lru_cache

import numpy as np

from . import backend
from .errors import BackendError

__all__ = ["segment_min_max", "union_find", "accumulate", "kernel_source_dir", "max_shared_regions", "uses_cuda_kernels"]

#: accumulators per region in shared memory: spx (8 bytes), inter and touched (4 each)
_SHARED_BYTES_PER_REGION = 16
#: shared memory a launch gets without opting in; beyond it the kernel's attribute is raised
_DEFAULT_SHARED = 48 * 1024
_CHUNK = 2048  # voxels per block in accumulate_chunks
_THREADS = 256
_MAX_GRID = 65535 * 16  # grid-stride kernels: enough blocks to fill any current device
_MAX_BLOCKS = 2 ** 31 - 1  # CUDA's limit of a grid's x dimension (kernels with one block per item)
_DENSE_LIMIT = 1 << 23  # the bincount route (the CPU's; the GPU's when its kernels' sums do not fit): dense
# (component x region) sums up to this many cells, else sums over the touched pairs only
_GAUSSIAN_VOXELS = 1 << 23  # CPU: Gaussian-cube voxels accumulated per call
#: CPU: graphs of more nodes (components' runs) are labelled by SciPy's csgraph, smaller ones without importing it
_CSGRAPH_NODES = 1 << 18

#: a host emulation of the kernels (tests only; see tests/cuda_emulator.py), or None
_EMULATOR = None


def uses_cuda_kernels() -> bool:
    """Whether the CUDA kernels run: on the GPU backend, or through the tests' host emulator."""
    return _EMULATOR is not None or backend.get_backend() == "gpu"


def kernel_source_dir() -> str:
    """Folder of the CUDA sources: ``kernels/`` of a checkout, or the copy shipped in the package."""
    here = os.path.dirname(os.path.abspath(__file__))
    for d in (os.path.join(os.path.dirname(here), "kernels"), os.path.join(here, "cuda")):
        if os.path.isfile(os.path.join(d, "accumulate.cu")):
            return d
    raise BackendError("the CUDA kernel sources (kernels/*.cu) are missing from this installation")


@lru_cache(maxsize=None)
def _cupy_module(name, device):
    """The compiled module ``name`` for CUDA device ``device`` (a module belongs to one device's context, as
    cupyx memoizes its kernels per device)."""
    import cupy

    with open(os.path.join(kernel_source_dir(), name + ".cu")) as f:
        src = f.read()
    # no fused multiply-add: products and sums are rounded one by one, as NumPy rounds them
    return cupy.RawModule(code=src, options=("-std=c++14", "--fmad=false"))


def _module(name):
    return _EMULATOR.module(name) if _EMULATOR is not None else _cupy_module(name, backend.device_id())


@lru_cache(maxsize=None)
def _device_shared_limit(device) -> int:
    import cupy

    attrs = cupy.cuda.Device(device).attributes
    return int(attrs.get("MaxSharedMemoryPerBlockOptin", attrs.get("MaxSharedMemoryPerBlock", _DEFAULT_SHARED)))


#: the kernels of each module (compiled at first use, or ahead of the first chunk by :func:`warm`)
KERNELS = {"accumulate": ("accumulate_chunks", "accumulate_global"), "components": ("segment_min_max", "segment_sum"),
           "labels": ("uf_union", "uf_flatten"), "points": ("lookup_points", "accumulate_gaussian_points")}


def warm():
    """Compile (or load from CuPy's on-disk cache) every kernel for the device in use, so that a first chunk
    costs what a later one does; nothing to do on the CPU."""
    if _EMULATOR is None and backend.get_backend() == "gpu":
        for name, kernels in KERNELS.items():
            for k in kernels:
                _module(name).get_function(k)


def max_shared_regions() -> int:
    """Regions whose accumulators fit one block's shared memory on this device, with the kernel's
    opt-in attribute raised (H100: 227 KiB, 14,528 regions). Larger atlases use global atomics."""
    limit = _EMULATOR.shared_limit if _EMULATOR is not None else _device_shared_limit(backend.device_id())
    return limit // _SHARED_BYTES_PER_REGION


def _launch(module, kernel, grid, block, args, shared_mem=0):
    """Launch a kernel; a launch error (CuPy checks cuLaunchKernel's status) names the kernel.

    With ``GPUSIIBRA_CUDA_SYNC=1`` every launch is followed by a synchronisation,
    so that an asynchronous fault is reported at the kernel that caused it.
    """
    if int(grid) <= 0:
        return  # nothing to do
    if int(grid) > _MAX_BLOCKS:  # the kernels that take one block per item cannot loop: refuse
        raise BackendError(f"CUDA kernel {module}.{kernel} would need {int(grid):,} blocks (CUDA allows "
                           f"{_MAX_BLOCKS:,}): assign fewer maps or points at once (a smaller --chunk-size)")
    fn = _module(module).get_function(kernel)
    if shared_mem > _DEFAULT_SHARED and fn.max_dynamic_shared_size_bytes < shared_mem:
        fn.max_dynamic_shared_size_bytes = int(shared_mem)  # opt in beyond 48 KiB (Volta and later)
    if _EMULATOR is not None:
        fn((int(grid),), (int(block),), args, shared_mem=int(shared_mem))
        return
    import cupy

    try:
        fn((int(grid),), (int(block),), args, shared_mem=int(shared_mem))
        if os.environ.get("GPUSIIBRA_CUDA_SYNC") == "1":
            cupy.cuda.get_current_stream().synchronize()
    except cupy.cuda.driver.CUDADriverError as e:
        raise BackendError(f"CUDA kernel {module}.{kernel} failed (grid {grid}, block {block}): {e}") from e


def _grid(n) -> int:
    return max(1, min((int(n) + _THREADS - 1) // _THREADS, _MAX_GRID))


def _csr_gather(xp, row_ptr, rows):
    """Entry indices of the given CSR rows, and the count per row."""
    start = row_ptr[rows]
    cnt = row_ptr[rows + 1] - start
    return expand_ranges(xp, start, cnt)[0], cnt


def expand_ranges(xp, start, count):
    """The integers ``start[i], ..., start[i] + count[i] - 1`` of each range in turn, and each one's range ``i``
    (``repeat_index``); made in place: two arrays of the output's size at a time."""
    owner = repeat_index(xp, count)
    out = (start - (xp.cumsum(count) - count))[owner]  # the range's start less its place in the output
    out += xp.arange(owner.size, dtype=xp.int64)
    return out, owner


def repeat_index(xp, counts):
    """``repeat(arange(len(counts)), counts)``, written with cumsum and searchsorted (CuPy's
    ``repeat`` takes no array of counts)."""
    if xp is np:
        return np.repeat(np.arange(len(counts), dtype=np.int64), counts)
    counts = xp.asarray(counts, dtype=xp.int64)
    ends = xp.cumsum(counts)
    total = int(ends[-1]) if counts.size else 0
    return xp.searchsorted(ends, xp.arange(total, dtype=xp.int64), side="right")


def _pairs_from_dense(spx, inter, n_regions):
    xp = backend.xp()
    flat = xp.flatnonzero(inter.ravel())
    return (flat // n_regions).astype(xp.int64), (flat % n_regions).astype(xp.int64), spx.ravel()[flat], \
        inter.ravel()[flat].astype(xp.int64)


# --------------------------------------------------------------------- components
def segment_min_max(values, seg, n_segments, mins=None, maxs=None):
    """Per-segment minimum and maximum of the rows of ``values`` (n, d); row i belongs to segment ``seg[i]``.

    Every segment must hold at least one row. Returns two (n_segments, d) int64 arrays. ``mins``, ``maxs``: the
    columns whose minimum (maximum) is needed (default: all); the CPU computes only those (the others keep the
    fill values), the kernel every column.
    """
    xp = backend.xp()
    values = xp.ascontiguousarray(values, dtype=xp.int64)
    n, d = values.shape
    lo = xp.full((n_segments, d), np.iinfo(np.int64).max, xp.int64)
    hi = xp.full((n_segments, d), np.iinfo(np.int64).min, xp.int64)
    if not n:
        return lo, hi
    if uses_cuda_kernels():
        _launch("components", "segment_min_max", _grid(n * d), _THREADS,
                (values, xp.ascontiguousarray(seg, dtype=xp.int32), np.int64(n), np.int32(d), lo, hi))
    else:  # column by column: NumPy's ufunc.at on 1-D contiguous arrays is 3x faster than on rows of a 2-D one
        seg = np.asarray(seg)
        mins = range(d) if mins is None else mins
        maxs = range(d) if maxs is None else maxs
        for j in range(d):
            col = np.ascontiguousarray(values[:, j])
            for out, which, ufunc in ((lo, mins, np.minimum), (hi, maxs, np.maximum)):
                if j in which:
                    acc = out[:, j].copy()
                    ufunc.at(acc, seg, col)
                    out[:, j] = acc
    return lo, hi


def segment_sums(columns, seg, n_segments):
    """Per-segment sums of ``columns`` (1-D arrays of n values each); value i belongs to segment ``seg[i]``
    (< n_segments).

    Returns an (n_segments, len(columns)) float64 array. On the device one kernel adds into an array of known
    size (CuPy's ``bincount`` waits for the device twice: to check the values and to size its output); on the
    CPU a ``bincount`` per column.
    """
    xp = backend.xp()
    if uses_cuda_kernels():
        values = xp.ascontiguousarray(xp.stack([xp.asarray(c, dtype=xp.float64) for c in columns], axis=1))
        n, d = values.shape
        out = xp.zeros((n_segments, d), xp.float64)
        if n:
            _launch("components", "segment_sum", _grid(n * d), _THREADS,
                    (values, xp.ascontiguousarray(seg, dtype=xp.int32), np.int64(n), np.int32(d), out))
        return out
    seg = np.asarray(seg)
    return np.stack([np.bincount(seg, weights=np.asarray(c, dtype=np.float64), minlength=n_segments)[:n_segments]
                     for c in columns], axis=1)


def union_find(n_nodes, a, b):
    """Connected components of a graph: for each node, the smallest node of its component.

    Parameters
    ----------
    n_nodes : int
    a, b : arrays of int
        The edges (a[e], b[e]), in any order, repeats allowed.

    Returns
    -------
    array of int64
        ``root[i]``: the smallest node connected to ``i`` (so roots in node
        order number the components in that order).
    """
    xp = backend.xp()
    if uses_cuda_kernels():
        parent = xp.arange(n_nodes, dtype=xp.int32)
        a = xp.ascontiguousarray(a, dtype=xp.int32)
        b = xp.ascontiguousarray(b, dtype=xp.int32)
        if a.size:
            _launch("labels", "uf_union", _grid(a.size), _THREADS, (a, b, np.int64(a.size), parent))
        if n_nodes:
            _launch("labels", "uf_flatten", _grid(n_nodes), _THREADS, (parent, np.int64(n_nodes)))
        return parent.astype(xp.int64)
    a, b = np.asarray(a, np.int64), np.asarray(b, np.int64)
    if n_nodes > _CSGRAPH_NODES:  # a chunk's graph: SciPy's connected components, faster once imported
        import scipy.sparse
        from scipy.sparse.csgraph import connected_components

        g = scipy.sparse.coo_matrix((np.ones(len(a), np.int8), (a, b)), shape=(n_nodes, n_nodes))
        k, lab = connected_components(g, directed=True, connection="weak")
        first = np.full(k, n_nodes, np.int64)
        np.minimum.at(first, lab, np.arange(n_nodes, dtype=np.int64))
        return first[lab]
    # a smaller graph (one map): hook and compress in array operations, without importing scipy.sparse and
    # csgraph (0.2 s of a process's start). Every root that an edge joins to a smaller root is hooked under one
    # of them, then pointers jump until every node points at its root. Parents only decrease (no cycles) and
    # each round hooks every root that still meets a smaller one; a component's last root is its smallest node.
    parent = np.arange(n_nodes, dtype=np.int64)
    parent[np.maximum(a, b)] = np.minimum(a, b)  # the first round: every node is a root
    while True:
        while True:
            up = parent[parent]
            if np.array_equal(up, parent):
                break
            parent = up
        ra, rb = parent[a], parent[b]
        cross = ra != rb
        if not cross.any():
            return parent
        a, b, ra, rb = a[cross], b[cross], ra[cross], rb[cross]  # edges inside one tree never matter again
        parent[np.maximum(ra, rb)] = np.minimum(ra, rb)  # one write wins per root: any smaller root will do


# --------------------------------------------------------------------- accumulation
def accumulate(index, voxel_lin, comp, x, n_comp, lower_threshold=0.0, skip_negative=False):
    """Sum ``p x`` and count ``p > 0, x > 0`` per (component, region), over all regions at once.

    Parameters
    ----------
    index : SparseIndex
        The atlas.
    voxel_lin : array of int64
        Grid linear index of each component voxel.
    comp : array of int
        Component (0..n_comp-1) of each voxel, in any order.
    x : array of float64
        Query value of each voxel.
    n_comp : int
        Number of components.
    lower_threshold : float
        Atlas values below it count as 0.
    skip_negative : bool
        Leave out the voxels of component -1 (components dropped by the caller), which ``comp`` may then hold.

    Returns
    -------
    pair_comp, pair_region, spx, inter : arrays
        The pairs with ``inter > 0``, ordered by (component, region).
    """
    R = index.num_volumes
    if uses_cuda_kernels() and dense_pairs_fit(int(n_comp), R):
        if skip_negative:
            xp = backend.xp()
            sel = xp.flatnonzero(xp.asarray(comp) >= 0)
            voxel_lin, comp, x = (xp.asarray(v)[sel] for v in (voxel_lin, comp, x))
        return _accumulate_kernels(index, voxel_lin, comp, x, int(n_comp), float(lower_threshold))
    # the sparse route (the CPU's, and the GPU's when the (components x regions) arrays would not fit): one entry
    # per (voxel, region), gathered unit by unit (SparseIndex.unit_arrays: a fixed number of slots each, in the
    # CSR's order), summed per (component, region) key in voxel order; slots past a row's entries hold region R
    # (no region: a column of the sums that is dropped)
    xp = backend.xp() if uses_cuda_kernels() else np
    # the units are made once per atlas (0.05 s, 50 MB for the embedded one): a small chunk on the CPU (one map
    # through the command line) gathers the CSR entries themselves, the same (key, value) pairs in the same order
    u = index.unit_arrays(build=xp is not np or np.size(voxel_lin) >= _UNITS_FROM)
    voxel_lin, comp, x = (xp.asarray(v) for v in (voxel_lin, comp, x))
    R1 = R + 1
    if u is None:  # (the CPU only)
        a = index.device_arrays()
        rows = a["voxels"].ravel()[voxel_lin]
        kept = np.flatnonzero((rows >= 0) & (comp >= 0) if skip_negative else rows >= 0)
        entry, cnt = _csr_gather(np, a["row_ptr"], rows[kept])
        key = np.repeat(comp[kept].astype(np.int64) * R1, cnt) + a["entry_region"][entry]
        xr = np.repeat(x[kept], cnt)
        p = a["entry_value"][entry]
        min_value = float(p.min()) if p.size else 1.0
    else:
        n_units = u["voxel_units"][voxel_lin].astype(xp.int64)  # 0 outside the atlas
        if skip_negative:
            n_units = xp.where(comp >= 0, n_units, 0)  # no unit: the voxel is left out
        # each unit, and its voxel (one index, then gathers: 3 NumPy repeats cost more)
        unit, owner = expand_ranges(xp, u["voxel_unit"][voxel_lin], n_units)
        # xp.take along axis 0 (NumPy's fancy indexing of rows of a 2-D array is several times slower)
        key = (xp.take(comp.astype(xp.int64) * R1, owner)[:, None] + xp.take(u["unit_region"], unit, axis=0)).ravel()
        xr = xp.take(x, owner)
        p = xp.take(u["unit_value"], unit, axis=0)
        min_value = u["min_value"]
    if lower_threshold > 0:  # compared in float64, as the values are used
        p = p.astype(xp.float64)
        p[p < lower_threshold] = 0.0
    # on the CPU, where every entry is a hit (the usual case: atlas values above the threshold, x > 0), the counts
    # are a plain bincount (the same integers, without the hit column and its weighted pass)
    every = xp is np and min_value > 0 and min_value >= lower_threshold and bool((xr > 0).all())
    col = (lambda v: v) if p.ndim == 1 else (lambda v: v[:, None])  # x against an entry, or a unit's slots
    hit = None if every else ((p > 0) & (col(xr) > 0)).astype(xp.float64).ravel()
    w = xp.multiply(p, col(xr), dtype=xp.float64).ravel()  # p exactly in float64, times x
    if n_comp * R <= _DENSE_LIMIT:
        inter = xp.bincount(key, hit, minlength=n_comp * R1)
        inter.reshape(n_comp, R1)[:, R] = 0  # the no-region column
        nz = xp.flatnonzero(inter)
        spx = xp.bincount(key, w, minlength=n_comp * R1)[nz]
        keys, inter = nz, inter[nz]
    else:
        keys, inv = xp.unique(key, return_inverse=True)
        inv = inv.ravel()
        inter = xp.bincount(inv, hit)
        spx = xp.bincount(inv, w)
        nz = xp.flatnonzero((inter > 0) & (keys % R1 != R))
        keys, inter, spx = keys[nz], inter[nz], spx[nz]
    return keys // R1, keys % R1, spx, inter.astype(xp.int64)


#: the support voxels of a chunk from which the CPU makes the atlas's units (below: the CSR entries themselves)
_UNITS_FROM = 200_000

#: the most the GPU's dense (components x regions) sums may take, as a share of the device's free memory
DENSE_PAIRS_SHARE = 0.25


def dense_pairs_fit(n_comp: int, n_regions: int) -> bool:
    """Whether the kernels' dense (components x regions) sums (12 bytes a pair) fit in a quarter of the
    device's free memory; else the sparse route is taken (it needs memory for the touched pairs only)."""
    need = 12 * int(n_comp) * int(n_regions)
    if _EMULATOR is not None:
        return need <= _EMULATED_FREE_BYTES
    import cupy

    free, _ = cupy.cuda.runtime.memGetInfo()
    return need <= DENSE_PAIRS_SHARE * free


_EMULATED_FREE_BYTES = 1 << 34  # the host emulation's stand-in for the device's free memory (tests lower it)


def _accumulate_kernels(index, voxel_lin, comp, x, n_comp, lower_threshold):
    xp = backend.xp()
    R = index.num_volumes
    a = index.device_arrays()
    comp = xp.asarray(comp, dtype=xp.int32)
    order = xp.argsort(comp, kind="stable")  # voxels grouped by component, for the chunked kernel
    comp = xp.ascontiguousarray(comp[order])
    voxel_lin = xp.ascontiguousarray(xp.asarray(voxel_lin, dtype=xp.int64)[order])
    x = xp.ascontiguousarray(xp.asarray(x, dtype=xp.float64)[order])
    spx = xp.zeros((n_comp, R), xp.float64)
    inter = xp.zeros((n_comp, R), xp.uint32)
    n = int(voxel_lin.size)
    if n and n_comp:
        common = (a["voxels"], a["row_ptr"], a["entry_region"], a["entry_value"],
                  np.float64(lower_threshold), np.int32(R), spx, inter)
        if R <= max_shared_regions():
            # chunks of at most _CHUNK voxels, each inside one component
            counts = segment_sums([xp.ones(n)], comp, n_comp)[:, 0].astype(xp.int64)
            comp_start = xp.cumsum(counts) - counts
            nch = (counts + _CHUNK - 1) // _CHUNK
            ends = xp.cumsum(nch)
            # as many blocks as there can be chunks (known on the host: no wait to count them); the rest are empty
            n_blocks = -(-n // _CHUNK) + n_comp
            ch = xp.arange(n_blocks, dtype=xp.int64)
            ch_comp = xp.searchsorted(ends, ch, side="right")
            real = ch_comp < n_comp
            ch_comp = xp.minimum(ch_comp, n_comp - 1)
            start = comp_start[ch_comp] + (ch - (ends - nch)[ch_comp]) * _CHUNK
            stop = xp.minimum(start + _CHUNK, comp_start[ch_comp] + counts[ch_comp])
            start = xp.ascontiguousarray(xp.where(real, start, 0), dtype=xp.int64)
            stop = xp.ascontiguousarray(xp.where(real, stop, 0), dtype=xp.int64)
            _launch("accumulate", "accumulate_chunks", n_blocks, _THREADS,
                    (voxel_lin, x, start, stop, xp.ascontiguousarray(ch_comp, dtype=xp.int32)) + common,
                    shared_mem=R * _SHARED_BYTES_PER_REGION)
        else:
            _launch("accumulate", "accumulate_global", _grid(n), _THREADS,
                    (voxel_lin, x, comp, np.int64(n)) + common)
    return _pairs_from_dense(spx, inter, R)
