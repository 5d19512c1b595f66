"""Holding under pressure, round two (issue 30): the fault trial's misleading lines, inconsistencies and
interruptions, each kept as a case so that a later change cannot bring it back."""
import gzip
import os
import signal
import subprocess
import sys
import time
import warnings

import nibabel as nib
import numpy as np
import pandas as pd
import pytest

import gpusiibra
from conftest import atlas_from_dense, random_atlas
from gpusiibra import batch, dataset
from gpusiibra.cli import main as cli
from gpusiibra.errors import AtlasFileError, AtlasNotFound, DatasetError, ImageFileError

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def tiny():
    """A six-region random atlas and four maps on its grid (one 4D file of three volumes among them)."""
    rng = np.random.default_rng(30)
    maps, affine = random_atlas(rng)
    atlas = atlas_from_dense(maps, affine)
    frames = [np.where(m > 0, m * (3 + i), 0).astype(np.float32) for i, m in enumerate(maps[:3])]
    return atlas, affine, frames


@pytest.fixture
def study(tiny, tmp_path):
    atlas, affine, frames = tiny
    folder = tmp_path / "study"
    folder.mkdir()
    for i, f in enumerate(frames):
        nib.Nifti1Image(f, affine).to_filename(folder / f"m{i}.nii.gz")
    nib.Nifti1Image(np.stack(frames, axis=-1), affine).to_filename(folder / "four.nii.gz")
    return folder


def _run_cli(args, **kw):
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""), GPUSIIBRA_BACKEND="cpu")
    return subprocess.Popen([sys.executable, "-m", "gpusiibra.cli"] + [str(a) for a in args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


# ------------------------------------------------------------------ misleading lines (item 6)
def test_a_single_parquet_file_or_a_missing_dataset_is_said_so(tmp_path, capsys):
    plain = tmp_path / "plain.parquet"
    pd.DataFrame({"a": [1]}).to_parquet(plain)
    for command in ("report", "compare"):
        assert cli([command, str(plain)]) == 2
        err = capsys.readouterr().err
        assert "plain.parquet: is a single Parquet file, not a results dataset" in err, err
        assert cli([command, str(tmp_path / "missing.parquet")]) == 2
        err = capsys.readouterr().err
        assert "missing.parquet: no such results dataset" in err and "has none" not in err, err


def test_a_tables_out_in_a_missing_folder_is_refused_before_the_work(tmp_path, capsys, monkeypatch):
    from gpusiibra import compare, tables

    def never(*a, **k):
        raise AssertionError("the work started")

    monkeypatch.setattr(compare, "compare_atlases", never)
    monkeypatch.setattr(tables, "label_points", never)
    (tmp_path / "d.parquet").mkdir()
    csv = tmp_path / "p.csv"
    csv.write_text("x,y,z\n0,0,0\n")
    for args in (["compare", tmp_path / "d.parquet"], ["points", csv]):
        assert cli([str(a) for a in args] + ["--out", str(tmp_path / "nodir" / "x.csv")]) == 2
        err = capsys.readouterr().err
        assert f"--out {tmp_path / 'nodir' / 'x.csv'}: the folder {tmp_path / 'nodir'} does not exist" in err, err
        assert cli([str(a) for a in args] + ["--out", str(tmp_path)]) == 2
        assert "is a folder: give the CSV file to write" in capsys.readouterr().err


def test_a_torn_last_manifest_line_says_what_it_loses(tiny, study, tmp_path):
    atlas = tiny[0]
    out = tmp_path / "res.parquet"
    batch.assign_batch(atlas, [study], out, chunk_size=2, progress=False)
    manifest = out / dataset.MANIFEST
    lines = manifest.read_bytes().split(b"\n")[:-1]
    manifest.write_bytes(b"\n".join(lines[:-1]) + b"\n" + lines[-1][:40])  # the end record, torn
    with pytest.warns(RuntimeWarning, match="it recorded no maps .*, so nothing is lost") as w:
        _, s = batch.assign_batch(atlas, [study], out, chunk_size=2, resume=True, progress=False)
    assert s.maps == 0 and not any("assigned again" in str(x.message) for x in w)
    lines = manifest.read_bytes().split(b"\n")[:-1]
    chunk = max(i for i, line in enumerate(lines) if b'"type":"chunk"' in line)
    manifest.write_bytes(b"\n".join(lines[:chunk]) + b"\n" + lines[chunk][:30])  # a chunk's record, torn
    with pytest.warns(RuntimeWarning, match="it recorded a chunk, whose maps will be assigned again"):
        _, s = batch.assign_batch(atlas, [study], out, chunk_size=2, resume=True, progress=False)
    assert s.maps > 0


def test_a_label_volume_given_as_an_atlas_is_told_to_open_it_as_one(tmp_path):
    labels = np.zeros((10, 10, 10), np.int16)
    labels[1:4, 1:4, 1:4], labels[5:9, 5:9, 5:9], labels[0, 0, 0] = 1, 7, 3
    nib.Nifti1Image(labels, np.eye(4)).to_filename(tmp_path / "aal.nii.gz")
    with pytest.raises(AtlasFileError, match="whole numbers .3 distinct.: a label volume .* labelled=True") as e:
        gpusiibra.get_map(str(tmp_path / "aal.nii.gz"))
    assert "value_scale" not in str(e.value)
    percent = np.zeros((10, 10, 10), np.float32)
    percent[1:4, 1:4, 1:4] = np.linspace(1, 99.5, 27).reshape(3, 3, 3)
    nib.Nifti1Image(percent, np.eye(4)).to_filename(tmp_path / "pct.nii.gz")
    with pytest.raises(AtlasFileError, match="value_scale=0.01") as e:
        gpusiibra.get_map(str(tmp_path / "pct.nii.gz"))
    assert "label volume" not in str(e.value)


@pytest.mark.parametrize("typed, hint", [("foo", None), ("julich 3.0", "julich-3.1"), ("difumo-65", "difumo-64"),
                                         ("julch", "julich-3.1"), ("harvard", "harvard-oxford-cort-0")])
def test_an_unknown_atlas_name_suggests_only_alike_names(typed, hint):
    with pytest.raises(AtlasNotFound) as e:
        gpusiibra.get_map(typed)
    msg = str(e.value)
    if hint is None:
        assert "did you mean" not in msg and "known atlases: julich-3.1-top2" in msg
    else:
        assert f"did you mean '{hint}'" in msg
        assert all(s.split("-")[0] == hint.split("-")[0] for s in msg.split("did you mean ")[1].strip("?").split(", ")
                   for s in [s.strip("'")])


def test_the_scanner_space_summary_names_each_file_with_its_reason(tiny, tmp_path):
    atlas, affine, frames = tiny
    for name, code in (("native.nii.gz", 1), ("tal.nii.gz", 3)):
        img = nib.Nifti1Image(frames[0], affine)
        img.set_sform(affine, code)
        img.set_qform(affine, code)
        img.to_filename(tmp_path / name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _, s = batch.assign_batch(atlas, [tmp_path / "native.nii.gz", tmp_path / "tal.nii.gz"], progress=False)
    text = str(s)
    assert "2 input files may not be in MNI152 space (native.nii.gz: its header says scanner coordinates" in text
    assert "; tal.nii.gz: its header says Talairach coordinates" in text
