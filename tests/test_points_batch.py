"""Coordinate tables of any length into a results dataset (issue 21): the same rows as labelling the whole table,
resumable after a stop, refused when the table changed; the CPU's Gaussian route against the kernel's."""
import os

import numpy as np
import pandas as pd
import pytest
from nibabel.affines import apply_affine

import cuda_emulator
import gpusiibra
from conftest import stop_writes_after
from gpusiibra import DatasetError, PointsFileError
from gpusiibra.cli import main as cli
from gpusiibra.tables import label_points, label_points_batch


@pytest.fixture
def table(julich, tmp_path):
    """300 points, most in the brain, some outside the grid, a study column and a contrast column."""
    ix = julich.sparse_index
    rng = np.random.default_rng(21)
    mapped = np.argwhere(ix.voxels >= 0)
    xyz = np.round(apply_affine(ix.affine, mapped[rng.choice(len(mapped), 300, replace=False)]), 1)
    xyz[::37] = [0, 0, 300]  # outside the grid
    df = pd.DataFrame({"id": [f"{i // 3}-{i % 3}" for i in range(300)], "study_id": rng.integers(0, 40, 300),
                       "x": xyz[:, 0], "y": xyz[:, 1], "z": xyz[:, 2], "contrast": ["a", "b", "c"] * 100})
    path = tmp_path / "coordinates.tsv"
    df.to_csv(path, sep="\t", index=False)
    return path


def _sorted(df):
    return df.sort_values(["row", "volume"], na_position="last").reset_index(drop=True)


@pytest.mark.parametrize("sigma", [0.0, 5.0])
def test_a_points_dataset_holds_the_whole_tables_labels_and_resumes_after_a_stop(julich, table, tmp_path,
                                                                                 monkeypatch, sigma):
    with pytest.warns(RuntimeWarning, match="outside the atlas grid"):
        whole = label_points(table, julich, sigma_mm=sigma, keep_row=True).rename(columns={"_row": "row"})
    out = tmp_path / "full.parquet"
    with pytest.warns(RuntimeWarning, match="outside the atlas grid"):
        s = label_points_batch(table, out, julich, sigma_mm=sigma, chunk_rows=64, progress=False)
    assert s.points == s.assigned == 300 and s.rows == len(whole)
    got = pd.read_parquet(out)
    assert list(got.columns[:7]) == ["id", "study_id", "x", "y", "z", "contrast", "row"]
    pd.testing.assert_frame_equal(_sorted(got)[whole.columns], _sorted(whole), check_dtype=False)
    # stopped after two chunks, then resumed: the same dataset
    stopped = tmp_path / "stopped.parquet"
    real = stop_writes_after(monkeypatch, 2)
    with pytest.raises(KeyboardInterrupt), pytest.warns(RuntimeWarning):
        label_points_batch(table, stopped, julich, sigma_mm=sigma, chunk_rows=64, progress=False)
    monkeypatch.setattr(gpusiibra.dataset.Dataset, "write", real)
    with pytest.warns(RuntimeWarning):
        s = label_points_batch(table, stopped, julich, sigma_mm=sigma, chunk_rows=64, progress=False, resume=True)
    assert s.skipped == 128 and s.assigned == 172
    pd.testing.assert_frame_equal(_sorted(pd.read_parquet(stopped)), _sorted(got))


def test_a_points_dataset_refuses_other_options_a_changed_table_and_bad_rows(julich, table, tmp_path, capsys):
    out = tmp_path / "p.parquet"
    with pytest.warns(RuntimeWarning):
        label_points_batch(table, out, julich, sigma_mm=0.0, chunk_rows=100, progress=False)
    with pytest.raises(DatasetError, match="sigma_mm 0.0 -> 5.0"):
        label_points_batch(table, out, julich, sigma_mm=5.0, chunk_rows=100, progress=False, resume=True)
    with open(table, "a") as f:
        f.write("9-9\t1\t-40\t-20\t55\ta\n")
    with pytest.raises(DatasetError, match="changed since"):
        label_points_batch(table, out, julich, sigma_mm=0.0, chunk_rows=100, progress=False, resume=True)
    with open(table, "a") as f:
        f.write("9-9\t1\t-40\tnot-a-number\t55\ta\n")
    bad_out = tmp_path / "bad.parquet"
    with pytest.raises(PointsFileError, match="line 303: coordinate y 'not-a-number' is not a number"):
        label_points_batch(table, bad_out, julich, progress=False)
    assert not bad_out.exists()  # every row is checked before anything is written
    # the command line: a dataset for a .parquet name, one line for a mistake
    assert cli(["points", str(table), "--out", str(tmp_path / "cli.parquet"), "--quiet"]) == 2
    assert "not-a-number" in capsys.readouterr().err


def _random_points(julich, rng, n):
    ix = julich.sparse_index
    shape = np.array(ix.shape)
    vox = np.concatenate([rng.integers(0, shape, (n - 4, 3)), [[0, 0, 0], shape - 1, [0, 100, 80], [150, 3, 160]]])
    return apply_affine(ix.affine, vox)


def test_the_cpus_gaussian_route_makes_a_fixed_number_of_array_calls_whatever_the_points(julich, rng, monkeypatch):
    """The uncertain points of a chunk are scored with the same number of array calls for 6, 20 or 60 points
    (counted through a wrapper of the array module, as the maps engine is); only cubes beyond the memory bound of
    a batch (2M voxels) make more batches."""
    from gpusiibra import _point_kernels, backend
    from test_engine import _Counting

    monkeypatch.setattr(_point_kernels.os, "cpu_count", lambda: 1)  # the batches one after the other: exact counts
    calls = []
    for n in (6, 20, 60):
        pts = _random_points(julich, rng, n)
        counter = _Counting(backend.xp())
        with monkeypatch.context() as m:
            m.setattr(backend, "xp", lambda: counter)
            got = julich.assign(gpusiibra.PointCloud(pts, sigma_mm=np.where(np.arange(n) % 2, 5.0, 7.5)))
        assert got["input structure"].nunique() >= n // 2
        calls.append(counter.calls)
    assert calls[0] == calls[1] == calls[2] and calls[0] < 80, calls


def test_the_devices_gaussian_route_waits_for_the_device_a_fixed_handful_of_times(julich, rng, monkeypatch):
    """Through the kernels' host emulation (the device's route), counted by tests/host_waits.py: the same few waits
    (the pairs' compaction, the copies back) for 6, 20 or 60 uncertain points."""
    import host_waits

    if not cuda_emulator.available():
        pytest.skip("no C++ compiler for the kernel emulator")
    cuda_emulator.install(monkeypatch)
    seen = []
    for n in (6, 20, 60):
        pts = _random_points(julich, rng, n)
        with host_waits.counting() as counts:
            got = julich.assign(gpusiibra.PointCloud(pts, sigma_mm=5.0))
        assert got["input structure"].nunique() >= n // 2
        seen.append(host_waits.waits(counts))
    assert seen[0] == seen[1] == seen[2] <= 5, seen


def test_cubes_cut_one_by_one_give_the_gathered_cubes_numbers(julich, rng, monkeypatch):
    """Cubes wider than the gather's limit are cut to the grid one by one: the same rows, bit for bit, as the
    gathered cubes (checked by lowering the limit), with widths mixed in one batch."""
    from gpusiibra import _point_kernels

    pts = _random_points(julich, rng, 40)
    sig = rng.choice([3.0, 5.0, 7.5], 40)
    gathered = julich.assign(gpusiibra.PointCloud(pts, sigma_mm=sig))
    monkeypatch.setattr(_point_kernels, "_GATHER_MAX_WIDTH", 20)  # the 5 and 7.5 mm cubes (31, 45 wide) are cut
    cut = julich.assign(gpusiibra.PointCloud(pts, sigma_mm=sig))
    pd.testing.assert_frame_equal(gathered, cut)


def _brute_force_sums(julich, vox, sigma_mm, lower_threshold):
    """Per region: sum p x and #{p > 0} over one point's cube cut to the grid, one voxel and entry at a time."""
    from gpusiibra._assign import gaussian_profile

    ix = julich.sparse_index
    g, total = gaussian_profile(sigma_mm / float(np.mean(np.abs(np.diag(ix.affine)[:3]))))
    rad = (len(g) - 1) // 2
    corner = np.asarray(vox) - rad
    lo, hi = np.maximum(corner, 0), np.minimum(corner + len(g), ix.shape)
    sums = {}
    for v in np.ndindex(*(hi - lo)):
        v = lo + v
        row = ix.voxels[tuple(v)]
        if row < 0:
            continue
        x = ((g[v[0] - corner[0]] * g[v[1] - corner[1]]) * g[v[2] - corner[2]]) / total
        for e in range(ix.row_ptr[row], ix.row_ptr[row + 1]):
            p = float(ix.entry_value[e])
            p = 0.0 if p < lower_threshold else p
            s, k = sums.get(int(ix.entry_region[e]), (0.0, 0))
            sums[int(ix.entry_region[e])] = (s + p * x, k + (p > 0))
    return {r: sk for r, sk in sums.items() if sk[1] > 0}


@pytest.mark.parametrize("route", ["cubes", "smoothed"])
def test_a_cube_that_reaches_the_grid_from_outside_it_is_summed_over_the_grid(julich, monkeypatch, route):
    """Uncertain points whose voxel lies outside the grid (before its first voxel and past its last) but whose cube
    reaches it: each region's sum and count equal a voxel-by-voxel sum over the cube's part on the grid (the cube
    route once read such cubes from the wrong end of its padded volume, or failed)."""
    from gpusiibra import _point_kernels
    from gpusiibra._assign import gaussian_profile

    monkeypatch.setattr(_point_kernels, "_SMOOTHING_COST", 0.0 if route == "smoothed" else float("inf"))
    ix = julich.sparse_index
    shape = np.array(ix.shape)
    vox = np.array([[-5, 50, 50], [80, 80, shape[2] + 4], [shape[0] + 2, 100, 100], [shape[0] + 9, 100, 80],
                    [80, 100, shape[2] + 9], [-14, 90, 60]])
    g, total = gaussian_profile(5.0)
    rad = (len(g) - 1) // 2
    corner = vox - rad
    lo, hi = np.maximum(corner, 0), np.minimum(corner + len(g), shape)
    for thr in (0.0, 0.3):
        pc, pr, spx, inter = _point_kernels.accumulate_gaussian_points(ix, corner, lo, hi, np.zeros(len(vox), np.int64),
                                                                       [(g, total)], thr)
        for i, v in enumerate(vox):
            want = _brute_force_sums(julich, v, 5.0, thr)
            mine = pc == i
            assert sorted(want) == pr[mine].tolist()
            assert len(want) > 0 or i >= 3  # the first three cubes meet mapped voxels above 0.3 too
            np.testing.assert_array_equal(inter[mine], [want[r][1] for r in sorted(want)])
            np.testing.assert_allclose(spx[mine], [want[r][0] for r in sorted(want)], rtol=1e-12, atol=0)


def test_points_sharing_a_sigma_through_the_smoothed_atlas_give_the_cube_routes_rows(julich, rng, monkeypatch,
                                                                                      lower_threshold=0.3):
    """The CPU's two routes for uncertain points (cube by cube; every region's map smoothed once, for many points of
    one sigma): the same pairs and counts and every statistic within 1e-12, cubes inside the grid and cut at its
    faces and corners, two sigmas, a lower threshold (the golden cases below take none); the route is chosen per
    sigma by its cubes' voxels on the grid."""
    from gpusiibra import _point_kernels

    pts = _random_points(julich, rng, 60)
    sig = np.where(np.arange(60) % 4, 5.0, 4.0)
    got = {}
    for route, cost in (("cubes", float("inf")), ("smoothed", 0.0)):
        monkeypatch.setattr(_point_kernels, "_SMOOTHING_COST", cost)
        got[route] = julich.assign(gpusiibra.PointCloud(pts, sigma_mm=sig), lower_threshold=lower_threshold)
    cubes, smoothed = got["cubes"], got["smoothed"]
    assert len(cubes) > 400
    numbers = ["correlation", "map weighted mean", "input weighted mean"]
    pd.testing.assert_frame_equal(cubes.drop(columns=numbers), smoothed.drop(columns=numbers))
    for c in numbers:
        np.testing.assert_allclose(smoothed[c], cubes[c], rtol=0, atol=1e-12)
    assert not all(np.array_equal(smoothed[c], cubes[c]) for c in numbers)  # the other route did run
    # which route a sigma takes: the smoothing's work against the points' cube voxels
    ix = julich.sparse_index
    monkeypatch.undo()
    profile = gaussian_profile_of(5.0)
    assert not _point_kernels._smoothing_pays(ix, profile, 10 * 31 ** 3)  # 10 cubes of 31^3 voxels
    assert _point_kernels._smoothing_pays(ix, profile, 20000 * 31 ** 3)
    # a cube far wider than the grid costs its part on the grid: 300 points of 50 mm take the cubes
    assert not _point_kernels._smoothing_pays(ix, gaussian_profile_of(50.0), 300 * int(np.prod(ix.shape)))


def gaussian_profile_of(sigma_mm):
    from gpusiibra._assign import gaussian_profile

    return gaussian_profile(sigma_mm)  # the embedded atlas's grid is 1 mm


@pytest.mark.parametrize("case", ["points_sigma5", pytest.param("points_sigma_varied", marks=pytest.mark.slow)])
def test_the_smoothed_route_gives_the_golden_rows(julich, monkeypatch, case):
    """siibra's own rows (tests/golden) through the smoothed atlas, every point's sigma taking that route."""
    from golden_cases import CASES, compare_with_golden

    from gpusiibra import _point_kernels

    monkeypatch.setattr(_point_kernels, "_SMOOTHING_COST", 0.0)
    calls = []
    real = _point_kernels._gaussian_points_smoothed
    monkeypatch.setattr(_point_kernels, "_gaussian_points_smoothed", lambda *a: calls.append(1) or real(*a))
    compare_with_golden(CASES[case](julich), case)
    assert len(calls) == (1 if case == "points_sigma5" else 4)


def test_a_table_in_another_space_is_refused_unless_the_user_says_so(julich, tmp_path, capsys):
    nimare = pd.DataFrame({"id": ["s1", "s2"], "x": [-40, 38], "y": [-20, -22], "z": [55, 58],
                           "space": ["MNI", "TAL"]})
    with pytest.raises(PointsFileError, match="1 row says its coordinates are in 'TAL', not MNI152: the table mixes "
                                              "spaces: say --space column"):
        label_points(nimare, julich)
    with pytest.warns(RuntimeWarning, match="'TAL', not MNI: taken as they are"):
        assert len(label_points(nimare, julich, space="MNI")) > 0
    assert len(label_points(nimare.assign(space=["mni152_2mm".replace("_2mm", ""), "ICBM"]), julich)) > 0
    path = tmp_path / "t.csv"
    nimare.to_csv(path, index=False)
    assert cli(["points", str(path)]) == 2 and "--space column" in capsys.readouterr().err
    assert cli(["points", str(path), "--space", "MNI"]) == 0
    assert "'TAL', not MNI: taken as they are (--space MNI)" in capsys.readouterr().err


def test_the_regions_of_each_study(julich, table, tmp_path, capsys):
    out = tmp_path / "s.parquet"
    with pytest.warns(RuntimeWarning):
        s = label_points_batch(table, out, julich, chunk_rows=100, progress=False, by="study_id")
    got = s.by_group
    df = pd.read_csv(table, sep="\t")
    # every point counted once, in its group; shares sum to 1 per group
    assert got.groupby("study_id")["points"].sum().to_dict() == df.groupby("study_id").size().to_dict()
    np.testing.assert_allclose(got.groupby("study_id")["share"].sum(), 1.0)
    rows = pd.read_parquet(out)  # the summary file does not disturb the dataset
    best = rows.sort_values(["row", "map value"], ascending=[True, False]).drop_duplicates("row")
    one = best[best["study_id"] == got["study_id"].iloc[0]]["region"].fillna("").value_counts()
    assert one.iloc[0] == got["points"].iloc[0]
    on_disk = pd.read_csv(out / "_summary-by-study_id.csv", keep_default_na=False)
    assert list(on_disk["points"]) == list(got["points"])
    with pytest.raises(gpusiibra.OptionError, match="no such column"):
        label_points_batch(table, tmp_path / "x.parquet", julich, progress=False, by="nope")
    assert cli(["points", str(table), "--out", str(tmp_path / "c.parquet"), "--by", "study_id", "--quiet"]) == 0
    out_text, err_text = capsys.readouterr()
    assert "the regions of each study_id" in out_text and "outside the atlas grid" in err_text


def test_the_report_of_a_points_dataset(julich, table, tmp_path, capsys):
    """`gpusiibra report` on what `gpusiibra points --out` wrote: the points' best regions (not a traceback)."""
    from gpusiibra.report import study_report

    out = tmp_path / "p.parquet"
    with pytest.warns(RuntimeWarning):
        label_points_batch(table, out, julich, chunk_rows=100, progress=False, by="study_id")
    rep = study_report(out, tmp_path / "p.html", figures=False)
    rows = pd.read_parquet(out)
    best = rows.sort_values(["row", "map value"], ascending=[True, False]).drop_duplicates("row")
    assert rep.maps == 300 and rep.measure == "map value" and rep.notes == []
    assert rep.frequency.set_index("region")["points"].to_dict() == best["region"].value_counts().to_dict()
    page = (tmp_path / "p.html").read_text()
    assert 'id="n-points">300<' in page and "Regions of each study_id" in page
    os.remove(out / "part-00001.parquet")
    assert cli(["report", str(out), "--out", str(tmp_path / "q.html")]) == 0
    text = capsys.readouterr()
    assert "200 points" in text.out and "part-00001.parquet: the part file is missing" in text.err


def test_points_options_that_would_lose_or_misplace_results_are_refused_first(tmp_path, capsys):
    """Trial findings 7, 17, 19, 20: --by with a CSV --out was ignored; --out r.xlsx got CSV text; an existing
    file or unrelated folder as a dataset --out gave a raw OS error or "continue it with --resume"; --out the input
    table overwrote it. Each is one line, before any work, and nothing is written."""
    from gpusiibra.errors import OptionError

    table = tmp_path / "p.csv"
    table.write_text("x,y,z,study\n-40,-20,55,a\n38,-22,58,b\n")
    before = table.read_text()
    cases = [(["--by", "study", "--out", "r.csv"], "--by study needs a results dataset --out (a name ending in "
                                                   ".parquet"),
             (["--by", "study"], "--by study needs a results dataset --out"),
             (["--out", "r.xlsx"], "--out r.xlsx: points writes a table (.csv, .tsv, .txt, .csv.gz, .tsv.gz, .txt.gz) or a "
                                   "results dataset"),
             (["--out", str(table)], "is the input table"),
             (["--out", os.path.join(str(tmp_path), ".", "p.csv")], "is the input table"),
             (["--out", "file.parquet"], "file.parquet: is a file, not a results dataset"),
             (["--out", "folder.parquet"], "folder.parquet: is a folder that is not a results dataset (it has no "
                                           "manifest): choose another --out")]
    (tmp_path / "file.parquet").write_text("mine")
    (tmp_path / "folder.parquet").mkdir()
    (tmp_path / "folder.parquet" / "notes.txt").write_text("mine")
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        for args, says in cases:
            assert cli(["points", str(table), "--quiet", *args]) == 2, args
            err = capsys.readouterr().err
            assert says in err and err.count("\n") == 1 and "Errno" not in err, (args, err)
        for resume in (False, True):  # assign's dataset: the same words
            with pytest.raises(DatasetError, match="is a folder that is not a results dataset"):
                gpusiibra.dataset.Dataset("folder.parquet", resume, {}, {})
    finally:
        os.chdir(cwd)
    assert table.read_text() == before and sorted(os.listdir(tmp_path)) == ["file.parquet", "folder.parquet", "p.csv"]
    assert (tmp_path / "file.parquet").read_text() == "mine"
    assert os.listdir(tmp_path / "folder.parquet") == ["notes.txt"]
    assert cli(["points", str(table), "--out", str(tmp_path / "r.tsv")]) == 0
    assert list(pd.read_csv(tmp_path / "r.tsv", sep="\t").columns[:4]) == ["x", "y", "z", "study"]
    assert issubclass(OptionError, gpusiibra.GpusiibraError)


def test_a_sigma_option_over_a_sigma_column_is_said_once_and_counts_are_singular(julich, tmp_path, recwarn):
    """Trial finding 24: --sigma 5 silently overrode a sigma_mm column; "1 rows"."""
    table = tmp_path / "p.csv"
    table.write_text("x,y,z,sigma_mm\n-40,-20,55,1\n38,-22,58,2\n")
    s = label_points_batch(table, tmp_path / "s.parquet", julich, sigma_mm=5.0, chunk_rows=1, progress=False)
    said = [w for w in recwarn if "not its 'sigma_mm' column" in str(w.message)]
    assert len(said) == 1 and "p.csv: every point's sigma is 5 mm" in str(said[0].message)
    rows = pd.read_parquet(tmp_path / "s.parquet").drop_duplicates("row")
    assert list(rows["sigma_mm"]) == [5.0, 5.0]  # the sigma used, not the column it overrode
    recwarn.clear()
    label_points(table, [julich, julich], sigma_mm=5.0)
    assert len([w for w in recwarn if "not its 'sigma_mm' column" in str(w.message)]) == 1
    one = tmp_path / "one.csv"
    one.write_text("x,y,z\n0,0,300\n")
    with pytest.warns(RuntimeWarning):
        s = label_points_batch(one, tmp_path / "one.parquet", julich, progress=False)
    assert str(s).startswith("1 point: 1 assigned, 1 row, ")
