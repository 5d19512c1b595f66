"""The seed workflow: sampling, peaks, KDE, clustering, the demo (CPU backend; siibra as oracle)."""
import os

import nibabel as nib
import numpy as np
import pytest
from scipy import stats

import gpusiibra
from conftest import check_dbscan_against_sklearn
from gpusiibra import _clustering as clustering, volumes
from gpusiibra.cli import main as cli
from gpusiibra.data import EXAMPLES

ANISO = np.array([[1.5, 0, 0, -20], [0, 2.0, 0, 10], [0, 0, 3.0, -7], [0, 0, 0, 1]], dtype=float)


def small_volume():
    q = np.array([0.0, 1, 2, 3, 4, 8, -2, 5, 0.5, 7, 6, 1.5], dtype=float).reshape(2, 2, 3)
    return q, volumes.from_array(q, ANISO, "test", "small")


# ---------------------------------------------------------------- sampling
@pytest.mark.parametrize("e,invert", [(1, False), (2.5, False), (1, True)])
def test_samples_follow_the_density(e, invert):
    q, vol = small_volume()
    P = (q - q.min()) / (q.max() - q.min())
    P = (1 - P if invert else P) ** e
    n = 120000
    pc = vol.draw_samples(n, e=e, sigma_mm=2.0, invert=invert, random_state=7)
    assert len(pc) == n and np.all(pc.sigma_mm == 2.0)
    ijk = pc.coordinates @ np.linalg.inv(ANISO[:3, :3]).T - np.linalg.inv(ANISO[:3, :3]) @ ANISO[:3, 3]
    vox = np.floor(ijk + 1e-9).astype(int)
    assert np.all(vox >= 0) and np.all(vox < q.shape)
    counts = np.bincount(np.ravel_multi_index(vox.T, q.shape), minlength=q.size)
    expected = P.ravel() / P.sum() * n
    assert np.all(counts[expected == 0] == 0)  # zero density: never drawn
    nz = expected > 0
    assert stats.chisquare(counts[nz], expected[nz]).pvalue > 1e-3
    # uniform inside the voxel, along every axis
    frac = ijk - vox
    for axis in range(3):
        assert stats.kstest(frac[:, axis], "uniform").pvalue > 1e-3


def test_samples_follow_siibras_density():
    """siibra's rejection sampler and our inverse-CDF sampler draw from the same voxel distribution."""
    oracle = pytest.importorskip("oracle")
    rng = np.random.default_rng(8)
    q = rng.random((4, 3, 5)) ** 2
    np.random.seed(1)
    theirs = oracle.draw_samples(q, ANISO, 20000, e=2, sigma_mm=1.0)
    ours = volumes.from_array(q, ANISO).draw_samples(20000, e=2, random_state=2)
    inv = np.linalg.inv(ANISO)

    def counts(mm):
        vox = np.floor(mm @ inv[:3, :3].T + inv[:3, 3] + 1e-9).astype(int)
        return np.bincount(np.ravel_multi_index(vox.T, q.shape), minlength=q.size)

    table = np.stack([counts(theirs), counts(ours.coordinates)])
    assert stats.chi2_contingency(table[:, table.sum(axis=0) > 0]).pvalue > 1e-3


def test_samples_are_repeatable_and_land_back_in_their_voxel():
    q, vol = small_volume()
    a = vol.draw_samples(500, random_state=3)
    b = vol.draw_samples(500, random_state=3)
    np.testing.assert_array_equal(a.coordinates, b.coordinates)
    np.random.seed(25)  # like siibra, the global generator by default
    c = vol.draw_samples(500)
    np.random.seed(25)
    np.testing.assert_array_equal(c.coordinates, vol.draw_samples(500).coordinates)
    # from_pointcloud counts each sample in the voxel it was drawn from: counts follow the density
    counts = volumes.from_pointcloud(a, target=vol, normalize=False).get_data()
    assert counts.sum() == pytest.approx(500)
    assert counts.ravel()[np.argmin(q)] == 0


def test_sampling_a_constant_volume_is_a_clear_error():
    vol = volumes.from_array(np.ones((3, 3, 3)), np.eye(4), name="flat")
    with pytest.raises(ValueError, match="constant"):
        vol.draw_samples(10)


# ---------------------------------------------------------------- peaks
def test_peaks_equal_scikit_image():
    from conftest import skimage_peaks as _skimage_peaks

    rng = np.random.default_rng(11)
    for t in range(40):
        a = rng.random((16, 18, 15))
        if t % 2:
            a = np.round(a * 3)  # plateaus and ties
        md = int(rng.integers(0, 7))
        if md == 0:
            with pytest.warns(RuntimeWarning):
                ref = _skimage_peaks(a, md)
        else:
            ref = _skimage_peaks(a, md)
        np.testing.assert_array_equal(volumes.peak_local_max(a, md), ref)
    flat = np.zeros((9, 9, 9))
    assert len(volumes.peak_local_max(flat, 2)) == len(_skimage_peaks(flat, 2)) == 0


def test_peaks_of_the_motor_map_equal_siibra():
    oracle = pytest.importorskip("oracle")
    img = nib.load(EXAMPLES["example:motor"])
    data = np.where(np.asanyarray(img.dataobj) < 3, 0, np.asanyarray(img.dataobj))
    vol = volumes.from_array(data, img.affine, "mni152", "motor")
    peaks = vol.find_peaks(mindist=5, sigma_mm=1.5)
    ref_mm, ref_labels = oracle.find_peaks(data, img.affine, 5)
    np.testing.assert_allclose(peaks.coordinates, ref_mm, atol=1e-9)
    np.testing.assert_array_equal(peaks.labels, ref_labels)
    assert np.all(peaks.sigma_mm == 1.5) and len(peaks) > 10
    values = data[tuple(np.round(np.linalg.solve(img.affine, np.c_[ref_mm, np.ones(len(ref_mm))].T)[:3]).astype(int))]
    assert np.all(np.diff(values) <= 0)  # strongest first


# ---------------------------------------------------------------- KDE
def test_kde_keeps_its_mass_and_has_the_right_width_in_mm():
    shape = (60, 50, 40)
    target = volumes.from_array(np.zeros(shape, np.float32), ANISO)
    centre = ANISO[:3, :3] @ (np.array(shape) / 2) + ANISO[:3, 3]
    sigma = 6.0
    pc = gpusiibra.PointCloud(np.repeat(centre[None], 20, axis=0), sigma_mm=sigma)
    kde = volumes.from_pointcloud(pc, target=target).get_data()
    assert kde.dtype == np.float32
    assert kde.sum(dtype=np.float64) == pytest.approx(1.0, abs=1e-6)
    raw = volumes.from_pointcloud(pc, target=target, normalize=False).get_data()
    assert raw.sum(dtype=np.float64) == pytest.approx(20, rel=1e-5)  # far from the border: no mass lost
    grid = np.stack(np.meshgrid(*[np.arange(s) for s in shape], indexing="ij"), -1).reshape(-1, 3)
    mm = grid @ ANISO[:3, :3].T + ANISO[:3, 3]
    w = kde.ravel().astype(np.float64)
    mean = w @ mm
    var = w @ (mm - mean) ** 2
    # the sampled Gaussian's variance is sigma^2 (+ voxel^2/12 from the counting grid's step, at most)
    voxel = np.diag(ANISO)[:3]
    assert np.all(var > sigma**2 * 0.97) and np.all(var < sigma**2 + voxel**2 / 12 + 0.5), var


def test_kde_equals_siibra_on_an_anisotropic_grid():
    oracle = pytest.importorskip("oracle")
    rng = np.random.default_rng(5)
    data = rng.random((14, 12, 10))
    pts = rng.random((300, 3)) * (np.diag(ANISO)[:3] * (np.array(data.shape) - 1)) + ANISO[:3, 3]
    labels = rng.integers(0, 3, len(pts))
    pc = gpusiibra.PointCloud(pts, sigma_mm=4.0, labels=labels)
    target = volumes.from_array(data, ANISO)
    for label, normalize in [(None, True), (2, True), (1, False)]:
        ours = volumes.from_pointcloud(pc, label=label, target=target, normalize=normalize).get_data()
        ref = oracle.from_pointcloud(pts, 4.0, labels, label, data, ANISO, normalize)
        np.testing.assert_allclose(ours, ref, rtol=1e-6, atol=1e-9)


def test_kde_errors():
    target = volumes.from_array(np.zeros((5, 5, 5)), np.eye(4))
    pc = gpusiibra.PointCloud([[1, 1, 1], [10, 1, 1]], sigma_mm=1, labels=[0, 1])
    with pytest.raises(ValueError, match="outside the target grid"):
        volumes.from_pointcloud(pc, target=target)
    assert volumes.from_pointcloud(pc, target=target, clip_out_of_bounds=True).get_data().sum() == pytest.approx(1)
    with pytest.raises(ValueError, match="no points with label 4"):
        volumes.from_pointcloud(pc, label=4, target=target)


# ---------------------------------------------------------------- clustering
def planted_blobs(rng, n_per=600, noise=150):
    centres = np.array([[-40, -20, 50], [38, -22, 58], [0, -80, 5], [20, 40, -10]], float)
    pts = np.concatenate([rng.normal(c, 3.0, (n_per, 3)) for c in centres] + [rng.uniform(-90, 90, (noise, 3))])
    truth = np.r_[np.repeat(np.arange(len(centres)), n_per), np.full(noise, -1)]
    return pts, truth


@pytest.mark.parametrize("method,kw", [("hdbscan", {}), ("dbscan", {"eps": 4.0, "min_samples": 8})])
def test_clusters_are_found_on_planted_blobs(method, kw):
    from sklearn.metrics import adjusted_rand_score

    pts, truth = planted_blobs(np.random.default_rng(2))
    pc = gpusiibra.PointCloud(pts)
    labels = pc.find_clusters(min_fraction=1 / 100, max_fraction=1 / 3, method=method, **kw)
    assert labels is pc.labels and labels.dtype == np.int64
    assert len(set(labels.tolist()) - {-1}) == 4
    blob = truth >= 0
    assert adjusted_rand_score(truth[blob], labels[blob]) > 0.95
    colors = pc.label_colors
    assert colors.shape == (4, 4)


def test_hdbscan_labels_equal_siibra():
    oracle = pytest.importorskip("oracle")
    pts, _ = planted_blobs(np.random.default_rng(4), n_per=300, noise=60)
    ours = gpusiibra.PointCloud(pts).find_clusters(min_fraction=1 / 200, max_fraction=1 / 8)
    np.testing.assert_array_equal(ours, oracle.find_clusters(pts, 1 / 200, 1 / 8))


def test_our_dbscan_gives_scikit_learns_labels():
    from sklearn.cluster import DBSCAN

    check_dbscan_against_sklearn(np.random.default_rng(9), trials=25, max_blob=300, max_noise=150)
    grid = np.stack(np.meshgrid(*[np.arange(5.0)] * 3, indexing="ij"), -1).reshape(-1, 3)  # distances == eps
    for ms in range(1, 9):
        np.testing.assert_array_equal(clustering.dbscan(grid, 1.0, ms), DBSCAN(eps=1.0, min_samples=ms).fit_predict(grid))
    assert len(clustering.dbscan(np.zeros((0, 3)), 1.0, 3)) == 0
    far = np.arange(30, dtype=float)[:, None] * [10.0, 0, 0]
    assert np.all(clustering.dbscan(far, 1.0, 2) == -1)


def test_clustering_errors():
    pc = gpusiibra.PointCloud(np.random.default_rng(0).random((50, 3)))
    with pytest.raises(ValueError, match="at least 2"):
        pc.find_clusters(min_fraction=1 / 200)
    with pytest.raises(ValueError, match="needs eps"):
        pc.find_clusters(method="dbscan")
    with pytest.raises(ValueError, match="unknown clustering method"):
        pc.find_clusters(method="kmeans")
    assert gpusiibra.PointCloud([[0, 0, 0]]).label_colors is None


# ---------------------------------------------------------------- the demo
def test_seed_workflow_is_deterministic_and_follows_the_seed(julich):
    from gpusiibra import demo

    vol = demo.motor_volume(3.0)
    a = demo.seed_workflow(julich, vol, n_samples=4000, seed=1)
    b = demo.seed_workflow(julich, vol, n_samples=4000, seed=1)
    assert a.assignments.equals(b.assignments)
    t = a.assignments
    assert list(t.columns) == ["type", "id", "region", "map value", "correlation"]
    assert set(t["type"]) == {"peak", "cluster"}
    assert (t.loc[t["type"] == "cluster", "correlation"] >= 0.2).all()
    assert (t.loc[t["type"] == "peak", "map value"] >= 0.5).all()
    assert t["correlation"].dropna().is_monotonic_decreasing
    assert t["correlation"].isna().to_numpy()[t["correlation"].notna().sum():].all()  # peaks last
    # the cluster rows are the assignment of each cluster's KDE map
    cl = int(t.loc[t["type"] == "cluster", "id"].iloc[0])
    direct = julich.assign(volumes.from_pointcloud(a.samples, label=cl, target=vol))
    top = direct.sort_values("correlation", ascending=False).iloc[0]
    row = t[(t["type"] == "cluster") & (t["id"] == cl)].iloc[0]
    assert row["region"] == top["region"] and row["correlation"] == top["correlation"]


@pytest.mark.slow
def test_demo_writes_figures_and_report(tmp_path, capsys):
    pytest.importorskip("nilearn")
    from matplotlib.image import imread

    out = tmp_path / "demo"
    assert cli(["demo", "--out", str(out), "--seed", "3", "--samples", "4000", "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "report:" in printed and "cluster" in printed
    names = sorted(os.listdir(out))
    assert "report.html" in names and "assignments.csv" in names
    pngs = [n for n in names if n.endswith(".png")]
    assert {"input_peaks.png", "clusters.png"} <= set(pngs)
    assert any(n.startswith("cluster_") for n in pngs) and any(n.startswith("region_") for n in pngs)
    for n in pngs:
        img = imread(str(out / n))[..., :3]
        assert img.shape[0] > 100 and img.shape[1] > 200
        assert (img.std(axis=2) > 0.05).mean() > 0.005, f"{n} has almost no coloured pixels"
    page = (out / "report.html").read_text()
    # one self-contained page (the study report's machinery): every figure embedded, nothing loaded from elsewhere
    assert page.count('<img src="data:image/png;base64,') == len(pngs)
    assert "<table" in page and 'src="http' not in page
