"""nilearn's atlases (Schaefer 2018...): downloaded by gpusiibra through the mirror (a server of the test's own on
127.0.0.1, serving small files laid out as the real ones), read by nilearn's own fetcher from the data directory
gpusiibra filled, checked and cached; a download cut short or labels that do not match the volume: one line,
nothing cached."""
import gzip
import io
import os
import warnings

import nibabel as nib
import numpy as np
import pytest

import gpusiibra
from gpusiibra import atlases
from gpusiibra.errors import AtlasFileError, DownloadError

from atlas_server import AtlasServer


@pytest.fixture
def server(monkeypatch):
    s = AtlasServer()
    monkeypatch.setenv(atlases.MIRROR_ENV, s.url)
    yield s
    s.stop()


def _nifti_gz(data, affine) -> bytes:
    img = nib.Nifti1Image(data, affine)
    buf = io.BytesIO()
    buf.write(img.to_bytes())
    return gzip.compress(buf.getvalue())


def _serve_schaefer(server, entry, n_labels=None, extra_label=None):
    """A 10x10x10 label volume (labels 1..n on the first voxels, 1 mm, MNI-like origin) and the label table
    (``index\\tname\\tr\\tg\\tb\\t0`` lines, as CBIG writes them) at the entry's URLs."""
    n = entry.n_regions
    data = np.zeros(1000, np.int16)
    data[: n_labels or n] = np.arange(1, (n_labels or n) + 1)
    if extra_label:
        data[-1] = extra_label
    affine = np.diag([-1.0, 1.0, 1.0, 1.0])
    affine[:3, 3] = (5, -5, -5)
    (tname, turl), (vname, vurl) = entry.source["files"]
    table = "".join(f"{i}\t7Networks_{'LH' if i <= n // 2 else 'RH'}_Net_{i}\t{i % 255}\t20\t30\t0\n"
                    for i in range(1, n + 1))
    server.put(turl, table.encode())
    server.put(vurl, _nifti_gz(data.reshape(10, 10, 10), affine))
    return turl, vurl


@pytest.mark.parametrize("name", ["schaefer-400-7", "schaefer-100-17"])
def test_schaefer_is_fetched_through_the_mirror_and_read_by_nilearn(server, tmp_path, name):
    entry = atlases.get_entry(name)
    turl, vurl = _serve_schaefer(server, entry)
    atlas = gpusiibra.get_map(name, cache=tmp_path, progress=False)
    assert atlas.maptype == "labelled" and len(atlas) == entry.n_regions
    assert atlas.regions[0] == "7Networks_LH_Net_1" and atlas.labels[-1] == entry.n_regions
    assert server.hits[server.path(turl)] == 1 and server.hits[server.path(vurl)] == 1  # nilearn downloaded nothing
    record = atlases._Checksums(os.path.join(tmp_path, entry.id)).known
    assert sorted(record) == sorted(f for f, _ in entry.source["files"])
    assert all(len(r["sha256"]) == 64 for r in record.values())
    # the voxel of label 3 (the third voxel, C order) reads region 3
    xyz = nib.affines.apply_affine(atlas.affine, np.unravel_index(2, (10, 10, 10)))
    assert atlas.assign(gpusiibra.Point(tuple(xyz)))["region"].tolist() == ["7Networks_LH_Net_3"]
    again = gpusiibra.get_map(name, cache=tmp_path, progress=False)  # from the cache: no second download
    assert again.regions == atlas.regions and server.hits[server.path(vurl)] == 1


def test_a_download_cut_short_is_one_line_and_nothing_is_cached(server, tmp_path):
    entry = atlases.get_entry("schaefer-400-7")
    _, vurl = _serve_schaefer(server, entry)
    server.modes[server.path(vurl)] = "cut"
    with pytest.raises(DownloadError, match="cut short") as e:
        atlases.fetch(entry, tmp_path, progress=False)
    assert "\n" not in str(e.value)
    assert not atlases.is_cached(entry, tmp_path)
    downloads = os.path.join(tmp_path, entry.id, "downloads", "schaefer_2018")
    assert not os.path.exists(os.path.join(downloads, os.path.basename(vurl)))
    server.modes.pop(server.path(vurl))  # the next try completes
    assert len(gpusiibra.get_map(entry.id, cache=tmp_path, progress=False)) == 400


@pytest.mark.parametrize("problem", ["a label missing from the volume", "a label the table does not name"])
def test_labels_that_do_not_match_the_volume(server, tmp_path, problem):
    entry = atlases.get_entry("schaefer-400-7")
    if problem.startswith("a label missing"):
        _serve_schaefer(server, entry, n_labels=399)
        match = "the label table names 1 label|1 of the 400 regions named have no voxel"
    else:
        _serve_schaefer(server, entry, extra_label=777)
        match = "777 name no region"
    with pytest.raises(AtlasFileError, match=match) as e:
        atlases.fetch(entry, tmp_path, progress=False)
    assert "labels do not match the volume" in str(e.value) and "\n" not in str(e.value)
    assert not atlases.is_cached(entry, tmp_path)


def test_the_catalog_has_at_least_45_maps_and_describes_them():
    from gpusiibra.maps import available_maps

    assert len(atlases.catalog()) + len(available_maps()) >= 45
    text = atlases.describe("schaefer-400-7")
    assert "fetch_atlas_schaefer_2018(n_rois=400, yeo_networks=7, resolution_mm=1)" in text
    assert "MNI152NLin6Asym" in text and "Schaefer A et al. (2018)" in text


# ------------------------------------------------------------------ archives, laid out as the real ones
def _label_volume(n, shape=(10, 10, 10)):
    data = np.zeros(int(np.prod(shape)), np.int16)
    data[:n] = np.arange(1, n + 1)
    affine = np.diag([-2.0, 2.0, 2.0, 1.0])
    affine[:3, 3] = (10, -10, -10)
    return data.reshape(shape), affine


def _tar_gz(members: dict) -> bytes:
    import tarfile

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as t:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _zip(members: dict) -> bytes:
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    return buf.getvalue()


def _yeo_zip():
    members = {}
    for n in (7, 17):
        data, affine = _label_volume(n)
        for suffix in ("", "_LiberalMask"):
            members[f"Yeo_JNeurophysiol11_MNI152/Yeo2011_{n}Networks_MNI152_FreeSurferConformed1mm{suffix}.nii.gz"] = \
                _nifti_gz(data, affine)
        members[f"Yeo_JNeurophysiol11_MNI152/Yeo2011_{n}Networks_ColorLUT.txt"] = (
            "0 NONE 0 0 0 0\n" + "".join(f"{i} {n}Networks_{i} {i * 10} 20 30 0\n" for i in range(1, n + 1))).encode()
    members["Yeo_JNeurophysiol11_MNI152/FSL_MNI152_FreeSurferConformed_1mm.nii.gz"] = _nifti_gz(
        np.ones((10, 10, 10), np.int16), np.eye(4))
    return _zip(members)


def _aal_tar():
    data, affine = _label_volume(116)
    labels = np.arange(2001, 2117)
    vol = np.zeros(data.shape, np.int16)
    vol[data > 0] = labels[data[data > 0] - 1]
    xml = "<?xml version='1.0'?><atlas version='2.0'><data>" + "".join(
        f"<label><index>{v}</index><name>Region_{v}</name></label>" for v in labels) + "</data></atlas>"
    return _tar_gz({"aal/atlas/AAL.nii": nib.Nifti1Image(vol, affine).to_bytes(), "aal/atlas/AAL.xml": xml.encode()})


def _ho_tgz():
    data, affine = _label_volume(21)
    xml = "<?xml version='1.0'?><atlas><data>" + "".join(
        f'<label index="{i}" x="0" y="0" z="0">Structure {i + 1}</label>' for i in range(21)) + "</data></atlas>"
    return _tar_gz({"data/atlases/HarvardOxford/HarvardOxford-sub-maxprob-thr25-1mm.nii.gz": _nifti_gz(data, affine),
                    "data/atlases/HarvardOxford-Subcortical.xml": xml.encode()})


@pytest.mark.parametrize("name, make, first", [("yeo-7-thick", _yeo_zip, "7Networks_1"),
                                               ("aal-spm12", _aal_tar, "Region_2001"),
                                               ("harvard-oxford-sub-25", _ho_tgz, "Structure 1")])
def test_archives_are_fetched_through_the_mirror_unpacked_and_read_by_nilearn(server, tmp_path, name, make, first):
    entry = atlases.get_entry(name)
    (fname, url, how), = entry.source["files"]
    assert how == "archive"
    server.put(url, make())
    atlas = gpusiibra.get_map(name, cache=tmp_path, progress=False)
    assert len(atlas) == entry.n_regions and atlas.regions[0] == first
    assert server.hits[server.path(url)] == 1
    assert atlases._Checksums(os.path.join(tmp_path, entry.id)).known[fname]["size"] == len(server.files[
        server.path(url)])
    # every region holds the voxels of its label (here: one each)
    assert (np.diff(atlas.sparse_index.region_ptr) == 1).all()


def test_a_damaged_archive_is_one_line_and_nothing_is_cached(server, tmp_path):
    entry = atlases.get_entry("aal-spm12")
    (_, url, _), = entry.source["files"]
    server.put(url, _aal_tar()[:-300] + b"\0" * 300)
    with pytest.raises(AtlasFileError) as e:
        atlases.fetch(entry, tmp_path, progress=False)
    assert "nothing was cached" in str(e.value) and "\n" not in str(e.value)
    assert not atlases.is_cached(entry, tmp_path)


def test_an_archive_without_its_labels_file_is_refused_before_nilearn_runs(server, tmp_path, monkeypatch):
    import tarfile

    entry = atlases.get_entry("harvard-oxford-sub-25")
    (_, url, _), = entry.source["files"]
    full = tarfile.open(fileobj=io.BytesIO(_ho_tgz()))
    server.put(url, _tar_gz({m.name: full.extractfile(m).read() for m in full.getmembers() if
                             not m.name.endswith(".xml")}))
    import nilearn.datasets

    monkeypatch.setattr(nilearn.datasets, "fetch_atlas_harvard_oxford", None)  # never reached
    with pytest.raises(AtlasFileError, match=r"holds no data/atlases/HarvardOxford-Subcortical\.xml") as e:
        atlases.fetch(entry, tmp_path, progress=False)
    assert "nothing was cached" in str(e.value) and "\n" not in str(e.value)
    assert not atlases.is_cached(entry, tmp_path) and server.hits[server.path(url)] == 1


def _ho_prob_tgz(volumes=21):
    rng = np.random.default_rng(7)
    data = rng.integers(0, 101, size=(6, 6, 6, volumes)).astype(np.uint8)
    data[rng.random(data.shape) < 0.7] = 0
    affine = np.diag([2.0, 2.0, 2.0, 1.0])
    affine[:3, 3] = (-6, -6, -6)
    xml = "<?xml version='1.0'?><atlas><data>" + "".join(
        f'<label index="{i}" x="0" y="0" z="0">Structure {i + 1}</label>' for i in range(21)) + "</data></atlas>"
    return data, _tar_gz({"data/atlases/HarvardOxford/HarvardOxford-sub-prob-1mm.nii.gz": _nifti_gz(data, affine),
                          "data/atlases/HarvardOxford-Subcortical.xml": xml.encode()})


def test_a_probabilistic_one_is_read_as_probabilities(server, tmp_path):
    entry = atlases.get_entry("harvard-oxford-sub-prob")
    (_, url, _), = entry.source["files"]
    data, archive = _ho_prob_tgz()
    server.put(url, archive)
    atlas = gpusiibra.get_map(entry.id, cache=tmp_path, progress=False)
    assert atlas.maptype == "statistical" and atlas.regions[:2] == ["Structure 1", "Structure 2"]
    for r in (0, 7, 20):  # each region's map is its volume, percent / 100
        got = np.asanyarray(atlas.fetch(index=r).dataobj)
        assert np.allclose(got, data[..., r] / 100.0, atol=1e-6)


def test_a_probabilistic_one_whose_volumes_do_not_match_its_labels(server, tmp_path):
    entry = atlases.get_entry("harvard-oxford-sub-prob")
    (_, url, _), = entry.source["files"]
    server.put(url, _ho_prob_tgz(volumes=20)[1])
    with pytest.raises(AtlasFileError, match="labels name 21 regions, the map has 20 volume"):
        atlases.fetch(entry, tmp_path, progress=False)
    assert not atlases.is_cached(entry, tmp_path)


# ------------------------------------------------------------------ DiFuMo 1024: one big 4D file, read a volume at a time
def _difumo_zip(n=1024, shape=(6, 7, 5), cut=None, labels=None):
    """nilearn's DiFuMo layout (1024/labels_1024_dictionary.csv, 1024/2mm/maps.nii.gz, 1024/3mm/maps.nii.gz) with
    small volumes: non-negative weights (some above 1), most voxels 0; ``cut``: the 2 mm file's gzip stream cut to
    that share of its bytes (a transfer cut short before it was zipped)."""
    rng = np.random.default_rng(3)
    data = (rng.random(shape + (n,)) * 2.5).astype(np.float32)
    data[rng.random(data.shape) < 0.8] = 0
    affine = np.diag([2.0, 2.0, 2.0, 1.0])
    affine[:3, 3] = (-6, -7, -5)
    maps = _nifti_gz(data, affine)
    if cut:
        maps = maps[: int(len(maps) * cut)]
    names = labels or [f"Mode {k + 1} - {'left' if k % 2 else 'right'} hemisphere" for k in range(n)]
    csv = "Component,Difumo_names,Yeo_networks7,GM\n" + "".join(f"{k + 1},{nm},No network found,0.5\n"
                                                                    for k, nm in enumerate(names))
    return data, affine, _zip({f"{n}/labels_{n}_dictionary.csv": csv.encode(), f"{n}/2mm/maps.nii.gz": maps,
                               f"{n}/3mm/maps.nii.gz": _nifti_gz(data[::2, ::2, ::2], affine)})


def _serve_difumo(server, **kw):
    entry = atlases.get_entry("difumo-1024")
    (_, zurl, how), (readme, rurl) = entry.source["files"]
    assert how == "archive" and readme == "README.md"
    data, affine, archive = _difumo_zip(**kw)
    server.put(zurl, archive)
    server.put(rurl, b"# DiFuMo\n")
    return entry, data, zurl, rurl


def test_difumo_1024_is_fetched_through_the_mirror_read_a_volume_at_a_time(server, tmp_path, monkeypatch):
    from gpusiibra.io import nifti

    entry, data, zurl, rurl = _serve_difumo(server)
    read = []
    real = nifti.iter_volumes
    monkeypatch.setattr(nifti, "iter_volumes", lambda *a, **k: read.append(a[0]) or real(*a, **k))
    atlas = gpusiibra.get_map("difumo 1024", cache=tmp_path, progress=False)
    assert len(read) == 1 and read[0].endswith(os.path.join("1024", "2mm", "maps.nii.gz"))  # streamed, not dense
    assert atlas.maptype == "statistical" and len(atlas) == 1024
    assert atlas.regions[:2] == ["Mode 1 - right hemisphere", "Mode 2 - left hemisphere"]
    assert server.hits[server.path(zurl)] == 1 and server.hits[server.path(rurl)] == 1  # nilearn downloaded nothing
    for r in (0, 511, 1023):  # weights, as they are (above 1 too)
        assert np.array_equal(np.asanyarray(atlas.fetch(index=r).dataobj), data[..., r])
    assert "fetch_atlas_difumo(dimension=1024, resolution_mm=2)" in atlases.describe("difumo-1024")


def test_a_4d_file_streamed_gives_the_index_of_the_dense_read(tmp_path, monkeypatch):
    """The nilearn path and the region-map reader, streamed and (the raw reader switched off) dense: the same
    index, bit for bit; for .nii.gz, .nii and a scaled integer file."""
    from gpusiibra._nilearn_sources import _probabilistic
    from gpusiibra.io import nifti

    entry = atlases.get_entry("difumo-1024")
    _, _, archive = _difumo_zip(n=1024)
    import zipfile

    with zipfile.ZipFile(io.BytesIO(archive)) as z:
        gz = z.read("1024/2mm/maps.nii.gz")
    files = {"w.nii.gz": gz, "w.nii": gzip.decompress(gz)}
    nan = nib.Nifti1Image.from_bytes(files["w.nii"])
    data = np.asanyarray(nan.dataobj).copy()
    data[1, 2, 3, 700] = np.nan  # one non-finite value: kept by the nilearn path, set to 0 (a warning) by the other
    files["n.nii"] = nib.Nifti1Image(data, nan.affine).to_bytes()
    rng = np.random.default_rng(5)
    img = nib.Nifti1Image(rng.integers(0, 300, (5, 4, 3, 1024)).astype(np.int16), np.diag([2.0, 2.0, 2.0, 1.0]))
    img.header.set_slope_inter(0.01, 0)
    files["s.nii.gz"] = gzip.compress(img.to_bytes())

    class Got:
        labels = __import__("pandas").DataFrame({"component": range(1, 1025),
                                                  "difumo_names": [f"m{k}" for k in range(1024)]})

    for name, raw in files.items():
        path = str(tmp_path / name)
        with open(path, "wb") as f:
            f.write(raw)
        with warnings.catch_warnings(record=True) as said:
            warnings.simplefilter("always")
            streamed = [_probabilistic(entry, Got, path, path)[0], nifti.read_region_maps(path)]
            with monkeypatch.context() as m:
                m.setattr(nifti, "iter_volumes", lambda *a, **k: None)
                dense = [_probabilistic(entry, Got, path, path)[0], nifti.read_region_maps(path)]
        assert [str(w.message) for w in said] == ([f"{path}: 1 non-finite values set to 0"] * 2 if name == "n.nii"
                                                  else [])
        a, b = streamed[0], dense[0]
        assert a.n_entries and a.shape == b.shape and np.array_equal(a.affine, b.affine)
        for field in ("voxels", "row_ptr", "row_voxel", "entry_region", "entry_value", "region_ptr", "region_voxel",
                      "region_value"):
            x, y = np.asarray(getattr(a, field)), np.asarray(getattr(b, field))
            assert x.dtype == y.dtype and x.tobytes() == y.tobytes(), (name, field)
        for key in ("region", "voxel", "value"):
            assert streamed[1][key].tobytes() == dense[1][key].tobytes(), (name, key)
        assert streamed[1]["names"] == dense[1]["names"]


@pytest.mark.parametrize("how", ["transfer", "file"])
def test_a_4d_download_cut_short_is_one_line_and_nothing_is_cached(server, tmp_path, how):
    """The zip's transfer cut short (pooch refuses it), or a complete zip whose 4D file was cut short (the stream
    read to its end refuses it): one line, nothing cached, no download kept."""
    entry, _, zurl, _ = _serve_difumo(server, cut=0.6 if how == "file" else None)
    if how == "transfer":
        server.modes[server.path(zurl)] = "cut"
    with pytest.raises((DownloadError, AtlasFileError), match="cut short") as e:
        atlases.fetch(entry, tmp_path, progress=False)
    assert "\n" not in str(e.value)
    if how == "file":
        assert "nothing was cached" in str(e.value)
    assert not atlases.is_cached(entry, tmp_path)
    assert not os.path.exists(os.path.join(tmp_path, entry.id, "downloads", "difumo_atlases", "1024"))


def test_entries_in_region_order_give_the_index_of_any_order():
    """A 4D file read volume by volume gives its entries region by region: the index built from them (no lexsort,
    no region-major sort) is the one built from the same entries in any other order, bit for bit."""
    from gpusiibra.sparse import SparseIndex

    rng = np.random.default_rng(11)
    shape, n = (9, 8, 7), 40
    region = np.repeat(np.arange(n), rng.integers(0, 60, n))
    voxel = np.concatenate([np.sort(rng.choice(504, c, replace=False)) for c in np.bincount(region, minlength=n)])
    value = rng.random(len(voxel)).astype(np.float32) + 0.1
    a = SparseIndex.from_entries(shape, np.eye(4), region, voxel, value, n_regions=n)
    shuffle = rng.permutation(len(voxel))
    b = SparseIndex.from_entries(shape, np.eye(4), region[shuffle], voxel[shuffle], value[shuffle], n_regions=n)
    for field in ("voxels", "row_ptr", "row_voxel", "entry_region", "entry_value", "region_ptr", "region_voxel",
                  "region_value"):
        x, y = np.asarray(getattr(a, field)), np.asarray(getattr(b, field))
        assert x.dtype == y.dtype and x.tobytes() == y.tobytes(), field
    assert not np.shares_memory(a.region_voxel, voxel) and not np.shares_memory(a.region_value, value)
