"""Reports as one self-contained HTML page: a whole study's batch results, and the seed workflow demo.

A page holds everything it shows: figures as embedded PNG (matplotlib and
nilearn's plotting), tables, and a small script of its own for the sortable,
filterable per-map table; it loads nothing from the network, so it opens
offline and can be mailed. nilearn and matplotlib are imported lazily:
``pip install 'gpusiibra[plot]'``.

:func:`study_report` (``gpusiibra report``) reads what ``gpusiibra assign``
wrote: the Parquet dataset, its manifest (settings, atlas, versions, run times)
and its errors file.
"""
from __future__ import annotations

import html
import os
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ._page import Page, _bar_png, _hist_png, _slices, figure_progress, glass_brain

__all__ = ["Page", "StudyReport", "study_report", "region_frequency", "demo_figures", "write_demo_report",
           "glass_brain", "MEASURES"]

from ._study import _MAP_KEY, MEASURES, _frequency, _load, region_frequency  # noqa: F401 (re-exported)


# ------------------------------------------------------------------ the study
@dataclass
class StudyReport:
    """What a study report shows, as data (the numbers on the page)."""

    path: str
    maps: int
    inputs: int
    failed: pd.DataFrame | None   # None: the errors file cannot be read (a note says why)
    settings: dict
    atlas: dict
    versions: dict
    seconds: float
    runs: int
    measure: str
    cut: float
    frequency: pd.DataFrame        # region, maps, share (of all maps), sorted
    components_per_map: pd.Series  # per map key
    per_map: pd.DataFrame          # the table's rows (all of them; the page shows max_rows)
    rows_shown: int
    notes: list = field(default_factory=list)


def study_report(dataset, out, min_value=0.2, measure="correlation", top=30, max_rows=5000, figures=True,
                 atlas=None, features=True, progress=False) -> StudyReport:
    """A study at a glance: one self-contained HTML page of a batch's results.

    Parameters
    ----------
    dataset : path
        The results dataset that ``gpusiibra assign --out`` wrote (with its manifest and errors file).
    out : path
        The HTML file to write.
    min_value : float
        A region counts for a map when one of the map's components reaches this value of ``measure``.
    measure : {"correlation", "map containedness", "input containedness"}
    top : int
        Regions in the bar chart.
    max_rows : int
        Rows of the per-map table (top region of each component, highest ``measure`` first) put in
        the page; the page says how many there are in all.
    figures : bool
        Draw the figures (needs nilearn and matplotlib); without them the page has the tables only.
    progress : bool
        A progress bar while the page is made (one step a figure).
    atlas : SparseMap, optional
        The atlas to paint the frequencies on; default the one the manifest names (when it can be loaded).
    features : bool
        The section "What is known about the top regions" (siibra's features of the 10 most frequent regions, from
        what siibra's and gpusiibra's caches or a local siibra configuration hold; else one line saying why not).

    Returns
    -------
    StudyReport

    Raises
    ------
    DatasetError
        For a path that is not a results dataset, or one with no assigned map.

    Examples
    --------
    >>> import os, tempfile, gpusiibra
    >>> from gpusiibra.report import study_report
    >>> out = os.path.join(tempfile.mkdtemp(), "motor.parquet")
    >>> _ = gpusiibra.get_map().assign_batch(["example:motor"], out, threshold=3.1, progress=False)
    >>> rep = study_report(out, out + ".html", figures=False)
    >>> rep.maps, bool(rep.frequency["share"].max() <= 1)
    (1, True)
    """
    from .dataset import atlas_identities
    from .errors import OptionError

    if measure not in MEASURES:
        raise OptionError(f"measure must be one of {', '.join(MEASURES)}, not {measure!r}")
    records, maps, failed, rows, notes = _load(dataset)
    run = records[0]
    ends = [r for r in records if r["type"] == "end"]
    if run["settings"].get("kind") == "points":  # a coordinate table's dataset (`gpusiibra points --out`)
        with figure_progress(progress and figures, "report figures"):
            return _points_report(dataset, out, records, rows, notes, top, max_rows, figures, atlas)
    n_maps = len(maps)
    comp = rows[rows["kind"] == "component"]
    labels = [a.get("label", a.get("name")) for a in atlas_identities(run["atlas"])]
    freq = _frequency(comp, n_maps, measure, min_value, labels)
    if len(labels) == 1:
        freq = freq.drop(columns="atlas")
    first = comp[comp["atlas"] == labels[0]] if len(labels) > 1 else comp
    per_map_counts = (first.drop_duplicates(_MAP_KEY + ["input structure"]).groupby(_MAP_KEY).size())
    components = per_map_counts.reindex(pd.MultiIndex.from_frame(maps), fill_value=0)
    # the per-map table: the top region of each component (under each atlas)
    best = (comp.sort_values(measure, ascending=False, kind="stable")
            .drop_duplicates(_MAP_KEY + ["atlas", "input structure"]))
    per_map = pd.DataFrame({
        "input": best["input"].map(os.path.basename), "atlas": best["atlas"], "frame": best["frame"],
        "sign": best["sign"],
        "component": best["input structure"], "voxels": best["voxels"], "top region": best["region"],
        "correlation": best["correlation"], "IoU": best["intersection over union"],
        "map containedness": best["map containedness"], "input containedness": best["input containedness"],
    }).reset_index(drop=True)
    if len(labels) == 1:
        per_map = per_map.drop(columns="atlas")
    rep = StudyReport(path=os.fspath(dataset), maps=n_maps, inputs=maps["input"].nunique(), failed=failed,
                      settings=run["settings"], atlas=run["atlas"], versions=run["versions"],
                      seconds=float(sum(r.get("seconds", 0.0) for r in ends)),
                      runs=sum(r["type"] == "session" for r in records), measure=measure, cut=float(min_value),
                      frequency=freq, components_per_map=components, per_map=per_map,
                      rows_shown=min(len(per_map), max_rows), notes=notes)
    with figure_progress(progress and figures, "report figures"):
        page = _study_page(rep, rows, top, max_rows, figures, atlas, features)
    page.write(out)
    return rep


def _points_report(dataset, out, records, rows, notes, top, max_rows, figures, atlas) -> StudyReport:
    """The page of a points dataset: the run, each region's share of the points (their best region: highest
    correlation for uncertain points, else map value), the groups' summaries written with ``--by``, and the
    points with their best region."""
    from .tables import region_summary

    run = records[0]
    ends = [r for r in records if r["type"] == "end"]
    measure = "correlation" if "correlation" in rows and rows["correlation"].notna().any() else "map value"
    rows = rows.assign(_all="all points")
    by_all = region_summary(rows, "_all")
    n_points = int(by_all["points"].sum())
    freq = by_all[by_all["region"] != ""].drop(columns="_all").reset_index(drop=True)
    best = (rows.sort_values(["row", measure], ascending=[True, False], na_position="last", kind="stable")
            .drop_duplicates("row").drop(columns="_all"))
    rep = StudyReport(path=os.fspath(dataset), maps=n_points, inputs=len({r["maps"][0][0] for r in records
                                                                         if r["type"] == "chunk"}),
                      failed=pd.DataFrame(columns=["input", "reason"]), settings=run["settings"], atlas=run["atlas"],
                      versions=run["versions"], seconds=float(sum(r.get("seconds", 0.0) for r in ends)),
                      runs=sum(r["type"] == "session" for r in records), measure=measure, cut=0.0, frequency=freq,
                      components_per_map=pd.Series(dtype=float), per_map=best.reset_index(drop=True),
                      rows_shown=min(len(best), max_rows), notes=notes)
    page = Page(f"gpusiibra points report: {os.path.basename(rep.path.rstrip('/'))}")
    page.heading("The run")
    for note in notes:
        page.paragraph(f"Warning: {note}", cls="warning")
    opts = _options(run["settings"])
    page.raw(f'<table id="run"><tbody><tr><td>points</td><td id="n-points">{n_points}</td></tr>'
             f"<tr><td>options</td><td>{html.escape(opts)}</td></tr>"
             f"<tr><td>atlas</td><td>{html.escape(str(rep.atlas.get('name')))} ({rep.atlas.get('regions')} "
             f"regions)</td></tr><tr><td>software</td><td>"
             f"{html.escape(', '.join(f'{k} {v}' for k, v in rep.versions.items()))}</td></tr>"
             f"<tr><td>wall time</td><td>{rep.seconds:.1f} s</td></tr></tbody></table>")
    page.heading("Regions")
    page.paragraph(f"The share of the {n_points} points whose best region (highest {measure}) is each region; "
                   f"{int(by_all.loc[by_all['region'] == '', 'points'].sum())} points fall in no region.")
    shown = freq.head(top)
    if figures and len(shown):
        page.figure(_bar_png(list(shown["region"]), list(shown["share"]), "share of points",
                             f"top {len(shown)} regions"), "Regions by share of points", "fig-frequency")
    page.table(freq.head(max(top, 50)).assign(share=lambda d: d["share"].round(4)), "frequency")
    for f in sorted(os.listdir(dataset)):
        if f.startswith("_summary-by-") and f.endswith(".csv"):
            col = f[len("_summary-by-"):-4]
            page.heading(f"Regions of each {col}", 3)
            table = pd.read_csv(os.path.join(dataset, f), keep_default_na=False)
            page.data_table(table.head(max_rows), f"by-{col}")
    page.heading("Points")
    page.paragraph(f"Each point with its best region (highest {measure}); click a column to sort, type to filter.")
    if rep.rows_shown < len(best):
        page.paragraph(f"The table holds the first {rep.rows_shown} points of {len(best)}; the dataset has them all.",
                       "note")
    page.data_table(best.head(rep.rows_shown), "points")
    page.write(out)
    return rep


def _options(settings) -> str:
    """The run's settings in one line; a declared space with what was warped, into which space, by which
    transforms (a file's name and the start of its SHA-256)."""
    out = [f"{k} = {v}" for k, v in settings.items() if v is not None and k not in ("kind", "warps")]
    for label, w in (settings.get("warps") or {}).items():
        steps = w.get("transforms", [])
        used = "; ".join(t.get("file") or t["transform"] for t in steps) or "nothing to warp"
        sha = [t["sha256"][:12] for t in steps if t.get("sha256")]
        # maps record the transforms that pull them (from the atlas's space back to theirs): said so
        pulled = bool(steps) and steps[0].get("from") == w.get("atlas_space")
        how = (f"the maps (in {steps[-1].get('to')}) pulled onto its grid by {used}" if pulled else
               f"warped by {used}")
        out.append(f"{label}: in {w.get('atlas_space')}, {how}" + (f" (SHA-256 {', '.join(sha)}...)" if sha else ""))
    return ", ".join(out)


def _study_page(rep, rows, top, max_rows, figures, atlas, features=False):
    from .dataset import atlas_identities

    s = rep.settings
    page = Page(f"gpusiibra study report: {os.path.basename(rep.path.rstrip('/'))}")
    page.heading("The run")
    for note in rep.notes:  # missing or damaged parts, an unfinished run: said before any number
        page.paragraph(f"Warning: {note}", cls="warning")
    opts = _options(s)
    runs = f"{rep.runs} run{'s' if rep.runs > 1 else ''}"
    page.raw(f'<table id="run"><tbody>'
             f"<tr><td>maps</td><td id=\"n-maps\">{rep.maps}</td></tr>"
             f"<tr><td>input files</td><td>{rep.inputs}</td></tr>"
             f"<tr><td>failed inputs</td><td id=\"n-failed\">"
             f"{len(rep.failed) if rep.failed is not None else 'not known'}</td></tr>"
             f"<tr><td>options</td><td>{html.escape(opts)}</td></tr>"
             f"<tr><td>atlas</td><td>{html.escape(str(rep.atlas.get('name')))} ({rep.atlas.get('regions')} regions,"
             f" fingerprint {html.escape(str(rep.atlas.get('fingerprint', ''))[:12])})</td></tr>"
             f"<tr><td>software</td><td>{html.escape(', '.join(f'{k} {v}' for k, v in rep.versions.items()))}"
             f"</td></tr><tr><td>wall time</td><td>{rep.seconds:.1f} s in {runs}</td></tr></tbody></table>")
    if rep.failed is not None and len(rep.failed):
        page.heading("Failed inputs", 3)
        page.table(rep.failed.assign(input=rep.failed["input"].map(lambda p: os.path.basename(str(p)))),
                   "failed")
    idents = atlas_identities(rep.atlas)
    for ident in idents:
        label = ident.get("label", ident.get("name"))
        freq = rep.frequency if len(idents) == 1 else \
            rep.frequency[rep.frequency["atlas"] == label].drop(columns="atlas").reset_index(drop=True)
        _regions_section(page, rep, ident, freq, top, figures, atlas if len(idents) == 1 else None,
                         title="Regions" if len(idents) == 1 else f"Regions: {label}")
    if features:
        from . import features as _features

        first = rep.frequency if "atlas" not in rep.frequency else \
            rep.frequency[rep.frequency["atlas"] == idents[0].get("label", idents[0].get("name"))]
        source = idents[0].get("source") or idents[0].get("name")
        name = source if isinstance(source, str) else idents[0].get("name")
        _features.page_section(page, list(first["region"].head(10)), name, figures=figures,
                               maps=atlas if atlas is not None else name)
    comp = rows[rows["kind"] == "component"]
    if figures and len(comp):
        page.heading("Distributions")
        page.figure(_hist_png(comp["correlation"].dropna(), 40, "correlation", "correlation, every component x region"),
                    "Correlation of every (component, region) pair", "fig-correlation")
        page.figure(_hist_png(comp["intersection over union"].dropna(), 40, "intersection over union",
                              "IoU, every component x region"), "Intersection over union", "fig-iou")
        c = rep.components_per_map
        page.figure(_hist_png(c.to_numpy(), np.arange(0, int(c.max()) + 2) - 0.5, "components", "components per map",
                              integer=True), "Components per map", "fig-components")
        peaks = rows[rows["kind"] == "peak"]
        if len(peaks):
            pk = peaks.groupby("region").size().sort_values(ascending=False).head(top)
            page.figure(_bar_png(list(pk.index), list(pk.to_numpy()), "peaks", "peaks per region"),
                        "Peaks (local maxima) per region", "fig-peaks")
    page.heading("Per map")
    page.paragraph(f"The top region of each component (highest {rep.measure}); click a column to sort, type to "
                   "filter.")
    if rep.rows_shown < len(rep.per_map):
        page.paragraph(f"The table holds the {rep.rows_shown} components of highest {rep.measure} of "
                       f"{len(rep.per_map)}; the dataset has them all.", "note")
    page.data_table(rep.per_map.head(rep.rows_shown), "per-map")
    return page


def _regions_section(page, rep, ident, freq, top, figures, atlas, title):
    """One atlas's region frequencies: the bar chart, the brain figures, the table."""
    kind = ident.get("kind", "statistical")
    page.heading(title)
    page.paragraph(f"{ident.get('name')} ({ident.get('regions')} {kind} regions"
                   f"{', ' + str(ident['space']) if ident.get('space') else ''}): the share of the {rep.maps} maps "
                   f"with a component whose {rep.measure} is at least {rep.cut:g}, per region.")
    slug = "" if title == "Regions" else "-" + "".join(c if c.isalnum() else "-" for c in str(ident.get("label")))
    shown = freq.head(top)
    if figures:
        if len(shown):
            page.figure(_bar_png(list(shown["region"]), list(shown["share"]), f"share of maps ({rep.measure} >= "
                                 f"{rep.cut:g})", f"top {len(shown)} regions"), "Regions by share of maps",
                        "fig-frequency" + slug)
        brain = _frequency_image(ident, freq, atlas)
        if brain is not None:
            img, template = brain
            page.figure(glass_brain(img, colorbar=True, cmap="hot", title="share of maps"),
                        "The share painted on each voxel's most probable region (glass brain)", "fig-glass" + slug)
            page.figure(_slices(img, "share of maps", template, cmap="hot", colorbar=True),
                        "The same on axial slices of the ICBM 2009c template", "fig-slices" + slug)
        else:
            page.paragraph("No brain figure: the atlas the run used could not be loaded here.", "note")
    page.table(freq.head(max(top, 50)).assign(share=lambda d: d["share"].round(4)), "frequency" + slug)
    if len(freq) > max(top, 50):
        page.paragraph(f"{len(freq) - max(top, 50)} more regions not listed.", "note")


def _frequency_image(ident, frequency, atlas):
    """The region shares painted on each voxel's most probable region, and the template; None without the atlas."""
    import nibabel as nib

    from .data import TEMPLATE

    if atlas is None:
        from .dataset import atlas_identity
        from .errors import GpusiibraError
        from .maps import get_map

        from . import atlases

        source = ident.get("source") or ident.get("name")
        if isinstance(source, str) and atlases.find(source) is not None and not atlases.is_cached(source):
            return None  # an official atlas that is not in this machine's cache: a report downloads nothing
        try:
            atlas = get_map(source) if isinstance(source, str) else None
        except GpusiibraError:
            atlas = None
        if atlas is None or atlas_identity(atlas)["fingerprint"] != ident.get("fingerprint"):
            return None
    ix = atlas.sparse_index
    counts = np.diff(ix.row_ptr)
    if not counts.size or len(frequency) == 0:
        return None
    first = ix.row_max_entries()
    rows = ix.entry_rows()
    share = pd.Series(frequency["share"].to_numpy(), index=frequency["region"]).groupby(level=0).max()
    by_region = share.reindex(atlas.regions).fillna(0).to_numpy()
    vol = np.zeros(int(np.prod(ix.shape)), np.float32)
    vol[ix.row_voxel[rows[first]]] = by_region[ix.entry_region[first]]
    template = nib.load(TEMPLATE) if tuple(atlas.shape) == nib.load(TEMPLATE).shape[:3] else None
    return nib.Nifti1Image(vol.reshape(ix.shape), atlas.affine), template


# ------------------------------------------------------------------ the demo
def demo_figures(result, atlas, out, n_regions=3, progress=False):
    """Draw the demo's figures into ``out`` (``progress``: a bar, one step a figure); returns {caption: file
    name}."""
    import sys

    from tqdm.auto import tqdm

    figures = {}
    vol = result.input_volume.fetch()
    bar = tqdm(total=2 + len(result.cluster_maps) + min(n_regions, result.assignments["region"].nunique()),
               desc="figures", unit="figure", disable=not progress, file=sys.stderr)

    def save(name, caption, img, **kwargs):
        glass_brain(img, os.path.join(out, name), **kwargs)
        figures[caption] = name
        bar.update()

    save("input_peaks.png", f"Input ({result.input_volume.name}) with its {len(result.peaks)} peaks", vol,
         markers=result.peaks.coordinates, cmap="RdBu_r", symmetric_cbar=True, colorbar=True)
    samples = result.samples
    clustered = samples.labels >= 0
    colors = samples.label_colors
    save("clusters.png", f"{int(clustered.sum())} of {len(samples)} samples in "
         f"{len(result.cluster_maps)} clusters (noise not shown)", vol,
         markers=samples.coordinates[clustered], marker_size=5,
         marker_color=[colors[lb] for lb in samples.labels[clustered]], cmap="Greys", threshold=1e-3)
    for cl, cmap_volume in result.cluster_maps.items():
        save(f"cluster_{cl}.png", f"Cluster #{cl}: kernel density map", cmap_volume.fetch(),
             title=f"Cluster #{cl}", cmap="RdBu_r", symmetric_cbar=True, colorbar=True)
    shown = []
    for region in result.assignments["region"]:
        if region not in shown:
            shown.append(region)
        if len(shown) == n_regions:
            break
    for i, region in enumerate(shown):
        save(f"region_{i}.png", f"Assigned region: {region}", atlas.fetch(region), title=region, cmap="hot_r",
             colorbar=True)
    bar.close()
    return figures


def write_demo_report(result, atlas, out, seed=None, threshold=None, features=True):
    """Write ``report.html`` into ``out``, self-contained (the figures, written there too, are embedded)."""
    from . import __version__
    from .backend import get_backend

    page = Page("Seed workflow on the bundled motor t-map")
    page.paragraph(f"Atlas: {atlas.name} ({len(atlas)} regions). Input: {result.input_volume.name} (threshold "
                   f"{threshold}). {len(result.samples)} samples (seed {seed}), {len(result.cluster_maps)} clusters, "
                   f"{len(result.peaks)} peaks. Backend: {get_backend()}. gpusiibra {__version__}.")
    page.heading("Assignments")
    page.paragraph("Clusters with correlation >= 0.2 and peaks with map value >= 0.5, sorted by correlation.")
    page.table(result.assignments.astype({"centroid": str}) if "centroid" in result.assignments else
               result.assignments, "assignments")
    page.heading("Figures")
    for caption, name in result.figures.items():
        with open(os.path.join(out, name), "rb") as f:
            page.figure(f.read(), caption)
    if features:
        from . import features as _features

        _features.page_section(page, list(dict.fromkeys(result.assignments["region"]))[:5], atlas, maps=atlas)
    page.heading("Time per step")
    page.table(pd.DataFrame({"step": list(result.timings), "seconds": [round(v, 3) for v in result.timings.values()]}),
               "timings")
    return page.write(os.path.join(out, "report.html"))
