"""Batch assignment: Parquet dataset, errors, resume, 4D and two-sided maps, Dask, the CLI."""
import os

import nibabel as nib
import numpy as np
import pandas as pd
import pytest

import gpusiibra
from golden_cases import motor_t4
from gpusiibra import batch
from gpusiibra.data import EXAMPLES
from gpusiibra.cli import main as cli
from gpusiibra._readers import Readers
from gpusiibra.dataset import Dataset, read_manifest


@pytest.fixture
def inputs(tmp_path):
    img = motor_t4()
    d = np.asarray(img.dataobj)
    folder = tmp_path / "maps"
    folder.mkdir()
    for i, s in enumerate((1.0, 0.7, 1.3, 0.0, 1.1)):
        nib.Nifti1Image(d * s, img.affine).to_filename(folder / f"m{i}.nii.gz")
    (folder / "broken.nii.gz").write_bytes(b"\x1f\x8b\x08\x00 truncated gzip")
    nib.Nifti1Image(np.stack([d, -d], -1), img.affine).to_filename(folder / "four_d.nii.gz")
    return folder


def _norm(df):
    df = df.copy()
    df["centroid"] = df["centroid"].map(lambda c: tuple(c) if c is not None else None)
    return df.sort_values(["input", "frame", "sign", "kind", "input structure", "volume"]).reset_index(drop=True)


def test_batch_rows_equal_single_assignments_and_errors_are_reported(julich, inputs, tmp_path):
    out = tmp_path / "res.parquet"
    _, s = batch.assign_batch(julich, [inputs, tmp_path / "nothing" / "*.nii"], out, chunk_size=2, progress=False)
    assert s.failures == 2 and s.maps == 7  # 5 maps + a 4D file of 2 volumes
    err = pd.read_csv(str(out) + ".errors.csv")
    assert set(err["input"].map(os.path.basename)) == {"broken.nii.gz", "*.nii"}
    assert "gzip" in err["reason"][err["input"].str.endswith("broken.nii.gz")].iloc[0] or \
           "NIfTI" in err["reason"][err["input"].str.endswith("broken.nii.gz")].iloc[0]
    df = pd.read_parquet(out)
    assert list(df.columns) == batch.BATCH_COLUMNS
    assert df["input"].map(os.path.isabs).all()  # inputs are named by their resolved path
    one = df[df["input"].str.endswith("m0.nii.gz")]
    ref = julich.assign(motor_t4())
    np.testing.assert_allclose(one.sort_values(["input structure", "volume"])["correlation"].to_numpy(),
                               ref.sort_values(["input structure", "volume"])["correlation"].to_numpy(), atol=1e-12)
    four = df[df["input"].str.endswith("four_d.nii.gz")]
    assert set(four["frame"]) == {0}  # the second volume is negative: no component above 0
    assert len(df[df["input"].str.endswith("m3.nii.gz")]) == 0  # an all-zero map has no rows, but it is done
    records = read_manifest(out)
    assert sum(len(r["maps"]) for r in records if r["type"] == "chunk") == 7
    assert records[0]["settings"]["minsize"] == 1 and records[0]["atlas"]["regions"] == 414


def test_resume_after_a_kill_gives_the_same_dataset(julich, inputs, tmp_path, monkeypatch):
    full = tmp_path / "full.parquet"
    batch.assign_batch(julich, [inputs], full, chunk_size=2, progress=False)
    part = tmp_path / "part.parquet"
    calls = {"n": 0}
    real = Dataset.write

    def dying_write(self, table, maps, inputs):
        calls["n"] += 1
        if calls["n"] == 3:
            # killed after the part file is written but before the manifest records it
            import pyarrow.parquet as pq

            pq.write_table(table, os.path.join(self.out, f"part-{self.next_part:05d}.parquet"))
            raise KeyboardInterrupt
        return real(self, table, maps, inputs)

    monkeypatch.setattr(Dataset, "write", dying_write)
    with pytest.raises(KeyboardInterrupt):
        batch.assign_batch(julich, [inputs], part, chunk_size=2, progress=False)
    monkeypatch.setattr(Dataset, "write", real)
    with pytest.raises(gpusiibra.DatasetError, match="resume=True"):
        batch.assign_batch(julich, [inputs], part, chunk_size=2, progress=False)
    _, s = batch.assign_batch(julich, [inputs], part, chunk_size=2, progress=False, resume=True)
    assert s.skipped > 0
    pd.testing.assert_frame_equal(_norm(pd.read_parquet(part)), _norm(pd.read_parquet(full)))


def test_two_sided_threshold_and_peaks(julich, tmp_path):
    img = nib.load(EXAMPLES["example:motor"])
    df, s = batch.assign_batch(julich, ["example:motor"], threshold=4.0, two_sided=True, peaks=True, progress=False)
    assert s.maps == 2 and set(df["sign"]) == {"+", "-"} and set(df["kind"]) == {"component", "peak"}
    assert s.inputs == 1 and s.frames == 1 and s.signs == 2
    d = np.asarray(img.dataobj)  # the file's values (float64 after scaling): thresholded in that precision
    for sign, x in (("+", d), ("-", -d)):
        ours = df[(df["sign"] == sign) & (df["kind"] == "component")]
        ref = julich.assign(nib.Nifti1Image(np.where(x < 4, 0, x), img.affine))
        assert list(ours["volume"]) == list(ref["volume"])
        np.testing.assert_allclose(ours["correlation"].to_numpy(), ref["correlation"].to_numpy(), atol=1e-12)
    # the float32 golden map gives the same rows to float32's precision
    plus = df[(df["sign"] == "+") & (df["kind"] == "component")]
    np.testing.assert_allclose(plus["correlation"].to_numpy(), julich.assign(motor_t4())["correlation"].to_numpy(),
                               atol=1e-6)
    peaks = df[df["kind"] == "peak"]
    assert peaks["voxels"].isna().all() and peaks["correlation"].isna().all() and peaks["map value"].notna().all()


@pytest.mark.slow
def test_dask_workers_give_the_local_result(julich, inputs, tmp_path):
    pytest.importorskip("dask.distributed")
    local, _ = batch.assign_batch(julich, [inputs], chunk_size=2, progress=False)
    # chunks of one file: more chunks (7) than the chunks kept in flight (2 per worker), so the refill runs
    dist, s = batch.assign_batch(julich, [inputs], chunk_size=1, progress=False, workers=2)
    assert s.failures == 1
    pd.testing.assert_frame_equal(_norm(dist), _norm(local))


def test_cli_exit_status_and_summary(inputs, tmp_path, capsys):
    rc = cli(["assign", str(inputs / "m0.nii.gz"), "--out", str(tmp_path / "a.parquet"), "--quiet"])
    assert rc == 0
    assert "1 input file, 1 volume: 1 map assigned" in capsys.readouterr().out
    rc = cli(["assign", str(inputs), "--out", str(tmp_path / "b.parquet"), "--quiet"])
    assert rc == 1  # broken.nii.gz failed, the rest is written
    assert len(pd.read_parquet(tmp_path / "b.parquet")) > 0
    rc = cli(["assign", str(inputs), "--out", str(tmp_path / "b.parquet"), "--quiet"])
    assert rc == 2 and "continue it with --resume" in capsys.readouterr().err
    assert cli(["atlas"]) == 0 and "414" in capsys.readouterr().out


def test_reader_processes_give_the_threads_result(julich, tmp_path):
    """From 16 files on, reader processes read ahead of the engine; the rows are those of threaded reading."""
    img = motor_t4()
    d = np.asarray(img.dataobj)
    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(Readers.PROCESSES_FROM + 2):
        nib.Nifti1Image(np.roll(d, i, axis=2) * (1 + 0.01 * i), img.affine).to_filename(folder / f"m{i:02d}.nii.gz")
    procs, s1 = batch.assign_batch(julich, [folder], chunk_size=5, readers=Readers.PROCESS_READERS_FROM, progress=False, peaks=True)
    threads, s2 = batch.assign_batch(julich, [folder], chunk_size=5, readers=1, progress=False, peaks=True)
    assert s1.maps == s2.maps == Readers.PROCESSES_FROM + 2
    pd.testing.assert_frame_equal(_norm(procs), _norm(threads))


def test_a_dead_reader_process_does_not_lose_its_files(julich, inputs):
    from concurrent.futures.process import BrokenProcessPool

    class Dead:
        def result(self):
            raise BrokenProcessPool("killed")

    class BrokenPool:
        def shutdown(self, **kw):
            pass

    files = sorted(str(p) for p in inputs.glob("m*.nii.gz"))
    with Readers(1, 1, dict(threshold=None, two_sided=False, peaks=False, mindist=5)) as r:
        with pytest.warns(RuntimeWarning, match="reader process ended abruptly"):
            r.pool = BrokenPool()  # stands for the process pool that broke
            out = r.results(files[:2], [(files[:1], Dead()), (files[1:2], Dead())])
    assert [m[0].input for m in out] == files[:2]


def test_out_of_memory_names_the_chunk_size_to_lower(julich, inputs, tmp_path, monkeypatch, capsys):
    from gpusiibra import _engine

    def no_memory(*a, **k):
        raise MemoryError("Out of memory allocating 12,884,901,888 bytes")

    monkeypatch.setattr(_engine, "assign_chunk", no_memory)
    assert cli(["assign", str(inputs / "m0.nii.gz"), "--out", str(tmp_path / "o.parquet"), "--quiet",
                "--chunk-size", "4"]) == 2
    err = capsys.readouterr().err
    assert "out of host memory assigning a chunk of 1 files" in err and "smaller --chunk-size" in err
    assert len(err.strip().splitlines()) == 1


def test_inputs_whose_header_says_another_space_are_warned_about_once(julich, tmp_path, capsys):
    img = nib.load(EXAMPLES["example:motor"])
    d = np.asarray(img.dataobj)
    native = nib.Nifti1Image(d, img.affine)
    native.header.set_sform(img.affine, 1)  # scanner coordinates: a subject's native space
    native.header.set_qform(img.affine, 1)
    native.to_filename(tmp_path / "native.nii.gz")
    far = img.affine.copy()
    far[:3, 3] += 200  # a grid that misses the MNI brain
    nib.Nifti1Image(d, far).to_filename(tmp_path / "far.nii.gz")
    _, s = batch.assign_batch(julich, [tmp_path / "native.nii.gz", tmp_path / "far.nii.gz", "example:motor"],
                              threshold=3.0, progress=False)
    err = capsys.readouterr().err
    assert err.count("is it in MNI152 space?") == 1 and "scanner coordinates (sform_code 1" in err
    assert [os.path.basename(p) for p, _ in s.space] == ["native.nii.gz", "far.nii.gz"]
    assert "of the MNI152 brain's box" in dict(s.space)[str(tmp_path / "far.nii.gz")]
    assert "2 input files may not be in the atlas's space (native.nii.gz: its header says scanner" in str(s)
    assert "; far.nii.gz: its grid covers" in str(s)
    _, s = batch.assign_batch(julich, [tmp_path / "native.nii.gz"], threshold=3.0, progress=False, space="MNI")
    assert s.space == [] and "MNI152" not in capsys.readouterr().err
