"""The fault suite: nothing lost, nothing mixed, a clear one-line message for every user mistake.

Each case here was seen in a fault trial (issue 11): two writers, a resume spelled another way or with
other options, torn manifest lines, stale error files, ragged tables, huge values, images off the grid,
atlases that are not probabilities, bad options, huge sigmas, unwritable or full disks, and misleading
messages.
"""
import errno
import gzip
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time

import nibabel as nib
import numpy as np
import pandas as pd
import pytest

import gpusiibra
from conftest import atlas_from_dense, random_atlas, stop_writes_after
from golden_cases import motor_t4
from gpusiibra import batch, dataset
from gpusiibra.io import siibra_v1
from gpusiibra.cli import main as cli
from gpusiibra.errors import AtlasFileError, DatasetError, OptionError, PointsFileError

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _norm(df):
    df = df.copy()
    df["centroid"] = df["centroid"].map(lambda c: tuple(c) if c is not None else None)
    return df.sort_values(["input", "frame", "sign", "kind", "input structure", "volume"]).reset_index(drop=True)


def _same_dataset(a, b):
    pd.testing.assert_frame_equal(_norm(pd.read_parquet(a)), _norm(pd.read_parquet(b)))


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    """12 maps: the motor map scaled and shifted, so that each has its own rows."""
    folder = tmp_path_factory.mktemp("study")
    img = motor_t4()
    d = np.asarray(img.dataobj)
    for i in range(12):
        nib.Nifti1Image(np.roll(d * (0.8 + 0.05 * i), i - 6, axis=1), img.affine).to_filename(folder / f"s{i:02d}.nii.gz")
    return folder


@pytest.fixture(scope="module")
def reference(study, tmp_path_factory):
    """The dataset of an uninterrupted run."""
    out = tmp_path_factory.mktemp("ref") / "full.parquet"
    _, s = batch.assign_batch(gpusiibra.get_map(), [study], out, chunk_size=3, progress=False)
    assert s.maps == 12 and s.failures == 0
    return out


@pytest.fixture(scope="module")
def long_study(study, tmp_path_factory):
    """The 12 maps four times over (copies under other names: 48 inputs), and the dataset of an uninterrupted run:
    enough chunks that a kill after the first lands before the last, however fast the engines."""
    folder = tmp_path_factory.mktemp("long")
    for k in range(4):
        for f in sorted(study.iterdir()):
            shutil.copy(f, folder / f"c{k}_{f.name}")
    out = tmp_path_factory.mktemp("long-ref") / "full.parquet"
    _, s = batch.assign_batch(gpusiibra.get_map(), [folder], out, chunk_size=3, progress=False)
    assert s.maps == 48 and s.failures == 0
    return folder, out


def _cli(args, cwd=None, **kw):
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""), GPUSIIBRA_BACKEND="cpu")
    return subprocess.Popen([sys.executable, "-m", "gpusiibra.cli"] + [str(a) for a in args], cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


# ------------------------------------------------------------------ 1. one writer at a time
def test_a_second_writer_is_refused_while_the_first_holds_the_dataset(julich, study, tmp_path):
    out = tmp_path / "res.parquet"
    settings = dict(threshold=None, two_sided=False, lower_threshold=0.0, minsize=1, peaks=False, mindist=5)
    first = dataset.Dataset(out, False, settings, dataset.atlas_identity(julich))
    try:
        with pytest.raises(DatasetError, match="another gpusiibra run is writing this dataset \\(pid"):
            batch.assign_batch(julich, [study], out, progress=False)
        p = _cli(["assign", study, "--out", out, "--quiet"])
        _, err = p.communicate(timeout=120)
        assert p.returncode == 2 and "another gpusiibra run is writing" in err
        assert len(err.strip().splitlines()) == 1  # one line, no traceback
    finally:
        first.close()
    # the lock is released with its holder: the dataset can be continued
    batch.assign_batch(julich, [study], out, progress=False, resume=True, chunk_size=4)


@pytest.mark.slow
def test_two_runs_started_together_one_is_refused_the_other_complete(study, reference, tmp_path):
    out = tmp_path / "race.parquet"
    files = sorted(study.glob("*.nii.gz"))
    runs = [_cli(["assign", *half, "--out", out, "--quiet", "--chunk-size", "2"]) for half in (files[:6], files[6:])]
    results = [(p.wait(timeout=300), p.stderr.read()) for p in runs]
    codes = sorted(rc for rc, _ in results)
    assert codes == [0, 2], results
    won = [i for i, (rc, _) in enumerate(results) if rc == 0][0]
    lost_err = results[1 - won][1]
    assert "another gpusiibra run is writing" in lost_err or "exists; continue it with --resume" in lost_err
    got = pd.read_parquet(out)
    full = pd.read_parquet(reference)
    mine = {os.path.realpath(f) for f in (files[:6], files[6:])[won]}
    assert set(got["input"]) == mine
    pd.testing.assert_frame_equal(_norm(got), _norm(full[full["input"].isin(mine)]))


# ------------------------------------------------------------------ kills and resumes
@pytest.mark.slow
@pytest.mark.parametrize("chunk, after", [(1, 1), (2, 2), (5, 1)])
def test_killed_mid_run_then_resumed_gives_the_uninterrupted_dataset(long_study, tmp_path, chunk, after):
    """SIGKILL once ``after`` chunks are recorded (whatever the machine's speed), checked to have landed mid-run:
    some chunks recorded, not all."""
    study, reference = long_study
    out = tmp_path / "killed.parquet"
    p = _cli(["assign", study, "--out", out, "--quiet", "--chunk-size", chunk])
    man = out / dataset.MANIFEST
    while p.poll() is None and not (man.exists() and man.read_bytes().count(b'"type":"chunk"') >= after):
        time.sleep(0.02)
    assert p.poll() is None, "the run ended before the kill"
    p.send_signal(signal.SIGKILL)
    p.wait()
    recorded = man.read_bytes().count(b'"type":"chunk"')
    assert after <= recorded < -(-48 // chunk), recorded  # the kill landed in the work
    p = _cli(["assign", study, "--out", out, "--quiet", "--chunk-size", chunk, "--resume"])
    _, err = p.communicate(timeout=300)
    assert p.returncode == 0, err
    _same_dataset(out, reference)


def test_resume_with_the_folder_spelled_otherwise_redoes_nothing(julich, study, reference, tmp_path, monkeypatch):
    out = tmp_path / "spelled.parquet"
    monkeypatch.chdir(study.parent)
    real = stop_writes_after(monkeypatch, 2)
    with pytest.raises(KeyboardInterrupt):
        batch.assign_batch(julich, [study.name], out, chunk_size=3, progress=False)  # relative
    monkeypatch.setattr(dataset.Dataset, "write", real)
    _, s = batch.assign_batch(julich, [str(study) + "/", str(study / "s00.nii.gz")], out, chunk_size=3,
                              progress=False, resume=True)  # absolute, with a trailing slash, one file twice
    assert s.skipped == 6 and s.maps == 6
    _same_dataset(out, reference)


def test_resume_with_other_options_or_atlas_is_refused(julich, study, tmp_path):
    out = tmp_path / "opts.parquet"
    batch.assign_batch(julich, [study / "s00.nii.gz"], out, threshold=3.0, progress=False)
    with pytest.raises(DatasetError, match="threshold 3.0 -> 5.0; minsize 1 -> 10") as e:
        batch.assign_batch(julich, [study], out, threshold=5.0, minsize=10, progress=False, resume=True)
    assert "choose another output name" in str(e.value) and "--" not in str(e.value)
    maps, A = random_atlas(np.random.default_rng(0))
    with pytest.raises(DatasetError, match="atlas 'Julich"):
        batch.assign_batch(atlas_from_dense(maps, A), [study], out, threshold=3.0, progress=False, resume=True)
    run = dataset.read_manifest(out)[0]
    assert run["settings"]["threshold"] == 3.0 and run["versions"]["gpusiibra"] == gpusiibra.__version__


def test_resume_refuses_inputs_changed_since_they_were_assigned(julich, study, tmp_path):
    src = tmp_path / "in"
    shutil.copytree(study, src)
    out = tmp_path / "changed.parquet"
    batch.assign_batch(julich, [src], out, progress=False)
    img = nib.load(src / "s03.nii.gz")
    nib.Nifti1Image(np.asarray(img.dataobj) * 2, img.affine).to_filename(src / "s03.nii.gz")
    with pytest.raises(DatasetError, match="s03.nii.gz changed since its maps were assigned"):
        batch.assign_batch(julich, [src], out, progress=False, resume=True)


def test_resume_goes_on_after_a_touch_or_a_copy_of_the_same_bytes_and_refuses_other_bytes(julich, study, tmp_path):
    """The modification time alone is no change (``touch``, ``cp``, a new checkout): the checksum decides; the
    same size with other bytes is refused."""
    src = tmp_path / "in"
    src.mkdir()
    img = nib.load(study / "s01.nii.gz")
    nib.Nifti1Image(np.asarray(img.dataobj, np.float32), img.affine).to_filename(src / "plain.nii")
    shutil.copy(study / "s02.nii.gz", src / "s02.nii.gz")
    out = tmp_path / "touched.parquet"
    _, first = batch.assign_batch(julich, [src], out, progress=False)
    for f in src.iterdir():
        os.utime(f, ns=(f.stat().st_atime_ns, f.stat().st_mtime_ns + 5_000_000_000))  # touch
    shutil.copy(src / "s02.nii.gz", tmp_path / "x.nii.gz")
    shutil.copy(tmp_path / "x.nii.gz", src / "s02.nii.gz")  # the same bytes, a new file
    _, again = batch.assign_batch(julich, [src], out, progress=False, resume=True)
    assert again.skipped == first.maps == 2 and again.maps == 0
    raw = bytearray((src / "plain.nii").read_bytes())
    data = np.frombuffer(raw, np.float32, offset=352)
    k = int(np.flatnonzero(data)[0])
    raw[352 + 4 * k:352 + 4 * k + 4] = np.float32(data[k] * 3).tobytes()  # one voxel: same size, other bytes
    (src / "plain.nii").write_bytes(bytes(raw))
    with pytest.raises(DatasetError, match="plain.nii changed since its maps were assigned \\(its bytes differ"):
        batch.assign_batch(julich, [src], out, progress=False, resume=True)
    # a dataset of an older gpusiibra recorded [size, mtime] only: a touched file cannot be told from a changed one
    (src / "plain.nii").write_bytes(bytes(raw))
    man = out / dataset.MANIFEST
    records = dataset.read_manifest(out)
    for r in records:
        for k2 in r.get("inputs", {}):
            r["inputs"][k2] = r["inputs"][k2][:2]
    man.write_bytes(b"".join(dataset._encode(r) for r in records))
    with pytest.raises(DatasetError, match="recorded no checksum"):
        batch.assign_batch(julich, [src], out, progress=False, resume=True)


def test_a_dataset_whose_stamps_hold_sha256_still_resumes_after_a_touch(julich, study, tmp_path):
    """Datasets written before the XXH3 stamps recorded each input's SHA-256: a touched input with those bytes is
    still the same file, one with other bytes of the same size is not."""
    src = tmp_path / "in"
    src.mkdir()
    shutil.copy(study / "s02.nii.gz", src / "s02.nii.gz")
    out = tmp_path / "old.parquet"
    _, first = batch.assign_batch(julich, [src], out, progress=False)
    records = dataset.read_manifest(out)
    stamps = [v for r in records for v in r.get("inputs", {}).values()]
    assert stamps and all(str(v[2]).startswith("xxh3_128:") for v in stamps)
    for r in records:  # as an earlier version wrote them
        for k in r.get("inputs", {}):
            r["inputs"][k][2] = hashlib.sha256(open(k, "rb").read()).hexdigest()
    (out / dataset.MANIFEST).write_bytes(b"".join(dataset._encode(r) for r in records))
    f = src / "s02.nii.gz"
    os.utime(f, ns=(f.stat().st_atime_ns, f.stat().st_mtime_ns + 5_000_000_000))  # touch
    _, again = batch.assign_batch(julich, [src], out, progress=False, resume=True)
    assert again.skipped == first.maps == 1 and again.maps == 0
    raw = bytearray(f.read_bytes())
    raw[-9] ^= 1  # the gzip trailer's CRC: the same size, other bytes
    f.write_bytes(bytes(raw))
    with pytest.raises(DatasetError, match="s02.nii.gz changed since its maps were assigned"):
        batch.assign_batch(julich, [src], out, progress=False, resume=True)


def test_a_torn_manifest_tail_is_discarded_and_its_maps_redone(julich, study, reference, tmp_path):
    out = tmp_path / "torn.parquet"
    shutil.copytree(reference, out)
    man = out / dataset.MANIFEST
    raw = man.read_bytes()
    lines = raw.split(b"\n")
    # the last lines are a chunk and the run's end: cut inside the last chunk's line, as a crash mid-append would
    last_chunk = max(i for i, line in enumerate(lines) if b'"type":"chunk"' in line)
    man.write_bytes(b"\n".join(lines[:last_chunk]) + b"\n" + lines[last_chunk][:40])
    with pytest.warns(RuntimeWarning, match="cut short"):
        _, s = batch.assign_batch(julich, [study], out, chunk_size=3, progress=False, resume=True)
    assert s.maps == 3  # the torn chunk's maps, again
    _same_dataset(out, reference)
    _, s = batch.assign_batch(julich, [study], out, chunk_size=3, progress=False, resume=True)
    assert s.maps == 0 and s.skipped == 12
    _same_dataset(out, reference)
    # damage before the last line is not a torn tail: refuse rather than guess
    raw = man.read_bytes().split(b"\n")
    raw[2] = raw[2].replace(b"chunk", b"chonk")
    man.write_bytes(b"\n".join(raw))
    with pytest.raises(DatasetError, match="line 3 is damaged"):
        batch.assign_batch(julich, [study], out, progress=False, resume=True)


def test_the_errors_file_describes_the_current_state(julich, study, tmp_path):
    src = tmp_path / "in"
    shutil.copytree(study, src)
    (src / "bad.nii.gz").write_bytes(b"\x1f\x8b broken")
    out = tmp_path / "err.parquet"
    _, s = batch.assign_batch(julich, [src], out, progress=False)
    errs = pd.read_csv(str(out) + ".errors.csv")
    assert s.failures == 1 and list(errs["input"].map(os.path.basename)) == ["bad.nii.gz"]
    _, s = batch.assign_batch(julich, [src], out, progress=False, resume=True)  # still broken: listed once
    assert len(pd.read_csv(str(out) + ".errors.csv")) == 1
    shutil.copy(src / "s00.nii.gz", src / "bad.nii.gz")  # fixed
    _, s = batch.assign_batch(julich, [src], out, progress=False, resume=True)
    assert s.failures == 0 and s.maps == 1 and not os.path.exists(str(out) + ".errors.csv")


# ------------------------------------------------------------------ silently wrong results
def test_ragged_coordinate_rows_are_errors_naming_the_line(tmp_path):
    from gpusiibra.io.coordinates import read_points

    f = tmp_path / "peaks.csv"
    f.write_text("x,y,z\n1,2,3\n-40,-20,55,7\n")
    with pytest.raises(PointsFileError, match="line 3 has 4 fields, the header has 3"):
        read_points(f)
    assert cli(["points", str(f)]) == 2
    f.write_text("\ufeffx,y,z\n-40,-20,55\n")  # Excel's byte-order mark
    np.testing.assert_array_equal(read_points(f).coordinates, [[-40, -20, 55]])
    f.write_text("x,y,z,\n-40,-20,55,\n38,-22,58,\n")  # a separator closing every line
    np.testing.assert_array_equal(read_points(f).coordinates, [[-40, -20, 55], [38, -22, 58]])
    f.write_bytes(b"x,y,z\n\xff\xfe1,2,3\n")
    with pytest.raises(PointsFileError, match="not UTF-8"):
        read_points(f)


@pytest.mark.parametrize("scale", [1e100, 1e300, 1e-300])
def test_values_beyond_float32_keep_their_statistics(julich, tmp_path, scale):
    img = motor_t4()
    base = np.asarray(img.dataobj, np.float64)
    ref = julich.assign(nib.Nifti1Image(base, img.affine))
    big = nib.Nifti1Image(base * scale, img.affine)
    ours = julich.assign(big)
    assert list(ours.columns) == list(ref.columns) and len(ours) == len(ref) > 0
    for c in ("correlation", "intersection over union", "map weighted mean", "map containedness"):
        np.testing.assert_allclose(ours[c], ref[c], rtol=1e-12, err_msg=c)
    np.testing.assert_allclose(ours["input weighted mean"] / scale, ref["input weighted mean"], rtol=1e-12)
    path = tmp_path / "big.nii.gz"
    big.to_filename(path)
    df, _ = batch.assign_batch(julich, [path], threshold=4.0 * scale, progress=False)
    assert len(df) == len(ref) and np.isfinite(df["correlation"]).all()
    np.testing.assert_allclose(df["correlation"], ref["correlation"], rtol=1e-12)


def test_images_outside_the_grid_warn_and_are_counted(julich, tmp_path, capsys):
    img = motor_t4()
    far = img.affine.copy()
    far[:3, 3] += 1e4
    with pytest.warns(RuntimeWarning, match="entirely outside the atlas grid"):
        assert len(julich.assign(nib.Nifti1Image(np.asarray(img.dataobj), far))) == 0
    huge = np.diag([1e6, 1e6, 1e6, 1.0])
    nib.Nifti1Image(np.asarray(img.dataobj), far).to_filename(tmp_path / "far.nii.gz")
    nib.Nifti1Image(np.asarray(img.dataobj), huge).to_filename(tmp_path / "huge.nii.gz")
    img.to_filename(tmp_path / "ok.nii.gz")
    with pytest.warns(RuntimeWarning, match=f"2 maps lie entirely outside the atlas grid, so they have no rows: "
                                            f"{tmp_path}.*(far|huge).nii.gz and 1 more file;"):
        _, s = batch.assign_batch(julich, [tmp_path], progress=False)  # the API says so too, naming a file
    assert s.outside == 2 and s.maps == 3 and sorted(os.path.basename(m[0]) for m in s.outside_maps) == \
        ["far.nii.gz", "huge.nii.gz"]
    assert cli(["assign", str(tmp_path), "--out", str(tmp_path / "o.parquet"), "--quiet"]) == 0
    err = capsys.readouterr().err
    assert err.count("2 maps lie entirely outside the atlas grid") == 1 and ("far.nii.gz" in err or
                                                                            "huge.nii.gz" in err)


def test_an_atlas_of_empty_region_maps_is_refused_and_empty_regions_are_said(tmp_path, capsys):
    """All zeros: an error (never an atlas that assigns nothing); some regions empty: a warning naming them."""
    rng = np.random.default_rng(1)
    maps, A = random_atlas(rng, n_regions=3)
    maps = np.stack(maps)
    nib.Nifti1Image(np.zeros(maps.shape[1:] + (3,), np.float32), A).to_filename(tmp_path / "zeros.nii.gz")
    with pytest.raises(AtlasFileError, match="zeros.nii.gz: every region map is empty"):
        gpusiibra.load_map(tmp_path / "zeros.nii.gz")
    with pytest.raises(AtlasFileError, match="every region map is empty"):
        gpusiibra.from_arrays((4, 4, 4), np.eye(4), [], [], [])
    assert cli(["assign", "example:motor", "--atlas", str(tmp_path / "zeros.nii.gz"), "--out",
                str(tmp_path / "o.parquet")]) == 2
    assert "every region map is empty" in capsys.readouterr().err and not (tmp_path / "o.parquet").exists()
    part = np.moveaxis(maps, 0, -1).copy()
    part[..., 1] = 0
    nib.Nifti1Image(part.astype(np.float32), A).to_filename(tmp_path / "part.nii.gz")
    with pytest.warns(RuntimeWarning, match="part.nii.gz: 1 of its 3 region maps are empty .only zeros.: 'region 1'"):
        atlas = gpusiibra.load_map(tmp_path / "part.nii.gz", labels=["region 0", "region 1", "region 2"])
    assert len(atlas) == 3


def test_atlases_that_are_not_probabilities_are_refused(tmp_path):
    rng = np.random.default_rng(1)
    maps, A = random_atlas(rng, n_regions=3)
    for name, change, match in (("neg", lambda m: -m, "negative values"), ("pct", lambda m: m * 100, "value_scale=0.01"),
                                ("tmap", lambda m: m * 7.5, "values above 1")):
        folder = tmp_path / name
        folder.mkdir()
        for i, m in enumerate(maps):
            v = change(m) if i == 1 else m
            nib.Nifti1Image(v.astype(np.float32), A).to_filename(folder / f"r{i}.nii.gz")
        with pytest.raises(AtlasFileError, match=match):
            gpusiibra.load_map(folder)
    pct = gpusiibra.load_map(tmp_path / "pct", value_scale=0.01)
    np.testing.assert_allclose(pct.sparse_index.dense(1), maps[1], rtol=1e-6)
    with pytest.raises(AtlasFileError, match="negative"):
        gpusiibra.from_arrays((4, 4, 4), np.eye(4), [0, 0], [1, 2], [0.5, -0.2])
    # NaN in NIfTI region maps is set to 0 with a warning (as in input maps); in other formats it is refused
    with pytest.raises(AtlasFileError, match="non-finite values"):
        gpusiibra.from_arrays((4, 4, 4), np.eye(4), [0, 0], [1, 2], [0.5, np.nan])
    prefix = tmp_path / "v1" / "x"
    ix = gpusiibra.from_arrays((4, 4, 4), np.eye(4), [0, 0], [1, 2], [0.5, 0.25]).sparse_index
    siibra_v1.write_prefix(ix, prefix)
    probs = str(prefix) + siibra_v1.SUFFIXES["probs"]
    with open(probs, "wb") as f:
        f.write(gzip.compress(b"0 0.5\n0 nan\n"))
    with pytest.raises(AtlasFileError, match="non-finite values"):
        gpusiibra.load_map(str(prefix))


# ------------------------------------------------------------------ options, sigma, disks
@pytest.mark.parametrize("args, match", [
    (["--workers", "-1"], "--workers: must be at least 1"),
    (["--chunk-size", "0"], "--chunk-size: must be at least 1"),
    (["--chunk-size", "-3"], "--chunk-size: must be at least 1"),
    (["--threshold", "nan"], "--threshold: expected a finite number"),
    (["--minsize", "two"], "--minsize: expected an integer"),
])
def test_bad_options_are_refused_up_front(tmp_path, capsys, args, match):
    with pytest.raises(SystemExit) as e:
        cli(["assign", "example:motor", "--out", str(tmp_path / "o.parquet")] + args)
    assert e.value.code == 2 and match in capsys.readouterr().err
    assert not (tmp_path / "o.parquet").exists()


def test_bad_options_through_the_api(julich):
    for kw in (dict(chunk_size=0), dict(threshold=float("nan")), dict(workers=-1), dict(minsize=-1),
               dict(lower_threshold=-0.5)):
        with pytest.raises(OptionError):
            batch.assign_batch(julich, ["example:motor"], progress=False, **kw)
    for sigma in (-1.0, float("nan"), float("inf")):
        with pytest.raises(OptionError, match="sigma_mm must be finite and >= 0"):
            gpusiibra.PointCloud([(0, 0, 0)], sigma_mm=sigma)


def test_a_sigma_wider_than_the_brain_is_a_cheap_valid_question(julich, tmp_path):
    import tracemalloc

    tracemalloc.start()  # NumPy's arrays are counted: the kernel whole was a 43.5 GiB allocation
    try:
        df = julich.assign(gpusiibra.PointCloud([(-40, -20, 55)], sigma_mm=300))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 2 << 30, f"{peak / 2**30:.1f} GiB"
    assert len(df) > 300 and np.isfinite(df["correlation"]).all()
    # the part of the kernel on the grid: the same numbers as the kernel built whole (sigma 100 mm: a 601^3 cube
    # of which 157 x 197 x 165 voxels lie on the grid); compared with the dense cube of a smaller case
    from gpusiibra._assign import gaussian_profile

    for s in (1.5, 4.0, 11.3):
        g, total = gaussian_profile(s)
        import scipy.ndimage as ndi

        rad = int(3 * s)
        imp = np.zeros((2 * rad + 1,) * 3)
        imp[rad, rad, rad] = 1
        cube = ndi.gaussian_filter(imp, s, mode="nearest", truncate=4.0)
        np.testing.assert_array_equal(np.multiply.outer(np.multiply.outer(g, g), g) / total, cube / cube.sum())


def test_out_under_a_missing_folder_is_one_line(tmp_path, capsys):
    rc = cli(["assign", "example:motor", "--out", str(tmp_path / "no" / "such" / "o.parquet"), "--quiet"])
    err = capsys.readouterr().err
    assert rc == 2 and "does not exist" in err and len(err.strip().splitlines()) == 1


def _mount_tmpfs(where, size):
    where.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)], capture_output=True)
    return r.returncode == 0


def test_a_full_disk_stops_with_one_line_and_resume_recovers(julich, study, reference, tmp_path, monkeypatch, capsys):
    disk = tmp_path / "disk"
    mounted = _mount_tmpfs(disk, "40k")  # room for a few part files, not for all
    if not mounted:  # no privilege to mount: a writer that fails like a full disk after two chunks
        disk.mkdir(exist_ok=True)
        real, calls = dataset.Dataset.write, {"n": 0}

        def filling(self, *a):
            calls["n"] += 1
            if calls["n"] > 2:
                raise DatasetError(self.out, f"cannot write ({os.strerror(errno.ENOSPC)}); the maps finished so "
                                             "far are kept: run again with resume=True once the problem is solved")
            return real(self, *a)

        monkeypatch.setattr(dataset.Dataset, "write", filling)
    try:
        out = disk / "o.parquet"
        rc = cli(["assign", str(study), "--out", str(out), "--quiet", "--chunk-size", "2"])
        err = capsys.readouterr().err
        assert rc == 2 and "No space left on device" in err and "--resume" in err
        assert len(err.strip().splitlines()) == 1
        if mounted:
            subprocess.run(["mount", "-o", "remount,size=20m", str(disk)], check=True)
        else:
            monkeypatch.setattr(dataset.Dataset, "write", real)
        assert cli(["assign", str(study), "--out", str(out), "--quiet", "--chunk-size", "2", "--resume"]) == 0
        _same_dataset(out, reference)
    finally:
        if mounted:
            subprocess.run(["umount", str(disk)])


# ------------------------------------------------------------------ misleading messages
def test_messages_say_what_is_wrong(julich, tmp_path, rng):
    z = tmp_path / "z.nii.gz"
    nib.Nifti1Image(np.zeros((79, 0, 79), np.float32), np.eye(4)).to_filename(z)
    with pytest.raises(gpusiibra.ImageFileError, match=r"shape \(79, 0, 79\), which holds no voxels"):
        julich.assign(str(z))
    loop = tmp_path / "loop.nii.gz"
    os.symlink(loop, loop)
    with pytest.raises(gpusiibra.ImageFileError, match="loop of symbolic links"):
        julich.assign(str(loop))
    maps, A = random_atlas(rng, n_regions=4)
    zipped = atlas_from_dense(maps, A).save_sparseindex(tmp_path, "four")
    with pytest.raises(AtlasFileError, match="3 labels for 4 region maps"):
        gpusiibra.load_map(zipped, labels=["a", "b", "c"])
    with pytest.raises(AtlasFileError, match="nonexist.zip: no such file"):
        gpusiibra.get_map("nonexist.zip")
    v = gpusiibra.volumes.from_array(np.ones((3, 3, 3), np.float16), np.eye(4))
    assert v.get_data().dtype == np.float32


@pytest.mark.slow
@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs a named pipe to hold the run")
def test_ctrl_c_says_what_was_kept_and_how_to_resume(study, reference, tmp_path):
    """Ctrl-C in the middle of a run, for certain: the last input is a named pipe whose read waits until the
    test has interrupted (however fast or slow the machine), so the run cannot end before the signal."""
    folder = tmp_path / "study"
    folder.mkdir()
    for f in sorted(study.glob("*.nii.gz")):
        (folder / f.name).symlink_to(f)
    fifo = folder / "zz-held.nii.gz"
    os.mkfifo(fifo)
    out = tmp_path / "int.parquet"

    def ctrl_c_as_at_a_terminal():
        # a test run started in the background (`pytest &`, some CI runners) ignores SIGINT, and a Python started
        # with SIGINT ignored never turns it into KeyboardInterrupt: give the command a terminal's disposition
        signal.signal(signal.SIGINT, signal.SIG_DFL)

    p = _cli(["assign", folder, "--out", out, "--quiet", "--chunk-size", "1"], preexec_fn=ctrl_c_as_at_a_terminal)
    man, deadline = out / dataset.MANIFEST, time.time() + 300
    while time.time() < deadline and not (man.exists() and b'"type":"chunk"' in man.read_bytes()):
        time.sleep(0.05)
    p.send_signal(signal.SIGINT)
    deadline = time.time() + 120
    while p.poll() is None and time.time() < deadline:  # a reader waiting on the pipe gets an empty file
        try:
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        except OSError:  # nobody reads it (yet, or any more)
            time.sleep(0.05)
    _, err = p.communicate(timeout=120)
    assert p.returncode == 130 and "Traceback" not in err, err
    assert "finished maps are kept" in err and "--resume" in err, err
    os.remove(fifo)
    p = _cli(["assign", folder, "--out", out, "--quiet", "--chunk-size", "1", "--resume"])
    _, err = p.communicate(timeout=300)
    assert p.returncode == 0, err
    got, ref = pd.read_parquet(out), pd.read_parquet(reference)
    ref = ref.assign(input=ref["input"].map(lambda s: str(folder / os.path.basename(s))))
    pd.testing.assert_frame_equal(_norm(got), _norm(ref))


def test_a_closed_pipe_ends_the_listing_quietly():
    p = _cli(["atlas", "info", "--regions"])
    p.stdout.readline()
    p.stdout.close()  # as `| head -1` does
    err = p.stderr.read()
    assert p.wait(timeout=60) == 0 and "Traceback" not in err and "BrokenPipe" not in err


def test_an_unwritable_output_folder_is_one_line(tmp_path, capsys):
    ro = tmp_path / "ro"
    ro.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=64k", "tmpfs", str(ro)], capture_output=True).returncode:
        os.chmod(ro, 0o555)  # without the privilege to mount: permissions (which do not bind root)
        if os.access(ro, os.W_OK):
            pytest.skip("cannot make a folder this user cannot write")
    try:
        assert cli(["assign", "example:motor", "--out", str(ro / "o.parquet"), "--quiet"]) == 2
        err = capsys.readouterr().err
        assert ("Read-only file system" in err or "Permission denied" in err) and len(err.strip().splitlines()) == 1
    finally:
        subprocess.run(["umount", str(ro)], capture_output=True)


def test_a_cut_file_is_one_line_naming_it(tmp_path, capsys):
    """nibabel's message for a file cut short holds a line break: the error is still one line, naming the file."""
    img = motor_t4()
    img.to_filename(tmp_path / "whole.nii")
    (tmp_path / "cut.nii").write_bytes((tmp_path / "whole.nii").read_bytes()[:352 + 1000])
    assert cli(["assign", str(tmp_path / "cut.nii"), str(tmp_path / "whole.nii"), "--out", str(tmp_path / "o.parquet"),
                "--quiet"]) == 1  # an input failed
    err = [line for line in capsys.readouterr().err.splitlines() if "cut.nii" in line]
    assert len(err) == 1 and "truncated" in err[0] and "could the file be damaged" in err[0], err
    errors = pd.read_csv(tmp_path / "o.parquet.errors.csv")
    assert len(errors) == 1 and "\n" not in errors["reason"][0]
