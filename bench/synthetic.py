"""Realistic synthetic activation maps: 2 mm MNI grid, blobs inside the brain, t-like values.

Usage: python bench/synthetic.py OUTDIR N [--seed S]   (writes N .nii.gz files)
"""
import argparse
import os

import numpy as np

SHAPE = (91, 109, 91)
AFFINE = np.array([[-2.0, 0, 0, 90], [0, 2, 0, -126], [0, 0, 2, -72], [0, 0, 0, 1]])


def brain_centres(rng, n):
    """Points inside an ellipsoid that approximates the MNI brain (mm)."""
    out = []
    while len(out) < n:
        p = rng.uniform(-1, 1, 3)
        if (p ** 2).sum() <= 1:
            out.append(p * np.array([62, 90, 58]) + np.array([0, -18, 12]))
    return np.array(out)


def synthetic_map(rng):
    """One t-like map: 3-8 Gaussian blobs (positive and negative), plus smooth noise."""
    import scipy.ndimage as ndi

    ijk = np.indices(SHAPE).reshape(3, -1).T
    xyz = ijk @ AFFINE[:3, :3].T + AFFINE[:3, 3]
    t = np.zeros(len(xyz))
    k = rng.integers(3, 9)
    for c, s, amp in zip(brain_centres(rng, k), rng.uniform(4, 9, k), rng.uniform(3.5, 9, k) * rng.choice([1, 1, 1, -1], k)):
        t += amp * np.exp(-((xyz - c) ** 2).sum(1) / (2 * s * s))
    t = t.reshape(SHAPE) + ndi.gaussian_filter(rng.normal(size=SHAPE), 2) * 3.0
    return t.astype(np.float32)


def thresholded_map(seed, threshold=3.0):
    """The map of one seed with values below ``threshold`` set to 0 (for process pools)."""
    m = synthetic_map(np.random.default_rng(seed))
    m[m < threshold] = 0
    return m


def many_maps(n, threshold=3.0, workers=None):
    """n thresholded maps (seeds 0..n-1), made in parallel."""
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(workers or os.cpu_count()) as pool:
        return list(pool.map(thresholded_map, range(n), [threshold] * n, chunksize=8))


def write_map(seed_and_path):
    """Write the unthresholded map of a seed to a .nii.gz path (for process pools)."""
    import nibabel as nib

    seed, path = seed_and_path
    nib.Nifti1Image(synthetic_map(np.random.default_rng(seed)), AFFINE).to_filename(path)
    return path


def main():
    import nibabel as nib

    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("outdir")
    ap.add_argument("n", type=int)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    os.makedirs(a.outdir, exist_ok=True)
    rng = np.random.default_rng(a.seed)
    for i in range(a.n):
        nib.Nifti1Image(synthetic_map(rng), AFFINE).to_filename(os.path.join(a.outdir, f"map{i:05d}.nii.gz"))


if __name__ == "__main__":
    main()
