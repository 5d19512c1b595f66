"""``SparseMap``: named region maps on one grid, and the ways to open one.

Mirrors siibra's ``siibra.volumes.sparsemap.SparseMap``: ``regions``,
``fetch``, ``assign``, ``save_sparseindex`` / ``load_zipped_sparseindex``;
:func:`load_map`, :func:`from_arrays` and :func:`get_map` open atlases.
"""
from __future__ import annotations

import difflib
import os
import re
import warnings
from functools import lru_cache

import numpy as np
import pandas as pd

from . import _assign
from .io import native, nifti, paqd, siibra_v1
from .errors import AtlasFileError, AtlasNotFound, ImageFileError, OptionError, RegionNotFound
from .points import Point, PointCloud
from .sparse import SparseIndex, checked_probabilities
from .volumes import Volume

__all__ = ["SparseMap", "RegionNotFound", "load_map", "from_arrays", "get_map", "DEFAULT_ATLAS", "available_maps"]


class SparseMap:
    """Probabilistic region maps held sparsely (siibra's ``SparseMap``).

    Parameters
    ----------
    index : SparseIndex
        The maps.
    regions : list of str
        Region names in index order (``len(regions) == index.num_volumes``).
    name : str
        The atlas name.
    space : str, optional
        Name of the reference space of the grid.
    meta : dict, optional
        Description, licence and the like.
    """

    def __init__(self, index: SparseIndex, regions, name="", space=None, meta=None):
        regions = [str(r) for r in regions]
        if len(regions) != index.num_volumes:
            raise OptionError(f"{len(regions)} region names for {index.num_volumes} region maps")
        self._index = index
        self.regions = regions
        self.name = name
        self.space = space
        self.meta = dict(meta or {})

    def copy(self) -> "SparseMap":
        """A map of its own over the same (read-only) index: names and metadata copied."""
        return SparseMap(self._index, list(self.regions), self.name, self.space, dict(self.meta))

    # ------------------------------------------------------------ properties
    @property
    def sparse_index(self) -> SparseIndex:
        return self._index

    @property
    def affine(self) -> np.ndarray:
        return self._index.affine

    @property
    def shape(self):
        return self._index.shape

    def __len__(self):
        return len(self.regions)

    def __repr__(self):
        return f"SparseMap({self.name!r}: {len(self)} regions on grid {self.shape}, {self._index.n_entries} entries)"

    def summary(self) -> str:
        """A few lines describing the atlas."""
        ix = self._index
        from nibabel.affines import voxel_sizes

        vs = voxel_sizes(self.affine)
        lines = [
            f"atlas    {self.name}",
            f"space    {self.space or '-'}",
            f"regions  {len(self)}",
            f"grid     {' x '.join(map(str, self.shape))} voxels of {' x '.join(f'{v:g}' for v in vs)} mm",
            f"entries  {ix.n_entries:,} nonzero (voxel, region) values over {ix.n_rows:,} voxels",
        ]
        for key in ("description", "licence"):
            if self.meta.get(key):
                lines.append(f"{key:<8} {self.meta[key]}")
        return "\n".join(lines)

    # ---------------------------------------------------------------- lookup
    def get_index(self, region) -> int:
        """Index of a region: by exact name, else a case-insensitive substring that must be unique.

        Raises
        ------
        RegionNotFound
            When nothing or more than one region matches; the message lists close matches.
        """
        if isinstance(region, (int, np.integer)):
            if not 0 <= int(region) < len(self):
                raise RegionNotFound(f"region index {region} is not in 0..{len(self) - 1}")
            return int(region)
        vol = getattr(region, "volume", None)
        if vol is not None:
            return self.get_index(int(vol))
        name = str(getattr(region, "name", region))
        if name in self.regions:
            return self.regions.index(name)
        low = name.lower()
        hits = [i for i, r in enumerate(self.regions) if low in r.lower()]
        if len(hits) == 1:
            return hits[0]
        if len(hits) > 1:
            shown = ", ".join(repr(self.regions[i]) for i in hits[:8])
            more = f" and {len(hits) - 8} more" if len(hits) > 8 else ""
            raise RegionNotFound(f"{name!r} matches {len(hits)} regions of {self.name!r}: {shown}{more}")
        close = difflib.get_close_matches(name, self.regions, n=5, cutoff=0.4)
        hint = f"; close matches: {', '.join(map(repr, close))}" if close else ""
        raise RegionNotFound(f"no region {name!r} in {self.name!r}{hint}")

    def fetch(self, region_or_index=None, *, index=None, region=None):
        """The dense map of one region as a float32 NIfTI image on the atlas grid (siibra's ``fetch``).

        Parameters
        ----------
        region_or_index : str, int or MapIndex-like
            A region name (matched as :meth:`get_index` does) or an index.
        index : int, optional
            The region's index.
        region : str, optional
            The region's name.
        """
        import nibabel as nib

        spec = next((s for s in (region_or_index, index, region) if s is not None), None)
        if spec is None:
            raise OptionError("fetch needs a region name or an index")
        i = self.get_index(spec)
        img = nib.Nifti1Image(self._index.dense(i), self.affine)
        img.header.set_xyzt_units("mm")
        return img

    # ------------------------------------------------------------ assignment
    def assign(self, item, minsize_voxel=1, lower_threshold=0.0, **kwargs):
        """Assign an image, a point or a point cloud to every region (siibra's ``Map.assign``).

        Parameters
        ----------
        item : nibabel image, Volume, path, Point or PointCloud
            The input, in the atlas space (coordinates in mm). A 4D image is
            assigned volume by volume, with a ``time`` column.
        minsize_voxel : int
            Image components with at most this many voxels are skipped.
        lower_threshold : float
            Atlas values below it count as 0 (for points: only values above it
            are reported).
        split_components : bool, keyword
            Images only: split into 18-connected components (default True).

        Returns
        -------
        pandas.DataFrame
            siibra's columns (``input structure``, ``centroid``, ``volume``,
            ``region``, ``correlation``, ``intersection over union``, ``map
            value``, ``map weighted mean``, ``map containedness``, ``input
            weighted mean``, ``input containedness``), empty ones dropped.
        """
        split = kwargs.pop("split_components", True)
        if kwargs:
            raise TypeError(f"assign() got unexpected keyword(s): {', '.join(kwargs)}")
        if isinstance(item, Point):
            item = PointCloud([item.coordinate], item.space, item.sigma)
        if isinstance(item, PointCloud):
            cols = _assign.assign_points(self, item.coordinates, item.sigma, lower_threshold)
            kind = "point" if "correlation" not in cols else "image"
            return _assign.make_table(cols, self.regions, kind=kind if len(cols["volume"]) else "point")
        data, affine, where = self._image_input(item)
        if data.ndim == 4:
            frames = []
            for t in range(data.shape[3]):
                cols = _assign.assign_image_data(self, data[..., t], affine, minsize_voxel, lower_threshold, split)
                _warn_outside(cols, f"{where} (volume {t})")
                if len(cols["volume"]):
                    cols["time"] = np.full(len(cols["volume"]), t, np.int64)
                    frames.append(_assign.make_table(cols, self.regions))
            if not frames:
                return _assign.make_table({"time": []}, self.regions)
            return pd.concat(frames, ignore_index=True)
        cols = _assign.assign_image_data(self, data, affine, minsize_voxel, lower_threshold, split)
        _warn_outside(cols, where)
        return _assign.make_table(cols, self.regions)

    @staticmethod
    def _image_input(item):
        if isinstance(item, Volume):
            item = item.fetch()
        if isinstance(item, (str, os.PathLike)):
            where = os.fspath(item)
            item = nifti.load_image(where)
        else:
            where = getattr(item, "get_filename", lambda: None)() or "<in-memory image>"
        if not hasattr(item, "dataobj"):
            raise TypeError(f"cannot assign an object of type {type(item).__name__}: "
                            "give a NIfTI image, a Volume, a path, a Point or a PointCloud")
        data, affine = nifti.image_data(item, where)
        note = nifti.space_note(item.header, affine, data.shape, check_grid=False) if hasattr(item, "header") \
            else None
        if note:  # a subject's native space or Talairach: the regions would be those of other places
            warnings.warn(f"{where}: {note}: is it in MNI152 space? The atlas is", RuntimeWarning, stacklevel=4)
        return data, affine, where

    def assign_batch(self, inputs, out=None, *, threshold=None, two_sided=False, lower_threshold=0.0, minsize=1,
                     peaks=False, mindist=5, resume=False, chunk_size=None, readers=None, workers=None, scheduler=None,
                     progress=True, space=None):
        """Assign many maps (files, folders, globs) to every region; see :func:`gpusiibra.batch.assign_batch`.

        Returns ``(DataFrame or None, BatchSummary)``: the rows when ``out`` is None, else they are
        written to the Parquet dataset ``out``.

        Examples
        --------
        >>> import gpusiibra
        >>> rows, summary = gpusiibra.get_map().assign_batch(["example:motor"], threshold=3.1, progress=False)
        >>> summary.maps, len(rows) > 0
        (1, True)
        """
        from .batch import assign_batch

        return assign_batch(self, inputs, out, threshold=threshold, two_sided=two_sided,
                            lower_threshold=lower_threshold, minsize=minsize, peaks=peaks, mindist=mindist,
                            resume=resume, chunk_size=chunk_size, readers=readers, workers=workers,
                            scheduler=scheduler, progress=progress, space=space)

    # ------------------------------------------------------------ save/load
    def save_sparseindex(self, destination, filename=None) -> str:
        """Save the index as a zip that siibra's reader accepts (siibra's ``save_sparseindex``).

        Parameters
        ----------
        destination : path
            Folder for the zip.
        filename : str, optional
            Name of the zip and prefix of its members (default: the atlas name).

        Returns
        -------
        str
            The zip's path.
        """
        name = filename or _safe_name(self.name or "sparsemap")
        os.makedirs(destination, exist_ok=True)
        return siibra_v1.write_zip(self._index, os.path.join(os.fspath(destination), name + ".zip"), name)

    def load_zipped_sparseindex(self, zipfname) -> SparseIndex:
        """Load a zipped sparse index into this map (siibra's ``load_zipped_sparseindex``).

        The index must hold as many regions as this map has names.
        """
        index = siibra_v1.read_zip(zipfname, n_regions=len(self))
        self._index = index
        return index

    def save(self, path) -> str:
        """Save in gpusiibra's native format (``.npz``), the fastest to load."""
        return native.write(path, self._index, self.regions,
                            dict(self.meta, name=self.name, space=self.space))


def _warn_outside(cols, where):
    if cols.get("_status") == "outside":
        warnings.warn(f"{where}: the image lies entirely outside the atlas grid, so it has no assignment "
                      "(check its affine: is it in the atlas's space, in mm?)", RuntimeWarning, stacklevel=3)


def _safe_name(name):
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)


def from_arrays(shape, affine, region, voxel, value, names=None, name="", space=None, meta=None) -> SparseMap:
    """A :class:`SparseMap` from flat (region, voxel, value) entries.

    Parameters
    ----------
    shape : tuple of 3 int
        The grid.
    affine : array_like (4, 4)
        Voxel -> mm.
    region, voxel, value : array_like
        Region number (0-based), linear voxel index (C order) and value of each entry.
    names : list of str, optional
        Region names (default ``"region 0"`` ...).
    """
    region = np.asarray(region)
    n = len(names) if names is not None else (int(region.max()) + 1 if region.size else 0)
    index = SparseIndex.from_entries(shape, affine, region, voxel, value, n_regions=n)
    names = list(names) if names is not None else [f"region {i}" for i in range(n)]
    return SparseMap(checked_probabilities(index, None, names), names, name=name, space=space, meta=meta)


def load_map(path, labels=None, name=None, space=None, value_scale=None, **kwargs) -> SparseMap:
    """Open an atlas from any supported format.

    Region maps must hold probabilities: values in [0, 1]. A file with
    negative values (a statistical map, say) is refused, and so is one with
    values above 1, unless ``value_scale`` brings them into [0, 1] (maps in
    percent: ``value_scale=0.01``).

    Parameters
    ----------
    path : path or list of paths
        - a gpusiibra native atlas (``.npz``);
        - siibra's v1 sparse index: a zip, or the prefix of the three
          ``.sparseindex_v1.*`` files;
        - niivue PAQD NIfTI file(s) (``labels`` required; two files named LH/RH
          become "<name> left" and "<name> right");
        - a 4D NIfTI (one region per volume), a 3D NIfTI, a folder of 3D NIfTI
          files or a list of them (one region each, in sorted order).
    labels : list of str or path, optional
        Region names: a list, a text file with one name per line, or a niivue
        JSON. Its length must match the number of regions.
    name, space : str, optional
        Atlas name and space (defaults from the file).
    value_scale : float, optional
        Multiply every value by this factor (e.g. 0.01 for maps in percent).
    **kwargs
        Passed to the format's reader (PAQD: ``grid=(shape, affine)``, ``suffixes``).

    Raises
    ------
    AtlasFileError
        Naming the file and the problem (unknown format, damaged file, labels
        that do not match the regions, values outside [0, 1]).

    Examples
    --------
    >>> import os, tempfile, gpusiibra
    >>> folder = tempfile.mkdtemp()
    >>> zipped = gpusiibra.get_map().save_sparseindex(folder, "julich")     # siibra's zip format
    >>> atlas = gpusiibra.load_map(zipped, labels=gpusiibra.get_map().regions)
    >>> len(atlas)
    414
    """
    paths = [path] if isinstance(path, (str, os.PathLike)) else list(path)
    if not paths:
        raise AtlasFileError(None, "no atlas file given")
    first = os.fspath(paths[0])
    default_name = os.path.basename(first.rstrip("/"))
    label_names = paqd.read_labels(labels) if labels is not None else None
    labels_where = labels if isinstance(labels, (str, os.PathLike)) else first
    n_expected = len(label_names) if label_names is not None else None

    def _named(index, found_names=None, meta=None):
        names = label_names if label_names is not None else (found_names or [f"region {i}" for i in range(index.num_volumes)])
        if len(names) != index.num_volumes:
            raise AtlasFileError(labels_where, f"{len(names)} labels for {index.num_volumes} region maps")
        index = checked_probabilities(index, first, names, value_scale)
        meta = dict(meta or {}, source=os.path.abspath(first))
        return SparseMap(index, names, name=name or meta.get("name") or default_name,
                         space=space or meta.get("space"), meta=meta)

    def _v1(read, where):
        try:
            return read(where, n_regions=n_expected)
        except AtlasFileError as e:
            if n_expected is not None and "bounding boxes for" in e.reason:
                boxes = int(e.reason.split()[0])
                raise AtlasFileError(labels_where, f"{n_expected} labels for {boxes} region maps") from None
            raise

    if len(paths) == 1 and first.endswith(".npz"):
        index, names, meta = native.read(first)
        return _named(index, names, dict(meta, source=os.path.abspath(first)))
    if len(paths) == 1 and first.endswith(".zip"):
        return _named(_v1(siibra_v1.read_zip, first))
    if len(paths) == 1 and siibra_v1.is_prefix(first):
        return _named(_v1(siibra_v1.read_prefix, first))
    if len(paths) == 1 and os.path.isdir(first):
        prefixes = [f[: -len(siibra_v1.SUFFIXES["voxels"])] for f in sorted(os.listdir(first))
                    if f.endswith(siibra_v1.SUFFIXES["voxels"])]
        if len(prefixes) == 1:
            return _named(_v1(siibra_v1.read_prefix, os.path.join(first, prefixes[0])))
    for p in paths:
        if not os.path.exists(os.fspath(p)):
            raise AtlasFileError(p, nifti.missing_reason(p) + " (nor a sparse index prefix)")
    files = [os.fspath(p) for p in paths]
    if all(nifti.is_nifti_path(f) for f in files) and _all_paqd(files):
        entries = paqd.read(files, labels, **kwargs)
    elif all(os.path.isdir(f) or nifti.is_nifti_path(f) for f in files):
        entries = nifti.read_region_maps(files, labels)
    else:
        raise AtlasFileError(first, "unknown atlas format (expected .npz, .zip, a v1 sparse index prefix, "
                                    "PAQD or probability-map NIfTI files)")
    index = SparseIndex.from_entries(entries["shape"], entries["affine"], entries["region"], entries["voxel"],
                                     entries["value"], n_regions=len(entries["names"]))
    index = checked_probabilities(index, first, entries["names"], value_scale)
    return SparseMap(index, entries["names"], name=name or default_name, space=space,
                     meta={"source": [os.path.abspath(f) for f in files] if len(files) > 1 else os.path.abspath(first)})


def _all_paqd(files):
    flags = []
    for f in files:
        try:
            flags.append(paqd.is_paqd(nifti.load_image(f)))
        except ImageFileError as e:
            raise AtlasFileError(e.path, e.reason) from None
    if any(flags) and not all(flags):
        raise AtlasFileError(files[flags.index(False)], "mixes PAQD and plain NIfTI files")
    return all(flags)


# ----------------------------------------------------------- embedded atlas
DEFAULT_ATLAS = "julich-3.1-top2"
_DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")
#: normalised name (lower case; runs of spaces, "-" and "_" as one space) -> file in gpusiibra/data
_EMBEDDED = {
    "julich brain 3.1 top2": "julich_brain_3_1_top2_8bit.npz",
}
_ALIASES = {"julich 3.1 top2": "julich brain 3.1 top2", "julich top2": "julich brain 3.1 top2",
            "default": "julich brain 3.1 top2", "julich brain 3.1 top 2": "julich brain 3.1 top2",
            "julich brain 3.1 top 2 (8 bit)": "julich brain 3.1 top2"}  # the last: the atlas's own name


def _normal(name) -> str:
    return re.sub(r"[\s_\-]+", " ", str(name).strip().lower())


def available_maps():
    """Names of the atlases embedded in the package (the official ones: :func:`gpusiibra.atlases.catalog`)."""
    return ["julich-3.1-top2"]


@lru_cache(maxsize=None)
def _load_embedded(key):
    smap = load_map(os.path.join(_DATA, _EMBEDDED[key]))
    smap.name = "Julich-Brain 3.1 top-2 (8-bit derivative)"
    smap.meta["source"] = "julich-3.1-top2"  # how get_map finds it again (a results dataset records it)
    return smap


@lru_cache(maxsize=4)
def _load_official(entry_id, path, mtime):
    from . import atlases

    entry = atlases.get_entry(entry_id)
    index, names, meta = native.read(path)
    if names != list(entry.regions):
        raise AtlasFileError(path, f"its region names are not those of this gpusiibra's catalog for {entry.id} (a "
                                   "cache written by another version): run `gpusiibra atlas fetch "
                                   f"{entry.id} --force`")
    return SparseMap(index, names, name=entry.name, space=entry.space, meta=dict(meta, source=entry.id))


def get_map(name: str = DEFAULT_ATLAS, *, cache=None, progress: bool = True) -> SparseMap:
    """An atlas by name: embedded, official (fetched and cached on first use), or a file by path.

    ``get_map()`` gives the embedded Julich-Brain 3.1 atlas in its top-2, 8-bit
    derivative (``"julich-3.1-top2"``: 414 regions, the two most probable areas
    per voxel, probabilities quantized to 1/255, on the 1 mm ICBM 2009c nonlinear
    asymmetric grid): offline, for trying things out. ``get_map("julich-3.1")``
    gives the official Julich-Brain 3.1 maps with siibra's region names: the first
    call downloads them once into the cache (see :mod:`gpusiibra.atlases`), later
    calls load the cached copy in well under a second. Arrays are loaded once per
    process; each call returns a map of its own, so that changing one changes no
    other caller's.

    Parameters
    ----------
    name : str
        An embedded or catalog name (``gpusiibra atlas list``), or the path of an atlas file.
    cache : path, optional
        The cache folder for official atlases (default: ``$GPUSIIBRA_CACHE``, else the user cache).
    progress : bool
        Progress bars when an official atlas is downloaded.

    Raises
    ------
    AtlasNotFound
        For a name that is neither an embedded atlas, nor in the catalog, nor an existing path.
    AtlasFileError
        For a path (a name with a folder or a file extension) that does not exist or cannot be read.
    DownloadError
        When an official atlas is not cached and cannot be downloaded.

    Examples
    --------
    >>> import gpusiibra
    >>> atlas = gpusiibra.get_map()
    >>> len(atlas), atlas.shape
    (414, (157, 197, 165))
    """
    from . import atlases

    key = _normal(name)
    key = _ALIASES.get(key, key)
    if key in _EMBEDDED:
        return _load_embedded(key).copy()
    entry = atlases.find(name)
    if entry is not None:
        path = atlases.fetch(entry, cache, progress=progress)
        return _load_official(entry.id, path, os.stat(path).st_mtime_ns).copy()
    path = os.fspath(name)
    if os.path.exists(path) or siibra_v1.is_prefix(path):
        return load_map(path)
    if os.sep in path or "/" in path or os.path.splitext(path)[1].lower() in (".zip", ".npz", ".nii", ".gz"):
        raise AtlasFileError(path, nifti.missing_reason(path))
    known = available_maps() + [e.id for e in atlases.catalog()]
    close = difflib.get_close_matches(str(name).lower(), known, n=3, cutoff=0.3)
    hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
    raise AtlasNotFound(f"no atlas named {name!r} and no such file (known atlases: {', '.join(known)}; "
                        f"`gpusiibra atlas list` describes them){hint}")
