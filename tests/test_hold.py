"""Holding under pressure (issue 22): runs that assign nothing leave nothing, reports read exactly the recorded
parts, inputs keep the names the user gave them, folders with looping links end, messages name the user's file."""
import os
import shutil
import subprocess
import sys

import nibabel as nib
import numpy as np
import pandas as pd
import pytest

from conftest import stop_writes_after
from golden_cases import motor_t4
from gpusiibra import batch, dataset
from gpusiibra.cli import main as cli
from gpusiibra.report import study_report

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _norm(df):
    df = df.copy()
    df["centroid"] = df["centroid"].map(lambda c: tuple(c) if c is not None else None)
    return df.sort_values(["input", "frame", "sign", "kind", "input structure", "volume"]).reset_index(drop=True)


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    folder = tmp_path_factory.mktemp("study")
    d = np.asarray(motor_t4().dataobj)
    for i in range(6):
        nib.Nifti1Image(np.roll(d * (0.8 + 0.1 * i), i - 3, axis=1), motor_t4().affine).to_filename(
            folder / f"s{i}.nii.gz")
    return folder


@pytest.fixture
def finished(julich, study, tmp_path):
    out = tmp_path / "res.parquet"
    batch.assign_batch(julich, [study], out, chunk_size=2, progress=False)
    return out


# ------------------------------------------------------------------ runs that assign nothing
def test_a_run_that_assigns_nothing_leaves_no_dataset_and_says_why(tmp_path, capsys, study):
    out = tmp_path / "res.parquet"
    assert cli(["assign", str(tmp_path / "mistyped"), "--out", str(out), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "mistyped: no such file" in err  # on stderr, not only in the errors file
    assert not out.exists()
    empty = tmp_path / "empty"
    empty.mkdir()
    assert cli(["assign", str(empty), "--out", str(out), "--quiet"]) == 1
    assert "folder holds no .nii or .nii.gz file" in capsys.readouterr().err and not out.exists()
    assert cli(["assign", str(study / "s0.nii.gz"), "--out", str(out), "--quiet"]) == 0  # the intended run


def test_resume_of_a_finished_dataset_says_there_is_nothing_to_do(julich, study, finished):
    _, s = batch.assign_batch(julich, [study], finished, chunk_size=2, progress=False, resume=True)
    assert s.maps == 0 and str(s).startswith("nothing to do: the dataset already holds all 6 maps")


# ------------------------------------------------------------------ the report holds parts against the manifest
@pytest.mark.parametrize("text, said", [('garbage,"unclosed\n', "cannot read the failed inputs"),
                                         ("a,b\n1,2\n", "not a gpusiibra errors file"),
                                         (b"\xff\xfe\x00bad", "cannot read the failed inputs")])
def test_a_damaged_errors_file_is_a_note_of_the_report_not_a_traceback(finished, tmp_path, text, said):
    err = dataset.errors_path(finished)
    with open(err, "wb") as f:
        f.write(text if isinstance(text, bytes) else text.encode())
    rep = study_report(finished, tmp_path / "r.html", figures=False)
    assert rep.maps == 6 and any(said in n and os.path.basename(err) in n for n in rep.notes), rep.notes


def test_a_report_leaves_out_a_missing_part_and_says_so(finished, tmp_path):
    full = study_report(finished, tmp_path / "full.html", figures=False)
    assert full.maps == 6 and full.notes == []
    os.remove(finished / "part-00001.parquet")
    rep = study_report(finished, tmp_path / "cut.html", figures=False)
    assert rep.maps == 4 and len(rep.notes) == 1 and "part-00001.parquet: the part file is missing" in rep.notes[0]
    assert "Warning: part-00001.parquet" in (tmp_path / "cut.html").read_text()


def test_a_report_reads_only_recorded_intact_parts(finished, tmp_path):
    ref = study_report(finished, tmp_path / "ref.html", figures=False)
    shutil.copy(finished / "part-00000.parquet", finished / "part-00009.parquet")  # a killed run's unrecorded part
    (finished / "part-00010.parquet.tmp").write_bytes(b"half a file")
    rep = study_report(finished, tmp_path / "a.html", figures=False)
    assert rep.maps == ref.maps and rep.notes == []
    pd.testing.assert_frame_equal(rep.frequency, ref.frequency)
    raw = (finished / "part-00002.parquet").read_bytes()
    (finished / "part-00002.parquet").write_bytes(raw[: len(raw) // 2])  # cut in half
    rep = study_report(finished, tmp_path / "b.html", figures=False)
    assert rep.maps == 4 and "part-00002.parquet: the part file has" in rep.notes[0]


def test_a_report_of_an_unfinished_run_says_so(julich, study, tmp_path, monkeypatch):
    out = tmp_path / "stopped.parquet"
    stop_writes_after(monkeypatch, 1)
    with pytest.raises(KeyboardInterrupt):
        batch.assign_batch(julich, [study], out, chunk_size=2, progress=False)
    monkeypatch.undo()
    rep = study_report(out, tmp_path / "s.html", figures=False)
    assert rep.maps == 2 and any("did not finish" in n for n in rep.notes)
    # while another process holds the dataset (a run still writing it)
    code = ("import sys; from gpusiibra._lock import FileLock; lk = FileLock(sys.argv[1]); "
            "assert lk.acquire(); print('held', flush=True); sys.stdin.read()")
    holder = subprocess.Popen([sys.executable, "-c", code, str(out / ".lock")], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True, env=dict(os.environ, PYTHONPATH=ROOT))
    try:
        assert holder.stdout.readline().strip() == "held"
        rep = study_report(out, tmp_path / "s2.html", figures=False)
        assert any("still going" in n for n in rep.notes)
    finally:
        holder.communicate("", timeout=60)


def test_resume_assigns_the_maps_of_a_damaged_part_again(julich, study, finished, tmp_path):
    ref = pd.read_parquet(finished)
    raw = (finished / "part-00001.parquet").read_bytes()
    (finished / "part-00001.parquet").write_bytes(raw[:100] + bytes(len(raw) - 100))  # same size, bytes changed
    with pytest.warns(RuntimeWarning, match="checksum differs.*its 2 maps will be assigned again"):
        _, s = batch.assign_batch(julich, [study], finished, chunk_size=2, progress=False, resume=True)
    assert s.maps == 2 and s.skipped == 4
    pd.testing.assert_frame_equal(_norm(pd.read_parquet(finished)), _norm(ref))
    assert study_report(finished, tmp_path / "r.html", figures=False).maps == 6
    # a second resume finds everything in place
    _, s = batch.assign_batch(julich, [study], finished, chunk_size=2, progress=False, resume=True)
    assert s.maps == 0


# ------------------------------------------------------------------ inputs as the user gave them
def test_inputs_keep_their_names_through_links_and_one_file_twice_is_said(julich, study, tmp_path):
    annex = tmp_path / "annex"
    annex.mkdir()
    shutil.copy(study / "s0.nii.gz", annex / "MD5E-s1234--abcdef.nii.gz")
    ds = tmp_path / "dataset"
    ds.mkdir()
    (ds / "sub-01.nii.gz").symlink_to(annex / "MD5E-s1234--abcdef.nii.gz")
    (ds / "sub-01-again.nii.gz").symlink_to(annex / "MD5E-s1234--abcdef.nii.gz")
    with pytest.warns(RuntimeWarning, match="sub-01.nii.gz is the same file as .*sub-01-again.nii.gz"):
        rows, s = batch.assign_batch(julich, [ds], progress=False)
    assert s.maps == 1 and set(rows["input"]) == {str(ds / "sub-01-again.nii.gz")}
    # a resume that reaches the file through another spelling keeps the recorded name and redoes nothing
    out = tmp_path / "r.parquet"
    batch.assign_batch(julich, [ds / "sub-01.nii.gz"], out, progress=False)
    _, s = batch.assign_batch(julich, [annex], out, progress=False, resume=True)
    assert s.maps == 0 and set(pd.read_parquet(out)["input"]) == {str(ds / "sub-01.nii.gz")}


def test_a_dangling_link_names_the_users_file(julich, tmp_path):
    (tmp_path / "gone.nii.gz").symlink_to(tmp_path / "target-that-is-not-there.nii.gz")
    rows, s = batch.assign_batch(julich, [tmp_path / "gone.nii.gz"], progress=False)
    (path, reason), = rows.attrs["errors"]
    assert path == str(tmp_path / "gone.nii.gz") and "symbolic link" in reason


def test_a_folder_with_links_that_loop_is_walked_once(julich, study, tmp_path):
    top = tmp_path / "top"
    (top / "a").mkdir(parents=True)
    (top / "b").mkdir()
    (top / "a" / "to-b").symlink_to(top / "b")
    (top / "b" / "to-a").symlink_to(top / "a")
    (top / "b" / "up").symlink_to(top)
    shutil.copy(study / "s1.nii.gz", top / "a" / "m.nii.gz")
    code = ("import sys; from gpusiibra.batch import expand_inputs; "
            "print(len(expand_inputs([sys.argv[1]])[0]), len(expand_inputs([sys.argv[1] + '/**/*.nii.gz'])[0]))")
    r = subprocess.run([sys.executable, "-c", code, str(top)], capture_output=True, text=True, timeout=60,
                       env=dict(os.environ, PYTHONPATH=ROOT))
    assert r.stdout.split() == ["1", "1"], r.stderr


def test_an_unreadable_file_is_called_unreadable_not_damaged(julich, study, tmp_path, monkeypatch):
    target = tmp_path / "locked.nii.gz"
    shutil.copy(study / "s0.nii.gz", target)
    os.chmod(target, 0)
    if os.access(target, os.R_OK):  # root reads it anyway: refuse the read as the OS would
        from gpusiibra.io import nifti

        real_open = open

        def deny(path, *a, **k):
            if os.fspath(path) == str(target):
                raise PermissionError(13, "Permission denied", str(target))
            return real_open(path, *a, **k)

        monkeypatch.setattr(nifti, "open", deny, raising=False)
    rows, s = batch.assign_batch(julich, [target], progress=False)
    (path, reason), = rows.attrs["errors"]
    assert path == str(target) and reason == "cannot read the file (Permission denied)"


def test_a_dataset_killed_while_writing_its_first_line_resumes_as_new(julich, study, tmp_path):
    out = tmp_path / "first.parquet"
    out.mkdir()
    (out / dataset.MANIFEST).write_bytes(b'1234abcd {"type":"ru')  # the torn first line of a killed run
    _, s = batch.assign_batch(julich, [study], out, chunk_size=2, progress=False, resume=True)
    assert s.maps == 6 and len(pd.read_parquet(out)) > 0


def test_the_report_command_does_not_count_failed_inputs_it_cannot_read(finished, tmp_path, capsys):
    """Trial 3, finding 19: with a damaged errors file the report warned that the failed inputs are not listed,
    then said '0 failed inputs'."""
    from gpusiibra.cli import main

    with open(dataset.errors_path(finished), "w") as f:
        f.write('garbage,"unclosed\n')
    assert main(["report", str(finished), "--out", str(tmp_path / "r.html"), "--no-features", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "6 maps, failed inputs not known," in out and "0 failed inputs" not in out
