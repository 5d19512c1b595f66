"""Figures (nilearn's plotting) and the HTML report of the seed workflow.

Imports nilearn and matplotlib lazily: ``pip install 'gpusiibra[plot]'``.
"""
from __future__ import annotations

import html
import os

import numpy as np

__all__ = ["demo_figures", "write_demo_report", "glass_brain"]


def _plotting():
    try:
        from nilearn import plotting  # matplotlib picks Agg by itself where there is no display
    except ImportError:
        from .errors import DependencyError

        raise DependencyError("figures need nilearn and matplotlib: pip install 'gpusiibra[plot]'") from None
    return plotting


def glass_brain(img, path, title=None, markers=None, marker_color="b", marker_size=30, **kwargs):
    """Save a nilearn glass-brain view of ``img`` (with optional markers in mm) to ``path``.

    Parameters
    ----------
    img : nibabel image
    path : str
        A .png file.
    title : str, optional
    markers : array_like (n, 3), optional
        Positions in mm to mark.
    marker_color : colour or list of colours
    marker_size : float
    **kwargs
        Passed to ``nilearn.plotting.plot_glass_brain``.
    """
    plotting = _plotting()
    display = plotting.plot_glass_brain(img, title=title, **kwargs)
    try:
        if markers is not None and len(markers):
            display.add_markers(np.asarray(markers, dtype=np.float64), marker_color=marker_color,
                                marker_size=marker_size)
        display.savefig(path, dpi=80)
    finally:
        display.close()
    return path


def demo_figures(result, atlas, out, n_regions=3):
    """Draw the demo's figures into ``out``; returns {caption: file name}."""
    figures = {}
    vol = result.input_volume.fetch()

    def save(name, caption, img, **kwargs):
        glass_brain(img, os.path.join(out, name), **kwargs)
        figures[caption] = name

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
    return figures


def _table_html(df):
    return df.to_html(index=False, float_format=lambda x: f"{x:.4f}", na_rep="", classes="assignments",
                      border=0, escape=True)


def write_demo_report(result, atlas, out, seed=None, threshold=None):
    """Write ``report.html`` into ``out`` (figures must exist there); returns its path."""
    from . import __version__
    from .backend import get_backend

    times = "".join(f"<tr><td>{html.escape(k)}</td><td>{v:.3f} s</td></tr>" for k, v in result.timings.items())
    figs = "".join(
        f'<figure><img src="{html.escape(name)}" alt="{html.escape(caption)}">'
        f"<figcaption>{html.escape(caption)}</figcaption></figure>"
        for caption, name in result.figures.items()
    )
    n_clusters = len(result.cluster_maps)
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>gpusiibra demo: motor map</title>
<style>
body {{ font-family: sans-serif; margin: 2em; max-width: 75em; }}
table {{ border-collapse: collapse; margin: 1em 0; }}
td, th {{ padding: 0.2em 0.8em; border-bottom: 1px solid #ddd; text-align: left; }}
figure {{ display: inline-block; margin: 0.5em; vertical-align: top; }}
figcaption {{ font-size: 0.9em; color: #444; max-width: 40em; }}
img {{ max-width: 40em; }}
</style></head><body>
<h1>Seed workflow on the bundled motor t-map</h1>
<p>Atlas: {html.escape(atlas.name)} ({len(atlas)} regions). Input: {html.escape(result.input_volume.name)}
(threshold {threshold}). {len(result.samples)} samples (seed {seed}), {n_clusters} clusters,
{len(result.peaks)} peaks. Backend: {get_backend()}. gpusiibra {__version__}.</p>
<h2>Assignments</h2>
<p>Clusters with correlation &ge; 0.2 and peaks with map value &ge; 0.5, sorted by correlation.</p>
{_table_html(result.assignments)}
<h2>Figures</h2>
{figs}
<h2>Time per step</h2>
<table>{times}</table>
</body></html>
"""
    path = os.path.join(out, "report.html")
    with open(path, "w", encoding="utf-8") as f:
        f.write(page)
    return path
