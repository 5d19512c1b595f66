"""The device's route gives the CPU's numbers: each body runs on the CPU and on the GPU - or, without a device,
through the CUDA kernels run on the host - and the two results are compared (``backends.same_on_both_backends``)."""
import os
import sys

import nibabel as nib
import numpy as np
import pytest

import gpusiibra
from backends import assert_same, same_on_both_backends
from conftest import atlas_from_dense, random_atlas
from golden_cases import motor_t4
from gpusiibra import _engine
from gpusiibra import _kernels as kernels


@pytest.mark.parametrize("seed", range(4))
@same_on_both_backends()
def test_random_images(seed):
    rng = np.random.default_rng(seed)
    maps, A = random_atlas(rng, shape=(20, 21, 22), n_regions=9)
    smap = atlas_from_dense(maps, A)
    Aq = np.array([[-1.7, 0.2, 0, 15], [0.1, 2.1, 0, -20], [0, 0.1, 1.6, -21], [0, 0, 0, 1]])
    q = rng.normal(size=(16, 17, 18)).astype(np.float32)
    q[np.abs(q) < 1.0] = 0
    img = nib.Nifti1Image(q, Aq)
    lt = [0.0, 0.3, 0.5, 0.0][seed]
    return (smap.assign(img, lower_threshold=lt, minsize_voxel=seed),
            smap.assign(img, lower_threshold=lt, split_components=False))


@same_on_both_backends()
def test_points(julich):
    rng = np.random.default_rng(3)
    pts = rng.uniform([-60, -90, -30], [60, 60, 70], size=(300, 3))
    sig = rng.choice([4.0, 5.0, 7.5], size=40)
    return (julich.assign(gpusiibra.PointCloud(pts, sigma_mm=0), lower_threshold=0.1),
            julich.assign(gpusiibra.PointCloud(pts[:40], sigma_mm=sig), lower_threshold=0.05))


@same_on_both_backends()
def test_the_global_atomics_kernel_for_many_regions(monkeypatch, julich):
    """Atlases with more regions than shared memory holds use the global-atomics kernel."""
    monkeypatch.setattr(kernels, "max_shared_regions", lambda: 10)
    return julich.assign(motor_t4())


@same_on_both_backends()
def test_an_atlas_of_4000_regions_uses_opted_in_shared_memory():
    """4,000 regions: 64,000 bytes of shared accumulators per block, above the 48 KiB of a plain launch."""
    rng = np.random.default_rng(5)
    shape = (60, 60, 60)
    R = 4000
    vox = rng.choice(int(np.prod(shape)), size=R * 20, replace=False)
    reg = np.repeat(np.arange(R), 20)
    smap = gpusiibra.from_arrays(shape, np.eye(4), reg, vox, rng.uniform(0.1, 1, R * 20))
    q = np.zeros(shape, np.float32)
    q.ravel()[vox[::3]] = rng.uniform(1, 3, len(vox[::3]))
    if kernels.uses_cuda_kernels():
        assert kernels.max_shared_regions() >= R
    return smap.assign(nib.Nifti1Image(q, np.eye(4)), split_components=False)


@same_on_both_backends()
def test_a_chunk_of_synthetic_maps():
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "bench"))
    from synthetic import AFFINE, thresholded_map

    return _engine.assign_chunk(gpusiibra.get_map(), [(thresholded_map(s), AFFINE) for s in range(12)])


@same_on_both_backends(rtol=1e-12, atol=1e-15)
def test_the_devices_sparse_accumulation(julich, monkeypatch):
    """The device's route when the (components x regions) arrays would not fit: the same pairs and sums."""
    from test_engine import _shifted_motor

    if kernels.uses_cuda_kernels():
        monkeypatch.setattr(kernels, "dense_pairs_fit", lambda n_comp, n_regions: False)
    return _engine.assign_chunk(julich, _shifted_motor(3))


@same_on_both_backends()
def test_labels_through_the_union_find_kernel(rng):
    from test_engine import _check_labels

    return _check_labels(rng)


@same_on_both_backends(kernels=False)
def test_the_resampled_support_is_identical(rng):
    """The resampled support (voxels and values, bit for bit) does not depend on the backend."""
    from test_resample import CASES, GRID_AFFINE, GRID_SHAPE, _query

    from gpusiibra._sparse_image import sparse_image

    images = []
    for (zooms, origin), dtype in zip(CASES, ["float32", "int16", "float64", "binary", "float32", "float64"]):
        affine = np.diag(list(zooms) + [1.0])
        affine[:3, 3] = origin
        images.append(sparse_image(_query(rng, dtype, (13, 15, 12)), affine))
    return tuple(_engine.support_entries(images, GRID_SHAPE, GRID_AFFINE))


@same_on_both_backends(kernels=False, compare=lambda c, g: (
    np.testing.assert_allclose(c[0], g[0], atol=1e-9),
    np.testing.assert_allclose(g[1], c[1], rtol=1e-5, atol=1e-5 * float(c[1].max()))))
def test_samples_and_kde():
    from gpusiibra import volumes

    vol = volumes.from_nifti(motor_t4(), "mni152", "motor")
    pts = vol.draw_samples(5000, e=5, sigma_mm=3, random_state=4)
    pc = gpusiibra.PointCloud(pts.coordinates, sigma_mm=3, labels=np.arange(len(pts)) % 3)
    return pts.coordinates, volumes.from_pointcloud(pc, label=1, target=vol).get_data()


@same_on_both_backends(compare=lambda c, g: (
    assert_same(c[["region", "id"]], g[["region", "id"]]),
    np.testing.assert_allclose(g["correlation"].to_numpy(float), c["correlation"].to_numpy(float), atol=1e-5),
    np.testing.assert_allclose(g["map value"].to_numpy(float), c["map value"].to_numpy(float), atol=1e-6)))
def test_the_seed_workflow(julich):
    from gpusiibra import demo

    return demo.seed_workflow(julich, demo.motor_volume(3.0), n_samples=4000, seed=2).assignments


@pytest.mark.parametrize("lower_threshold", [0.0, 0.3])
@same_on_both_backends(rtol=1e-12, atol=1e-15)
def test_uncertain_points_cut_at_the_grids_faces_and_corners(julich, rng, lower_threshold):
    """Cubes inside the grid and cut at its faces and corners, two sigmas, a lower threshold: the same pairs and
    counts as the CUDA kernel, sums to a few ulps."""
    from test_points_batch import _random_points

    pts = _random_points(julich, rng, 60)
    got = julich.assign(gpusiibra.PointCloud(pts, sigma_mm=np.where(np.arange(60) % 2, 5.0, 7.5)),
                        lower_threshold=lower_threshold)
    assert len(got) > 100
    return got


def test_the_harness_fails_a_difference_and_a_body_that_runs_no_kernel(julich):
    import backends

    if backends.device_route() is None:
        pytest.skip("no CUDA device and no C++ compiler for the kernel emulator")

    @same_on_both_backends()
    def differs():
        res = julich.assign(motor_t4())
        if kernels.uses_cuda_kernels():
            res.loc[3, "correlation"] += 1e-7
        return res

    with pytest.raises(AssertionError, match="correlation"):
        differs()

    @same_on_both_backends()
    def no_kernel():
        return np.arange(3)

    if backends.device_route() == "emulated":
        with pytest.raises(pytest.fail.Exception, match="launched no kernel"):
            no_kernel()
