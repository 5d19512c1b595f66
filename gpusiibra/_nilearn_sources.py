"""Atlases that nilearn's fetchers know (Schaefer 2018...), fetched with gpusiibra's guarantees and read by nilearn.

The catalog records, for each map, nilearn's fetcher and its arguments, its dataset folder and the files and URLs
the fetcher downloads (read from nilearn's source, ``nilearn/datasets/atlas.py``). gpusiibra downloads those files
itself (pooch: progress, the mirror setting, each file's size and SHA-256 recorded at its first download, a file cut
short refused, all under the cache's lock) into a data directory laid out as nilearn's, then calls nilearn's own
fetcher on it with that ``data_dir``: nilearn finds every file present, downloads nothing, and reads the atlas as it
always does (its label table, its files). The labels nilearn gives must be exactly those of the volume.
"""
from __future__ import annotations

import os

import numpy as np

from ._download import _download, _NotThere, _say, mirrored
from .errors import AtlasFileError, DependencyError, DownloadError

__all__ = ["acquire_nilearn"]


def _fetcher(entry):
    try:
        from nilearn import datasets
    except ImportError:
        raise DependencyError(f"{entry.id} is read by nilearn's {entry.source['nilearn']}, and nilearn is not "
                              "installed: pip install nilearn") from None
    return getattr(datasets, entry.source["nilearn"])


def acquire_nilearn(entry, checks, folder, downloads, progress):
    """``(index, files, origin, regions, labels)``: the map's files downloaded into a nilearn data directory under
    ``downloads``, read by nilearn's fetcher, checked and turned into a sparse index."""
    from .io.labels import label_entries
    from .sparse import SparseIndex

    src = entry.source
    dataset_dir = os.path.join(downloads, src["dataset"])
    files = {}
    for fname, url, *how in src["files"]:
        archive = how and how[0] == "archive"  # unpacked into the dataset folder, as nilearn's fetcher would
        try:
            path, files[fname] = _download(url, downloads if archive else dataset_dir, fname, checks, progress,
                                           folder)
        except _NotThere as e:
            raise DownloadError(e.args[0], "the server answered 404 Not Found (no such file)", folder) from None
        if archive:
            _unpack(path, dataset_dir, mirrored(url))
    for rel in src.get("expects", ()):  # nilearn would download a missing file itself, unchecked: refused here
        if not os.path.isfile(os.path.join(dataset_dir, rel)):
            raise AtlasFileError(mirrored(src["files"][-1][1]), f"holds no {rel}, which nilearn's {src['nilearn']} "
                                                                "reads (an atlas without its labels file, or a "
                                                                "changed layout), so nothing was cached")
    fetch = _fetcher(entry)
    _say(f"{entry.id}: reading the files with nilearn's {src['nilearn']}")
    import warnings

    try:
        with warnings.catch_warnings():  # nilearn's own notes on labels and volume: checked below, as errors
            warnings.simplefilter("ignore", UserWarning)
            got = fetch(data_dir=downloads, verbose=0, **src.get("kwargs", {}))
    except Exception as e:  # nilearn could not read what was downloaded
        raise AtlasFileError(mirrored(src["files"][0][1]), f"nilearn's {src['nilearn']} cannot read the fetched "
                                                           f"files ({type(e).__name__}: {e}), so nothing was cached "
                                                           "(run again to retry)") from None
    lut = getattr(got, "lut", None)
    maps = got.maps if not isinstance(got.maps, (str, os.PathLike)) else str(got.maps)  # a path or an image
    where = maps if isinstance(maps, str) else mirrored(src["files"][0][1])
    if not entry.labelled:
        index, origin, regions, labels = _probabilistic(entry, got, maps, where)
        return index, files, origin, regions, labels
    if lut is None or not {"index", "name"} <= set(lut.columns):
        raise AtlasFileError(where, f"nilearn's {src['nilearn']} gave no label table (index, name)")
    pairs = [(int(i), str(n)) for i, n in zip(lut["index"], lut["name"]) if int(i) != 0]  # 0: the background
    regions, labels = [n for _, n in pairs], [i for i, _ in pairs]
    if entry.n_regions and len(regions) != entry.n_regions:
        raise AtlasFileError(where, f"nilearn's label table names {len(regions)} regions, {entry.id} has "
                                    f"{entry.n_regions}: the labels do not match the volume")
    if len(set(regions)) != len(regions):
        raise AtlasFileError(where, "nilearn's label table names a region twice")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", RuntimeWarning)  # a label the table does not name: refused, not skipped
            got_entries = label_entries(maps, dict(zip(regions, labels)))
    except AtlasFileError as e:
        raise AtlasFileError(e.path, f"{e.reason}: the fetched file does not parse, so nothing was cached "
                                     "(run again to retry)") from None
    except RuntimeWarning as w:
        raise AtlasFileError(where, f"{str(w).split(': ', 1)[-1]}: the labels do not match the volume, so nothing "
                                    "was cached") from None
    present = np.unique(got_entries["region"])
    if len(present) != len(regions):
        absent = sorted(set(range(len(regions))) - set(present.tolist()))
        raise AtlasFileError(where, f"the label table names {len(absent)} label(s) the volume does not hold (first: "
                                    f"{labels[absent[0]]}, {regions[absent[0]]!r}): the labels do not match the "
                                    "volume, so nothing was cached")
    index = SparseIndex.from_entries(got_entries["shape"], got_entries["affine"], got_entries["region"],
                                     got_entries["voxel"], np.ones(len(got_entries["region"]), np.float32),
                                     n_regions=len(regions))
    return index, files, f"{mirrored(src['files'][0][1]).rsplit('/', 1)[0]}/ (read by nilearn)", regions, labels


def _probabilistic(entry, got, maps, where):
    """``(index, origin, regions, labels)`` of a probabilistic map: a 4D map, one volume per region, read volume by
    volume (a file: forward once, :func:`gpusiibra.io.nifti.iter_volumes`; never the dense 4D array: DiFuMo 1024
    is 5.4 GB dense). Values in percent (FSL's), read as probabilities, or weights taken as they are
    (``entry.values == "weights"``: DiFuMo's). nilearn's labels: "Background", then the regions in volume order, or
    a table (DiFuMo's CSV: the column ``source["label_column"]``, its components numbered 1, 2, ... in order)."""
    from .errors import ImageFileError
    from .io import nifti
    from .sparse import SparseIndex

    regions = _region_names(entry, got, where)
    try:
        streamed = nifti.iter_volumes(maps) if isinstance(maps, str) else None
        if streamed is not None:
            shape, affine, volumes = streamed
        else:  # an image nilearn made, or a file the raw reader does not take: nibabel's array
            img = nifti.load_image(maps) if isinstance(maps, str) else maps
            data = np.asanyarray(img.dataobj)
            shape, affine = data.shape, np.asarray(img.affine, np.float64)
            volumes = (data[..., v] for v in range(data.shape[3] if data.ndim == 4 else 0))
        if len(shape) != 4 or shape[3] != len(regions):
            raise AtlasFileError(where, f"nilearn's labels name {len(regions)} regions, the map has "
                                        f"{shape[3] if len(shape) == 4 else 1} volume(s): the labels do not match "
                                        "the volume, so nothing was cached")
        if entry.n_regions and len(regions) != entry.n_regions:
            raise AtlasFileError(where, f"{len(regions)} regions, {entry.id} has {entry.n_regions}: the labels do "
                                        "not match the volume, so nothing was cached")
        percent = entry.values == "probabilities"
        counts, voxel, value = [], [], []
        lo, hi = np.float64(np.inf), np.float64(-np.inf)
        for vol in volumes:
            flat = np.asarray(vol).reshape(-1)  # C order, as the sparse index numbers voxels
            nz = np.flatnonzero(flat)
            vals = flat[nz].astype(np.float64)  # float64 of the nonzero values only: the same numbers
            if vals.size:
                lo, hi = np.minimum(lo, vals.min()), np.maximum(hi, vals.max())  # NaN stays NaN, as one min would
            counts.append(len(nz))
            voxel.append(nz.astype(np.int32 if flat.size < 2 ** 31 else np.int64))
            value.append((vals / 100.0 if percent else vals).astype(np.float32))
            del flat, vals
    except ImageFileError as e:
        raise AtlasFileError(e.path, f"{e.reason}: the fetched file does not parse, so nothing was cached (run "
                                     "again to retry)") from None
    if percent and lo <= hi and (lo < 0 or hi > 100):
        raise AtlasFileError(where, f"values in [{lo:g}, {hi:g}], not percentages in [0, 100]")
    region = np.repeat(np.arange(len(counts)), counts)
    voxel = np.concatenate(voxel) if voxel else np.zeros(0, np.int64)
    value = np.concatenate(value) if value else np.zeros(0, np.float32)
    index = SparseIndex.from_entries(shape[:3], np.asarray(affine, np.float64), region, voxel, value,
                                     n_regions=len(regions))
    return index, f"{mirrored(entry.source['files'][0][1])} (read by nilearn)", regions, []


def _region_names(entry, got, where):
    """The regions' names in volume order, from nilearn's labels (a list, or a table with a names column)."""
    labels = got.labels
    column = entry.source.get("label_column")
    if column is not None:  # a table, as nilearn reads DiFuMo's CSV (its column names in lower case)
        if not hasattr(labels, "columns") or column not in labels.columns:
            raise AtlasFileError(where, f"nilearn's {entry.source['nilearn']} gave no {column!r} column of region "
                                        "names: the labels file does not match the map, so nothing was cached")
        if "component" in labels.columns and [int(c) for c in labels["component"]] != list(
                range(1, len(labels) + 1)):
            raise AtlasFileError(where, "the labels file does not number its components 1, 2, ... in order: the "
                                        "labels do not match the volume, so nothing was cached")
        names = [str(n) for n in labels[column]]
        seen = {}
        for n in names:
            seen[n] = seen.get(n, 0) + 1
        # a name given to several components: each of them named with its component's number as well
        return [f"{n} (component {k + 1})" if seen[n] > 1 else n for k, n in enumerate(names)]
    names = [str(n) for n in labels]
    return names[1:] if names and names[0] == "Background" else names


def _unpack(path, folder, where):
    """A .zip, .tar.gz or .tgz archive into ``folder`` (no member may lead outside it)."""
    import tarfile
    import zipfile

    os.makedirs(folder, exist_ok=True)
    root = os.path.realpath(folder)
    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as z:
                names = z.namelist()
                _inside(root, names, where)
                z.extractall(folder)
        else:
            with tarfile.open(path) as t:
                members = t.getmembers()
                _inside(root, [m.name for m in members], where)
                t.extractall(folder, members=[m for m in members if m.isfile() or m.isdir()])
    except (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError) as e:
        raise AtlasFileError(where, f"a damaged archive ({type(e).__name__}: {e}), so nothing was cached (run again "
                                    "to retry)") from None


def _inside(root, names, where):
    for name in names:
        if not os.path.realpath(os.path.join(root, name)).startswith(root + os.sep):
            raise AtlasFileError(where, f"the archive's member {name!r} lies outside its folder: refused")
