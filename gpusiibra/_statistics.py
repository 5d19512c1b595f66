"""siibra's statistics from sums: components, pairs and the box rule (host arrays, NumPy).

The statistics are siibra's (``SparseMap._assign_volume``), computed from sums
instead of dense boxes:

- per region (once per atlas and threshold, :meth:`SparseIndex.region_stats`):
  ``Sp``, ``Spp``, ``nr``, the maximum, the bounding box;
- per component (:class:`Components`): ``Sx``, ``Sxx``, ``nc``, its box and centroid;
- per (component, region) pair: ``Spx`` and the intersection ``I``.

A labelled map (siibra's ``Map._assign_volume``) scores each region's binary mask against each
component with siibra's ``compare_arrays``: :func:`labelled_pair_statistics`, from the same sums.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Components", "PairStatistics", "pair_statistics", "labelled_pair_statistics", "siibra_boxes_intersect"]


@dataclass
class Components:
    """Image components (or uncertain points), one entry each (host arrays).

    Attributes
    ----------
    map : ndarray of int64
        The chunk number of the component's image.
    label : ndarray of int64
        siibra's ``input structure``: the component's number in its image (raster order), or the point's.
    count, nc : ndarray of int64
        Voxels, and voxels with x > 0.
    Sx, Sxx : ndarray of float64
        Sums of x and x^2, with x in units of ``unit``.
    lo, hi : ndarray (K, 3) of int64
        Box: min voxel index and max + 1 (siibra's convention for components).
    centroid : ndarray (K, 3)
        mm, rounded to 2 decimals (siibra's); for points, the point.
    unit : ndarray of float64
        The power of two the image's values were divided by before summing (1 for ordinary values).
    mean_voxel : ndarray (K, 3), optional
        The mean voxel index (siibra's centroid of a component for a labelled map, rounded there).
    """

    map: np.ndarray
    label: np.ndarray
    count: np.ndarray
    nc: np.ndarray
    Sx: np.ndarray
    Sxx: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    centroid: np.ndarray
    unit: np.ndarray
    mean_voxel: np.ndarray | None = None

    def __len__(self):
        return len(self.label)

    def take(self, which) -> "Components":
        """The components at positions ``which``."""
        return Components(**{k: None if v is None else v[which] for k, v in self.__dict__.items()})


@dataclass
class PairStatistics:
    """The (component, region) pairs siibra reports and their statistics.

    Attributes
    ----------
    component : ndarray of int64
        Each pair's component, as its position in the :class:`Components` it was computed from.
    region : ndarray of int64
        Each pair's region index.
    columns : dict of ndarray
        siibra's statistic columns by name (``correlation``, ``intersection over union``, ...).
    """

    component: np.ndarray
    region: np.ndarray
    columns: dict

    def take(self, which) -> "PairStatistics":
        """The pairs at positions ``which``."""
        return PairStatistics(self.component[which], self.region[which], {k: v[which] for k, v in self.columns.items()})


def _as_pairs(out: dict) -> PairStatistics:
    out = dict(out)
    return PairStatistics(out.pop("pair_comp"), out.pop("pair_region"), out)


def pair_statistics(comps, rstats: dict, pair_comp, pair_region, spx, inter) -> PairStatistics:
    """siibra's seven statistics for (component, region) pairs, from their sums (host arrays).

    Parameters
    ----------
    comps : Components
    rstats : dict
        :meth:`SparseIndex.region_stats` of the atlas at the threshold in use.
    pair_comp, pair_region : ndarray of int
        The pairs (component position in ``comps``, region index).
    spx, inter : ndarray
        ``sum p x`` and ``#{p > 0, x > 0}`` of each pair.

    Returns
    -------
    PairStatistics
        The pairs siibra reports (see :func:`siibra_boxes_intersect`) and one array per statistic column.
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
        return _as_pairs({
            "pair_comp": c,
            "pair_region": r,
            "correlation": corr,
            "intersection over union": inter / (nr + nc - inter),
            "map value": rstats["max"][r],
            "map weighted mean": spx / Sx,
            "map containedness": inter / nr,
            "input weighted mean": spx / Sp * comps.unit[c],
            "input containedness": inter / nc,
        })


def labelled_pair_statistics(comps, rstats: dict, pair_comp, pair_region, spx, inter, grid_size: int,
                             binary: bool, lower_threshold: float = 0.0, signed=None) -> PairStatistics:
    """siibra's statistics of a labelled map (``Map._assign_volume`` and ``compare_arrays``), from sums.

    siibra compares the input structure ``x`` (a component's binary mask when ``binary``, else the
    image's values, which must be >= 0) with a region's binary mask ``y`` over the union ``U`` of
    their nonzero voxels, with the means taken over the whole grid of ``grid_size`` voxels:
    ``r = sum_U (x - mx)(y - my) / sqrt(sum_U (x - mx)^2 sum_U (y - my)^2)``, ``mx = Sx / size``,
    ``my = nr / size``; ``intersection over union = I / |U|``; ``map weighted mean = Sxy / nr`` and
    ``input weighted mean = Sxy / Sx``; ``map containedness = I / nc`` (its "first" array is the
    input's) and ``input containedness = I / nr``. A pair is kept when its intersection over
    union exceeds ``lower_threshold``; there are no box rule and no minimum size.

    Returns
    -------
    PairStatistics
        As :func:`pair_statistics`, without ``map value`` (the region's label, which the map knows).
    """
    c, r = np.asarray(pair_comp, np.int64), np.asarray(pair_region, np.int64)
    inter = np.asarray(inter, np.float64)
    nr = rstats["nr"][r].astype(np.float64)
    if binary:
        Sx = Sxx = nc = comps.count[c].astype(np.float64)
        sxy = inter
    else:
        unit = comps.unit[c]
        Sx, Sxx, nc = comps.Sx[c] * unit, comps.Sxx[c] * unit * unit, comps.nc[c].astype(np.float64)
        sxy = np.asarray(spx, np.float64) * unit
        if signed is not None:  # the union: every x > 0, and the region's voxels where x < 0
            (sx_pos, sxx_pos), (nc_, nr_, sx_neg, sxx_neg) = signed
            n_reg = len(rstats["nr"])
            key = c * n_reg + r
            nkey = np.asarray(nc_, np.int64) * n_reg + np.asarray(nr_, np.int64)  # sorted (component, region)
            neg_x, neg_xx = np.zeros(len(key)), np.zeros(len(key))
            if len(nkey):
                at = np.minimum(np.searchsorted(nkey, key), len(nkey) - 1)
                found = nkey[at] == key
                neg_x = np.where(found, -np.asarray(sx_neg, np.float64)[at], 0.0)  # the sums came from -x
                neg_xx = np.where(found, np.asarray(sxx_neg, np.float64)[at], 0.0)
            Sx = (sx_pos[c] + neg_x) * unit
            Sxx = (sxx_pos[c] + neg_xx) * unit * unit
    union = nc + nr - inter
    size = float(grid_size)
    mx, my = Sx / size, nr / size
    cov = sxy - my * Sx - mx * nr + union * mx * my
    vx = Sxx - 2 * mx * Sx + union * mx * mx
    vy = nr - 2 * my * nr + union * my * my
    dem = np.sqrt(vx * vy)
    with np.errstate(divide="ignore", invalid="ignore"):
        corr = np.where(dem == 0, 0.0, cov / np.where(dem == 0, 1.0, dem))
        iou = inter / union
        keep = iou > lower_threshold
        out = {
            "pair_comp": c, "pair_region": r, "correlation": corr, "intersection over union": iou,
            "map weighted mean": sxy / nr, "map containedness": inter / nc,
            "input weighted mean": sxy / Sx, "input containedness": inter / nr,
        }
    out = {k: v[keep] for k, v in out.items()}
    if lower_threshold < 0:  # siibra scores pairs whose masks do not meet with zeros, and keeps them
        n_reg = len(rstats["nr"])
        every = np.arange(len(comps) * n_reg, dtype=np.int64)
        absent = np.setdiff1d(every, out["pair_comp"] * n_reg + out["pair_region"])
        zeros = np.zeros(len(absent))
        extra = {k: zeros for k in out if k not in ("pair_comp", "pair_region")}
        extra.update(pair_comp=absent // n_reg, pair_region=absent % n_reg)
        out = {k: np.concatenate([out[k], extra[k]]) for k in out}
    return _as_pairs(out)


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
    # corners 0, 1 are the min corners, 2, 3 the max corners; each (3, n), an axis contiguous
    C = [np.ascontiguousarray(np.asarray(x).T) for x in (r_lo, c_lo, r_hi, c_hi)]
    n = C[0].shape[1]
    if n == 0:
        return np.zeros(0, bool)
    # a min corner equal as a point to a max corner (the only equalities the rule asks about)
    e = {(i, j): (C[i][0] == C[j][0]) & (C[i][1] == C[j][1]) & (C[i][2] == C[j][2]) for i in (0, 1) for j in (2, 3)}
    ok = np.ones(n, bool)
    flat = np.zeros(n, np.int8)
    for d in range(3):
        v = [c[d] for c in C]
        # each corner's place in the stable sort of the four values: the earlier ones <= it, the later ones < it
        rank = [np.zeros(n, np.int8) for _ in range(4)]
        for a in range(4):
            for b in range(a + 1, 4):
                le = v[a] <= v[b]
                rank[b] += le
                rank[a] += ~le
        second = [r == 1 for r in rank]  # which corner is second in the sorted order
        third = [r == 2 for r in rank]  # which is third
        a_is_max = second[2] | second[3] | (second[0] & (e[0, 2] | e[0, 3])) | (second[1] & (e[1, 2] | e[1, 3]))
        b_is_min = third[0] | third[1] | (third[2] & (e[0, 2] | e[1, 2])) | (third[3] & (e[0, 3] | e[1, 3]))
        ok &= ~(a_is_max | b_is_min)
        # the intersection's extent along the axis is 0 where the second and third values are equal
        lo_v = np.where(second[0], v[0], np.where(second[1], v[1], np.where(second[2], v[2], v[3])))
        hi_v = np.where(third[0], v[0], np.where(third[1], v[1], np.where(third[2], v[2], v[3])))
        flat += lo_v == hi_v
    ok &= ~(flat == 2)  # a flat box with two zero extents (three: a point, which counts)
    return ok
