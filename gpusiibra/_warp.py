"""Pulling an image onto a target grid through a point-mapping transform, as ANTs resamples
(``antsApplyTransforms`` / ``ants.apply_transforms``, ITK's ``ResampleImageFilter``): dense (a NIfTI image in, one
out) and sparse (the engine's entries of many maps in, the target voxels they reach out). One code path for
NumPy and CuPy (the backend's array module).

A transform here is anything with ``map_points(xyz_ras_mm) -> xyz_ras_mm`` that maps a point of the *target*
space to where it lies in the *source* space (an :class:`gpusiibra._itk.ITKTransform` read from TemplateFlow's
``tpl-<target>_from-<source>_mode-image_xfm.h5``; an affine or a chain of them works the same way).

Each target voxel t takes the source image at the continuous voxel index
``k = inv(A_source) @ T(A_target @ t)``, ITK's way:

- outside (any axis with ``k < -0.5`` or ``k >= n - 0.5``): 0 (ANTs' default value);
- ``order=1`` (``interpolator='linear'``): trilinear over the 8 neighbours, indices past the outer voxels
  clamped to them (so the outer half voxel takes the outer voxels' values);
- ``order=0`` (``interpolator='nearestNeighbor'``, label images): the voxel ``floor(k + 0.5)``.
"""
from __future__ import annotations

import numpy as np

from . import backend
from ._itk import affine_rows
from .errors import ImageFileError, OptionError

__all__ = ["pull_image", "pull_array", "pull_sparse", "pull_plan", "PullPlan", "source_index"]

#: target voxels evaluated at once (bounds the temporaries: about 200 bytes each)
_BLOCK = 1 << 20


def _xp_of(a):
    try:
        import cupy

        return cupy.get_array_module(a)
    except ImportError:
        return np


def source_index(transform, vox, target_affine, source_affine):
    """The continuous source voxel index of target voxels ``vox`` (int (p, 3), on the array module)."""
    mm = transform.map_points(affine_rows(vox.astype("float64"), target_affine))
    return affine_rows(mm, np.linalg.inv(np.asarray(source_affine, np.float64)))


def _inside(xp, k, n):
    """ITK's ``IsInsideBuffer``: ``-0.5 <= k < n - 0.5`` on every axis."""
    return ((k[:, 0] >= -0.5) & (k[:, 0] < n[0] - 0.5) & (k[:, 1] >= -0.5) & (k[:, 1] < n[1] - 0.5)
            & (k[:, 2] >= -0.5) & (k[:, 2] < n[2] - 0.5))


def _cells(xp, k, n, order):
    """Per axis, the source voxel each index ``k`` (p, 3) is interpolated from, and its fraction: the nearest
    voxel (order 0; no fractions), or the low corner of its 2x2x2 cell, the index clamped to the outer voxel
    centres first (ITK's linear interpolator, whose neighbours past the last voxel are the last voxel)."""
    cells, fracs = [], []
    for a in range(3):
        ka = k[:, a]
        if order == 0:
            cells.append(xp.minimum(xp.floor(ka + 0.5).astype(xp.int64), int(n[a]) - 1))
        else:
            kc = xp.minimum(xp.maximum(ka, 0.0), float(n[a] - 1))
            c = xp.minimum(xp.floor(kc).astype(xp.int64), max(int(n[a]) - 2, 0))
            cells.append(c)
            # kept in float32 (as ANTs' images; at most 6e-8 of the image's range off ITK's double weights): the
            # plan of a 1 mm grid then takes 16 bytes a voxel
            fracs.append((kc - c).astype(xp.float32))
    return cells, fracs


def _corners(buf, lin, s0, s1):
    """The 8 voxels of each cell in the padded boxes of ``buf`` (``lin``: the flat index of the cell's low corner;
    ``s0``, ``s1``: the boxes' strides along x and y), in the order (x, y, z) = 000, 001, 010, 011, 100, ...
    An axis with one voxel has fraction 0 and its second voxel in the box's padding."""
    return [buf[lin + (s0 if c & 4 else 0) + (s1 if c & 2 else 0) + (c & 1)] for c in range(8)]


def _lerp(v, fracs):
    """Trilinear interpolation of the 8 corner values ``v`` (:func:`_corners`): along z, then y, then x."""
    f0, f1, f2 = (f.astype(v[0].dtype) for f in fracs)
    g2 = 1.0 - f2
    c00 = v[0] * g2 + v[1] * f2
    c01 = v[2] * g2 + v[3] * f2
    c10 = v[4] * g2 + v[5] * f2
    c11 = v[6] * g2 + v[7] * f2
    c0 = c00 * (1.0 - f1) + c01 * f1
    c1 = c10 * (1.0 - f1) + c11 * f1
    return c0 * (1.0 - f0) + c1 * f0


def _interpolate(buf, lin, s0, s1, fracs, order):
    """The value at each point (``lin``: its cell's low corner or, order 0, its voxel; see :func:`_corners`)."""
    if order == 0:
        return buf[lin]
    return _lerp(_corners(buf, lin, s0, s1), fracs)


def _work_type(dtype):
    """The type the linear interpolation runs in: float32 for float32 and 8/16-bit integer images (as ANTs
    resamples them), else float64."""
    dtype = np.dtype(dtype)
    small = dtype == np.float32 or (dtype.kind in "iub" and dtype.itemsize <= 2)
    return np.float32 if small else np.float64


def _order_of(order, data):
    if order not in (0, 1):
        raise OptionError(f"order must be 0 (nearest) or 1 (linear), got {order!r}")
    return order


def _padded(xp, data, dtype):
    """``data`` with one zero voxel on each side of every axis (the boxes :func:`_interpolate` reads)."""
    n = data.shape[:3]
    out = xp.zeros(tuple(int(s) + 2 for s in n), dtype)
    out[1:-1, 1:-1, 1:-1] = data
    return out


def pull_array(data, source_affine, transform, target_shape, target_affine, order=1):
    """Pull a 3-D array onto the target grid (the dense pull; the array module of ``data``).

    Parameters
    ----------
    data : array (3-D), NumPy or CuPy
        The source image.
    source_affine : (4, 4)
        Its voxel -> RAS mm.
    transform : object with ``map_points``
        Target-space points -> source-space points (RAS mm).
    target_shape, target_affine :
        The target grid.
    order : {1, 0}
        1: trilinear (ANTs' ``linear``); 0: nearest (ANTs' ``nearestNeighbor``, for label images).

    Returns
    -------
    array of ``target_shape``: float32 (order 1, a float32 or 8/16-bit integer image, as ANTs), float64 (order 1,
    other types) or ``data``'s type (order 0).

    Examples
    --------
    A transform that maps each target point 1 mm to the right in the source pulls the image 1 mm to the left:

    >>> import numpy as np
    >>> from gpusiibra._itk import AffineStep, ITKTransform
    >>> shift = np.eye(4); shift[0, 3] = 1.0
    >>> src = np.zeros((4, 3, 3)); src[2, 1, 1] = 8.0
    >>> out = pull_array(src, np.eye(4), ITKTransform([AffineStep(shift)]), (4, 3, 3), np.eye(4))
    >>> out[:, 1, 1]
    array([0., 8., 0., 0.])
    """
    xp = _xp_of(data)
    order = _order_of(order, data)
    shape = tuple(int(s) for s in target_shape)
    n = tuple(int(s) for s in data.shape[:3])
    buf = _padded(xp, data, _work_type(data.dtype) if order == 1 else data.dtype).reshape(-1)
    s1, s0 = n[2] + 2, (n[1] + 2) * (n[2] + 2)
    total = int(np.prod(shape))
    out = xp.zeros(total, buf.dtype)
    for start in range(0, total, _BLOCK):
        lin = xp.arange(start, min(start + _BLOCK, total), dtype=xp.int64)
        vox = xp.stack(xp.unravel_index(lin, shape), axis=1)
        k = source_index(transform, vox, target_affine, source_affine)
        inside = xp.flatnonzero(_inside(xp, k, n))
        (c0, c1, c2), fracs = _cells(xp, k[inside], n, order)
        at = ((c0 + 1) * (n[1] + 2) + (c1 + 1)) * (n[2] + 2) + (c2 + 1)
        out[start + inside] = _interpolate(buf, at, s0, s1, fracs, order)
    return out.reshape(shape)


def pull_image(img, transform, target_shape, target_affine, order=1, dtype=None):
    """Pull a NIfTI image onto a target grid through ``transform`` (host arrays; the backend's array module
    does the work): ``ants.apply_transforms(fixed=<target grid>, moving=img, transformlist=[file],
    interpolator='linear' | 'nearestNeighbor')``.

    Parameters
    ----------
    img : nibabel image (3-D)
    transform : object with ``map_points``
        Target-space points -> source-space points (RAS mm); for TemplateFlow's transforms, the file
        ``tpl-<target>_from-<source>_mode-image_xfm.h5``.
    target_shape, target_affine :
        The target grid.
    order : {1, 0}
        1: trilinear (float output); 0: nearest (the image's type kept: label images).
    dtype : numpy dtype, optional
        The output's type (default: float32 for order 1, as ANTs writes; the image's type for order 0).

    Returns
    -------
    nibabel.Nifti1Image on the target grid.
    """
    import nibabel as nib

    xp = backend.xp()
    data = np.asanyarray(img.dataobj)
    if data.ndim == 4 and data.shape[3] == 1:
        data = data[..., 0]
    if data.ndim != 3:
        raise ImageFileError(img.get_filename(), f"a 3-D image is warped, this one has shape {data.shape}")
    out = backend.to_host(pull_array(xp.asarray(np.ascontiguousarray(data)), img.affine, transform, target_shape,
                                     target_affine, order))
    if dtype is None:
        dtype = np.float32 if order == 1 else data.dtype
    res = nib.Nifti1Image(out.astype(dtype), np.asarray(target_affine, np.float64))
    res.set_qform(res.affine, 1)
    res.set_sform(res.affine, 1)
    return res


# ------------------------------------------------------------------ sparse (the engine's entries)
class PullPlan:
    """A transform evaluated once on a target grid for one source geometry and order: every target voxel whose
    source index falls inside the source image, grouped by the source voxel it is interpolated from (the low
    corner of its 2x2x2 cell, or its nearest voxel; CSR), with its fractions, so that a map's pull visits only
    the target voxels its nonzero voxels reach.

    Build it with :func:`pull_plan` (cached per transform and geometry); it lives on the backend's device
    (16 bytes per target voxel inside the source image, 4 with ``order=0``; 74 MB for a 1 mm MNI grid).

    Attributes
    ----------
    target : array of int32 (int64 for grids of 2**31 voxels or more)
        Target voxels (C-order linear index), grouped by cell.
    fracs : tuple of 3 arrays of float32 (empty for order 0)
        Their fractions along x, y, z within the cell.
    cell_ptr : array of int64 (source size + 1)
        ``target[cell_ptr[c]:cell_ptr[c + 1]]``: the target voxels of cell ``c`` (a source voxel's linear index).
    """

    def __init__(self, transform, source_shape, source_affine, target_shape, target_affine, order):
        xp = backend.xp()
        self.source_shape = tuple(int(s) for s in source_shape)
        self.target_shape = tuple(int(s) for s in target_shape)
        self.order = int(order)
        n = np.asarray(self.source_shape, np.int64)
        self._index_type = xp.int32 if np.prod(self.target_shape) < 2 ** 31 else xp.int64
        mapped = _grid_points(transform, self.target_shape, target_affine)
        inv = np.linalg.inv(np.asarray(source_affine, np.float64))
        targets, fracs, cells = [], [], []
        for start in range(0, mapped.shape[0], _BLOCK):
            k = affine_rows(mapped[start:start + _BLOCK], inv)
            inside = xp.flatnonzero(_inside(xp, k, n))
            k = k[inside]
            (c0, c1, c2), f = _cells(xp, k, n, self.order)
            targets.append((inside + start).astype(self._index_type))
            fracs.append(f)
            cells.append((c0 * int(n[1]) + c1) * int(n[2]) + c2)
        cell = xp.concatenate(cells) if cells else xp.zeros(0, xp.int64)
        by_cell = xp.argsort(cell, kind="stable") if xp is np else xp.argsort(cell)
        self.target = (xp.concatenate(targets) if targets else xp.zeros(0, self._index_type))[by_cell]
        self.fracs = tuple(xp.concatenate([f[a] for f in fracs])[by_cell] for a in range(3)) \
            if self.order == 1 and fracs else ()
        self.cell_ptr = xp.searchsorted(cell[by_cell], xp.arange(int(n.prod()) + 1, dtype=xp.int64))

    @property
    def nbytes(self) -> int:
        return int(self.target.nbytes + sum(f.nbytes for f in self.fracs) + self.cell_ptr.nbytes)


_PLANS = None


def _cache_of(transform):
    """The plans and points kept for ``transform`` (while it lives), or None when it takes no weak reference."""
    import weakref

    global _PLANS
    if _PLANS is None:
        _PLANS = weakref.WeakKeyDictionary()
    try:
        return _PLANS.setdefault(transform, {})
    except TypeError:
        return None


def _grid_points(transform, target_shape, target_affine):
    """``transform.map_points`` of every voxel of the target grid ((G, 3) RAS mm, C order), computed once per
    transform, grid and device (the plans of every source grid start from it)."""
    xp = backend.xp()
    key = ("points", backend.get_backend(), backend.device_id() if backend.get_backend() == "gpu" else -1,
           tuple(target_shape), np.asarray(target_affine, np.float64).tobytes())
    cache = _cache_of(transform)
    if cache is not None and key in cache:
        return cache[key]
    if cache is not None:
        for old in [k for k in cache if k[0] == "points"]:
            del cache[old]  # one grid's points at a time
    total = int(np.prod(target_shape))
    out = xp.empty((total, 3), xp.float64)
    for start in range(0, total, _BLOCK):
        lin = xp.arange(start, min(start + _BLOCK, total), dtype=xp.int64)
        vox = xp.stack(xp.unravel_index(lin, tuple(target_shape)), axis=1)
        out[start:start + lin.size] = transform.map_points(affine_rows(vox.astype("float64"), target_affine))
    if cache is not None:
        cache[key] = out
    return out


def pull_plan(transform, source_shape, source_affine, target_shape, target_affine, order=1) -> PullPlan:
    """The :class:`PullPlan` of a transform, source geometry, target grid and order, made once per transform
    object (kept while the transform lives) and backend (the four most recent geometries; the transform's
    points on the target grid, 24 bytes a voxel, kept for the next geometry)."""
    key = ("plan", backend.get_backend(), backend.device_id() if backend.get_backend() == "gpu" else -1,
           tuple(int(s) for s in source_shape), np.asarray(source_affine, np.float64).tobytes(),
           tuple(int(s) for s in target_shape), np.asarray(target_affine, np.float64).tobytes(), int(order))
    plans = _cache_of(transform)
    if plans is None:  # a transform that takes no weak reference: planned at each call
        return PullPlan(transform, source_shape, source_affine, target_shape, target_affine, order)
    if key not in plans:
        mine = [k for k in plans if k[0] == "plan"]
        for old in mine[:max(len(mine) - 3, 0)]:
            del plans[old]
        plans[key] = PullPlan(transform, source_shape, source_affine, target_shape, target_affine, order)
    return plans[key]


def _ragged(xp, count, total):
    """For ``total = sum(count)`` items in runs of ``count``: a function that spreads a per-run array over the
    items (NumPy's ``repeat``; on CuPy, a gather by each item's run), and each item's place in its run."""
    starts = xp.cumsum(count) - count
    if xp is np:
        def spread(a):
            return np.repeat(a, count)
    else:
        which = xp.searchsorted(xp.cumsum(count), xp.arange(total, dtype=xp.int64), side="right")

        def spread(a):
            return a[which]
    return spread, xp.arange(total, dtype=xp.int64) - spread(starts)


def _map_boxes(flat, counts, shape):
    """Per map (entries grouped by map, ``counts`` each): the box (lo, hi) of its voxels (host)."""
    ijk = np.stack(np.unravel_index(flat, shape), axis=1)
    starts = np.r_[0, np.cumsum(counts)[:-1]]
    return np.minimum.reduceat(ijk, starts, axis=0), np.maximum.reduceat(ijk, starts, axis=0)


#: (map, target voxel) pairs evaluated at once in the sparse pull
_PAIRS = 1 << 21
#: the most voxels of the maps' boxes (and of their cell marks) one pass holds: 256 MB of float32 values
_BOX_VOXELS = 1 << 26


def pull_sparse(images, ids, target_shape, target_affine, transform, order=None, plan=None):
    """Pull many maps (one source geometry) onto the target grid at the voxels they reach: the engine's sorted
    ``(key, value)`` entries, ``key = id * prod(target_shape) + target voxel``.

    The work is bounded by each map's support: the transform is evaluated once per target grid
    (:func:`pull_plan`, cached), and a map visits only the target voxels whose interpolation cell touches one
    of its nonzero voxels. The values equal :func:`pull_array`'s at every voxel (the same arithmetic), nonzero
    ones only.

    Parameters
    ----------
    images : list of SparseImage
        Maps on one grid (shape and affine).
    ids : list of int
        Each map's number in the chunk.
    target_shape, target_affine :
        The target grid.
    transform : object with ``map_points``
        Target-space points -> source-space points (RAS mm).
    order : {None, 0, 1}
        None: each map's ``SparseImage.order`` (0 for a {0, 1} mask, as siibra), else as given.
    plan : PullPlan, optional
        The plan to use (default: :func:`pull_plan`'s).

    Returns
    -------
    key : array of int64, ascending
    value : array of float64 (nonzero)
    """
    xp = backend.xp()
    shape = tuple(int(s) for s in target_shape)
    G = int(np.prod(shape))
    images = list(images)
    ids = np.asarray(ids, np.int64)
    keep = [i for i, im in enumerate(images) if im.nnz]
    empty = xp.zeros(0, xp.int64), xp.zeros(0, xp.float64)
    if not keep:
        return empty
    first = images[keep[0]]
    src = tuple(int(s) for s in first.shape)
    for i in keep:
        if tuple(images[i].shape) != src or not np.array_equal(images[i].affine, first.affine):
            raise ValueError("pull_sparse takes maps of one grid: group them by shape and affine first")
    orders = {images[i].order if order is None else order for i in keep}
    if len(orders) > 1:  # masks (nearest) and maps (linear) in one chunk: each their own pass
        parts = []
        for o in sorted(orders):
            sel = [i for i in keep if images[i].order == o]
            parts.append(pull_sparse([images[i] for i in sel], ids[sel], shape, target_affine, transform, o))
        key = xp.concatenate([p[0] for p in parts])
        val = xp.concatenate([p[1] for p in parts])
        o = xp.argsort(key)
        return key[o], val[o]
    the_order = orders.pop()
    if plan is None:
        plan = pull_plan(transform, src, first.affine, shape, target_affine, the_order)
    n = np.asarray(src, np.int64)
    nin = int(n.prod())
    group = max(1, _BOX_VOXELS // int((n + 2).prod()))
    if len(keep) > group:  # the maps' boxes would exceed _BOX_VOXELS: a few groups of maps, one after the other
        parts = [pull_sparse([images[i] for i in keep[a:a + group]], ids[keep[a:a + group]], shape, target_affine,
                             transform, the_order, plan) for a in range(0, len(keep), group)]
        key = xp.concatenate([p[0] for p in parts])
        val = xp.concatenate([p[1] for p in parts])
        if not np.all(np.diff(ids[keep]) > 0):
            o = xp.argsort(key)
            key, val = key[o], val[o]
        return key, val
    entries = [images[i].entries() for i in keep]
    counts = np.array([e[0].size for e in entries], np.int64)
    flat = np.concatenate([e[0] for e in entries])
    vals = np.concatenate([e[1] for e in entries])
    # the maps' values in one box (the union of their supports' boxes, padded by a voxel on every side), map
    # after map in one flat buffer: a cell's 8 voxels are at fixed strides from its low corner
    lo_s, hi_s = _map_boxes(flat, counts, src)
    lo_u, hi_u = lo_s.min(0) - 1, hi_s.max(0) + 1
    d = [int(x) for x in hi_u - lo_u + 1]
    box = d[0] * d[1] * d[2]
    s1, s0 = d[2], d[1] * d[2]
    m_of = np.repeat(np.arange(len(keep)), counts)
    ijk = np.stack(np.unravel_index(flat, src), axis=1)
    rel = ijk - lo_u
    pos = m_of * box + (rel[:, 0] * d[1] + rel[:, 1]) * d[2] + rel[:, 2]
    work = _work_type(vals.dtype) if the_order == 1 else vals.dtype
    buf = xp.zeros(len(keep) * box, work)
    buf[xp.asarray(pos)] = xp.asarray(vals.astype(work))
    # the cells whose interpolation touches a nonzero voxel: the voxel itself and its lower neighbours
    d_ijk = xp.asarray(ijk)
    d_m = xp.asarray(m_of)
    if the_order == 0:
        cells = d_m * nin + xp.asarray(flat)
    else:
        low = [max(int(x) - 2, 0) for x in n]
        mark = xp.zeros(len(keep) * nin + 1, xp.bool_)  # a mark per (map, cell): sorted and unique at once
        for c in range(8):
            o = ((c >> 2) & 1, (c >> 1) & 1, c & 1)
            x, y, z = d_ijk[:, 0] - o[0], d_ijk[:, 1] - o[1], d_ijk[:, 2] - o[2]
            ok = (x >= 0) & (x <= low[0]) & (y >= 0) & (y <= low[1]) & (z >= 0) & (z <= low[2])
            mark[xp.where(ok, d_m * nin + (x * int(n[1]) + y) * int(n[2]) + z, -1)] = True  # -1: never a cell
        cells = xp.flatnonzero(mark[:-1])
    cm, cc = cells // nin, cells % nin
    first_t = plan.cell_ptr[cc]
    count = plan.cell_ptr[cc + 1] - first_t
    # each cell's low corner in its map's box
    cx, cy, cz = cc // (int(n[1]) * int(n[2])), (cc // int(n[2])) % int(n[1]), cc % int(n[2])
    corner = cm * box + ((cx - int(lo_u[0])) * d[1] + (cy - int(lo_u[1]))) * d[2] + (cz - int(lo_u[2]))
    id_of = xp.asarray(ids[keep])[cm] * G
    ends = backend.to_host(xp.cumsum(count))
    keys, values = [], []
    first_cell = 0
    while first_cell < ends.size:  # blocks of about _PAIRS pairs: a loop over blocks, not over maps or voxels
        done = int(ends[first_cell - 1]) if first_cell else 0
        last = max(int(np.searchsorted(ends, done + _PAIRS, side="right")), first_cell + 1)
        sel = slice(first_cell, last)
        first_cell = last
        total = int(ends[last - 1]) - done
        if total == 0:
            continue
        spread, local = _ragged(xp, count[sel], total)
        row = spread(first_t[sel]) + local
        fr = tuple(f[row] for f in plan.fracs)
        if the_order == 0:
            v = buf[spread(corner[sel])]
        else:  # a cell's 8 voxels read once, spread over its target voxels
            v = _lerp([spread(c) for c in _corners(buf, corner[sel], s0, s1)], fr)
        nz = xp.flatnonzero(v != 0)
        keys.append(spread(id_of[sel])[nz] + plan.target[row[nz]].astype(xp.int64))
        values.append(v[nz].astype(xp.float64))
    if not keys:
        return empty
    key = xp.concatenate(keys)
    val = xp.concatenate(values)
    # nearly sorted already (maps in order; cells in the source's order, their target voxels in order): NumPy's
    # stable sort finds the runs
    o = xp.argsort(key, kind="stable") if xp is np else xp.argsort(key)
    return key[o], val[o]
