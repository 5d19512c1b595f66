"""Realistic activation maps: variants of the bundled SPM motor t-map, as real studies hand them over.

Real t/z-maps are brain-masked, smooth and compressible (3-5x, 0.6-0.8 MB per 2 mm map) and keep
thousands of voxels above 3; bench/synthetic.py's noise maps are none of that. Each map here is the
motor map (SPM's 79 x 95 x 79 grid, 2 mm) moved by a few voxels, scaled, with smooth in-brain noise
added, masked to the map's own brain mask. Of every 20 maps: 14 are float32, 3 int16 with a scale
factor (``scl_slope``, as SPM writes them), 2 on a 3 mm grid and 1 on a 1 mm grid (float32).

Usage: python bench/realistic.py OUTDIR N   (writes N .nii.gz files)
"""
import argparse
import os

import numpy as np

KINDS = ["float32"] * 14 + ["int16 scl_slope"] * 3 + ["float32 3 mm"] * 2 + ["float32 1 mm"]


def _motor():
    import nibabel as nib

    from gpusiibra.data import EXAMPLES

    img = nib.load(EXAMPLES["example:motor"])
    return np.asarray(img.get_fdata(), np.float64), img.affine


def realistic_map(seed):
    """(data, affine, kind) of map ``seed``."""
    import scipy.ndimage as ndi

    rng = np.random.default_rng(seed)
    d, affine = _motor()
    mask = d != 0
    x = np.roll(d, tuple(rng.integers(-3, 4, 3)), axis=(0, 1, 2)) * rng.uniform(0.65, 1.25)
    noise = ndi.gaussian_filter(rng.normal(size=d.shape), 1.5)
    x = (x + noise * (0.8 / noise.std())) * mask
    kind = KINDS[seed % len(KINDS)]
    if kind.endswith("mm"):
        mm = float(kind.split()[1])
        f = 2.0 / mm  # zoom factor of the grid
        x = ndi.zoom(x, f, order=1)
        scale = np.diag([1 / f, 1 / f, 1 / f, 1.0])
        affine = affine @ scale
    return x, affine, kind


def write_realistic(args):
    """Write map ``seed`` to ``path`` (for process pools); returns the path."""
    import nibabel as nib

    seed, path = args
    x, affine, kind = realistic_map(seed)
    if kind == "int16 scl_slope":
        slope = float(np.abs(x).max()) / 32000 or 1.0
        img = nib.Nifti1Image(np.round(x / slope).astype(np.int16), affine)
        img.header.set_slope_inter(slope, 0.0)
    else:
        img = nib.Nifti1Image(x.astype(np.float32), affine)
    img.header.set_qform(affine, 1)
    img.header.set_sform(affine, 4)  # MNI152
    img.to_filename(path)
    return path


def write_realistic_maps(folder, n, workers=None):
    """N realistic maps in ``folder`` (made in parallel); returns their paths, sorted."""
    from concurrent.futures import ProcessPoolExecutor

    os.makedirs(folder, exist_ok=True)
    jobs = [(i, os.path.join(folder, f"real{i:05d}.nii.gz")) for i in range(n)]
    with ProcessPoolExecutor(workers or os.cpu_count()) as pool:
        return sorted(pool.map(write_realistic, jobs, chunksize=4))


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out")
    ap.add_argument("n", type=int)
    a = ap.parse_args()
    files = write_realistic_maps(a.out, a.n)
    print(f"{len(files)} maps in {a.out}")
