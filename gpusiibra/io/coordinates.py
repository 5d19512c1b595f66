"""Coordinate tables (CSV/TSV): points in mm, with an optional per-point sigma.

Tables are read strictly: every row must have as many fields as the header
(a ragged row is an error naming its line, never a silent shift of columns).
"""
from __future__ import annotations

import csv
import os
import re

import numpy as np

from ..errors import PointsFileError

__all__ = ["read_points", "read_table", "points_of", "coordinate_columns", "check_space", "COORDINATE_SPELLINGS",
           "MNI_SPACES"]

_SIGMA_NAMES = ("sigma_mm", "sigma", "fwhm_sigma", "uncertainty")
#: the words of the warning that a given sigma_mm (--sigma) is used instead of the table's sigma column (a caller
#: that reads a table in parts says it once)
SIGMA_OVERRIDE = "(--sigma, sigma_mm=), not its"


def _rows(path):
    """(line number, fields) of the table's rows, the separator detected. Lines starting with ``#`` before the
    header are comments (as some exports begin); from the header on every non-blank line is a row (a label
    "#1" is data), and a quoted field may hold a line break (its row is named by its first line)."""
    import gzip
    import zlib

    try:
        # utf-8-sig: the byte-order mark Excel writes; a .gz name: the table gzipped (as points --out X.csv.gz writes)
        with (gzip.open if path.lower().endswith(".gz") else open)(path, "rt", encoding="utf-8-sig", newline="") as f:
            text = f.read()
    except (gzip.BadGzipFile, EOFError, zlib.error):
        raise PointsFileError(path, "its name ends in .gz but it is not a whole gzip file") from None
    except UnicodeDecodeError:
        with open(path, "rb") as f:
            magic = f.read(4)
        kind = {b"PAR1": "a Parquet file", b"PK\x03\x04": "a zip file (an Excel workbook?)"}.get(magic)
        raise PointsFileError(path, (f"{kind}, not a text table" if kind else "not UTF-8 text")
                              + " (save the table as CSV or TSV in UTF-8)") from None
    except OSError as e:
        raise PointsFileError(path, f"cannot read the file ({e.strerror})") from None
    lines = text.splitlines(keepends=True)  # the ends kept: a quoted field's line break is the field's
    top = next((i for i, line in enumerate(lines) if line.strip() and not line.lstrip().startswith("#")), None)
    if top is None:
        raise PointsFileError(path, "the table is empty")
    sep = next((s for s in ("\t", ",", ";") if s in lines[top]), None)
    if sep is None:
        rows = [(n, line.split()) for n, line in enumerate(lines[top:], start=top + 1) if line.strip()]
    else:
        rows, reader = [], csv.reader(lines[top:], delimiter=sep)
        done = 0  # lines read before this row
        for fields in reader:
            if fields and (len(fields) > 1 or fields[0].strip()):
                rows.append((top + done + 1, [c.strip() for c in fields]))
            done = reader.line_num
    # a separator at the end of every line (as some spreadsheets write) makes an empty last column: drop it
    if all(len(f) > 1 and f[-1] == "" for _, f in rows):
        rows = [(n, f[:-1]) for n, f in rows]
    return rows


#: the names of the tables gpusiibra reads and writes (tab-separated: .tsv, .txt; each may be gzipped)
TABLE_SUFFIXES = (".csv", ".tsv", ".txt", ".csv.gz", ".tsv.gz", ".txt.gz")


def table_separator(path) -> str:
    """The separator a table written under ``path`` takes: a tab for .tsv and .txt (gzipped or not), else a comma."""
    name = os.fspath(path).lower()
    return "\t" if name.removesuffix(".gz").endswith((".tsv", ".txt")) else ","


#: a number as a table writes it: decimal, optional sign, fraction and exponent (no ``1_000``, no hex: Python's
#: ``float`` takes those, pandas does not, and a table means neither)
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
#: how tables write a missing value (pandas' ``read_csv`` defaults, less the empty string's ambiguity)
_MISSING = frozenset({"nan", "NaN", "NAN", "NA", "N/A", "n/a", "na", "null", "NULL", "None", "-nan", "-NaN", ""})
_INFINITE = re.compile(r"[+-]?(?:inf|infinity)", re.IGNORECASE)


def _is_number(text):
    return _NUMBER.fullmatch(text) is not None


def _numeric(values):
    """A column of a table as numbers, or None when it is text: every field a number, a missing value or an
    infinity, with at least one number. Whole numbers with nothing missing stay integers (ids, clusters)."""
    if not any(_is_number(v) for v in values):
        return None
    if not all(_is_number(v) or v in _MISSING or _INFINITE.fullmatch(v) for v in values):
        return None
    if all(_is_number(v) and not any(ch in v for ch in ".eE") for v in values):
        ints = [int(v) for v in values]
        if all(-2**63 <= i < 2**63 for i in ints):
            return np.array(ints, dtype=np.int64)
    return np.array([float(v) if _is_number(v) or _INFINITE.fullmatch(v) else np.nan for v in values])


#: the spellings of coordinate columns that are taken, compared without case: plain, nilearn's
#: ``get_clusters_table`` (X, Y, Z), NiMARE/Neurosynth (x, y, z), and common exports
COORDINATE_SPELLINGS = (("x", "y", "z"), ("mni_x", "mni_y", "mni_z"), ("x_mm", "y_mm", "z_mm"),
                        ("mm_x", "mm_y", "mm_z"), ("x (mm)", "y (mm)", "z (mm)"), ("coord_x", "coord_y", "coord_z"),
                        ("peak_x", "peak_y", "peak_z"), ("pos_x", "pos_y", "pos_z"))


def coordinate_columns(names, where=None):
    """The names of a table's x, y and z columns (mm), from :data:`COORDINATE_SPELLINGS`.

    Raises
    ------
    PointsFileError
        Naming the columns the table has, when none of the spellings is there (a table is never guessed
        from other columns: ``x, y, t`` or ``id, mni_x, mni_y`` would give wrong points); naming both sets
        when two are there (``x, y, z`` and ``mni_x, mni_y, mni_z``: which are the points is not guessed
        either).
    """
    low = {}
    for n in names:
        low.setdefault(str(n).strip().lower(), []).append(n)
    found = [[low[k][0] for k in spelling] for spelling in COORDINATE_SPELLINGS if all(k in low for k in spelling)]
    twice = [n for k in {k for spelling in COORDINATE_SPELLINGS for k in spelling} if len(low.get(k, ())) > 1
             for n in low[k]]
    if len(found) > 1 or twice:
        sets = " and ".join(", ".join(map(str, f)) for f in found) if len(found) > 1 else \
            ", ".join(map(str, twice)) + " (one name in two cases)"
        raise PointsFileError(where, f"two sets of coordinate columns, {sets}: which are the points is not "
                                     "guessed; keep one set in the table (remove the other columns, or rename "
                                     "them, e.g. to old_x, old_y, old_z)")
    if found:
        return found[0]
    have = ", ".join(repr(str(n)) for n in names) or "none"
    raise PointsFileError(where, f"needs coordinate columns in mm named x, y, z (or X/Y/Z, mni_x/mni_y/mni_z, "
                                 f"x_mm/y_mm/z_mm); the table has {have}")


def _say_rows(rows, lines=None) -> str:
    """'1 row says its' / '3 rows say their', with the file's line of the first row where ``lines`` are given:
    '3 rows (line 5 and 2 more) say their'."""
    n = len(rows) if hasattr(rows, "__len__") else int(rows)
    where = ""
    if lines is not None and n:
        where = f" (line {lines[int(min(rows))]}" + (f" and {n - 1} more)" if n > 1 else ")")
    return f"{n} row{where} says its" if n == 1 else f"{n} rows{where} say their"


def read_table(path):
    """A coordinate file as a DataFrame: every column, in order, numbers where a whole column is numeric.

    A file without a header must have exactly three numeric columns (x, y, z). Raises PointsFileError
    (ragged rows name their line).
    """
    import pandas as pd

    path = os.fspath(path)
    if os.path.isdir(path) or not os.path.exists(path):  # a pipe (a shell's <(...)) is read as it comes
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
    if header is None:
        if width != 3:
            raise PointsFileError(path, f"a table without a header must have 3 columns (x, y, z in mm), not {width}")
        header = ["x", "y", "z"]
    if len(set(header)) != len(header):
        raise PointsFileError(path, f"column names repeat: {', '.join(header)}")
    df = pd.DataFrame([f for _, f in body], columns=header)
    for c in df.columns:
        numbers = _numeric(df[c].tolist())
        if numbers is not None:
            df[c] = numbers
    df.attrs["lines"] = [n for n, _ in body]
    df.attrs["path"] = path  # what messages name (label_points of several atlases passes the table on)
    return df


#: how tables name the space of the atlases gpusiibra ships (MNI152 variants), compared without case
MNI_SPACES = ("mni", "mni152", "icbm", "icbm152", "mni152nlin2009casym", "mni152nlin2009asym", "mni152nlin6asym",
              "mni152lin", "mni305", "spm", "fsl")


def sigma_column(columns):
    """The name of a table's sigma column (the spellings of :data:`_SIGMA_NAMES`, any case), or None."""
    low = {str(n).strip().lower(): n for n in columns}
    return next((low[k] for k in _SIGMA_NAMES if k in low), None)


def space_column_name(df, where=None):
    """The name of a table's ``space`` column (any case, spaces around it), None without one; two such columns
    (``space`` and ``Space``) are refused as ambiguous, never one of them chosen."""
    cols = [n for n in df.columns if str(n).strip().lower() == "space"]
    if len(cols) > 1:
        raise PointsFileError(where, f"{len(cols)} space columns ({', '.join(repr(str(c)) for c in cols)}): which "
                                     "one says the rows' space is not guessed; keep one")
    return cols[0] if cols else None


def check_space(df, where=None, space=None, atlas_space=None, warping=False) -> dict:
    """What a table's ``space`` column (NiMARE's and Neurosynth's exports have one) says, against the user's
    ``space`` (``--space``, a name :func:`gpusiibra.spaces.resolve_space` takes: an unknown one is an error). The
    one rule for ``gpusiibra points`` (:func:`points_of`) and ``gpusiibra warp`` (``warping``: the user's word is
    ``--from``, :func:`gpusiibra.spaces.warp_table`); messages name the rows' lines in the file.

    - ``space`` names a particular space: rows whose column names any other space are refused, naming the values
      and ``--space column`` (each row from the space it names); a generic "MNI" row is taken as ``space`` when
      that is an MNI template, refused against Talairach; ``space`` "MNI" takes the table as it is (siibra's
      behaviour; rows in Talairach or an unknown space are warned about, and refused when ``warping``).
    - no ``space``: rows in Talairach (or a space gpusiibra does not know) are refused, naming ``--space`` (``--space
      column`` when the table mixes spaces); rows in a particular MNI other than ``atlas_space`` (a name) are taken
      as they are, with a warning naming ``--space``.

    Returns ``{value: number of rows}`` of the generic-MNI cells taken as ``space`` (warned about here unless
    ``warping``: warp says them in its summary).
    """
    import warnings

    from .._space_inputs import _Unknown, space_column
    from .._spaces import by_row, resolve as resolve_space

    if by_row(space):  # each row from the space it names: the column is the user's word (checked where warped)
        return {}
    option = "--from" if warping else "--space"
    user = resolve_space(space) if space is not None else None
    col = space_column_name(df, where)
    if col is None:
        return {}
    groups = {v: g for v, g in space_column(df[col]).items() if v is not None}  # empty cells say nothing
    lines = df.attrs.get("lines")  # a file's (a table in memory has none)

    def said(values, note=lambda v: ""):
        rows = np.concatenate([groups[v][1] for v in values])
        seen = ", ".join(repr(v) + note(v) for v in values[:3]) + \
            (f" and {len(values) - 3} more" if len(values) > 3 else "")
        return f"{_say_rows(rows, lines)} coordinates are in {seen}"

    table = where or "the table"
    far = [v for v, (sp, _) in groups.items() if isinstance(sp, _Unknown) or (sp is not None and not sp.images)]
    column = f"{option} column (each row from the space its column names" + \
        (")" if warping else "; a generic MNI as the atlas's own)")
    if space is not None and user is None:  # "MNI": every row taken as it is (siibra's way), the user's word
        named = [v for v, (sp, _) in groups.items() if sp is not None]
        if named and warping:  # warping rows of a named space as a generic MNI would move them wrongly
            raise PointsFileError(where, f"{said(named)}, {option} says {space} (no particular MNI): which is it? "
                                         f"say {column}")
        if far:  # rows that say Talairach (or an unknown space) are not MNI coordinates: told, not hidden
            warnings.warn(f"{table}: {said(far)}, not MNI: taken as they are ({option} MNI); {option} column "
                          "warps each row from the space it names", RuntimeWarning, stacklevel=4)
        return {}
    if user is not None:
        # a generic "MNI" row with a particular MNI template named: the user says which MNI (told, not refused);
        # against Talairach it is another space altogether
        taken = [v for v, (sp, _) in groups.items() if sp is None and user.images]
        other = [v for v, (sp, _) in groups.items()
                 if v not in taken and (sp is None or isinstance(sp, _Unknown) or sp.name != user.name)]
        if other:
            word = str(space) if str(space) == user.name else f"{space} ({user.name})"
            generic = lambda v: " (no particular MNI: the atlas's own)" if groups[v][0] is None and not warping \
                else ""  # noqa: E731
            raise PointsFileError(where, f"{said(other, generic)}, {option} says {word}: which is it? say {column}"
                                         + ("" if warping else ", or --space MNI to take every row as it is"))
        if taken and not warping:
            warnings.warn(f"{table}: {said(taken)}, no particular MNI: taken as {user.name} ({option})",
                          RuntimeWarning, stacklevel=4)
        return {v: len(groups[v][1]) for v in taken}
    if far:
        unknown = [v for v in far if isinstance(groups[v][0], _Unknown)]
        if unknown:
            say = (f"{', '.join(map(repr, unknown[:3]))} is no space gpusiibra knows (gpusiibra.spaces lists the "
                   "names): correct the table's space column, or --space MNI to take them as they are")
        elif len({getattr(sp, "name", None) for sp, _ in groups.values()}) > 1:
            say = f"the table mixes spaces: say {column}"  # one --space would warp every row from it
        else:
            say = f"say --space {groups[far[0]][0].name} to warp them into the atlas's space"
        raise PointsFileError(where, f"{said(far)}, not MNI152: {say}")
    other = [sp.name for sp, _ in groups.values() if sp is not None and atlas_space and sp.name != atlas_space]
    if other:
        mixed = len({getattr(sp, "name", None) for sp, _ in groups.values()}) > 1
        say = f"say {column}" if mixed else f"say --space {other[0]} (space='{other[0]}') to warp the points"
        warnings.warn(f"{table}: its space column says {other[0]}, the atlas is in {atlas_space}; nothing was "
                      f"warped: {say}, or --space MNI to take them as they are", RuntimeWarning, stacklevel=4)
    return {}


def points_of(df, sigma_mm=None, space=None, where=None, atlas_space=None):
    """The :class:`~gpusiibra.PointCloud` of a table's coordinate columns (and ``sigma_mm`` column, unless
    ``sigma_mm`` is given), in ``space`` (the user's word); its ``space`` column is checked against it
    (:func:`check_space`)."""
    from ..points import PointCloud

    check_space(df, where, space, atlas_space)
    cols = coordinate_columns(df.columns, where)
    lines = df.attrs.get("lines") or list(range(1, len(df) + 1))
    coords = np.empty((len(df), 3))
    for a, c in enumerate(cols):
        for i, v in enumerate(df[c]):
            try:
                if isinstance(v, str) and v.strip() in _MISSING:
                    v = np.nan  # said below, with the other rows that lack a coordinate
                elif isinstance(v, str) and not (_is_number(v.strip()) or _INFINITE.fullmatch(v.strip())):
                    raise ValueError(v)  # "1_000", "0x10": Python's float would take them
                coords[i, a] = float(v)
            except (TypeError, ValueError):
                raise PointsFileError(where, f"line {lines[i]}: coordinate {'xyz'[a]} {v!r} is not a number") from None
    bad = ~np.isfinite(coords).all(axis=1)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        a = int(np.flatnonzero(~np.isfinite(coords[i]))[0])
        what = "missing (NaN)" if np.isnan(coords[i, a]) else "infinite"
        raise PointsFileError(where, f"line {lines[i]}: coordinate {'xyz'[a]} is {what}"
                                     + (f" ({int(bad.sum())} rows in all)" if bad.sum() > 1 else ""))
    name = sigma_column(df.columns)
    if sigma_mm is not None and name is not None:
        import warnings

        given = np.asarray(sigma_mm, np.float64)
        said = f"{float(given):g} mm" if given.ndim == 0 else "as given"
        warnings.warn(f"{where or 'the table'}: every point's sigma is {said} {SIGMA_OVERRIDE} {name!r} column",
                      RuntimeWarning, stacklevel=3)
    if sigma_mm is None and name is not None:
        sigma = np.empty(len(df))
        for i, v in enumerate(df[name]):
            try:
                if isinstance(v, str) and not (_is_number(v.strip()) or v.strip() in _MISSING
                                               or _INFINITE.fullmatch(v.strip())):
                    raise ValueError(v)
                sigma[i] = float(v)
            except (TypeError, ValueError):
                raise PointsFileError(where, f"line {lines[i]}: {name} {v!r} is not a number") from None
            if not (np.isfinite(sigma[i]) and sigma[i] >= 0):
                raise PointsFileError(where, f"line {lines[i]}: {name} {v!r} is not a number >= 0 (mm)")
    else:
        sigma = np.broadcast_to(np.asarray(0.0 if sigma_mm is None else sigma_mm, np.float64), (len(coords),))
        if not (np.isfinite(sigma) & (sigma >= 0)).all():
            raise PointsFileError(where, "sigma must be a number >= 0 on every row")
    return PointCloud(coords, space, sigma)


def read_points(path, sigma_mm=None, space=None):
    """A :class:`~gpusiibra.PointCloud` from a CSV/TSV file of coordinates in mm.

    The coordinate columns are named x, y, z (any case; or another spelling of
    :data:`COORDINATE_SPELLINGS`); a table without a header has exactly these
    three columns. A column ``sigma_mm`` (or ``sigma``) gives each point's
    uncertainty, unless ``sigma_mm`` is given. The separator (tab, comma,
    semicolon or spaces) is detected; a UTF-8 byte-order mark, blank lines and
    lines starting with ``#`` are ignored.

    Raises
    ------
    PointsFileError
        Naming the file and what is wrong with it (with the line number for a
        ragged row or a value that is not a number; the columns it has when
        none is named as a coordinate).
    """
    path = os.fspath(path)
    return points_of(read_table(path), sigma_mm, space, where=path)
