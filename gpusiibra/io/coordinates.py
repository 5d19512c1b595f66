"""Coordinate tables (CSV/TSV): points in mm, with an optional per-point sigma."""
from __future__ import annotations

import os

import numpy as np

from .errors import PointsFileError

__all__ = ["read_points"]

_SIGMA_NAMES = ("sigma_mm", "sigma", "fwhm_sigma", "uncertainty")


def read_points(path, sigma_mm=None, space=None):
    """A :class:`~gpusiibra.PointCloud` from a CSV/TSV file of coordinates in mm.

    The columns ``x``, ``y``, ``z`` (any case) are the coordinates; without
    them, the first three numeric columns are. A column ``sigma_mm`` (or
    ``sigma``) gives each point's uncertainty, unless ``sigma_mm`` is given.
    The separator (comma, tab, semicolon, spaces) is detected.

    Raises
    ------
    PointsFileError
        Naming the file and what is wrong with it.
    """
    import pandas as pd

    from ..points import PointCloud

    path = os.fspath(path)
    if not os.path.isfile(path):
        raise PointsFileError(path, "no such file")
    try:
        df = pd.read_csv(path, sep=None, engine="python", skipinitialspace=True)
    except Exception as e:
        raise PointsFileError(path, f"not a readable CSV/TSV table ({e})") from None
    cols = {str(c).strip().lower(): c for c in df.columns}
    if all(k in cols for k in "xyz"):
        xyz = df[[cols["x"], cols["y"], cols["z"]]]
    else:
        try:  # a header-less table: its first row is data, not names
            df = pd.read_csv(path, sep=None, engine="python", header=None, skipinitialspace=True)
        except Exception as e:
            raise PointsFileError(path, f"not a readable CSV/TSV table ({e})") from None
        numeric = df.apply(pd.to_numeric, errors="coerce")
        usable = [c for c in numeric.columns if numeric[c].notna().all()]
        if len(usable) < 3:
            raise PointsFileError(path, "needs columns x, y, z (or three numeric columns) of coordinates in mm")
        xyz = numeric[usable[:3]]
    coords = xyz.apply(pd.to_numeric, errors="coerce").to_numpy(np.float64)
    bad = ~np.isfinite(coords).all(axis=1)
    if bad.any():
        raise PointsFileError(path, f"row {int(np.flatnonzero(bad)[0]) + 1} has a coordinate that is not a number")
    if sigma_mm is None:
        name = next((cols[n] for n in _SIGMA_NAMES if n in cols), None)
        sigma_mm = pd.to_numeric(df[name], errors="coerce").to_numpy(np.float64) if name is not None else 0.0
    sigma = np.broadcast_to(np.asarray(sigma_mm, np.float64), (len(coords),))
    if not (np.isfinite(sigma) & (sigma >= 0)).all():
        raise PointsFileError(path, "sigma must be a number >= 0 on every row")
    return PointCloud(coords, space, sigma)
