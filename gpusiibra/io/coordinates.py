"""Coordinate tables (CSV/TSV): points in mm, with an optional per-point sigma.

Tables are read strictly: every row must have as many fields as the header
(a ragged row is an error naming its line, never a silent shift of columns).
"""
from __future__ import annotations

import csv
import os

import numpy as np

from ..errors import PointsFileError

__all__ = ["read_points"]

_SIGMA_NAMES = ("sigma_mm", "sigma", "fwhm_sigma", "uncertainty")


def _rows(path):
    """(line number, fields) of the table's non-blank, non-comment lines, the separator detected."""
    try:
        with open(path, encoding="utf-8-sig", newline="") as f:  # utf-8-sig: the byte-order mark Excel writes
            text = f.read()
    except UnicodeDecodeError:
        raise PointsFileError(path, "not UTF-8 text (save the table as CSV or TSV in UTF-8)") from None
    except OSError as e:
        raise PointsFileError(path, f"cannot read the file ({e.strerror})") from None
    lines = [(n, line) for n, line in enumerate(text.splitlines(), start=1)
             if line.strip() and not line.lstrip().startswith("#")]
    if not lines:
        raise PointsFileError(path, "the table is empty")
    first = lines[0][1]
    sep = next((s for s in ("\t", ",", ";") if s in first), None)
    if sep is None:
        rows = [(n, line.split()) for n, line in lines]
    else:
        rows = [(n, [c.strip() for c in fields]) for (n, _), fields in
                zip(lines, csv.reader([line for _, line in lines], delimiter=sep))]
    # a separator at the end of every line (as some spreadsheets write) makes an empty last column: drop it
    if all(len(f) > 1 and f[-1] == "" for _, f in rows):
        rows = [(n, f[:-1]) for n, f in rows]
    return rows


def _is_number(text):
    try:
        float(text)
    except ValueError:
        return False
    return True


def read_points(path, sigma_mm=None, space=None):
    """A :class:`~gpusiibra.PointCloud` from a CSV/TSV file of coordinates in mm.

    The columns ``x``, ``y``, ``z`` (any case) are the coordinates; without
    them (or without a header), the first three columns whose values are all
    numbers are. A column ``sigma_mm`` (or ``sigma``) gives each point's
    uncertainty, unless ``sigma_mm`` is given. The separator (tab, comma,
    semicolon or spaces) is detected; a UTF-8 byte-order mark, blank lines and
    lines starting with ``#`` are ignored.

    Raises
    ------
    PointsFileError
        Naming the file and what is wrong with it (with the line number for a
        ragged row or a value that is not a number).
    """
    from ..points import PointCloud

    path = os.fspath(path)
    if not os.path.isfile(path):
        raise PointsFileError(path, "no such file" if not os.path.isdir(path) else "is a folder, not a table")
    rows = _rows(path)
    header = None if all(_is_number(c) for c in rows[0][1]) else rows[0][1]
    body = rows[1:] if header is not None else rows
    width = len(header) if header is not None else len(body[0][1]) if body else 0
    for n, fields in body:
        if len(fields) != width:
            what = "the header has" if header is not None else "the first row has"
            raise PointsFileError(path, f"line {n} has {len(fields)} fields, {what} {width}")
    if not body:
        raise PointsFileError(path, "the table has a header but no rows")
    names = [h.strip().lower() for h in header] if header is not None else []
    cells = np.array([f for _, f in body], dtype=object)

    def column(j, what):
        out = np.empty(len(body))
        for i, (n, fields) in enumerate(body):
            try:
                out[i] = float(fields[j])
            except ValueError:
                raise PointsFileError(path, f"line {n}: {what} {fields[j]!r} is not a number") from None
        return out

    if all(k in names for k in "xyz"):
        idx = [names.index(k) for k in "xyz"]
    else:
        idx = [j for j in range(width) if all(_is_number(c) for c in cells[:, j])][:3]
        if len(idx) < 3:
            raise PointsFileError(path, "needs columns x, y, z (or three numeric columns) of coordinates in mm")
    coords = np.stack([column(j, f"coordinate {'xyz'[a]}") for a, j in enumerate(idx)], axis=1)
    bad = ~np.isfinite(coords).all(axis=1)
    if bad.any():
        raise PointsFileError(path, f"line {body[int(np.flatnonzero(bad)[0])][0]} has a coordinate that is not finite")
    if sigma_mm is None:
        j = next((names.index(k) for k in _SIGMA_NAMES if k in names), None)
        sigma_mm = column(j, "sigma") if j is not None else 0.0
    sigma = np.broadcast_to(np.asarray(sigma_mm, np.float64), (len(coords),))
    if not (np.isfinite(sigma) & (sigma >= 0)).all():
        raise PointsFileError(path, "sigma must be a number >= 0 on every row")
    return PointCloud(coords, space, sigma)
