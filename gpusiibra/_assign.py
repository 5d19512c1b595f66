"""Assignment of images and points to every region of a sparse atlas, and siibra's table.

The statistics are siibra's (``SparseMap._assign_volume`` and
``Map._assign_points``), computed from sums instead of dense boxes
(:mod:`gpusiibra._statistics`). Images go through the chunk engine
(:mod:`gpusiibra._engine`), many at a time; points are looked up exactly, or
become siibra's Gaussian kernel cubes that join the same accumulation.
"""
from __future__ import annotations

import warnings
from functools import lru_cache

import numpy as np
from nibabel.affines import apply_affine, voxel_sizes
from . import _engine, _point_kernels, backend
from ._statistics import Components, labelled_pair_statistics, pair_statistics

__all__ = [
    "COLUMNS",
    "IMAGE_COLUMNS",
    "POINT_COLUMNS",
    "STRUCTURE_18",
    "assign_image_data",
    "assign_many",
    "assign_points",
    "gaussian_profile",
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
STRUCTURE_18 = np.abs(np.indices((3, 3, 3)) - 1).sum(axis=0) <= 2  # scipy's generate_binary_structure(3, 2)


# -------------------------------------------------------------- tables
def make_table(columns: dict, smap, kind="image"):
    """The assignment DataFrame: siibra's columns in siibra's order, all-empty ones dropped.

    ``columns`` holds ``input structure``, ``centroid`` (list of tuples),
    ``volume`` (the region's index in ``smap``) and any statistics; ``volume``, ``fragment`` and
    ``region`` are filled from the map (:meth:`SparseMap.region_fields`).
    An empty result keeps the columns of its kind (image or point rows).
    """
    import pandas as pd  # here: the batch and its readers start without pandas

    n = len(columns.get("volume", ()))
    if n == 0:
        cols = IMAGE_COLUMNS if kind == "image" else POINT_COLUMNS
        if "time" in columns:
            cols = cols[:1] + ["time"] + cols[1:]
        return pd.DataFrame({c: pd.Series(dtype=_dtype(c)) for c in cols})
    data = dict(columns)
    data.update(smap.region_fields(np.asarray(data["volume"], np.int64)))
    df = pd.DataFrame({c: data[c] for c in COLUMNS if c in data})
    return df.dropna(axis="columns", how="all").reset_index(drop=True)


def _dtype(col):
    if col in ("input structure", "volume", "time"):
        return "int64"
    if col in ("centroid", "region"):
        return "object"
    return "float64"


# ------------------------------------------------------------------ images
def assign_image_data(smap, data, affine, minsize_voxel=1, lower_threshold=0.0, split_components=True):
    """Assign one 3D image (array and affine) to every region; returns its :class:`~gpusiibra._engine.MapRows`.

    The work is proportional to the image's support and the atlas entries it
    touches: only the grid voxels the image reaches are resampled and labelled.
    """
    return assign_many(smap, [(data, affine)], minsize_voxel, lower_threshold, split_components)[0]


def assign_many(smap, images, minsize_voxel=1, lower_threshold=0.0, split_components=True) -> list:
    """Assign many 3D images at once (one pass of the chunk engine); returns the table columns of each.

    Parameters
    ----------
    smap : SparseMap
    images : list of (data, affine) or SparseImage
        3D arrays (host) and their affines.

    Returns
    -------
    list of MapRows
        The table columns and the status of each image, as :func:`assign_image_data` gives them.
    """
    res = _engine.assign_chunk(smap, images, minsize_voxel, lower_threshold, split_components)
    return [res.rows_of(i) for i in range(len(images))]


# ------------------------------------------------------------------ points
#: the widest point uncertainty, in voxels of the atlas grid (a profile of 8e6 values, 64 MB)
MAX_SIGMA_VOXELS = 1e6


@lru_cache(maxsize=64)
def gaussian_profile(sigma_vox: float):
    """siibra's Gaussian kernel cube, in separable form: ``(g, total)``.

    siibra's kernel is a (2 rad + 1)^3 cube, ``rad = int(3 sigma_vox)``,
    holding a unit impulse blurred by ``scipy.ndimage.gaussian_filter`` (mode
    'nearest', truncate 4.0), divided by its sum. Sigmas beyond
    :data:`MAX_SIGMA_VOXELS` are refused (the profile alone would not fit in memory). The blur of an impulse is the
    product of scipy's 1D weights ``g``: the cube is
    ``((g[a] * g[b]) * g[c]) / total``, bit for bit, with ``total`` the
    cube's sum. Kept separable, a kernel far wider than the grid costs only
    the part of it that lies on the grid.
    """
    rad = int(3 * sigma_vox)
    # scipy's blur of the impulse is its 1D Gaussian weights (radius int(4 sigma + 0.5) > rad, so the
    # 'nearest' edges see only zeros), read at offsets -rad..rad: computed in O(rad), bit for bit, where
    # filtering the impulse takes O(rad^2) (hours for a sigma of 1e5 voxels)
    radius = int(4.0 * sigma_vox + 0.5)
    x = np.arange(-radius, radius + 1)
    phi = np.exp(-0.5 / (sigma_vox * sigma_vox) * x ** 2)
    g = (phi / phi.sum())[radius - rad:radius + rad + 1]
    g.flags.writeable = False
    if len(g) <= 129:  # the cube's own sum, as siibra takes it
        total = float(_point_kernels.gaussian_cube(g, g, g).sum())
    else:  # the same to a few ulps, without the cube
        total = float(g.sum()) ** 3
    return g, total


def point_voxels(coords_mm, grid_affine):
    """Grid voxel of each point: ``int(inv(A) @ p + 0.5)`` per axis (siibra's rounding, toward zero); a point
    farther than 2**40 voxels from the grid (1e308 mm, say) gets -2**40, outside like any far point."""
    coords = np.atleast_2d(np.asarray(coords_mm, np.float64))
    v = apply_affine(np.linalg.inv(grid_affine), coords) + 0.5
    far = ~np.all(np.abs(v) < 2.0 ** 40, axis=1)
    v[far] = -(2.0 ** 40)
    return v.astype(np.int64)


def assign_points(smap, coords_mm, sigma_mm, lower_threshold=0.0, centroids=True) -> dict:
    """Assign points (mm) with per-point uncertainty ``sigma_mm``; returns table columns.

    A point with ``sigma_mm / voxel size < 3`` is looked up exactly (regions with
    value > lower_threshold at its voxel); a wider one becomes siibra's Gaussian
    kernel image, assigned with ``split_components=False``. Points outside the
    grid give no rows and a warning; points on voxels no region covers give no
    rows (README, "Differences from siibra", 1). Without ``centroids`` the
    ``centroid`` column (a tuple per row) is left out, for callers that have the
    coordinates (a table of a million rows spends seconds making the tuples).
    """
    index = smap.sparse_index
    coords = np.asarray(coords_mm, np.float64).reshape(-1, 3)
    n = len(coords)
    sigma = np.broadcast_to(np.asarray(sigma_mm, np.float64), (n,)).copy() if n else np.zeros(0)
    A = index.affine
    scale = float(np.mean(voxel_sizes(A)))  # siibra's voxel scale: the mean of the axes' voxel sizes
    sigma_vox = sigma / scale
    if n and not np.all(sigma_vox <= MAX_SIGMA_VOXELS):
        from .errors import OptionError

        worst = float(np.max(sigma))
        raise OptionError(f"sigma_mm {worst:g} is wider than gpusiibra supports ({MAX_SIGMA_VOXELS * scale:g} mm "
                          f"on this atlas's {scale:g} mm grid): a point that uncertain covers the whole brain")
    vox = point_voxels(coords, A) if n else np.zeros((0, 3), np.int64)
    shape = np.array(index.shape)
    inside = np.all((vox >= 0) & (vox < shape), axis=1)
    far = np.all(vox == -(2 ** 40), axis=1)
    exact = (sigma_vox < 3) | far  # a point that far is outside whatever its sigma
    outside = np.flatnonzero(exact & ~inside)
    if len(outside):
        warnings.warn(f"{len(outside)} point(s) lie outside the atlas grid and get no assignment "
                      f"(first: ({', '.join(f'{c:g}' for c in coords[outside[0]])}) mm)", RuntimeWarning, stacklevel=4)
    parts = []
    labels = smap.label_values() if _engine.is_labelled(smap) else None
    # exact lookups
    ex = np.flatnonzero(exact)
    if len(ex):
        lin = np.where(inside[ex], np.ravel_multi_index(tuple(np.where(inside[ex, None], vox[ex], 0).T), index.shape), -1)
        p, r, v = (backend.to_host(a) for a in _point_kernels.lookup_points(index, lin, 0.0 if labels is not None
                                                                            else lower_threshold))
        if labels is not None:  # siibra reads the label under the point and keeps it when above the threshold
            v = labels[r]
            p, r, v = p[v > lower_threshold], r[v > lower_threshold], v[v > lower_threshold]
        parts.append(dict(point=ex[p], volume=r, stats={"map value": v.astype(np.float64)}))
    # Gaussian kernels
    gk = np.flatnonzero(~exact)
    if len(gk):
        parts.append(_gaussian_point_rows(index, coords, vox, sigma_vox, gk, lower_threshold, labels))
    if not parts:
        return {"input structure": [], "centroid": [], "volume": []}
    point = np.concatenate([q["point"] for q in parts])
    volume = np.concatenate([q["volume"] for q in parts])
    order = np.lexsort((volume, point))
    out = {"input structure": point[order], "volume": volume[order]}
    if centroids:
        out["centroid"] = list(map(tuple, coords[point[order]].tolist()))  # Python floats, as siibra's
    for col in _STAT_COLUMNS:
        if any(col in q["stats"] for q in parts):
            vals = np.concatenate([q["stats"].get(col, np.full(len(q["point"]), np.nan)) for q in parts])
            out[col] = vals[order]
    return out


def _gaussian_point_rows(index, coords, vox, sigma_vox, which, lower_threshold, labels=None):
    shape = np.array(index.shape)
    sig, prof_of = np.unique(sigma_vox[which], return_inverse=True)
    profiles = [gaussian_profile(float(s)) for s in sig]
    rads = np.array([(len(g) - 1) // 2 for g, _ in profiles], np.int64)
    corner = vox[which] - rads[prof_of][:, None]
    lo = np.maximum(corner, 0)
    hi = np.minimum(corner + (2 * rads[prof_of] + 1)[:, None], shape)  # exclusive: the cube cut at the grid's edges
    n_vox = np.prod(np.maximum(hi - lo, 0), axis=1)
    usable = n_vox > (1 if labels is None else 0)  # siibra's sparse maps drop structures of <= 1 voxel
    if (n_vox == 0).any():
        warnings.warn(f"{int((n_vox == 0).sum())} uncertain point(s) lie outside the atlas grid and get no assignment",
                      RuntimeWarning, stacklevel=5)
    keep = np.flatnonzero(usable)
    # sums of each cut cube, from its separable factors: ((s0 s1) s2) / total, each factor's sums taken once per
    # distinct cut (a profile's whole range for most points; a few others at the grid's faces)
    Sx, Sxx = _cut_cube_sums(profiles, prof_of[keep], lo[keep] - corner[keep], hi[keep] - corner[keep])
    comps = Components(map=np.zeros(len(keep), np.int64), label=np.asarray(which)[keep], count=n_vox[keep],
                       nc=n_vox[keep], Sx=Sx, Sxx=Sxx, lo=lo[keep], hi=hi[keep],
                       centroid=coords[np.asarray(which)[keep]], unit=np.ones(len(keep)))
    region_threshold = lower_threshold if labels is None else 0.0  # a labelled map's threshold applies to the IoU
    pc, pr, spx, inter = _point_kernels.accumulate_gaussian_points(index, corner[keep], lo[keep], hi[keep], prof_of[keep],
                                                                   profiles, region_threshold)
    pc, pr, spx, inter = (backend.to_host(a) for a in (pc, pr, spx, inter))
    rstats = index.region_stats(region_threshold)
    if labels is None:
        pairs = pair_statistics(comps, rstats, pc, pr, spx, inter)
    else:
        pairs = labelled_pair_statistics(comps, rstats, pc, pr, spx, inter, int(np.prod(index.shape)), False,
                                         lower_threshold)
        pairs.columns["map value"] = labels[pairs.region]
    pc, pr, stats = pairs.component, pairs.region, pairs.columns
    return dict(point=comps.label[pc], volume=pr, stats=stats)


def _cut_cube_sums(profiles, prof, start, stop):
    """Per cube: the sum of its values and of their squares, ``f0.sum() * f1.sum() * f2.sum() / total`` and
    ``(f0**2).sum() * (f1**2).sum() * (f2**2).sum() / total**2`` with ``f_a = g[start[a]:stop[a]]`` (bit for bit
    one cube at a time); each distinct (profile, start, stop) of an axis summed once."""
    n = len(prof)
    s1, s2 = np.ones((n, 3)), np.ones((n, 3))
    for a in range(3):
        keys, inverse = np.unique(np.stack([prof, start[:, a], stop[:, a]], axis=1), axis=0, return_inverse=True)
        f = [profiles[k][0][b:e] for k, b, e in keys.tolist()]
        s1[:, a] = np.array([x.sum() for x in f])[inverse.ravel()]
        s2[:, a] = np.array([(x ** 2).sum() for x in f])[inverse.ravel()]
    total = np.array([t for _, t in profiles])[prof] if n else np.zeros(0)
    return s1[:, 0] * s1[:, 1] * s1[:, 2] / total, s2[:, 0] * s2[:, 1] * s2[:, 2] / (total * total)
