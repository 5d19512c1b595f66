"""The cost of a declared space: realistic maps end to end with and without ``--space FSL`` (pulled onto the
embedded ICBM 2009c atlas through a composite transform), a cached transform's load, points warped per second.

The transforms are made here in TemplateFlow's layout (an affine and a smooth displacement field on a grid of
``--field-mm`` over the MNI box; TemplateFlow's own need a download): the work of a pull does not depend on the
field's numbers. Runs alternate (plain, warped) ``--repeat`` times; min / median / max.

Usage: python bench/bench_spaces.py [--n 20] [--repeat 5] [--field-mm 2]
"""
import argparse
import os
import statistics
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def make_home(home, mm):
    from gpusiibra._itk import AffineStep, FieldStep, write_itk_h5

    shape = tuple(int(np.ceil(n / mm)) + 1 for n in (193, 229, 193))
    grid = np.diag([mm, mm, mm, 1.0])
    grid[:3, 3] = [-96, -132, -78]
    i, j, k = np.indices(shape, dtype=float) * mm
    for sign, (tpl, frm) in ((1, ("MNI152NLin6Asym", "MNI152NLin2009cAsym")),
                             (-1, ("MNI152NLin2009cAsym", "MNI152NLin6Asym"))):
        field = sign * np.stack([1.5 * np.sin(i / 10), np.cos(j / 12), 0.8 * np.sin((i + k) / 14)], axis=-1)
        m = np.eye(4)
        m[:3, 3] = [0.7 * sign, -1.2 * sign, 0.4 * sign]
        os.makedirs(os.path.join(home, f"tpl-{tpl}"), exist_ok=True)
        write_itk_h5(os.path.join(home, f"tpl-{tpl}", f"tpl-{tpl}_from-{frm}_mode-image_xfm.h5"),
                     [FieldStep(field, grid), AffineStep(m)])
    return shape


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=20, help="realistic maps (bench/realistic.py)")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--field-mm", type=float, default=2.0, help="the displacement field's voxel size")
    ap.add_argument("--threshold", type=float, default=3.1)
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="bench-spaces-")
    os.environ["TEMPLATEFLOW_HOME"] = os.path.join(work, "tf")
    os.environ["GPUSIIBRA_CACHE"] = os.path.join(work, "cache")
    shape = make_home(os.environ["TEMPLATEFLOW_HOME"], args.field_mm)

    import nibabel as nib

    import gpusiibra
    from gpusiibra import _templateflow, batch, spaces
    from realistic import realistic_map

    files = []
    for s in range(args.n):
        data, affine, _ = realistic_map(s)
        files.append(os.path.join(work, f"map{s:03d}.nii.gz"))
        nib.save(nib.Nifti1Image(data.astype(np.float32), affine), files[-1])
    atlas = gpusiibra.get_map()
    _templateflow.point_transform("MNI152NLin6Asym", "MNI152NLin2009cAsym", progress=False)  # parsed once
    loads = []
    for _ in range(args.repeat):
        t = time.perf_counter()
        _templateflow.image_transform("MNI152NLin6Asym", "MNI152NLin2009cAsym", progress=False)
        loads.append(time.perf_counter() - t)
    batch.assign_batch(atlas, files[:2], threshold=args.threshold, progress=False)  # warm
    times = {"plain": [], "--space FSL": [], "--space FSL, plan kept": []}
    for _ in range(args.repeat):
        for label, space in (("plain", None), ("--space FSL", "FSL"), ("--space FSL, plan kept", "FSL")):
            if label == "--space FSL":  # a new process's run: the transforms and the pull's plan made again
                spaces.transform_chain.cache_clear()
                spaces.pull_transform.cache_clear()
            t = time.perf_counter()
            batch.assign_batch(atlas, files, threshold=args.threshold, progress=False, space=space)
            times[label].append(time.perf_counter() - t)
    pts = np.random.default_rng(0).uniform(-70, 70, (100_000, 3))
    spaces.warp_points(pts[:10], "TAL", "ICBM2009c")
    t = time.perf_counter()
    spaces.warp_points(pts, "TAL", "ICBM2009c")
    pt_rate = len(pts) / (time.perf_counter() - t)
    print(f"{args.n} realistic maps (t > {args.threshold:g}) against the embedded atlas, backend "
          f"{gpusiibra.get_backend()}, field {' x '.join(map(str, shape))} at {args.field_mm:g} mm; "
          f"{args.repeat} runs each")
    print(f"{'run':<24}{'min s':>8}{'median s':>10}{'max s':>8}{'maps/s':>9}")
    for label, ts in times.items():
        print(f"{label:<24}{min(ts):>8.2f}{statistics.median(ts):>10.2f}{max(ts):>8.2f}"
              f"{args.n / statistics.median(ts):>9.1f}")
    for label in ("--space FSL", "--space FSL, plan kept"):
        loss = 1 - statistics.median(times["plain"]) / statistics.median(times[label])
        print(f"rate lost ({label}): {100 * loss:.0f}%")
    print(f"cached transform load: min {min(loads):.3f} s, median {statistics.median(loads):.3f} s")
    print(f"points Talairach -> ICBM 2009c (affine + field): {pt_rate:,.0f} points/s")


if __name__ == "__main__":
    main()
