"""Command line: ``gpusiibra assign | points | atlas | demo``. Argument parsing only; the work is the Python API's."""
from __future__ import annotations

import argparse
import importlib.util
import sys

__all__ = ["main"]


def _parser():
    p = argparse.ArgumentParser(prog="gpusiibra", description="Assign brain maps to probabilistic atlas regions "
                                "with siibra's statistics, on the CPU or the GPU.")
    sub = p.add_subparsers(dest="command", required=True)

    a = sub.add_parser("assign", help="assign NIfTI maps (files, folders, globs) to every atlas region",
                       description="Assign every map of the inputs to every region; write a Parquet dataset. "
                                   "'example:motor' names the bundled SPM motor t-map.")
    a.add_argument("inputs", nargs="+", help="NIfTI files, folders or globs; each volume of a 4D file is one map")
    a.add_argument("--out", required=True, help="output Parquet dataset (a folder)")
    a.add_argument("--atlas", default="julich 3.1", help="embedded atlas name or atlas path (default: julich 3.1)")
    a.add_argument("--threshold", type=float, help="set values below T to 0 first")
    a.add_argument("--two-sided", action="store_true", help="also assign the negated map")
    a.add_argument("--lower-threshold", type=float, default=0.0, help="atlas values below L count as 0 (siibra's)")
    a.add_argument("--minsize", type=int, default=1, help="skip components of at most N voxels (siibra's minsize_voxel)")
    a.add_argument("--peaks", action="store_true", help="also assign each map's local maxima as points")
    a.add_argument("--mindist", type=int, default=5, help="minimal distance between peaks, voxels")
    a.add_argument("--backend", default=None, choices=["auto", "cpu", "gpu"])
    g = a.add_mutually_exclusive_group()
    g.add_argument("--workers", type=int, help="spread the maps over N local dask worker processes")
    g.add_argument("--scheduler", help="spread the maps over the dask.distributed scheduler at ADDRESS")
    a.add_argument("--resume", action="store_true", help="continue an existing --out, skipping finished maps")
    a.add_argument("--chunk-size", type=int, default=32, help="files per chunk")
    a.add_argument("--quiet", action="store_true", help="no progress bar")

    t = sub.add_parser("atlas", help="describe an atlas, or convert it to another format")
    t.add_argument("atlas", nargs="?", default="julich 3.1", help="embedded atlas name or path")
    t.add_argument("--labels", help="region names for formats without them")
    t.add_argument("--regions", action="store_true", help="list the regions")
    t.add_argument("--save", help="write the atlas in the native format (.npz) or siibra's zip (.zip)")
    q = sub.add_parser("points", help="assign coordinates (a CSV/TSV of x, y, z in mm) to every atlas region",
                       description="Assign the points of a coordinate table (columns x, y, z in mm, optional "
                                   "sigma_mm) to every region, exactly or with siibra's Gaussian kernel.")
    q.add_argument("table", help="CSV/TSV file with columns x, y, z (mm) and optionally sigma_mm")
    q.add_argument("--sigma", type=float, help="uncertainty of every point in mm (overrides a sigma_mm column)")
    q.add_argument("--atlas", default="julich 3.1", help="embedded atlas name or atlas path (default: julich 3.1)")
    q.add_argument("--lower-threshold", type=float, default=0.0, help="report only map values above L")
    q.add_argument("--out", help="write the table to OUT (.parquet, else CSV)")
    q.add_argument("--backend", default=None, choices=["auto", "cpu", "gpu"])

    d = sub.add_parser("demo", help="the seed workflow on the bundled motor map: samples, clusters, peaks, "
                       "assignments, figures and an HTML report",
                       description="Draw samples from the bundled SPM motor t-map, cluster them, find its peaks, "
                                   "assign clusters and peaks to the atlas, print the table and write figures "
                                   "and report.html into --out.")
    d.add_argument("--out", default="gpusiibra-demo", help="folder for figures and report (default: gpusiibra-demo)")
    d.add_argument("--seed", type=int, default=25, help="seed of the sampler (default: 25, as the seed notebook)")
    d.add_argument("--threshold", type=float, default=3.0, help="t values below T are set to 0 (default: 3)")
    d.add_argument("--samples", type=int, default=10000, help="points drawn from the map (default: 10000)")
    d.add_argument("--atlas", default="julich 3.1", help="embedded atlas name or atlas path (default: julich 3.1)")
    d.add_argument("--backend", default=None, choices=["auto", "cpu", "gpu"])
    d.add_argument("--no-figures", action="store_true", help="only compute and print the table")
    d.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def _cmd_points(args):
    import pandas as pd

    from . import backend
    from .io.coordinates import read_points
    from .maps import get_map

    if args.backend:
        backend.set_backend(args.backend)
    points = read_points(args.table, sigma_mm=args.sigma)
    df = get_map(args.atlas).assign(points, lower_threshold=args.lower_threshold)
    if args.out and args.out.endswith(".parquet"):
        df.to_parquet(args.out, index=False)
    elif args.out:
        df.to_csv(args.out, index=False)
    with pd.option_context("display.max_rows", 500, "display.width", 160):
        print(df.to_string(index=False) if len(df) else "no region at these points")
    return 0


def _cmd_demo(args):
    import os

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
    from .maps import get_map

    if args.backend:
        backend.set_backend(args.backend)
    smap = get_map(args.atlas)
    _, summary = assign_batch(
        smap, args.inputs, args.out, threshold=args.threshold, two_sided=args.two_sided,
        lower_threshold=args.lower_threshold, minsize=args.minsize, peaks=args.peaks, mindist=args.mindist,
        resume=args.resume, chunk_size=args.chunk_size, workers=args.workers, scheduler=args.scheduler,
        progress=not args.quiet, atlas_name=args.atlas)
    print(f"atlas: {smap.name} ({len(smap)} regions), backend: {backend.get_backend()}")
    print(summary)
    if summary.rows:
        import pandas as pd

        df = pd.read_parquet(args.out)
        cols = [c for c in ("input", "input structure", "region", "correlation", "map value") if c in df]
        top = df.sort_values("correlation", ascending=False, na_position="last").head(10)[cols]
        top = top.assign(input=top["input"].map(lambda s: s.rsplit("/", 1)[-1]))
        print("\nhighest correlations:")
        print(top.to_string(index=False))
    return 1 if summary.failures else 0


def _cmd_atlas(args):
    import os

    from .maps import get_map, load_map

    smap = load_map(args.atlas, labels=args.labels) if args.labels else get_map(args.atlas)
    print(smap.summary())
    if args.regions:
        for i, r in enumerate(smap.regions):
            print(f"{i:5d}  {r}")
    if args.save:
        if args.save.endswith(".zip"):
            path = smap.save_sparseindex(os.path.dirname(args.save) or ".", os.path.basename(args.save)[:-4])
        else:
            path = smap.save(args.save)
        print("written", path)
    return 0


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    from .io.errors import AtlasFileError, ImageFileError, PointsFileError
    from .backend import BackendError

    try:
        return {"assign": _cmd_assign, "atlas": _cmd_atlas, "points": _cmd_points, "demo": _cmd_demo}[args.command](args)
    except (AtlasFileError, ImageFileError, PointsFileError, BackendError, FileExistsError, LookupError, RuntimeError, ValueError) as e:
        print(f"gpusiibra: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
