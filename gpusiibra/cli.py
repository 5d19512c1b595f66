"""Command line: ``gpusiibra assign | points | atlas | demo | example | report | compare``. Argument parsing only; the work is the Python API's."""
from __future__ import annotations

import argparse
import importlib.util
import math
import os
import sys
import warnings

__all__ = ["main"]

_BACKEND_HELP = "where to compute: auto (the GPU when CuPy sees one, else the CPU), cpu or gpu " \
                "(default: $GPUSIIBRA_BACKEND, else auto)"


_ATLAS_HELP = ("an atlas name (`gpusiibra atlas list`: official ones are fetched once and cached) or an atlas file "
               "(default: julich-3.1-top2, the embedded offline derivative)")


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


def _parser():
    from . import __version__

    p = argparse.ArgumentParser(prog="gpusiibra", description="Assign brain maps to probabilistic atlas regions "
                                "with siibra's statistics, on the CPU or the GPU.")
    p.add_argument("--version", action="version", version=f"gpusiibra {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

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
                   help="files per chunk (default: 256 on the GPU, 32 on the CPU)")
    a.add_argument("--readers", type=_number(int, 1), help="reader processes ahead of the engine (default: the cores)")
    a.add_argument("--space", help="the inputs' space when you know it (e.g. --space MNI): files whose header says "
                   "scanner or Talairach coordinates, or whose grid misses most of the MNI brain, are then not "
                   "warned about")
    a.add_argument("--quiet", action="store_true", help="no progress bar")

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
    q = sub.add_parser("points", help="label a coordinate table (x, y, z in mm) with the regions of each point",
                       description="Assign the points of a coordinate table (columns x, y, z in mm, or X/Y/Z as "
                                   "nilearn's get_clusters_table writes them, or mni_x/mni_y/mni_z; optional "
                                   "sigma_mm) to every region, exactly or with siibra's Gaussian kernel. Every "
                                   "column of the table is kept, in order, and the region columns added.")
    q.add_argument("table", help="CSV/TSV file with columns x, y, z (mm), any others, and optionally sigma_mm")
    q.add_argument("--sigma", type=_number(float, 0), help="uncertainty of every point in mm (overrides a sigma_mm column)")
    q.add_argument("--atlas", default="julich-3.1-top2", help=_ATLAS_HELP + "; several, comma-separated: one block "
                   "of rows per atlas, with an atlas column (without a .parquet --out)")
    q.add_argument("--lower-threshold", type=_number(float, 0), default=0.0,
                   help="report only map values above L (default: 0)")
    q.add_argument("--out", help="write the table to OUT: a name ending in .parquet is a results dataset (a folder, "
                   "written in chunks, resumable, as `assign` writes), else a CSV file")
    q.add_argument("--resume", action="store_true", help="continue an existing --out dataset, skipping finished rows")
    q.add_argument("--chunk-rows", type=_number(int, 1), default=20000,
                   help="rows of the table per part file of a dataset (default: 20000)")
    q.add_argument("--by", help="with a dataset --out: the regions of each group's points, grouped by this "
                   "column of the table (e.g. study_id), written into the dataset and shown")
    q.add_argument("--space", help="the space of the coordinates, when a `space` column of the table says "
                   "otherwise than MNI and you know better (e.g. --space MNI)")
    q.add_argument("--quiet", action="store_true", help="no progress bar")
    q.add_argument("--backend", default=None, choices=["auto", "cpu", "gpu"], help=_BACKEND_HELP)

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
    r = sub.add_parser("report", help="a study at a glance: one self-contained HTML page of a batch's results",
                       description="Read the dataset that `gpusiibra assign --out` wrote (with its manifest and "
                                   "errors file) and write one HTML page: the run, region frequencies with "
                                   "brain figures, distributions, and a sortable per-map table.")
    r.add_argument("dataset", help="the results dataset (a folder written by gpusiibra assign --out)")
    r.add_argument("--out", help="the HTML file to write (default: DATASET.html)")
    r.add_argument("--measure", default="correlation", choices=["correlation", "map containedness",
                                                                "input containedness"],
                   help="the statistic a region is counted with (default: correlation)")
    r.add_argument("--min-correlation", "--min", dest="min_value", type=_number(float), default=0.2,
                   help="a region counts for a map when a component reaches this value of the measure (default 0.2)")
    r.add_argument("--top", type=_number(int, 1), default=30, help="regions in the bar chart (default: 30)")
    r.add_argument("--max-rows", type=_number(int, 1), default=5000,
                   help="rows of the per-map table put in the page (default: 5000)")
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
    e = sub.add_parser("example", help="write a small example study (t-maps made from the bundled motor map)",
                       description="Write N t-maps (.nii.gz) made from the bundled SPM motor t-map into FOLDER, to try "
                                   "`gpusiibra assign` with; the last one is a 4D file of two volumes.")
    e.add_argument("folder", help="where to write the maps (created if needed)")
    e.add_argument("--maps", type=_number(int, 1), default=8, help="number of files (default: 8)")
    return p


def _cmd_report(args):
    from .report import study_report

    out = args.out or args.dataset.rstrip("/\\") + ".html"
    _check_report_out(out, args.dataset)
    figures = importlib.util.find_spec("nilearn") is not None
    if not figures:
        print("gpusiibra: nilearn is not installed, so the page has no figures (pip install 'gpusiibra[plot]')",
              file=sys.stderr)
    rep = study_report(args.dataset, out, min_value=args.min_value, measure=args.measure, top=args.top,
                       max_rows=args.max_rows, figures=figures)
    for note in rep.notes:
        print(f"warning: {note}", file=sys.stderr)
    if rep.settings.get("kind") == "points":
        print(f"{rep.maps} points; {len(rep.frequency)} regions are the best region of some point "
              f"(highest {rep.measure})")
    else:
        print(f"{rep.maps} maps, {len(rep.failed)} failed inputs, {len(rep.frequency)} regions reached "
              f"({rep.measure} >= {rep.cut:g})")
    print("report:", os.path.abspath(out))
    return 0


def _check_report_out(out, dataset):
    """The page goes beside the dataset, never into it (its folder holds only parts and the manifest)."""
    from .errors import OptionError

    if os.path.isdir(dataset) and os.path.commonpath([os.path.abspath(out), os.path.abspath(dataset)]) == \
            os.path.abspath(dataset):
        raise OptionError(f"--out {out} is inside the dataset folder {dataset}: write the page beside it, e.g. "
                          f"{dataset.rstrip('/')}.html")
    if os.path.isdir(out):
        raise OptionError(f"--out {out} is a folder: give the HTML file to write, e.g. {os.path.join(out, 'study.html')}")


def _cmd_compare(args):
    import pandas as pd

    from .compare import compare_atlases
    from .errors import OptionError

    atlases = args.atlas
    if not atlases:
        import pyarrow.parquet as pq

        found = list(dict.fromkeys(pq.read_table(args.dataset, columns=["atlas"]).column("atlas").to_pylist())) \
            if os.path.isdir(args.dataset) else []
        if len(found) != 2:
            raise OptionError(f"give the two atlases to compare with --atlas A --atlas B (the dataset has "
                              f"{', '.join(map(repr, found)) or 'none'})")
        atlases = found
    if len(atlases) != 2:
        raise OptionError(f"give exactly two atlases to compare (--atlas A --atlas B), not {len(atlases)}")
    result = compare_atlases(args.dataset, atlases[0], atlases[1], measure=args.measure)
    print(result)
    if args.out:
        result.table.to_csv(args.out, index=False)
        print("table:", os.path.abspath(args.out))
    shown = result.table[result.table["changed"]] if args.changed else result.table
    cols = [c for c in ("input", "frame", "sign", "component", "voxels") if c in shown] + \
        [f"region [{a}]" for a in atlases] + [f"{args.measure} [{a}]" for a in atlases] + ["changed"]
    shown = shown[cols].assign(input=shown["input"].map(os.path.basename))
    with pd.option_context("display.max_rows", 60, "display.width", 200, "display.max_colwidth", 40):
        print(shown.head(60).to_string(index=False))
    if len(shown) > 60:
        print(f"... {len(shown) - 60} more rows" + (" (--out writes them all)" if not args.out else ""))
    return 0


def _cmd_example(args):
    from .demo import write_example_study

    paths = write_example_study(args.folder, args.maps)
    print(f"{len(paths)} example maps written to {args.folder}")
    return 0


def _cmd_points(args):
    import pandas as pd

    from . import backend
    from .maps import get_map
    from .tables import label_points, label_points_batch

    if args.backend:
        backend.set_backend(args.backend)
    if args.out and args.out.rstrip("/\\").endswith(".parquet"):  # a results dataset, in chunks, resumable
        summary = label_points_batch(args.table, args.out, get_map(args.atlas), sigma_mm=args.sigma,
                                     lower_threshold=args.lower_threshold, resume=args.resume,
                                     chunk_rows=args.chunk_rows, progress=not args.quiet, space=args.space,
                                     by=args.by)
        print(summary)
        if summary.by_group is not None:
            top = summary.by_group.groupby(args.by, sort=False).head(3)
            print(f"\nthe regions of each {args.by} (its points' best region; first 3 of each, all in "
                  f"{os.path.join(summary.out, '_summary-by-' + args.by + '.csv')}):")
            with pd.option_context("display.max_rows", 60, "display.width", 160):
                print(top.head(60).to_string(index=False))
        return 0
    if args.resume:
        from .errors import OptionError

        raise OptionError("--resume continues a results dataset: give --out a folder name ending in .parquet")
    df = label_points(args.table, args.atlas if "," in args.atlas else get_map(args.atlas), sigma_mm=args.sigma,
                      lower_threshold=args.lower_threshold, space=args.space)
    if args.out:
        df.to_csv(args.out, index=False)
    with pd.option_context("display.max_rows", 500, "display.width", 160):
        print(df.to_string(index=False) if df["region"].notna().any() else "no region at these points")
    return 0


def _cmd_demo(args):

    import pandas as pd

    from . import backend
    from .demo import run_demo

    if args.backend:
        backend.set_backend(args.backend)
    figures = not args.no_figures
    if figures and importlib.util.find_spec("nilearn") is None:
        print("gpusiibra: nilearn is not installed, so no figures or report (pip install 'gpusiibra[plot]')",
              file=sys.stderr)
        figures = False
    result = run_demo(args.out, seed=args.seed, threshold=args.threshold, n_samples=args.samples,
                      atlas=args.atlas, figures=figures, progress=not args.quiet)
    with pd.option_context("display.max_rows", 200, "display.width", 160):
        print(result.assignments.to_string())
    steps = ", ".join(f"{k} {v:.2f} s" for k, v in result.timings.items())
    print(f"\nbackend: {backend.get_backend()}; {steps}")
    if result.report:
        print("report:", os.path.abspath(result.report))
    return 0


def _cmd_assign(args):
    from . import backend
    from .batch import assign_batch
    from .maps import get_maps

    if args.backend:
        backend.set_backend(args.backend)
    smaps = get_maps(args.atlas)
    _, summary = assign_batch(
        smaps, args.inputs, args.out, threshold=args.threshold, two_sided=args.two_sided,
        lower_threshold=args.lower_threshold, minsize=args.minsize, peaks=args.peaks, mindist=args.mindist,
        resume=args.resume, chunk_size=args.chunk_size, readers=args.readers, workers=args.workers,
        scheduler=args.scheduler, progress=not args.quiet, space=args.space)
    for smap in smaps:
        print(f"atlas: {smap.name} ({len(smap)} {smap.maptype} regions{', ' + smap.space if smap.space else ''}), "
              f"backend: {backend.get_backend()}")
    print(summary)
    if summary.rows:
        import pandas as pd

        df = pd.read_parquet(args.out, columns=["input", "atlas", "frame", "sign", "kind", "voxels",
                                                "input structure", "region", "correlation", "map value"])
        df = df[df["kind"] == "component"]
        if df["atlas"].nunique() == 1:
            df = df.drop(columns="atlas")
        top = df.sort_values("correlation", ascending=False, na_position="last").head(10)
        top = top.assign(input=top["input"].map(os.path.basename)).drop(columns="kind")
        if top["frame"].max() == 0:
            top = top.drop(columns="frame")
        if (top["sign"] == "+").all():
            top = top.drop(columns="sign")
        top = top.assign(voxels=top["voxels"].astype("Int64"))  # sizes are counts (no float from peak rows)
        top = top.rename(columns={"input structure": "component", "voxels": "component voxels"})
        top = top[[c for c in ("input", "atlas", "frame", "sign", "component", "component voxels", "region",
                               "correlation", "map value") if c in top]]
        print("\nhighest correlations (component voxels: its size on the atlas grid):")
        print(top.to_string(index=False))
    return 1 if summary.failures else 0


def _cmd_atlas(args):
    from . import atlases
    from .maps import available_maps, get_map, load_map

    action = args.action or "list"
    if action == "list":
        rows = [(name, smap.maptype, len(smap), smap.space, "bundled", "CC BY-NC-SA 4.0", smap.name)
                for name, smap in ((n, get_map(n)) for n in available_maps())]
        rows += [(e.id, e.maptype, len(e.regions), e.space, atlases.cache_state(e), e.licence, e.name)
                 for e in atlases.catalog()]
        spaces = sorted({r[3] for r in rows if r[3]})
        short = {sp: "MNI152" if "2009c" in sp and "152" in sp else sp[:12] for sp in spaces}
        print(f"{'name':<24}{'kind':<10}{'regions':>7}  {'space':<8}{'cached':<9}{'licence':<22}atlas")
        for name, kind, n, space, cached, licence, title in rows:
            lic = licence.split(":")[0].split(" (")[0]
            lic = lic if len(lic) <= 20 else lic[:19] + "~"
            print(f"{name:<24}{'labelled' if kind == 'labelled' else 'prob.':<10}{n:>7}  {short.get(space, '-'):<8}"
                  f"{cached:<9}{lic:<22}{title}")
        print()
        for abbrev in sorted(set(short.values())):
            print(f"space {abbrev}: {' = '.join(sp for sp in spaces if short[sp] == abbrev)} (as siibra names it)")
        print(f"cache: {atlases.cache_dir()}  (`gpusiibra atlas info NAME`: sources, licence and citation in full; "
              "prob. = probability maps, siibra's SparseMap rules; labelled = one label per voxel, siibra's "
              "Map rules)")
        return 0
    if action == "fetch":
        path = atlases.fetch(args.atlas, args.cache, progress=not args.quiet, from_siibra_cache=args.from_siibra_cache,
                             siibra_cache=args.siibra_cache, sources=args.sources, force=args.force)
        e = atlases.get_entry(args.atlas)
        print(f"{e.id}: {len(e.regions)} regions, cached at {path}")
        print(f"licence: {e.licence}\ncite: {e.citation}")
        return 0
    if action == "info":
        entry = atlases.find(args.atlas)
        if args.regions:  # the list alone, so that `| head` shows regions
            names = entry.regions if entry is not None else (
                load_map(args.atlas, labels=args.labels) if args.labels else get_map(args.atlas)).regions
            for i, r in enumerate(names):
                print(f"{i:5d}  {r}")
            return 0
        if entry is not None:
            print(atlases.describe(entry, args.cache, sources=args.sources))
            if atlases.is_cached(entry, args.cache):  # what the cached copy holds
                smap = get_map(entry.id, cache=args.cache)
                print("\n".join(line for line in smap.summary().splitlines() if line.startswith(("grid", "entries"))))
            return 0
        smap = load_map(args.atlas, labels=args.labels) if args.labels else get_map(args.atlas)
        print(smap.summary())
        return 0
    # save
    smap = load_map(args.atlas, labels=args.labels) if args.labels else get_map(args.atlas)
    if args.out.endswith(".zip"):
        path = smap.save_sparseindex(os.path.dirname(args.out) or ".", os.path.basename(args.out)[:-4])
    else:
        path = smap.save(args.out)
    print("written", path)
    return 0


def _one_line_warnings():
    """Warnings as one clean line on stderr, above any progress bar."""
    def show(message, category, filename, lineno, file=None, line=None):
        text = f"warning: {message}"
        try:
            from tqdm.auto import tqdm

            tqdm.write(text, file=sys.stderr)
        except ImportError:
            print(text, file=sys.stderr)

    warnings.showwarning = show


def _interrupted(args) -> int:
    msg = "gpusiibra: interrupted"
    out = getattr(args, "out", None)
    if args.command == "assign" and out and os.path.isdir(out):
        from .dataset import read_manifest

        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                n = sum(len(r["maps"]) for r in read_manifest(out) if r["type"] == "chunk")
            msg += (f"; {n} finished maps are kept in {out}: run the same command with --resume to assign the rest")
        except Exception:
            pass
    print(msg, file=sys.stderr)
    return 130


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    from .errors import GpusiibraError

    _one_line_warnings()
    commands = {"assign": _cmd_assign, "atlas": _cmd_atlas, "points": _cmd_points, "demo": _cmd_demo,
                "example": _cmd_example, "report": _cmd_report, "compare": _cmd_compare}
    try:
        return commands[args.command](args)
    except KeyboardInterrupt:
        return _interrupted(args)
    except BrokenPipeError:
        # the reader of our output went away (`gpusiibra atlas --regions | head`): stop quietly
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except (GpusiibraError, OSError) as e:
        print(f"gpusiibra: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
