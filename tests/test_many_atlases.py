"""Several atlases in one pass, atlases compared, cluster tables labelled under several atlases."""
import json
import os

import numpy as np
import pandas as pd
import pytest

import gpusiibra
from gpusiibra import _engine, batch
from gpusiibra.cli import main as cli
from gpusiibra.compare import compare_atlases
from gpusiibra.demo import write_example_study


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    return write_example_study(str(tmp_path_factory.mktemp("study")), 4)


@pytest.fixture(scope="module")
def atlases3():
    """Three atlases on two grids: the embedded one, its MPM (same grid), the MPM on a 2 mm grid."""
    import sys

    sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "bench"))
    from bench_atlases import mpm_2mm

    top2, mpm = gpusiibra.get_map(), gpusiibra.get_map("julich-3.1-top2-mpm")
    return top2, mpm, mpm_2mm(mpm)


def _rows(df):
    df = df.drop(columns=[c for c in ("atlas", "fragment") if c in df]).copy()
    df["centroid"] = df["centroid"].map(tuple)
    return df.sort_values(["input", "frame", "sign", "kind", "input structure", "volume", "region"]
                          ).reset_index(drop=True)


def test_each_atlas_of_a_pass_gives_its_own_rows_and_maps_are_labelled_once_per_grid(study, atlases3, monkeypatch,
                                                                                     on_backend):
    calls = []
    support = _engine.support_entries

    def counting(images, shape, affine, **kw):
        calls.append(tuple(shape))
        return support(images, shape, affine, **kw)

    monkeypatch.setattr(_engine, "support_entries", counting)
    monkeypatch.setattr(_engine, "CPU_PASS_REACH", 10 ** 12)  # the chunk in one pass on the CPU too
    together, s = batch.assign_batch(list(atlases3), study, threshold=3.1, peaks=True, progress=False, readers=1,
                                     chunk_size=64)
    assert s.failures == 0 and sorted(set(calls)) == sorted({tuple(a.shape) for a in atlases3})
    assert len(calls) == 2  # one chunk, two grids: the second atlas on the first grid reuses its labelling
    labels = together["atlas"].unique().tolist()
    assert labels == ["julich-3.1-top2", "julich-3.1-top2-mpm", "julich-3.1-top2-mpm-2mm"]
    for smap, label in zip(atlases3, labels):
        alone, _ = batch.assign_batch(smap, study, threshold=3.1, peaks=True, progress=False, readers=1)
        pd.testing.assert_frame_equal(_rows(together[together["atlas"] == label]), _rows(alone))


def test_a_dataset_of_several_atlases_resumes_and_refuses_another_atlas_set(study, atlases3, tmp_path, capsys):
    out = str(tmp_path / "two.parquet")
    _, s = batch.assign_batch(list(atlases3[:2]), study, out, threshold=3.1, progress=False)
    assert s.maps == 5
    _, s2 = batch.assign_batch(list(atlases3[:2]), study, out, threshold=3.1, progress=False, resume=True)
    assert s2.maps == 0 and s2.skipped == 5
    with pytest.raises(gpusiibra.DatasetError, match="atlas"):
        batch.assign_batch(atlases3[0], study, out, threshold=3.1, progress=False, resume=True)
    with pytest.raises(gpusiibra.OptionError, match="given twice"):
        batch.assign_batch([atlases3[0], atlases3[0]], study, progress=False)
    from gpusiibra.dataset import atlas_identities, read_manifest

    idents = atlas_identities(read_manifest(out)[0]["atlas"])
    assert [a["label"] for a in idents] == ["julich-3.1-top2", "julich-3.1-top2-mpm"]
    assert [a["kind"] for a in idents] == ["statistical", "labelled"] and all(a["space"] for a in idents)


def test_compare_two_atlases_component_by_component_and_by_map_across_grids(study, atlases3, tmp_path, capsys):
    out = str(tmp_path / "three.parquet")
    batch.assign_batch(list(atlases3), study, out, threshold=3.1, progress=False)
    rows = pd.read_parquet(out)
    comp = rows[rows["kind"] == "component"]
    res = compare_atlases(out, "julich-3.1-top2", "julich-3.1-top2-mpm")
    assert res.by == "component"
    # by hand: the best region (highest correlation) of each component under each atlas
    best = {a: comp[comp["atlas"] == a].sort_values("correlation", ascending=False, kind="stable")
            .drop_duplicates(["input", "frame", "sign", "input structure"])
            .set_index(["input", "frame", "sign", "input structure"])["region"]
            for a in ("julich-3.1-top2", "julich-3.1-top2-mpm")}
    both = pd.concat(best, axis=1).fillna("")
    assert res.compared == len(both) and res.changed == int((both.iloc[:, 0] != both.iloc[:, 1]).sum())
    assert 0 < res.changed < res.compared
    across = compare_atlases(out, "julich-3.1-top2-mpm", "julich-3.1-top2-mpm-2mm", measure="intersection over union")
    assert across.by == "map" and across.compared == 5
    assert cli(["compare", out, "--atlas", "julich-3.1-top2", "--atlas", "julich-3.1-top2-mpm", "--out",
                str(tmp_path / "c.csv"), "--changed"]) == 0
    text = capsys.readouterr().out
    assert f"{res.compared} components compared by correlation: {res.changed}" in text
    assert len(pd.read_csv(tmp_path / "c.csv")) == res.compared
    # a release that respells its regions (case, punctuation) keeps them: not changed, respelled
    mpm = rows[rows["atlas"] == "julich-3.1-top2-mpm"]
    respelled = mpm.assign(atlas="renamed", region=mpm["region"].str.replace("Area ", "AREA ", regex=False)
                           .str.replace(", ", ",", regex=False).str.replace("(", "[", regex=False))
    renamed = compare_atlases(pd.concat([mpm, respelled]), "julich-3.1-top2-mpm", "renamed")
    assert renamed.changed == 0 and 0 < renamed.respelled == int(renamed.table["region [renamed]"].str.contains(
        "AREA |\\[").sum()) and "keep a region whose name is spelled differently" in str(renamed)
    with pytest.raises(gpusiibra.OptionError, match="no rows of atlas 'dk'"):
        compare_atlases(out, "julich-3.1-top2", "dk")
    assert cli(["compare", out]) == 2  # three atlases: which two must be said
    assert "name the two atlases to compare: the dataset has 3" in capsys.readouterr().err


def test_compare_says_what_an_incomplete_dataset_leaves_out(study, atlases3, tmp_path, capsys):
    """A part missing or damaged, or a run that did not end: compare warns (API and CLI), as report does, and
    never counts fewer components in silence."""
    out = str(tmp_path / "two.parquet")
    batch.assign_batch(list(atlases3[:2]), study, out, threshold=3.1, chunk_size=1, progress=False)
    whole = compare_atlases(out)  # a dataset of two atlases: they need not be named
    assert whole.notes == [] and whole.atlases == ("julich-3.1-top2", "julich-3.1-top2-mpm")
    os.remove(os.path.join(out, "part-00002.parquet"))
    with pytest.warns(RuntimeWarning, match="part-00002.parquet: the part file is missing; its 1 maps are left "
                                            "out of this comparison"):
        part = compare_atlases(out)
    assert 0 < part.compared < whole.compared and len(part.notes) == 1
    assert cli(["compare", out]) == 0
    captured = capsys.readouterr()
    assert "warning: part-00002.parquet: the part file is missing" in captured.err
    assert f"{part.compared} components compared" in captured.out
    # a run stopped before its end record
    manifest = os.path.join(out, gpusiibra.dataset.MANIFEST)
    with open(manifest, "rb") as f:
        lines = f.read().split(b"\n")
    end = [i for i, line in enumerate(lines) if line and json.loads(line.split(b" ", 1)[1])["type"] == "end"]
    assert end
    with open(manifest, "wb") as f:
        f.write(b"\n".join(line for i, line in enumerate(lines) if i not in end))
    with pytest.warns(RuntimeWarning, match="did not finish"):
        compare_atlases(out)


def test_the_report_has_a_section_per_atlas(study, atlases3, tmp_path):
    from gpusiibra.report import study_report

    out = str(tmp_path / "two.parquet")
    batch.assign_batch(list(atlases3[:2]), study, out, threshold=3.1, progress=False)
    rep = study_report(out, out + ".html", figures=False)
    page = open(out + ".html").read()
    assert "Regions: julich-3.1-top2</h2>" in page and "Regions: julich-3.1-top2-mpm</h2>" in page
    assert set(rep.frequency["atlas"]) == {"julich-3.1-top2", "julich-3.1-top2-mpm"}
    assert set(rep.per_map["atlas"]) == {"julich-3.1-top2", "julich-3.1-top2-mpm"}


def test_a_cluster_table_labelled_under_two_atlases(tmp_path):
    from gpusiibra.tables import label_points

    clusters = pd.DataFrame({"Cluster ID": ["1", "2"], "X": [-40, 38], "Y": [-20, -22], "Z": [55, 58],
                             "Peak Stat": [7.1, 6.3]})
    got = label_points(clusters, ["julich-3.1-top2", "julich-3.1-top2-mpm"])
    assert list(got.columns[:6]) == ["Cluster ID", "X", "Y", "Z", "Peak Stat", "atlas"]
    one = label_points(clusters, "julich-3.1-top2-mpm")
    block = got[got["atlas"] == "julich-3.1-top2-mpm"].drop(columns="atlas").reset_index(drop=True)
    pd.testing.assert_frame_equal(block, one, check_dtype=False)
    assert one["map value"].tolist() == [
        gpusiibra.get_map("julich-3.1-top2-mpm").labels[gpusiibra.get_map().regions.index(r)] for r in one["region"]]
    with pytest.raises(gpusiibra.OptionError, match="one atlas"):
        from gpusiibra.tables import label_points_batch

        label_points_batch(clusters, str(tmp_path / "p.parquet"), "julich-3.1-top2,julich-3.1-top2-mpm")


def test_the_embedded_maximum_probability_map_labels_each_voxel_with_its_most_probable_region():
    top2, mpm = gpusiibra.get_map(), gpusiibra.get_map("julich-3.1-top2-mpm")
    ix = top2.sparse_index
    rng = np.random.default_rng(3)
    for row in rng.choice(ix.n_rows, 50, replace=False):
        probs = ix.row(int(row))
        want = max(probs, key=lambda r: (probs[r], -r))
        v = int(ix.row_voxel[row])
        got = mpm.sparse_index.entry_region[mpm.sparse_index.row_ptr[np.searchsorted(mpm.sparse_index.row_voxel, v)]]
        assert int(got) == want
