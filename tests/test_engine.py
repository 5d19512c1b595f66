"""The chunk engine: scipy's labels, the same rows however maps are chunked, and a fixed number of array calls
per chunk (the property that makes the GPU fast), on the CPU and through the kernels' host emulation."""
import nibabel as nib
import numpy as np
import pytest
import scipy.ndimage as ndi

import cuda_emulator
from golden_cases import motor_t4
from gpusiibra import _assign as assign, _engine, backend
from gpusiibra._sparse_image import sparse_image

STRUCTURE_18 = ndi.generate_binary_structure(3, 2)


def _random_supports(rng, shape, n, z_faces=True):
    out = []
    for i in range(n):
        density = [0.03, 0.15, 0.4, 0.7][i % 4]
        m = rng.random(shape) < density
        m[0, :, :] |= rng.random(shape[1:]) < 0.5  # the grid's faces: no run or edge may wrap around them
        m[:, -1, :] |= rng.random((shape[0], shape[2])) < 0.5
        if z_faces:
            m[:, :, 0] |= rng.random(shape[:2]) < 0.5
            m[:, :, -1] |= rng.random(shape[:2]) < 0.5
        else:  # no run of consecutive keys goes on into the next line (the CPU then tests no voxel's z)
            m[:, :, -1] = False
        out.append(m)
    return out


def _check_labels(rng, z_faces=True):
    shape = (9, 11, 13)
    G = int(np.prod(shape))
    supports = _random_supports(rng, shape, 8, z_faces)
    key = np.concatenate([i * G + np.flatnonzero(m) for i, m in enumerate(supports)])
    comp, K, _ = _engine.label_support(backend.xp().asarray(key), shape)
    comp = backend.to_host(comp)
    offset = 0
    for i, m in enumerate(supports):
        ref, k = ndi.label(m, STRUCTURE_18)
        mine = comp[key // G == i]
        np.testing.assert_array_equal(mine - offset + 1, ref.ravel()[np.flatnonzero(m)])
        offset += k
    assert K == offset
    return comp


@pytest.mark.parametrize("z_faces", [True, False])
def test_labels_equal_scipys_in_raster_order(rng, z_faces):
    _check_labels(rng, z_faces)


def _shifted_motor(n):
    img = motor_t4()
    d = np.asarray(img.dataobj)
    return [(np.roll(d, s, axis=1), img.affine) for s in range(n)]


def test_rows_do_not_depend_on_the_chunking(julich, on_backend):
    maps = _shifted_motor(6)
    together = [r.columns for r in assign.assign_many(julich, maps)]
    for m, cols in zip(maps, together):
        alone = assign.assign_image_data(julich, *m).columns
        assert list(cols["volume"]) == list(alone["volume"]) and len(alone["volume"]) > 0
        for k in ("correlation", "intersection over union", "map containedness", "input weighted mean"):
            np.testing.assert_array_equal(cols[k], alone[k])


class _Counting:
    """A thin wrapper of the array module that counts the calls made through it."""

    def __init__(self, xp):
        self._xp = xp
        self.calls = 0

    def __getattr__(self, name):
        attr = getattr(self._xp, name)
        if callable(attr) and not isinstance(attr, type):
            def counted(*a, **k):
                self.calls += 1
                return attr(*a, **k)
            return counted
        return attr


def _calls_per_chunk(monkeypatch, smap, maps, emulator=None):
    counter = _Counting(backend.xp())
    syncs = {"n": 0}
    real_host = backend.to_host

    def to_host(a):
        syncs["n"] += 1
        return real_host(a)

    monkeypatch.setattr(backend, "xp", lambda: counter)
    monkeypatch.setattr(backend, "to_host", to_host)
    launches = emulator.launches() if emulator else 0
    res = _engine.assign_chunk(smap, maps)
    monkeypatch.undo()
    assert len(res.row_map) > 0
    return counter.calls, syncs["n"], (emulator.launches() - launches if emulator else 0)


@pytest.mark.parametrize("emulated", [False, True])
def test_array_calls_per_chunk_do_not_grow_with_its_maps(julich, monkeypatch, emulated):
    if emulated and not cuda_emulator.available():
        pytest.skip("no C++ compiler for the kernel emulator")
    maps = _shifted_motor(24)
    _engine.assign_chunk(julich, maps[:2])  # the per-geometry tables, made once (not per chunk), are in place
    counts = []
    for n in (2, 8, 24):
        emu = None
        # the CPU cuts a chunk into passes of about a map (_engine.CPU_PASS_REACH: each pass's arrays near the
        # caches), each of the calls counted here
        monkeypatch.setattr(_engine, "CPU_PASS_REACH", 10 ** 12)
        if emulated:
            emu = cuda_emulator.install(monkeypatch)
        counts.append(_calls_per_chunk(monkeypatch, julich, maps[:n], emu))
    assert counts[0] == counts[1] == counts[2], counts  # (array calls, copies to the host, kernel launches)
    print("array calls, copies to the host, kernel launches per chunk:", counts[0])
    assert counts[0][0] < 400 and counts[0][1] < 20


def test_a_chunk_makes_the_host_wait_for_the_device_a_fixed_handful_of_times(julich, monkeypatch):
    """Counted through the kernels' host emulation (the device's route): the waits a chunk costs (compactions,
    copies back, device numbers read on the host; no boolean selection, no bincount) do not grow with its maps."""
    if not cuda_emulator.available():
        pytest.skip("no C++ compiler for the kernel emulator")
    import host_waits

    maps = _shifted_motor(12)
    cuda_emulator.install(monkeypatch)
    seen = []
    for n in (2, 5, 12):
        with host_waits.counting() as counts:
            res = _engine.assign_chunk(julich, maps[:n])
        assert len(res.row_map) > 0
        seen.append((host_waits.waits(counts), counts))
    assert seen[0][0] == seen[1][0] == seen[2][0] <= 20, seen  # 67 before the segment sums and one compaction a pass
    for _, counts in seen:
        assert not counts["boolean selection"] and not counts["bincount"] and counts["copy to the host"] == 3


def test_the_devices_sparse_accumulation_takes_no_array_of_counts(julich, monkeypatch):
    """The device's route when the (components x regions) arrays would not fit makes no repeat by an array of
    counts (CuPy's repeat takes none) - counted through the host emulation; its numbers: test_device_route.py."""
    if not cuda_emulator.available():
        pytest.skip("no C++ compiler for the kernel emulator")
    import host_waits

    from gpusiibra import _kernels

    cuda_emulator.install(monkeypatch)
    monkeypatch.setattr(_kernels, "dense_pairs_fit", lambda n_comp, n_regions: False)
    with host_waits.counting() as counts:
        dev = _engine.assign_chunk(julich, _shifted_motor(3))
    assert counts["repeat (array of counts)"] == 0 and len(dev.row_map) > 0, counts


def test_outside_and_empty_maps_are_told_apart(julich, on_backend):
    img = motor_t4()
    far = img.affine.copy()
    far[:3, 3] += 1e4
    d = np.asarray(img.dataobj)
    res = _engine.assign_chunk(julich, [(d, img.affine), (d, far), (np.zeros_like(d), img.affine)])
    assert res.status == ["ok", "outside", "empty"]
    assert set(res.row_map.tolist()) == {0}


def test_split_components_false_and_minsize_in_a_chunk(julich, on_backend):
    maps = _shifted_motor(3)
    for kw in (dict(split_components=False), dict(minsize_voxel=50), dict(lower_threshold=0.3)):
        together = [r.columns for r in assign.assign_many(julich, maps, **kw)]
        for m, cols in zip(maps, together):
            alone = assign.assign_image_data(julich, *m, **kw).columns
            assert list(cols["input structure"]) == list(alone["input structure"])
            np.testing.assert_array_equal(cols["correlation"], alone["correlation"])
    df = julich.assign(nib.Nifti1Image(*maps[0]), split_components=False)
    assert set(df["input structure"]) == {1}


def test_a_chunk_beyond_the_pass_budget_gives_the_same_rows(julich, monkeypatch):
    """The device's route (here its host emulation) cuts a chunk by PASS_VOXELS: the same rows (the sums of its
    atomic additions in another order: within 1e-12)."""
    if not cuda_emulator.available():
        pytest.skip("no C++ compiler for the kernel emulator")
    cuda_emulator.install(monkeypatch)
    maps = _shifted_motor(5)
    whole = _engine.assign_chunk(julich, maps)
    monkeypatch.setattr(_engine, "PASS_VOXELS", 12000)  # about two maps per pass
    parts = _engine.assign_chunk(julich, maps)
    np.testing.assert_array_equal(parts.row_map, whole.row_map)
    for k, v in whole.columns.items():
        if np.asarray(v).dtype.kind == "f":
            np.testing.assert_allclose(parts.columns[k], v, rtol=1e-12, atol=1e-15)
        else:
            np.testing.assert_array_equal(parts.columns[k], v)
    assert parts.status == whole.status


def test_the_cpus_passes_of_about_a_map_give_the_rows_of_one_pass(julich, monkeypatch):
    """On the CPU a chunk is assigned in passes that reach at most CPU_PASS_REACH grid voxels (at least a map
    each): the rows, bit for bit, of the chunk in one pass; on the device's route the chunk is one pass."""
    maps = _shifted_motor(5)
    far = maps[0][1].copy()
    far[:3, 3] += 1e4
    maps = [(maps[0][0], far)] + maps[:3] + [(maps[0][0], far)] + maps[3:]  # passes without rows, first and between
    reach = _engine._reach([sparse_image(*m) for m in maps], [julich])
    monkeypatch.setattr(_engine, "CPU_PASS_REACH", float(reach.max()) * 1.5)  # passes of one or two maps
    cuts = _engine._passes(reach, _engine.CPU_PASS_REACH)
    assert len(cuts) > 4
    parts = _engine.assign_chunk(julich, maps)
    monkeypatch.setattr(_engine, "CPU_PASS_REACH", 10 ** 12)
    whole = _engine.assign_chunk(julich, maps)
    np.testing.assert_array_equal(parts.row_map, whole.row_map)
    for k, v in whole.columns.items():
        np.testing.assert_array_equal(parts.columns[k], v)
    assert parts.status == whole.status and parts.status.count("outside") == 2
    assert _engine._passes([3, 3, 3, 9, 1], 6) == [0, 2, 3, 4, 5]  # at least one map a pass


def test_the_count_of_positive_values_survives_the_exponent_shift():
    """A component's count of x > 0 is its voxel count where no value is scaled (the CPU then takes the count it
    has); where a huge value scales the component by a power of two, a tiny one that underflows to 0 is not
    counted, as before; and values at the bounds of the magnitude check (2**-201, just under 2**200) are not
    scaled."""
    shape = (4, 5, 6)
    G = int(np.prod(shape))
    key = np.array([0, 1, 2, 40, 41, G + 0, G + 1], np.int64)  # map 0: two components; map 1: one
    x = np.array([1e300, 1e-60, 2.0, 2.0 ** -201, np.nextafter(2.0 ** 200, 0), 0.5, 3.0])
    comps, comp, scaled = _engine.components(backend.xp().asarray(key), backend.xp().asarray(x), shape, np.eye(4))
    assert comps.count.tolist() == [3, 2, 2]
    assert comps.nc.tolist() == [2, 2, 2]  # 1e-60 / 2**997 underflows to 0
    assert comps.unit.tolist()[1:] == [1.0, 1.0]
    np.testing.assert_array_equal(backend.to_host(scaled)[3:], x[3:])


def test_component_boxes_equal_scipys(rng):
    """Each component's map (from its first voxel), box (lo from its first run's x and the runs' minima, hi from
    the runs' maxima) and voxel count, against scipy's labels and find_objects, over random supports (on the
    grid's faces too)."""
    shape = (9, 11, 13)
    G = int(np.prod(shape))
    supports = _random_supports(rng, shape, 8)
    key = np.concatenate([i * G + np.flatnonzero(m) for i, m in enumerate(supports)])
    xp = backend.xp()
    comps, _, _ = _engine.components(xp.asarray(key), xp.asarray(np.ones(key.size)), shape, np.eye(4))
    k0 = 0
    for i, m in enumerate(supports):
        ref, k = ndi.label(m, STRUCTURE_18)
        boxes = ndi.find_objects(ref)
        np.testing.assert_array_equal(comps.map[k0:k0 + k], i)
        np.testing.assert_array_equal(comps.lo[k0:k0 + k], [[s.start for s in b] for b in boxes])
        np.testing.assert_array_equal(comps.hi[k0:k0 + k], [[s.stop for s in b] for b in boxes])
        np.testing.assert_array_equal(comps.count[k0:k0 + k], np.bincount(ref.ravel(), minlength=k + 1)[1:])
        k0 += k
    assert len(comps.count) == k0
