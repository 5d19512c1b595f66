"""A synthetic file of DiFuMo 1024's size, laid out as nilearn's DiFuMo download (the real one could not be
downloaded here): 1024 smooth, non-negative, sparse-ish modes on DiFuMo's 2 mm grid (104 x 123 x 104, float32:
5.4 GB dense), written as one gzip stream a volume at a time (never the 4D array in memory).

Each mode: a Gaussian blob (sigma 5-10 mm, weight 0.5-3 at its peak, cut below 1% of it: reaching 15-30 mm from its centre),
centred at a random point of a brain-sized ellipsoid, and, for half of the modes, its mirror image across the
midline (DiFuMo's bilateral modes); only the voxels inside the ellipsoid are kept. About 1 % of the grid's voxels
(some 12,000) per mode on average: each brain voxel lies in some 50 modes (DiFuMo's modes overlap, likely less).

Writes ``OUT/1024/2mm/maps.nii.gz`` and ``OUT/1024/labels_1024_dictionary.csv`` (and, with ``--zip``, the zip
nilearn's fetcher downloads, stored uncompressed: the NIfTI is gzip already).

Usage: python bench/make_difumo_like.py OUT [--modes 1024] [--seed 0] [--zip]
"""
import argparse
import os
import time
import zipfile

import numpy as np

SHAPE = (104, 123, 104)
AFFINE = np.array([[2.0, 0, 0, -104.0], [0, 2.0, 0, -140.0], [0, 0, 2.0, -86.0], [0, 0, 0, 1]])  # MNI mm
BRAIN = (np.array([0.0, -18.0, 10.0]), np.array([70.0, 95.0, 75.0]))  # centre and semi-axes (mm)


def _header(n):
    import nibabel as nib

    hdr = nib.Nifti1Header()
    hdr.set_data_shape(SHAPE + (n,))
    hdr.set_data_dtype(np.float32)
    hdr.set_sform(AFFINE, code=4)
    hdr.set_qform(AFFINE, code=4)
    hdr["vox_offset"] = 352
    hdr.set_slope_inter(1.0, 0.0)
    return hdr.binaryblock + b"\0" * 4  # no extensions


def _mm():
    ijk = np.indices(SHAPE, dtype=np.float32).reshape(3, -1)
    return (AFFINE[:3, :3] @ ijk + AFFINE[:3, 3:]).reshape((3,) + SHAPE).astype(np.float32)


def modes(n, seed):
    """Volume after volume (float32, C order arrays of SHAPE)."""
    rng = np.random.default_rng(seed)
    xyz = _mm()
    centre, axes = BRAIN
    inside = (((xyz - centre[:, None, None, None]) / axes[:, None, None, None]) ** 2).sum(0) <= 1
    for _ in range(n):
        while True:  # a centre inside the ellipsoid
            c = centre + axes * rng.uniform(-1, 1, 3)
            if (((c - centre) / axes) ** 2).sum() <= 0.8:
                break
        sigma, peak = rng.uniform(5, 10), rng.uniform(0.5, 3.0)
        centres = [c] + ([c * np.array([-1, 1, 1])] if rng.random() < 0.5 else [])
        vol = np.zeros(SHAPE, np.float32)
        reach = 3.04 * sigma  # exp(-r^2 / 2 s^2) = 0.01
        for cc in centres:
            lo = np.floor(np.linalg.solve(AFFINE[:3, :3], cc - reach - AFFINE[:3, 3])).astype(int)
            hi = np.ceil(np.linalg.solve(AFFINE[:3, :3], cc + reach - AFFINE[:3, 3])).astype(int) + 1
            lo, hi = np.maximum(lo, 0), np.minimum(hi, SHAPE)
            box = tuple(slice(a, b) for a, b in zip(lo, hi))
            d2 = sum((xyz[k][box] - cc[k]) ** 2 for k in range(3))
            g = peak * np.exp(-d2 / (2 * sigma ** 2))
            g[g < 0.01 * peak] = 0
            vol[box] = np.maximum(vol[box], g.astype(np.float32))
        vol[~inside] = 0
        yield vol


def write(out, n=1024, seed=0, level=1):
    """The 4D NIfTI (one gzip stream, written a volume at a time) and the labels CSV; returns the nonzero count."""
    try:
        from isal import igzip as gz
    except ImportError:
        import gzip as gz
    folder = os.path.join(out, str(n), "2mm")
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, "maps.nii.gz")
    nnz = 0
    with gz.open(path + ".tmp", "wb", compresslevel=level) as f:
        f.write(_header(n))
        for vol in modes(n, seed):
            nnz += int(np.count_nonzero(vol))
            f.write(np.asfortranarray(vol).tobytes(order="F"))  # NIfTI's order: x fastest
    os.replace(path + ".tmp", path)
    with open(os.path.join(out, str(n), f"labels_{n}_dictionary.csv"), "w") as f:
        f.write("Component,Difumo_names,Yeo_networks7,Yeo_networks17,GM,WM,CSF\n")
        for k in range(n):
            f.write(f"{k + 1},Synthetic mode {k + 1},No network found,No network found,0.5,0.3,0.2\n")
    return path, nnz


def zip_it(out, n=1024):
    """nilearn's download: the folder ``n/`` as a zip (members stored), next to it as difumo_{n}.zip."""
    path = os.path.join(out, f"difumo_{n}.zip")
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as z:
        for rel in (f"{n}/labels_{n}_dictionary.csv", f"{n}/2mm/maps.nii.gz"):
            z.write(os.path.join(out, rel), rel)
    return path


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out")
    ap.add_argument("--modes", type=int, default=1024)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--zip", action="store_true")
    a = ap.parse_args()
    t0 = time.perf_counter()
    path, nnz = write(a.out, a.modes, a.seed)
    print(f"{path}: {a.modes} modes on {SHAPE}, {nnz:,} nonzero voxels "
          f"({nnz / (a.modes * np.prod(SHAPE)):.1%} of the 4D grid), {os.path.getsize(path) / 1e6:.0f} MB gzip, "
          f"{a.modes * np.prod(SHAPE) * 4 / 1e9:.2f} GB dense, {time.perf_counter() - t0:.0f} s")
    if a.zip:
        print(zip_it(a.out, a.modes))


if __name__ == "__main__":
    main()
