"""Command line: ``gpusiibra assign | points | atlas | clusters | demo | example | report | compare | features |
warp``. The
commands' arguments are in :mod:`gpusiibra._cli_parser`; the work is the Python API's."""
from __future__ import annotations

import importlib.util
import os
import sys
import warnings

from ._cli_parser import parser as _parser

__all__ = ["main"]


def _cmd_report(args):
    from .report import study_report

    out = args.out or args.dataset.rstrip("/\\") + ".html"
    _check_report_out(out, args.dataset)
    figures = importlib.util.find_spec("nilearn") is not None
    if not figures:
        print("gpusiibra: nilearn is not installed, so the page has no figures (pip install 'gpusiibra[plot]')",
              file=sys.stderr)
    rep = study_report(args.dataset, out, min_value=args.min_value, measure=args.measure, top=args.top,
                       max_rows=args.max_rows, figures=figures, features=not args.no_features,
                       progress=not args.quiet)
    for note in rep.notes:
        print(f"warning: {note}", file=sys.stderr)
    if rep.settings.get("kind") == "points":
        print(f"{rep.maps} points; {len(rep.frequency)} regions are the best region of some point "
              f"(highest {rep.measure})")
    else:
        failed = "failed inputs not known" if rep.failed is None else \
            f"{len(rep.failed)} failed input{'' if len(rep.failed) == 1 else 's'}"
        print(f"{rep.maps} map{'' if rep.maps == 1 else 's'}, {failed}, {len(rep.frequency)} regions reached "
              f"({rep.measure} >= {rep.cut:g})")
    print("report:", os.path.abspath(out))
    return 0


def _check_beside_dataset(out, dataset, what):
    """``out`` goes beside the dataset, never into its folder (parts and the manifest only) nor onto the files it
    keeps beside it (its errors and warnings)."""
    from .dataset import errors_path, warnings_path
    from .errors import OptionError

    if os.path.isdir(dataset) and os.path.commonpath([os.path.abspath(out), os.path.abspath(dataset)]) == \
            os.path.abspath(dataset):
        raise OptionError(f"--out {out} is inside the dataset folder {dataset}: write {what} beside it, e.g. "
                          f"{dataset.rstrip('/')}{'.html' if what == 'the page' else '-compare.csv'}")
    for own in (errors_path(dataset), warnings_path(dataset)):
        if os.path.abspath(out) == os.path.abspath(own):
            raise OptionError(f"--out {out} is the dataset's own record of its inputs: choose another name")


def _check_report_out(out, dataset):
    """The page goes beside the dataset, never into it (its folder holds only parts and the manifest)."""
    from .errors import OptionError

    _check_beside_dataset(out, dataset, "the page")
    if os.path.isdir(out):
        raise OptionError(f"--out {out} is a folder: give the HTML file to write, e.g. {os.path.join(out, 'study.html')}")
    if not out.lower().endswith((".html", ".htm")):  # never a map or a table of the user's overwritten by a page
        raise OptionError(f"--out {out}: the report is an HTML page: give a name ending in .html")
    from ._outputs import check_folder

    check_folder(out)  # before the figures are drawn


def _check_out_file(out):
    """A table's --out is checked before the work: its folder must exist, it must not be a folder, and its name
    must be a table's (so that no map or other file of the user's is overwritten by one)."""
    from .errors import OptionError
    from .io.coordinates import TABLE_SUFFIXES

    if not out:
        return
    if os.path.isdir(out):
        raise OptionError(f"--out {out} is a folder: give the CSV file to write, e.g. {os.path.join(out, 'table.csv')}")
    if not out.lower().endswith(TABLE_SUFFIXES):
        raise OptionError(f"--out {out}: the output is a table: give a name ending in {', '.join(TABLE_SUFFIXES)}")
    from ._outputs import check_folder

    check_folder(out)


def _cmd_compare(args):
    import pandas as pd

    from .compare import compare_atlases
    from .errors import OptionError

    from .dataset import require_dataset

    require_dataset(args.dataset)
    _check_out_file(args.out)
    if args.out:
        _check_beside_dataset(args.out, args.dataset, "the table")
    atlases = args.atlas or []
    if len(atlases) not in (0, 2):
        raise OptionError(f"give exactly two atlases to compare (--atlas A --atlas B), not {len(atlases)}")
    result = compare_atlases(args.dataset, *atlases, measure=args.measure)
    atlases = list(result.atlases)
    print(result)
    if args.out:
        from ._outputs import write_atomically
        from .io.coordinates import table_separator

        write_atomically(args.out, lambda tmp: result.table.to_csv(tmp, index=False, sep=table_separator(args.out)))
        print("table:", os.path.abspath(args.out))
    shown = result.table[result.table["changed"]] if args.changed else result.table
    cols = [c for c in ("input", "frame", "sign", "component", "voxels") if c in shown] + \
        [f"region [{a}]" for a in atlases] + [f"{args.measure} [{a}]" for a in atlases] + ["changed"] + (["respelled"] if result.respelled else [])
    shown = shown[cols].assign(input=shown["input"].map(os.path.basename))
    with pd.option_context("display.max_rows", 60, "display.width", 200, "display.max_colwidth", 40):
        print(shown.head(60).to_string(index=False))
    if len(shown) > 60:
        print(f"... {len(shown) - 60} more rows" + (" (--out writes them all)" if not args.out else ""))
    return 0


def _cmd_features(args):
    import pandas as pd

    from . import features

    if args.out and os.path.exists(args.out) and not os.path.isdir(args.out):
        from .errors import OptionError

        raise OptionError(f"--out {args.out} is a file: features writes a folder (features.csv, features.parquet, "
                          "the figures)")
    kw = dict(kinds=args.kind, genes=args.genes, progress=not args.quiet, use_cache=not args.no_cache)
    src = args.input
    atlas = args.atlas or "julich-3.1-top2"
    if os.path.isdir(src):
        from ._study import region_frequency

        table = features.dataset_features(src, measure=args.measure, min_value=args.min_value, top=args.top, **kw)
        atlas = region_frequency(src, args.measure, args.min_value)[1]
    elif os.path.isfile(src):
        table = features.table_features(src, atlas, measure=args.measure, top=args.top, **kw)
    else:
        table = features.region_features(src, atlas, **kw)
    figures = not args.no_figures and importlib.util.find_spec("matplotlib") is not None
    if args.out:
        rep = features.write_features(table, args.out, figures=figures, top_targets=args.top, atlas=atlas)
        print(f"{len(rep.files)} files written to {os.path.abspath(args.out)}")
    shown = table.assign(value=table["value"].round(2), std=table["std"].round(2))
    cols = ["region", "kind", "measure", "value", "std", "unit", "status"]
    with pd.option_context("display.max_rows", 80, "display.width", 200, "display.max_colwidth", 60):
        print(shown[cols].head(80).to_string(index=False))
    if len(shown) > 80:
        print(f"... {len(shown) - 80} more rows" + (" (--out writes them all)" if not args.out else ""))
    missing = table[table["status"] != "ok"]
    if len(missing):
        print(f"{len(missing)} (region, kind) without a feature: see the status column")
    return 0


def _cmd_example(args):
    from .demo import write_example_study
    from .errors import OptionError

    if os.path.exists(args.folder) and not os.path.isdir(args.folder):
        raise OptionError(f"{args.folder} is a file: example writes its maps into a folder")

    paths = write_example_study(args.folder, args.maps)
    print(f"{len(paths)} example maps in {args.folder}")
    return 0


def _cmd_points(args):
    import pandas as pd

    from . import backend
    from .maps import get_map
    from .tables import label_points, label_points_batch

    if args.backend:
        backend.set_backend(args.backend)
    _check_points_out(args)
    if args.space is not None:  # what is warped, said first (the table itself goes to stdout)
        from .maps import get_maps
        from .spaces import describe_warps

        print(describe_warps(args.space, get_maps(args.atlas), images=False), file=sys.stderr)
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
    _check_out_file(args.out)
    df = label_points(args.table, args.atlas if "," in args.atlas else get_map(args.atlas), sigma_mm=args.sigma,
                      lower_threshold=args.lower_threshold, space=args.space)
    if args.out:
        from ._outputs import write_atomically
        from .io.coordinates import table_separator

        sep = table_separator(args.out)
        write_atomically(args.out, lambda tmp: df.to_csv(tmp, index=False, sep=sep))
    with pd.option_context("display.max_rows", 500, "display.width", 160):
        print(df.to_string(index=False) if df["region"].notna().any() else "no region at these points")
    return 0


def _check_points_out(args):
    """`points`' options checked before any work: --out is a table file or a dataset it writes, not the input
    table; --by needs a dataset."""
    from .errors import OptionError
    from .io.coordinates import TABLE_SUFFIXES  # the tables points writes (and reads back), besides a dataset

    out = args.out.rstrip("/\\") if args.out else None
    dataset = bool(out) and out.endswith(".parquet")
    if out and not dataset and not os.path.isdir(out) and not out.lower().endswith(TABLE_SUFFIXES):  # a folder: below
        raise OptionError(f"--out {args.out}: points writes a table ({', '.join(TABLE_SUFFIXES)}) or a results "
                          "dataset (a name ending in .parquet), not this kind of file")
    if out and os.path.abspath(out) == os.path.abspath(args.table) or \
            out and os.path.exists(out) and os.path.exists(args.table) and os.path.samefile(out, args.table):
        raise OptionError(f"--out {args.out} is the input table: write the regions to another file")
    if args.by is not None and not dataset:
        raise OptionError(f"--by {args.by} needs a results dataset --out (a name ending in .parquet, e.g. --out "
                          f"points-by-{args.by}.parquet): the summary is written into it")


def _cmd_clusters(args):
    from ._clusters import check_prob_threshold
    from .cluster_tables import check_out, clusters, write_tables

    from .errors import OptionError

    if args.two_sided and args.direction not in (None, "both"):
        raise OptionError(f"--two-sided and --direction {args.direction} contradict each other")
    if args.figures and not args.out:
        raise OptionError("--figures writes its PNG files beside --out: give --out OUT.csv (or OUT.parquet)")
    check_prob_threshold(args.prob_threshold, "--prob-threshold")
    if args.out:
        check_out(args.out)  # before the work
    tables = clusters(args.inputs, atlas=args.atlas, threshold=args.threshold, min_size=args.min_size,
                      direction=args.direction, two_sided=args.two_sided, prob_threshold=args.prob_threshold,
                      min_distance=args.min_distance, siibra=args.siibra, progress=not args.quiet)
    for path, why in tables.failures:
        print(f"gpusiibra: error: {path}: {why}" if not why.startswith(path) else f"gpusiibra: error: {why}",
              file=sys.stderr)
    if args.out and not tables.maps_read:  # an earlier result is kept, not replaced by empty tables
        print(f"nothing written to {args.out}: no map was read", file=sys.stderr)
    elif args.out:
        for path in write_tables(tables, args.out):
            print("written", path)
        if args.figures:
            from .cluster_tables import write_figures

            direction = args.direction or ("both" if args.two_sided else "pos")
            paths = write_figures(tables, args.out, args.threshold, direction, progress=not args.quiet)
            print(f"written {len(paths)} figure{'s' if len(paths) != 1 else ''}: "
                  + (", ".join(paths[:3]) + (f" and {len(paths) - 3} more" if len(paths) > 3 else "")))
    else:
        import pandas as pd

        with pd.option_context("display.max_colwidth", 60, "display.width", 200):
            print("peaks:")
            print(tables.peaks.to_string(index=False))
            print("\nclusters:")
            print(tables.clusters.to_string(index=False))
            if tables.siibra is not None:
                print("\nsiibra's statistics:")
                print(tables.siibra.to_string(index=False))
    print(tables.summary(), file=sys.stderr)
    return 1 if tables.failures else 0


def _cmd_warp(args):
    from . import backend
    from .spaces import warp_file

    if args.backend:
        backend.set_backend(args.backend)
    from .spaces import _check_warp

    like = args.like
    _check_warp(args.input, args.source, args.target, args.out, like)  # before the work (an atlas's grid loaded)
    if like is not None and not like.lower().endswith((".nii", ".nii.gz")):
        from .maps import get_map

        like = get_map(like)  # an atlas name or file: its grid
    print(warp_file(args.input, args.source, args.target, args.out, like=like))
    return 0


def _cmd_demo(args):

    import pandas as pd

    from . import backend
    from .demo import run_demo
    from .errors import OptionError

    if args.out and os.path.exists(args.out) and not os.path.isdir(args.out):
        raise OptionError(f"--out {args.out} is a file: the demo writes a folder (its report, figures and table)")

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
    if args.space is not None:
        from .spaces import describe_warps

        print(describe_warps(args.space, smaps))
    print(summary)
    if summary.rows:
        top = _top_correlations(args.out)
        if top:
            print("\nhighest correlations (component voxels: its size on the atlas grid):")
            print(top)
    return 1 if summary.failures else 0


def _top_correlations(out, n=10):
    """The ``n`` component rows of a batch dataset with the highest correlations, as a text table (as pandas'
    ``to_string(index=False)`` prints it): read with pyarrow alone, so that a command
    that assigns one map does not import pandas (0.3 s) to print ten rows. Empty without component rows."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    # the part files one by one, as pyarrow's dataset discovery finds them (pq.read_table of a folder imports
    # pyarrow.dataset, which imports pandas)
    parts = sorted(f for f in os.listdir(out) if f.endswith(".parquet") and not f.startswith(("_", ".")))
    names = ["input", "atlas", "frame", "sign", "kind", "voxels", "input structure", "region", "correlation",
             "map value"]
    if not parts:
        return ""
    t = pa.concat_tables([pq.ParquetFile(os.path.join(out, f)).read(columns=names) for f in parts])
    from .batch import _arrow_strings

    # pyarrow's compute, with a scalar from a buffer: to_numpy and Python scalars would import pandas
    t = t.filter(pc.equal(t.column("kind"), _arrow_strings(["component"])[0]))
    if not t.num_rows:
        return ""
    several = pc.count_distinct(t.column("atlas")).as_py() > 1
    order = pc.sort_indices(t, sort_keys=[("correlation", "descending")])  # stable, nulls (NaN) last
    top = t.take(order[:n])
    col = {c: np.array(top.column(c).to_pylist(), dtype=float if c in ("correlation", "map value") else object)
           for c in top.column_names}
    rows = np.arange(top.num_rows)
    names = ["input"] + (["atlas"] if several else [])
    names += ["frame"] if col["frame"][rows].max() != 0 else []
    names += ["sign"] if (col["sign"][rows] != "+").any() else []
    names += ["input structure", "voxels", "region", "correlation", "map value"]
    header = {"input structure": "component", "voxels": "component voxels"}

    def fmt(c):
        v = col[c][rows]
        if c == "input":
            return [os.path.basename(x) for x in v]
        if c in ("correlation", "map value"):
            text = ["NaN" if np.isnan(x) else f"{x:.6f}" for x in v.astype(np.float64)]
            while any(x != "NaN" for x in text) and all(x == "NaN" or (x.endswith("0") and not x.endswith(".0"))
                                                         for x in text):
                text = [x if x == "NaN" else x[:-1] for x in text]  # pandas drops the zeros every value ends in
            return text
        if c == "voxels":
            return ["<NA>" if x is None or (isinstance(x, float) and np.isnan(x)) else str(int(x)) for x in v]
        return [str(x) for x in v]

    # pandas' layout: a numeric column's header and values get a leading space (a sign's place), every column is
    # right-aligned to its widest cell, columns are joined by one space
    lead = {c: " " if c not in ("input", "atlas", "sign", "region") else "" for c in names}
    cells = [[lead[c] + x for x in [header.get(c, c)] + fmt(c)] for c in names]
    widths = [max(len(x) for x in column) for column in cells]
    lines = [" ".join(column[r].rjust(w) for column, w in zip(cells, widths)) for r in range(len(rows) + 1)]
    return "\n".join(lines)


def _cmd_atlas(args):
    from . import atlases
    from .maps import available_maps, get_map, load_map

    action = args.action or "list"
    if action == "list":
        from .spaces import atlas_space

        rows = [(name, smap.maptype, len(smap), getattr(atlas_space(smap), "name", smap.space), "bundled",
                 "CC BY-NC-SA 4.0", smap.name) for name, smap in ((n, get_map(n)) for n in available_maps())]
        rows += [(e.id, e.maptype, e.region_count, e.template or e.space, atlases.cache_state(e), e.licence, e.name)
                 for e in atlases.catalog()]
        spaces = sorted({r[3] for r in rows if r[3]})
        short = {sp: {"MNI152NLin2009cAsym": "2009c", "MNI152NLin6Asym": "FSL"}.get(sp, sp[:16]) for sp in spaces}
        w = max(8, *(len(v) + 1 for v in short.values())) if short else 8
        nw = max(24, *(len(r[0]) + 1 for r in rows))
        print(f"{'name':<{nw}}{'kind':<10}{'regions':>7}  {'space':<{w}}{'cached':<9}{'licence':<22}atlas")
        for name, kind, n, space, cached, licence, title in rows:
            lic = licence.split(":")[0].split(" (")[0]
            lic = lic if len(lic) <= 20 else lic[:19] + "~"
            print(f"{name:<{nw}}{'labelled' if kind == 'labelled' else 'prob.':<10}{n:>7}  "
                  f"{short.get(space, '-'):<{w}}{cached:<9}{lic:<22}{title}")
        print()
        for abbrev in sorted(set(short.values())):
            named = [sp for sp in spaces if short[sp] == abbrev]
            if named != [abbrev]:
                print(f"space {abbrev}: {' = '.join(named)}")
        print("spaces by TemplateFlow's names, as each atlas's source states its space (`gpusiibra atlas info NAME` "
              "also says siibra's)")
        print(f"cache: {atlases.cache_dir()}  (`gpusiibra atlas info NAME`: sources, licence and citation in full; "
              "prob. = probability maps, siibra's SparseMap rules; labelled = one label per voxel, siibra's "
              "Map rules)")
        return 0
    if action == "fetch":
        if atlases.find(args.atlas) is None and args.atlas in available_maps():
            print(f"{args.atlas} is embedded in gpusiibra: nothing to fetch (gpusiibra atlas info {args.atlas})")
            return 0
        path = atlases.fetch(args.atlas, args.cache, progress=not args.quiet, from_siibra_cache=args.from_siibra_cache,
                             siibra_cache=args.siibra_cache, sources=args.sources, force=args.force)
        e = atlases.get_entry(args.atlas)
        print(f"{e.id}: {e.region_count} regions, cached at {path}")
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
    if not args.out.lower().endswith((".zip", ".npz")):
        from .errors import OptionError

        raise OptionError(f"{args.out}: atlas save writes siibra's sparse index zip (.zip) or gpusiibra's native "
                          "format (.npz); end the name with one of them")
    from ._outputs import check_folder

    check_folder(args.out, option="")  # a positional argument: no "--out"
    if os.path.isdir(args.out):
        from .errors import OptionError

        raise OptionError(f"{args.out} is a folder: give the file to write (NAME.npz or NAME.zip)")
    existed = os.path.exists(args.out)
    smap = load_map(args.atlas, labels=args.labels) if args.labels else get_map(args.atlas)
    if args.out.lower().endswith(".zip"):
        path = smap.save_sparseindex(os.path.dirname(args.out) or ".", os.path.basename(args.out)[:-4],
                                     progress=not args.quiet)
    else:
        path = smap.save(args.out)
    print(f"written {path}" + (" (it replaces the file that was there)" if existed else ""))
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


class _Stopped(KeyboardInterrupt):
    """SIGTERM or SIGHUP (a job scheduler's time limit, a closed terminal): the run unwinds as after Ctrl-C, so
    that its reader processes end and what it finished is said, instead of a silent death."""

    def __init__(self, signum):
        super().__init__(signum)
        self.signum = signum


def _raise_stopped(signum, frame):
    raise _Stopped(signum)


def _catch_stops():
    """SIGTERM and SIGHUP raise :class:`_Stopped` in the main thread; the former handlers, to put back."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        return {}
    old = {}
    for name in ("SIGTERM", "SIGHUP"):
        sig = getattr(signal, name, None)
        if sig is not None and signal.getsignal(sig) in (signal.SIG_DFL, None):
            old[sig] = signal.signal(sig, _raise_stopped)
    return old


def _interrupted(args, stop=None) -> int:
    import signal

    signum = getattr(stop, "signum", None)
    msg = f"gpusiibra: stopped by {signal.Signals(signum).name}" if signum else "gpusiibra: interrupted"
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
    elif args.command == "points" and out and os.path.isdir(out):
        msg += (f"; the points labelled so far are kept in {out}: run the same command with --resume to label the "
                "rest")
    print(msg, file=sys.stderr)
    return 128 + signum if signum else 130


def main(argv=None) -> int:
    _one_line_warnings()  # before the arguments: a former option's name warns as it is parsed
    args = _parser().parse_args(argv)
    from .errors import GpusiibraError

    commands = {"assign": _cmd_assign, "atlas": _cmd_atlas, "points": _cmd_points, "demo": _cmd_demo,
                "example": _cmd_example, "report": _cmd_report, "compare": _cmd_compare,
                "features": _cmd_features, "clusters": _cmd_clusters, "warp": _cmd_warp}
    handlers = _catch_stops()
    try:
        return commands[args.command](args)
    except KeyboardInterrupt as e:
        return _interrupted(args, e)
    except BrokenPipeError:
        # the reader of our output went away (`gpusiibra atlas --regions | head`): stop quietly
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except (GpusiibraError, OSError) as e:
        from .errors import command_line_message

        if isinstance(e, GpusiibraError):
            said = str(e)
        else:  # the file named where the system names it, without Python's "[Errno N]"
            said = (f"{e.filename}: " if e.filename else "") + (e.strerror or str(e)) + \
                ("" if e.filename else f" (in the {args.command} command)")
        print(f"gpusiibra: error: {command_line_message(said)}", file=sys.stderr)
        return 2
    finally:
        import signal

        for sig, handler in handlers.items():
            signal.signal(sig, handler)


def run():
    """The ``gpusiibra`` command (and ``python -m gpusiibra.cli``): :func:`main`, then a quick exit once the output
    is flushed. Everything a command writes is closed by then; the interpreter's teardown (freeing the atlas's
    arrays, the modules) would add 0.15 s of CPU to a one-map command's 0.8 s. An error that escapes
    :func:`main` (a bug's traceback) and ``--help`` exit as usual."""
    code = main()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (BrokenPipeError, OSError, ValueError):  # the reader went away: nothing more to say
            pass
    os._exit(int(code or 0))


if __name__ == "__main__":
    run()
