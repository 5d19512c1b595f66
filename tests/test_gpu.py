"""The GPU backend gives the CPU backend's numbers (within 1e-9; the seed workflow's sampled points and densities
within 1e-5)."""
import os
import sys

import nibabel as nib
import numpy as np
import pandas as pd
import pytest

import gpusiibra
from conftest import atlas_from_dense, check_dbscan_against_sklearn, random_atlas
from golden_cases import motor_t4
from gpusiibra import _assign
from gpusiibra import _kernels as kernels

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not gpusiibra.gpu_available(), reason="no CUDA device")]


def both(fn):
    gpusiibra.set_backend("cpu")
    cpu = fn()
    gpusiibra.set_backend("gpu")
    gpu = fn()
    gpusiibra.set_backend("cpu")
    return cpu, gpu


def same(cpu: pd.DataFrame, gpu: pd.DataFrame, tol=1e-9):
    assert list(cpu.columns) == list(gpu.columns)
    assert len(cpu) == len(gpu)
    for c in cpu.columns:
        if c in ("region",):
            assert list(cpu[c]) == list(gpu[c])
        elif c == "centroid":
            np.testing.assert_allclose(np.array(cpu[c].tolist()), np.array(gpu[c].tolist()), atol=1e-9)
        else:
            np.testing.assert_allclose(cpu[c].to_numpy(float), gpu[c].to_numpy(float), rtol=tol, atol=tol, err_msg=c)



@pytest.mark.parametrize("seed", range(4))
def test_random_images_equal_cpu(seed):
    rng = np.random.default_rng(seed)
    maps, A = random_atlas(rng, shape=(20, 21, 22), n_regions=9)
    smap = atlas_from_dense(maps, A)
    Aq = np.array([[-1.7, 0.2, 0, 15], [0.1, 2.1, 0, -20], [0, 0.1, 1.6, -21], [0, 0, 0, 1]])
    q = rng.normal(size=(16, 17, 18)).astype(np.float32)
    q[np.abs(q) < 1.0] = 0
    img = nib.Nifti1Image(q, Aq)
    lt = [0.0, 0.3, 0.5, 0.0][seed]
    same(*both(lambda: smap.assign(img, lower_threshold=lt, minsize_voxel=seed)))
    same(*both(lambda: smap.assign(img, lower_threshold=lt, split_components=False)))


def test_points_equal_cpu(julich):
    rng = np.random.default_rng(3)
    pts = rng.uniform([-60, -90, -30], [60, 60, 70], size=(300, 3))
    same(*both(lambda: julich.assign(gpusiibra.PointCloud(pts, sigma_mm=0), lower_threshold=0.1)))
    sig = rng.choice([4.0, 5.0, 7.5], size=40)
    same(*both(lambda: julich.assign(gpusiibra.PointCloud(pts[:40], sigma_mm=sig), lower_threshold=0.05)))


def test_global_atomics_kernel_for_many_regions(monkeypatch, julich):
    """Atlases with more regions than shared memory holds use the global-atomics kernel."""
    monkeypatch.setattr(kernels, "max_shared_regions", lambda: 10)
    same(*both(lambda: julich.assign(motor_t4())))


def test_a_real_atlas_of_4000_regions_uses_opted_in_shared_memory():
    """4,000 regions: 64,000 bytes of shared accumulators per block, above the 48 KiB of a plain launch."""
    rng = np.random.default_rng(5)
    shape = (60, 60, 60)
    R = 4000
    vox = rng.choice(int(np.prod(shape)), size=R * 20, replace=False)
    reg = np.repeat(np.arange(R), 20)
    smap = gpusiibra.from_arrays(shape, np.eye(4), reg, vox, rng.uniform(0.1, 1, R * 20))
    q = np.zeros(shape, np.float32)
    q.ravel()[vox[::3]] = rng.uniform(1, 3, len(vox[::3]))
    img = nib.Nifti1Image(q, np.eye(4))
    gpusiibra.set_backend("gpu")
    assert kernels.max_shared_regions() >= R
    same(*both(lambda: smap.assign(img, split_components=False)))


def test_batched_accumulation_equals_one_by_one(julich):
    img = motor_t4()
    d = np.asarray(img.dataobj)
    imgs = [(d * s, img.affine) for s in (1.0, 0.5, 0.0, 2.0)]
    gpusiibra.set_backend("gpu")
    many = _assign.assign_many(julich, imgs)
    one = [_assign.assign_image_data(julich, a, b) for a, b in imgs]
    for m, o in zip(many, one):
        assert m.status == o.status
        for k in o.columns:
            np.testing.assert_allclose(np.asarray(m.columns[k], float), np.asarray(o.columns[k], float), atol=1e-12)


# ---------------------------------------------------------------- the seed workflow on the GPU
def test_dbscan_on_the_gpu_gives_scikit_learns_labels():
    gpusiibra.set_backend("gpu")
    check_dbscan_against_sklearn(np.random.default_rng(9), trials=10, max_blob=2000, max_noise=500)


def test_peaks_on_the_gpu_equal_scikit_image():
    from conftest import skimage_peaks as _skimage_peaks

    from gpusiibra import volumes

    rng = np.random.default_rng(11)
    gpusiibra.set_backend("gpu")
    for t in range(10):
        a = rng.random((30, 28, 26))
        if t % 2:
            a = np.round(a * 3)
        md = int(rng.integers(1, 7))
        np.testing.assert_array_equal(volumes.peak_local_max(a, md), _skimage_peaks(a, md))
    img = motor_t4()
    d = np.asarray(img.dataobj)
    np.testing.assert_array_equal(volumes.peak_local_max(d, 5), _skimage_peaks(d, 5))


def test_samples_and_kde_equal_cpu():
    from gpusiibra import volumes

    img = motor_t4()
    vol = volumes.from_nifti(img, "mni152", "motor")
    cpu, gpu = both(lambda: vol.draw_samples(5000, e=5, sigma_mm=3, random_state=4))
    np.testing.assert_allclose(cpu.coordinates, gpu.coordinates, atol=1e-9)
    labels = np.arange(len(cpu)) % 3
    pc = gpusiibra.PointCloud(cpu.coordinates, sigma_mm=3, labels=labels)
    c, g = both(lambda: volumes.from_pointcloud(pc, label=1, target=vol).get_data())
    np.testing.assert_allclose(g, c, rtol=1e-5, atol=1e-5 * float(c.max()))


def test_seed_workflow_equals_cpu(julich):
    from gpusiibra import demo

    vol = demo.motor_volume(3.0)
    cpu, gpu = both(lambda: demo.seed_workflow(julich, vol, n_samples=4000, seed=2).assignments)
    assert list(cpu["region"]) == list(gpu["region"]) and list(cpu["id"]) == list(gpu["id"])
    np.testing.assert_allclose(gpu["correlation"].to_numpy(float), cpu["correlation"].to_numpy(float), atol=1e-5)
    np.testing.assert_allclose(gpu["map value"].to_numpy(float), cpu["map value"].to_numpy(float), atol=1e-6)


# ---------------------------------------------------------------- the chunk engine on the device
def test_support_entries_are_identical_on_both_backends():
    """The resampled support (voxels and values, bit for bit) does not depend on the backend."""
    from test_resample import CASES, GRID_AFFINE, GRID_SHAPE, _query

    from gpusiibra import _engine
    from gpusiibra._sparse_image import sparse_image

    rng = np.random.default_rng(21)
    images = []
    for (zooms, origin), dtype in zip(CASES, ["float32", "int16", "float64", "binary", "float32", "float64"]):
        affine = np.diag(list(zooms) + [1.0])
        affine[:3, 3] = origin
        images.append(sparse_image(_query(rng, dtype, (13, 15, 12)), affine))
    cpu, gpu = both(lambda: tuple(gpusiibra.backend.to_host(a)
                                  for a in _engine.support_entries(images, GRID_SHAPE, GRID_AFFINE)))
    np.testing.assert_array_equal(cpu[0], gpu[0])
    np.testing.assert_array_equal(cpu[1], gpu[1])


def test_labels_on_the_device_equal_scipys():
    from test_engine import _check_labels

    gpusiibra.set_backend("gpu")
    _check_labels(np.random.default_rng(8))


def test_a_chunk_of_synthetic_maps_equals_the_cpu():
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "bench"))
    from synthetic import AFFINE, thresholded_map

    from gpusiibra import _engine

    maps = [(thresholded_map(s), AFFINE) for s in range(12)]
    cpu, gpu = both(lambda: _engine.assign_chunk(gpusiibra.get_map(), maps))
    np.testing.assert_array_equal(cpu.row_map, gpu.row_map)
    for k, v in cpu.columns.items():
        np.testing.assert_allclose(np.asarray(gpu.columns[k], float), np.asarray(v, float), rtol=1e-9, atol=1e-12,
                                   err_msg=k)


def test_array_calls_per_chunk_on_the_device_do_not_grow(monkeypatch, julich):
    from test_engine import _calls_per_chunk, _shifted_motor

    gpusiibra.set_backend("gpu")
    maps = _shifted_motor(24)
    counts = [_calls_per_chunk(monkeypatch, julich, maps[:n]) for n in (2, 8, 24)]
    assert counts[0] == counts[1] == counts[2], counts
