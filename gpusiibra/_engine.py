"""The chunk engine: many maps assigned at once, with a fixed number of array calls per chunk.

One pass over a chunk of maps, written once on the array module (NumPy on the
CPU, CuPy on the GPU):

1. resample every map onto the atlas grid at the voxels its nonzero voxels
   reach (:func:`gpusiibra._resample.resample_sparse`; one geometry group at a
   time, typically one per study);
2. label the support (``q > 0``) with 18-connectivity: the support is cut into
   runs along the last axis, runs of neighbouring lines that touch are joined
   (union-find: :func:`gpusiibra._kernels.union_find`, a CUDA kernel on the GPU),
   and components are numbered in raster order, as ``scipy.ndimage.label``
   numbers them;
3. per component: voxel count, sums of x and x², count of x > 0, mean voxel,
   box (siibra's ``connected_components`` summary), and the minsize filter;
4. the accumulation against every region at once (:func:`gpusiibra._kernels.accumulate`);
5. one copy of the component table and one of the pairs back to the host, where
   siibra's statistics are computed for the whole chunk.

The maps of a chunk are told apart by their number in the keys of the support
(``map * grid size + voxel``), so no step loops over maps on the device.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
from nibabel.affines import apply_affine

from . import _kernels, backend
from ._statistics import Components, labelled_pair_statistics, pair_statistics
from ._resample import on_grid, resample_dense, resample_sparse, resample_to_grid, separable_is_exact, zoom_shift
from ._sparse_image import SparseImage, sparse_image

__all__ = ["ChunkResult", "MapRows", "assign_chunk", "warm_caches", "support_entries", "label_support", "is_labelled"]

#: forward neighbour lines of a run (dx, dy) and the slack along z: faces and edges (18-connectivity)
_FORWARD = ((0, 1, 1), (1, -1, 0), (1, 0, 1), (1, 1, 0))
#: values whose binary exponent leaves this range are scaled by a power of two (exactly) before sums
_EXPONENT_LIMIT = 200


@dataclass
class ChunkResult:
    """The assignment of a chunk of maps: rows of every map, in map order, then siibra's order.

    Attributes
    ----------
    row_map : ndarray of int64
        The chunk number of each row's map.
    columns : dict of ndarray
        ``input structure``, ``centroid`` (n, 3), ``volume``, ``component voxels`` and siibra's
        statistics, one entry per row.
    status : list of str
        Per map: ``ok``, ``empty`` (no nonzero value) or ``outside`` (nonzero values, none on the grid).
    """

    row_map: np.ndarray
    columns: dict
    status: list = field(default_factory=list)

    def rows_of(self, i) -> "MapRows":
        """The rows of map ``i`` (centroids as tuples, as :func:`gpusiibra._assign.make_table` takes them)."""
        sel = np.flatnonzero(self.row_map == i)
        out = {k: v[sel] for k, v in self.columns.items()}
        out["centroid"] = [tuple(float(c) for c in row) for row in out["centroid"]]
        return MapRows(out, self.status[i])


@dataclass
class MapRows:
    """One map's assignment: its table columns, and its status (``ok``, ``empty``: no nonzero value, or
    ``outside``: nonzero values, none on the atlas grid)."""

    columns: dict
    status: str


# ------------------------------------------------------------------ resampling
@lru_cache(maxsize=256)
def _route(shape, affine_bytes, dtype_str, order, grid_shape, grid_affine_bytes):
    """How an image of this geometry and type reaches the grid: 'grid', 'separable' or 'dense'."""
    affine = np.frombuffer(affine_bytes).reshape(4, 4)
    grid_affine = np.frombuffer(grid_affine_bytes).reshape(4, 4)
    if on_grid(shape, affine, grid_shape, grid_affine):
        return "grid"
    zs = zoom_shift(affine, grid_affine)
    if zs is None or not separable_is_exact(np.dtype(dtype_str), order, zs[0], zs[1], grid_shape):
        return "dense"
    return "separable"


def support_entries(images, shape, grid_affine, zeros=False, pulls=None):
    """Every image resampled onto the grid: sorted ``(key, value)`` entries, ``key = image * grid size + voxel``,
    nonzero values only (``zeros=True``: with the exact zeros the separable passes may leave, for a caller that
    compacts the entries once itself).

    Images of one geometry and type are resampled together; oblique images (and integer images the
    separable passes cannot round as scipy does) one by one with scipy on the host. An image whose ``space``
    has a transform in ``pulls`` (space -> transform taking the grid's points to that space's) is pulled onto
    the grid through it instead, in one interpolation (:func:`gpusiibra._warp.pull_sparse`), with the others of
    its space and geometry.
    """
    xp = backend.xp()
    shape = tuple(int(s) for s in shape)
    G = int(np.prod(shape))
    gbytes = np.ascontiguousarray(grid_affine, np.float64).tobytes()
    groups, dense, boxed, warped = {}, [], [], {}
    for i, im in enumerate(images):
        if im.nnz == 0:
            continue
        if pulls and im.space in pulls:
            warped.setdefault((im.space, im.shape, im.affine.tobytes()), []).append(i)
            continue
        route = _route(im.shape, np.ascontiguousarray(im.affine, np.float64).tobytes(), im.dtype.str, im.order,
                       shape, gbytes)
        if route == "dense":
            dense.append(i)
        elif route == "separable" and im.data is not None:
            boxed.append(i)  # mostly nonzero: the separable passes on dense boxes
        else:
            gk = ("grid",) if route == "grid" else (im.shape, im.affine.tobytes(), im.order, im.dtype.str)
            groups.setdefault(gk, []).append(i)
    parts = [resample_sparse([images[i] for i in idx], idx, shape, grid_affine) for idx in groups.values()]
    parts += [resample_dense(images[i], i, shape, grid_affine) for i in boxed]
    if warped:
        from . import _warp

        parts += [_warp.pull_sparse([images[i] for i in idx], idx, shape, grid_affine, pulls[key[0]])
                  for key, idx in warped.items()]
    for i in dense:
        res = resample_to_grid(images[i].dense(), images[i].affine, shape, grid_affine)
        if res.empty:
            continue
        sub = np.flatnonzero(res.data)
        ijk = np.stack(np.unravel_index(sub, res.data.shape)) + res.origin[:, None]
        lin = np.ravel_multi_index(tuple(ijk), shape)
        parts.append((xp.asarray(i * G + lin), xp.asarray(res.data.ravel()[sub].astype(np.float64))))
    if not parts:
        return xp.zeros(0, xp.int64), xp.zeros(0, xp.float64)
    if len(parts) == 1:
        key, val = parts[0]
    else:
        key = xp.concatenate([p[0] for p in parts])
        val = xp.concatenate([p[1] for p in parts])
        o = xp.argsort(key, kind="stable")  # a merge of sorted runs
        key, val = key[o], val[o]
    if zeros:
        return key, val
    keep = xp.flatnonzero(val)
    return key[keep], val[keep]


# ------------------------------------------------------------------ labelling
def label_support(key, shape):
    """18-connected components of the support given by sorted ``key`` (``image * grid size + voxel``).

    Returns
    -------
    comp : array of int64
        Component of each voxel, numbered over the whole chunk in raster order (image by image).
    n_comp : int
    runs : dict
        The runs (``x``, ``y``, ``z0``, ``z1``, ``start``: the key of the run's first voxel, and ``comp``, per
        run; ``first``: each component's first run), for component boxes and first voxels.
    """
    xp = backend.xp()
    G0, G1, G2 = (int(s) for s in shape)
    n = int(key.size)
    if n == 0:
        e = xp.zeros(0, xp.int64)
        return e, 0, dict(x=e, y=e, z0=e, z1=e, comp=e, start=e, first=e)
    # runs: consecutive keys, ending with their line (the device tests every key's z; the CPU only when a run of
    # consecutive keys goes on into the next line, which a support on both ends of the grid's z needs)
    start = xp.ones(n, bool)
    start[1:] = key[1:] != key[:-1] + 1
    device = _kernels.uses_cuda_kernels()
    for check in (False, True):
        if device or check:
            start[1:] |= key[1:] % G2 == 0
        rs = xp.flatnonzero(start)
        re = xp.concatenate([rs[1:], xp.asarray([n], dtype=rs.dtype)]) - 1
        rstart, rend = key[rs], key[re]
        line = rstart // G2
        if device or check or not bool(xp.any(rend // G2 != line)):
            break
    nr = int(rs.size)
    rz0, rz1 = rstart - line * G2, rend - line * G2
    ry = line % G1
    rx = (line // G1) % G0
    # the z range a run reaches in a neighbouring line, as keys of its own line (with the slack, within the line)
    reach = {0: (rstart, rend), 1: (xp.maximum(rstart - 1, rstart - rz0), xp.minimum(rend + 1, rend - rz1 + G2 - 1))}
    inside = {(0, 1): ry < G1 - 1, (1, -1): (rx < G0 - 1) & (ry > 0), (1, 0): rx < G0 - 1,
              (1, 1): (rx < G0 - 1) & (ry < G1 - 1)}  # the neighbouring line is on the grid
    counts, firsts = [], []
    for dx, dy, slack in _FORWARD:
        shift = (dx * G1 + dy) * G2
        lo, hi = reach[slack]
        first = xp.searchsorted(rend, lo + shift, side="left")
        last = xp.searchsorted(rstart, hi + shift, side="right")
        counts.append(xp.where(inside[dx, dy], xp.maximum(last - first, 0), 0))
        firsts.append(first)
    dst, owner = _kernels.expand_ranges(xp, xp.concatenate(firsts), xp.concatenate(counts))
    src = owner % nr
    root = _kernels.union_find(nr, src, dst)
    is_root = root == xp.arange(nr)
    comp_of_root = xp.cumsum(is_root) - 1
    comp_run = comp_of_root[root]
    n_comp = int(comp_of_root[-1]) + 1
    # the first run of each component is its root (the smallest run): components follow their roots' order
    first = xp.zeros(n_comp + 1, xp.int64)  # each component's first run (the other runs write to one spare slot)
    first[xp.where(is_root, comp_of_root, n_comp)] = xp.arange(nr, dtype=xp.int64)
    if xp is np:  # each voxel's component: its run's, repeated over the run (CuPy's repeat takes no counts: a gather)
        comp = np.repeat(comp_run, re - rs + 1)
    else:
        comp = comp_run[xp.cumsum(start) - 1]
    return comp, n_comp, dict(x=rx, y=ry, z0=rz0, z1=rz1, comp=comp_run, start=rstart, first=first[:n_comp])


# ------------------------------------------------------------------ the chunk
def _empty_columns():
    return {"input structure": np.zeros(0, np.int64), "centroid": np.zeros((0, 3)), "volume": np.zeros(0, np.int64),
            "component voxels": np.zeros(0, np.int64)}


def components(key, x, shape, grid_affine, split_components=True):
    """Components of the support entries and their summaries: (Components, voxel component, x scaled)."""
    xp = backend.xp()
    shape = tuple(int(s) for s in shape)
    G0, G1, G2 = shape
    G = G0 * G1 * G2
    if split_components:
        comp, K, runs = label_support(key, shape)
        # the box: a component's first run (raster order) has its smallest x and its first voxel; the rest from the
        # runs' minima and maxima (on the CPU only those needed)
        box_values = xp.stack([runs["x"], runs["y"], runs["z0"], runs["z1"]], axis=1)
        lo4, hi4 = _kernels.segment_min_max(box_values, runs["comp"], K, mins=(1, 2), maxs=(0, 1, 3))
        lo = xp.stack([runs["x"][runs["first"]], lo4[:, 1], lo4[:, 2]], axis=1)
        hi = xp.stack([hi4[:, 0], hi4[:, 1], hi4[:, 3]], axis=1)
        first_keys = runs["start"][runs["first"]]  # a component's first voxel: the start of its first run
        # voxel counts and coordinate sums run by run (integers: exact in float64 whatever the order, so the
        # same numbers as voxel by voxel, in a tenth of the rows)
        n_run = runs["z1"] - runs["z0"] + 1
        counts = _kernels.segment_sums([n_run, runs["x"] * n_run, runs["y"] * n_run,
                                        (runs["z0"] + runs["z1"]) * n_run // 2], runs["comp"], K)
    else:
        lin = key % G
        ijk = xp.stack([lin // (G1 * G2), (lin // G2) % G1, lin % G2], axis=1)
        m = key // G
        present = xp.bincount(m, minlength=int(m.max()) + 1 if m.size else 1) > 0
        rank = xp.cumsum(present) - 1
        comp = rank[m]
        K = int(present.sum())
        lo4, hi4 = _kernels.segment_min_max(xp.concatenate([ijk, key[:, None]], axis=1), comp, K)
        lo, hi, first_keys = lo4[:, :3], hi4[:, :3], lo4[:, 3]
        counts = _kernels.segment_sums([xp.ones(x.size, xp.float64)] + [ijk[:, a] for a in range(3)], comp, K)
    # values beyond float64's comfortable range are divided by a power of two per component (exact)
    shift, x, unscaled = _exponent_shift(x, comp, K)
    if split_components and unscaled:
        # the support is x > 0 and no value was scaled: the count of x > 0 is the voxel count (exact integers)
        vs = xp.concatenate([_kernels.segment_sums([x, x * x], comp, K), counts[:, :1]], axis=1)
    else:
        vs = _kernels.segment_sums([x, x * x, (x > 0).astype(xp.float64)], comp, K)
    # the columns: count, sum x, sum x^2, count x > 0, coordinate sums
    sums = xp.concatenate([counts[:, :1], vs, counts[:, 1:]], axis=1)
    table = xp.concatenate([sums, xp.stack([(first_keys // G).astype(xp.float64)] +
                                           [lo[:, a].astype(xp.float64) for a in range(3)] +
                                           [hi[:, a].astype(xp.float64) for a in range(3)] +
                                           [shift.astype(xp.float64)], axis=1)], axis=1)
    t = backend.to_host(table)  # one copy of the whole chunk's component table
    count = t[:, 0].astype(np.int64)
    cmap = t[:, 7].astype(np.int64)
    label = np.arange(K, dtype=np.int64) - np.searchsorted(cmap, cmap, side="left") + 1
    mean_ijk = t[:, 4:7] / np.maximum(count, 1)[:, None]
    centroid = np.round(apply_affine(grid_affine, mean_ijk), 2)
    comps = Components(map=cmap, label=label, count=count, nc=t[:, 3].astype(np.int64), Sx=t[:, 1], Sxx=t[:, 2],
                       lo=t[:, 8:11].astype(np.int64), hi=t[:, 11:14].astype(np.int64) + 1, centroid=centroid,
                       unit=np.ldexp(1.0, t[:, 14].astype(np.int64)), mean_voxel=mean_ijk)
    return comps, comp, x


def _exponent_shift(x, comp, K):
    """The power of two each component's values are divided by (its largest binary exponent where that leaves
    +-_EXPONENT_LIMIT, else 0), the values so divided, and whether they were returned as they are. On the CPU
    one range check of the magnitudes comes first: when every value is in range (the usual case: 2**-201 <= |x| <
    2**200 puts every exponent in range) no per-component maximum is needed (np.maximum.at), and the values are
    returned as they are; on the device the maximum is one kernel, without a wait."""
    xp = backend.xp()
    if not _kernels.uses_cuda_kernels():
        ax = xp.abs(x)
        if ax.size == 0 or (float(ax.min()) >= 2.0 ** (-_EXPONENT_LIMIT - 1) and
                            float(ax.max()) < 2.0 ** _EXPONENT_LIMIT):
            return xp.zeros(K, xp.int64), x, True  # every component's maximum is in range: no shift
    expo = xp.frexp(xp.abs(x))[1]
    _, emax = _kernels.segment_min_max(expo.astype(xp.int64)[:, None], comp, K)
    shift = xp.where(xp.abs(emax[:, 0]) > _EXPONENT_LIMIT, emax[:, 0], 0)
    return shift, xp.ldexp(x, (-shift[comp]).astype(xp.int32)), False


#: nonzero input voxels per engine pass: a chunk holding more (unthresholded maps, say) is assigned in
#: several passes, so that its intermediate arrays stay within a few GB on either backend
PASS_VOXELS = 4_000_000
#: on the CPU, the grid voxels a pass's maps are expected to reach (:func:`_reach`): a pass's arrays then stay
#: near the caches. Alone, a chunk of 32 realistic maps (2 mm, about 85k voxels each on the 1 mm grid) costs 14 CPU
#: ms a map in passes of one map, 15 in passes of two, 21.5 whole; end to end (two engine threads beside the
#: readers, fewer passes cost less Python) passes of about two realistic maps run fastest: 300 maps in 5.65 s
#: against 5.94 in passes of one (synthetic maps, 1,200 voxels at 2 mm: 5.54 against 5.45 s); the rows are the
#: same (bench/RESULTS.md, 2026-12-03 part 5). The GPU takes the chunk whole (PASS_VOXELS)
CPU_PASS_REACH = 200_000


def _reach(images, smaps) -> np.ndarray:
    """Per image, about how many grid voxels its nonzero voxels reach: their number times how many grid voxels
    (of the finest atlas grid) one of its voxels covers, at least one."""
    grid = min(abs(np.linalg.det(np.asarray(s.sparse_index.affine, np.float64)[:3, :3])) for s in smaps)
    return np.array([im.nnz * max(1.0, abs(np.linalg.det(np.asarray(im.affine, np.float64)[:3, :3])) / grid)
                     for im in images])


def _passes(weights, limit) -> list:
    """Cuts of a chunk into passes of consecutive maps whose ``weights`` add up to at most ``limit`` (at least one
    map each): ``[0, ..., len(weights)]``."""
    ends = np.cumsum(weights)
    cut = [0]
    while cut[-1] < len(weights):
        base = ends[cut[-1] - 1] if cut[-1] else 0
        cut.append(max(cut[-1] + 1, int(np.searchsorted(ends, base + limit, side="right"))))
    return cut


def assign_chunk(smap, images, minsize_voxel=1, lower_threshold=0.0, split_components=True, pulls=None):
    """Assign a chunk of maps to every region of ``smap`` (or of each of several atlases).

    Parameters
    ----------
    smap : SparseMap or list of SparseMap
        The atlas, or several: each map is then resampled and labelled once per grid, and its components
        scored against each atlas on that grid.
    images : list of SparseImage or (data, affine)
    minsize_voxel, lower_threshold, split_components :
        siibra's parameters.
    pulls : callable, optional
        ``pulls(smap, space)``: the transform that pulls an image declared in ``space`` onto ``smap``'s grid
        (its points to the space's), or None when nothing is warped; images whose ``space`` is None are taken as
        they are. Each map is pulled once per distinct (space, atlas grid).

    Returns
    -------
    ChunkResult, or a list of them (one per atlas) when ``smap`` is a list
    """
    many = isinstance(smap, (list, tuple))
    smaps = list(smap) if many else [smap]
    images = [im if isinstance(im, SparseImage) else sparse_image(*im) for im in images]
    if _kernels.uses_cuda_kernels():  # the device's route: passes of at most PASS_VOXELS nonzero voxels
        cut = _passes([im.nnz for im in images], PASS_VOXELS)
    else:  # of at most CPU_PASS_REACH grid voxels reached (so at most as many nonzero ones)
        cut = _passes(_reach(images, smaps), CPU_PASS_REACH)
    if len(cut) > 2:  # results in map order
        passes = [_assign_pass(smaps, images[a:b], minsize_voxel, lower_threshold, split_components, pulls)
                  for a, b in zip(cut[:-1], cut[1:])]
        out = []
        for k in range(len(smaps)):
            parts = [p[k] for p in passes]
            rows = [(p, a) for p, a in zip(parts, cut[:-1]) if len(p.row_map)] or [(parts[0], 0)]
            # (a pass without rows has only the columns of no statistics: the others' are taken)
            out.append(ChunkResult(np.concatenate([p.row_map + a for p, a in rows]),
                                   {c: np.concatenate([p.columns[c] for p, _ in rows]) for c in rows[0][0].columns},
                                   [st for p in parts for st in p.status]))
    else:
        out = _assign_pass(smaps, images, minsize_voxel, lower_threshold, split_components, pulls)
    return out if many else out[0]


def warm_caches(smaps, lower_threshold=0.0):
    """Make what chunks of many maps share, ahead of them: each atlas's region sums at the threshold its rules
    apply (and its bounding boxes) and, on the GPU, the units of its accumulation
    (:meth:`gpusiibra.sparse.SparseIndex.unit_arrays`; the CPU's passes are mostly too small to use them). The batch
    runs it while the first files are read, so that its engines start on two chunks at once instead of one making
    these alone."""
    for smap in smaps:
        index = smap.sparse_index
        index.region_stats(0.0 if is_labelled(smap) else float(lower_threshold))
        if _kernels.uses_cuda_kernels():
            index.unit_arrays()


def _assign_pass(smaps, images, minsize_voxel, lower_threshold, split_components, pulls=None) -> list:
    """One ChunkResult per atlas; the resampling and labelling are done once per atlas grid (and, for maps
    declared in other spaces, once per distinct set of transforms onto it)."""
    prepared = {}
    out = []
    declared = sorted({im.space for im in images if im.space is not None}) if pulls is not None else []
    for smap in smaps:
        index = smap.sparse_index
        by_space = {sp: t for sp in declared for t in [pulls(smap, sp)] if t is not None}
        grid = (tuple(index.shape), np.asarray(index.affine, np.float64).tobytes(),
                tuple((sp, id(t)) for sp, t in sorted(by_space.items())))
        if grid not in prepared:
            prepared[grid] = _prepare(images, tuple(index.shape), index.affine, split_components, by_space)
        out.append(_score(smap, prepared[grid], minsize_voxel, lower_threshold, split_components))
    return out


def _prepare(images, shape, grid_affine, split_components, pulls=None):
    """The maps on one grid: (status, and the support's keys, values, components and component of each entry, or
    None when nothing lies on the grid)."""
    xp = backend.xp()
    G = int(np.prod(shape))
    M = len(images)
    key, x = support_entries(images, shape, grid_affine, zeros=True, pulls=pulls)
    if key.size:  # nonzero values per map: differences of a running count at the maps' bounds (keys are sorted)
        nzc = xp.concatenate([xp.zeros(1, xp.int64), xp.cumsum(x != 0)])
        bounds = xp.searchsorted(key, xp.arange(M + 1, dtype=xp.int64) * G)
        reached = backend.to_host(nzc[bounds[1:]] - nzc[bounds[:-1]])
    else:
        reached = np.zeros(M)
    status = ["empty" if im.nnz == 0 else "outside" if reached[i] == 0 else "ok" for i, im in enumerate(images)]
    keep = xp.flatnonzero(x > 0 if split_components else x != 0)  # the chunk's one compaction of its support
    key, x = key[keep], x[keep]
    if key.size == 0:
        return status, None
    comps, comp, x = components(key, x, shape, grid_affine, split_components)
    return status, (key, x, comps, comp)


def _score(smap, prepared, minsize_voxel, lower_threshold, split_components) -> ChunkResult:
    """The components of a prepared chunk against every region of one atlas, by its rules."""
    xp = backend.xp()
    status, support = prepared
    if support is None:
        return ChunkResult(np.zeros(0, np.int64), _empty_columns(), status)
    key, x, comps, comp = support
    index = smap.sparse_index
    G = int(np.prod(index.shape))
    labelled = is_labelled(smap)
    big = comps.count > (0 if labelled else minsize_voxel)  # siibra's labelled maps skip no small component
    if not big.any():
        return ChunkResult(np.zeros(0, np.int64), _empty_columns(), status)
    partial = not big.all()
    if partial:  # the components kept, renumbered; the others' voxels: component -1, which accumulate leaves out
        newid = np.cumsum(big) - 1
        newid[~big] = -1
        comp = xp.asarray(newid)[comp]
        comps = comps.take(np.flatnonzero(big))
        if labelled:  # (siibra's labelled maps skip no component: never taken)
            sel = xp.flatnonzero(comp >= 0)
            key, x, comp, partial = key[sel], x[sel], comp[sel], False
    region_threshold = 0.0 if labelled else lower_threshold  # a labelled map's threshold applies to the IoU
    pairs = _kernels.accumulate(index, key % G, comp, x, len(comps), region_threshold, skip_negative=partial)
    packed = backend.to_host(xp.stack([p.astype(xp.float64) for p in pairs], axis=1)) if pairs[0].size else \
        np.zeros((0, 4))
    pc, pr = packed[:, 0].astype(np.int64), packed[:, 1].astype(np.int64)
    rstats = index.region_stats(region_threshold)
    if labelled:
        signed = _signed_sums(index, key % G, comp, x, len(comps)) if not split_components else None
        pairs = labelled_pair_statistics(comps, rstats, pc, pr, packed[:, 2], packed[:, 3], G, split_components,
                                         lower_threshold, signed)
        # siibra's order: region by region
        pairs = pairs.take(np.lexsort((comps.label[pairs.component], pairs.region, comps.map[pairs.component])))
        pairs.columns["map value"] = smap.label_values()[pairs.region]
        centroid = np.round(comps.mean_voxel[pairs.component], 2)  # siibra's labelled route: voxel indices, not mm
    else:
        pairs = pair_statistics(comps, rstats, pc, pr, packed[:, 2], packed[:, 3])
        centroid = comps.centroid[pairs.component]
    pc, pr, stats = pairs.component, pairs.region, pairs.columns
    structure = comps.label[pc] if split_components or not labelled else np.zeros(len(pc), np.int64)  # siibra's 0
    columns = {"input structure": structure, "centroid": centroid, "volume": pr,
               "component voxels": comps.count[pc]}
    columns.update(stats)
    return ChunkResult(comps.map[pc], columns, status)


def _signed_sums(index, voxel_lin, comp, x, n_comp):
    """For an image taken whole that holds negative values (siibra's labelled comparison): the sums of x and x^2
    over x > 0 per component, and over x < 0 per (component, region); None without negative values."""
    xp = backend.xp()
    neg = x < 0
    if not bool(neg.any()):
        return None
    pos = xp.where(x > 0, x, 0.0)
    per_comp = [backend.to_host(xp.bincount(comp, weights=w, minlength=n_comp)) for w in (pos, pos * pos)]
    lin, c, xn = voxel_lin[neg], comp[neg], -x[neg]
    p1 = [backend.to_host(a) for a in _kernels.accumulate(index, lin, c, xn, n_comp, 0.0)]
    p2 = [backend.to_host(a) for a in _kernels.accumulate(index, lin, c, xn * xn, n_comp, 0.0)]
    return tuple(per_comp), (p1[0], p1[1], p1[2], p2[2])


def is_labelled(smap) -> bool:
    """True for a labelled map (siibra's ``MapType.LABELLED``: one label per voxel, siibra's ``Map.assign`` rules)."""
    return getattr(smap, "maptype", "statistical") == "labelled"
