"""What only a GPU runs: CuPy's and cupyx's code in our algorithms (DBSCAN, peaks) against scikit-learn and
scikit-image, and the device's array calls per chunk. The device's numbers against the CPU's: test_device_route.py."""
import numpy as np
import pytest

import gpusiibra
from conftest import check_dbscan_against_sklearn
from golden_cases import motor_t4

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not gpusiibra.gpu_available(), reason="no CUDA device")]


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


def test_array_calls_per_chunk_on_the_device_do_not_grow(monkeypatch, julich):
    from test_engine import _calls_per_chunk, _shifted_motor

    gpusiibra.set_backend("gpu")
    maps = _shifted_motor(24)
    counts = [_calls_per_chunk(monkeypatch, julich, maps[:n]) for n in (2, 8, 24)]
    assert counts[0] == counts[1] == counts[2], counts
