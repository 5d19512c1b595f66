"""atlasreader's cluster and peak tables, by atlasreader 0.3.2's rules (its numbers, not its code).

The rules, read from atlasreader 0.3.2 (``atlasreader/atlasreader.py``) and nilearn 0.10 (which it calls):

- the map's first volume is read as float64 (gpusiibra reads every volume of a 4D map, each a map of its own), non-finite values become 0; a threshold above the largest absolute
  value gives no cluster; voxels with ``|value| < threshold`` are set to 0;
- each sign asked for (``pos``, then ``neg``) is labelled in turn by ``scipy.ndimage.label`` (faces touch:
  6-connectivity); a component is kept when its voxel count exceeds ``(min_size * prod(zooms) - 1e-8) /
  |det(affine[:3, :3])|`` (nilearn's ``connected_regions``; the 1e-8 only when ``min_size`` is not 0), in label
  order; the values of a kept cluster are stored as float32 (nilearn's ``concat_imgs``);
- clusters are ordered by size, ``numpy.argsort(sizes)[::-1]`` (ties: the later one first); ``cluster_id`` counts
  from 1;
- a cluster's peak is the centre of mass of its voxels of largest absolute value, floored to a voxel; its
  coordinates are ``affine @ ijk``; ``peak_value`` is the (signed) value there; ``cluster_mean`` the mean of the
  cluster's values, ``volume_mm`` its voxel count times the product of the voxel sizes;
- an atlas is never resampled: each coordinate is taken to the atlas's voxel by ``round(solve(atlas_affine,
  xyz))`` (halves to even); a voxel outside the atlas's grid reads voxel (0, 0, 0);
- a labelled atlas's label there is looked up in its label table (a label it does not name: ``no_label``); a
  probabilistic one (atlasreader's ``harvard_oxford`` and ``juelich``: one volume per region, percent) gives, at a
  peak, every region of probability >= ``prob_threshold`` percent, most probable first (``"52.0% name; ..."``;
  none: ``"0% no_label"``), and, in a cluster, each voxel's most probable region (the first of equals; none:
  ``no_label``);
- a cluster's share of each label is ``100 * count / voxels``, listed from the largest (``numpy.argsort`` order,
  reversed), those >= ``prob_threshold`` only, as ``"47.24% name; ..."``;
- with ``min_distance`` (mm), a cluster's peaks are its local maxima (``skimage.feature.peak_local_max`` on the
  absolute values, ``exclude_border=1``), flat maxima merged to their rounded centre of mass, ordered by value,
  and a weaker one within ``min_distance`` of a stronger kept one dropped.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from .errors import OptionError

__all__ = ["AtlasLookup", "atlas_lookup", "cluster_tables", "check_prob_threshold", "ATLASREADER_ATLASES",
           "ATLASREADER_DEFAULT"]

#: atlasreader's own names of its ten atlases, in its order (``all``), and its ``default`` three
ATLASREADER_ATLASES = ("aal", "aicha", "desikan_killiany", "destrieux", "harvard_oxford", "juelich", "marsatlas",
                       "neuromorphometrics", "talairach_ba", "talairach_gyrus")
ATLASREADER_DEFAULT = ("aal", "desikan_killiany", "harvard_oxford")


@dataclass
class AtlasLookup:
    """An atlas as atlasreader reads it: a label volume and its names, or (probabilistic) each voxel's regions in
    percent and its most probable region."""

    name: str
    kind: str  # "labelled" or "probabilistic"
    affine: np.ndarray
    shape: tuple
    names: dict  # label (labelled) or volume number (probabilistic) -> name
    volume: np.ndarray = None  # labelled: the labels; probabilistic: the most probable region, -1 where none
    row_voxel: np.ndarray = None  # probabilistic: CSR rows by voxel (sorted linear indices)
    row_ptr: np.ndarray = None
    entry_region: np.ndarray = None
    entry_percent: np.ndarray = None
    n_regions: int = 0
    smap: object = field(default=None, repr=False)  # the gpusiibra map it came from

    def voxels(self, xyz):
        """atlasreader's voxel of each coordinate (N, 3): ``round(solve(affine, xyz))``, outside the grid -> 0."""
        homog = np.vstack([np.asarray(xyz, np.float64).T, np.ones(len(xyz))])
        ijk = np.round(np.linalg.solve(self.affine, homog)[:3].T).astype(int)
        outside = np.sum((ijk < 0) + (ijk >= np.asarray(self.shape)), axis=-1, dtype=bool)
        ijk[outside] = 0
        return ijk

    def cluster_labels(self, xyz, cleared=(), prob_threshold=5):
        """The label (or most probable region, -1 for none) under each coordinate. ``cleared``: voxels (linear
        indices) where atlasreader has already read a peak, and so set the probabilities below ``prob_threshold``
        to 0 in its copy of the atlas (see :func:`cluster_tables`)."""
        ijk = self.voxels(xyz)
        out = self.volume[tuple(ijk.T)]
        if cleared and self.kind == "probabilistic":
            lin = np.ravel_multi_index(tuple(ijk.T), self.shape)
            for v in cleared:
                if self._max_percent(v) < prob_threshold:
                    out[lin == v] = -1
        return out

    def _max_percent(self, v) -> float:
        row = np.searchsorted(self.row_voxel, v)
        if row < len(self.row_voxel) and self.row_voxel[row] == v:
            return float(self.entry_percent[self.row_ptr[row]:self.row_ptr[row + 1]].max())
        return 0.0

    def name_of(self, label) -> str:
        return self.names.get(int(label), "no_label") if float(label) == int(label) else "no_label"

    def peak_label(self, xyz, prob_threshold, cleared=None) -> str:
        """atlasreader's label string of one peak (its atlas voxel is added to ``cleared``, a set)."""
        i, j, k = self.voxels(np.asarray(xyz, np.float64)[None])[0]
        if self.kind == "labelled":
            return self.name_of(self.volume[i, j, k])
        probs = np.zeros(self.n_regions)
        v = int(np.ravel_multi_index((i, j, k), self.shape))
        if cleared is not None:
            cleared.add(v)
        row = np.searchsorted(self.row_voxel, v)
        if row < len(self.row_voxel) and self.row_voxel[row] == v:
            sl = slice(self.row_ptr[row], self.row_ptr[row + 1])
            probs[self.entry_region[sl]] = self.entry_percent[sl]
        probs[probs < prob_threshold] = 0
        (idx,) = np.where(probs)
        if len(idx) == 0:
            return "0% no_label"
        idx = idx[np.argsort(probs[idx])][::-1]
        return "; ".join("{}% {}".format(probs[r], self.names.get(int(r), "no_label")) for r in idx)


def _from_labelled(name, smap, raw=None) -> AtlasLookup:
    if raw is not None:  # atlasreader's own label volume: every label as published, named or not
        data, affine, table = raw
        return AtlasLookup(name, "labelled", affine, tuple(data.shape), table, volume=data, smap=smap)
    ix = smap.sparse_index
    volume = np.zeros(ix.shape, np.int32)  # region r's voxels get r + 1: one name per number
    flat = volume.reshape(-1)
    counts = np.diff(ix.region_ptr)
    flat[ix.region_voxel] = np.repeat(np.arange(1, len(counts) + 1, dtype=np.int32), counts)
    return AtlasLookup(name, "labelled", np.asarray(ix.affine, np.float64), tuple(ix.shape),
                       {r + 1: n for r, n in enumerate(smap.regions)}, volume=volume, smap=smap)


def _from_probabilities(name, smap, percent_exact) -> AtlasLookup:
    ix = smap.sparse_index
    value = ix.entry_value.astype(np.float64) * 100.0
    value = np.rint(value) if percent_exact else np.round(value, 1)
    counts = np.diff(ix.row_ptr)
    rows = np.flatnonzero(counts > 0)
    best = np.full(int(np.prod(ix.shape)), -1, np.int32)
    if len(rows):  # the most probable region of each voxel, the lowest of equals (numpy.argmax over volumes)
        row_of = np.repeat(np.arange(len(counts)), counts)
        row_max = np.zeros(len(counts))
        np.maximum.at(row_max, row_of, value)
        cand = np.where(value == row_max[row_of], ix.entry_region.astype(np.int64), np.iinfo(np.int64).max)
        first = np.full(len(counts), np.iinfo(np.int64).max)
        np.minimum.at(first, row_of, cand)
        pos = row_max > 0
        best[ix.row_voxel[pos]] = first[pos]
    return AtlasLookup(name, "probabilistic", np.asarray(ix.affine, np.float64), tuple(ix.shape),
                       dict(enumerate(smap.regions)), volume=best.reshape(ix.shape), row_voxel=ix.row_voxel,
                       row_ptr=ix.row_ptr, entry_region=ix.entry_region, entry_percent=value,
                       n_regions=len(smap.regions), smap=smap)


@lru_cache(maxsize=32)
def _catalog_lookup(entry_id, cache, mtime):
    from . import atlases
    from .maps import get_map

    entry = atlases.get_entry(entry_id)
    smap = get_map(entry.id, cache=cache, progress=False)
    arname = entry.source.get("atlasreader_name")
    name = arname or entry.id
    if entry.labelled:
        raw = None
        if arname:
            from ._packaged import label_volume

            raw = label_volume(entry)
        return _from_labelled(name, smap, raw)
    return _from_probabilities(name, smap, percent_exact=bool(arname))


def atlas_lookup(atlas, cache=None) -> AtlasLookup:
    """An atlas for the cluster tables: atlasreader's name (``aal``, ``harvard_oxford``...: its bundled copy), a
    catalog name, a loaded map, or an atlas file."""
    from . import atlases
    from .maps import SparseMap, get_map

    if isinstance(atlas, AtlasLookup):
        return atlas
    if isinstance(atlas, str):
        key = atlas.strip().lower().replace("-", "_")
        entry = atlases.find("atlasreader-" + key.replace("_", "-")) if key in ATLASREADER_ATLASES else \
            atlases.find(atlas)
        if entry is not None:
            path = atlases.fetch(entry, cache, progress=False)
            import os

            return _catalog_lookup(entry.id, cache, os.stat(path).st_mtime_ns)
        smap = get_map(atlas, cache=cache)
    elif isinstance(atlas, SparseMap):
        smap = atlas
    else:
        raise OptionError(f"an atlas is a name, a file or a map, not {type(atlas).__name__}")
    from .dataset import atlas_label

    name = atlas_label(smap)
    return _from_labelled(name, smap) if smap.maptype == "labelled" else _from_probabilities(name, smap, False)


def check_prob_threshold(value, name="prob_threshold"):
    """atlasreader's ``prob_thresh`` is in percent: a number from 0 to 100 (``name``: the option as the user
    spelled it), else an :class:`OptionError`."""
    try:
        ok, said = 0 <= float(value) <= 100, f"{float(value):g}"
    except (TypeError, ValueError):
        ok, said = False, repr(value)
    if not ok:
        raise OptionError(f"{name} is in percent, from 0 to 100 (5: regions of at least 5%), got {said}")


def expand_atlas_names(atlas) -> list:
    """``all`` and ``default`` (atlasreader's sets), comma-separated names, or a list -> a list."""
    items = [a.strip() for a in atlas.split(",")] if isinstance(atlas, str) else list(atlas)
    out = []
    for a in items:
        if isinstance(a, str) and a.lower() == "all":
            out += list(ATLASREADER_ATLASES)
        elif isinstance(a, str) and a.lower() == "default":
            out += list(ATLASREADER_DEFAULT)
        elif a != "":
            out.append(a)
    if not out:
        raise OptionError("no atlas given (names separated by commas, 'all' or 'default')")
    return out


# ------------------------------------------------------------------ the image's clusters
def _zooms(affine):
    """The voxel sizes nibabel gives an image made from ``affine`` alone (nilearn's new_img_like), as atlasreader
    reads them from such an image's header."""
    import nibabel as nib

    return nib.Nifti1Image(np.zeros((1, 1, 1), np.int8), affine).header.get_zooms()[:3]


def _to_xyz(affine, ijk):
    """Voxel -> mm as atlasreader computes it (the homogeneous product, to the bit)."""
    ijk = np.atleast_2d(ijk)
    return np.dot(affine, np.vstack([ijk.T, np.ones(len(ijk), ijk.dtype)]))[:3].T


def _to_ijk(affine, xyz):
    xyz = np.atleast_2d(xyz)
    return np.round(np.linalg.solve(affine, np.vstack([xyz.T, np.ones(len(xyz))]))[:3].T).astype(int)


def find_clusters(data, affine, threshold, min_size, direction):
    """The clusters of a map by atlasreader's rules: a list of ``(voxels, values)`` (C-order linear indices of the
    grid, float32 values), largest first."""
    from scipy import ndimage

    if direction not in ("pos", "neg", "both"):
        raise OptionError(f"direction must be 'pos', 'neg' or 'both', got {direction!r}")
    if threshold < 0:
        raise OptionError(f"the threshold must be >= 0 (atlasreader's percentile thresholds are not supported), got "
                          f"{threshold:g}")
    if threshold > np.abs(data).max(initial=0.0):
        return []
    data = data.copy()
    data[np.abs(data) < threshold] = 0.0
    min_mm = float(min_size) * float(np.prod(_zooms(affine)))
    if min_mm != 0.0:
        min_mm -= 1e-8
    min_vox = min_mm / abs(np.linalg.det(affine[:3, :3]))
    found = []
    for sign in (("pos", "neg") if direction == "both" else (direction,)):
        part = data.copy()
        part[(part < 0) if sign == "pos" else (part > 0)] = 0
        if not part.any():
            continue
        labels, _ = ndimage.label(part)
        flat = labels.reshape(-1)
        counts = np.bincount(flat)
        sizes = counts.copy()
        sizes[0] = 0  # the background
        order = np.argsort(flat, kind="stable")
        starts = np.r_[0, np.cumsum(counts)]
        vals = part.reshape(-1)
        for lab in np.flatnonzero(sizes > min_vox):
            vox = order[starts[lab]:starts[lab + 1]]  # ascending, as C order
            found.append((vox, vals[vox].astype(np.float32)))
    if not found:
        return []
    sizes = np.array([np.count_nonzero(v) for _, v in found])
    return [found[i] for i in np.argsort(sizes)[::-1]]


def _peak_ijk(shape, vox, values):
    a = np.abs(values.astype(np.float64))
    top = vox[a == a.max()]
    ijk = np.array(np.unravel_index(top, shape), np.float64)
    return np.floor(ijk.sum(axis=1) / len(top)).astype(int)


def _subpeaks(shape, affine, vox, values, min_distance):
    """atlasreader's sub-peaks of one cluster (``get_subpeak_coords`` on its absolute values)."""
    from scipy.ndimage import center_of_mass, label
    from scipy.spatial.distance import cdist
    from skimage.feature import peak_local_max

    data = np.zeros(int(np.prod(shape)))
    data[vox] = np.abs(values.astype(np.float64))
    data = data.reshape(shape)
    local_max = peak_local_max(data, exclude_border=1)
    labels, nl = label(local_max)
    marks = np.zeros_like(data)
    for ldx in range(len(labels)):
        marks[tuple(local_max[ldx])] = np.mean(labels[ldx])
    ijk = np.round(center_of_mass(data, labels=marks.astype("int"), index=range(1, nl + 1))).astype(int)
    if len(ijk) > 1:
        ijk = ijk[data[tuple(map(tuple, ijk.T))].argsort()[::-1]]
        dist = cdist(_to_xyz(affine, ijk), _to_xyz(affine, ijk))
        keep = np.ones(len(ijk), dtype=bool)
        for r, d in enumerate(dist):
            if keep[r]:
                (near,) = np.where(d < min_distance)
                keep[np.setdiff1d(near, r)] = False
        ijk = ijk[keep]
    return _to_ijk(affine, _to_xyz(affine, ijk)) if len(ijk) else np.zeros((0, 3), int)


def _shares(lookup, xyz, prob_threshold, cleared=()) -> str:
    labels = lookup.cluster_labels(xyz, cleared, prob_threshold)
    unique, counts = np.unique(labels, return_counts=True)
    n = float(len(labels))
    percent = 100 * counts / n
    order = np.argsort(percent)[::-1]
    return "; ".join("{:.02f}% {}".format(percent[s], lookup.name_of(unique[s])) for s in order
                     if percent[s] >= prob_threshold)


def cluster_tables(data, affine, lookups, threshold, min_size, direction="both", prob_threshold=5,
                   min_distance=None, peak_side_effect=True):
    """atlasreader's two tables of one map: ``(clusters, peaks)`` as lists of rows (see the module).

    ``peak_side_effect``: atlasreader reads a peak's probabilities from its loaded probabilistic atlas as a view
    and sets those below ``prob_threshold`` to 0 in place; the clusters read afterwards (this one's and the
    next ones', in the same map) see the atlas so changed: a voxel where it read a peak and whose regions are all
    below the threshold counts as ``no_label``. True reproduces that (atlasreader's numbers); False reads the
    atlas as published.
    """
    shape = data.shape
    volume_voxel = float(np.prod(_zooms(affine)))
    clusters, peaks = [], []
    cleared = {id(lk): set() for lk in lookups}
    for n, (vox, values) in enumerate(find_clusters(data, affine, threshold, min_size, direction)):
        cid = float(n + 1)
        vol = np.count_nonzero(values) * volume_voxel
        peak = _to_xyz(affine, _peak_ijk(shape, vox, values)[None])[0]
        xyz = _to_xyz(affine, np.array(np.unravel_index(vox, shape)).T)
        mean = values.astype(np.float64).mean()
        if min_distance is None:
            pijk = _to_ijk(affine, peak[None])
        else:
            pijk = _subpeaks(shape, affine, vox, values, min_distance)
        full = dict(zip(vox.tolist(), values.astype(np.float64).tolist())) if len(pijk) > 1 else None
        for ijk in pijk:
            lin = int(np.ravel_multi_index(tuple(ijk), shape))
            if full is not None:
                val = full.get(lin, 0.0)
            else:
                at = np.searchsorted(vox, lin)
                val = float(values[at]) if at < len(vox) and vox[at] == lin else 0.0
            pxyz = _to_xyz(affine, ijk[None])[0]
            peaks.append([cid, *pxyz.tolist(), val, vol] + [lk.peak_label(pxyz, prob_threshold, cleared[id(lk)])
                                                            for lk in lookups])
        clusters.append([cid, *peak.tolist(), float(mean), vol]
                        + [_shares(lk, xyz, prob_threshold, cleared[id(lk)] if peak_side_effect else ())
                           for lk in lookups])
    return clusters, peaks
