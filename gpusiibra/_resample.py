"""Resampling query images onto the atlas grid, as siibra does it, at the voxels they can reach.

siibra resamples with nilearn's ``resample_to_img``: scipy's ``affine_transform``
with trilinear interpolation (nearest neighbour when the image's distinct values
are exactly {0, 1}), 0 outside the image, then a clip to
``[min(min q, 0), max(max q, 0)]``; an image already on the grid (same shape,
``allclose`` affine) is taken as it is.

gpusiibra computes the same values from an image's nonzero voxels only
(:class:`SparseImage`), for many images at once, with a fixed number of array
calls however many images there are (:func:`resample_sparse`). When the image's
axes are the grid's axes up to zoom, flip and shift (a diagonal matrix: every
MNI map), scipy's zoom/shift path is separable: along each axis, output voxel
``t`` reads input coordinate ``c(t) = (t + offset / zoom) * zoom``, weighs the
voxels ``floor(c)`` and ``floor(c) + 1`` by ``1 - frac(c)`` and ``frac(c)``
(order 0: takes ``floor(c + 0.5)``), and is 0 unless ``0 <= c <= n - 1``. Done
axis by axis (z, then x, then y), each pass maps the nonzero entries to the
output voxels they reach: a voxel none of whose taps is nonzero is exactly 0, so
nothing else needs computing. Integer images are rounded half away from zero
and cast back, as scipy writes an integer output.

Images with an oblique matrix, and integer images whose sums could round a tie
otherwise than scipy's (weights that are not multiples of 1/1024, or values
beyond 16 bits), take scipy's own ``affine_transform`` on the box of the grid
they reach (:func:`resample_to_grid`, on the host).
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from . import backend
from ._kernels import expand_ranges
from . import _sparse_image
from ._sparse_image import interpolation_order as _interpolation_order

__all__ = ["resample_sparse", "resample_dense", "resample_to_grid", "ResampledImage"]

#: names this module used to re-export from :mod:`gpusiibra._sparse_image`, where they live
_MOVED = ("SparseImage", "sparse_image", "sparse_entries", "interpolation_order", "DENSE_FRACTION")
_WARNED = set()


def __getattr__(name):
    """The former re-exports, each with one DeprecationWarning naming where it lives."""
    if name in _MOVED:
        if name not in _WARNED:
            _WARNED.add(name)
            import warnings

            warnings.warn(f"gpusiibra._resample.{name} is gpusiibra._sparse_image.{name}: import it from there",
                          DeprecationWarning, stacklevel=2)
        return getattr(_sparse_image, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# ------------------------------------------------------------------ geometry
def on_grid(shape, affine, grid_shape, grid_affine) -> bool:
    """nilearn takes an image with the grid's shape and (allclose) affine as it is."""
    return tuple(shape) == tuple(grid_shape) and np.allclose(affine, grid_affine)


def zoom_shift(affine, grid_affine):
    """(zoom, offset) per axis when the grid voxel -> query voxel map is diagonal, else None."""
    M = np.eye(4) if np.array_equal(affine, grid_affine) else np.linalg.inv(affine) @ grid_affine
    matrix = M[:3, :3]
    if not np.all(np.diag(np.diag(matrix)) == matrix):
        return None
    return np.diag(matrix).copy(), M[:3, 3].copy()


def _coordinates(n_out, zoom, offset):
    """scipy's zoom/shift coordinate of output voxels 0..n_out-1: ``(t + offset / zoom) * zoom``."""
    return (np.arange(n_out, dtype=np.float64) + offset / zoom) * zoom


def separable_is_exact(dtype, order, zoom, offset, grid_shape) -> bool:
    """Whether the separable passes give scipy's values for this image type and geometry.

    Nearest neighbour copies values: always. Trilinear on float images differs from scipy only in
    the order of float64 sums (~1e-16 relative): always. Trilinear on integer images is rounded to
    integers, so a different sum order could round a tie the other way; it is taken only when every
    sum is exact: values of at most 16 bits and weights that are multiples of 1/1024.
    """
    dtype = np.dtype(dtype)
    if order == 0 or dtype.kind == "f":
        return True
    if dtype.itemsize > 2:
        return False
    for n, z, o in zip(grid_shape, zoom, offset):
        c = _coordinates(n, z, o)
        s = (c - np.floor(c)) * 1024.0
        if not np.array_equal(s, np.floor(s)):
            return False
    return True


@lru_cache(maxsize=256)
def _axis_table(n_in, n_out, zoom, offset, order):
    """Everything the passes read along one axis, from scipy's coordinates of the output voxels.

    Returns ``(first, count, w_low, w_high, tap, inside)``: for each input voxel (cell) i, its first
    output voxel and how many read it as their low tap (order 1) or nearest voxel (order 0); for each
    output voxel its two weights (0 outside the input), its tap clipped to the input, and whether it lies
    inside the input (scipy's constant mode).
    """
    c = _coordinates(n_out, zoom, offset)
    inside = (c >= 0) & (c <= n_in - 1)
    tap = np.clip(np.floor(c + 0.5) if order == 0 else np.floor(c), 0, n_in - 1).astype(np.int64)
    t = np.flatnonzero(inside)
    count = np.bincount(tap[t], minlength=n_in).astype(np.int64)
    first = np.full(n_in, n_out, np.int64)
    np.minimum.at(first, tap[t], t)
    frac = c - np.floor(c)
    w_low = np.where(inside, 1.0 - frac, 0.0)
    w_high = np.where(inside, frac, 0.0)
    table = (first, count, w_low, w_high, tap, inside)
    for arr in table:
        arr.flags.writeable = False
    return table


@lru_cache(maxsize=256)
def _device_axis_table(n_in, n_out, zoom, offset, order, device):
    """The arrays of :func:`_axis_table` that the passes read, on the backend's device (``device``: the CUDA
    device they live on, -1 on the CPU): copied there once per geometry, not at every chunk; and the most output
    voxels a cell has (on the host)."""
    first, count, w_low, w_high, _, _ = _axis_table(n_in, n_out, zoom, offset, order)
    xp = backend.xp()
    return tuple(xp.asarray(a) for a in (first, count, w_low, w_high)) + (int(count.max()) if count.size else 0,)


# ------------------------------------------------------------------ the passes
def _axis_pass(xp, key, val, sizes, axis, table, order, zoom_negative, n_blocks):
    """One separable pass: entries (sorted ``key`` over ``sizes``, values) -> entries with ``axis`` resampled.

    Cells (input voxels along the axis, as low taps) come from the entries: entry i is the low corner
    of cell i and the high corner of cell i - 1. Each cell's output voxels are contiguous along the
    axis and disjoint from other cells'. Outputs are produced in sorted key order: per group of cells
    that share everything but the axis coordinate's neighbours (a "subgroup": same prefix and cell),
    each output voxel t (a "row") repeats the subgroup's entries in order.
    """
    first, count, w_low, w_high, k_max = table  # on the device (_device_axis_table), and an int
    n_in = sizes[axis]
    n_out = int(w_low.size)
    stride = int(np.prod(sizes[axis + 1:], dtype=np.int64))
    end = n_blocks * int(np.prod(sizes, dtype=np.int64))  # beyond every key (keys: block * prod(sizes) + voxel)
    if order == 1:
        # every entry is also the high corner of the cell below it; those at the axis's first voxel have none
        # and go to one cell beyond every key, which makes no output (no compaction: no wait for the device)
        below = xp.where(key % (stride * n_in) >= stride, key - stride, end)  # axis coordinate >= 1
        keys = xp.concatenate([key, below])
        o = xp.argsort(keys, kind="stable")  # a merge of two sorted runs: a cell's low corner before its high one
        keys = keys[o]
        new = xp.ones(keys.size + 1, bool)
        new[1:-1] = keys[1:] != keys[:-1]
        bounds = xp.flatnonzero(new)
        ckey = keys[bounds[:-1]]
        # a cell holds at most one low and one high corner, the low one first (its first and last entry: one or two
        # entries, a low corner when it comes from key, a high one from below); a missing corner is 0
        n = key.size
        first_src, last_src = o[bounds[:-1]], o[bounds[1:] - 1]
        v_lo = xp.where(first_src < n, val[xp.minimum(first_src, n - 1)], 0.0)
        v_hi = xp.where(last_src >= n, val[xp.maximum(last_src - n, 0)], 0.0)
    else:
        ckey, v_lo, v_hi = key, val, None
    sg, low = xp.divmod(ckey, stride)  # prefix * n_in + cell coordinate; the coordinates after the axis
    new = xp.ones(ckey.size, bool)
    new[1:] = sg[1:] != sg[:-1]
    sg_start = xp.flatnonzero(new)
    sg_size = xp.diff(xp.concatenate([sg_start, xp.asarray([ckey.size], dtype=sg_start.dtype)]))
    sg_key = sg[sg_start]
    sg_cell = sg_key % n_in
    sg_pre = sg_key // n_in
    k = xp.where(sg_key < end // stride, count[sg_cell], 0)  # the cell beyond every key: no output
    t0 = first[sg_cell]
    # rows (subgroup, output voxel along the axis) in output order: subgroup by subgroup, or, when the outputs run
    # against the cells, by (prefix, first output); k_max rows a subgroup, those beyond its k empty (no array
    # sized by the data: no wait for the device)
    sg_order = xp.argsort(sg_pre * n_out + t0, kind="stable") if zoom_negative else xp.arange(sg_start.size)
    g = xp.broadcast_to(sg_order[:, None], (sg_start.size, k_max)).ravel()  # each row's subgroup
    r = xp.broadcast_to(xp.arange(k_max, dtype=xp.int64)[None, :], (sg_start.size, k_max)).ravel()
    t_row = xp.minimum(t0[g] + r, n_out - 1)  # the empty rows' stay on the axis
    row_size = xp.where(r < k[g], sg_size[g], 0)
    # outputs: each row repeats its subgroup's cells; per output one gather by its row (monotone) and one by cell
    cell, owner = expand_ranges(xp, sg_start[g], row_size)
    if order == 1:
        out = v_lo[cell] * xp.take(w_low[t_row], owner)  # rounded one operation at a time, as NumPy does it densely
        high = v_hi[cell] * xp.take(w_high[t_row], owner)
        out += high
        del high
    else:
        out = v_lo[cell]
    # drop the zeros (a missing corner at a zero weight: a third of the outputs of isolated voxels at half
    # voxels), which would otherwise multiply through the next passes; keys only for the outputs kept
    keep = xp.flatnonzero(out)
    owner, cell = owner[keep], cell[keep]
    new_key = xp.take((sg_pre[g] * n_out + t_row) * stride, owner) + xp.take(low, cell)
    sizes = list(sizes)
    sizes[axis] = n_out
    return new_key, out[keep], tuple(sizes)


def _finish_values(xp, out, dtype, m, vmin, vmax):
    """Cast to the image type (integers rounded half away from zero) and clip per image, as nilearn."""
    dtype = np.dtype(dtype)
    if dtype.kind != "f":
        out = xp.where(out > 0, xp.floor(out + 0.5), xp.ceil(out - 0.5))
    out = out.astype(dtype)
    out = xp.minimum(xp.maximum(out, xp.asarray(vmin, dtype=dtype)[m]), xp.asarray(vmax, dtype=dtype)[m])
    return out.astype(xp.float64)


def resample_sparse(images, ids, shape, grid_affine):
    """Resample many images onto the grid, at the voxels they reach: sorted ``(key, value)`` entries.

    Parameters
    ----------
    images : list of SparseImage
        Images that the engine (``_engine.support_entries``) sends to the separable passes or takes as they are, all of one
        geometry group (same shape, affine, order and type), or on the grid.
    ids : list of int
        The chunk's number of each image (``key = id * grid size + voxel``).
    shape, grid_affine :
        The atlas grid.

    Returns
    -------
    key : array of int64
        ``id * prod(shape) + linear voxel index``, ascending.
    value : array of float64
        The resampled value (after the cast and clip); zeros of the cast may remain (the caller drops them).
    """
    xp = backend.xp()
    shape = tuple(int(s) for s in shape)
    G = int(np.prod(shape))
    first = images[0]
    nin = int(np.prod(first.shape))
    counts = np.array([im.nnz for im in images], np.int64)
    ids = np.asarray(ids, np.int64)
    base = np.repeat(ids, counts)
    entries = [im.entries() for im in images]
    flat = np.concatenate([e[0] for e in entries]) if len(images) else np.zeros(0, np.int64)
    vals = np.concatenate([e[1] for e in entries]) if len(images) else np.zeros(0)
    if on_grid(first.shape, first.affine, shape, grid_affine):
        # nilearn keeps the image as it is: no interpolation, no clip
        return xp.asarray(base * G + flat), xp.asarray(vals.astype(np.float64))
    zoom, offset = zoom_shift(first.affine, grid_affine)
    key = xp.asarray(base * nin + flat)  # one host -> device copy of the chunk's entries
    val = xp.asarray(vals.astype(np.float64))
    sizes = tuple(first.shape)
    for axis in (2, 0, 1):
        table = _device_axis_table(int(first.shape[axis]), shape[axis], float(zoom[axis]), float(offset[axis]),
                                   first.order, backend.device_id() if backend.get_backend() == "gpu" else -1)
        key, val, sizes = _axis_pass(xp, key, val, sizes, axis, table, first.order, zoom[axis] < 0,
                                     int(ids.max()) + 1)
    m = key // G
    # per image, by its position in ids: clip bounds
    pos = np.full(int(ids.max()) + 1 if ids.size else 1, 0, np.int64)
    pos[ids] = np.arange(len(ids))
    vmin = np.array([im.vmin for im in images])[pos]
    vmax = np.array([im.vmax for im in images])[pos]
    return key, _finish_values(xp, val, first.dtype, m, vmin, vmax)  # zeros of the cast included


def resample_dense(image, image_id, shape, grid_affine):
    """:func:`resample_sparse` for one mostly-nonzero image, with the same per-voxel arithmetic done on
    dense boxes (the same taps and weights, products and sums in the same order: the same bits).

    Each pass (z, then x, then y) computes ``low * w_low + high * w_high`` for every output voxel of the
    box the image's nonzero voxels reach along that axis; voxels whose taps are zero come out as 0,
    which the sparse passes never produce, and are dropped at the end.
    """
    xp = backend.xp()
    shape = tuple(int(s) for s in shape)
    G = int(np.prod(shape))
    zoom, offset = zoom_shift(image.affine, grid_affine)
    data = np.asarray(image.dense())
    nz = [np.flatnonzero(np.any(data != 0, axis=tuple(b for b in range(3) if b != a))) for a in range(3)]
    a = xp.asarray(data[nz[0][0]:nz[0][-1] + 1, nz[1][0]:nz[1][-1] + 1, nz[2][0]:nz[2][-1] + 1]).astype(xp.float64)
    origin = [int(v[0]) for v in nz]
    out_origin = [0, 0, 0]
    for axis in (2, 0, 1):
        n_in = int(image.shape[axis])
        _, _, w_low, w_high, tap, inside = _axis_table(n_in, shape[axis], float(zoom[axis]), float(offset[axis]),
                                                       image.order)
        lo_in, hi_in = origin[axis], origin[axis] + a.shape[axis] - 1
        # the output voxels that read the box: low tap (or nearest voxel) in [lo_in - 1, hi_in]
        reach = inside & (tap >= lo_in - (1 if image.order == 1 else 0)) & (tap <= hi_in)
        t = np.flatnonzero(reach)
        if t.size == 0:
            return xp.zeros(0, xp.int64), xp.zeros(0, xp.float64)
        t = np.arange(t[0], t[-1] + 1)
        bshape = [1, 1, 1]
        bshape[axis] = -1
        low = tap[t] - lo_in
        if image.order == 0:
            ok = inside[t] & (low >= 0) & (low < a.shape[axis])
            out = xp.take(a, xp.asarray(np.clip(low, 0, a.shape[axis] - 1)), axis=axis)
            out *= xp.asarray(ok.astype(np.float64).reshape(bshape))
        else:
            padded = xp.concatenate([xp.zeros_like(xp.take(a, xp.asarray([0]), axis=axis)), a,
                                     xp.zeros_like(xp.take(a, xp.asarray([0]), axis=axis))], axis=axis)
            out = xp.take(padded, xp.asarray(low + 1), axis=axis)  # padded: tap -1 and tap n read zeros
            out *= xp.asarray(w_low[t].reshape(bshape))
            high = xp.take(padded, xp.asarray(low + 2), axis=axis)
            high *= xp.asarray(w_high[t].reshape(bshape))
            out += high
        a = out
        out_origin[axis] = int(t[0])
        origin[axis] = int(t[0])
    idx = xp.flatnonzero(a)
    sub = xp.stack(xp.unravel_index(idx, a.shape))
    lin = ((sub[0] + out_origin[0]) * shape[1] + sub[1] + out_origin[1]) * shape[2] + sub[2] + out_origin[2]
    key = lin + image_id * G
    vals = a.ravel()[idx]
    vals = _finish_values(xp, vals, image.dtype, xp.zeros(vals.size, xp.int64), np.array([image.vmin]),
                          np.array([image.vmax]))
    keep = vals != 0
    return key[keep], vals[keep]


# ------------------------------------------------------------------ dense fallback
class ResampledImage:
    """A box of the atlas grid holding a resampled image (host).

    Attributes
    ----------
    data : ndarray (3D)
        The resampled values inside the box.
    origin : ndarray of int, shape (3,)
        Grid voxel index of the box's first voxel.
    """

    __slots__ = ("data", "origin")

    def __init__(self, data, origin):
        self.data = data
        self.origin = np.asarray(origin, dtype=np.int64)

    @property
    def empty(self) -> bool:
        return self.data.size == 0


def _support_box(data, margin):
    nz = np.nonzero(np.any(data != 0, axis=(1, 2)))[0]
    if len(nz) == 0:
        return None
    lo, hi = [], []
    for axis in range(3):
        other = tuple(a for a in range(3) if a != axis)
        idx = np.nonzero(np.any(data != 0, axis=other))[0]
        lo.append(max(int(idx[0]) - margin, 0))
        hi.append(min(int(idx[-1]) + margin, data.shape[axis] - 1))
    return np.array(lo), np.array(hi)


def resample_to_grid(data, affine, shape, grid_affine) -> ResampledImage:
    """Resample a 3D image onto the grid with scipy's ``affine_transform``, inside the box it can reach (host).

    The path for oblique images and for integer images the separable passes cannot round as scipy
    does. Values equal nilearn's ``resample_to_img`` on the whole grid to ~1e-15 relative (the
    box's offset is computed from the box's corner, so the last bit can differ).

    Returns
    -------
    ResampledImage
        The reachable box of the grid (empty when the image is all zero or off the grid).
    """
    import scipy.ndimage as ndi

    shape = tuple(int(s) for s in shape)
    data = np.asarray(data)
    if data.dtype == bool:
        data = data.astype(np.uint8)
    if on_grid(data.shape, affine, shape, grid_affine):
        return ResampledImage(data, np.zeros(3))
    order = _interpolation_order(data)
    box = _support_box(data, 2)
    if box is None:
        return ResampledImage(np.zeros((0, 0, 0), data.dtype), np.zeros(3))
    clo, chi = box
    M = np.eye(4) if np.array_equal(affine, grid_affine) else np.linalg.inv(affine) @ grid_affine
    from nibabel.affines import apply_affine

    corners = np.array([[x, y, z] for x in (clo[0] - 1, chi[0] + 1)
                        for y in (clo[1] - 1, chi[1] + 1) for z in (clo[2] - 1, chi[2] + 1)], np.float64)
    tc = apply_affine(np.linalg.inv(M), corners).T
    tlo = np.maximum(np.floor(tc.min(axis=1)).astype(np.int64) - 1, 0)
    thi = np.minimum(np.ceil(tc.max(axis=1)).astype(np.int64) + 1, np.array(shape) - 1)
    if np.any(thi < tlo):
        return ResampledImage(np.zeros((0, 0, 0), data.dtype), np.zeros(3))
    out_shape = tuple(int(s) for s in thi - tlo + 1)
    crop = np.ascontiguousarray(data[clo[0]:chi[0] + 1, clo[1]:chi[1] + 1, clo[2]:chi[2] + 1])
    matrix = M[:3, :3]
    offset = M[:3, :3] @ tlo + M[:3, 3] - clo
    if np.all(np.diag(np.diag(matrix)) == matrix):
        matrix = np.diag(matrix)  # as nilearn does: scipy's zoom/shift path
    work = np.float64 if data.dtype.kind == "f" else data.dtype  # floats interpolated in float64, as scipy does
    out = ndi.affine_transform(crop.astype(work, copy=False), matrix, offset=tuple(float(o) for o in offset),
                               output_shape=out_shape, output=work, order=order, mode="constant",
                               cval=0.0).astype(data.dtype, copy=False)
    vmin = min(float(np.min(data)), 0.0)
    vmax = max(float(np.max(data)), 0.0)
    return ResampledImage(np.clip(out, vmin, vmax), tlo)
