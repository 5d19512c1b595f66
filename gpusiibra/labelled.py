"""``LabelledMap``: a parcellation with one label per voxel (siibra's labelled ``Map``), assigned by siibra's rules.

siibra assigns to a labelled map (Harvard-Oxford, Desikan-Killiany, the Julich-Brain maximum
probability maps...) through ``Map.assign``, not ``SparseMap``: each region's binary mask is compared
with each component of the input by ``compare_arrays``. gpusiibra keeps such a map in the same sparse
form as probability maps (each region's voxels with the value 1) and reproduces those rules:

- every region is scored against every component; no component is too small (``minsize_voxel`` is
  not applied) and there is no bounding-box rule;
- the statistics compare the component's binary mask with the region's (for an uncertain point: the
  Gaussian kernel's values with the region's mask), over the union of their voxels, with means over the
  whole grid (:func:`gpusiibra._statistics.labelled_pair_statistics`); ``map containedness`` is the
  share of the component inside the region and ``input containedness`` the share of the region inside
  the component, as siibra names them;
- a pair is kept when its intersection over union exceeds ``lower_threshold``;
- ``map value`` is the region's label, ``volume`` the label volume's number, ``fragment`` its
  fragment (a hemisphere file, say), ``centroid`` the component's mean voxel index (siibra's);
- rows come region by region (siibra's loop), then component by component;
- a point is looked up exactly (the label under its voxel, kept when above ``lower_threshold``) or,
  when its uncertainty is at least 3 voxels, as siibra's Gaussian kernel image.

Examples
--------
>>> import numpy as np, nibabel as nib
>>> from gpusiibra.labelled import from_label_image
>>> labels = np.zeros((10, 10, 10), np.int16)
>>> labels[2:5, 2:5, 2:5] = 1
>>> labels[6:9, 6:9, 6:9] = 2
>>> parcellation = from_label_image(nib.Nifti1Image(labels, np.eye(4)), {"left blob": 1, "right blob": 2})
>>> image = np.zeros((10, 10, 10), np.float32)
>>> image[3:7, 3:7, 3:7] = 1.0
>>> table = parcellation.assign(nib.Nifti1Image(image, np.eye(4)))
>>> table[["region", "map value", "intersection over union"]].round(3).values.tolist()
[['left blob', 1.0, 0.096], ['right blob', 2.0, 0.011]]
"""
from __future__ import annotations

import os
import warnings

import numpy as np

from ._sparsemap import SparseMap
from .errors import AtlasFileError, OptionError
from .io import native
from .io.labels import label_entries, read_lookup_table
from .sparse import SparseIndex

__all__ = ["LabelledMap", "from_label_image", "read_lookup_table", "maximum_probability_map"]


class LabelledMap(SparseMap):
    """A labelled parcellation (siibra's ``MapType.LABELLED``): regions are the voxels of one label each.

    Parameters
    ----------
    index : SparseIndex
        Each region's voxels, with the value 1.
    regions : list of str
        Region names, in siibra's order (the order of the map's ``indices``).
    labels : list of number
        The label of each region in its volume.
    fragments : list of str or None, optional
        The fragment (file) of each region's label, for maps split in fragments (hemispheres).
    volumes : list of int, optional
        The volume of each region's label (default 0).
    """

    maptype = "labelled"

    def __init__(self, index: SparseIndex, regions, labels, fragments=None, volumes=None, name="", space=None,
                 meta=None):
        super().__init__(index, regions, name=name, space=space, meta=meta)
        n = len(self.regions)
        self._labels = np.asarray(labels, np.float64).reshape(-1)
        self.fragments = tuple(fragments) if fragments is not None else (None,) * n
        self.volumes = tuple(int(v) for v in volumes) if volumes is not None else (0,) * n
        if not len(self._labels) == len(self.fragments) == len(self.volumes) == n:
            raise OptionError(f"{n} regions, but {len(self._labels)} labels, {len(self.fragments)} fragments and "
                              f"{len(self.volumes)} volumes")

    def copy(self) -> "LabelledMap":
        return LabelledMap(self.sparse_index, list(self.regions), self._labels, self.fragments, self.volumes,
                           self.name, self.space, dict(self.meta))

    @property
    def labels(self) -> list:
        """The label of each region (integers where they are whole numbers)."""
        return [int(v) if float(v).is_integer() else float(v) for v in self._labels]

    def label_values(self) -> np.ndarray:
        """The labels as float64, in region order (siibra's ``map value``)."""
        return self._labels

    def region_fields(self, r) -> dict:
        r = np.asarray(r, np.int64)
        out = {"volume": np.asarray(self.volumes, np.int64)[r], "region": np.asarray(self.regions, dtype=object)[r]}
        if any(f is not None for f in self.fragments):
            out["fragment"] = np.asarray(self.fragments, dtype=object)[r]
        return out

    def __repr__(self):
        return f"LabelledMap({self.name!r}: {len(self)} labelled regions on grid {self.shape})"

    def summary(self) -> str:
        """A few lines describing the map."""
        lines = [line for line in super().summary().splitlines() if not line.startswith("entries")]
        frags = sorted({f for f in self.fragments if f is not None})
        lines.insert(4, f"voxels   {self.sparse_index.n_rows:,} labelled"
                        + (f", in fragments {', '.join(frags)}" if frags else ""))
        return "\n".join(lines + ["kind     labelled (siibra's Map.assign rules)"])

    def fetch(self, region_or_index=None, *, index=None, region=None):
        """The binary mask (uint8) of one region on the map's grid, as siibra's ``fetch(index=...)`` gives it."""
        img = super().fetch(region_or_index, index=index, region=region)
        import nibabel as nib

        mask = nib.Nifti1Image((np.asanyarray(img.dataobj) > 0).astype(np.uint8), img.affine)
        mask.header.set_xyzt_units("mm")
        return mask

    def label_image(self, fragment=None):
        """The label volume (of one fragment) rebuilt as a NIfTI image, for plotting (nilearn's ``plot_roi``)."""
        import nibabel as nib

        ix = self.sparse_index
        data = np.zeros(int(np.prod(ix.shape)), np.float64 if not all(float(v).is_integer() for v in self._labels)
                        else np.int32)
        for r in range(len(self)):
            if self.fragments[r] == fragment:
                data[np.ravel_multi_index(tuple(ix.coords(r)), ix.shape)] = self._labels[r]
        return nib.Nifti1Image(data.reshape(ix.shape), ix.affine)

    def assign(self, item, minsize_voxel=1, lower_threshold=0.0, **kwargs):
        """Assign an image, a point or a point cloud by siibra's rules for labelled maps (see the module).

        ``minsize_voxel`` is not applied (siibra's ``Map.assign`` keeps every component; a value other than 1
        is warned about); ``lower_threshold`` is a lower bound on the intersection over union (images) or
        on the label (exact points); below 0 it keeps every (component, region) pair, with zeros where they
        do not meet, as siibra does.
        """
        _check_options(minsize_voxel, lower_threshold, stacklevel=3)
        return super().assign(item, minsize_voxel=minsize_voxel, lower_threshold=lower_threshold, **kwargs)

    def save_sparseindex(self, destination, filename=None, progress=False) -> str:
        """Refused: siibra's sparse index holds probability maps, and would lose the labels (save as ``.npz``)."""
        raise OptionError(f"{self.name!r} is a labelled map: siibra's sparse index format holds probability maps "
                          "and would lose its labels; save it in gpusiibra's format (.npz) instead")

    def save(self, path) -> str:
        """Save in gpusiibra's native format (``.npz``): the regions' voxels, labels, fragments and volumes."""
        meta = dict(self.meta, name=self.name, space=self.space, maptype="labelled", labels=self.labels,
                    fragments=list(self.fragments), volumes=list(self.volumes))
        return native.write(path, self.sparse_index, self.regions, meta)


def _check_options(minsize_voxel, lower_threshold, stacklevel=2):
    if minsize_voxel != 1:
        warnings.warn("a labelled map keeps components of every size (siibra's Map.assign does not apply "
                      f"minsize_voxel={minsize_voxel})", RuntimeWarning, stacklevel=stacklevel + 1)


def from_native(index, names, meta) -> LabelledMap:
    """The :class:`LabelledMap` of a native file's arrays (``meta["maptype"] == "labelled"``)."""
    try:
        return LabelledMap(index, names, meta["labels"], meta.get("fragments"), meta.get("volumes"),
                           name=meta.get("name") or "", space=meta.get("space"), meta=meta)
    except (KeyError, TypeError, ValueError, OptionError) as e:
        raise AtlasFileError(meta.get("source"), f"damaged labelled atlas ({e})") from None


def from_label_image(image, regions, *, name="", space=None, meta=None) -> LabelledMap:
    """A :class:`LabelledMap` from a label image (or one per fragment) and the label of each region.

    Parameters
    ----------
    image : path, nibabel image, or dict
        The label volume; a dict ``{fragment: image}`` for a map split in fragments (siibra's Julich-Brain
        maximum probability maps come as ``"left hemisphere"`` and ``"right hemisphere"`` files on one grid).
    regions : dict, list or path
        ``{name: label}`` (or ``{name: (label, fragment)}``) in siibra's order, a list of names for labels
        1, 2, ..., or the path of a lookup table (:func:`read_lookup_table`).
    name, space, meta :
        The atlas name, its space, metadata.

    Voxels whose label names no region are left out, with a warning naming the labels.
    """
    got = label_entries(image, regions)
    spec = got["spec"]
    index = SparseIndex.from_entries(got["shape"], got["affine"], got["region"], got["voxel"],
                                     np.ones(len(got["region"]), np.float32), n_regions=len(spec))
    meta = dict(meta or {})
    meta.setdefault("source", got["where"])
    return LabelledMap(index, [s[0] for s in spec], [s[1] for s in spec], [s[2] for s in spec], None,
                       name=name or os.path.basename(str(got["where"])), space=space, meta=meta)


def maximum_probability_map(smap, name=None) -> LabelledMap:
    """The maximum probability map of a probabilistic atlas: each voxel labelled with its most probable region
    (the first of equals, as ``argmax``), region ``i`` getting label ``i + 1``.

    Examples
    --------
    >>> import gpusiibra
    >>> mpm = maximum_probability_map(gpusiibra.get_map())
    >>> mpm.maptype, len(mpm), mpm.labels[:3]
    ('labelled', 414, [1, 2, 3])
    """
    ix = smap.sparse_index
    first = ix.row_max_entries()
    region, voxel = ix.entry_region[first], ix.row_voxel[ix.entry_rows()[first]]
    index = SparseIndex.from_entries(ix.shape, ix.affine, region, voxel, np.ones(len(region), np.float32),
                                     n_regions=len(smap))
    from .dataset import atlas_label

    base = atlas_label(smap)
    meta = {"source": f"{base}-mpm", "description": f"maximum probability map of {smap.name}"}
    return LabelledMap(index, list(smap.regions), np.arange(1, len(smap) + 1), name=name or f"{smap.name} (MPM)",
                       space=smap.space, meta=meta)
