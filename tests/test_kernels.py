"""The CUDA kernels of kernels/*.cu, run on the host (tests/cuda_emulator.py), against their NumPy twins.

On a machine without a GPU these tests still run the CUDA sources themselves (compiled for the host, one
std::thread per CUDA thread), through the same Python code that drives the device, and check every
launch's argument types against the kernel's declaration.
"""
import numpy as np
import pytest

import cuda_emulator
import gpusiibra
from conftest import atlas_from_dense, random_atlas
from golden_cases import CASES, compare_with_golden
from gpusiibra import _kernels as kernels
from gpusiibra import _point_kernels as point_kernels

pytestmark = pytest.mark.skipif(not cuda_emulator.available(), reason="no C++ compiler for the kernel emulator")


@pytest.fixture
def emulated(monkeypatch):
    return cuda_emulator.install(monkeypatch)


def _twin_and_kernel(monkeypatch, fn):
    cpu = fn()
    emu = cuda_emulator.install(monkeypatch)
    out = fn()
    monkeypatch.setattr(kernels, "_EMULATOR", None)
    return cpu, out, emu


def _sorted_pairs(out):
    pc, pr, spx, inter = (np.asarray(a) for a in out)
    order = np.lexsort((pr, pc))
    return pc[order], pr[order], spx[order], inter[order]


@pytest.mark.parametrize("n_regions, shared", [(9, True), (9, False)])
def test_accumulate_kernels_equal_the_twin(monkeypatch, rng, n_regions, shared):
    maps, A = random_atlas(rng, shape=(14, 15, 16), n_regions=n_regions)
    ix = atlas_from_dense(maps, A).sparse_index
    n = 3000
    lin = rng.integers(0, int(np.prod(ix.shape)), n)
    comp = rng.integers(0, 17, n)  # any order: the kernel path groups them
    x = rng.normal(size=n)
    x[rng.random(n) < 0.2] = 0
    if not shared:
        monkeypatch.setattr(kernels, "max_shared_regions", lambda: 4)
    cpu, emu_out, emu = _twin_and_kernel(monkeypatch, lambda: kernels.accumulate(ix, lin, comp, x, 17, 0.3))
    a, b = _sorted_pairs(cpu), _sorted_pairs(emu_out)
    for u, v in zip(a[:2] + a[3:], b[:2] + b[3:]):
        np.testing.assert_array_equal(u, v)
    np.testing.assert_allclose(a[2], b[2], rtol=1e-12)
    assert emu.launches() >= 1


def test_shared_memory_above_48_kib_is_opted_in(monkeypatch, rng):
    """4,000 regions need 64,000 bytes of shared accumulators: the kernel's attribute must be raised."""
    shape = (40, 40, 40)
    R = 4000
    vox = rng.choice(int(np.prod(shape)), size=R * 3, replace=False)
    reg = np.repeat(np.arange(R), 3)
    smap = gpusiibra.from_arrays(shape, np.eye(4), reg, vox, rng.uniform(0.1, 1, R * 3))
    ix = smap.sparse_index
    lin = vox[:600]
    comp = np.arange(600) // 100
    x = rng.uniform(0.5, 2, 600)
    cpu, emu_out, emu = _twin_and_kernel(monkeypatch, lambda: kernels.accumulate(ix, lin, comp, x, 6))
    for u, v in zip(_sorted_pairs(cpu), _sorted_pairs(emu_out)):
        np.testing.assert_allclose(u, v, rtol=1e-12)
    fn = emu.module("accumulate").get_function("accumulate_chunks")
    assert fn.launches == 1 and fn.max_dynamic_shared_size_bytes >= R * 16


def test_union_find_equals_the_twin(monkeypatch, rng):
    n = 5000
    a = rng.integers(0, n, 3000)
    b = np.clip(a + rng.integers(-30, 30, 3000), 0, n - 1)
    cpu, emu_out, _ = _twin_and_kernel(monkeypatch, lambda: kernels.union_find(n, a, b))
    np.testing.assert_array_equal(cpu, emu_out)
    assert np.all(cpu <= np.arange(n)) and np.all(cpu[cpu] == cpu)  # roots are the smallest node


@pytest.mark.parametrize("route", ["arrays", "csgraph"])
@pytest.mark.parametrize("graph", ["random", "chains", "star", "no edges"])
def test_union_find_on_the_cpu_gives_scipys_components(rng, monkeypatch, graph, route):
    """The CPU's union-find (hook and compress in array operations for a map's graph, SciPy's csgraph for a
    chunk's): each node's smallest connected node, from scipy's connected_components (weak connection), on random
    edges, long chains in shuffled order (the most rounds), a star whose centre is the largest node, and a graph
    without edges."""
    import scipy.sparse
    from scipy.sparse.csgraph import connected_components

    monkeypatch.setattr(kernels, "_CSGRAPH_NODES", 0 if route == "csgraph" else 1 << 30)

    n = 20000
    if graph == "random":
        a = rng.integers(0, n, 15000)
        b = np.clip(a + rng.integers(-300, 300, 15000), 0, n - 1)
    elif graph == "chains":
        perm = rng.permutation(n)
        a, b = perm[:-1], perm[1:]
        keep = rng.random(n - 1) > 0.001  # a few long chains
        a, b = a[keep], b[keep]
    elif graph == "star":
        a = np.full(n - 1, n - 1)
        b = rng.permutation(n - 1)
    else:
        a = b = np.zeros(0, np.int64)
    got = kernels.union_find(n, a, b)
    k, lab = connected_components(scipy.sparse.coo_matrix((np.ones(len(a)), (a, b)), shape=(n, n)), directed=True,
                                  connection="weak")
    smallest = np.full(k, n)
    np.minimum.at(smallest, lab, np.arange(n))
    np.testing.assert_array_equal(got, smallest[lab])


def _random_chunk(rng, n=3000, n_comp=17):
    """A random atlas's index and a chunk's voxels (grid indices), components and positive values."""
    maps, A = random_atlas(rng, shape=(14, 15, 16), n_regions=9)
    ix = atlas_from_dense(maps, A).sparse_index
    lin = rng.integers(0, int(np.prod(ix.shape)), n)
    return ix, lin, rng.integers(0, n_comp, n), rng.random(n) + 0.1


def test_accumulate_counts_every_hit_as_the_weighted_route_does(rng):
    """The CPU counts with a plain bincount where every gathered entry is a hit; a voxel of x = 0 added at a mapped
    voxel sends the call through the weighted hit column instead: the same pairs, sums and counts, bit for bit."""
    ix, lin, comp, x = _random_chunk(rng)
    mapped = int(np.flatnonzero(np.asarray(ix.device_arrays()["voxels"]).ravel() >= 0)[0])
    plain = kernels.accumulate(ix, lin, comp, x, 17)
    weighted = kernels.accumulate(ix, np.append(lin, mapped), np.append(comp, 3), np.append(x, 0.0), 17)
    assert plain[0].size > 0
    for u, v in zip(plain, weighted):
        assert u.dtype == v.dtype
        np.testing.assert_array_equal(u, v)


def test_segment_min_max_equals_the_twin(monkeypatch, rng):
    v = rng.integers(-50, 50, (2000, 3))
    seg = rng.integers(0, 40, 2000)
    seg[:40] = np.arange(40)
    cpu, emu_out, _ = _twin_and_kernel(monkeypatch, lambda: kernels.segment_min_max(v, seg, 40))
    np.testing.assert_array_equal(cpu[0], emu_out[0])
    np.testing.assert_array_equal(cpu[1], emu_out[1])


def test_segment_sums_equal_the_twin_and_leave_empty_segments_zero(monkeypatch, rng):
    v = rng.normal(size=(3000, 4))
    v[::7, 1] = 0.0
    seg = rng.integers(0, 60, 3000)
    seg[seg == 17] = 18  # an empty segment
    cpu, emu_out, _ = _twin_and_kernel(monkeypatch, lambda: kernels.segment_sums(list(v.T), seg, 61))
    assert cpu.shape == emu_out.shape == (61, 4) and not cpu[17].any() and not cpu[60].any()
    np.testing.assert_allclose(emu_out, cpu, rtol=1e-12, atol=1e-12)  # the device adds in any order
    ones = rng.integers(1, 9, (500, 2)).astype(float)  # small integers: exact in any order
    cpu, emu_out, _ = _twin_and_kernel(monkeypatch, lambda: kernels.segment_sums(list(ones.T), seg[:500], 61))
    np.testing.assert_array_equal(cpu, emu_out)
    empty = kernels.segment_sums([np.zeros(0)] * 3, np.zeros(0, np.int64), 5)
    assert empty.shape == (5, 3) and not empty.any()


@pytest.mark.parametrize("case", sorted(CASES))
def test_golden_cases_through_the_kernels(julich, emulated, case):
    compare_with_golden(CASES[case](julich), case)


def test_the_emulator_refuses_mismatched_arguments(emulated):
    fn = emulated.module("labels").get_function("uf_flatten")
    with pytest.raises(TypeError, match="int64 array, the kernel reads 4-byte items"):
        fn((1,), (32,), (np.zeros(4, np.int64), np.int64(4)))
    with pytest.raises(TypeError, match="int32 scalar, the kernel takes 8 bytes"):
        fn((1,), (32,), (np.zeros(4, np.int32), np.int32(4)))


def test_kernels_cover_their_range_whatever_the_grid(monkeypatch, rng, julich):
    """Every kernel loops over its range (grid-stride): launched with a single block of 256 threads, work
    beyond the first 256 elements is still done (a launch capped at 65535 x 16 blocks must not skip any)."""
    monkeypatch.setattr(kernels, "_MAX_GRID", 1)
    v = rng.integers(-50, 50, (2000, 3))
    seg = rng.integers(0, 40, 2000)
    cpu, emu_out, _ = _twin_and_kernel(monkeypatch, lambda: kernels.segment_min_max(v, seg, 40))
    np.testing.assert_array_equal(cpu[0], emu_out[0])
    np.testing.assert_array_equal(cpu[1], emu_out[1])
    ix = julich.sparse_index
    lin = rng.integers(0, int(np.prod(ix.shape)), 3000)
    lin[::7] = -1
    cpu, emu_out, _ = _twin_and_kernel(monkeypatch, lambda: point_kernels.lookup_points(ix, lin, 0.1))
    assert len(cpu[0]) > 300
    for a, b in zip(cpu, emu_out):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    n = 5000
    a = rng.integers(0, n, 3000)
    b = np.clip(a + rng.integers(-30, 30, 3000), 0, n - 1)
    cpu, emu_out, _ = _twin_and_kernel(monkeypatch, lambda: kernels.union_find(n, a, b))
    np.testing.assert_array_equal(cpu, emu_out)


def test_a_launch_beyond_cudas_grid_is_refused_with_the_remedy(emulated, monkeypatch):
    monkeypatch.setattr(kernels, "_MAX_BLOCKS", 3)
    with pytest.raises(gpusiibra.BackendError, match="would need 4 blocks .* smaller --chunk-size"):
        kernels._launch("labels", "uf_flatten", 4, 32, (np.zeros(4, np.int32), np.int64(4)))


def test_pairs_too_many_for_the_devices_memory_take_the_sparse_route(julich, emulated, monkeypatch):
    """When the dense (components x regions) sums would not fit, the GPU path sums sparse keys as the CPU does:
    the golden numbers, and no accumulation kernel launched."""
    def accumulations():
        acc = emulated._modules.get("accumulate")
        return 0 if acc is None else sum(k.launches for k in acc._kernels.values())

    monkeypatch.setattr(kernels, "_EMULATED_FREE_BYTES", 0)
    compare_with_golden(CASES["motor_t4"](julich), "motor_t4")
    assert accumulations() == 0 and emulated.launches() > 0  # labels and boxes still ran their kernels
    monkeypatch.setattr(kernels, "_EMULATED_FREE_BYTES", 1 << 34)
    compare_with_golden(CASES["motor_t4"](julich), "motor_t4")
    assert accumulations() > 0


def test_the_kernels_warmed_ahead_are_those_of_the_sources(emulated):
    """`warm` compiles every kernel named in KERNELS on the GPU before the first chunk: each name must be a
    kernel of its source file (checked here by the host compilation of the same sources)."""
    for module, names in kernels.KERNELS.items():
        for name in names:
            emulated.module(module).get_function(name)
    import glob
    import os
    import re

    launched = set()
    for path in glob.glob(os.path.join(kernels.kernel_source_dir(), "*.cu")):
        names = re.findall(r'extern "C" __global__ void (\w+)\(', open(path).read())
        launched |= {(os.path.basename(path)[:-3], n) for n in names}
    assert launched == {(m, n) for m, ns in kernels.KERNELS.items() for n in ns}


def _accumulate_entry_by_entry(ix, lin, comp, x, n_comp, lower_threshold=0.0):
    """The sums of accumulate, as its CSR defines them: voxels in order, each row's entries in order, added one by
    one into float64 sums from 0 (the order of NumPy's bincount)."""
    rows = np.asarray(ix.voxels).ravel()[lin]
    sums = {}
    for r, c, v in zip(rows, comp, x):
        if r < 0:
            continue
        for e in range(int(ix.row_ptr[r]), int(ix.row_ptr[r + 1])):
            p = float(ix.entry_value[e])
            p = 0.0 if p < lower_threshold else p
            s, k = sums.get((int(c), int(ix.entry_region[e])), (0.0, 0))
            sums[(int(c), int(ix.entry_region[e]))] = (s + p * float(v), k + int(p > 0 and v > 0))
    keys = sorted(k for k, (s, n) in sums.items() if n > 0)
    return (np.array([k[0] for k in keys], np.int64), np.array([k[1] for k in keys], np.int64),
            np.array([sums[k][0] for k in keys]), np.array([sums[k][1] for k in keys], np.int64))


@pytest.mark.parametrize("most", [1, 2, 5])
@pytest.mark.parametrize("threshold", [0.0, 0.3])
def test_accumulate_over_the_unit_layout_equals_the_csr_sums_bit_for_bit(rng, most, threshold):
    """The CPU's accumulation gathers each voxel's entries unit by unit (SparseIndex.unit_arrays: a fixed number of
    slots, padded past a row's last entry): the pairs, sums and counts are those of the CSR taken entry by entry,
    in its order, to the last bit - for atlases of one entry a voxel (width 1), up to 2 and up to 5 (rows that
    fill several units and end in padding), voxels outside the atlas, values of x <= 0 and a threshold."""
    shape, R = (6, 7, 8), 7
    G = int(np.prod(shape))
    vox = rng.choice(G, 150, replace=False)
    n_of = rng.integers(1, most + 1, vox.size)
    voxel = np.repeat(vox, n_of)
    region = np.concatenate([rng.choice(R, k, replace=False) for k in n_of])
    value = rng.uniform(0.05, 1.0, voxel.size)
    ix = gpusiibra.from_arrays(shape, np.eye(4), region, voxel, value).sparse_index
    u = ix.unit_arrays()
    assert (u["width"] == 1) == (most == 1) and u["unit_region"].shape[1] == u["width"]
    n = 4000
    lin = rng.integers(0, G, n)  # about half outside the atlas
    comp = rng.integers(0, 11, n)
    x = rng.normal(1.0, 1.0, n)
    want = _accumulate_entry_by_entry(ix, lin, comp, x, 11, threshold)
    got = kernels.accumulate(ix, lin, comp, x, 11, threshold)
    assert want[0].size > 0
    for u_, v in zip(want, got):
        assert u_.dtype == v.dtype
        assert u_.tobytes() == np.asarray(v).tobytes()


def test_unit_width_is_chosen_per_atlas():
    from gpusiibra.sparse import unit_width

    assert unit_width([1, 1, 1]) == 1
    assert unit_width([1, 2, 2, 2, 3, 4]) == 2
    assert unit_width([40] * 10) == 8  # 5 units of 8 slots: the fewest slots plus units
    assert unit_width([]) == 1


@pytest.mark.parametrize("route", ["cpu", "kernels"])
def test_accumulate_leaves_out_the_voxels_of_component_minus_one(monkeypatch, rng, route):
    """skip_negative: the voxels of dropped components (-1) are left out - the same pairs, sums and counts as the
    call without them (on the CPU bit for bit; the kernels' atomic sums in any order), on the CPU and through the
    kernels."""
    ix, lin, comp, x = _random_chunk(rng)
    n = lin.size
    comp[rng.random(n) < 0.3] = -1
    if route == "kernels":
        cuda_emulator.install(monkeypatch)
    kept = comp >= 0
    want = kernels.accumulate(ix, lin[kept], comp[kept], x[kept], 17)
    got = kernels.accumulate(ix, lin, comp, x, 17, skip_negative=True)
    assert np.asarray(want[0]).size > 0
    for i, (u, v) in enumerate(zip(want, got)):
        if route == "kernels" and i == 2:
            np.testing.assert_allclose(u, v, rtol=1e-12)
        else:
            assert np.asarray(u).tobytes() == np.asarray(v).tobytes()


@pytest.mark.parametrize("lower_threshold, skip_negative", [(0.0, False), (0.3, True)])
def test_a_small_chunks_csr_gather_equals_the_units_bit_for_bit(rng, monkeypatch, lower_threshold, skip_negative):
    """On the CPU a small chunk gathers the CSR entries themselves (the atlas's units are not made for one map);
    the pairs and sums are those of the units, bit for bit."""

    maps, affine = random_atlas(rng, shape=(14, 15, 16), n_regions=7)
    index = atlas_from_dense(maps, affine).sparse_index
    G = int(np.prod(index.shape))
    voxel_lin = rng.choice(G, 900, replace=False)
    comp = rng.integers(-1 if skip_negative else 0, 25, voxel_lin.size)
    x = rng.normal(size=voxel_lin.size) * 3
    monkeypatch.setattr(kernels, "_UNITS_FROM", 10 ** 9)
    csr = kernels.accumulate(index, voxel_lin, comp, x, 25, lower_threshold, skip_negative=skip_negative)
    assert index.unit_arrays(build=False) is None  # the CSR route made no units
    monkeypatch.setattr(kernels, "_UNITS_FROM", 0)
    units = kernels.accumulate(index, voxel_lin, comp, x, 25, lower_threshold, skip_negative=skip_negative)
    assert index.unit_arrays(build=False) is not None and len(csr[0]) > 50
    for a, b in zip(csr, units):
        np.testing.assert_array_equal(a, b)
