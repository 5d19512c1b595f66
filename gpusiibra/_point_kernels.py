"""Points against every region: exact lookups and siibra's Gaussian kernel cubes, on the GPU (kernels/points.cu)
or the CPU (SciPy's sparse products), with the helpers of :mod:`gpusiibra._kernels`."""
from __future__ import annotations

import os

import numpy as np

from . import backend
from ._kernels import (_GAUSSIAN_VOXELS, _SHARED_BYTES_PER_REGION, _THREADS, _csr_gather, _grid, _launch,
                       _pairs_from_dense, accumulate, max_shared_regions, raw_kernels)

__all__ = ["lookup_points", "accumulate_gaussian_points"]


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
    lin = xp.ascontiguousarray(xp.asarray(lin), dtype=xp.int64)
    inside = lin >= 0
    rows = xp.where(inside, a["voxels"].ravel()[xp.where(inside, lin, 0)], -1)
    if raw_kernels():
        safe = xp.where(rows >= 0, rows, 0)
        cnt = xp.where(rows >= 0, a["row_ptr"][safe + 1] - a["row_ptr"][safe], 0)
        offs = xp.ascontiguousarray(xp.cumsum(cnt) - cnt, dtype=xp.int64)
        total = int(cnt.sum())
        out_p = xp.empty(total, xp.int32)
        out_r = xp.empty(total, xp.int32)
        out_v = xp.empty(total, xp.float32)
        n = int(lin.size)
        if total:
            _launch("points", "lookup_points", _grid(n), _THREADS,
                    (lin, offs, np.int32(n), a["voxels"], a["row_ptr"], a["entry_region"], a["entry_value"],
                     np.float64(lower_threshold), out_p, out_r, out_v))
        keep = out_r >= 0
        return out_p[keep].astype(xp.int64), out_r[keep].astype(xp.int64), out_v[keep]
    pts = np.flatnonzero(rows >= 0)
    entry, cnt = _csr_gather(np, a["row_ptr"], rows[pts])
    point = np.repeat(pts, cnt)
    region = a["entry_region"][entry].astype(np.int64)
    value = a["entry_value"][entry]
    keep = value > lower_threshold
    return point[keep], region[keep], value[keep]


def accumulate_gaussian_points(index, corner, lo, hi, profile_of_point, profiles, lower_threshold=0.0):
    """:func:`accumulate` for siibra's Gaussian kernel cubes placed on the grid, one component per point.

    Parameters
    ----------
    index : SparseIndex
    corner : ndarray (n, 3) of int
        Grid voxel of each cube's first corner.
    lo, hi : ndarray (n, 3) of int
        The part of each cube on the grid: first voxel, and last + 1.
    profile_of_point : ndarray (n,) of int
        Which of ``profiles`` each point's cube is made of.
    profiles : list of (g, total)
        :func:`gpusiibra._assign.gaussian_profile`: the cube is ``((g[a] g[b]) g[c]) / total``.
    lower_threshold : float

    Returns
    -------
    pair_comp, pair_region, spx, inter : arrays
        As :func:`accumulate`, with the point as the component.
    """
    n = len(corner)
    corner, lo, hi = (np.asarray(a, np.int64).reshape(-1, 3) for a in (corner, lo, hi))
    profile_of_point = np.asarray(profile_of_point, np.int64)
    if raw_kernels() and index.num_volumes <= max_shared_regions():
        return _gaussian_points_kernel(index, corner, lo, hi, profile_of_point, profiles, lower_threshold)
    if not raw_kernels():
        return _gaussian_points_sparse(index, corner, lo, hi, profile_of_point, profiles, lower_threshold)
    # explicit voxel lists, then the generic accumulation, a bounded number of voxels at a time
    xp = backend.xp()
    parts = []
    batch, budget = [], 0
    for i in range(n + 1):
        size = int(np.prod(hi[i] - lo[i])) if i < n else 0
        if batch and (i == n or budget + size > _GAUSSIAN_VOXELS):
            lins, comps, xs = [], [], []
            for j in batch:
                g, total = profiles[profile_of_point[j]]
                f = [g[lo[j, a] - corner[j, a]:hi[j, a] - corner[j, a]] for a in range(3)]
                part = np.multiply.outer(np.multiply.outer(f[0], f[1]), f[2]) / total
                grid = np.ix_(*[np.arange(lo[j, a], hi[j, a]) for a in range(3)])
                lins.append(np.ravel_multi_index(grid, index.shape).ravel())
                xs.append(part.ravel())
                comps.append(np.full(part.size, j, np.int64))
            parts.append(accumulate(index, xp.asarray(np.concatenate(lins)), xp.asarray(np.concatenate(comps)),
                                    xp.asarray(np.concatenate(xs)), n, lower_threshold))
            batch, budget = [], 0
        if i < n:
            batch.append(i)
            budget += size
    if not parts:
        e = xp.zeros(0, xp.int64)
        return e, e, xp.zeros(0, xp.float64), e
    return tuple(xp.concatenate([p[k] for p in parts]) for k in range(4))


def _gaussian_points_sparse(index, corner, lo, hi, profile_of_point, profiles, lower_threshold):
    """The CPU's route: each point's cube, cut to the grid and to the atlas's mapped voxels, as a row of a
    sparse (points x voxel rows) matrix X; then X @ P (sums of p x) and (X > 0) @ (P > 0) (counts) in SciPy's
    sparse products (which run without the GIL: batches of points on two threads), a bounded number of cube
    voxels at a time. The same sums as the kernel's, in another order (a few ulps)."""
    n = len(corner)
    sizes = np.prod(hi - lo, axis=1) if n else np.zeros(0, np.int64)
    batches, start = [], 0
    budget_per_batch = max(1, min(_GAUSSIAN_VOXELS, int(sizes.sum()) // 2 + 1))  # two batches or more
    while start < n:
        stop, budget = start + 1, int(sizes[start])
        while stop < n and budget + int(sizes[stop]) <= budget_per_batch:
            budget += int(sizes[stop])
            stop += 1
        batches.append((start, stop))
        start = stop
    if not batches:
        e = np.zeros(0, np.int64)
        return e, e, np.zeros(0, np.float64), e
    index.csr_matrices(lower_threshold)  # made once, before the threads share it

    def one(batch):
        return _gaussian_batch(index, batch, corner, lo, hi, profile_of_point, profiles, lower_threshold)

    if len(batches) == 1 or (os.cpu_count() or 1) < 2:
        out = [one(b) for b in batches]
    else:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(2) as pool:
            out = list(pool.map(one, batches))
    return tuple(np.concatenate([o[k] for o in out]) for k in range(4))


def _gaussian_batch(index, batch, corner, lo, hi, profile_of_point, profiles, lower_threshold):
    import scipy.sparse as sps

    values, ones = index.csr_matrices(lower_threshold)
    voxels = index.voxels
    start, stop = batch
    cols, vals, counts = [], [], []
    for j in range(start, stop):
        g, total = profiles[profile_of_point[j]]
        f = [g[lo[j, a] - corner[j, a]:hi[j, a] - corner[j, a]] for a in range(3)]
        cube = np.multiply.outer(np.multiply.outer(f[0], f[1]), f[2]) / total  # bit for bit siibra's cube
        rows = voxels[lo[j, 0]:hi[j, 0], lo[j, 1]:hi[j, 1], lo[j, 2]:hi[j, 2]]
        mapped = rows >= 0
        cols.append(rows[mapped])
        vals.append(cube[mapped])
        counts.append(cols[-1].size)
    indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    col = np.concatenate(cols).astype(np.int32, copy=False)
    x = np.concatenate(vals)
    shape = (stop - start, index.n_rows)
    S = sps.csr_matrix((x, col, indptr), shape=shape) @ values
    C = sps.csr_matrix(((x > 0).astype(np.float64), col, indptr), shape=shape) @ ones
    for M in (S, C):
        M.sum_duplicates()
        M.sort_indices()
    if not (np.array_equal(S.indptr, C.indptr) and np.array_equal(S.indices, C.indices)):  # pragma: no cover
        raise AssertionError("the sums and counts of the Gaussian points differ in structure")
    point = np.repeat(np.arange(start, stop, dtype=np.int64), np.diff(C.indptr))
    keep = C.data > 0
    return point[keep], C.indices[keep].astype(np.int64), S.data[keep], C.data[keep].astype(np.int64)


def _gaussian_points_kernel(index, corner, lo, hi, profile_of_point, profiles, lower_threshold):
    xp = backend.xp()
    n = len(corner)
    R = index.num_volumes
    a = index.device_arrays()
    flat = np.concatenate([g for g, _ in profiles]).astype(np.float64)
    offs = np.r_[0, np.cumsum([len(g) for g, _ in profiles])[:-1]].astype(np.int64)
    totals = np.array([t for _, t in profiles], np.float64)
    box = np.prod(hi - lo, axis=1)
    slabs = max(1, int(np.ceil(int(box.max()) / (_THREADS * 16)))) if n else 1
    spx = xp.zeros((n, R), xp.float64)
    inter = xp.zeros((n, R), xp.uint32)
    if n:
        dev = [xp.asarray(np.ascontiguousarray(v)) for v in
               (corner.ravel(), lo.ravel(), hi.ravel(), offs[profile_of_point], totals[profile_of_point], flat)]
        _launch("points", "accumulate_gaussian_points", n * slabs, _THREADS,
                tuple(dev) + (np.int32(slabs), np.int32(index.shape[1]), np.int32(index.shape[2]),
                              a["voxels"], a["row_ptr"], a["entry_region"], a["entry_value"],
                              np.float64(lower_threshold), np.int32(R), spx, inter),
                shared_mem=R * _SHARED_BYTES_PER_REGION)
    return _pairs_from_dense(spx, inter, R)
