"""Assignment of images and points to every region of a sparse atlas (SPEC sections 2-4).

The statistics are siibra's (``SparseMap._assign_volume`` and
``Map._assign_points``), computed from sums instead of dense boxes:

- per region (once per atlas and threshold): ``Sp``, ``Spp``, ``nr``, the
  maximum, the bounding box;
- per component: ``Sx``, ``Sxx``, ``nc``, its box and centroid;
- per (component, region) pair: ``Spx`` and the intersection ``I``
  (:func:`gpusiibra.kernels.accumulate`).

Everything here is backend-neutral array code: ``xp`` and ``ndi`` come from
:mod:`gpusiibra.backend`; only the accumulation has per-backend code.
"""
from __future__ import annotations

import warnings
from functools import lru_cache

import numpy as np
import pandas as pd
import scipy.ndimage

from . import backend, kernels
from .resample import resample_to_grid

__all__ = [
    "COLUMNS",
    "IMAGE_COLUMNS",
    "POINT_COLUMNS",
    "STRUCTURE_18",
    "region_stats",
    "image_components",
    "assign_image_data",
    "assign_many",
    "assign_points",
    "gaussian_profile",
    "pair_statistics",
    "make_table",
]

#: siibra's ``Map.assign`` columns, in order (empty ones are dropped from a table)
COLUMNS = [
    "input structure", "time", "centroid", "volume", "fragment", "region",
    "correlation", "intersection over union", "map value", "map weighted mean",
    "map containedness", "input weighted mean", "input containedness",
]
IMAGE_COLUMNS = [c for c in COLUMNS if c not in ("time", "fragment")]
POINT_COLUMNS = ["input structure", "centroid", "volume", "region", "map value"]
_STAT_COLUMNS = IMAGE_COLUMNS[4:]

#: 18-connectivity (faces and edges), siibra's ``connectivity=2`` in 3D
STRUCTURE_18 = scipy.ndimage.generate_binary_structure(3, 2)


# ----------------------------------------------------------------- regions
def region_stats(index, lower_threshold=0.0) -> dict:
    """Per-region sums of the thresholded maps (host arrays, cached on the index).

    Returns
    -------
    dict
        ``Sp``, ``Spp`` (float64), ``nr`` (int64), ``max`` (float64),
        ``lo``, ``hi`` (int64, (R, 3), inclusive bounding box before thresholding).
    """
    cache = index.__dict__.setdefault("_region_stats", {})
    key = float(lower_threshold)
    if key not in cache:
        R = index.num_volumes
        counts = np.diff(index.region_ptr)
        reg = np.repeat(np.arange(R), counts)
        v = index.region_value.astype(np.float64)
        if key > 0:
            v = np.where(v < key, 0.0, v)
        mx = np.zeros(R)
        nonempty = counts > 0
        if v.size:
            mx[nonempty] = np.maximum.reduceat(v, index.region_ptr[:-1][nonempty])
        cache[key] = dict(
            Sp=np.bincount(reg, v, minlength=R),
            Spp=np.bincount(reg, v * v, minlength=R),
            nr=np.bincount(reg, (v > 0).astype(np.float64), minlength=R).astype(np.int64),
            max=mx,
            lo=index.bboxes[:, 0, :].copy(),
            hi=index.bboxes[:, 1, :].copy(),
        )
    return cache[key]


# -------------------------------------------------------------- components
class Components:
    """Components of one or many images on the atlas grid, their voxels grouped by component.

    Attributes (host arrays have one entry per component, device arrays one per voxel)
    ----------
    label : ndarray of int64      siibra's ``input structure`` (the component's label)
    count, nc : ndarray of int64  voxels, and voxels with x > 0
    Sx, Sxx : ndarray of float64  sums of x and x^2
    lo, hi : ndarray (K, 3)       box: min voxel index and max + 1 (siibra's convention)
    centroid : ndarray (K, 3)     mm, rounded to 2 decimals
    voxel_lin, comp, x : arrays (backend)   per voxel: grid linear index, component 0..K-1, value
    """

    def __init__(self, **kw):
        self.__dict__.update(kw)

    def __len__(self):
        return len(self.label)


def image_components(res, grid_shape, grid_affine, split_components=True, minsize_voxel=1) -> Components:
    """Label a resampled image and summarise each component (siibra's ``connected_components``).

    Parameters
    ----------
    res : ResampledImage
        The image on a box of the grid.
    grid_shape, grid_affine :
        The atlas grid.
    split_components : bool
        True: 18-connected components of ``q > 0``, numbered 1..K in raster
        order. False: one structure, number 1, of every voxel where ``q != 0``.
    minsize_voxel : int
        Components with at most this many voxels are dropped.
    """
    xp, ndi = backend.xp(), backend.ndi()
    empty = Components(label=np.zeros(0, np.int64), count=np.zeros(0, np.int64), nc=np.zeros(0, np.int64),
                       Sx=np.zeros(0), Sxx=np.zeros(0), lo=np.zeros((0, 3), np.int64), hi=np.zeros((0, 3), np.int64),
                       centroid=np.zeros((0, 3)), voxel_lin=xp.zeros(0, xp.int64), comp=xp.zeros(0, xp.int64),
                       x=xp.zeros(0, xp.float64), unit=np.zeros(0))
    if res.empty:
        return empty
    q = res.data
    if split_components:
        labels, K = ndi.label(q > 0, structure=xp.asarray(STRUCTURE_18))
        K = int(K)
    else:
        labels = (q != 0).astype(xp.int32)
        K = int(bool(labels.any()))
    if K == 0:
        return empty
    flat = labels.ravel()
    vox = xp.flatnonzero(flat)
    lab = flat[vox].astype(xp.int64)
    # voxels grouped by component, raster order inside each
    order = xp.argsort(lab, kind="stable") if backend.get_backend() == "cpu" else xp.argsort(lab * flat.size + vox)
    vox, lab = vox[order], lab[order]
    x = q.ravel()[vox].astype(xp.float64)
    unit = _unit(float(xp.abs(x).max())) if x.size else 1.0
    if unit != 1.0:
        x *= 1.0 / unit  # exact (a power of two): sums of x and x^2 stay in float64's range
    sub_shape = q.shape
    ijk = xp.stack(xp.unravel_index(vox, sub_shape), axis=1) + xp.asarray(res.origin)
    n = K + 1
    count = xp.bincount(lab, minlength=n)[1:]
    Sx = xp.bincount(lab, x, minlength=n)[1:]
    Sxx = xp.bincount(lab, x * x, minlength=n)[1:]
    nc = xp.bincount(lab, (x > 0).astype(xp.float64), minlength=n)[1:]
    sums = xp.stack([xp.bincount(lab, ijk[:, a].astype(xp.float64), minlength=n)[1:] for a in range(3)], axis=1)
    # boxes: voxels are grouped by component
    lo, hi = kernels.segment_min_max(ijk, lab - 1, K)
    count, Sx, Sxx, nc, sums, lo, hi = (backend.to_host(a) for a in (count, Sx, Sxx, nc, sums, lo, hi))
    mean_ijk = sums / count[:, None]
    centroid = np.round((grid_affine @ np.c_[mean_ijk, np.ones(K)].T)[:3].T, 2)
    keep = np.flatnonzero(count > minsize_voxel)
    label = np.arange(1, n, dtype=np.int64)
    lin = ijk[:, 0] * (grid_shape[1] * grid_shape[2]) + ijk[:, 1] * grid_shape[2] + ijk[:, 2]
    if len(keep) < K:
        # drop the voxels of small components and renumber the rest 0..len(keep)-1
        newid = np.full(n, -1, np.int64)
        newid[keep + 1] = np.arange(len(keep))
        newid_x = xp.asarray(newid)[lab]
        sel = newid_x >= 0
        lin, x, comp = lin[sel], x[sel], newid_x[sel]
    else:
        comp = lab - 1
    return Components(label=label[keep], count=count[keep].astype(np.int64), nc=nc[keep].astype(np.int64),
                      Sx=Sx[keep], Sxx=Sxx[keep], lo=lo[keep].astype(np.int64), hi=hi[keep].astype(np.int64) + 1,
                      centroid=centroid[keep], voxel_lin=lin, comp=comp, x=x, unit=np.full(len(keep), unit))


def _unit(peak: float) -> float:
    """A power of two by which values of magnitude up to ``peak`` are divided so that their squares and
    sums neither overflow nor underflow float64 (1 for ordinary values: nothing changes)."""
    if peak == 0 or 2.0 ** -200 < peak < 2.0 ** 200:
        return 1.0
    return 2.0 ** np.frexp(peak)[1]


# -------------------------------------------------------------- statistics
def pair_statistics(comps: Components, rstats: dict, pair_comp, pair_region, spx, inter) -> dict:
    """siibra's seven statistics for (component, region) pairs, from their sums (host arrays).

    Parameters
    ----------
    comps : Components
    rstats : dict
        :func:`region_stats` of the atlas at the threshold in use.
    pair_comp, pair_region : ndarray of int
        The pairs (component position in ``comps``, region index).
    spx, inter : ndarray
        ``sum p x`` and ``#{p > 0, x > 0}`` of each pair.

    Returns
    -------
    dict of ndarray
        ``pair_comp`` and ``pair_region`` of the pairs siibra reports (see
        :func:`siibra_boxes_intersect`), and one array per statistic column.
    """
    c, r = np.asarray(pair_comp, np.int64), np.asarray(pair_region, np.int64)
    keep = siibra_boxes_intersect(rstats["lo"][r], rstats["hi"][r], comps.lo[c], comps.hi[c])
    if not keep.all():
        c, r, spx, inter = c[keep], r[keep], np.asarray(spx)[keep], np.asarray(inter)[keep]
    spx = np.asarray(spx, np.float64)
    inter = np.asarray(inter, np.float64)
    Sp, Spp, nr = rstats["Sp"][r], rstats["Spp"][r], rstats["nr"][r].astype(np.float64)
    Sx, Sxx, nc = comps.Sx[c], comps.Sxx[c], comps.nc[c].astype(np.float64)
    lo = np.minimum(rstats["lo"][r], comps.lo[c])
    hi = np.maximum(rstats["hi"][r], comps.hi[c])
    N = np.prod((hi - lo + 1).astype(np.float64), axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        corr = (spx - Sp * Sx / N) / np.sqrt(Spp - Sp * Sp / N) / np.sqrt(Sxx - Sx * Sx / N)
        return {
            "pair_comp": c,
            "pair_region": r,
            "correlation": corr,
            "intersection over union": inter / (nr + nc - inter),
            "map value": rstats["max"][r],
            "map weighted mean": spx / Sx,
            "map containedness": inter / nr,
            "input weighted mean": spx / Sp * (comps.unit[c] if hasattr(comps, "unit") else 1.0),
            "input containedness": inter / nc,
        }


def siibra_boxes_intersect(r_lo, r_hi, c_lo, c_hi) -> np.ndarray:
    """siibra's ``BoundingBox.intersection(...) is not None`` for region and component boxes, vectorized.

    siibra skips a (component, region) pair whose boxes do not intersect by its
    own rule, even where the maps overlap: per axis it sorts the four corners
    ``[region min, component min, region max, component max]`` (stable) and
    finds no intersection when the second is a max corner (or a point equal to
    one in all three coordinates) or the third a min corner (likewise). A
    result that is a flat box with two zero extents counts as no intersection.
    Region boxes are inclusive (min, max); component boxes are (min, max + 1).
    """
    P = np.stack([r_lo, c_lo, r_hi, c_hi], axis=1).astype(np.float64)  # (n, 4, 3)
    n = len(P)
    if n == 0:
        return np.zeros(0, bool)
    eq = np.all(P[:, :, None, :] == P[:, None, :, :], axis=3)  # (n, 4, 4): corners equal as points
    ok = np.ones(n, bool)
    res_lo = np.empty((n, 3))
    res_hi = np.empty((n, 3))
    rows = np.arange(n)
    for d in range(3):
        order = np.argsort(P[:, :, d], axis=1, kind="stable")
        ia, ib = order[:, 1], order[:, 2]
        a_is_max = (ia >= 2) | eq[rows, ia, 2] | eq[rows, ia, 3]
        b_is_min = (ib <= 1) | eq[rows, ib, 0] | eq[rows, ib, 1]
        ok &= ~(a_is_max | b_is_min)
        res_lo[:, d] = P[rows, ia, d]
        res_hi[:, d] = P[rows, ib, d]
    flat = res_lo == res_hi
    same = flat.all(axis=1)
    ok &= ~(~same & (flat.sum(axis=1) == 2))
    return ok


def make_table(columns: dict, names, kind="image") -> pd.DataFrame:
    """The assignment DataFrame: siibra's columns in siibra's order, all-empty ones dropped.

    ``columns`` holds ``input structure``, ``centroid`` (list of tuples),
    ``volume`` and any statistics; ``region`` is filled from ``names``.
    An empty result keeps the columns of its kind (image or point rows).
    """
    n = len(columns.get("volume", ()))
    if n == 0:
        cols = IMAGE_COLUMNS if kind == "image" else POINT_COLUMNS
        if "time" in columns:
            cols = cols[:1] + ["time"] + cols[1:]
        return pd.DataFrame({c: pd.Series(dtype=_dtype(c)) for c in cols})
    data = dict(columns)
    vol = np.asarray(data["volume"], np.int64)
    data["volume"] = vol
    data["region"] = np.asarray(names, dtype=object)[vol]
    df = pd.DataFrame({c: data[c] for c in COLUMNS if c in data})
    return df.dropna(axis="columns", how="all").reset_index(drop=True)


def _dtype(col):
    if col in ("input structure", "volume", "time"):
        return "int64"
    if col in ("centroid", "region"):
        return "object"
    return "float64"


# ------------------------------------------------------------------ images
def assign_image_data(smap, data, affine, minsize_voxel=1, lower_threshold=0.0, split_components=True) -> dict:
    """Assign one 3D image (array and affine) to every region; returns table columns.

    The work is proportional to the image's support and the atlas entries it
    touches: only the reachable part of the grid is resampled and labelled.
    """
    return assign_many(smap, [(data, affine)], minsize_voxel, lower_threshold, split_components)[0]


def assign_many(smap, images, minsize_voxel=1, lower_threshold=0.0, split_components=True) -> list:
    """Assign many 3D images at once; one accumulation over all their components.

    Parameters
    ----------
    smap : SparseMap
    images : list of (data, affine)
        3D arrays (host) and their affines.

    Returns
    -------
    list of dict
        The table columns of each image, as :func:`assign_image_data` gives them.
    """
    index = smap.sparse_index
    xp = backend.xp()
    res = [resample_to_grid(d, a, index.shape, index.affine) for d, a in images]
    status = ["outside" if r.empty and np.any(d != 0) else "ok" for r, (d, _) in zip(res, images)]
    per = [image_components(r, index.shape, index.affine, split_components, minsize_voxel) for r in res]
    sizes = np.array([len(c) for c in per], np.int64)
    if sizes.sum() == 0:
        return [{"input structure": [], "centroid": [], "volume": [], "_status": st} for st in status]
    first = np.r_[0, np.cumsum(sizes)[:-1]]
    used = [i for i in range(len(per)) if sizes[i]]
    lin = xp.concatenate([per[i].voxel_lin for i in used])
    comp = xp.concatenate([per[i].comp + int(first[i]) for i in used])
    x = xp.concatenate([per[i].x for i in used])
    merged = Components(**{k: np.concatenate([getattr(per[i], k) for i in used])
                           for k in ("label", "count", "nc", "Sx", "Sxx", "lo", "hi", "centroid", "unit")})
    pc, pr, spx, inter = kernels.accumulate(index, lin, comp, x, int(sizes.sum()), lower_threshold)
    pc, pr, spx, inter = (backend.to_host(a) for a in (pc, pr, spx, inter))
    cols = _rows(merged, index, lower_threshold, pc, pr, spx, inter)
    image_of_row = np.searchsorted(first, cols.pop("_pair_comp"), side="right") - 1
    out = []
    for i in range(len(per)):
        sel = np.flatnonzero(image_of_row == i)
        out.append({k: ([v[j] for j in sel] if isinstance(v, list) else v[sel]) for k, v in cols.items()})
        out[-1]["_status"] = status[i]
    return out


def _rows(comps, index, lower_threshold, pc, pr, spx, inter):
    pc, pr, spx, inter = (backend.to_host(a) for a in (pc, pr, spx, inter))
    stats = pair_statistics(comps, region_stats(index, lower_threshold), pc, pr, spx, inter)
    pc, pr = stats.pop("pair_comp"), stats.pop("pair_region")
    cents = comps.centroid
    out = {
        "input structure": comps.label[pc],
        "centroid": [tuple(float(v) for v in cents[i]) for i in pc],
        "volume": pr,
        "component voxels": comps.count[pc],
        "_pair_comp": pc,
    }
    out.update(stats)
    return out


# ------------------------------------------------------------------ points
@lru_cache(maxsize=64)
def gaussian_profile(sigma_vox: float):
    """siibra's Gaussian kernel cube, in separable form: ``(g, total)``.

    siibra's kernel is a (2 rad + 1)^3 cube, ``rad = int(3 sigma_vox)``,
    holding a unit impulse blurred by ``scipy.ndimage.gaussian_filter`` (mode
    'nearest', truncate 4.0), divided by its sum. The blur of an impulse is the
    product of scipy's 1D weights ``g``: the cube is
    ``((g[a] * g[b]) * g[c]) / total``, bit for bit, with ``total`` the
    cube's sum. Kept separable, a kernel far wider than the grid costs only
    the part of it that lies on the grid.
    """
    rad = int(3 * sigma_vox)
    impulse = np.zeros(2 * rad + 1)
    impulse[rad] = 1.0
    g = scipy.ndimage.gaussian_filter1d(impulse, sigma_vox, mode="nearest", truncate=4.0)
    g.flags.writeable = False
    if len(g) <= 129:  # the cube's own sum, as siibra takes it
        total = float(np.multiply.outer(np.multiply.outer(g, g), g).sum())
    else:  # the same to a few ulps, without the cube
        total = float(g.sum()) ** 3
    return g, total


def point_voxels(coords_mm, grid_affine):
    """Grid voxel of each point: ``int(inv(A) @ p + 0.5)`` per axis (siibra's rounding, toward zero)."""
    coords = np.atleast_2d(np.asarray(coords_mm, np.float64))
    h = np.c_[coords, np.ones(len(coords))]
    return (np.linalg.inv(grid_affine) @ h.T + 0.5).astype(np.int64)[:3].T


def assign_points(smap, coords_mm, sigma_mm, lower_threshold=0.0) -> dict:
    """Assign points (mm) with per-point uncertainty ``sigma_mm``; returns table columns.

    A point with ``sigma_mm / voxel size < 3`` is looked up exactly (regions with
    value > lower_threshold at its voxel); a wider one becomes siibra's Gaussian
    kernel image, assigned with ``split_components=False``. Points outside the
    grid give no rows and a warning; points on voxels no region covers give no
    rows (SPEC section 6).
    """
    index = smap.sparse_index
    coords = np.asarray(coords_mm, np.float64).reshape(-1, 3)
    n = len(coords)
    sigma = np.broadcast_to(np.asarray(sigma_mm, np.float64), (n,)).copy() if n else np.zeros(0)
    A = index.affine
    scale = float(np.mean([np.linalg.norm(A[:, i]) for i in range(3)]))
    sigma_vox = sigma / scale
    vox = point_voxels(coords, A) if n else np.zeros((0, 3), np.int64)
    shape = np.array(index.shape)
    inside = np.all((vox >= 0) & (vox < shape), axis=1)
    exact = sigma_vox < 3
    outside = np.flatnonzero(exact & ~inside)
    if len(outside):
        warnings.warn(f"{len(outside)} point(s) lie outside the atlas grid and get no assignment "
                      f"(first: {tuple(coords[outside[0]])} mm)", RuntimeWarning, stacklevel=3)
    parts = []
    # exact lookups
    ex = np.flatnonzero(exact)
    if len(ex):
        lin = np.where(inside[ex], np.ravel_multi_index(tuple(np.where(inside[ex, None], vox[ex], 0).T), index.shape), -1)
        p, r, v = (backend.to_host(a) for a in kernels.lookup_points(index, lin, lower_threshold))
        parts.append(dict(point=ex[p], volume=r, stats={"map value": v.astype(np.float64)}))
    # Gaussian kernels
    gk = np.flatnonzero(~exact)
    if len(gk):
        parts.append(_gaussian_point_rows(index, coords, vox, sigma_vox, gk, lower_threshold))
    if not parts:
        return {"input structure": [], "centroid": [], "volume": []}
    point = np.concatenate([q["point"] for q in parts])
    volume = np.concatenate([q["volume"] for q in parts])
    order = np.lexsort((volume, point))
    out = {
        "input structure": point[order],
        "centroid": [tuple(float(c) for c in coords[i]) for i in point[order]],
        "volume": volume[order],
    }
    for col in _STAT_COLUMNS:
        if any(col in q["stats"] for q in parts):
            vals = np.concatenate([q["stats"].get(col, np.full(len(q["point"]), np.nan)) for q in parts])
            out[col] = vals[order]
    return out


def _gaussian_point_rows(index, coords, vox, sigma_vox, which, lower_threshold):
    shape = np.array(index.shape)
    sig, prof_of = np.unique(sigma_vox[which], return_inverse=True)
    profiles = [gaussian_profile(float(s)) for s in sig]
    rads = np.array([(len(g) - 1) // 2 for g, _ in profiles], np.int64)
    corner = vox[which] - rads[prof_of][:, None]
    lo = np.maximum(corner, 0)
    hi = np.minimum(corner + (2 * rads[prof_of] + 1)[:, None], shape)  # exclusive: the cube cut at the grid's edges
    n_vox = np.prod(np.maximum(hi - lo, 0), axis=1)
    usable = n_vox > 1  # siibra drops structures of <= minsize_voxel (1) voxels
    if (n_vox == 0).any():
        warnings.warn(f"{int((n_vox == 0).sum())} uncertain point(s) lie outside the atlas grid and get no assignment",
                      RuntimeWarning, stacklevel=4)
    keep = np.flatnonzero(usable)
    # sums of each cut cube, from its separable factors
    Sx = np.zeros(len(which))
    Sxx = np.zeros(len(which))
    for j in keep:
        g, total = profiles[prof_of[j]]
        f = [g[lo[j, a] - corner[j, a]:hi[j, a] - corner[j, a]] for a in range(3)]
        Sx[j] = f[0].sum() * f[1].sum() * f[2].sum() / total
        Sxx[j] = (f[0] ** 2).sum() * (f[1] ** 2).sum() * (f[2] ** 2).sum() / (total * total)
    comps = Components(label=np.asarray(which)[keep], count=n_vox[keep], nc=n_vox[keep], Sx=Sx[keep], Sxx=Sxx[keep],
                       lo=lo[keep], hi=hi[keep], centroid=coords[np.asarray(which)[keep]])
    pc, pr, spx, inter = kernels.accumulate_gaussian_points(index, corner[keep], lo[keep], hi[keep], prof_of[keep],
                                                            profiles, lower_threshold)
    pc, pr, spx, inter = (backend.to_host(a) for a in (pc, pr, spx, inter))
    stats = pair_statistics(comps, region_stats(index, lower_threshold), pc, pr, spx, inter)
    pc, pr = stats.pop("pair_comp"), stats.pop("pair_region")
    return dict(point=comps.label[pc], volume=pr, stats=stats)
