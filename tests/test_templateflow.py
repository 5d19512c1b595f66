"""TemplateFlow's transforms fetched once with the atlases' guarantees, through a loopback mirror (no network)."""
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
from atlas_server import AtlasServer

from gpusiibra import _templateflow as tf
from gpusiibra._itk import AffineStep, FieldStep, read_itk_h5, write_itk_h5
from gpusiibra.errors import DownloadError, OptionError

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TPL, FRM = "MNI152NLin2009cAsym", "MNI152NLin6Asym"


def _xfm_bytes(tmp_path, seed=0):
    rng = np.random.default_rng(seed)
    m = np.eye(4)
    m[:3, 3] = rng.normal(0, 2, 3)
    aff = np.diag([4.0, 4.0, 4.0, 1.0])
    aff[:3, 3] = -12
    path = tmp_path / f"made-{seed}.h5"
    write_itk_h5(path, [FieldStep(rng.normal(0, 1, (7, 6, 7, 3)), aff), AffineStep(m)])
    return path.read_bytes()


@pytest.fixture
def server(monkeypatch, tmp_path):
    s = AtlasServer()
    monkeypatch.setenv(tf.MIRROR_ENV, s.url)
    monkeypatch.delenv(tf.HOME_ENV, raising=False)
    monkeypatch.setenv("GPUSIIBRA_CACHE", str(tmp_path / "cache"))
    yield s
    s.stop()


def test_the_published_urls_and_directions():
    assert tf.transform_url(TPL, FRM) == ("https://templateflow.s3.amazonaws.com/tpl-MNI152NLin2009cAsym/"
                                          "tpl-MNI152NLin2009cAsym_from-MNI152NLin6Asym_mode-image_xfm.h5")
    assert tf.transform_file(FRM, TPL) == "tpl-MNI152NLin6Asym_from-MNI152NLin2009cAsym_mode-image_xfm.h5"
    with pytest.raises(OptionError, match="no transform from MNI305 to MNI152NLin6Asym"):
        tf.fetch_transform("MNI152NLin6Asym", "MNI305")


def test_fetched_once_through_the_mirror_recorded_and_loaded_from_its_parsed_copy(server, tmp_path, capsys):
    data = _xfm_bytes(tmp_path)
    server.put(tf.transform_url(TPL, FRM), data)
    xfm = tf.image_transform(FRM, TPL, progress=False)  # pulls 6Asym images onto 2009c
    ref = read_itk_h5(tmp_path / "made-0.h5")
    pts = np.random.default_rng(1).uniform(-20, 20, (50, 3))
    np.testing.assert_array_equal(xfm.map_points(pts), ref.map_points(pts))
    assert xfm.name == tf.transform_file(TPL, FRM) and xfm.sha256 == ref.sha256
    folder = tmp_path / "cache" / "templateflow" / f"tpl-{TPL}"
    assert sorted(os.listdir(folder)) == [".lock", "checksums.json", xfm.name, xfm.name + ".npz"]
    tf._LOADED.clear()  # as a new process
    again = tf.load_transform(TPL, FRM, progress=False)
    assert again.sha256 == ref.sha256 and server.hits[server.path(tf.transform_url(TPL, FRM))] == 1
    np.testing.assert_array_equal(again.map_points(pts), ref.map_points(pts))
    # points go the other way: 2009c points -> 6Asym use the file into 6Asym
    server.put(tf.transform_url(FRM, TPL), _xfm_bytes(tmp_path, 1))
    assert tf.point_transform(TPL, FRM, progress=False).name == tf.transform_file(TPL, FRM)
    assert tf.point_transform(FRM, TPL, progress=False).name == tf.transform_file(FRM, TPL)


def test_a_damaged_cached_transform_is_fetched_again_saying_so(server, tmp_path, capsys):
    data = _xfm_bytes(tmp_path)
    server.put(tf.transform_url(TPL, FRM), data)
    path = tf.fetch_transform(TPL, FRM, progress=False)
    tf.load_transform(TPL, FRM, progress=False)
    with open(path, "r+b") as f:  # bytes changed in the middle, the size kept
        f.seek(len(data) // 2)
        f.write(b"\xff" * 16)
    tf._LOADED.clear()  # as a new process
    xfm = tf.load_transform(TPL, FRM, progress=False)
    err = capsys.readouterr().err
    assert f"the cached copy of {os.path.basename(path)} is damaged (its SHA-256 differs" in err
    assert "fetching it again" in err and len(err.strip().splitlines()) == 1
    assert open(path, "rb").read() == data and server.hits[server.path(tf.transform_url(TPL, FRM))] == 2
    assert xfm.sha256 == read_itk_h5(tmp_path / "made-0.h5").sha256
    assert tf.load_transform(TPL, FRM, progress=False) is xfm  # loaded once per process
    # a damaged parsed copy (in a new process: nothing loaded): read again from the intact .h5, saying so
    tf._LOADED.clear()
    with open(path + ".npz", "r+b") as f:
        f.seek(os.path.getsize(path + ".npz") // 2)
        f.write(b"\x00" * 32)
    tf.load_transform(TPL, FRM, progress=False)
    assert "parsed copy" in capsys.readouterr().err
    assert server.hits[server.path(tf.transform_url(TPL, FRM))] == 2


def test_nothing_cached_and_unreachable_is_one_line(server, tmp_path):
    with pytest.raises(DownloadError) as e:  # the mirror has no such file
        tf.load_transform(TPL, FRM, progress=False)
    msg = str(e.value)
    assert "\n" not in msg and "404" in msg and server.url in msg and "nothing was cached" in msg
    server.stop()
    with pytest.raises(DownloadError, match="cannot connect"):
        tf.load_transform(TPL, FRM, progress=False)


def test_templateflow_home_is_used_as_it_is(server, tmp_path, monkeypatch):
    home = tmp_path / "tf"
    (home / f"tpl-{TPL}").mkdir(parents=True)
    mine = home / f"tpl-{TPL}" / tf.transform_file(TPL, FRM)
    mine.write_bytes(_xfm_bytes(tmp_path, 3))
    monkeypatch.setenv(tf.HOME_ENV, str(home))
    xfm = tf.load_transform(TPL, FRM, progress=False)
    assert xfm.path == str(mine) and not server.hits  # no download
    assert sorted(os.listdir(home / f"tpl-{TPL}")) == [mine.name]  # TemplateFlow's folder untouched
    assert xfm.sha256 == read_itk_h5(mine).sha256
    tf._LOADED.clear()
    assert tf.load_transform(TPL, FRM, progress=False).sha256 == xfm.sha256  # from its parsed copy


def test_two_processes_download_once(server, tmp_path):
    data = _xfm_bytes(tmp_path)
    url = tf.transform_url(TPL, FRM)
    server.put(url, data)
    server.delay = 0.5
    code = textwrap.dedent("""
        from gpusiibra import _templateflow as tf
        print(tf.load_transform("MNI152NLin2009cAsym", "MNI152NLin6Asym", progress=False).sha256)
    """)
    env = dict(os.environ, PYTHONPATH=ROOT)
    procs = [subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for _ in range(2)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    assert {o[0].strip() for o in outs} == {read_itk_h5(tmp_path / "made-0.h5").sha256}
    assert server.hits[server.path(url)] == 1


def test_a_process_killed_mid_download_leaves_nothing_and_a_retry_completes(server, tmp_path):
    data = _xfm_bytes(tmp_path)
    url = tf.transform_url(TPL, FRM)
    server.put(url, data)
    server.modes[server.path(url)] = "stall"
    server.stall = 30
    code = textwrap.dedent("""
        from gpusiibra import _templateflow as tf
        tf.load_transform("MNI152NLin2009cAsym", "MNI152NLin6Asym", progress=False)
    """)
    env = dict(os.environ, PYTHONPATH=ROOT)
    p = subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    t0 = time.time()
    while not server.hits[server.path(url)] and time.time() - t0 < 60:
        time.sleep(0.05)
    time.sleep(0.5)
    p.send_signal(signal.SIGKILL)
    p.communicate(timeout=30)
    folder = tmp_path / "cache" / "templateflow" / f"tpl-{TPL}"
    assert tf.transform_file(TPL, FRM) not in os.listdir(folder)  # no partial file under the final name
    server.modes.clear()
    xfm = tf.load_transform(TPL, FRM, progress=False)
    assert xfm.sha256 == read_itk_h5(tmp_path / "made-0.h5").sha256
    assert sorted(os.listdir(folder)) == [".lock", "checksums.json", xfm.name, xfm.name + ".npz"]


@pytest.mark.online
def test_the_real_templateflow_transforms_against_ants(tmp_path, monkeypatch):
    """TemplateFlow's own files (downloaded): points as ANTs maps them, and the two files nearly each other's
    inverse (one SyN registration's forward and inverse warps)."""
    import pandas as pd

    ants = pytest.importorskip("ants")
    monkeypatch.delenv(tf.MIRROR_ENV, raising=False)
    monkeypatch.delenv(tf.HOME_ENV, raising=False)
    monkeypatch.setenv("GPUSIIBRA_CACHE", str(tmp_path))
    to_2009c = tf.point_transform(FRM, TPL, progress=False)  # 6Asym points -> 2009c
    to_6 = tf.point_transform(TPL, FRM, progress=False)
    pts = np.random.default_rng(0).uniform([-70, -100, -50], [70, 70, 80], (500, 3))
    out = ants.apply_transforms_to_points(3, pd.DataFrame(pts * [-1, -1, 1], columns=["x", "y", "z"]),
                                          [to_2009c.path])
    np.testing.assert_allclose(to_2009c.map_points(pts), out[["x", "y", "z"]].to_numpy() * [-1, -1, 1], atol=1e-4)
    back = to_6.map_points(to_2009c.map_points(pts))
    assert np.percentile(np.linalg.norm(back - pts, axis=1), 95) < 1.0
