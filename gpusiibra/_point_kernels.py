"""Points against every region: exact lookups and siibra's Gaussian kernel cubes, on the GPU (kernels/points.cu)
or the CPU (many points of one sigma: the atlas smoothed once with the separable cube; a few: SciPy's sparse
products of the cubes), with the helpers of :mod:`gpusiibra._kernels`."""
from __future__ import annotations

import os

import numpy as np

from . import backend
from ._kernels import (_GAUSSIAN_VOXELS, _SHARED_BYTES_PER_REGION, _THREADS, _csr_gather, _grid, _launch,
                       _pairs_from_dense, accumulate, max_shared_regions, uses_cuda_kernels)

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
    if uses_cuda_kernels():
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
    if uses_cuda_kernels() and index.num_volumes <= max_shared_regions():
        return _gaussian_points_kernel(index, corner, lo, hi, profile_of_point, profiles, lower_threshold)
    if not uses_cuda_kernels():
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
                part = gaussian_cube(*f, total)
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


#: CPU: Gaussian-cube voxels per batch of the sparse route
_SPARSE_BATCH_VOXELS = 1 << 23
#: CPU: cubes wider than this (voxels along an axis) are cut to the grid one by one instead of gathered at once
_GATHER_MAX_WIDTH = 129


def _gaussian_points_sparse(index, corner, lo, hi, profile_of_point, profiles, lower_threshold):
    """The CPU's route: the points of a sigma shared by enough of them (:func:`_smoothing_pays`) through the atlas
    smoothed once (:func:`_gaussian_points_smoothed`), the others cube by cube (:func:`_gaussian_points_cubes`); the
    pairs in (point, region) order."""
    on_grid = np.bincount(profile_of_point, np.prod(hi - lo, axis=1).astype(np.float64), minlength=len(profiles))
    smooth = [k for k in range(len(profiles)) if _smoothing_pays(index, profiles[k], on_grid[k])]
    if not smooth:
        return _gaussian_points_cubes(index, corner, lo, hi, profile_of_point, profiles, lower_threshold)
    parts = []
    for k in smooth:
        sel = np.flatnonzero(profile_of_point == k)
        pc, pr, spx, inter = _gaussian_points_smoothed(index, corner[sel], lo[sel], hi[sel], profiles[k],
                                                       lower_threshold)
        parts.append((sel[pc], pr, spx, inter))
    rest = np.flatnonzero(~np.isin(profile_of_point, smooth))
    if len(rest):
        pc, pr, spx, inter = _gaussian_points_cubes(index, corner[rest], lo[rest], hi[rest], profile_of_point[rest],
                                                    profiles, lower_threshold)
        parts.append((rest[pc], pr, spx, inter))
    point, region, spx, inter = (np.concatenate([q[k] for q in parts]) for k in range(4))
    if len(parts) > 1:
        order = np.lexsort((region, point))
        point, region, spx, inter = point[order], region[order], spx[order], inter[order]
    return point, region, spx, inter


def _gaussian_points_cubes(index, corner, lo, hi, profile_of_point, profiles, lower_threshold):
    """The CPU's route: each point's cube, cut to the grid and to the atlas's mapped voxels, as a row of a
    sparse (points x voxel rows) matrix X; then X @ P (sums of p x) and (X > 0) @ (P > 0) (counts) in SciPy's
    sparse products (which run without the GIL: two batches of points on two threads, more when the cubes
    exceed :data:`_SPARSE_BATCH_VOXELS`). The cubes of a batch are gathered at once from the atlas's voxel
    volume padded with unmapped voxels (so that no cube needs cutting), one gather per cube width: a fixed
    number of array calls whatever the number of points. The same sums as the kernel's, in another order (a
    few ulps)."""
    n = len(corner)
    if n == 0:
        e = np.zeros(0, np.int64)
        return e, e, np.zeros(0, np.float64), e
    width = np.array([len(g) for g, _ in profiles], np.int64)[profile_of_point]
    ends = np.cumsum(width ** 3)
    n_batches = min(n, max(2 if n > 1 else 1, -(-int(ends[-1]) // _SPARSE_BATCH_VOXELS)))
    cuts = np.unique(np.r_[0, np.searchsorted(ends, ends[-1] * np.arange(1, n_batches) / n_batches,
                                              side="right"), n])
    batches = [(int(a), int(b)) for a, b in zip(cuts[:-1], cuts[1:]) if b > a]
    index.csr_matrices(lower_threshold)  # made once, before the threads share it
    gathered = width <= _GATHER_MAX_WIDTH
    # a cube reaches the grid from up to width - 1 voxels outside it: padded that far, no corner falls off the volume
    pad = int(width[gathered].max()) - 1 if gathered.any() else 0
    padded = np.pad(index.voxels, pad, constant_values=-1) if gathered.any() else None

    cubes = _cubes(profiles)  # made once, before the threads share it

    def one(batch):
        return _gaussian_batch(index, batch, corner, lo, hi, profile_of_point, profiles, padded, pad, cubes,
                               lower_threshold)

    if len(batches) == 1 or (os.cpu_count() or 1) < 2:
        out = [one(b) for b in batches]
    else:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(2) as pool:
            out = list(pool.map(backend.carry(one), batches))
    return tuple(np.concatenate([o[k] for o in out]) for k in range(4))


def _gaussian_batch(index, batch, corner, lo, hi, profile_of_point, profiles, padded, pad, cubes, lower_threshold):
    """The sums and counts of a batch of points' cubes against every region: the cubes of each width gathered
    at once (siibra's cube values, bit for bit: ``(g[a] g[b]) g[c] / total``) and multiplied with the atlas in
    SciPy's sparse products; cubes wider than :data:`_GATHER_MAX_WIDTH` are cut to the grid one by one."""
    xp = backend.xp()  # NumPy: the CPU's route
    start, stop = batch
    prof = profile_of_point[start:stop]
    widths = np.array([len(g) for g, _ in profiles], np.int64)
    cube_flat, cube_off = cubes
    parts = []
    for w in np.unique(widths[prof]):  # one gather per cube width (a few, whatever the number of points)
        sel = xp.flatnonzero(widths[prof] == w)
        if w > _GATHER_MAX_WIDTH:  # each such cube is larger than a batch of small ones
            cut = [_cut_cube(index, start + int(j), corner, lo, hi, profiles[prof[j]]) for j in sel]
            owner = xp.repeat(xp.arange(len(sel), dtype=np.int64), [len(c[0]) for c in cut])
            col, x = xp.concatenate([c[1] for c in cut]), xp.concatenate([c[2] for c in cut])
        else:
            c0 = corner[start:stop][sel] + pad  # the cube's first voxel in the padded volume
            windows = xp.lib.stride_tricks.sliding_window_view(padded, (int(w),) * 3)  # a view: every cube at once
            rows = windows[c0[:, 0], c0[:, 1], c0[:, 2]].reshape(len(sel), -1)  # (points, w^3), -1 unmapped
            mapped = rows >= 0
            owner = xp.repeat(xp.arange(len(sel), dtype=np.int64), xp.count_nonzero(mapped, axis=1))
            col = rows[mapped]
            in_group = prof[sel]
            if bool((in_group == in_group[0]).all()):  # one sigma: its cube, broadcast
                cube = cube_flat[cube_off[in_group[0]]:cube_off[in_group[0]] + rows.shape[1]]
                x = xp.broadcast_to(cube, rows.shape)[mapped]
            else:  # several sigmas of one width: each voxel's value from its point's cube
                pos = xp.flatnonzero(mapped)
                hit_p = pos // rows.shape[1]
                x = cube_flat[cube_off[in_group][hit_p] + (pos - hit_p * rows.shape[1])]
        row, region, spx, inter = _cube_products(index, lower_threshold, len(sel), owner, col, x)
        parts.append((start + sel[row], region, spx, inter))
    if len(parts) == 1:
        return parts[0]
    point, region, spx, inter = (xp.concatenate([p[k] for p in parts]) for k in range(4))
    order = xp.lexsort((region, point))  # the pairs in (point, region) order, as one width gives them
    return point[order], region[order], spx[order], inter[order]


def _cube_products(index, lower_threshold, n, owner, col, x):
    """(row, region, sum p x, count p > 0 and x > 0) of ``n`` cubes given as (owner row, voxel row, value),
    owner-major: X @ P and (X > 0) @ (P > 0) in SciPy's sparse products."""
    import scipy.sparse as sps

    xp = backend.xp()
    values, ones = index.csr_matrices(lower_threshold)
    indptr = xp.concatenate([xp.zeros(1, np.int64), xp.cumsum(xp.bincount(owner, minlength=n))])
    shape = (n, index.n_rows)
    col = col.astype(np.int32, copy=False)
    S = sps.csr_matrix((x, col, indptr), shape=shape) @ values
    C = sps.csr_matrix(((x > 0).astype(np.float64), col, indptr), shape=shape) @ ones
    for M in (S, C):
        M.sum_duplicates()
        M.sort_indices()
    if not (np.array_equal(S.indptr, C.indptr) and np.array_equal(S.indices, C.indices)):  # pragma: no cover
        raise AssertionError("the sums and counts of the Gaussian points differ in structure")
    row = xp.repeat(xp.arange(n, dtype=np.int64), xp.diff(C.indptr))
    keep = C.data > 0
    return row[keep], C.indices[keep].astype(np.int64), S.data[keep], C.data[keep].astype(np.int64)


def gaussian_cube(gx, gy, gz, total=1.0):
    """siibra's Gaussian kernel cube from its separable profiles, bit for bit: ``((gx[a] gy[b]) gz[c]) / total``
    (the order of the products is siibra's; ``total`` is the whole cube's sum)."""
    return np.multiply.outer(np.multiply.outer(gx, gy), gz) / total


def _cubes(profiles):
    """Every profile's whole cube, flattened one after the other (siibra's values, bit for bit:
    ``(g[a] g[b]) g[c] / total``), and where each starts; cubes wider than :data:`_GATHER_MAX_WIDTH` are left
    out (empty)."""
    parts = [gaussian_cube(g, g, g, total).reshape(-1) if len(g) <= _GATHER_MAX_WIDTH
             else np.zeros(0) for g, total in profiles]
    return np.concatenate(parts), np.r_[0, np.cumsum([len(p) for p in parts])[:-1]].astype(np.int64)


def _cut_cube(index, j, corner, lo, hi, profile):
    """One wide cube, cut to the grid and to its mapped voxels: (zeros, voxel rows, values)."""
    g, total = profile
    f = [g[lo[j, a] - corner[j, a]:hi[j, a] - corner[j, a]] for a in range(3)]
    cube = gaussian_cube(*f, total)
    rows = index.voxels[lo[j, 0]:hi[j, 0], lo[j, 1]:hi[j, 1], lo[j, 2]:hi[j, 2]]
    mapped = rows >= 0
    return np.zeros(int(mapped.sum()), np.int64), rows[mapped], cube[mapped]


#: CPU: the smoothing's cost in cube voxels (on the grid) per multiply-add of its passes (measured, bench/RESULTS.md)
_SMOOTHING_COST = 0.015


def _smoothing_work(index, width):
    """Multiply-adds of smoothing every region map of ``index`` along z and y with a profile ``width`` wide."""
    boxes = index.bboxes
    ext = boxes[:, 1] - boxes[:, 0] + 1
    ext = ext[(ext > 0).all(axis=1)].astype(np.float64)  # floats: a profile a million voxels wide overflows int64
    pad = float(width - 1)
    return float(((ext[:, 0] * ext[:, 1] * (ext[:, 2] + pad) + ext[:, 0] * (ext[:, 1] + pad) * (ext[:, 2] + pad))
                  * width).sum())


def _smoothing_pays(index, profile, cube_voxels):
    """Whether points of one profile whose cubes hold ``cube_voxels`` voxels on the grid (together) cost less
    through the smoothed atlas than cube by cube: the smoothing's multiply-adds (:func:`_smoothing_work`)
    against those voxels."""
    return cube_voxels > 0 and cube_voxels > _SMOOTHING_COST * _smoothing_work(index, len(profile[0]))


def _gaussian_points_smoothed(index, corner, lo, hi, profile, lower_threshold):
    """Points of one profile against every region through each region's map smoothed once: the sum of p x over a
    point's cube is the map correlated with the cube at the point's voxel, and the cube is separable, so each map
    (in its bounding box, values below ``lower_threshold`` taken as 0) is correlated with ``g`` along z and y
    (``ndimage.correlate1d``, which runs without the GIL: the regions on two threads) and read along x at each
    point, ``sum_a g[a] G[x - rad + a, y, z] / total``. The counts (voxels of the cube, cut to the grid, with
    p > 0; every cube value is > 0) come exactly from the map's summed-area table. The pairs: (point, region) with
    a count > 0, in (point, region) order, as :func:`_cube_products`; the sums the same to a few ulps (another
    order of summation). The work is the atlas's, whatever the number of points, and a fixed number of array calls
    per region."""
    xp, ndi = backend.xp(), backend.ndi()
    g, total = profile
    g = xp.asarray(g, dtype=np.float64)
    width = len(g)
    rad = (width - 1) // 2
    center = corner + rad
    boxes = index.bboxes
    regions = xp.flatnonzero((boxes[:, 1] >= boxes[:, 0]).all(axis=1))
    a = index._ensure()
    taps = xp.arange(width)

    def one(r):
        b0, b1 = boxes[r, 0], boxes[r, 1]
        ext = b1 - b0 + 1
        cand = xp.flatnonzero((lo <= b1).all(axis=1) & (hi > b0).all(axis=1))  # cubes that meet the box
        if not len(cand):
            return None
        s, e = int(a["region_ptr"][r]), int(a["region_ptr"][r + 1])
        x, y, z = (c - o for c, o in zip(xp.unravel_index(a["region_voxel"][s:e], index.shape), b0))
        v = a["region_value"][s:e].astype(np.float64)
        if lower_threshold > 0:
            v = xp.where(v < lower_threshold, 0.0, v)
        # the counts: the map's indicator summed over each cube's part in the box, from the summed-area table
        sat = xp.zeros(tuple(ext + 1), np.int64)
        sat[x + 1, y + 1, z + 1] = v != 0
        for axis in range(3):
            xp.cumsum(sat, axis=axis, out=sat)
        q0 = xp.clip(lo[cand] - b0, 0, ext)
        q1 = xp.clip(hi[cand] - b0, 0, ext)
        count = (sat[q1[:, 0], q1[:, 1], q1[:, 2]] - sat[q0[:, 0], q1[:, 1], q1[:, 2]]
                 - sat[q1[:, 0], q0[:, 1], q1[:, 2]] - sat[q1[:, 0], q1[:, 1], q0[:, 2]]
                 + sat[q0[:, 0], q0[:, 1], q1[:, 2]] + sat[q0[:, 0], q1[:, 1], q0[:, 2]]
                 + sat[q1[:, 0], q0[:, 1], q0[:, 2]] - sat[q0[:, 0], q0[:, 1], q0[:, 2]])
        keep = count > 0
        cand, count = cand[keep], count[keep]
        if not len(cand):
            return None
        # the sums: the map correlated along z, then y (zero beyond the box), read along x at each point
        dense = xp.zeros((ext[0], ext[1], ext[2] + 2 * rad))
        dense[x, y, z + rad] = v
        smooth = xp.zeros((ext[0], ext[1] + 2 * rad, ext[2] + 2 * rad))
        smooth[:, rad:rad + ext[1]] = ndi.correlate1d(dense, g, axis=2, mode="constant")
        smooth = ndi.correlate1d(smooth, g, axis=1, mode="constant")
        c = center[cand] - b0
        xi = c[:, :1] - rad + taps  # (points, width): the x of each tap, in the box
        inside = (xi >= 0) & (xi < ext[0])
        line = smooth[xp.clip(xi, 0, ext[0] - 1), c[:, 1:2] + rad, c[:, 2:3] + rad]
        spx = (xp.where(inside, line, 0.0) * g).sum(axis=1) / total
        return cand, xp.full(len(cand), r, np.int64), spx, count

    halves = [regions[0::2], regions[1::2]]

    def run(rs):
        return [o for o in map(one, rs) if o is not None]

    if (os.cpu_count() or 1) < 2 or len(regions) < 2:
        out = run(regions)
    else:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(2) as pool:
            out = [o for part in pool.map(backend.carry(run), halves) for o in part]
    if not out:
        e = xp.zeros(0, np.int64)
        return e, e, xp.zeros(0, np.float64), e
    point, region, spx, inter = (xp.concatenate([o[k] for o in out]) for k in range(4))
    order = xp.lexsort((region, point))
    return point[order], region[order], spx[order], inter[order]


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
