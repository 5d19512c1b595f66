"""Assignment: siibra's golden outputs, siibra itself on random cases, and edge cases."""
import nibabel as nib
import numpy as np
import pandas as pd
import pytest

import gpusiibra
from conftest import atlas_from_dense, random_atlas
from golden_cases import CASES, compare_with_golden, motor_t4
from gpusiibra._assign import COLUMNS, IMAGE_COLUMNS, POINT_COLUMNS


@pytest.mark.parametrize("case", sorted(CASES))
def test_golden(julich, case, on_backend):
    compare_with_golden(CASES[case](julich), case)


def test_table_columns_follow_siibra(julich):
    df = julich.assign(motor_t4())
    assert list(df.columns) == IMAGE_COLUMNS
    assert [c for c in COLUMNS if c in df.columns] == list(df.columns)
    assert df["input structure"].is_monotonic_increasing
    for _, g in df.groupby("input structure"):
        assert g["volume"].is_monotonic_increasing
    pts = julich.assign(gpusiibra.Point((-40, -20, 55)))
    assert list(pts.columns) == POINT_COLUMNS


# ------------------------------------------------------------------ oracle
def _compare(ours: pd.DataFrame, theirs: list, tol=1e-9):
    key = ["input structure", "volume"]
    t = pd.DataFrame(theirs)
    if len(t) == 0:
        assert len(ours) == 0
        return
    a = ours.set_index(key).sort_index()
    b = t.set_index(key).sort_index()
    assert list(a.index) == list(b.index)
    for c in b.columns:
        if c == "centroid":
            np.testing.assert_allclose(np.array(a[c].tolist()), np.array(b[c].tolist()), atol=1e-9)
        else:
            np.testing.assert_allclose(a[c].to_numpy(float), b[c].to_numpy(float), rtol=tol, atol=tol, err_msg=c)


def _random_affine(rng, kind):
    A = np.eye(4)
    if kind == "same":
        return None
    if kind == "flipped":
        A[:3, :3] = np.diag([-2.0, 2.0, 2.0])
        A[:3, 3] = [12, -12, -14]
    elif kind == "oblique":
        th = rng.uniform(0.1, 0.4)
        R = np.array([[np.cos(th), -np.sin(th), 0], [np.sin(th), np.cos(th), 0], [0, 0, 1]])
        A[:3, :3] = R @ np.diag([1.7, 2.3, 2.1])
        A[:3, 3] = [-9, -13, -12]
    elif kind == "fine":
        A[:3, :3] = np.diag([1.0, 1.0, 1.5])
        A[:3, 3] = [-11, -12, -15]
    return A


@pytest.mark.oracle
@pytest.mark.parametrize("kind", ["same", "flipped", "oblique", "fine"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_images_match_siibra(kind, seed, on_backend):
    from oracle import OracleMap

    rng = np.random.default_rng(100 * seed + len(kind))
    maps, A = random_atlas(rng, n_regions=6)
    ours = atlas_from_dense(maps, A)
    theirs = OracleMap(maps, A)
    Aq = _random_affine(rng, kind)
    shape = maps[0].shape if Aq is None else (11, 12, 10)
    q = rng.normal(size=shape).astype(np.float32)
    q[np.abs(q) < 1.1] = 0  # several components, some of one voxel, negative values too
    Aq = A if Aq is None else Aq
    lt = [0.0, 0.3, 0.5][seed]
    minsize = [1, 1, 3][seed]
    _compare(ours.assign(nib.Nifti1Image(q, Aq), minsize_voxel=minsize, lower_threshold=lt),
             theirs.assign_image(q, Aq, minsize_voxel=minsize, lower_threshold=lt))
    # one structure of all nonzero voxels
    _compare(ours.assign(nib.Nifti1Image(q, Aq), lower_threshold=lt, split_components=False),
             theirs.assign_image(q, Aq, lower_threshold=lt, split_components=False))


@pytest.mark.oracle
def test_integer_and_binary_images_match_siibra(rng, on_backend):
    from oracle import OracleMap

    maps, A = random_atlas(rng, n_regions=5)
    ours, theirs = atlas_from_dense(maps, A), OracleMap(maps, A)
    Aq = np.diag([1.5, 1.5, 1.5, 1.0])
    Aq[:3, 3] = [-10, -12, -14]
    ints = rng.integers(-3, 6, size=(14, 15, 16)).astype(np.int16)
    ints[ints < 3] = 0
    _compare(ours.assign(nib.Nifti1Image(ints, Aq)), theirs.assign_image(ints, Aq))
    binary = (rng.random((14, 15, 16)) > 0.8).astype(np.uint8)  # {0, 1}: nearest neighbour
    _compare(ours.assign(nib.Nifti1Image(binary, Aq)), theirs.assign_image(binary, Aq))


@pytest.mark.oracle
@pytest.mark.parametrize("sigma", [0.0, 2.0, 6.5, 9.0])
def test_points_match_siibra(rng, sigma, on_backend):
    from oracle import OracleMap

    maps, A = random_atlas(rng, n_regions=6)
    ours, theirs = atlas_from_dense(maps, A), OracleMap(maps, A)
    # points on mapped voxels (siibra reads a spurious row on unmapped ones) and anywhere for sigma >= 3 voxels
    anymap = np.argwhere(np.stack(maps).max(0) > 0)
    pick = anymap[rng.choice(len(anymap), 6, replace=False)] + rng.uniform(-0.4, 0.4, (6, 3))
    pts = (A @ np.c_[pick, np.ones(6)].T)[:3].T
    for lt in (0.0, 0.4):
        _compare(ours.assign(gpusiibra.PointCloud(pts, sigma_mm=sigma), lower_threshold=lt),
                 theirs.assign_points(pts, sigma_mm=sigma, lower_threshold=lt))


@pytest.mark.oracle
def test_points_with_different_sigmas_match_siibra(rng, on_backend):
    from oracle import OracleMap

    maps, A = random_atlas(rng, n_regions=6)
    ours, theirs = atlas_from_dense(maps, A), OracleMap(maps, A)
    pts = np.array([[0.0, 0, 0], [3, -2, 1], [-4, 4, 2]])
    sig = [7.0, 9.0, 6.0]
    _compare(ours.assign(gpusiibra.PointCloud(pts, sigma_mm=sig)), theirs.assign_points(pts, sigma_mm=sig))


# ------------------------------------------------------------------ edges
def test_all_zero_image_gives_an_empty_table(julich):
    df = julich.assign(nib.Nifti1Image(np.zeros((10, 10, 10), np.float32), np.eye(4)))
    assert len(df) == 0 and list(df.columns) == IMAGE_COLUMNS


def test_one_voxel_components_are_skipped_by_default(rng):
    maps, A = random_atlas(rng)
    smap = atlas_from_dense(maps, A)
    q = np.zeros(maps[0].shape, np.float32)
    i = np.argwhere(maps[0] > 0)[0]
    q[tuple(i)] = 1.0
    assert len(smap.assign(nib.Nifti1Image(q, A))) == 0
    df = smap.assign(nib.Nifti1Image(q, A), minsize_voxel=0)
    assert 0 in set(df["volume"]) and set(df["input containedness"]) == {1.0}


def test_nan_and_inf_are_zero_with_a_warning(julich):
    img = motor_t4()
    d = np.asarray(img.dataobj).copy()
    ref = julich.assign(nib.Nifti1Image(d, img.affine))
    d[0, 0, 0], d[1, 0, 0], d[2, 0, 0] = np.nan, np.inf, -np.inf
    with pytest.warns(RuntimeWarning, match="3 non-finite values set to 0"):
        df = julich.assign(nib.Nifti1Image(d, img.affine))
    pd.testing.assert_frame_equal(df, ref)


def test_4d_image_is_assigned_volume_by_volume(julich):
    img = motor_t4()
    d = np.asarray(img.dataobj)
    ref = julich.assign(img)
    df = julich.assign(nib.Nifti1Image(np.stack([d, np.zeros_like(d), d], -1), img.affine))
    assert list(df.columns) == IMAGE_COLUMNS[:1] + ["time"] + IMAGE_COLUMNS[1:]
    assert sorted(set(df["time"])) == [0, 2]
    for t in (0, 2):
        part = df[df["time"] == t].drop(columns="time").reset_index(drop=True)
        pd.testing.assert_frame_equal(part, ref)


def test_boolean_image(julich):
    img = motor_t4()
    mask = np.asarray(img.dataobj) > 0
    df = julich.assign(nib.Nifti1Image(mask.astype(np.uint8), img.affine))
    df_bool = julich.assign(gpusiibra.volumes.from_array(mask, img.affine))
    pd.testing.assert_frame_equal(df, df_bool)
    assert len(df) > 0


def test_points_outside_the_grid_or_unmapped(julich):
    with pytest.warns(RuntimeWarning, match="outside the atlas grid"):
        df = julich.assign(gpusiibra.PointCloud([(500, 0, 0), (-40, -20, 55)]))
    assert set(df["input structure"]) == {1}
    # a voxel no region covers: no rows (siibra invents one from its last row)
    assert len(julich.assign(gpusiibra.Point((-70, -100, -70)))) == 0
    with pytest.warns(RuntimeWarning, match="outside the atlas grid"):
        assert len(julich.assign(gpusiibra.PointCloud([(500, 0, 0)], sigma_mm=5))) == 0


def test_empty_point_cloud(julich):
    df = julich.assign(gpusiibra.PointCloud(np.zeros((0, 3))))
    assert len(df) == 0 and list(df.columns) == POINT_COLUMNS


def test_unknown_keyword_and_type(julich):
    with pytest.raises(TypeError, match="unexpected keyword"):
        julich.assign(motor_t4(), thresh=3)
    with pytest.raises(TypeError, match="cannot assign an object of type list"):
        julich.assign([1, 2, 3])


def test_assign_a_path_and_a_volume(julich, tmp_path):
    img = motor_t4()
    p = tmp_path / "m.nii.gz"
    img.to_filename(p)
    pd.testing.assert_frame_equal(julich.assign(str(p)), julich.assign(gpusiibra.volumes.from_nifti(img, "mni152")))


@pytest.mark.oracle
def test_difference_4_a_cloud_of_varying_sigmas_with_exact_points(rng, on_backend):
    """siibra raises on such a cloud; gpusiibra looks its exact points up as siibra's exact rule does and gives
    its uncertain points siibra's numbers (README, "Differences from siibra", 4)."""
    from oracle import OracleMap

    maps, A = random_atlas(rng, n_regions=6)
    ours, theirs = atlas_from_dense(maps, A), OracleMap(maps, A)
    mapped = np.argwhere(np.stack(maps).max(0) > 0)
    pick = mapped[rng.choice(len(mapped), 3, replace=False)]
    pts = (A @ np.c_[pick, np.ones(3)].T)[:3].T
    sig = [0.0, 7.0, 2.0]  # 2 mm on a 2 mm grid: 1 voxel, below siibra's 3: an exact lookup
    with pytest.raises(ValueError):
        theirs.assign_points(pts, sigma_mm=sig)
    got = ours.assign(gpusiibra.PointCloud(pts, sigma_mm=sig))
    uncertain = got[got["input structure"] == 1].assign(**{"input structure": 0}).dropna(axis=1, how="all")
    _compare(uncertain, theirs.assign_points(pts[1:2], sigma_mm=7.0))
    exact = got[got["input structure"] != 1].dropna(axis=1, how="all")
    exact = exact.assign(**{"input structure": exact["input structure"].map({0: 0, 2: 1})})
    _compare(exact, theirs.assign_points(pts[[0, 2]], sigma_mm=0.0))


def test_an_image_whose_header_says_scanner_coordinates_is_warned_about(julich):
    img = motor_t4()
    native = nib.Nifti1Image(np.asarray(img.dataobj), img.affine)
    native.header.set_sform(img.affine, 1)
    native.header.set_qform(img.affine, 1)
    with pytest.warns(RuntimeWarning, match="scanner coordinates .* is it in MNI152 space"):
        df = julich.assign(native)
    assert len(df) > 0  # still assigned: the user may know better


@pytest.mark.oracle
def test_the_box_rule_is_siibras_bounding_box_intersection(rng):
    """siibra_boxes_intersect (one array pass over every pair) against siibra's own
    ``BoundingBox(region).intersection(BoundingBox(component)) is not None`` on small boxes full of ties: shared
    faces, equal corners, flat and point-like intersections."""
    from oracle import _offline, _siibra_bbox

    from gpusiibra._statistics import siibra_boxes_intersect

    n = 600
    r_lo = rng.integers(0, 4, (n, 3))
    r_hi = r_lo + rng.integers(0, 3, (n, 3))  # inclusive, as a region's box
    c_lo = rng.integers(0, 4, (n, 3))
    c_hi = c_lo + rng.integers(1, 3, (n, 3))  # max + 1, as a component's box
    with _offline():  # siibra's boxes without a space (their warp: themselves)
        want = [_siibra_bbox.BoundingBox(r_lo[i], r_hi[i], space=None).intersection(
            _siibra_bbox.BoundingBox(c_lo[i], c_hi[i], space=None)) is not None for i in range(n)]
    assert 50 < sum(want) < n - 50
    np.testing.assert_array_equal(siibra_boxes_intersect(r_lo, r_hi, c_lo, c_hi), want)
