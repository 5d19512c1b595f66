"""Resampling onto the atlas grid equals nilearn's ``resample_to_img`` (what siibra calls): values, and the
set of support voxels exactly."""
import nibabel as nib
import numpy as np
import pytest

from gpusiibra import _engine, _sparse_image

GRID_SHAPE = (30, 34, 28)
GRID_AFFINE = np.array([[1.0, 0, 0, -15], [0, 1.0, 0, -17], [0, 0, 1.0, -14], [0, 0, 0, 1]])


def _query(rng, dtype, shape):
    if dtype == "binary":
        return (rng.random(shape) > 0.7).astype(np.uint8)
    if np.dtype(dtype).kind == "i":
        return rng.integers(-40, 90, size=shape).astype(dtype)
    q = rng.normal(scale=3.0, size=shape).astype(dtype)
    q[np.abs(q) < 1.0] = 0
    return q


def _on_grid(images, shape=GRID_SHAPE, affine=GRID_AFFINE):
    """The engine's resampled entries of each image, as dense grids."""
    key, val = _engine.support_entries([_sparse_image.sparse_image(q, a) for q, a in images], shape, affine)
    G = int(np.prod(shape))
    out = np.zeros((len(images), G))
    out.ravel()[np.asarray(key)] = np.asarray(val)
    return out.reshape((len(images),) + tuple(shape))


def _nilearn(q, affine, shape=GRID_SHAPE, grid_affine=GRID_AFFINE):
    from nilearn.image import resample_to_img

    order = _sparse_image.interpolation_order(q)
    target = nib.Nifti1Image(np.zeros(shape, np.float32), grid_affine)
    out = resample_to_img(nib.Nifti1Image(q, affine), target, interpolation="nearest" if order == 0 else "linear",
                          force_resample=True, copy_header=True)
    return np.asarray(out.dataobj)


def _same(ours, theirs):
    """Identical support (> 0, and != 0), values within 1e-6 (floats) or equal (integers)."""
    np.testing.assert_array_equal(ours > 0, theirs > 0)
    np.testing.assert_array_equal(ours != 0, theirs != 0)
    if theirs.dtype.kind == "f":
        np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=1e-6 * np.abs(theirs).max())
    else:
        np.testing.assert_array_equal(ours, theirs)


# (voxel sizes, origin): 2 mm flipped in x with half-voxel shifts, 1.5 mm along z, 3 mm (weights in thirds),
# 0.5 mm (the query finer than the grid), grid voxels exactly on the query's first and last planes, and
# every axis flipped
CASES = [
    ((-2.0, 2.0, 2.0), (16.0, -17.5, -14.0)),
    ((1.0, 1.0, 1.5), (-11.0, -12.0, -15.0)),
    ((3.0, 3.0, 3.0), (-16.0, -18.5, -13.0)),
    ((0.5, 0.5, 0.5), (-6.25, -8.0, -5.5)),
    ((2.0, 2.0, 2.0), (-15.0, -17.0, -14.0)),
    ((-1.5, -2.0, -3.0), (4.0, 11.0, 12.5)),
]


@pytest.mark.parametrize("dtype", ["float32", "float64", "int16", "int32", "binary"])
@pytest.mark.parametrize("case", range(len(CASES)))
def test_resample_equals_nilearn(rng, dtype, case):
    pytest.importorskip("nilearn")
    zooms, origin = CASES[case]
    affine = np.diag(list(zooms) + [1.0])
    affine[:3, 3] = origin
    q = _query(rng, dtype, (13, 15, 12))
    theirs = _nilearn(q, affine)
    assert theirs.any()
    _same(_on_grid([(q, affine)])[0], theirs)
    # the separable passes serve floats, binaries, and 16-bit integers with weights exact in float64;
    # scipy's own loop serves the rest (1.5 and 3 mm integer maps have weights in thirds)
    img = _sparse_image.sparse_image(q, affine)
    route = _engine._route(img.shape, affine.tobytes(), img.dtype.str, img.order, GRID_SHAPE, GRID_AFFINE.tobytes())
    exact_weights = all((1024 / abs(z)).is_integer() for z in zooms)  # grid steps of 1 mm in query voxels
    separable = dtype in ("float32", "float64", "binary") or (dtype == "int16" and exact_weights)
    assert route == ("separable" if separable else "dense")


def test_a_chunk_of_mixed_images_equals_each_alone(rng):
    """Several geometries, types and an oblique image in one chunk: each image's entries as if alone."""
    pytest.importorskip("nilearn")
    images = []
    for case, dtype in zip(range(len(CASES)), ["float32", "int16", "float64", "binary", "float32", "float64"]):
        zooms, origin = CASES[case]
        affine = np.diag(list(zooms) + [1.0])
        affine[:3, 3] = origin
        images.append((_query(rng, dtype, (13, 15, 12)), affine))
    images.append((np.zeros((5, 5, 5), np.float32), np.eye(4)))  # empty
    images.append((_query(rng, "float32", GRID_SHAPE), GRID_AFFINE))  # on the grid: taken as it is
    together = _on_grid(images)
    for i, (q, a) in enumerate(images):
        np.testing.assert_array_equal(together[i], _on_grid([(q, a)])[0])
    np.testing.assert_array_equal(together[-1], images[-1][0])


def test_oblique_affine_uses_scipys_general_path(rng):
    pytest.importorskip("nilearn")
    th = 0.3
    affine = np.eye(4)
    affine[:3, :3] = np.array([[np.cos(th), -np.sin(th), 0], [np.sin(th), np.cos(th), 0], [0, 0, 1]]) * 2.0
    affine[:3, 3] = [-10, -14, -12]
    q = _query(rng, "float32", (12, 13, 11))
    img = _sparse_image.sparse_image(q, affine)
    assert _engine._route(img.shape, affine.tobytes(), img.dtype.str, img.order, GRID_SHAPE,
                          GRID_AFFINE.tobytes()) == "dense"
    ours = _on_grid([(q, affine)])[0]
    np.testing.assert_allclose(ours, _nilearn(q, affine), rtol=1e-6, atol=1e-6)


def test_3mm_map_on_the_1mm_atlas_grid_has_nilearns_support(rng):
    """A 3 mm t-map on the 1 mm grid (weights in thirds): the voxel set of every threshold is nilearn's."""
    pytest.importorskip("nilearn")
    import scipy.ndimage as ndi

    shape = (157, 197, 165)
    grid = np.array([[1.0, 0, 0, -78], [0, 1, 0, -115], [0, 0, 1, -78], [0, 0, 0, 1]])
    affine = np.array([[-3.0, 0, 0, 78], [0, 3, 0, -112], [0, 0, 3, -70], [0, 0, 0, 1]])
    t = ndi.gaussian_filter(rng.normal(size=(53, 63, 53)), 1.5) * 8
    for thr in (1.0, 2.5):
        q = np.where(t > thr, t, 0).astype(np.float32)
        ours = _on_grid([(q, affine)], shape, grid)[0]
        theirs = _nilearn(q, affine, shape, grid)
        assert (theirs > 0).sum() > 1000
        _same(ours, theirs)


@pytest.mark.parametrize("dtype", ["float32", "float64", "int16", "binary"])
@pytest.mark.parametrize("case", range(len(CASES)))
def test_dense_and_sparse_passes_give_the_same_bits(rng, dtype, case):
    """A mostly nonzero map goes through the passes on dense boxes: the same voxels and values, bit for bit."""
    zooms, origin = CASES[case]
    affine = np.diag(list(zooms) + [1.0])
    affine[:3, 3] = origin
    q = _query(rng, dtype, (13, 15, 12))
    sparse = _sparse_image.sparse_image(q, affine, dense_fraction=1.0)
    dense = _sparse_image.sparse_image(q, affine, dense_fraction=0.0)
    assert sparse.data is None and dense.data is not None
    a = _engine.support_entries([sparse], GRID_SHAPE, GRID_AFFINE)
    b = _engine.support_entries([dense], GRID_SHAPE, GRID_AFFINE)
    np.testing.assert_array_equal(np.asarray(a[0]), np.asarray(b[0]))
    np.testing.assert_array_equal(np.asarray(a[1]), np.asarray(b[1]))
