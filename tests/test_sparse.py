"""SparseIndex and SparseMap against siibra's own SparseIndex, and the embedded atlas."""
import os

import nibabel as nib
import numpy as np
import pytest

import gpusiibra
from conftest import DATA, atlas_from_dense, random_atlas
from gpusiibra.io import native, siibra_v1
from gpusiibra.data import TEMPLATE


def test_add_img_matches_from_entries(rng):
    maps, A = random_atlas(rng)
    ix = gpusiibra.SparseIndex()
    for m in maps:
        ix.add_img(m, A)
    ref = atlas_from_dense(maps, A).sparse_index
    assert ix.num_volumes == len(maps) == ref.num_volumes
    for r in range(len(maps)):
        np.testing.assert_array_equal(ix.dense(r), maps[r])
        np.testing.assert_array_equal(ix.coords(r), ref.coords(r))
    assert ix.max() == int((np.stack(maps) > 0).any(0).sum()) - 1


@pytest.mark.oracle
def test_coords_mapped_voxels_bboxes_agree_with_siibra(rng):
    from oracle import SiibraSparseIndex

    for trial in range(3):
        maps, A = random_atlas(rng, n_regions=5 + trial)
        theirs = SiibraSparseIndex()
        ours = gpusiibra.SparseIndex()
        for m in maps:
            theirs.add_img(m, A)
            ours.add_img(m, A)
        assert ours.num_volumes == theirs.num_volumes
        assert ours.max() == theirs.max()
        for r in range(len(maps)):
            np.testing.assert_array_equal(ours.coords(r), theirs.coords(r))
            x, y, z, v = ours.mapped_voxels(r)
            tx, ty, tz, tv = theirs.mapped_voxels(r)
            for a, b in ((x, tx), (y, ty), (z, tz)):
                np.testing.assert_array_equal(a, b)
            np.testing.assert_array_equal(np.asarray(v, np.float32), np.asarray(tv, np.float32))
            assert tuple(ours.bboxes[r, 0]) == tuple(theirs.bboxes[r]["minpoint"])
            assert tuple(ours.bboxes[r, 1]) == tuple(theirs.bboxes[r]["maxpoint"])


@pytest.mark.oracle
def test_siibra_reads_what_we_write_and_we_read_what_siibra_writes(rng, tmp_path):
    from oracle import SiibraSparseIndex

    maps, A = random_atlas(rng, n_regions=7)
    theirs = SiibraSparseIndex()
    for m in maps:
        theirs.add_img(m, A)
    # siibra -> us
    theirs.save("atlas", folder=str(tmp_path / "siibra"))
    ours = siibra_v1.read_prefix(str(tmp_path / "siibra" / "atlas"))
    np.testing.assert_array_equal(ours.voxels, theirs.voxels)
    for n in range(ours.n_rows):
        assert ours.row(n) == pytest.approx({k: float(np.float32(v)) for k, v in theirs.probs[n].items()})
    # us -> siibra
    siibra_v1.write_prefix(ours, str(tmp_path / "ours" / "atlas"))
    back = SiibraSparseIndex.load(str(tmp_path / "ours" / "atlas"))
    np.testing.assert_array_equal(back.voxels, theirs.voxels)
    assert [b["minpoint"] for b in back.bboxes] == [tuple(map(int, b["minpoint"])) for b in theirs.bboxes]
    assert [b["maxpoint"] for b in back.bboxes] == [tuple(map(int, b["maxpoint"])) for b in theirs.bboxes]
    for n in range(len(back.probs)):
        assert {k: np.float32(v) for k, v in back.probs[n].items()} == \
               {k: np.float32(v) for k, v in theirs.probs[n].items()}


def test_zip_round_trip_both_namings(rng, tmp_path):
    maps, A = random_atlas(rng)
    smap = atlas_from_dense(maps, A, names=[f"area {i}" for i in range(len(maps))])
    z = smap.save_sparseindex(tmp_path, "myatlas")
    assert os.path.basename(z) == "myatlas.zip"
    import zipfile

    assert sorted(zipfile.ZipFile(z).namelist()) == ["myatlas.bboxes.txt.gz", "myatlas.gpusiibra-names.json",
                                                      "myatlas.probs.txt.gz", "myatlas.voxels.nii.gz"]
    other = atlas_from_dense(maps, A, names=smap.regions)
    other.load_zipped_sparseindex(z)
    for r in range(len(maps)):
        np.testing.assert_array_equal(other.sparse_index.dense(r), maps[r])
    # the sparseindex_v1 member naming
    paths = siibra_v1.write_prefix(smap.sparse_index, str(tmp_path / "p" / "x"))
    z2 = tmp_path / "v1.zip"
    with zipfile.ZipFile(z2, "w") as zf:
        for p in paths:
            zf.write(p, os.path.basename(p))
    again = gpusiibra.load_map(str(z2), labels=smap.regions)
    for r in range(len(maps)):
        np.testing.assert_array_equal(again.sparse_index.dense(r), maps[r])


def test_fetch_equals_dense_map(rng):
    maps, A = random_atlas(rng)
    smap = atlas_from_dense(maps, A, names=["Area hOc1 left", "Area hOc1 right", "Area 4a left", "FG1", "FG2", "x"])
    img = smap.fetch("Area 4a left")
    assert isinstance(img, nib.Nifti1Image) and img.get_data_dtype() == np.float32
    np.testing.assert_array_equal(np.asarray(img.dataobj), maps[2])
    np.testing.assert_array_equal(img.affine, A)
    np.testing.assert_array_equal(smap.fetch(index=1).get_fdata(), maps[1])
    np.testing.assert_array_equal(smap.fetch(region="4A LEFT").get_fdata(), maps[2])  # unique substring
    with pytest.raises(gpusiibra.RegionNotFound, match="matches 2 regions"):
        smap.fetch("hOc1")
    with pytest.raises(gpusiibra.RegionNotFound, match="close matches: .*'FG1'"):
        smap.fetch("FG7")


def test_add_img_rejects_other_grids(rng):
    maps, A = random_atlas(rng)
    ix = gpusiibra.SparseIndex()
    ix.add_img(maps[0], A)
    with pytest.raises(ValueError, match="shape"):
        ix.add_img(np.zeros((3, 3, 3), np.float32) + 1, A)
    B = A.copy()
    B[0, 3] += 1
    with pytest.raises(ValueError, match="another affine"):
        ix.add_img(maps[1], B)


def test_embedded_atlas_matches_its_definition(julich):
    assert len(julich) == 414
    assert julich.regions[0] == "Area 3b (PostCG) left" and julich.regions[207] == "Area 3b (PostCG) right"
    assert julich.shape == (157, 197, 165)
    np.testing.assert_array_equal(julich.affine[:3, 3], [-78, -115, -78])
    ix = julich.sparse_index
    assert ix.n_entries == 2_666_962 and ix.n_rows == 1_518_777
    # spot values from the PAQD source: left file voxel (40, 90, 70) is (117, 105, 109, 7)
    src = np.asarray(nib.load(os.path.join(DATA, "JulichBrainAtlas31_p207LH.nii.gz")).dataobj)[40, 90, 70]
    off = np.array([-74, -109, -54]) - np.array([-78, -115, -78])
    g = tuple(np.array([40, 90, 70]) + off)
    v = julich.sparse_index.dense(int(src["R"]) - 1)[g]
    assert v == np.float32(src["B"]) / np.float32(255)
    assert julich.sparse_index.dense(int(src["G"]) - 1)[g] == np.float32(src["A"]) / np.float32(255)


@pytest.mark.slow
def test_embedded_atlas_equals_a_fresh_build_from_paqd(julich):
    import json

    t = nib.load(TEMPLATE)
    fresh = gpusiibra.load_map([os.path.join(DATA, "JulichBrainAtlas31_p207LH.nii.gz"),
                                os.path.join(DATA, "JulichBrainAtlas31_p207RH.nii.gz")],
                               labels=os.path.join(DATA, "Julich.json"), grid=(t.shape, t.affine))
    a, b = julich.sparse_index, fresh.sparse_index
    assert fresh.regions == julich.regions
    labels = json.load(open(os.path.join(DATA, "Julich.json")))["labels"]
    assert fresh.regions[:207] == [f"{n} left" for n in labels[1:]]
    for key in ("row_voxel", "row_ptr", "entry_region", "entry_value", "region_ptr", "region_voxel"):
        np.testing.assert_array_equal(getattr(a, key), getattr(b, key))


def test_native_round_trip_keeps_float_values(rng, tmp_path):
    maps, A = random_atlas(rng)  # values are arbitrary float32: more than 65536 distinct ones is not needed
    smap = atlas_from_dense(maps, A, names=list("abcdef"))
    p = smap.save(str(tmp_path / "a.npz"))
    back = gpusiibra.load_map(p)
    assert back.regions == list("abcdef")
    for r in range(len(maps)):
        np.testing.assert_array_equal(back.sparse_index.dense(r), maps[r])
    assert native.is_native(p)


def test_get_map_names(julich):
    # every call gives a map of its own over the one index loaded per process
    for name in ("julich-3.1-top2", "Julich-Brain 3.1 top-2 (8-bit)", "default"):
        m = gpusiibra.get_map(name)
        assert m is not julich and m.sparse_index is julich.sparse_index and m.regions == julich.regions
    with pytest.raises(LookupError, match="no atlas named"):
        gpusiibra.get_map("harvard oxford")
    with pytest.raises(gpusiibra.AtlasFileError, match="nonexist.zip: no such file"):
        gpusiibra.get_map("nonexist.zip")


def test_region_sums_follow_the_index_as_it_grows(rng):
    maps, A = random_atlas(rng, n_regions=2)
    ix = gpusiibra.SparseIndex()
    ix.add_img(maps[0], A)
    assert len(ix.region_stats()["Sp"]) == 1
    ix.add_img(maps[1], A)
    st = ix.region_stats()
    assert len(st["Sp"]) == 2 and st["Sp"][1] == pytest.approx(float(maps[1].astype(np.float64).sum()), rel=1e-6)


def test_get_map_gives_each_caller_its_own_map(tmp_path, rng):
    a, b = gpusiibra.get_map(), gpusiibra.get_map()
    maps, A = random_atlas(rng, n_regions=len(a))  # an index with as many regions, on another grid
    zipped = atlas_from_dense(maps, A, names=a.regions).save_sparseindex(tmp_path, "other")
    a.load_zipped_sparseindex(zipped)
    assert a.shape == maps[0].shape and b.shape == (157, 197, 165)
    assert gpusiibra.get_map().shape == (157, 197, 165)


@pytest.mark.parametrize("shape", [(157, 197, 165), (1, 1, 1), (3, 1, 7), (2048, 2048, 1024)])
def test_the_boxes_voxel_coordinates_are_numpys(shape):
    """The regions' boxes take each voxel's coordinates in 32-bit integers where the grid allows: NumPy's
    unravel_index, on grids below and beyond 2**31 voxels."""
    from gpusiibra.sparse import _unravel

    G = int(np.prod(shape))
    flat = np.sort(np.random.default_rng(1).integers(0, G, 2000)).astype(np.int64)
    flat[:2] = 0, G - 1
    for got, want in zip(_unravel(flat, shape), np.unravel_index(flat, shape)):
        np.testing.assert_array_equal(got, want)
