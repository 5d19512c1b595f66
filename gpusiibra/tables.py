"""Coordinate tables labelled with regions: cluster tables, peak lists and coordinate databases as they come.

nilearn's ``get_clusters_table``, NiMARE's and Neurosynth's coordinate tables and SPM exports carry
coordinates and other columns (cluster ids, statistics, study ids) but no region. :func:`label_points`
keeps every column of the table, in order, and adds the regions each point falls into (siibra's
``Map.assign`` of the points, exactly or with siibra's Gaussian kernel).
"""
from __future__ import annotations

import contextlib
import os
import sys
from dataclasses import dataclass

import numpy as np

from ._spaces import by_row

__all__ = ["label_points", "label_points_batch", "region_summary", "PointsSummary"]


def label_points(table, atlas=None, sigma_mm=None, lower_threshold=0.0, space=None, keep_row=False):
    """Add the regions of each point to a coordinate table.

    Parameters
    ----------
    table : pandas.DataFrame or path
        A table with coordinate columns in mm (x/y/z, X/Y/Z, mni_x/mni_y/mni_z, ...: see
        :data:`gpusiibra.io.coordinates.COORDINATE_SPELLINGS`), e.g. nilearn's ``get_clusters_table``;
        or a CSV/TSV file of one.
    atlas : SparseMap or str, or a list of them, optional
        The atlas (default: the embedded one); several (a list, or names separated by commas): one block of
        rows per atlas, with an ``atlas`` column after the table's own.
    sigma_mm : float, optional
        Every point's uncertainty in mm (over a ``sigma_mm`` column, with a warning); else a ``sigma_mm`` (or
        ``sigma``) column, else 0 (exact lookup).
    lower_threshold : float
        siibra's ``lower_threshold``.
    space : str, optional
        The coordinates' space (:mod:`gpusiibra.spaces`: ``"Talairach"``, ``"MNI152NLin6Asym"``/``"FSL"``,
        ``"MNI305"``...): the points are warped into each atlas's space before the lookup. Default: the
        table's as they are (siibra's behaviour; ``"MNI"`` says the same); a ``space`` column that names
        Talairach is refused, and rows that name another space than ``space`` (a generic "MNI" too: the table
        does not say which). ``"column"``: each row is warped from the
        space its own ``space`` column names (Neurosynth's and NiMARE's tables mix MNI and Talairach rows;
        a row saying a generic "MNI" is taken as it is; one naming a space gpusiibra does not know is refused).

    Returns
    -------
    pandas.DataFrame
        Every column of ``table`` in its order, then siibra's columns of the point's assignment (``region``,
        ``map value``, and for uncertain points the image statistics): one row per point and region, in the
        table's order; a point in no region keeps one row with an empty region. Input columns named like
        an output column get the prefix ``input:``.

    Examples
    --------
    >>> import pandas as pd
    >>> from gpusiibra.tables import label_points
    >>> clusters = pd.DataFrame({"Cluster ID": ["1", "2"], "X": [-40, 38], "Y": [-20, -22], "Z": [55, 58],
    ...                          "Peak Stat": [7.1, 6.3]})
    >>> out = label_points(clusters)
    >>> list(out.columns[:5]), out["Cluster ID"].iloc[0]
    (['Cluster ID', 'X', 'Y', 'Z', 'Peak Stat'], '1')
    """
    import pandas as pd

    from .io.coordinates import points_of, read_table
    from .maps import SparseMap, get_map, get_maps

    where = None
    if isinstance(table, (str, os.PathLike)):
        where = os.fspath(table)
        table = read_table(where)
    elif not isinstance(table, pd.DataFrame):
        table = pd.DataFrame(table)
    else:
        where = table.attrs.get("path")  # a table read_table read (passed on for several atlases)
    if isinstance(atlas, (list, tuple)) or (isinstance(atlas, str) and "," in atlas):
        from .dataset import atlas_label

        blocks = []
        for smap in get_maps(atlas):  # one block of rows per atlas, each as for that atlas alone
            with _said_once(blocks):
                got = label_points(table, smap, sigma_mm, lower_threshold, space, keep_row)
            got.insert(len(table.columns), "atlas", atlas_label(smap))
            blocks.append(got)
        return pd.concat(blocks, ignore_index=True)
    smap = atlas if isinstance(atlas, SparseMap) else get_map(atlas) if atlas is not None else get_map()
    if by_row(space):  # each row from the space its `space` column names (a coordinate database)
        from .points import PointCloud
        from .spaces import rows_to_atlas

        points = points_of(table, sigma_mm, "column", where=where)
        points = PointCloud(rows_to_atlas(points.coordinates, _space_column(table, where), smap, where),
                            None, points.sigma)
        space = None
    else:
        points = points_of(table, sigma_mm, space, where=where, atlas_space=_space_name(smap))
    assigned = smap._assign_points(points, lower_threshold, centroids=False, space=space)  # the table has the coordinates
    point = assigned["input structure"].to_numpy(np.int64)
    left = table.reset_index(drop=True)
    if sigma_mm is not None:  # --sigma over the table's own sigma column: the rows say the sigma that was used
        from .io.coordinates import sigma_column

        col = sigma_column(left.columns)
        if col is not None:
            left = left.assign(**{col: np.broadcast_to(np.asarray(points.sigma, np.float64), (len(left),))})
    clash = {c: f"input:{c}" for c in left.columns if c in assigned.columns and c != "input structure"}
    left = left.rename(columns=clash)
    left["_row"] = np.arange(len(left))  # the row's number in the table (dropped below unless asked for)
    right = assigned.drop(columns=["input structure", "centroid"], errors="ignore")
    right.index = point
    order = np.argsort(point, kind="stable")  # the table's order; within a point, the assignment's
    rows = left.iloc[point[order]].reset_index(drop=True)
    got = pd.concat([rows, right.iloc[order].reset_index(drop=True)], axis=1)
    missing = np.setdiff1d(np.arange(len(left)), point)
    if len(missing):
        empty = left.iloc[missing].reset_index(drop=True)
        got = pd.concat([got, empty], ignore_index=True)
        pos = np.concatenate([point[order], missing])
        got = got.iloc[np.argsort(pos, kind="stable")].reset_index(drop=True)
    if "volume" in got:
        got["volume"] = got["volume"].astype("Int64")
    return got if keep_row else got.drop(columns="_row")


@contextlib.contextmanager
def _said_once(done):
    """A context in which the warning that sigma_mm overrides the table's sigma column is not said again, once
    ``done`` (the table's first part or atlas said it)."""
    import re
    import warnings

    from .io.coordinates import SIGMA_OVERRIDE

    if not done:
        yield
        return
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*" + re.escape(SIGMA_OVERRIDE), category=RuntimeWarning)
        yield


def _space_column(table, where):
    """The values of a table's ``space`` column (any case), or a PointsFileError when it has none."""
    from .errors import PointsFileError

    from .io.coordinates import space_column_name

    col = space_column_name(table, where)
    if col is None:
        raise PointsFileError(where, "--space column: the table has no space column (it has "
                                     f"{', '.join(map(str, table.columns))})")
    return table[col].astype(str).str.strip().to_numpy()


def _space_name(smap):
    from .spaces import atlas_space

    sp = atlas_space(smap)
    return sp.name if sp is not None else None


def _count(n, word) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


@dataclass
class PointsSummary:
    """What a points run did: rows of the table, rows assigned now, rows already done (resume), output rows."""

    points: int = 0
    assigned: int = 0
    skipped: int = 0
    rows: int = 0
    seconds: float = 0.0
    out: str | None = None
    by_group: object = None  # a DataFrame (region_summary) when a grouping column was given

    def __str__(self):
        if self.assigned == 0 and self.skipped:
            return (f"nothing to do: the dataset already holds {'the' if self.skipped == 1 else 'all'} "
                    f"{_count(self.skipped, 'point')} of the table")
        rate = self.assigned / self.seconds if self.seconds else 0.0
        s = (f"{_count(self.points, 'point')}: {self.assigned} assigned, {_count(self.rows, 'row')}, "
             f"{self.seconds:.1f} s ({rate:.0f} points/s)")
        if self.skipped:
            s += f"; {self.skipped} were already done (resume)"
        return s + (f"\nresults: {self.out}" if self.out else "")


def _output_schema(table, smap, uncertain: bool):
    """The Arrow schema of every part: the table's columns (types from the whole table), ``row``, then the
    region columns (fixed types, so that a chunk with no region at all keeps them)."""
    import pyarrow as pa

    from ._assign import IMAGE_COLUMNS, POINT_COLUMNS

    base = pa.Schema.from_pandas(table, preserve_index=False)
    cols = [c for c in (IMAGE_COLUMNS if uncertain else POINT_COLUMNS) if c not in ("input structure", "centroid")]
    types = {"volume": pa.int64(), "region": pa.string()}
    fields = list(base) + [pa.field("row", pa.int64())] + [pa.field(c, types.get(c, pa.float64())) for c in cols]
    return pa.schema(fields)


def label_points_batch(table, out, atlas=None, sigma_mm=None, lower_threshold=0.0, resume=False, chunk_rows=20000,
                       progress=True, space=None, by=None) -> PointsSummary:
    """:func:`label_points` for a table of any length, into a results dataset (as ``assign_batch`` writes).

    The table is read whole and checked first (a bad row is an error naming its line, before anything is
    written); its rows are then assigned ``chunk_rows`` at a time, each chunk one part file and one manifest
    line of the dataset ``out`` (one writer at a time, ``resume`` continues a stopped run with the same
    options and table, an unfinished chunk is assigned again). Every part holds the table's columns, ``row``
    (the row's number in the table, from 0) and the region columns; ``pandas.read_parquet(out)`` reads it.

    With ``by`` (a column, e.g. ``study_id``), the regions each group's points fall into
    (:func:`region_summary`) are written into the dataset as ``_summary-by-<column>.csv`` (a name that
    ``pandas.read_parquet`` passes over) and returned as ``PointsSummary.by_group``.

    Returns
    -------
    PointsSummary
    """
    import time

    import numpy as np
    import pyarrow as pa
    from tqdm.auto import tqdm

    from .dataset import Dataset, atlas_identity, file_stamp, input_key
    from .errors import OptionError
    from .io.coordinates import points_of, read_table
    from .maps import SparseMap, get_map

    if isinstance(atlas, (list, tuple)) or (isinstance(atlas, str) and "," in atlas):
        raise OptionError("a points dataset holds one atlas: run `gpusiibra points ... --out` once per atlas (without "
                          "--out, several atlases label the table in one call)")
    if isinstance(chunk_rows, bool) or not isinstance(chunk_rows, (int, np.integer)) or chunk_rows < 1:
        raise OptionError(f"chunk_rows must be an integer >= 1, got {chunk_rows!r}")
    from ._assign import COLUMNS

    t0 = time.perf_counter()
    path = os.fspath(table)
    df = read_table(path)
    df = df.rename(columns={c: f"input:{c}" for c in df.columns if c in set(COLUMNS) | {"row"}})
    smap = atlas if isinstance(atlas, SparseMap) else get_map(atlas) if atlas is not None else get_map()
    # every row checked before anything is written
    if by_row(space):
        from .spaces import rows_to_atlas

        points = points_of(df, sigma_mm, "column", where=path)
        rows_to_atlas(points.coordinates[:0], _space_column(df, path), smap, path)  # every row's space known
    else:
        points = points_of(df, sigma_mm, space, where=path, atlas_space=_space_name(smap))
    df.attrs.pop("lines", None)  # checked: pandas would deep-copy the table's line numbers at every chunk's step
    key = input_key(path)
    if by is not None and by not in df.columns:
        raise OptionError(f"--by {by}: the table has no such column (it has {', '.join(map(str, df.columns))})")
    settings = dict(kind="points", sigma_mm=None if sigma_mm is None else float(sigma_mm),
                    lower_threshold=float(lower_threshold), chunk_rows=int(chunk_rows))
    from .spaces import space_record

    settings.update(space_record(space, [smap]))  # the input's space and the transforms (only when declared)
    from nibabel.affines import voxel_sizes

    scale = float(np.mean(voxel_sizes(smap.sparse_index.affine)))  # siibra's voxel scale, as _assign takes it
    uncertain = bool(np.any(np.asarray(points.sigma_mm) / scale >= 3))
    schema = _output_schema(df, smap, uncertain)
    ds = Dataset(out, resume, settings, atlas_identity(smap))
    summary = PointsSummary(points=len(df), out=ds.out)
    try:
        ds.check_inputs([key])
        stamp = file_stamp(path)  # once: its checksum reads the whole table
        starts = [s for s in range(0, len(df), chunk_rows) if (key, s, "rows") not in ds.done]
        summary.skipped = len(df) - sum(min(chunk_rows, len(df) - s) for s in starts)
        bar = tqdm(total=len(df), initial=summary.skipped, unit="point", desc="assigning", disable=not progress,
                   file=sys.stderr)
        for s in starts:
            part = df.iloc[s:s + chunk_rows]
            with _said_once(True):  # the check of the whole table above said it
                got = label_points(part, smap, sigma_mm=sigma_mm, lower_threshold=lower_threshold, space=space,
                                   keep_row=True)
            got.insert(len(df.columns), "row", np.asarray(got.pop("_row")) + s)
            got = got.reindex(columns=schema.names)
            ds.write(pa.Table.from_pandas(got, schema=schema, preserve_index=False), [(key, s, "rows")],
                     {key: stamp})
            summary.assigned += len(part)
            summary.rows += len(got)
            bar.update(len(part))
        bar.close()
        if by is not None:
            summary.by_group = _write_group_summary(ds.out, by)
        summary.seconds = time.perf_counter() - t0
        ds.finish({"seconds": round(summary.seconds, 3), "points": summary.assigned, "rows": summary.rows})
    finally:
        ds.close()
    return summary


def _write_group_summary(out, by):
    """:func:`region_summary` of the dataset's intact recorded parts, written beside them (atomically)."""
    import re

    import pandas as pd
    import pyarrow.parquet as pq

    from .dataset import intact_chunks, read_manifest

    chunks, _ = intact_chunks(out, read_manifest(out))
    parts = [pq.read_table(os.path.join(out, r["part"])).to_pandas() for r in chunks if r.get("part")]
    summary = region_summary(pd.concat(parts, ignore_index=True), by)
    path = os.path.join(out, f"_summary-by-{re.sub(r'[^A-Za-z0-9_.-]+', '_', str(by))}.csv")
    summary.to_csv(path + ".tmp", index=False)
    os.replace(path + ".tmp", path)
    return summary


def region_summary(rows, by):
    """Per group (a column of the table, e.g. ``study_id``): the regions its points fall into.

    Each point counts once, for its best region (highest ``correlation`` for uncertain points, else highest
    ``map value``); points in no region are counted as such.

    Parameters
    ----------
    rows : pandas.DataFrame
        What :func:`label_points` gives (with ``keep_row``) or a points dataset (``pandas.read_parquet``).
    by : str
        The grouping column.

    Returns
    -------
    pandas.DataFrame
        ``by``, ``region`` (empty for "no region"), ``points``, ``share`` (of the group's points), sorted by
        group, then by points (most first).
    """
    from .errors import OptionError

    if by not in rows.columns:
        raise OptionError(f"no column {by!r} to summarise by; the table has {', '.join(map(str, rows.columns))}")
    row = "row" if "row" in rows.columns else "_row"
    measure = "correlation" if "correlation" in rows.columns and rows["correlation"].notna().any() else "map value"
    best = (rows.sort_values([row, measure], ascending=[True, False], na_position="last", kind="stable")
            .drop_duplicates(row))
    counts = best.groupby([by, best["region"].fillna("")], dropna=False).size().rename("points").reset_index()
    totals = best.groupby(by, dropna=False).size()
    counts["share"] = counts["points"] / counts[by].map(totals).to_numpy()
    return counts.sort_values([by, "points", "region"], ascending=[True, False, True]).reset_index(drop=True)
