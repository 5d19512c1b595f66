"""The inputs of tests/test_warp.py's comparisons with ANTs, rebuilt deterministically, and antspyx's answers for them.

Each case writes its own ITK composite transforms (an affine and a smooth displacement field on a small grid, in
ITK's HDF5 layout, with h5py directly: not through gpusiibra's writer), points and images from a seeded generator.
``tools/antspyx_oracle.py`` (run where antspyx 0.6.3 imports: ``pip install ".[oracle]"`` in its own environment, as
antspyx pins scipy<1.16 and numpy<2.4) records antspyx's points and images for them in ``tests/golden/antspyx/``;
``tests/test_warp.py`` compares gpusiibra with those files everywhere, and with antspyx live where it imports.
Every golden file also holds the inputs it was made from, so the tests check they rebuild the same case.
"""
import hashlib
import os

import h5py
import nibabel as nib
import numpy as np
import pandas as pd

GOLDEN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "golden", "antspyx")
LPS = np.array([-1.0, -1.0, 1.0])


def _group(g, kind, params, fixed, misspelled=False):
    word = "Tranform" if misspelled else "Transform"
    g.create_dataset("TransformType", data=np.array([kind.encode()], dtype=h5py.string_dtype("ascii")))
    g.create_dataset(f"{word}FixedParameters", data=np.asarray(fixed, np.float64))
    params = np.asarray(params)
    g.create_dataset(f"{word}Parameters", data=params if params.dtype == np.float32 else params.astype(np.float64))


def write_composite(path, affine_lps, center, field_lps, origin, spacing, direction, affine_first=True,
                    misspelled=False, precision="double"):
    """An ITK composite in HDF5: an affine (3x4 ``affine_lps`` and its centre) and a displacement field (vectors
    (nx, ny, nz, 3) in LPS on the grid of origin/spacing/direction, all LPS). ``affine_first``: the file's order
    (the queue); a composite applies the file's last transform to a point first."""
    dt = np.float32 if precision == "float" else np.float64
    aff = (f"AffineTransform_{precision}_3_3", np.r_[affine_lps[:3, :3].ravel(), affine_lps[:3, 3]].astype(dt),
           center)
    size = field_lps.shape[:3]
    fld = (f"DisplacementFieldTransform_{precision}_3_3", field_lps.transpose(2, 1, 0, 3).ravel().astype(dt),
           np.r_[size, origin, spacing, np.asarray(direction).ravel()])
    with h5py.File(path, "w") as f:
        f.create_dataset("ITKVersion", data=np.array([b"5.4.0"], dtype=h5py.string_dtype("ascii")))
        groups = f.create_group("TransformGroup")
        _group(groups.create_group("0"), "CompositeTransform_double_3_3", [], [], misspelled)
        for i, (kind, params, fixed) in enumerate([aff, fld] if affine_first else [fld, aff]):
            _group(groups.create_group(str(i + 1)), kind, params, fixed, misspelled)


def transform(folder, rng, affine_first=True, misspelled=False, name="xfm.h5", precision="double"):
    """A composite (a random affine, a smooth field on a rotated 9x10x8 grid) written to ``folder/name``: its path
    and the field's grid (LPS)."""
    a = np.eye(4)
    a[:3, :3] += rng.normal(0, 0.06, (3, 3))
    a[:3, 3] = rng.normal(0, 2.5, 3)
    shape = (9, 10, 8)
    th = 0.25
    direction = np.array([[np.cos(th), -np.sin(th), 0], [np.sin(th), np.cos(th), 0], [0, 0, 1]])
    g = np.stack(np.meshgrid(*[np.linspace(0, np.pi, s) for s in shape], indexing="ij"), -1)
    field = 2.5 * np.stack([np.sin(g[..., 0]) * np.cos(g[..., 1]), np.sin(g[..., 1] + g[..., 2]),
                            np.cos(g[..., 0] * g[..., 2])], -1)
    path = os.path.join(str(folder), name)
    write_composite(path, a, rng.normal(0, 3, 3), field, origin=[14.0, 15.0, -13.0], spacing=[3.2, 3.0, 3.4],
                    direction=direction, affine_first=affine_first, misspelled=misspelled, precision=precision)
    return path, dict(origin=np.array([14.0, 15.0, -13.0]), spacing=np.array([3.2, 3.0, 3.4]),
                      direction=direction, shape=shape)


def write_images(folder, rng, label=False):
    """A sparse random source image (2 mm, float32; rounded absolute values as int16 when ``label``) and a target
    grid (flipped x, anisotropic) written as ``src.nii.gz`` and ``tgt.nii.gz``: (src, its affine, target shape,
    target affine)."""
    sshape, saff = (20, 22, 19), np.diag([2.0, 2.0, 2.0, 1])
    saff[:3, 3] = [-20, -22, -19]
    src = (rng.normal(size=sshape) * 3).astype(np.float32)
    src[np.abs(src) < 2.0] = 0
    if label:
        src = np.round(np.abs(src)).astype(np.int16)
    tshape, taff = (23, 27, 21), np.diag([-1.7, 1.6, 1.8, 1])
    taff[:3, 3] = [19, -21, -18]
    nib.save(nib.Nifti1Image(src, saff), os.path.join(str(folder), "src.nii.gz"))
    nib.save(nib.Nifti1Image(np.zeros(tshape, np.float32), taff), os.path.join(str(folder), "tgt.nii.gz"))
    return src, saff, tshape, taff


#: the points cases: (affine first in the file, misspelled ITK keys, precision)
POINTS_CASES = {"affine_first_double": (True, False, "double"), "field_first_misspelled_double": (False, True, "double"),
                "affine_first_float": (True, False, "float")}
#: the image cases: ANTs' interpolator -> our order
IMAGE_CASES = {"linear": 1, "nearestNeighbor": 0}


def points_case(folder, name):
    """The transform (seed 3) and 2600 RAS points: 2000 everywhere, 600 in and around the field's outer half voxel
    (LPS grid -> RAS). The edge points pass the affine before the field when the affine acts first: then they are
    not exactly at the edge but spread around it, which is as good a test."""
    affine_first, misspelled, precision = POINTS_CASES[name]
    rng = np.random.default_rng(3)
    path, grid = transform(folder, rng, affine_first, misspelled, precision=precision)
    k = rng.uniform(-1.5, 1.0, (600, 3)) + np.where(rng.random((600, 3)) < 0.5, 0, np.array(grid["shape"]) - 1.0)
    k = np.where(rng.random((600, 3)) < 0.5, rng.uniform(0, np.array(grid["shape"]) - 1, (600, 3)), k)
    edge_lps = grid["origin"] + (k * grid["spacing"]) @ grid["direction"].T
    pts = np.vstack([rng.uniform(-40, 40, (2000, 3)), edge_lps * LPS])
    return path, pts


def order_case(folder):
    """The same affine and field (seed 4) in both file orders (``a.h5``: affine first; ``b.h5``: field first) and
    200 RAS points."""
    p1, _ = transform(folder, np.random.default_rng(4), affine_first=True, name="a.h5")
    p2, _ = transform(folder, np.random.default_rng(4), affine_first=False, name="b.h5")
    pts = np.random.default_rng(4).uniform(-20, 20, (200, 3))
    return p1, p2, pts


def image_case(folder, interpolator):
    """The transform (seed 5) and the images after it (a label image for nearestNeighbor): (transform path, src,
    its affine, target shape, target affine); ``src.nii.gz``/``tgt.nii.gz`` in ``folder``."""
    rng = np.random.default_rng(5)
    path, _ = transform(folder, rng)
    return (path, *write_images(folder, rng, label=IMAGE_CASES[interpolator] == 0))


def transform_arrays(path):
    """What a transform file says, as arrays: its kinds (one string) and all its parameters and fixed parameters
    (float64, concatenated in the file's order)."""
    kinds, params, fixed = [], [], []
    with h5py.File(path, "r") as f:
        groups = f["TransformGroup"]
        for key in sorted(groups, key=int):
            g = groups[key]
            kinds.append(g["TransformType"][0].decode())
            word = "Transform" if "TransformParameters" in g else "Tranform"
            params.append(np.asarray(g[f"{word}Parameters"], np.float64).ravel())
            fixed.append(np.asarray(g[f"{word}FixedParameters"], np.float64).ravel())
    return {"kinds": np.array(" ".join(kinds)), "params": np.concatenate(params), "fixed": np.concatenate(fixed)}


def inputs_sha256(inputs):
    """SHA-256 of a case's input arrays (names, dtypes, shapes, bytes, in name order)."""
    h = hashlib.sha256()
    for k in sorted(inputs):
        a = np.ascontiguousarray(inputs[k])
        h.update(f"{k}|{a.dtype.str}|{a.shape}|".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def case_inputs(folder, case):
    """The inputs of a golden case, built in ``folder``: (named input arrays, the case's paths and grids)."""
    kind, name = case.split("-", 1)
    if kind == "points":
        path, pts = points_case(folder, name)
        return {**{f"xfm_{k}": v for k, v in transform_arrays(path).items()}, "points": pts}, dict(path=path, pts=pts)
    if kind == "order":
        p1, p2, pts = order_case(folder)
        a, b = transform_arrays(p1), transform_arrays(p2)
        return ({**{f"a_{k}": v for k, v in a.items()}, **{f"b_{k}": v for k, v in b.items()}, "points": pts},
                dict(p1=p1, p2=p2, pts=pts))
    path, src, saff, tshape, taff = image_case(folder, name)
    arrays = {**{f"xfm_{k}": v for k, v in transform_arrays(path).items()}, "source": src, "source_affine": saff,
              "target_shape": np.array(tshape), "target_affine": taff}
    return arrays, dict(path=path, src=src, saff=saff, tshape=tshape, taff=taff,
                        src_path=os.path.join(str(folder), "src.nii.gz"), tgt_path=os.path.join(str(folder), "tgt.nii.gz"))


CASES = ([f"points-{n}" for n in POINTS_CASES] + ["order-both"] + [f"image-{n}" for n in IMAGE_CASES])


def golden_path(case):
    return os.path.join(GOLDEN, f"{case}.npz")


def load_golden(case):
    """A golden case: ``inputs`` (the arrays it was made from), ``outputs`` (antspyx's), ``sha256`` of the inputs
    and ``versions`` (antspyx, scipy, numpy, h5py of the run that made it)."""
    with np.load(golden_path(case), allow_pickle=False) as z:
        inputs = {k[3:]: z[k] for k in z.files if k.startswith("in_")}
        outputs = {k[4:]: z[k] for k in z.files if k.startswith("out_")}
        return dict(inputs=inputs, outputs=outputs, sha256=str(z["sha256"]), versions=str(z["versions"]))


# antspyx's answers (only where antspyx imports: the oracle's own environment, or a test's live comparison)

def ants_points(ants, path, pts_ras):
    """``ants.apply_transforms_to_points`` on RAS points (ANTs works in LPS)."""
    df = pd.DataFrame(pts_ras * LPS, columns=["x", "y", "z"])
    out = ants.apply_transforms_to_points(3, df, [path])
    return out[["x", "y", "z"]].to_numpy() * LPS


def ants_image(ants, c, interpolator):
    """``ants.apply_transforms`` of an image case's source onto its target grid."""
    return ants.apply_transforms(ants.image_read(c["tgt_path"]), ants.image_read(c["src_path"]), [c["path"]],
                                 interpolator=interpolator).numpy()


def ants_outputs(ants, case, c):
    """antspyx's outputs of a case built by ``case_inputs``."""
    kind, name = case.split("-", 1)
    if kind == "points":
        return {"points": ants_points(ants, c["path"], c["pts"])}
    if kind == "order":
        return {"a_points": ants_points(ants, c["p1"], c["pts"]), "b_points": ants_points(ants, c["p2"], c["pts"])}
    return {"image": ants_image(ants, c, name)}
