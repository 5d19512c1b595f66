"""Opening atlases: :func:`get_map` (embedded, official, or a file), :func:`load_map`, :func:`from_arrays`.

The map classes live in :mod:`gpusiibra._sparsemap` (``SparseMap``, probability maps) and
:mod:`gpusiibra.labelled` (``LabelledMap``, one label per voxel); both are re-exported here.
"""
from __future__ import annotations

import os
from functools import lru_cache

import numpy as np

from .io import formats, native, nifti, paqd, siibra_v1
from .errors import AtlasFileError, AtlasNotFound, OptionError, RegionCountError, RegionNotFound
from ._names import normal_name, similar_names
from ._sparsemap import SparseMap
from .labelled import LabelledMap, from_label_image
from .sparse import SparseIndex, checked_probabilities

__all__ = ["SparseMap", "LabelledMap", "RegionNotFound", "load_map", "from_arrays", "from_label_image", "get_map",
           "get_maps", "assign_batch", "DEFAULT_ATLAS", "available_maps"]

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


def load_map(path, labels=None, name=None, space=None, value_scale=None, labelled=False, **kwargs) -> SparseMap:
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
    labelled : bool
        ``path`` is a label volume (AAL, Harvard-Oxford's maximum probability map...) and ``labels`` its
        regions: a lookup table's path (``<label> <name>`` lines), ``{name: label}``, or names for labels
        1, 2, ...: a :class:`LabelledMap`, assigned by siibra's rules for labelled maps.
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
    paths = [os.fspath(p) for p in ([path] if isinstance(path, (str, os.PathLike)) else list(path))]
    if not paths:
        raise AtlasFileError(None, "no atlas file given")
    first = paths[0]
    default_name = os.path.basename(first.rstrip("/"))
    if labelled:
        return _load_labelled(paths, labels, name or default_name, space)
    label_names = paqd.read_labels(labels) if labels is not None else None
    labels_where = labels if isinstance(labels, (str, os.PathLike)) else first
    fmt = formats.find(paths)
    try:
        index, names, meta = fmt.read(paths, n_regions=len(label_names) if label_names is not None else None,
                                      labels=labels, **kwargs)
    except RegionCountError as e:
        if label_names is None:
            raise
        raise AtlasFileError(labels_where, f"{e.expected} labels for {e.found} region maps") from None
    source = os.path.abspath(first) if len(paths) == 1 else [os.path.abspath(f) for f in paths]
    meta = dict(meta, source=source)
    if meta.get("maptype") == "labelled":
        from .labelled import from_native

        smap = from_native(index, names, meta)
        smap.name, smap.space = name or smap.name or default_name, space or smap.space
        return smap
    if label_names is not None and not fmt.takes_labels:
        names = label_names  # formats that carry no names, or names the user replaces
    names = names or [f"region {i}" for i in range(index.num_volumes)]
    if len(names) != index.num_volumes:
        raise AtlasFileError(labels_where, f"{len(names)} labels for {index.num_volumes} region maps")
    index = checked_probabilities(index, first, names, value_scale)
    return SparseMap(index, names, name=name or meta.get("name") or default_name, space=space or meta.get("space"),
                     meta=meta)


def _load_labelled(paths, labels, name, space):
    first = paths[0]
    if labels is None:
        raise AtlasFileError(first, "a labelled map needs its regions: labels=<lookup table, dict or names>")
    if len(paths) != 1 or not os.path.isfile(first):
        raise AtlasFileError(first, nifti.missing_reason(first) if not os.path.exists(first) else
                             "a labelled map is one label volume (a NIfTI file)")
    return from_label_image(first, labels, name=name, space=space)


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


def available_maps():
    """Names of the atlases embedded in the package (the official ones: :func:`gpusiibra.atlases.catalog`)."""
    return ["julich-3.1-top2", "julich-3.1-top2-mpm"]


@lru_cache(maxsize=None)
def _load_embedded(key):
    smap = load_map(os.path.join(_DATA, _EMBEDDED[key]))
    smap.name = "Julich-Brain 3.1 top-2 (8-bit derivative)"
    smap.meta["source"] = "julich-3.1-top2"  # how get_map finds it again (a results dataset records it)
    return smap


@lru_cache(maxsize=None)
def _embedded_mpm(key):
    from .labelled import maximum_probability_map

    return maximum_probability_map(_load_embedded(key), name="Julich-Brain 3.1 top-2 maximum probability map")


@lru_cache(maxsize=4)
def _load_official(entry_id, path, mtime):
    from . import atlases

    entry = atlases.get_entry(entry_id)
    index, names, meta = native.read(path)
    same = names == list(entry.regions) if entry.regions else len(names) == entry.region_count  # or: names that
    # come with the files (nilearn's fetchers)
    if not same or (meta.get("maptype") == "labelled") != entry.labelled:
        raise AtlasFileError(path, f"its region names are not those of this gpusiibra's catalog for {entry.id} (a "
                                   "cache written by another version): run `gpusiibra atlas fetch "
                                   f"{entry.id} --force`")
    if entry.labelled:
        from .labelled import from_native

        return from_native(index, names, dict(meta, source=entry.id, name=entry.name, space=entry.space))
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

    if not isinstance(name, (str, os.PathLike)):
        raise OptionError(f"get_map takes an atlas's name or a path (gpusiibra atlas list), not {name!r}")
    key = normal_name(name)
    key = _ALIASES.get(key, key)
    if key in _EMBEDDED:
        return _load_embedded(key).copy()
    if key.endswith(" mpm") and _ALIASES.get(key[:-4], key[:-4]) in _EMBEDDED:
        return _embedded_mpm(_ALIASES.get(key[:-4], key[:-4])).copy()
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
    close = similar_names(name, known)
    hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
    raise AtlasNotFound(f"no atlas named {name!r} and no such file (known atlases: {', '.join(known)}; "
                        f"`gpusiibra atlas list` describes them){hint}")


def get_maps(atlas) -> list:
    """Several atlases at once: a comma-separated string of names (``"julich-3.1,harvard-oxford-cort-25"``), or a
    list of names, paths and maps; each as :func:`get_map` gives it."""
    items = [a.strip() for a in atlas.split(",") if a.strip()] if isinstance(atlas, str) else \
        list(atlas) if isinstance(atlas, (list, tuple)) else [atlas]
    return [a if isinstance(a, SparseMap) else get_map(a) for a in items]


def assign_batch(inputs, out=None, *, atlas=DEFAULT_ATLAS, **kwargs):
    """Assign many maps (files, folders, globs) to one atlas or several in one pass.

    ``atlas``: a name, a map, or a list of them (or ``"a,b"``); each input is read once and assigned to each
    atlas by that atlas's rules, rows telling them apart in the ``atlas`` column. The other arguments are
    those of :func:`gpusiibra.batch.assign_batch`.

    Examples
    --------
    >>> import gpusiibra
    >>> rows, summary = gpusiibra.assign_batch(["example:motor"], threshold=3.1, progress=False)
    >>> rows["atlas"].unique().tolist()
    ['julich-3.1-top2']
    """
    from .batch import assign_batch as _assign_batch

    return _assign_batch(get_maps(atlas), inputs, out, **kwargs)
