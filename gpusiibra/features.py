"""What is known about the regions found: siibra-python's multimodal features as tidy tables.

For a region (with its atlas), the best regions of an assignment table, or the most frequent regions of a
results dataset, siibra's receptor density fingerprints, layerwise cell densities, gene expressions (Allen
Brain API) and streamline-count connectivity profiles, one row per measured value::

    region, siibra region, kind, feature, modality, measure, value, std, samples, unit, dataset, doi, licence, status

A region without a feature of a kind keeps one row of that kind whose ``status`` says so. Everything comes
through siibra itself (``pip install 'gpusiibra[features]'``): its configuration, its region objects (our region
names are siibra's, hemisphere and fragment suffixes included, and are matched exactly), ``siibra.features.get``,
its downloads and its cache. gpusiibra caches the rows by region and kind (atomic files under the atlas cache's
``features/`` folder), so a second call needs neither siibra's configuration nor the network.

Offline: a local siibra configuration (``GPUSIIBRA_SIIBRA_CONFIGURATION=/path``, or siibra's own
``SIIBRA_USE_CONFIGURATION``) whose data siibra's cache holds or a local server serves. Without the network a call
that needs it fails within seconds (``GPUSIIBRA_FEATURES_TIMEOUT``, default 4 s) with one line naming what could
not be reached; ``GPUSIIBRA_FEATURES_OFFLINE=1`` never tries. Gene expressions always need the network (siibra
asks the Allen Brain API).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field

import pandas as pd

from . import _siibra_features as _sf
from . import _siibra_net as _net
from .errors import OptionError, RegionNotFound

__all__ = ["KINDS", "COLUMNS", "region_features", "table_features", "dataset_features", "top_regions", "read_table",
           "FeatureReport", "plot_features", "write_features", "available", "page_section"]

KINDS = tuple(_sf.KINDS)
COLUMNS = list(_sf.COLUMNS)


def available():
    """None when siibra is installed, else the one line that says why the features cannot be had."""
    import importlib.util

    if importlib.util.find_spec("siibra") is None:
        return "siibra-python is not installed (pip install 'gpusiibra[features]')"
    return None


def _kinds(kinds):
    kinds = [kinds] if isinstance(kinds, str) else list(kinds)
    kinds = [k.strip() for k in kinds for k in k.split(",") if k.strip()]
    bad = [k for k in kinds if k not in _sf.KINDS]
    if bad or not kinds:
        raise OptionError(f"feature kinds are {', '.join(_sf.KINDS)}, not {', '.join(map(repr, bad)) or 'none'}")
    return list(dict.fromkeys(kinds))


def _genes(genes):
    genes = [genes] if isinstance(genes, str) else list(genes or ())
    return [g.strip() for g in genes for g in g.split(",") if g.strip()]


def _cache_folder(cache):
    from .atlases import cache_dir

    return os.path.join(cache_dir(cache), "features")


def region_features(regions, atlas="julich-3.1-top2", kinds=("receptors", "cells", "connectivity"), genes=(),
                    top_targets=None, cache=None, use_cache=True, progress=False, strict=True,
                    download=True) -> pd.DataFrame:
    """siibra's features of regions, one tidy table.

    Parameters
    ----------
    regions : str or list of str
        Region names of ``atlas`` (siibra's names: ``"Area 4a (PreCG) left"``).
    atlas : str or SparseMap
        The atlas the names come from (its siibra parcellation is looked up in the catalog).
    kinds : str or list of str
        Any of ``receptors``, ``cells``, ``genes``, ``connectivity`` (comma-separated or a list).
    genes : list of str
        Gene symbols for ``genes`` (needs the network: the Allen Brain API).
    top_targets : int, optional
        Keep only this many strongest targets of each connectivity profile (default: all).
    cache : path, optional
        gpusiibra's cache folder (default ``GPUSIIBRA_CACHE``, else the user cache); rows are kept in ``features/``.
    use_cache : bool
        Read and write cached rows (a fresh query when False).
    progress : bool
        A progress bar over (region, kind).
    strict : bool
        A name that is no region of siibra's parcellation is an error (True), or a row whose ``status`` says so.
    download : bool
        False: take only what gpusiibra's or siibra's cache (or a local configuration) holds; anything else is
        a :class:`DownloadError` at once.

    Returns
    -------
    pandas.DataFrame
        :data:`COLUMNS`, one row per measured value, or one row with a ``status`` for a region without the feature.

    Raises
    ------
    DependencyError, OptionError, RegionNotFound, DownloadError

    Examples
    --------
    With a configuration at hand (``GPUSIIBRA_SIIBRA_CONFIGURATION``, or siibra's own once downloaded),
    ``region_features("Area 4a (PreCG) left")`` gives the receptor, cell and connectivity rows. Gene expressions
    need the network; without downloads a call fails at once, in one line:

    >>> from gpusiibra.features import region_features
    >>> from gpusiibra.errors import GpusiibraError
    >>> try:
    ...     region_features("Area 4a (PreCG) left", kinds="genes", genes="GABRA1", download=False)
    ... except GpusiibraError as e:
    ...     print(type(e).__name__, len(str(e).splitlines()))
    DownloadError 1
    """
    if not download:
        with _net.no_downloads():
            return region_features(regions, atlas, kinds, genes, top_targets, cache, use_cache, progress, strict)
    from tqdm.auto import tqdm

    regions = [regions] if isinstance(regions, str) else list(regions)
    kinds, genes = _kinds(kinds), _genes(genes)
    parc = _sf.parcellation_id(atlas)
    names = _sf.atlas_names(atlas)
    folder = _cache_folder(cache)
    sb, frames = None, []
    jobs = [(r, k) for r in regions for k in kinds]
    for region, kind in tqdm(jobs, desc="siibra features", unit="query", disable=not progress):
        path = _sf.cache_file(folder, atlas, parc, region, kind, genes, top_targets)
        df = _sf.read_cached(path) if use_cache else None
        if df is None:
            sb = sb or _sf.siibra()
            try:
                sregion = _sf.siibra_region(sb, parc, region, names)
            except RegionNotFound as e:
                if strict:
                    raise
                frames.append(pd.DataFrame([_sf.not_found_row(region, kind, str(e))], columns=COLUMNS))
                continue
            df = pd.DataFrame(_sf.rows_for(sb, region, sregion, kind, genes, top_targets), columns=COLUMNS)
            if use_cache:
                _sf.write_cached(path, df)
        frames.append(df)
    out = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=COLUMNS)
    return out.astype({"value": float, "std": float, "samples": float})


def read_table(path) -> pd.DataFrame:
    """An assignment table from a file: Parquet, else CSV or TSV (the delimiter sniffed); a file that cannot be
    read is a :class:`FileError` that names it."""
    from .errors import FileError

    try:
        if str(path).endswith(".parquet"):
            return pd.read_parquet(path)
        return pd.read_csv(path, sep=None, engine="python", keep_default_na=False, na_values=[""])
    except (OSError, ValueError, pd.errors.ParserError) as e:
        raise FileError(path, f"not a table of regions: {str(e).splitlines()[0] if str(e) else type(e).__name__}") \
            from None


def top_regions(table, measure="correlation", top=10) -> list:
    """The ``top`` regions of an assignment table by their highest ``measure`` (ties by name).

    >>> import gpusiibra
    >>> from gpusiibra.features import top_regions
    >>> top_regions(gpusiibra.get_map().assign("example:motor"), top=2)
    ['Area 1 (PostCG) right', 'Area 4a (PreCG) right']
    """
    for col in ("region", measure):
        if col not in table.columns:
            raise OptionError(f"the table has no column {col!r} (it has {', '.join(map(str, table.columns))})")
    best = table.dropna(subset=[measure]).groupby("region")[measure].max().reset_index()
    best = best[best["region"].astype(str) != ""]
    return list(best.sort_values([measure, "region"], ascending=[False, True])["region"].head(top))


def table_features(table, atlas="julich-3.1-top2", measure="correlation", top=10, **kwargs) -> pd.DataFrame:
    """siibra's features of the ``top`` best regions of an assignment table (``SparseMap.assign``'s, or a CSV
    of one), by their highest ``measure``; the keywords are :func:`region_features`'."""
    if isinstance(table, (str, os.PathLike)):
        from .errors import FileError

        path, table = table, read_table(table)
        try:
            regions = top_regions(table, measure, top)
        except OptionError as e:
            raise FileError(path, str(e).removeprefix("the table ")) from None
    else:
        regions = top_regions(table, measure, top)
    kwargs.setdefault("strict", False)
    return region_features(regions, atlas, **kwargs)


def dataset_features(dataset, measure="correlation", min_value=0.2, top=10, **kwargs) -> pd.DataFrame:
    """siibra's features of the ``top`` most frequent regions of a results dataset (``gpusiibra assign --out``):
    the regions reached by the most maps (a component with ``measure >= min_value``; the study page's count),
    under the dataset's first atlas."""
    from ._study import region_frequency

    freq, atlas = region_frequency(dataset, measure, min_value)
    kwargs.setdefault("strict", False)
    return region_features(list(freq["region"].head(top)), atlas, **kwargs)


def page_section(page, regions, atlas, kinds=("receptors", "cells", "connectivity"), top_targets=10,
                 figures=True, cache=None, maps=None):
    """The study page's section "What is known about the top regions": siibra's features of ``regions`` (figures
    and their citations), from what is at hand only (a page downloads nothing); else one line saying why the
    section is absent. Returns the features table, or None."""
    from .errors import GpusiibraError

    page.heading("What is known about the top regions")
    why = available() or _net.configuration_at_hand()
    table = None
    if why is None:
        try:
            table = region_features(list(regions), atlas, kinds, cache=cache, strict=False, download=False)
        except GpusiibraError as e:
            why = f"{e} (`gpusiibra features` fetches what is missing)"
    if table is None:
        page.paragraph(f"This section is absent: {why}.", "note")
        return None
    page.paragraph(f"siibra's multimodal features of the top {len(list(regions))} regions: "
                   + ", ".join(kinds) + ". Rows without a feature say so in the table.")
    if figures:
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            for caption, path in plot_features(table, tmp, top_targets, maps).items():
                with open(path, "rb") as f:
                    page.figure(f.read(), caption)
    cited = table[table["status"] == "ok"].drop_duplicates(["kind", "dataset"])
    page.table(cited[["kind", "region", "dataset", "doi", "licence"]].reset_index(drop=True), "feature-citations")
    missing = table[table["status"] != "ok"][["region", "kind", "status"]]
    if len(missing):
        page.table(missing.reset_index(drop=True), "feature-missing")
    return table


@dataclass
class FeatureReport:
    """What :func:`write_features` wrote."""

    table: pd.DataFrame
    files: dict = field(default_factory=dict)   # caption -> path


def _region_maps(atlas):
    """The atlas to draw the regions' maps from, when it is at hand without a download (or None)."""
    from . import atlases

    if atlas is None or not isinstance(atlas, str):
        return atlas if hasattr(atlas, "fetch") else None
    from .maps import available_maps, get_map

    if atlas in available_maps() or (atlases.find(atlas) is not None and atlases.is_cached(atlas)):
        return get_map(atlas)
    return None


def plot_features(table, out, top_targets=10, atlas=None) -> dict:
    """Figures of a features table into folder ``out``: per region, the receptor fingerprint (mean and sd), the
    cell densities by layer and the connectivity profile's strongest targets, beside the region's map (nilearn's
    glass brain) when ``atlas`` is at hand (a map, the embedded atlas, or an official one in the cache). Returns
    {caption: path}.

    >>> import os, tempfile
    >>> import pandas as pd
    >>> from gpusiibra.features import COLUMNS, plot_features
    >>> rows = pd.DataFrame([dict.fromkeys(COLUMNS) | dict(region="Area 4a (PreCG) left", kind="receptors",
    ...                      measure=m, value=v, std=5.0, unit="fmol/mg", dataset="a study", status="ok")
    ...                      for m, v in (("AMPA", 470.0), ("NMDA", 1100.0))])
    >>> files = plot_features(rows, tempfile.mkdtemp(), atlas="julich-3.1-top2")
    >>> sorted(os.path.basename(p) for p in files.values())
    ['Area-4a--PreCG--left-map.png', 'Area-4a--PreCG--left-receptors.png']
    """
    from ._page import feature_bars_png, glass_brain

    os.makedirs(out, exist_ok=True)
    files = {}
    ok = table[table["status"] == "ok"]
    maps = _region_maps(atlas)
    for region in dict.fromkeys(ok["region"]):
        if maps is not None and region in maps.regions:
            path = os.path.join(out, "".join(c if c.isalnum() else "-" for c in region).strip("-") + "-map.png")
            glass_brain(maps.fetch(region), path, title=region, cmap="hot_r", colorbar=True)
            files[f"{region}: its map in {maps.name}"] = path
    titles = {"receptors": ("receptor density fingerprint", "receptor"),
              "cells": ("cell densities by layer", "layer"),
              "genes": ("gene expression levels", "gene"),
              "connectivity": (f"strongest {top_targets} connections (streamline counts)", "target region")}
    for (region, kind), d in ok.groupby(["region", "kind"], sort=False):
        title, xlabel = titles[kind]
        d = d.sort_values("value", ascending=False).head(top_targets) if kind == "connectivity" else d
        png = feature_bars_png(list(d["measure"]), d["value"].to_numpy(), d["std"].to_numpy(),
                               f"{region}: {title}", str(d["unit"].iloc[0]), xlabel, horizontal=kind == "connectivity")
        slug = "".join(c if c.isalnum() else "-" for c in f"{region}-{kind}").strip("-")
        path = os.path.join(out, slug + ".png")
        with open(path, "wb") as f:
            f.write(png)
        files[f"{region}: {title} ({d['dataset'].iloc[0]})"] = path
    return files


def write_features(table, out, figures=True, top_targets=10, atlas=None) -> FeatureReport:
    """Write ``features.csv``, ``features.parquet`` and (with ``figures``) the PNG figures into folder ``out``
    (the regions' maps too when ``atlas`` is at hand)."""
    os.makedirs(out, exist_ok=True)
    files = {}
    for name, write in (("features.csv", lambda p: table.to_csv(p, index=False)),
                        ("features.parquet", lambda p: table.to_parquet(p, index=False))):
        path = os.path.join(out, name)
        tmp = path + ".tmp"
        write(tmp)
        os.replace(tmp, path)
        files[name] = path
    if figures:
        files.update(plot_features(table, out, top_targets, atlas))
    return FeatureReport(table, files)
