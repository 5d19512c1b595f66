"""The inputs of ../shared/golden (copied to tests/golden), rebuilt exactly as its README defines them, and one case
of our own computed by siibra 1.0.1a25 itself the same way (points_sigma_varied: a sigma per point)."""
import ast
import os

import nibabel as nib
import numpy as np
import pandas as pd

import gpusiibra

GOLDEN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "golden")
MOTOR = os.path.join(os.path.dirname(gpusiibra.__file__), "data", "spmMotor.nii.gz")
POINTS = [(-40, -20, 55), (38, -22, 58), (-10, -90, 0), (5.5, -80.2, 3.3), (0, 0, 0), (-48, 12, 20),
          (30, -60, 50), (-25, -5, -20), (60, -30, 10), (-6, 50, -10)]


def motor_t4():
    img = nib.load(MOTOR)
    d = np.asarray(img.get_fdata(), dtype=np.float32)
    d[d < 4] = 0
    return nib.Nifti1Image(d, img.affine)


def blobs():
    A = np.array([[-2, 0, 0, 90], [0, 2, 0, -126], [0, 0, 2, -72], [0, 0, 0, 1.0]])
    ijk = np.stack(np.meshgrid(*[np.arange(s) for s in (91, 109, 91)], indexing="ij"), -1).reshape(-1, 3)
    xyz = ijk @ A[:3, :3].T + A[:3, 3]
    val = np.zeros(len(xyz))
    for c, s, amp in (((-12, -88, 2), 6, 1.0), ((44, -20, 52), 8, 0.8), ((-4, 40, 4), 5, 0.6)):
        val += amp * np.exp(-((xyz - np.array(c)) ** 2).sum(1) / (2 * s * s))
    val[val < 0.05] = 0
    return nib.Nifti1Image(val.reshape(91, 109, 91).astype(np.float32), A)


CASES = {
    "motor_t4": lambda m: m.assign(motor_t4()),
    "blobs_lt02": lambda m: m.assign(blobs(), lower_threshold=0.2),
    "points_exact": lambda m: m.assign(gpusiibra.PointCloud(POINTS, sigma_mm=0)),
    "points_sigma5": lambda m: m.assign(gpusiibra.PointCloud(POINTS[:4], sigma_mm=5)),
    # made in session 7 by siibra 1.0.1a25 itself (tests/oracle.py's OracleMap over the embedded atlas), as the
    # other cases: a sigma per point, every one at or above siibra's 3 voxels
    "points_sigma_varied": lambda m: m.assign(gpusiibra.PointCloud(POINTS[:4], sigma_mm=[4.0, 6.0, 8.0, 10.0])),
}


def compare_with_golden(df, case, tol=1e-5):
    """Identical (input structure, volume) pairs, equal regions, every number within tol."""
    gold = pd.read_csv(os.path.join(GOLDEN, case + ".csv"))
    key = ["input structure", "volume"]
    assert not df.duplicated(key).any()
    a = df.set_index(key).sort_index()
    b = gold.set_index(key).sort_index()
    assert list(a.index) == list(b.index), f"{case}: the set of pairs differs"
    assert list(a["region"]) == list(b["region"])
    assert set(b.columns) == set(a.columns), f"{case}: columns {sorted(a.columns)} vs {sorted(b.columns)}"
    ca = np.array([list(t) for t in a["centroid"]])
    cb = np.array([ast.literal_eval(t) for t in b["centroid"]])
    np.testing.assert_allclose(ca, cb, rtol=0, atol=tol)
    for c in b.columns:
        if c in ("region", "centroid"):
            continue
        np.testing.assert_allclose(a[c].to_numpy(float), b[c].to_numpy(float), rtol=0, atol=tol, err_msg=f"{case}: {c}")
