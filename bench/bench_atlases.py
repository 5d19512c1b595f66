"""Several atlases in one pass vs one atlas: end to end (read, assign, Parquet), realistic maps, side by side.

Three atlases on two grids, all offline: the embedded Julich-Brain 3.1 top-2 (probabilistic, 1 mm), its maximum
probability map (labelled, the same grid: the maps are resampled and labelled once for both), and that labelled
map on a 2 mm grid (another grid: resampled and labelled once more). Each configuration runs the batch
(`gpusiibra assign` in Python) over the same N realistic maps (bench/realistic.py) into a Parquet dataset;
the table gives maps/s and the cost relative to one atlas.

Usage: python bench/bench_atlases.py [--n 200] [--dir DIR]
"""
import argparse
import os
import shutil
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gpusiibra  # noqa: E402
from gpusiibra import backend, batch  # noqa: E402
from gpusiibra.labelled import from_label_image  # noqa: E402
from realistic import write_realistic_maps  # noqa: E402


def mpm_2mm(mpm):
    """The labelled map on a 2 mm grid: the label of every second voxel."""
    import nibabel as nib

    img = mpm.label_image()
    data = np.asanyarray(img.dataobj)[::2, ::2, ::2]
    affine = img.affine @ np.diag([2.0, 2.0, 2.0, 1.0])
    smap = from_label_image(nib.Nifti1Image(data, affine), {r: lab for r, lab in zip(mpm.regions, mpm.labels)},
                            name="Julich-Brain 3.1 top-2 MPM, 2 mm", space=mpm.space)
    smap.meta["source"] = "julich-3.1-top2-mpm-2mm"
    return smap


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--dir", help="where to write the maps (default: a temporary folder)")
    ap.add_argument("--threshold", type=float, default=3.0)
    a = ap.parse_args()
    folder = a.dir or tempfile.mkdtemp(prefix="gpusiibra-atlases-")
    files = write_realistic_maps(os.path.join(folder, "maps"), a.n)
    top2, mpm = gpusiibra.get_map(), gpusiibra.get_map("julich-3.1-top2-mpm")
    mpm2 = mpm_2mm(mpm)
    configs = [("1 atlas: top-2 (prob.)", [top2]),
               ("2 atlases, 1 grid: top-2 + its MPM", [top2, mpm]),
               ("3 atlases, 2 grids: + MPM at 2 mm", [top2, mpm, mpm2])]
    batch.assign_batch(top2, files[:2], progress=False)  # caches and kernels warmed before the clock
    rows = []
    for label, atlases in configs:
        out = os.path.join(folder, "out.parquet")
        shutil.rmtree(out, ignore_errors=True)
        t0 = time.perf_counter()
        _, s = batch.assign_batch(atlases, files, out, threshold=a.threshold, progress=False)
        dt = time.perf_counter() - t0
        rows.append((label, s.maps, s.rows, dt))
    print(f"{a.n} realistic maps (bench/realistic.py), --threshold {a.threshold:g}, backend {backend.get_backend()}, "
          f"{os.cpu_count()} cores")
    print(f"{'configuration':<38}{'maps':>6}{'rows':>9}{'seconds':>9}{'maps/s':>8}{'x one':>7}")
    for label, maps, nrows, dt in rows:
        print(f"{label:<38}{maps:>6}{nrows:>9}{dt:>9.1f}{maps / dt:>8.1f}{dt / rows[0][3]:>7.2f}")
    if not a.dir:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
