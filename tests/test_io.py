"""Atlas formats and bad files: every error names the file and the reason."""
import gzip
import os
import zipfile

import nibabel as nib
import numpy as np
import pandas as pd
import pytest

import gpusiibra
from conftest import DATA, atlas_from_dense, random_atlas
from gpusiibra import AtlasFileError, ImageFileError


def test_4d_nifti_and_folder_and_list(rng, tmp_path):
    maps, A = random_atlas(rng, n_regions=4)
    nib.Nifti1Image(np.stack(maps, -1), A).to_filename(tmp_path / "maps4d.nii.gz")
    (tmp_path / "labels.txt").write_text("a\nb\nc\nd\n")
    m4 = gpusiibra.load_map(tmp_path / "maps4d.nii.gz", labels=tmp_path / "labels.txt")
    assert m4.regions == ["a", "b", "c", "d"]
    folder = tmp_path / "folder"
    folder.mkdir()
    for i, m in enumerate(maps):
        nib.Nifti1Image(m, A).to_filename(folder / f"r{i}.nii.gz")
    mf = gpusiibra.load_map(folder)
    assert mf.regions == ["r0", "r1", "r2", "r3"]
    ml = gpusiibra.load_map([folder / "r1.nii.gz", folder / "r0.nii.gz"], labels=["one", "zero"])
    for r in range(4):
        np.testing.assert_array_equal(m4.sparse_index.dense(r), maps[r])
        np.testing.assert_array_equal(mf.sparse_index.dense(r), maps[r])
    np.testing.assert_array_equal(ml.fetch("one").get_fdata(), maps[1])


def test_labels_of_the_wrong_length(rng, tmp_path):
    maps, A = random_atlas(rng, n_regions=3)
    nib.Nifti1Image(np.stack(maps, -1), A).to_filename(tmp_path / "m.nii.gz")
    with pytest.raises(AtlasFileError, match="2 labels for 3 region maps"):
        gpusiibra.load_map(tmp_path / "m.nii.gz", labels=["a", "b"])


def test_folder_with_mismatched_grids(rng, tmp_path):
    maps, A = random_atlas(rng, n_regions=2)
    nib.Nifti1Image(maps[0], A).to_filename(tmp_path / "a.nii.gz")
    nib.Nifti1Image(maps[1][:-1], A).to_filename(tmp_path / "b.nii.gz")
    with pytest.raises(AtlasFileError, match=r"b.nii.gz: shape .* differs"):
        gpusiibra.load_map(tmp_path)


def test_paqd_single_file_has_plain_names():
    m = gpusiibra.load_map(os.path.join(DATA, "JulichBrainAtlas31_p207LH.nii.gz"),
                           labels=os.path.join(DATA, "Julich.json"))
    assert len(m) == 207 and m.regions[0] == "Area 3b (PostCG)"
    assert m.shape == (79, 185, 139)


def test_paqd_without_labels():
    with pytest.raises(AtlasFileError, match="needs its label names"):
        gpusiibra.load_map(os.path.join(DATA, "JulichBrainAtlas31_p207LH.nii.gz"))


def _zip(rng, tmp_path):
    maps, A = random_atlas(rng)
    return atlas_from_dense(maps, A).save_sparseindex(tmp_path, "z")


def test_truncated_zip(rng, tmp_path):
    z = _zip(rng, tmp_path)
    data = open(z, "rb").read()
    bad = tmp_path / "truncated.zip"
    bad.write_bytes(data[: len(data) // 2])
    with pytest.raises(AtlasFileError, match="truncated.zip: not a readable zip"):
        gpusiibra.load_map(bad)


def test_zip_missing_member(rng, tmp_path):
    z = _zip(rng, tmp_path)
    bad = tmp_path / "missing.zip"
    with zipfile.ZipFile(z) as src, zipfile.ZipFile(bad, "w") as dst:
        for n in src.namelist():
            if "bboxes" not in n:
                dst.writestr(n, src.read(n))
    with pytest.raises(AtlasFileError, match="missing.zip: the zip lacks the sparse index member.*bboxes"):
        gpusiibra.load_map(bad)


def test_zip_with_broken_probs(rng, tmp_path):
    z = _zip(rng, tmp_path)
    bad = tmp_path / "broken.zip"
    with zipfile.ZipFile(z) as src, zipfile.ZipFile(bad, "w") as dst:
        for n in src.namelist():
            dst.writestr(n, gzip.compress(b"0 0.5 1\n") if "probs" in n else src.read(n))
    with pytest.raises(AtlasFileError, match="broken.zip \\(probs\\): line 1 does not hold"):
        gpusiibra.load_map(bad)


def test_not_an_atlas(tmp_path):
    p = tmp_path / "notes.txt"
    p.write_text("hello")
    with pytest.raises(AtlasFileError, match="unknown atlas format"):
        gpusiibra.load_map(p)
    with pytest.raises(AtlasFileError, match="no such file"):
        gpusiibra.load_map(tmp_path / "nothing.npz")
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"PK\x03\x04garbage")
    with pytest.raises(AtlasFileError, match="bad.npz"):
        gpusiibra.load_map(bad)


def test_bad_query_images(julich, tmp_path):
    with pytest.raises(ImageFileError, match="missing.nii.gz: no such file"):
        julich.assign(str(tmp_path / "missing.nii.gz"))
    p = tmp_path / "fake.nii.gz"
    p.write_bytes(b"not a nifti")
    with pytest.raises(ImageFileError, match="fake.nii.gz: not a readable NIfTI"):
        julich.assign(str(p))
    good = tmp_path / "good.nii.gz"
    nib.Nifti1Image(np.ones((5, 5, 5), np.float32), np.eye(4)).to_filename(good)
    raw = good.read_bytes()
    trunc = tmp_path / "trunc.nii.gz"
    trunc.write_bytes(raw[: len(raw) - 40])
    with pytest.raises(ImageFileError, match="trunc.nii.gz"):
        julich.assign(str(trunc))
    nan = tmp_path / "nan.nii.gz"
    nib.Nifti1Image(np.full((4, 4, 4), np.nan, np.float32), np.eye(4)).to_filename(nan)
    with pytest.raises(ImageFileError, match="nan.nii.gz: every value is NaN"):
        julich.assign(str(nan))
    five = tmp_path / "five.nii.gz"
    nib.Nifti1Image(np.ones((3, 3, 3, 2, 2), np.float32), np.eye(4)).to_filename(five)
    with pytest.raises(ImageFileError, match="expected a 3D or 4D image"):
        julich.assign(str(five))


def test_coordinate_tables(tmp_path, julich):
    from gpusiibra.cli import main as cli
    from gpusiibra.io.coordinates import read_points
    from gpusiibra.errors import PointsFileError

    f = tmp_path / "peaks.csv"
    f.write_text("label,X,Y,Z,sigma_mm\nM1,-40,-20,55,0\nS1,38,-22,58,5\n")
    pc = read_points(f)
    np.testing.assert_array_equal(pc.coordinates, [[-40, -20, 55], [38, -22, 58]])
    np.testing.assert_array_equal(pc.sigma_mm, [0, 5])
    with pytest.warns(RuntimeWarning, match="every point's sigma is 2 mm .*not its 'sigma_mm' column"):
        assert np.all(read_points(f, sigma_mm=2).sigma_mm == 2)  # the option wins, and says so
    t = tmp_path / "bare.tsv"
    t.write_text("-40\t-20\t55\n38\t-22\t58\n")
    np.testing.assert_array_equal(read_points(t).coordinates, pc.coordinates)
    for text, reason in [("x;y\n1;2\n", "needs coordinate columns .* the table has 'x', 'y'"),
                         ("x,y,z\n1,2,abc\n", "not a number"),
                         ("x,y,z,sigma\n1,2,3,-1\n", "line 2: sigma -1 is not a number >= 0"),
                         ("x,y,z,sigma_mm\n1,2,3,2\n\n4,5,6,5mm\n", "line 4: sigma_mm '5mm' is not a number")]:
        bad = tmp_path / "bad.csv"
        bad.write_text(text)
        with pytest.raises(PointsFileError, match=reason) as e:
            read_points(bad)
        assert str(bad) in str(e.value)
    with pytest.raises(PointsFileError, match="no such file"):
        read_points(tmp_path / "missing.csv")
    out = tmp_path / "table.csv"
    assert cli(["points", str(f), "--out", str(out)]) == 0
    got = pd.read_csv(out)
    ref = julich.assign(pc)
    assert list(got.columns[:7]) == ["label", "X", "Y", "Z", "sigma_mm", "volume", "region"]
    assert list(got["label"]) == [["M1", "S1"][i] for i in ref["input structure"]]
    pd.testing.assert_frame_equal(got[["volume", "region", "map value"]], ref[["volume", "region", "map value"]],
                                  check_dtype=False)
    assert cli(["points", str(tmp_path / "missing.csv")]) == 2


@pytest.mark.parametrize("text, reason", [
    ("x,y,z\n1,2,NaN\n", "line 2: coordinate z is missing"),
    ("x,y,z\n1,2,3\n4,nan,6\n", "line 3: coordinate y is missing"),
    ("x,y,z\n1,2,3\n4,5,NA\n7,,9\n", "line 3: coordinate z is missing .*2 rows in all"),
    ("x,y,z\n1_000,2,3\n", "line 2: coordinate x '1_000' is not a number"),
    ("x,y,z\n1,0x10,3\n", "line 2: coordinate y '0x10' is not a number"),
    ("x,y,z\n1,2,inf\n", "line 2: coordinate z is infinite"),
])
def test_a_coordinate_that_is_missing_or_not_a_plain_number_is_an_error_naming_its_line(tmp_path, text, reason):
    """pandas refuses what Python's float takes ('NaN' in a column of numbers, '1_000'): one line, no traceback,
    through the API and the command."""
    from gpusiibra.cli import main as cli
    from gpusiibra.errors import PointsFileError
    from gpusiibra.io.coordinates import read_points

    bad = tmp_path / "t.csv"
    bad.write_text(text)
    with pytest.raises(PointsFileError, match=reason):
        read_points(bad)
    assert cli(["points", str(bad)]) == 2


def test_other_columns_keep_missing_values_and_text(tmp_path, julich):
    """A missing value in another column is NaN in the output (a number column stays numbers); a column with
    '1_000' is text, as the table wrote it."""
    from gpusiibra.io.coordinates import read_table

    f = tmp_path / "t.csv"
    f.write_text("x,y,z,t,n,cluster\n-40,-20,55,NaN,1_000,1\n38,-22,58,4.5,2,2\n")
    df = read_table(str(f))
    assert np.isnan(df["t"].iloc[0]) and df["t"].iloc[1] == 4.5
    assert list(df["n"]) == ["1_000", "2"] and df["cluster"].dtype == np.int64
    assert gpusiibra.label_points(df)["t"].isna().sum() >= 1


def test_two_sets_of_coordinate_columns_are_refused_naming_both(tmp_path):
    """Trial finding 6: x,y,z and mni_x,mni_y,mni_z: the first set was used silently."""
    from gpusiibra.cli import main as cli
    from gpusiibra.errors import PointsFileError
    from gpusiibra.io.coordinates import read_points

    bad = tmp_path / "t.csv"
    bad.write_text("x,y,z,mni_x,mni_y,mni_z\n1,2,3,-40,-20,55\n")
    with pytest.raises(PointsFileError, match="t.csv: two sets of coordinate columns, x, y, z and mni_x, mni_y, "
                                              "mni_z: .*keep one set in the table"):
        read_points(bad)
    bad.write_text("x,y,z,X,Y,Z\n1,2,3,-40,-20,55\n")
    with pytest.raises(PointsFileError, match="two sets of coordinate columns"):
        read_points(bad)
    assert cli(["points", str(bad)]) == 2


@pytest.mark.parametrize("text, reason", [
    ("label,x,y,t_value\nM1,-40,-20,5\n", "the table has 'label', 'x', 'y', 't_value'"),  # t is not z
    ("id,mni_x,mni_y\n1,-40,-20\n", "the table has 'id', 'mni_x', 'mni_y'"),  # id is not a coordinate
    ("1,-40,-20,55\n2,38,-22,58\n", "without a header must have 3 columns"),
])
def test_coordinate_columns_are_never_guessed(tmp_path, text, reason):
    from gpusiibra.errors import PointsFileError
    from gpusiibra.io.coordinates import read_points

    bad = tmp_path / "t.csv"
    bad.write_text(text)
    with pytest.raises(PointsFileError, match=reason):
        read_points(bad)


def test_cluster_tables_keep_every_column_and_get_regions(julich):
    """nilearn's get_clusters_table and NiMARE's coordinates: every column kept in order, regions added, each
    point's rows in the table's order, a point in no region kept with an empty region."""
    from gpusiibra import label_points

    clusters = pd.DataFrame({"Cluster ID": ["1", "1a", "2", "3"], "X": [-40.0, -38.0, 38.0, 0.0],
                             "Y": [-20.0, -24.0, -22.0, 0.0], "Z": [55.0, 52.0, 58.0, 200.0],
                             "Peak Stat": [7.1, 5.2, 6.3, 4.0], "Cluster Size (mm3)": ["512", "", "256", "8"]})
    with pytest.warns(RuntimeWarning, match="outside the atlas grid"):
        out = label_points(clusters, julich)
    assert list(out.columns[:6]) == list(clusters.columns)
    with pytest.warns(RuntimeWarning, match="outside the atlas grid"):
        ref = julich.assign(gpusiibra.PointCloud(clusters[["X", "Y", "Z"]].to_numpy()))
    labelled = out[out["region"].notna()]
    assert list(labelled["Cluster ID"]) == [clusters["Cluster ID"][i] for i in ref["input structure"]]
    assert list(labelled["region"]) == list(ref["region"])
    assert list(out["Cluster ID"].drop_duplicates()) == ["1", "1a", "2", "3"]  # the table's order
    assert out[out["Cluster ID"] == "3"]["region"].isna().all()
    nimare = pd.DataFrame({"id": ["s1-1", "s1-1", "s2-1"], "study_id": ["s1", "s1", "s2"], "x": [-40, 38, -10],
                           "y": [-20, -22, -90], "z": [55, 58, 0], "space": ["MNI"] * 3})
    out = label_points(nimare, julich, sigma_mm=5)
    assert list(out.columns[:6]) == list(nimare.columns) and "correlation" in out
    assert list(out["study_id"].drop_duplicates()) == ["s1", "s2"]
    ref = julich.assign(gpusiibra.PointCloud(nimare[["x", "y", "z"]].to_numpy(float), sigma_mm=5))
    np.testing.assert_array_equal(out["correlation"].to_numpy(), ref["correlation"].to_numpy())


def test_huge_sigmas_and_far_points_end_with_an_answer(julich):
    """A sigma of 1e5 mm is computed (the kernel's profile in O(radius)), one beyond the limit is one line,
    a coordinate of 1e308 is outside the grid (a warning), not a traceback."""
    from gpusiibra import OptionError
    from gpusiibra._assign import gaussian_profile

    for s in (3.0, 3.7, 12.5, 40.0, 170.3):  # scipy's blur of an impulse, bit for bit
        import scipy.ndimage as ndi

        rad = int(3 * s)
        imp = np.zeros(2 * rad + 1)
        imp[rad] = 1
        np.testing.assert_array_equal(gaussian_profile(s)[0], ndi.gaussian_filter1d(imp, s, mode="nearest",
                                                                                      truncate=4.0))
    df = julich.assign(gpusiibra.PointCloud([(-40, -20, 55)], sigma_mm=1e5))
    assert len(df) > 0 and np.isfinite(df["correlation"]).all()
    with pytest.raises(OptionError, match="sigma_mm 1e\\+07 is wider than gpusiibra supports"):
        julich.assign(gpusiibra.PointCloud([(-40, -20, 55)], sigma_mm=1e7))
    with pytest.warns(RuntimeWarning, match="outside the atlas grid"):
        df = julich.assign(gpusiibra.PointCloud([(1e308, 0, 0), (-40, -20, 55)], sigma_mm=5))
    assert set(df["input structure"]) == {1}


def test_v1_probs_are_parsed_block_by_block(rng, tmp_path, monkeypatch):
    """Tiny blocks and inflate pieces: the same index; multi-member gzip; a cut stream and a bad line are one
    line each, the bad line counted across blocks."""
    from gpusiibra.io import siibra_v1

    maps, A = random_atlas(rng, n_regions=5)
    ix = atlas_from_dense(maps, A).sparse_index
    prefix = str(tmp_path / "a")
    siibra_v1.write_prefix(ix, prefix)
    raw = {k: open(prefix + s, "rb").read() for k, s in siibra_v1.SUFFIXES.items()}
    whole = siibra_v1.decode(raw["voxels"], raw["probs"], raw["bboxes"], "a")
    monkeypatch.setattr(siibra_v1, "_BLOCK", 37)
    monkeypatch.setattr(siibra_v1, "_IN_PIECE", 11)
    text = gzip.decompress(raw["probs"])
    half = text.rfind(b"\n", 0, len(text) // 2) + 1
    for probs in (raw["probs"], gzip.compress(text[:half]) + gzip.compress(text[half:])):
        blocks = siibra_v1.decode(raw["voxels"], probs, raw["bboxes"], "a")
        for key in ("row_ptr", "row_voxel", "entry_region", "entry_value", "region_voxel", "region_value"):
            np.testing.assert_array_equal(getattr(blocks, key), getattr(whole, key))
    with pytest.raises(AtlasFileError, match="cut short"):
        siibra_v1.decode(raw["voxels"], raw["probs"][:-20], raw["bboxes"], "a")
    lines = text.splitlines()
    lines[-3] = lines[-3] + b" 7"
    with pytest.raises(AtlasFileError, match=f"line {len(lines) - 2} does not hold 'region value' pairs"):
        siibra_v1.decode(raw["voxels"], gzip.compress(b"\n".join(lines) + b"\n"), raw["bboxes"], "a")


@pytest.mark.parametrize("shape", [(5, 6, 7), (5, 6, 7, 1), (5, 6, 7, 3), (5, 6, 7, 1, 1), (5, 6, 7, 2, 1),
                                   (4, 4, 4, 1, 3)])
@pytest.mark.parametrize("cls", [nib.Nifti1Image, nib.Nifti2Image])
@pytest.mark.parametrize("order", ["<", ">"])
def test_the_volume_count_read_from_the_header_is_nibabels(tmp_path, shape, cls, order):
    """The batch plans its chunks by each file's volume count, read from the header's dim field: what nibabel's
    shape says (trailing axes of length 1 dropped), in either byte order, plain or gzipped; an unusual dim field
    (a negative length, 0 axes) is left to nibabel."""
    from gpusiibra.io import nifti

    for ext in (".nii", ".nii.gz"):
        img = cls(np.zeros(shape, np.float32), np.eye(4), cls.header_class(endianness=order))
        path = tmp_path / f"m{ext}"
        img.to_filename(path)
        assert nib.load(path).header.endianness == order
        sh = tuple(nib.load(path).shape)
        while len(sh) > 3 and sh[-1] == 1:
            sh = sh[:-1]
        assert nifti.n_volumes(path) == (sh[3] if len(sh) == 4 else 1)
    head = bytearray(open(tmp_path / "m.nii", "rb").read(540))
    dim_at, fmt = (40, "h") if cls is nib.Nifti1Image else (16, "q")
    import struct

    struct.pack_into(nib.load(tmp_path / "m.nii").header.endianness + fmt, head, dim_at, 0)
    assert nifti._plain_shape(bytes(head)) is None
