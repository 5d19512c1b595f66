"""Displacement-field transforms (ITK ``.h5`` composites, as TemplateFlow publishes them) against antspyx.

The tests write their own composite transforms (tests/warp_cases.py: an affine and a smooth displacement field on a
small grid, in ITK's HDF5 layout, with h5py directly: not through gpusiibra's writer) and compare gpusiibra's points
and pulled images with ANTs' (``ants.apply_transforms_to_points``, ``ants.apply_transforms``): with the golden files
tools/antspyx_oracle.py recorded (tests/golden/antspyx; antspyx pins scipy<1.16 and numpy<2.4, so it is not a test
dependency: ``pip install ".[oracle]"`` in an environment of its own), and live where antspyx imports.
"""
import os

import h5py
import nibabel as nib
import numpy as np
import pytest

from gpusiibra import _warp, backend
from gpusiibra._itk import read_itk_h5
from gpusiibra._sparse_image import sparse_image
from gpusiibra.errors import AtlasFileError
from warp_cases import (CASES, IMAGE_CASES, POINTS_CASES, _group, ants_image, ants_points, case_inputs,
                        inputs_sha256, load_golden, transform, write_images)

#: the oracle of a comparison: antspyx's golden files (everywhere), or antspyx itself (where it imports)
ORACLES = ["golden", "live"]


def _ants():
    return pytest.importorskip("ants", reason="antspyx (pip install '.[oracle]', its own environment) is not here")


def _oracle_points(oracle, case, key, path, pts):
    """ANTs' points for a case: from its golden file, or from antspyx live (then also the golden file's, within the
    tolerance: the golden files are still what antspyx says)."""
    gold = load_golden(case)["outputs"][key]
    if oracle == "golden":
        return gold
    theirs = ants_points(_ants(), path, pts)
    np.testing.assert_allclose(theirs, gold, rtol=0, atol=1e-4)
    return theirs


@pytest.mark.parametrize("case", CASES)
def test_the_golden_files_were_made_from_the_tests_inputs(tmp_path, case):
    """The inputs the tests rebuild (seeded transforms, points, images) are the ones antspyx was given: the same
    arrays as the golden file's (the same SHA-256 on this machine; within 1e-12 where a libm's last bit differs),
    and the golden file is whole (its inputs' SHA-256)."""
    gold = load_golden(case)
    assert gold["sha256"] == inputs_sha256(gold["inputs"])
    assert gold["versions"].startswith("antspyx 0.6.3, ")
    inputs, _ = case_inputs(tmp_path, case)
    assert sorted(inputs) == sorted(gold["inputs"])
    if inputs_sha256(inputs) != gold["sha256"]:
        for k, v in inputs.items():
            g = gold["inputs"][k]
            assert v.dtype == g.dtype and v.shape == g.shape, k
            if v.dtype.kind in "US":
                assert np.array_equal(v, g), k
            else:
                np.testing.assert_allclose(v, g, rtol=1e-12, atol=1e-12, err_msg=k)


@pytest.mark.parametrize("oracle", ORACLES)
@pytest.mark.parametrize("name", list(POINTS_CASES))
def test_points_equal_ants_inside_at_the_edges_and_outside_the_field(tmp_path, on_backend, name, oracle):
    case = f"points-{name}"
    _, c = case_inputs(tmp_path, case)
    pts = c["pts"]
    mine = backend.to_host(read_itk_h5(c["path"]).map_points(backend.xp().asarray(pts)))
    theirs = _oracle_points(oracle, case, "points", c["path"], pts)
    assert np.abs(theirs - pts).max() > 3  # the transform moves points by millimetres
    np.testing.assert_allclose(mine, theirs, rtol=0, atol=1e-4)


@pytest.mark.parametrize("oracle", ORACLES)
def test_the_steps_act_in_itks_order_field_last_in_the_file_first(tmp_path, oracle):
    _, c = case_inputs(tmp_path, "order-both")
    pts = c["pts"]
    a, b = read_itk_h5(c["p1"]).map_points(pts), read_itk_h5(c["p2"]).map_points(pts)
    assert np.abs(a - b).max() > 0.1  # the order matters, and each file matches ANTs in its own order
    np.testing.assert_allclose(a, _oracle_points(oracle, "order-both", "a_points", c["p1"], pts), rtol=0, atol=1e-4)
    np.testing.assert_allclose(b, _oracle_points(oracle, "order-both", "b_points", c["p2"], pts), rtol=0, atol=1e-4)


@pytest.mark.parametrize("oracle", ORACLES)
@pytest.mark.parametrize("interpolator", list(IMAGE_CASES))
def test_pulled_image_equals_ants_apply_transforms(tmp_path, on_backend, interpolator, oracle):
    order = IMAGE_CASES[interpolator]
    _, c = case_inputs(tmp_path, f"image-{interpolator}")
    src, tshape, taff = c["src"], c["tshape"], c["taff"]
    span = float(src.max() - src.min())
    theirs = load_golden(f"image-{interpolator}")["outputs"]["image"]
    if oracle == "live":
        live = ants_image(_ants(), c, interpolator)
        assert live.shape == theirs.shape and np.abs(live - theirs).max() <= 1e-5 * span
        assert order == 1 or np.array_equal(live, theirs)
        theirs = live
    img = _warp.pull_image(nib.load(c["src_path"]), read_itk_h5(c["path"]), tshape, taff, order=order)
    mine = np.asarray(img.dataobj)
    assert img.shape == tshape and np.allclose(img.affine, taff)
    assert mine.dtype == (np.float32 if order else np.int16)
    assert np.count_nonzero(theirs) > 1000
    assert np.abs(mine - theirs).max() <= 1e-5 * span
    if order == 0:
        assert np.array_equal(mine, theirs)


def test_sparse_pull_equals_the_dense_pull(tmp_path, on_backend, monkeypatch):
    rng = np.random.default_rng(6)
    path, _ = transform(tmp_path, rng)
    xfm = read_itk_h5(path)
    src, saff, tshape, taff = write_images(tmp_path, rng)
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
    path, _ = transform(tmp_path, rng)
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

    path, _ = transform(tmp_path, np.random.default_rng(8))
    xfm = read_itk_h5(path)
    assert xfm.name == os.path.basename(path)
    assert xfm.sha256 == hashlib.sha256(open(path, "rb").read()).hexdigest()
