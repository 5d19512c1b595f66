"""Two atlases (or two releases of one) side by side on the same inputs: what each component's best region is
under each, and whether it changed.

A dataset written with ``gpusiibra assign --atlas A,B`` holds every map's rows under both atlases.
:func:`compare_atlases` pairs them: when the two atlases share a grid, each component of a map is the same
set of voxels under both and is compared component by component; otherwise the components differ (each atlas
resamples the map onto its own grid) and each map's strongest row is compared instead.

Examples
--------
>>> import os, tempfile, gpusiibra
>>> from gpusiibra.compare import compare_atlases
>>> atlas, labelled = gpusiibra.get_map(), gpusiibra.get_map("julich-3.1-top2-mpm")  # its maximum probability map
>>> out = os.path.join(tempfile.mkdtemp(), "motor.parquet")
>>> _ = gpusiibra.assign_batch(["example:motor"], out, atlas=[atlas, labelled], threshold=3.1, progress=False)
>>> result = compare_atlases(out, "julich-3.1-top2", "julich-3.1-top2-mpm")
>>> result.by, int(result.compared) > 0
('component', True)
"""
from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .errors import DatasetError, OptionError

__all__ = ["AtlasComparison", "compare_atlases", "STATISTICS"]

#: the statistics shown side by side
STATISTICS = ("correlation", "intersection over union", "map containedness", "input containedness")
_MAP = ["input", "frame", "sign"]


@dataclass
class AtlasComparison:
    """Each compared structure's best region under two atlases.

    Attributes
    ----------
    atlases : (str, str)
    by : str
        ``component`` (the atlases share a grid) or ``map`` (each map's strongest row).
    measure : str
        The statistic that picks the best region.
    table : DataFrame
        One row per compared structure: its map, ``component`` (for ``by == "component"``) and ``voxels``, then
        per atlas ``region [A]``, the statistics ``[A]``, ``changed`` (True when the best regions differ, or one
        atlas has none) and ``respelled`` (the same region, spelled differently: releases of an atlas change
        case and punctuation, "Area TE 1.0 (HESCHL)" in Julich-Brain 3.0.3, "Area Te 1.0 (HESCHL)" in 3.1;
        such a row is not ``changed``).
    compared, changed, respelled : int
    notes : list of str
        What the comparison could not see: part files missing or damaged, a run still writing the dataset or
        stopped before its end (each also given as a warning).
    """

    atlases: tuple
    by: str
    measure: str
    table: pd.DataFrame
    compared: int
    changed: int
    respelled: int = 0
    notes: list = field(default_factory=list)

    def __str__(self):
        a, b = self.atlases
        what = "components" if self.by == "component" else "maps (their strongest rows: the atlases' grids differ)"
        share = f" ({self.changed / self.compared:.1%})" if self.compared else ""
        spelled = f"; {self.respelled} more keep a region whose name is spelled differently" if self.respelled else ""
        return (f"{self.compared} {what} compared by {self.measure}: {self.changed}{share} change their best region "
                f"from {a} to {b}{spelled}")


def _spelling(names: pd.Series) -> np.ndarray:
    """A region name without case, spaces or punctuation ('Area TPJ (STG/SMG) left' -> 'areatpjstgsmgleft'),
    for names that releases spell differently."""
    return names.fillna("").str.casefold().str.replace(r"[^0-9a-z]+", "", regex=True).to_numpy()


def _rows(dataset):
    """The component rows, the atlases' identities and the completeness notes of a results dataset (the rows of
    exactly its recorded, intact part files)."""
    from .dataset import atlas_identities, completeness_notes, intact_chunks, read_manifest, require_dataset

    if isinstance(dataset, pd.DataFrame):
        return dataset, None, []
    dataset = require_dataset(dataset)
    records = read_manifest(dataset)
    if records[0]["settings"].get("kind") == "points":
        raise DatasetError(dataset, "is a points dataset: compare works on the datasets of `gpusiibra assign`")
    chunks, damaged = intact_chunks(dataset, records)
    notes = completeness_notes(dataset, records, damaged, "this comparison")
    parts = [os.path.join(dataset, r["part"]) for r in chunks if r.get("part")]
    if not parts:
        raise DatasetError(dataset, "holds no assigned rows yet: nothing to compare" + (f" ({notes[0]})" if notes else ""))
    import pyarrow.parquet as pq

    rows = pd.concat([pq.read_table(p).to_pandas() for p in parts], ignore_index=True)
    return rows, {a.get("label", a.get("name")): a for a in atlas_identities(records[0]["atlas"])}, notes


def compare_atlases(dataset, atlas_a=None, atlas_b=None, measure="correlation") -> AtlasComparison:
    """Each component's best region under two atlases of one dataset, side by side.

    Parameters
    ----------
    dataset : path or DataFrame
        A results dataset written with several atlases (``gpusiibra assign --atlas A,B``), or its rows.
    atlas_a, atlas_b : str, optional
        Two values of its ``atlas`` column; both left out for a dataset of exactly two atlases.
    measure : str
        The statistic whose highest value picks a structure's best region (any of :data:`STATISTICS`).

    Returns
    -------
    AtlasComparison

    Warns
    -----
    RuntimeWarning
        For each part of the dataset that cannot be read (missing or damaged) and for a run that did not end:
        the comparison leaves those maps out, and says so in ``notes``.
    """
    if measure not in STATISTICS:
        raise OptionError(f"measure must be one of {', '.join(STATISTICS)}, not {measure!r}")
    rows, identities, notes = _rows(dataset)
    for note in notes:
        warnings.warn(note, RuntimeWarning, stacklevel=2)
    known = list(dict.fromkeys(rows["atlas"])) if "atlas" in rows else []
    if atlas_a is None and atlas_b is None:
        if len(known) != 2:
            raise OptionError(f"name the two atlases to compare: the dataset has {len(known)} "
                              f"({', '.join(map(repr, known)) or 'none'})")
        atlas_a, atlas_b = known
    elif atlas_a is None or atlas_b is None:
        raise OptionError(f"name two atlases to compare, not one (the dataset has {', '.join(map(repr, known))})")
    for a in (atlas_a, atlas_b):
        if a not in known:
            raise OptionError(f"the dataset has no rows of atlas {a!r} (its atlases: "
                              f"{', '.join(map(repr, known)) or 'none'})")
    if atlas_a == atlas_b:
        raise OptionError(f"compare two different atlases, not {atlas_a!r} with itself")
    same_grid = True
    if identities is not None:
        ga, gb = (identities.get(a, {}).get("grid") for a in (atlas_a, atlas_b))
        same_grid = ga is not None and ga == gb
    comp = rows[rows["kind"] == "component"]
    key = _MAP + (["input structure"] if same_grid else [])
    best = {}
    for a in (atlas_a, atlas_b):
        sub = comp[comp["atlas"] == a]
        top = sub.sort_values(measure, ascending=False, kind="stable", na_position="last").drop_duplicates(key)
        keep = key + (["voxels"] if same_grid else []) + ["region"] + list(STATISTICS)
        best[a] = top[keep].rename(columns={c: f"{c} [{a}]" for c in ["region"] + list(STATISTICS)})
    a_, b_ = best[atlas_a], best[atlas_b]
    if same_grid:  # one component, one size: taken from whichever atlas has a row of it
        b_ = b_.rename(columns={"voxels": "_voxels"})
    table = a_.merge(b_, on=key, how="outer", sort=False)
    if same_grid:
        table["voxels"] = table["voxels"].fillna(table.pop("_voxels"))
    ra, rb = table[f"region [{atlas_a}]"], table[f"region [{atlas_b}]"]
    differ = (ra.fillna("") != rb.fillna("")).to_numpy()
    table["changed"] = _spelling(ra) != _spelling(rb)
    table["respelled"] = differ & ~table["changed"].to_numpy()
    table = table.rename(columns={"input structure": "component"})
    table = table.sort_values([c for c in ("input", "frame", "sign", "component") if c in table],
                              kind="stable").reset_index(drop=True)
    if "voxels" in table:
        table["voxels"] = table["voxels"].astype("Int64")
    return AtlasComparison((atlas_a, atlas_b), "component" if same_grid else "map", measure, table, len(table),
                           int(np.sum(table["changed"])), int(np.sum(table["respelled"])), notes)
