"""A results dataset read for a study's summary: its manifest, maps, failed inputs and rows of exactly the intact
recorded parts (:func:`_load`), and its regions by how many maps reach them (:func:`region_frequency`). The study
page (:mod:`gpusiibra.report`) and :mod:`gpusiibra.features` both read a dataset this way."""
from __future__ import annotations

import os

import pandas as pd

#: the statistics a region's frequency can be counted with
MEASURES = ("correlation", "map containedness", "input containedness")
_MAP_KEY = ["input", "frame", "sign"]


def _load(dataset):
    """The manifest, the maps, the failed inputs and the rows of exactly the recorded, intact part files, with
    notes on what is missing or unfinished."""
    from .dataset import (completeness_notes, errors_path, intact_chunks, read_errors, read_manifest, require_dataset,
                          warnings_path)
    from .errors import DatasetError

    dataset = require_dataset(dataset)
    err_file = errors_path(dataset)
    records = read_manifest(dataset)
    chunks, damaged = intact_chunks(dataset, records)
    maps = pd.DataFrame([m for r in chunks for m in r["maps"]], columns=_MAP_KEY)
    failed, unreadable = read_errors(err_file)
    notes = completeness_notes(dataset, records, damaged, "this report") + ([unreadable] if unreadable else [])
    if unreadable:
        failed = None  # not known (the note says why), not none
    warned, unreadable = read_errors(warnings_path(dataset), header=("input", "warning"))
    if len(warned) or unreadable:  # maps of another space, or whose header lost its positions: said on the page
        notes.append(unreadable or f"{len(warned)} input file{'s were' if len(warned) != 1 else ' was'} warned about "
                                   f"when assigned (another space, no orientation, a grid off the brain): "
                                   f"{', '.join(os.path.basename(p) for p in warned['input'][:3])}"
                                   f"{' and more' if len(warned) > 3 else ''}; every reason in "
                                   f"{warnings_path(dataset)}")
    if maps.empty:
        if failed is not None and len(failed):
            raise DatasetError(dataset, f"no map was assigned: all {len(failed)} inputs failed "
                                        f"(their reasons are in {err_file})")
        raise DatasetError(dataset, "holds no assigned maps yet: nothing to report"
                           + (f" ({notes[0]})" if notes else ""))
    parts = [os.path.join(dataset, r["part"]) for r in chunks if r.get("part")]
    if parts:
        import pyarrow.parquet as pq

        rows = pd.concat([pq.read_table(p).to_pandas() for p in parts], ignore_index=True)
    else:
        from .batch import batch_schema

        rows = batch_schema().empty_table().to_pandas()
    return records, maps, failed, rows, notes


def _frequency(comp, n_maps, measure, min_value, labels):
    """Region frequency, per atlas: the share of maps with a component that reaches the cut (atlas order, then
    most maps first)."""
    passing = comp[comp[measure] >= min_value]
    freq = (passing.drop_duplicates(["atlas", "region"] + _MAP_KEY).groupby(["atlas", "region"]).size()
            .rename("maps").reset_index())
    freq["share"] = freq["maps"] / n_maps
    freq["_order"] = freq["atlas"].map({a: i for i, a in enumerate(labels)})
    return (freq.sort_values(["_order", "maps", "region"], ascending=[True, False, True]).drop(columns="_order")
            .reset_index(drop=True))


def region_frequency(dataset, measure="correlation", min_value=0.2):
    """The regions of a results dataset's first atlas by the number of maps that reach them (a component with
    ``measure >= min_value``), and that atlas's name (or source): ``(frequency, atlas)``.

    Examples
    --------
    >>> import os, tempfile, gpusiibra
    >>> from gpusiibra.report import region_frequency
    >>> out = os.path.join(tempfile.mkdtemp(), "motor.parquet")
    >>> _ = gpusiibra.get_map().assign_batch(["example:motor"], out, threshold=3.1, progress=False)
    >>> freq, atlas = region_frequency(out)
    >>> atlas, list(freq.columns), bool(freq["maps"].is_monotonic_decreasing)
    ('julich-3.1-top2', ['region', 'maps', 'share'], True)
    """
    from .dataset import atlas_identities
    from .errors import OptionError

    if measure not in MEASURES:
        raise OptionError(f"measure must be one of {', '.join(MEASURES)}, not {measure!r}")
    records, maps, _, rows, _ = _load(dataset)
    if records[0]["settings"].get("kind") == "points":
        raise OptionError(f"{dataset} holds a coordinate table's points, not maps: give a table of regions instead")
    idents = atlas_identities(records[0]["atlas"])
    labels = [a.get("label", a.get("name")) for a in idents]
    freq = _frequency(rows[rows["kind"] == "component"], len(maps), measure, min_value, labels)
    freq = freq[freq["atlas"] == labels[0]].drop(columns="atlas").reset_index(drop=True)
    source = idents[0].get("source") or idents[0].get("name")
    return freq, source if isinstance(source, str) else labels[0]
