"""The batch's readers: the raw NIfTI path gives exactly what nibabel's arrays give, on every kind of file;
golden cases through files; reader processes end with a killed run."""
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

from golden_cases import blobs, compare_with_golden, motor_t4
from gpusiibra import _readers, batch
from gpusiibra.errors import ImageFileError
from gpusiibra.io import nifti

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
A = np.array([[-2.0, 0, 0, 90], [0, 2, 0, -126], [0, 0, 2, -72], [0, 0, 0, 1]])


def _big_endian(data, affine, slope=None):
    hdr = nib.Nifti1Header().as_byteswapped(">")
    hdr.set_data_dtype(data.dtype.newbyteorder(">"))
    img = nib.Nifti1Image(data.astype(data.dtype.newbyteorder(">")), affine, header=hdr)
    if slope is not None:
        img.header.set_slope_inter(slope, 0)
    return img


def _scaled(data, affine, slope, inter=0.0):
    img = nib.Nifti1Image(data, affine)
    img.header.set_slope_inter(slope, inter)
    return img


def _write_kinds(folder, rng):
    """One file of each kind a study may hold: name -> (path, whether the raw path takes it)."""
    base = rng.normal(size=(20, 22, 18)) * 2
    base[np.abs(base) < 0.5] = 0
    f32 = base.astype(np.float32)
    i16 = np.round(base * 100).astype(np.int16)
    i16_min = i16.copy()
    i16_min[0, 0, 0] = -32768  # the most negative value: the negated map needs a wider type
    nonfinite = f32.copy()
    nonfinite[1, 2, 3], nonfinite[4, 4, 4], nonfinite[5, 5, 5] = np.nan, np.inf, -np.inf
    ext = nib.Nifti1Image(f32, A)
    ext.header.extensions.append(nib.nifti1.Nifti1Extension(6, b"a comment extension"))
    kinds = {
        "float32": (nib.Nifti1Image(f32, A), True),
        "float64": (nib.Nifti1Image(base, A), True),
        "int16": (nib.Nifti1Image(i16_min, A), True),
        "int16 scl_slope": (_scaled(i16, A, 0.01), True),
        "int16 scl_slope and intercept": (_scaled(i16, A, 0.01, 0.5), False),
        "float32 scl_slope": (_scaled(f32, A, 2.0), False),
        "uint8 {0,1}": (nib.Nifti1Image((np.abs(base) > 1).astype(np.uint8), A), True),
        "uint16": (nib.Nifti1Image(np.abs(i16).astype(np.uint16), A), True),
        "int32": (nib.Nifti1Image(np.round(base * 1000).astype(np.int32), A), True),
        "NIfTI-2": (nib.Nifti2Image(f32, A), True),
        "big-endian float32": (_big_endian(f32, A), True),
        "big-endian int16 scl_slope": (_big_endian(i16, A, 0.01), True),
        "4D": (nib.Nifti1Image(np.stack([f32, -f32, 2 * f32], -1), A), True),
        "5D of one volume": (nib.Nifti1Image(f32[..., None, None], A), True),
        "non-finite values": (nib.Nifti1Image(nonfinite, A), True),
        "mostly nonzero": (nib.Nifti1Image(f32 + 10, A), True),
        "extension": (ext, True),
        "oblique": (nib.Nifti1Image(f32, A @ np.array([[1, 0.2, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1.0]])),
                    True),
    }
    out = {}
    for name, (img, raw) in kinds.items():
        path = folder / (name.replace(" ", "_").replace("{", "").replace("}", "").replace(",", "") + ".nii.gz")
        img.to_filename(path)
        out[name] = (str(path), raw)
    path = folder / "uncompressed.nii"
    nib.Nifti1Image(f32, A).to_filename(path)
    out["uncompressed .nii"] = (str(path), True)
    inflated = gzip.decompress((folder / "float32.nii.gz").read_bytes())
    third = len(inflated) // 3
    for name, cuts in (("multi-member gzip", [1000]), ("multi-member gzip, empty last member", [third, 3 * third])):
        edges = [0] + cuts + [len(inflated)]
        path = folder / (name.replace(" ", "_").replace(",", "") + ".nii.gz")
        path.write_bytes(b"".join(gzip.compress(inflated[a:b]) for a, b in zip(edges, edges[1:])))
        out[name] = (str(path), True)
    return out


def _same_maps(got, ref):
    assert [(m.input, m.frame, m.sign) for m in got] == [(m.input, m.frame, m.sign) for m in ref]
    for g, r in zip(got, ref):
        a, b = g.image, r.image
        assert a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a.affine, b.affine)
        assert (a.order, a.vmin, a.vmax, a.nnz) == (b.order, b.vmin, b.vmax, b.nnz)
        assert (a.data is None) == (b.data is None)  # handed over sparse or dense alike
        for x, y in zip(a.entries(), b.entries()):
            assert x.dtype == y.dtype
            np.testing.assert_array_equal(x, y)
        if r.peaks is None:
            assert g.peaks is None
        else:
            np.testing.assert_array_equal(g.peaks, r.peaks)


def test_the_raw_path_gives_nibabels_maps_for_every_kind_of_file(tmp_path):
    """Index, values, type, affine, interpolation order, clip range, dense hand-over and peaks: the same as
    through nibabel's arrays, for every threshold sign and both signs of the map."""
    kinds = _write_kinds(tmp_path, np.random.default_rng(7))
    for name, (path, raw) in kinds.items():
        assert (nifti.read_raw(path) is not None) == raw, name
        for threshold in (None, 0.7, -0.5, 3.1, 150.0):
            for two_sided in (False, True):
                peaks = threshold == 0.7
                signs = ("+", "-") if two_sided else ("+",)
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", RuntimeWarning)
                    got = _readers.read_map(path, threshold, two_sided, peaks)
                    ref = _readers._read_with_nibabel(path, threshold, signs, peaks, 5)
                _same_maps(got, ref)


def test_the_raw_path_reads_what_nibabel_reads(tmp_path):
    """The stored voxels, scaled, are nibabel's ``np.asanyarray(img.dataobj)`` (same values and type)."""
    kinds = _write_kinds(tmp_path, np.random.default_rng(8))
    for name, (path, raw) in kinds.items():
        r = nifti.read_raw(path)
        if r is None:
            continue
        ref = np.asanyarray(nib.load(path).dataobj)
        while ref.ndim > 3 and ref.shape[-1] == 1:
            ref = ref[..., 0]
        got = r.scale(r.voxels) if r.scaled else r.voxels
        assert got.dtype == ref.dtype.newbyteorder("="), name
        np.testing.assert_array_equal(got.reshape(ref.shape, order="F"), ref, err_msg=name)
        np.testing.assert_array_equal(r.affine, nib.load(path).affine)


def test_the_non_finite_warning_and_error_are_kept(tmp_path):
    d = np.ones((4, 5, 6), np.float32)
    d[0, 0, 0] = np.nan
    nib.Nifti1Image(d, A).to_filename(tmp_path / "some.nii.gz")
    with pytest.warns(RuntimeWarning, match="1 non-finite values set to 0"):
        maps = _readers.read_map(str(tmp_path / "some.nii.gz"), None, False)
    assert maps[0].image.nnz == d.size - 1
    nib.Nifti1Image(np.full((4, 5, 6), np.nan, np.float32), A).to_filename(tmp_path / "all.nii.gz")
    with pytest.raises(ImageFileError, match="every value is NaN or infinite"):
        _readers.read_map(str(tmp_path / "all.nii.gz"), None, False)


def test_damaged_and_truncated_files_name_the_problem(tmp_path):
    nib.Nifti1Image(np.ones((10, 10, 10), np.float32), A).to_filename(tmp_path / "ok.nii.gz")
    raw = (tmp_path / "ok.nii.gz").read_bytes()
    (tmp_path / "cut.nii.gz").write_bytes(raw[: len(raw) // 2])
    bad = bytearray(raw)
    bad[len(raw) // 2] ^= 0x55
    (tmp_path / "bad.nii.gz").write_bytes(bytes(bad))
    inflated = gzip.decompress(raw)
    (tmp_path / "short.nii").write_bytes(inflated[: len(inflated) - 100])
    for name in ("cut.nii.gz", "bad.nii.gz", "short.nii"):
        got = _readers.safe_read(str(tmp_path / name), None, False)
        assert isinstance(got, ImageFileError) and got.path.endswith(name), name


def test_the_inflaters_agree(tmp_path, monkeypatch):
    nib.Nifti1Image(np.random.default_rng(0).normal(size=(30, 30, 30)).astype(np.float32), A).to_filename(
        tmp_path / "m.nii.gz")
    raw = (tmp_path / "m.nii.gz").read_bytes()
    ref = gzip.decompress(raw)
    assert nifti.inflate(raw) == ref
    monkeypatch.setattr(nifti, "_libdeflate", lambda: None)
    assert nifti.inflater() in ("isal", "zlib") and nifti.inflate(raw) == ref
    monkeypatch.setattr(nifti, "_isal", lambda: None)
    assert nifti.inflater() == "zlib" and nifti.inflate(raw) == ref


@pytest.mark.parametrize("kind", ["float32 .nii.gz", "float32 .nii", "big-endian float32", "NIfTI-2"])
def test_golden_images_through_files(julich, tmp_path, kind, on_backend):
    """siibra's golden numbers through the batch command's route (files read by the readers)."""
    paths = {}
    for case, img in (("motor_t4", motor_t4()), ("blobs_lt02", blobs())):
        d = np.asarray(img.dataobj)
        out = tmp_path / (case + (".nii" if kind == "float32 .nii" else ".nii.gz"))
        if kind == "big-endian float32":
            img = _big_endian(d, img.affine)
        elif kind == "NIfTI-2":
            img = nib.Nifti2Image(d, img.affine)
        img.to_filename(out)
        paths[case] = str(out)
    for case, lt in (("motor_t4", 0.0), ("blobs_lt02", 0.2)):
        rows, s = batch.assign_batch(julich, [paths[case]], lower_threshold=lt, progress=False)
        assert s.maps == 1 and s.failures == 0
        compare_with_golden(rows.drop(columns=["input", "atlas", "frame", "sign", "kind", "voxels"]), case)


@pytest.mark.parametrize("grid", ["1.5 mm", "3 mm", "oblique"])
def test_integer_files_give_the_apis_numbers(julich, tmp_path, grid):
    """int16 with scl_slope (little and big endian) and plain int16 files: the batch's rows are those of
    ``SparseMap.assign`` on the image nibabel loads from the same file, to the last bit."""
    from scipy import ndimage as ndi

    b = np.asarray(blobs().dataobj, np.float64)
    if grid == "oblique":
        affine = blobs().affine @ np.array([[1, 0.1, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1.0]])
    else:
        f = 2.0 / float(grid.split()[0])
        b = ndi.zoom(b, f, order=1)
        affine = blobs().affine @ np.diag([1 / f, 1 / f, 1 / f, 1.0])
    q = np.round(b * 30000).astype(np.int16)
    files = {"int16": nib.Nifti1Image(q, affine), "int16 scl_slope": _scaled(q, affine, 1 / 30000),
             "big-endian int16 scl_slope": _big_endian(q, affine, 1 / 30000)}
    for name, img in files.items():
        path = str(tmp_path / (name.replace(" ", "_") + ".nii.gz"))
        img.to_filename(path)
        lt = 0.2 if "slope" in name else 0.0
        rows, _ = batch.assign_batch(julich, [path], lower_threshold=lt, threshold=0.1 if "slope" in name else None,
                                     progress=False)
        d = np.asanyarray(nib.load(path).dataobj)
        if "slope" in name:
            d = np.where(d < 0.1, 0, d)
        api = julich.assign(nib.Nifti1Image(d, nib.load(path).affine), lower_threshold=lt)
        key = ["input structure", "volume"]
        a = rows.set_index(key).sort_index()
        r = api.set_index(key).sort_index()
        assert list(a.index) == list(r.index), name
        for c in r.columns:
            if c in ("region", "centroid"):
                continue
            np.testing.assert_array_equal(a[c].to_numpy(float), r[c].to_numpy(float), err_msg=f"{name}: {c}")


def _children(pid):
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                out.append(int(d))
    return out


def _alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.slow
@pytest.mark.skipif(not os.path.isdir("/proc"), reason="reads the process table from /proc")
def test_reader_processes_end_when_the_run_is_killed(tmp_path):
    """kill -9 of `gpusiibra assign` (the out-of-memory killer's way): its reader processes and
    multiprocessing's resource tracker end by themselves, and a pipe on its output reaches its end."""
    img = motor_t4()
    d = np.asarray(img.dataobj)
    folder = tmp_path / "maps"
    folder.mkdir()
    for i in range(40):
        nib.Nifti1Image(np.roll(d, i, axis=2), img.affine).to_filename(folder / f"m{i:02d}.nii.gz")
    out = tmp_path / "res.parquet"
    env = dict(os.environ, PYTHONPATH=ROOT, GPUSIIBRA_BACKEND="cpu")
    p = subprocess.Popen([sys.executable, "-m", "gpusiibra.cli", "assign", str(folder), "--out", str(out),
                          "--readers", "3", "--chunk-size", "2", "--quiet"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    deadline = time.monotonic() + 300
    kids = []
    while time.monotonic() < deadline and p.poll() is None:  # until the readers run and a chunk is written
        kids = _children(p.pid)
        if len(kids) >= 3 and (out / "_manifest.jsonl").exists() and b'"type":"chunk"' in (
                out / "_manifest.jsonl").read_bytes():
            break
        time.sleep(0.02)
    if p.poll() is not None:
        pytest.fail(f"the run ended before it could be killed: {p.communicate()[1][-500:]!r}")
    kids = _children(p.pid)
    assert len(kids) >= 3  # the reader processes and the resource tracker
    p.send_signal(signal.SIGKILL)
    p.communicate(timeout=60)  # the pipes reach their end: no child holds them open for long
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and any(_alive(k) for k in kids):
        time.sleep(0.1)
    assert not [k for k in kids if _alive(k)]
    # and the dataset continues to the uninterrupted result
    p = subprocess.run([sys.executable, "-m", "gpusiibra.cli", "assign", str(folder), "--out", str(out),
                        "--readers", "3", "--chunk-size", "2", "--quiet", "--resume"],
                       capture_output=True, text=True, env=env, timeout=300)
    assert p.returncode == 0, p.stderr
    assert pd.read_parquet(out)["input"].nunique() == 40
