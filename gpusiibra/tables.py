"""Coordinate tables labelled with regions: cluster tables, peak lists and coordinate databases as they come.

nilearn's ``get_clusters_table``, NiMARE's and Neurosynth's coordinate tables and SPM exports carry
coordinates and other columns (cluster ids, statistics, study ids) but no region. :func:`label_points`
keeps every column of the table, in order, and adds the regions each point falls into (siibra's
``Map.assign`` of the points, exactly or with siibra's Gaussian kernel).
"""
from __future__ import annotations

import os

import numpy as np

__all__ = ["label_points"]


def label_points(table, atlas=None, sigma_mm=None, lower_threshold=0.0, space=None):
    """Add the regions of each point to a coordinate table.

    Parameters
    ----------
    table : pandas.DataFrame or path
        A table with coordinate columns in mm (x/y/z, X/Y/Z, mni_x/mni_y/mni_z, ...: see
        :data:`gpusiibra.io.coordinates.COORDINATE_SPELLINGS`), e.g. nilearn's ``get_clusters_table``;
        or a CSV/TSV file of one.
    atlas : SparseMap or str, optional
        The atlas (default: the embedded one).
    sigma_mm : float, optional
        Every point's uncertainty in mm; else a ``sigma_mm`` (or ``sigma``) column, else 0 (exact lookup).
    lower_threshold : float
        siibra's ``lower_threshold``.

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
    from .maps import SparseMap, get_map

    where = None
    if isinstance(table, (str, os.PathLike)):
        where = os.fspath(table)
        table = read_table(where)
    elif not isinstance(table, pd.DataFrame):
        table = pd.DataFrame(table)
    points = points_of(table, sigma_mm, space, where=where)
    smap = atlas if isinstance(atlas, SparseMap) else get_map(atlas) if atlas is not None else get_map()
    assigned = smap.assign(points, lower_threshold=lower_threshold)
    point = assigned["input structure"].to_numpy(np.int64)
    left = table.reset_index(drop=True)
    clash = {c: f"input:{c}" for c in left.columns if c in assigned.columns and c != "input structure"}
    left = left.rename(columns=clash)
    right = assigned.drop(columns=["input structure", "centroid"])
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
    return got
