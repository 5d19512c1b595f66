"""Pulling an image onto a target grid through a point-mapping transform, as ANTs resamples
(``antsApplyTransforms`` / ``ants.apply_transforms``, ITK's ``ResampleImageFilter``): dense (a NIfTI image in, one
out) and sparse (the engine's entries of many maps in, the target voxels they reach out). One code path for
NumPy and CuPy (the backend's array module).

A transform here is anything with ``map_points(xyz_ras_mm) -> xyz_ras_mm`` that maps a point of the *target*
space to where it lies in the *source* space (an :class:`gpusiibra._itk.ITKTransform` read from TemplateFlow's
``tpl-<target>_from-<source>_mode-image_xfm.h5``), and, for the sparse pull to bound its work, optionally
``preimage_box(lo, hi)``: a target-space box holding every point it sends into the source-space box [lo, hi]
(``lo``, ``hi``: (3,) or (m, 3) arrays). Without it, every map's box is the whole target grid.

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

__all__ = ["pull_image", "pull_array", "pull_sparse", "target_boxes", "source_index"]

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
    xp = _xp_of(vox)
    ta = xp.asarray(np.asarray(target_affine, np.float64))
    inv = xp.asarray(np.linalg.inv(np.asarray(source_affine, np.float64)))
    mm = vox.astype(xp.float64) @ ta[:3, :3].T + ta[:3, 3]
    mm = transform.map_points(mm)
    return mm @ inv[:3, :3].T + inv[:3, 3]


def _lookup(xp, buf, idx, lo, dims, offset):
    """Values of the voxels ``idx`` (p, 3) in boxes (``lo``, ``dims``: (p, 3) or (3,); ``offset``: where each box
    starts in the flat ``buf``, C order); 0 outside a box (no nonzero voxel lies there)."""
    rel = idx - lo
    ok = xp.all((rel >= 0) & (rel < dims), axis=1)
    lin = offset + (rel[:, 0] * dims[..., 1] + rel[:, 1]) * dims[..., 2] + rel[:, 2]
    v = buf[xp.where(ok, lin, 0)]
    return xp.where(ok, v, 0)


def _sample(xp, buf, k, n, order, lo, dims, offset):
    """ITK's interpolation of the source (shape ``n``) at continuous indices ``k`` (p, 3), values taken from boxes
    of ``buf`` (:func:`_lookup`); float64 (nearest: ``buf``'s type)."""
    nn = xp.asarray(np.asarray(n, np.float64))
    inside = xp.all((k >= -0.5) & (k < nn - 0.5), axis=1)
    top = xp.asarray(np.asarray(n, np.int64) - 1)
    if order == 0:
        idx = xp.minimum(xp.floor(k + 0.5).astype(xp.int64), top)
        val = _lookup(xp, buf, idx, lo, dims, offset)
        return xp.where(inside, val, 0).astype(buf.dtype)
    kc = xp.minimum(xp.maximum(k, 0.0), nn - 1.0)
    base = xp.minimum(xp.floor(kc).astype(xp.int64), xp.maximum(top - 1, 0))
    frac = kc - base
    out = xp.zeros(k.shape[0], xp.float64)
    for corner in range(8):
        o = xp.asarray([(corner >> 2) & 1, (corner >> 1) & 1, corner & 1])
        w = xp.prod(xp.where(o == 1, frac, 1.0 - frac), axis=1)
        idx = xp.minimum(base + o, top)
        out = out + w * _lookup(xp, buf, idx, lo, dims, offset)
    return xp.where(inside, out, 0.0)


def _order_of(order, data):
    if order not in (0, 1):
        raise ValueError(f"order must be 0 (nearest) or 1 (linear), got {order!r}")
    return order


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
    array of ``target_shape``: float64 (order 1) or ``data``'s type (order 0).
    """
    xp = _xp_of(data)
    order = _order_of(order, data)
    shape = tuple(int(s) for s in target_shape)
    n = tuple(int(s) for s in data.shape[:3])
    buf = data.reshape(-1)
    if order == 1:
        buf = buf.astype(xp.float64)
    dims = xp.asarray(np.asarray(n, np.int64))
    lo = xp.zeros(3, xp.int64)
    total = int(np.prod(shape))
    out = xp.zeros(total, xp.float64 if order == 1 else buf.dtype)
    for start in range(0, total, _BLOCK):
        lin = xp.arange(start, min(start + _BLOCK, total), dtype=xp.int64)
        vox = xp.stack(xp.unravel_index(lin, shape), axis=1)
        k = source_index(transform, vox, target_affine, source_affine)
        out[start:start + lin.size] = _sample(xp, buf, k, n, order, lo, dims, 0)
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
        raise ValueError(f"a 3-D image is pulled, got shape {data.shape}")
    if order == 1 and data.dtype.kind not in "f":
        data = data.astype(np.float64)
    out = backend.to_host(pull_array(xp.asarray(np.ascontiguousarray(data)), img.affine, transform, target_shape,
                                     target_affine, order))
    if dtype is None:
        dtype = np.float32 if order == 1 else data.dtype
    res = nib.Nifti1Image(out.astype(dtype), np.asarray(target_affine, np.float64))
    res.set_qform(res.affine, 1)
    res.set_sform(res.affine, 1)
    return res


# ------------------------------------------------------------------ sparse (the engine's entries)
def _corners(lo, hi):
    """The 8 corners (m, 8, 3) of boxes lo, hi (m, 3)."""
    sel = np.array([[(c >> 2) & 1, (c >> 1) & 1, c & 1] for c in range(8)], bool)
    return np.where(sel[None], hi[:, None, :], lo[:, None, :])


def target_boxes(transform, lo_vox, hi_vox, source_affine, target_shape, target_affine):
    """The box of target voxels (inclusive, clipped to the grid; ``lo > hi`` on some axis when empty) that may
    take a nonzero value from source voxels in the boxes [lo_vox, hi_vox] ((m, 3) int, host): every target voxel
    whose source index ``k`` falls within one voxel of the box. Uses ``transform.preimage_box`` when it has one,
    else the whole grid."""
    lo_vox, hi_vox = np.atleast_2d(lo_vox), np.atleast_2d(hi_vox)
    shape = np.asarray(target_shape, np.int64)
    m = lo_vox.shape[0]
    if not hasattr(transform, "preimage_box"):
        return np.zeros((m, 3), np.int64), np.tile(shape - 1, (m, 1))
    sa = np.asarray(source_affine, np.float64)
    mm = _corners(lo_vox - 1.0, hi_vox + 1.0) @ sa[:3, :3].T + sa[:3, 3]  # within one voxel: a nonzero weight
    lo_mm, hi_mm = transform.preimage_box(mm.min(1), mm.max(1))
    inv = np.linalg.inv(np.asarray(target_affine, np.float64))
    t = _corners(np.asarray(lo_mm), np.asarray(hi_mm)) @ inv[:3, :3].T + inv[:3, 3]
    lo_t = np.maximum(np.floor(t.min(1) - 1e-6), 0).astype(np.int64)
    hi_t = np.minimum(np.ceil(t.max(1) + 1e-6), shape - 1).astype(np.int64)
    return lo_t, hi_t


def _map_boxes(flat, counts, shape):
    """Per map (entries grouped by map, ``counts`` each): the box (lo, hi) of its voxels (host)."""
    ijk = np.stack(np.unravel_index(flat, shape), axis=1)
    starts = np.r_[0, np.cumsum(counts)[:-1]]
    return np.minimum.reduceat(ijk, starts, axis=0), np.maximum.reduceat(ijk, starts, axis=0)


#: (map, target voxel) pairs evaluated at once in the sparse pull
_PAIRS = 1 << 21


def pull_sparse(images, ids, target_shape, target_affine, transform, order=None):
    """Pull many maps (one source geometry) onto the target grid at the voxels they reach: the engine's sorted
    ``(key, value)`` entries, ``key = id * prod(target_shape) + target voxel``.

    The work is bounded by each map's support: its box of nonzero voxels, sent through
    ``transform.preimage_box`` into a box of target voxels; only those are evaluated (with the transform
    computed once per target voxel of the boxes' union). The values equal :func:`pull_array`'s at every voxel
    (the same arithmetic), nonzero ones only.

    Parameters
    ----------
    images : list of SparseImage
        Maps on one grid (shape and affine).
    ids : list of int
        Each map's number in the chunk.
    target_shape, target_affine :
        The target grid.
    transform : object with ``map_points`` (and ``preimage_box``)
        Target-space points -> source-space points (RAS mm).
    order : {None, 0, 1}
        None: each group's ``SparseImage.order`` (0 for a {0, 1} mask, as siibra), else as given.

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
    if not keep:
        return xp.zeros(0, xp.int64), xp.zeros(0, xp.float64)
    first = images[keep[0]]
    src = tuple(int(s) for s in first.shape)
    for i in keep:
        if tuple(images[i].shape) != src or not np.allclose(images[i].affine, first.affine, rtol=0, atol=0):
            raise ValueError("pull_sparse takes maps of one grid: group them by shape and affine first")
    orders = {images[i].order if order is None else order for i in keep}
    if len(orders) > 1:  # masks (nearest) and maps (linear) in one chunk: each their own pass
        parts = [pull_sparse([images[i] for i in keep if images[i].order == o], ids[[i for i in keep
                                                                                    if images[i].order == o]],
                             shape, target_affine, transform, o) for o in sorted(orders)]
        key = xp.concatenate([p[0] for p in parts])
        val = xp.concatenate([p[1] for p in parts])
        o = xp.argsort(key)
        return key[o], val[o]
    the_order = orders.pop()
    entries = [images[i].entries() for i in keep]
    counts = np.array([e[0].size for e in entries], np.int64)
    flat = np.concatenate([e[0] for e in entries])
    vals = np.concatenate([e[1] for e in entries])
    lo_s, hi_s = _map_boxes(flat, counts, src)
    lo_t, hi_t = target_boxes(transform, lo_s, hi_s, first.affine, shape, target_affine)
    dims_t = np.maximum(hi_t - lo_t + 1, 0)
    size_t = dims_t.prod(1)
    # each map's values in a dense box of its own (C order), all boxes in one flat buffer
    dims_s = hi_s - lo_s + 1
    size_s = dims_s.prod(1)
    off_s = np.r_[0, np.cumsum(size_s)[:-1]]
    m_of = np.repeat(np.arange(len(keep)), counts)
    ijk = np.stack(np.unravel_index(flat, src), axis=1) - lo_s[m_of]
    pos = off_s[m_of] + (ijk[:, 0] * dims_s[m_of, 1] + ijk[:, 1]) * dims_s[m_of, 2] + ijk[:, 2]
    buf = xp.zeros(int(size_s.sum()), xp.float64 if the_order == 1 else vals.dtype)
    buf[xp.asarray(pos)] = xp.asarray(vals if the_order == 0 else vals.astype(np.float64))
    # the transform once per voxel of the union of the target boxes
    live = size_t > 0
    if not live.any():
        return xp.zeros(0, xp.int64), xp.zeros(0, xp.float64)
    u_lo, u_hi = lo_t[live].min(0), hi_t[live].max(0)
    u_dims = u_hi - u_lo + 1
    u_total = int(u_dims.prod())
    kk = xp.empty((u_total, 3), xp.float64)
    for start in range(0, u_total, _BLOCK):
        lin = xp.arange(start, min(start + _BLOCK, u_total), dtype=xp.int64)
        vox = xp.stack(xp.unravel_index(lin, tuple(int(d) for d in u_dims)), axis=1) + xp.asarray(u_lo)
        kk[start:start + lin.size] = source_index(transform, vox, target_affine, first.affine)
    lo_s_d, dims_s_d, off_s_d = xp.asarray(lo_s), xp.asarray(dims_s), xp.asarray(off_s)
    lo_t_d, dims_t_d = xp.asarray(lo_t), xp.asarray(dims_t)
    u_lo_d = xp.asarray(u_lo)
    keys, values = [], []
    # maps in batches of about _PAIRS (map, target voxel) pairs: a loop over batches, not over maps or voxels
    csum = np.cumsum(size_t)
    start_m = 0
    while start_m < len(keep):
        end_m = int(np.searchsorted(csum, (csum[start_m - 1] if start_m else 0) + _PAIRS, side="right"))
        end_m = max(end_m, start_m + 1)
        sel = np.arange(start_m, min(end_m, len(keep)))
        start_m = int(sel[-1]) + 1
        n_pairs = int(size_t[sel].sum())
        if n_pairs == 0:
            continue
        ends = np.cumsum(size_t[sel])
        pair = xp.arange(n_pairs, dtype=xp.int64)
        which = xp.searchsorted(xp.asarray(ends), pair, side="right")  # the pair's map among sel (ragged ranges)
        local = pair - xp.asarray(np.r_[0, ends[:-1]])[which]
        m = xp.asarray(sel)[which]
        d = dims_t_d[m]
        vox = xp.stack([local // (d[:, 1] * d[:, 2]), (local // d[:, 2]) % d[:, 1], local % d[:, 2]], axis=1)
        vox = vox + lo_t_d[m]
        rel = vox - u_lo_d
        k = kk[(rel[:, 0] * int(u_dims[1]) + rel[:, 1]) * int(u_dims[2]) + rel[:, 2]]
        v = _sample(xp, buf, k, src, the_order, lo_s_d[m], dims_s_d[m], off_s_d[m])
        nz = xp.flatnonzero(v != 0)
        key = xp.asarray(ids[keep])[m[nz]] * G + ((vox[nz, 0] * shape[1] + vox[nz, 1]) * shape[2] + vox[nz, 2])
        keys.append(key)
        values.append(v[nz].astype(xp.float64))
    key = xp.concatenate(keys) if keys else xp.zeros(0, xp.int64)
    val = xp.concatenate(values) if values else xp.zeros(0, xp.float64)
    if not np.all(np.diff(ids[keep]) > 0):
        o = xp.argsort(key)
        key, val = key[o], val[o]
    return key, val
