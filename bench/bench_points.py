"""Coordinate databases: random in-brain points assigned end to end (table read, assigned, Parquet dataset).

Rows: N points with sigma 5 mm; N exact points; N/5 points with a mix of sigma 0, 5 and 10 mm; each through
``label_points_batch`` (what ``gpusiibra points TABLE --out X.parquet`` runs) on each available backend, as
points/s end to end. With ``--siibra N``: siibra's own ``_assign_points`` (1.0.1a25, offline, as the tests' oracle
runs it, on the same atlas built with siibra's ``add_img``) on the first N of the sigma-5 mm points, side by side.
Usage: python bench/bench_points.py [--n 500000] [--dir DIR] [--siibra 200]
"""
import argparse
import os
import shutil
import tempfile
import time

import numpy as np
import pandas as pd
from nibabel.affines import apply_affine

import gpusiibra
from gpusiibra.tables import label_points_batch


def write_table(path, smap, n, sigma, seed=0):
    ix = smap.sparse_index
    rng = np.random.default_rng(seed)
    mapped = np.argwhere(ix.voxels >= 0)
    vox = mapped[rng.integers(0, len(mapped), n)] + rng.uniform(-0.5, 0.5, (n, 3))
    xyz = np.round(apply_affine(ix.affine, vox), 2)
    df = pd.DataFrame({"id": np.arange(n), "study_id": rng.integers(0, n // 35 + 1, n),
                       "x": xyz[:, 0], "y": xyz[:, 1], "z": xyz[:, 2]})
    if sigma is not None:
        df["sigma_mm"] = sigma if np.ndim(sigma) == 0 else rng.choice(sigma, n)
    df.to_csv(path, sep="\t", index=False)
    return path


def main():
    import warnings

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=500_000)
    ap.add_argument("--dir")
    ap.add_argument("--siibra", type=int, default=0, help="also time siibra itself on this many sigma-5 mm points")
    a = ap.parse_args()
    warnings.simplefilter("ignore", RuntimeWarning)
    folder = a.dir or tempfile.mkdtemp(prefix="gpusiibra-points-")
    smap = gpusiibra.get_map()
    cases = [("sigma 5 mm", a.n, 5.0), ("exact (sigma 0)", a.n, 0.0), ("mix of 0, 5, 10 mm", a.n // 5, [0.0, 5.0, 10.0])]
    print(f"{'embedded atlas, ' + str(os.cpu_count()) + ' cores':<44}{'backend':>8}{'points':>9}{'seconds':>9}"
          f"{'points/s':>10}{'rows':>11}")
    for b in ["cpu"] + (["gpu"] if gpusiibra.gpu_available() else []):
        gpusiibra.set_backend(b)
        for name, n, sigma in cases:
            table = write_table(os.path.join(folder, f"t-{n}.tsv"), smap, n, sigma)
            out = os.path.join(folder, "out.parquet")
            shutil.rmtree(out, ignore_errors=True)
            t = time.perf_counter()
            s = label_points_batch(table, out, smap, progress=False)
            dt = time.perf_counter() - t
            print(f"{name:<44}{b:>8}{n:>9}{dt:>9.1f}{n / dt:>10.0f}{s.rows:>11}")
    if a.siibra:
        siibra_row(smap, os.path.join(folder, f"t-{a.n}.tsv"), a.siibra)
    if not a.dir:
        shutil.rmtree(folder, ignore_errors=True)


def siibra_row(smap, table, n):
    """siibra's own point assignment on the first ``n`` points of ``table`` (sigma 5 mm), and gpusiibra's API on the
    same points, one after the other."""
    import sys

    sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests"))
    from oracle import OracleMap

    df = pd.read_csv(table, sep="\t").head(n)
    xyz = df[["x", "y", "z"]].to_numpy(float)
    t = time.perf_counter()
    om = OracleMap.from_sparsemap(smap)
    built = time.perf_counter() - t
    t = time.perf_counter()
    rows = om.assign_points(xyz, sigma_mm=5.0)
    dt = time.perf_counter() - t
    print(f"{'sigma 5 mm: siibra 1.0.1a25 (index built ' + format(built, '.0f') + ' s)':<44}{'cpu':>8}{n:>9}"
          f"{dt:>9.1f}{n / dt:>10.1f}{len(rows):>11}")
    gpusiibra.set_backend("cpu")
    t = time.perf_counter()
    ours = smap.assign(gpusiibra.PointCloud(xyz, sigma_mm=5.0))
    dt = time.perf_counter() - t
    print(f"{'sigma 5 mm: gpusiibra API, same points':<44}{'cpu':>8}{n:>9}{dt:>9.2f}{n / dt:>10.0f}{len(ours):>11}")


if __name__ == "__main__":
    main()
