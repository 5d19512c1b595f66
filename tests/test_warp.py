"""Displacement-field transforms (ITK ``.h5`` composites, as TemplateFlow publishes them) against antspyx.

The tests write their own composite transforms (an affine and a smooth displacement field on a small grid, in
ITK's HDF5 layout, with h5py directly: not through gpusiibra's writer) and compare gpusiibra's points and pulled
images with ANTs' (``ants.apply_transforms_to_points``, ``ants.apply_transforms``).
"""
import os

import h5py
import nibabel as nib
import numpy as np
import pandas as pd
import pytest

from gpusiibra import _warp, backend
from gpusiibra._itk import read_itk_h5
from gpusiibra._sparse_image import sparse_image
from gpusiibra.errors import AtlasFileError

ants = pytest.importorskip("ants", reason="antspyx (the test extra) is the oracle of these tests")

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


def _transform(tmp_path, rng, affine_first=True, misspelled=False, name="xfm.h5", precision="double"):
    a = np.eye(4)
    a[:3, :3] += rng.normal(0, 0.06, (3, 3))
    a[:3, 3] = rng.normal(0, 2.5, 3)
    shape = (9, 10, 8)
    th = 0.25
    direction = np.array([[np.cos(th), -np.sin(th), 0], [np.sin(th), np.cos(th), 0], [0, 0, 1]])
    g = np.stack(np.meshgrid(*[np.linspace(0, np.pi, s) for s in shape], indexing="ij"), -1)
    field = 2.5 * np.stack([np.sin(g[..., 0]) * np.cos(g[..., 1]), np.sin(g[..., 1] + g[..., 2]),
                            np.cos(g[..., 0] * g[..., 2])], -1)
    path = str(tmp_path / name)
    write_composite(path, a, rng.normal(0, 3, 3), field, origin=[14.0, 15.0, -13.0], spacing=[3.2, 3.0, 3.4],
                    direction=direction, affine_first=affine_first, misspelled=misspelled, precision=precision)
    return path, dict(origin=np.array([14.0, 15.0, -13.0]), spacing=np.array([3.2, 3.0, 3.4]),
                      direction=direction, shape=shape)


def _ants_points(path, pts_ras):
    df = pd.DataFrame(pts_ras * LPS, columns=["x", "y", "z"])
    out = ants.apply_transforms_to_points(3, df, [path])
    return out[["x", "y", "z"]].to_numpy() * LPS


@pytest.mark.parametrize("affine_first,misspelled,precision", [(True, False, "double"), (False, True, "double"),
                                                              (True, False, "float")])
def test_points_equal_ants_inside_at_the_edges_and_outside_the_field(tmp_path, on_backend, affine_first,
                                                                     misspelled, precision):
    rng = np.random.default_rng(3)
    path, grid = _transform(tmp_path, rng, affine_first, misspelled, precision=precision)
    xfm = read_itk_h5(path)
    # points everywhere, and points in the half voxel around the field's outer voxel centres (LPS grid -> RAS)
    k = rng.uniform(-1.5, 1.0, (600, 3)) + np.where(rng.random((600, 3)) < 0.5, 0, np.array(grid["shape"]) - 1.0)
    k = np.where(rng.random((600, 3)) < 0.5, rng.uniform(0, np.array(grid["shape"]) - 1, (600, 3)), k)
    edge_lps = grid["origin"] + (k * grid["spacing"]) @ grid["direction"].T
    pts = np.vstack([rng.uniform(-40, 40, (2000, 3)), edge_lps * LPS])
    # the edge points pass the affine before the field when the affine acts first: then they are not exactly
    # at the edge, but spread around it, which is as good a test
    mine = backend.to_host(xfm.map_points(backend.xp().asarray(pts)))
    theirs = _ants_points(path, pts)
    assert np.abs(theirs - pts).max() > 3  # the transform moves points by millimetres
    np.testing.assert_allclose(mine, theirs, rtol=0, atol=1e-4)


def test_the_steps_act_in_itks_order_field_last_in_the_file_first(tmp_path):
    rng = np.random.default_rng(4)
    p1, _ = _transform(tmp_path, np.random.default_rng(4), affine_first=True, name="a.h5")
    p2, _ = _transform(tmp_path, np.random.default_rng(4), affine_first=False, name="b.h5")
    pts = rng.uniform(-20, 20, (200, 3))
    a, b = read_itk_h5(p1).map_points(pts), read_itk_h5(p2).map_points(pts)
    assert np.abs(a - b).max() > 0.1  # the order matters, and each file matches ANTs in its own order
    np.testing.assert_allclose(a, _ants_points(p1, pts), atol=1e-4)
    np.testing.assert_allclose(b, _ants_points(p2, pts), atol=1e-4)


def _images(tmp_path, rng):
    sshape, saff = (20, 22, 19), np.diag([2.0, 2.0, 2.0, 1])
    saff[:3, 3] = [-20, -22, -19]
    src = (rng.normal(size=sshape) * 3).astype(np.float32)
    src[np.abs(src) < 2.0] = 0
    tshape, taff = (23, 27, 21), np.diag([-1.7, 1.6, 1.8, 1])
    taff[:3, 3] = [19, -21, -18]
    nib.save(nib.Nifti1Image(src, saff), tmp_path / "src.nii.gz")
    nib.save(nib.Nifti1Image(np.zeros(tshape, np.float32), taff), tmp_path / "tgt.nii.gz")
    return src, saff, tshape, taff


@pytest.mark.parametrize("interpolator,order", [("linear", 1), ("nearestNeighbor", 0)])
def test_pulled_image_equals_ants_apply_transforms(tmp_path, on_backend, interpolator, order):
    rng = np.random.default_rng(5)
    path, _ = _transform(tmp_path, rng)
    src, saff, tshape, taff = _images(tmp_path, rng)
    if order == 0:
        src = np.round(np.abs(src)).astype(np.int16)  # a label image
        nib.save(nib.Nifti1Image(src, saff), tmp_path / "src.nii.gz")
    theirs = ants.apply_transforms(ants.image_read(str(tmp_path / "tgt.nii.gz")),
                                   ants.image_read(str(tmp_path / "src.nii.gz")), [path],
                                   interpolator=interpolator).numpy()
    img = _warp.pull_image(nib.load(tmp_path / "src.nii.gz"), read_itk_h5(path), tshape, taff, order=order)
    mine = np.asarray(img.dataobj)
    assert img.shape == tshape and np.allclose(img.affine, taff)
    assert mine.dtype == (np.float32 if order else np.int16)
    assert np.count_nonzero(theirs) > 1000
    span = float(src.max() - src.min())
    assert np.abs(mine - theirs).max() <= 1e-5 * span
    if order == 0:
        assert np.array_equal(mine, theirs)


def test_sparse_pull_equals_the_dense_pull(tmp_path, on_backend, monkeypatch):
    rng = np.random.default_rng(6)
    path, _ = _transform(tmp_path, rng)
    xfm = read_itk_h5(path)
    src, saff, tshape, taff = _images(tmp_path, rng)
    maps = [src, np.where(np.abs(src) > 4, src, 0), np.zeros_like(src), (src > 3).astype(np.float32)]
    small = np.zeros_like(src)
    small[3:5, 17:20, 0:2] = 2.5  # a corner: the outer half voxel of the image
    maps.append(small)
    images = [sparse_image(m, saff, dense_fraction=0.3) for m in maps]
    ids = [7, 2, 5, 0, 3]
    key, val = _warp.pull_sparse(images, ids, tshape, taff, xfm)
    key, val = backend.to_host(key), backend.to_host(val)
    assert np.all(np.diff(key) > 0)
    G = int(np.prod(tshape))
    for m, i, im in zip(maps, ids, images):
        dense = backend.to_host(_warp.pull_array(backend.xp().asarray(m), saff, xfm, tshape, taff, order=im.order))
        got = np.zeros(G)
        sel = (key // G) == i
        got[key[sel] % G] = val[sel]
        assert np.array_equal(got.reshape(tshape), dense.astype(np.float64)), i
    assert images[3].order == 0  # the {0, 1} mask took the nearest voxel (siibra's rule)
    # maps whose boxes exceed a pass: in groups, the same entries
    monkeypatch.setattr(_warp, "_BOX_VOXELS", 2 * 22 * 24 * 21)
    key2, val2 = _warp.pull_sparse(images, ids, tshape, taff, xfm)
    np.testing.assert_array_equal(backend.to_host(key2), key)
    np.testing.assert_array_equal(backend.to_host(val2), val)
    # forced linear
    key1, val1 = _warp.pull_sparse(images[3:4], [0], tshape, taff, xfm, order=1)
    dense = backend.to_host(_warp.pull_array(backend.xp().asarray(maps[3]), saff, xfm, tshape, taff, order=1))
    np.testing.assert_array_equal(backend.to_host(key1), np.flatnonzero(dense))


def test_the_sparse_pull_visits_only_what_the_support_reaches(tmp_path, monkeypatch):
    """The transform is evaluated once per grid (the plan, reused by the next maps); a small blob visits only
    the target voxels of the cells it touches."""
    rng = np.random.default_rng(7)
    path, _ = _transform(tmp_path, rng)
    xfm = read_itk_h5(path)
    calls, sampled = [], []
    real_map, real_lerp = xfm.map_points, _warp._lerp

    class Counting:
        def map_points(self, p):
            calls.append(p.shape[0])
            return real_map(p)

    def counting_lerp(v, fracs):
        sampled.append(v[0].shape[0])
        return real_lerp(v, fracs)

    monkeypatch.setattr(_warp, "_lerp", counting_lerp)
    counting = Counting()
    src = np.zeros((20, 22, 19), np.float32)
    src[9:11, 10:12, 9:10] = 1.5
    saff = np.diag([2.0, 2.0, 2.0, 1])
    saff[:3, 3] = [-20, -22, -19]
    tshape, taff = (60, 70, 60), np.diag([1.0, 1.0, 1.0, 1])
    taff[:3, 3] = [-30, -35, -30]
    key, val = _warp.pull_sparse([sparse_image(src, saff)], [0], tshape, taff, counting)
    assert 0 < sum(sampled) <= 8 * 4 * 8 * 1.5  # 4 voxels: at most 8 cells each, about 8 target voxels a cell
    dense = _warp.pull_array(src, saff, xfm, tshape, taff)
    assert np.array_equal(np.flatnonzero(dense), key) and np.array_equal(dense.ravel()[key], val)
    n_calls = len(calls)
    src2 = np.roll(src, 3, axis=0)
    key2, val2 = _warp.pull_sparse([sparse_image(src2, saff)], [0], tshape, taff, counting)
    assert len(calls) == n_calls  # the plan is reused
    dense2 = _warp.pull_array(src2, saff, xfm, tshape, taff)
    assert np.array_equal(np.flatnonzero(dense2), key2) and np.array_equal(dense2.ravel()[key2], val2)


def test_bad_transform_files_are_one_line(tmp_path):
    p = tmp_path / "not.h5"
    p.write_bytes(b"not hdf5 at all")
    with pytest.raises(AtlasFileError, match="not.h5.*not an HDF5 file"):
        read_itk_h5(p)
    q = tmp_path / "bspline.h5"
    with h5py.File(q, "w") as f:
        _group(f.create_group("TransformGroup/0"), "BSplineTransform_double_3_3", np.zeros(10), np.zeros(10))
    with pytest.raises(AtlasFileError, match="BSplineTransform_double_3_3: only affine and displacement"):
        read_itk_h5(q)
    r = tmp_path / "short.h5"
    with h5py.File(r, "w") as f:
        _group(f.create_group("TransformGroup/0"), "DisplacementFieldTransform_double_3_3", np.zeros(10),
               np.r_[[2, 2, 2, 0, 0, 0, 1, 1, 1], np.eye(3).ravel()])
    with pytest.raises(AtlasFileError, match=r"size \(2, 2, 2\) with 10 values \(24 expected\)"):
        read_itk_h5(r)
    for e in (AtlasFileError,):
        assert "\n" not in str(e(str(p), "x"))


def test_name_and_sha256_of_the_file(tmp_path):
    import hashlib

    path, _ = _transform(tmp_path, np.random.default_rng(8))
    xfm = read_itk_h5(path)
    assert xfm.name == os.path.basename(path)
    assert xfm.sha256 == hashlib.sha256(open(path, "rb").read()).hexdigest()
