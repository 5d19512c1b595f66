"""siibra itself (from PyPI, imported offline) as the test oracle on small atlases.

siibra's ``SparseMap`` needs a configured space and parcellation; the oracle
subclasses it with a stand-in space, gives it a ``SparseIndex`` built by
siibra's own ``add_img``, and calls siibra's own ``_assign_volume`` and
``_assign_points``. Only the network-bound space lookups are replaced.
"""
from __future__ import annotations

import logging
import warnings

import nibabel as nib
import numpy as np
import pytest

siibra = pytest.importorskip("siibra")
logging.getLogger("siibra").setLevel(logging.ERROR)

from siibra.locations import boundingbox as _siibra_bbox  # noqa: E402
from siibra.locations import location as _siibra_location  # noqa: E402
from siibra.locations.pointcloud import PointCloud as _SiibraPointCloud  # noqa: E402
from siibra.volumes import volume as _siibra_volume  # noqa: E402
from siibra.volumes.parcellationmap import AssignImageResult  # noqa: E402
from siibra.volumes.sparsemap import SparseIndex as SiibraSparseIndex  # noqa: E402
from siibra.volumes.sparsemap import SparseMap as _SiibraSparseMap  # noqa: E402


class _Space:
    id = "gpusiibra-oracle-space"
    name = "oracle space"

    def get_template(self):
        return None


SPACE = _Space()


class _Volume(_siibra_volume.Volume):
    """A siibra Volume that holds an in-memory image (no provider, no space lookup)."""

    def __new__(cls, img):
        self = object.__new__(cls)
        self._img = img
        return self

    _providers = {"nii": None}  # an image volume, for siibra's provides_image
    _name = "oracle volume"

    def __str__(self):
        return "oracle volume"

    def __init__(self, img):
        pass

    def fetch(self, *args, **kwargs):
        return self._img

    @property
    def space(self):
        return SPACE


class _PointCloud(_SiibraPointCloud):
    def warp(self, space, chunksize=1000):
        return self

    @property
    def space(self):
        return SPACE


class OracleMap(_SiibraSparseMap):
    """siibra's SparseMap over region maps given as dense arrays."""

    def __init__(self, maps, affine):
        index = SiibraSparseIndex()
        n = 0
        for m in maps:  # any iterable: a generator keeps one dense map in memory at a time
            index.add_img(np.asarray(m), np.asarray(affine, dtype=np.float64))
            n += 1
        self._sparse_index_cached = index
        self._n = n

    @classmethod
    def from_sparsemap(cls, smap):
        """siibra's index built from every region of a gpusiibra SparseMap (minutes for Julich-Brain)."""
        ix = smap.sparse_index
        return cls((ix.dense(r) for r in range(len(smap))), ix.affine)

    @property
    def space(self):
        return SPACE

    def __len__(self):
        return self._n

    def assign_image(self, data, affine, minsize_voxel=1, lower_threshold=0.0, split_components=True):
        img = nib.Nifti1Image(data, affine)
        with _offline():
            res = self._assign_volume(_Volume(img), minsize_voxel=minsize_voxel, lower_threshold=lower_threshold,
                                      split_components=split_components)
        return _rows(res)

    def assign_points(self, coords, sigma_mm, lower_threshold=0.0, monkeypatch=None):
        return _rows(_siibra_points(self, coords, sigma_mm, lower_threshold))


def _siibra_points(smap, coords, sigma_mm, lower_threshold):
    """siibra's own ``_assign_points`` of a map (its Gaussian kernel images made in memory)."""
    pc = _PointCloud(np.asarray(coords, dtype=float).tolist(), space=None, sigma_mm=sigma_mm)

    def from_array(data, affine, space=None, name=None, cache=True, **kw):
        return _Volume(nib.Nifti1Image(data, affine))

    with _offline() as mp:
        mp.setattr(_siibra_volume, "from_array", from_array)
        return smap._assign_points(pc, lower_threshold)


def find_peaks(data, affine, mindist=5):
    """siibra's ``Volume.find_peaks``: (coordinates in mm, labels)."""
    with _offline() as mp:
        mp.setattr(_Volume, "space", None)  # the peaks' PointCloud needs a real space spec or None
        pc = _Volume(nib.Nifti1Image(np.asarray(data), affine)).find_peaks(mindist=mindist)
    return np.asarray(pc.coordinates, dtype=float).reshape(-1, 3), np.asarray(pc.labels)


def from_pointcloud(coords, sigma_mm, labels, label, data, affine, normalize=True):
    """siibra's ``volumes.from_pointcloud`` onto the grid of (data, affine): the float32 array."""
    coords = np.asarray(coords, dtype=float)
    sigma = np.broadcast_to(np.asarray(sigma_mm, dtype=float), (len(coords),)).tolist()
    pc = _PointCloud(coords.tolist(), space=None, sigma_mm=sigma,
                     labels=None if labels is None else np.asarray(labels))
    with _offline() as mp:
        mp.setattr(_siibra_volume, "from_array", lambda data, affine, space=None, name=None, **kw:
                   _Volume(nib.Nifti1Image(data, affine)))
        mp.setattr(_SiibraPointCloud, "__str__", lambda self: "oracle points")
        vol = _siibra_volume.from_pointcloud(pc, label=label, target=_Volume(nib.Nifti1Image(data, affine)),
                                             normalize=normalize)
    return np.asarray(vol.fetch().dataobj)


def draw_samples(data, affine, n, e=1, sigma_mm=None):
    """siibra's ``Volume.draw_samples`` (rejection sampling, NumPy's global generator): coordinates in mm."""
    transform = _SiibraPointCloud.transform
    with _offline() as mp:
        mp.setattr(_SiibraPointCloud, "transform", lambda self, affine, space=None: transform(self, affine, None))
        pc = _Volume(nib.Nifti1Image(np.asarray(data), affine)).draw_samples(n, e=e, sigma_mm=sigma_mm)
    return np.asarray(pc.coordinates, dtype=float)


def find_clusters(coords, min_fraction, max_fraction):
    """siibra's ``PointCloud.find_clusters`` labels."""
    pc = _PointCloud(np.asarray(coords, dtype=float).tolist(), space=None)
    with _offline(), warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # scikit-learn's note on HDBSCAN's copy default
        return np.asarray(pc.find_clusters(min_fraction=min_fraction, max_fraction=max_fraction))


def _offline():
    """Patch out siibra's space lookups (bounding boxes of the stand-in space warp to themselves)."""
    mp = pytest.MonkeyPatch.context()
    ctx = mp.__enter__()
    ctx.setattr(_siibra_bbox.BoundingBox, "warp", lambda self, space, **kw: self)
    ctx.setattr(_siibra_location.Location, "__str__", lambda self: "oracle location")

    class _Ctx:
        def __enter__(self):
            return ctx

        def __exit__(self, *exc):
            return mp.__exit__(*exc)

    return _Ctx()


def _rows(results):
    rows = []
    for a in results:
        row = {"input structure": int(a.input_structure), "centroid": tuple(float(c) for c in a.centroid),
               "volume": int(a.volume), "map value": float(a.map_value)}
        if isinstance(a, AssignImageResult):
            row.update({
                "correlation": float(a.correlation),
                "intersection over union": float(a.intersection_over_union),
                "map weighted mean": float(a.weighted_mean_of_first),
                "map containedness": float(a.intersection_over_first),
                "input weighted mean": float(a.weighted_mean_of_second),
                "input containedness": float(a.intersection_over_second),
            })
        rows.append(row)
    return rows


# ------------------------------------------------------------------ labelled maps
from siibra.commons import MapIndex  # noqa: E402
from siibra.volumes.parcellationmap import Map as _SiibraMap  # noqa: E402


class OracleLabelledMap(_SiibraMap):
    """siibra's ``Map`` (``MapType.LABELLED``) over label volumes given as arrays, one per fragment.

    ``volumes``: ``{fragment or None: label array}`` on one grid; ``indices``: ``{name: (label, fragment)}``
    in siibra's order. siibra's own ``_assign_volume`` and ``_assign_points`` run on it; only the fetching of
    volumes (a provider) and the space are replaced.
    """

    def __init__(self, volumes, affine, indices):
        self._arrays = dict(volumes)
        self._affine_ = np.asarray(affine, np.float64)
        self._indices = {name: [MapIndex(volume=0, label=int(lab), fragment=frag)]
                         for name, (lab, frag) in indices.items()}

    @property
    def space(self):
        return SPACE

    @property
    def affine(self):
        return self._affine_

    @property
    def maptype(self):
        return siibra.commons.MapType.LABELLED

    @property
    def fragments(self):
        return {f for f in self._arrays if f is not None}

    def __len__(self):
        return 1

    def __str__(self):
        return "oracle labelled map"

    def fetch(self, region=None, *, index=None, **kwargs):
        data = self._arrays[index.fragment]
        return nib.Nifti1Image((data == index.label).astype("uint8"), self._affine_)

    def fetch_iter(self, fragment=None, **kwargs):
        return iter([nib.Nifti1Image(self._arrays[fragment], self._affine_)])

    def assign_image(self, data, affine, lower_threshold=0.0, split_components=True):
        with _offline():
            res = self._assign_volume(_Volume(nib.Nifti1Image(data, affine)), lower_threshold=lower_threshold,
                                      split_components=split_components)
        return _labelled_rows(res, self._indices)

    def assign_points(self, coords, sigma_mm, lower_threshold=0.0):
        return _labelled_rows(_siibra_points(self, coords, sigma_mm, lower_threshold), self._indices)


def _labelled_rows(results, indices):
    by_label = {(int(i.label), i.fragment): name for name, ix in indices.items() for i in ix}
    rows = _rows(results)
    for row, a in zip(rows, results):
        row["region"] = by_label[(int(a.map_value), a.fragment)]
        row["fragment"] = a.fragment
    return rows
