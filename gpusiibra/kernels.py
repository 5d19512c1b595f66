"""The hot loops: accumulation against every region, exact point lookup, Gaussian points.

Each function has a NumPy implementation and a CUDA one (``kernels/*.cu``,
loaded with ``cupy.RawModule``); the backend in force picks. Inputs and
outputs are arrays of that backend. The sums are those of SPEC section 2:
for component c and region r, ``spx = sum p x`` and ``inter = #{p > 0, x > 0}``
over the component's voxels, with ``p < lower_threshold`` taken as 0.
"""
from __future__ import annotations

import os
from functools import lru_cache

import numpy as np

from . import backend

__all__ = ["segment_min_max", "accumulate", "lookup_points", "accumulate_gaussian_points", "kernel_source_dir", "MAX_SHARED_REGIONS"]

#: regions that fit the shared-memory accumulators of one block (12 bytes each, 48 KiB)
MAX_SHARED_REGIONS = 4000
_CHUNK = 2048  # voxels per block in accumulate_chunks
_THREADS = 256
_DENSE_LIMIT = 1 << 23  # CPU: dense (component x region) accumulators up to this many cells


def kernel_source_dir() -> str:
    """Folder of the CUDA sources: ``kernels/`` of a checkout, or the copy shipped in the package."""
    here = os.path.dirname(os.path.abspath(__file__))
    for d in (os.path.join(os.path.dirname(here), "kernels"), os.path.join(here, "cuda")):
        if os.path.isfile(os.path.join(d, "accumulate.cu")):
            return d
    raise FileNotFoundError("the CUDA kernel sources (kernels/*.cu) are missing from this installation")


@lru_cache(maxsize=None)
def _module(name):
    import cupy

    with open(os.path.join(kernel_source_dir(), name + ".cu")) as f:
        src = f.read()
    return cupy.RawModule(code=src, options=("-std=c++14",))


def _launch(module, kernel, grid, block, args, shared_mem=0):
    """Launch a kernel; a launch error (CuPy checks cuLaunchKernel's status) names the kernel.

    With ``GPUSIIBRA_CUDA_SYNC=1`` every launch is followed by a synchronisation,
    so that an asynchronous fault is reported at the kernel that caused it.
    """
    import cupy

    fn = _module(module).get_function(kernel)
    try:
        fn((int(grid),), (int(block),), args, shared_mem=int(shared_mem))
        if os.environ.get("GPUSIIBRA_CUDA_SYNC") == "1":
            cupy.cuda.get_current_stream().synchronize()
    except cupy.cuda.driver.CUDADriverError as e:
        raise RuntimeError(f"CUDA kernel {module}.{kernel} failed (grid {grid}, block {block}): {e}") from e


def _csr_gather(row_ptr, rows):
    """Entry indices of the given CSR rows, and the count per row (NumPy)."""
    start = row_ptr[rows]
    cnt = row_ptr[rows + 1] - start
    total = int(cnt.sum())
    offs = np.cumsum(cnt) - cnt
    entry = np.repeat(start - offs, cnt) + np.arange(total)
    return entry, cnt


def _pairs_from_dense(spx, inter, n_regions):
    xp = backend.xp()
    flat = xp.flatnonzero(inter.ravel())
    return (flat // n_regions).astype(xp.int64), (flat % n_regions).astype(xp.int64), spx.ravel()[flat], inter.ravel()[flat]


def segment_min_max(values, starts, n_segments):
    """Per-segment minimum and maximum of the rows of ``values`` (n, d), segments given by their starts.

    Segments are contiguous, non-empty and in order; returns two (n_segments, d) arrays.
    """
    if backend.get_backend() != "gpu":
        return np.minimum.reduceat(values, starts, axis=0), np.maximum.reduceat(values, starts, axis=0)
    import cupy

    values = cupy.ascontiguousarray(values, dtype=cupy.int64)
    n, d = values.shape
    seg = cupy.zeros(n, cupy.int32)
    if n_segments > 1:
        seg[starts[1:]] = 1
    seg = cupy.cumsum(seg, dtype=cupy.int32)
    lo = cupy.full((n_segments, d), np.iinfo(np.int64).max, cupy.int64)
    hi = cupy.full((n_segments, d), np.iinfo(np.int64).min, cupy.int64)
    if n:
        _launch("components", "segment_min_max", (n * d + _THREADS - 1) // _THREADS, _THREADS,
                (values, seg, np.int64(n), np.int32(d), lo, hi))
    return lo, hi


def accumulate(index, voxel_lin, comp, x, n_comp, lower_threshold=0.0):
    """Sum ``p x`` and count ``p > 0, x > 0`` per (component, region), over all regions at once.

    Parameters
    ----------
    index : SparseIndex
        The atlas.
    voxel_lin : array of int64
        Grid linear index of each component voxel.
    comp : array of int
        Component (0..n_comp-1) of each voxel, ascending (voxels grouped by component).
    x : array of float64
        Query value of each voxel.
    n_comp : int
        Number of components.
    lower_threshold : float
        Atlas values below it count as 0.

    Returns
    -------
    pair_comp, pair_region, spx, inter : arrays
        The pairs with ``inter > 0``, ordered by (component, region).
    """
    R = index.num_volumes
    if backend.get_backend() == "gpu":
        return _accumulate_gpu(index, voxel_lin, comp, x, int(n_comp), float(lower_threshold))
    a = index.device_arrays()
    rows = a["voxels"].ravel()[voxel_lin]
    m = rows >= 0
    rows, comp, x = rows[m], comp[m], x[m]
    entry, cnt = _csr_gather(a["row_ptr"], rows)
    reg = a["entry_region"][entry].astype(np.int64)
    p = a["entry_value"][entry].astype(np.float64)
    if lower_threshold > 0:
        p[p < lower_threshold] = 0.0
    xr = np.repeat(x, cnt)
    key = np.repeat(np.asarray(comp, np.int64), cnt) * R + reg
    hit = ((p > 0) & (xr > 0)).astype(np.float64)
    if n_comp * R <= _DENSE_LIMIT:
        inter = np.bincount(key, hit, minlength=n_comp * R)
        nz = np.flatnonzero(inter)
        spx = np.bincount(key, p * xr, minlength=n_comp * R)[nz]
        keys, inter = nz, inter[nz]
    else:
        keys, inv = np.unique(key, return_inverse=True)
        inter = np.bincount(inv, hit)
        spx = np.bincount(inv, p * xr)
        nz = np.flatnonzero(inter)
        keys, inter, spx = keys[nz], inter[nz], spx[nz]
    return keys // R, keys % R, spx, inter.astype(np.int64)


def _accumulate_gpu(index, voxel_lin, comp, x, n_comp, lower_threshold):
    import cupy

    R = index.num_volumes
    a = index.device_arrays()
    voxel_lin = cupy.ascontiguousarray(voxel_lin, dtype=cupy.int64)
    x = cupy.ascontiguousarray(x, dtype=cupy.float64)
    comp = cupy.ascontiguousarray(comp, dtype=cupy.int32)
    spx = cupy.zeros((n_comp, R), cupy.float64)
    inter = cupy.zeros((n_comp, R), cupy.uint32)
    n = int(voxel_lin.size)
    if n and n_comp:
        common = (a["voxels"], a["row_ptr"], a["entry_region"], a["entry_value"],
                  np.float64(lower_threshold), np.int32(R), spx, inter)
        if R <= MAX_SHARED_REGIONS:
            # chunks of at most _CHUNK voxels, each inside one component
            counts = cupy.bincount(comp, minlength=n_comp)
            comp_start = cupy.cumsum(counts) - counts
            nch = (counts + _CHUNK - 1) // _CHUNK
            ch_end = cupy.cumsum(nch)
            total = int(ch_end[-1])
            ch = cupy.arange(total, dtype=cupy.int64)
            ch_comp = cupy.searchsorted(ch_end, ch, side="right").astype(cupy.int32)
            first = ch_end[ch_comp] - nch[ch_comp]
            start = comp_start[ch_comp] + (ch - first) * _CHUNK
            stop = cupy.minimum(start + _CHUNK, comp_start[ch_comp] + counts[ch_comp])
            _launch("accumulate", "accumulate_chunks", total, _THREADS,
                    (voxel_lin, x, start, stop, ch_comp) + common, shared_mem=R * 16)
        else:
            grid = min((n + _THREADS - 1) // _THREADS, 65535)
            _launch("accumulate", "accumulate_global", grid, _THREADS,
                    (voxel_lin, x, comp, np.int64(n)) + common)
    return _pairs_from_dense(spx, inter, R)


def lookup_points(index, lin, lower_threshold=0.0):
    """Exact point lookup: every region stored at each point's voxel with value > lower_threshold.

    Parameters
    ----------
    index : SparseIndex
    lin : array of int64
        Grid linear index of each point's voxel; -1 for points outside the grid.
    lower_threshold : float
        Only values strictly above it are reported.

    Returns
    -------
    point, region, value : arrays
        One entry per (point, region), ordered by point then region.
    """
    xp = backend.xp()
    a = index.device_arrays()
    lin = xp.asarray(lin, dtype=xp.int64)
    inside = lin >= 0
    rows = xp.where(inside, a["voxels"].ravel()[xp.where(inside, lin, 0)], -1)
    if backend.get_backend() == "gpu":
        import cupy

        safe = cupy.where(rows >= 0, rows, 0)
        cnt = cupy.where(rows >= 0, a["row_ptr"][safe + 1] - a["row_ptr"][safe], 0)
        offs = cupy.cumsum(cnt) - cnt
        total = int(cnt.sum())
        out_p = cupy.empty(total, cupy.int32)
        out_r = cupy.empty(total, cupy.int32)
        out_v = cupy.empty(total, cupy.float32)
        n = int(lin.size)
        if total:
            _launch("points", "lookup_points", (n + _THREADS - 1) // _THREADS, _THREADS,
                    (lin, offs, np.int32(n), a["voxels"], a["row_ptr"], a["entry_region"], a["entry_value"],
                     np.float64(lower_threshold), out_p, out_r, out_v))
        keep = out_r >= 0
        return out_p[keep].astype(cupy.int64), out_r[keep].astype(cupy.int64), out_v[keep]
    pts = np.flatnonzero(rows >= 0)
    entry, cnt = _csr_gather(a["row_ptr"], rows[pts])
    point = np.repeat(pts, cnt)
    region = a["entry_region"][entry].astype(np.int64)
    value = a["entry_value"][entry]
    keep = value > lower_threshold
    return point[keep], region[keep], value[keep]


def accumulate_gaussian_points(index, corner, cube_of_point, cubes, lower_threshold=0.0):
    """:func:`accumulate` for Gaussian kernel cubes placed on the grid, one component per point.

    Parameters
    ----------
    index : SparseIndex
    corner : ndarray (n, 3) of int
        Grid voxel of each cube's first corner (the cube is cut at the grid's edges).
    cube_of_point : ndarray (n,) of int
        Which cube of ``cubes`` each point carries.
    cubes : list of ndarray
        Cubic float64 kernels.
    lower_threshold : float

    Returns
    -------
    pair_comp, pair_region, spx, inter : arrays
        As :func:`accumulate`, with the point as the component.
    """
    n = len(corner)
    corner = np.asarray(corner, np.int64)
    cube_of_point = np.asarray(cube_of_point, np.int64)
    shape = np.array(index.shape)
    if backend.get_backend() == "gpu" and index.num_volumes <= MAX_SHARED_REGIONS:
        import cupy

        R = index.num_volumes
        a = index.device_arrays()
        flat = np.concatenate([c.ravel() for c in cubes]).astype(np.float64)
        offs = np.r_[0, np.cumsum([c.size for c in cubes])[:-1]].astype(np.int64)
        sides = np.array([c.shape[0] for c in cubes], np.int32)
        k_off = offs[cube_of_point]
        k_side = sides[cube_of_point]
        slabs = max(1, int(np.ceil(int(k_side.max()) ** 3 / (_THREADS * 16)))) if n else 1
        spx = cupy.zeros((n, R), cupy.float64)
        inter = cupy.zeros((n, R), cupy.uint32)
        if n:
            _launch("points", "accumulate_gaussian_points", n * slabs, _THREADS,
                    (cupy.asarray(corner.ravel()), cupy.asarray(k_off), cupy.asarray(k_side),
                     cupy.asarray(flat), np.int32(slabs), np.int32(shape[0]), np.int32(shape[1]),
                     np.int32(shape[2]), a["voxels"], a["row_ptr"], a["entry_region"], a["entry_value"],
                     np.float64(lower_threshold), np.int32(R), spx, inter),
                    shared_mem=R * 16)
        return _pairs_from_dense(spx, inter, R)
    # explicit voxel lists, then the generic accumulation
    xp = backend.xp()
    lins, comps, xs = [], [], []
    for i in range(n):
        cube = cubes[cube_of_point[i]]
        lo = np.maximum(corner[i], 0)
        hi = np.minimum(corner[i] + cube.shape[0], shape)
        if np.any(hi <= lo):
            continue
        part = cube[tuple(slice(l - c, h - c) for l, h, c in zip(lo, hi, corner[i]))]
        grid = np.ix_(*[np.arange(l, h) for l, h in zip(lo, hi)])
        lins.append(np.ravel_multi_index(grid, index.shape).ravel())
        xs.append(part.ravel())
        comps.append(np.full(part.size, i, np.int64))
    if not lins:
        e = xp.zeros(0, xp.int64)
        return e, e, xp.zeros(0, xp.float64), e
    return accumulate(index, xp.asarray(np.concatenate(lins)), xp.asarray(np.concatenate(comps)),
                      xp.asarray(np.concatenate(xs)), n, lower_threshold)
