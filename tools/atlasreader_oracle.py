"""The oracle of ``gpusiibra clusters``: atlasreader 0.3.2's own tables, run in an environment pinned to the versions it
imports with (atlasreader does not import with nilearn >= 0.11)::

    python3 -m venv /work/venv-atlasreader
    /work/venv-atlasreader/bin/pip install atlasreader==0.3.2 "nilearn<0.11" "pandas<2.2" "numpy<2"
    /work/venv-atlasreader/bin/python tools/atlasreader_oracle.py [--out tests/golden/atlasreader] [MAP ...]

Without maps it writes the tables of the cases of tests/atlasreader_maps.py and of the bundled motor map
(``gpusiibra/data/spmMotor.nii.gz``); each case gets ``<case>_peaks.csv``, ``<case>_clusters.csv`` (every float in
full precision) and the options in ``cases.json``, against all ten of atlasreader's atlases."""
import argparse
import json
import os
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ATLASES = ["aal", "aicha", "desikan_killiany", "destrieux", "harvard_oxford", "juelich", "marsatlas",
           "neuromorphometrics", "talairach_ba", "talairach_gyrus"]


def main(argv=None):
    import warnings

    warnings.filterwarnings("ignore")
    import atlasreader
    import nibabel as nib

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("maps", nargs="*")
    p.add_argument("--out", default=os.path.join(ROOT, "tests", "golden", "atlasreader"))
    p.add_argument("--threshold", type=float, default=3.0)
    p.add_argument("--min-size", type=int, default=10)
    p.add_argument("--direction", default="both")
    args = p.parse_args(argv)
    if args.maps:
        cases = [(os.path.basename(m).split(".")[0], nib.load(m), {
            "cluster_extent": args.min_size, "voxel_thresh": args.threshold, "direction": args.direction,
            "min_distance": None}) for m in args.maps]
    else:
        sys.path.insert(0, os.path.join(ROOT, "tests"))
        from atlasreader_maps import cases as made

        motor = nib.load(os.path.join(ROOT, "gpusiibra", "data", "spmMotor.nii.gz"))
        cases = made() + [("motor", motor, {"cluster_extent": 20, "voxel_thresh": 3.0, "direction": "both",
                                             "min_distance": None})]
    os.makedirs(args.out, exist_ok=True)
    record = {"atlasreader": atlasreader.__version__, "atlases": ATLASES, "cases": {}}
    for name, img, opts in cases:
        t0 = time.perf_counter()
        # the atlases by name: loaded afresh for each map, as atlasreader's create_output does (its peak lookup
        # writes into the loaded probabilistic atlas, so atlases shared between maps would carry one map's peaks
        # into the next map's tables)
        clusters, peaks = atlasreader.atlasreader.get_statmap_info(img, atlas=ATLASES, prob_thresh=5, **opts)
        peaks.to_csv(os.path.join(args.out, f"{name}_peaks.csv"), index=False)
        clusters.to_csv(os.path.join(args.out, f"{name}_clusters.csv"), index=False)
        record["cases"][name] = dict(opts, prob_thresh=5)
        print(f"{name}: {len(clusters)} clusters, {len(peaks)} peaks ({time.perf_counter() - t0:.1f} s)", flush=True)
    with open(os.path.join(args.out, "cases.json"), "w") as f:
        json.dump(record, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
