"""The sparse atlas: region maps on one voxel grid held as CSR arrays.

:class:`SparseIndex` keeps the same information as siibra's
``siibra.volumes.sparsemap.SparseIndex`` (a volume of row numbers, one row of
``{region: value}`` per mapped voxel, and one bounding box per region), but as
flat arrays instead of a Python dict per voxel:

voxel-major CSR (lookups and assignment)
    ``voxels`` (int32 volume, -1 = no region, else a row number),
    ``row_ptr`` (int64, ``n_rows + 1``), ``row_voxel`` (int64 linear voxel index
    of each row), ``entry_region`` (int32) and ``entry_value`` (float32): row
    ``n`` holds entries ``row_ptr[n]:row_ptr[n + 1]``, regions ascending.
region-major CSR (fetching one map)
    ``region_ptr`` (int64, ``n_regions + 1``), ``region_voxel`` (int64 linear
    voxel index, ascending) and ``region_value`` (float32).

Arrays live on the host; :meth:`SparseIndex.device_arrays` keeps one copy on
the GPU for the GPU backend.
"""
from __future__ import annotations

from functools import cached_property

import warnings

import numpy as np

from . import backend
from .errors import AtlasFileError, OptionError

__all__ = ["SparseIndex", "checked_probabilities"]


class SparseIndex:
    """Region maps on one voxel grid, as CSR arrays (siibra's ``SparseIndex`` API).

    Build one with :meth:`from_entries` (vectorized) or, as in siibra, by
    calling :meth:`add_img` once per region map.

    Attributes
    ----------
    shape : tuple of int
        The grid's shape (3 axes, voxels).
    affine : ndarray, shape (4, 4)
        Voxel index -> mm.
    """

    def __init__(self):
        self.shape = None
        self.affine = None
        self._pending = []  # (region, linear index, value) per add_img, not yet built
        self._n_regions = 0
        self._arrays = None
        self._bboxes = None
        self._device = None
        self._stats = {}  # region_stats per threshold

    def __getstate__(self):
        # what a pickle (a dask worker, say) needs: the host arrays; the device copy and the sums are remade
        state = dict(self.__dict__)
        state["_device"] = None
        state["_stats"] = {}
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)

    # ------------------------------------------------------------------ build
    @classmethod
    def from_entries(cls, shape, affine, region, voxel, value, n_regions=None, *, voxels=None, row_voxel=None):
        """Build an index from flat (region, voxel, value) entries.

        Parameters
        ----------
        shape : tuple of int
            Grid shape (3 axes).
        affine : array_like, shape (4, 4)
            Voxel index -> mm.
        region : array_like of int
            Region number of each entry (0-based).
        voxel : array_like of int
            Linear (C order) voxel index of each entry.
        value : array_like of float
            Value of each entry (stored as float32); entries with value 0 are dropped.
        n_regions : int, optional
            Number of regions (default: largest region number + 1).
        voxels, row_voxel : ndarray, optional
            An existing row numbering (siibra's ``voxels`` volume and the voxel
            of each row) to keep instead of numbering rows in raster order.

        Returns
        -------
        SparseIndex
        """
        self = cls()
        self.shape = tuple(int(s) for s in shape)
        if len(self.shape) != 3:
            raise OptionError(f"a sparse index needs a 3D grid, got shape {self.shape}")
        self.affine = np.asarray(affine, dtype=np.float64).reshape(4, 4)
        region = np.asarray(region, dtype=np.int64).ravel()
        voxel = np.asarray(voxel, dtype=np.int64).ravel()
        value = np.asarray(value, dtype=np.float32).ravel()
        if not (len(region) == len(voxel) == len(value)):
            raise OptionError("region, voxel and value must have the same length")
        keep = value != 0
        if not keep.all():
            region, voxel, value = region[keep], voxel[keep], value[keep]
        nvox = int(np.prod(self.shape))
        if len(voxel) and (voxel.min() < 0 or voxel.max() >= nvox):
            raise OptionError("voxel indices outside the grid")
        if n_regions is None:
            n_regions = int(region.max()) + 1 if len(region) else 0
        if len(region) and (region.min() < 0 or region.max() >= n_regions):
            raise OptionError("region numbers outside 0..n_regions-1")
        self._n_regions = int(n_regions)
        self._build(region, voxel, value, voxels=voxels, row_voxel=row_voxel)
        return self

    def add_img(self, imgdata, affine):
        """Add one region map (siibra's ``SparseIndex.add_img``).

        Parameters
        ----------
        imgdata : ndarray, 3D
            The region's map; voxels with values > 0 are stored.
        affine : array_like, shape (4, 4)
            Must equal the affine of the first image added.

        Raises
        ------
        ValueError
            If the image's shape or affine differs from the first one's.
        """
        imgdata = np.asanyarray(imgdata)
        affine = np.asarray(affine, dtype=np.float64)
        if imgdata.ndim != 3:
            raise OptionError(f"add_img takes a 3D region map, got {imgdata.ndim} dimensions")
        if self.num_volumes == 0:
            self.shape = tuple(int(s) for s in imgdata.shape)
            self.affine = affine.copy()
        elif imgdata.shape != self.shape:
            raise OptionError(
                f"region map {self.num_volumes} has shape {imgdata.shape}, but the index grid is {self.shape}"
            )
        elif not np.array_equal(affine, self.affine):
            raise OptionError(
                f"region map {self.num_volumes} has another affine than the index grid:\n{affine}\nvs\n{self.affine}"
            )
        flat = np.ascontiguousarray(imgdata).ravel()
        lin = np.flatnonzero(flat > 0)
        if len(lin) == 0:
            raise OptionError(f"region map {self.num_volumes} has no voxel > 0; its bounding box is undefined")
        self._pending.append((np.full(len(lin), self._n_regions, np.int64), lin, flat[lin].astype(np.float32)))
        self._n_regions += 1
        self._arrays = None
        self._bboxes = None
        self._device = None
        self._stats = {}

    def _build(self, region, voxel, value, voxels=None, row_voxel=None):
        # voxel-major: sort by (voxel, region); input that is sorted already (native files) skips the sort
        presorted = _sorted_pairs(voxel, region)
        # region-major input (a 4D file read volume by volume): the region-major arrays need no sort, and a stable
        # sort by voxel alone keeps each voxel's regions ascending: the same order as the lexsort, in less memory
        by_region = not presorted and row_voxel is None and _sorted_pairs(region, voxel)
        if row_voxel is None:
            order = (np.arange(len(voxel)) if presorted else np.argsort(voxel, kind="stable") if by_region
                     else np.lexsort((region, voxel)))
            v_sorted = voxel[order]
            starts = np.flatnonzero(np.r_[True, v_sorted[1:] != v_sorted[:-1]]) if len(v_sorted) else np.zeros(0, np.int64)
            row_voxel = v_sorted[starts]
            row_ptr = np.r_[starts, len(v_sorted)].astype(np.int64)
            entry_order = order
            del order
            del v_sorted
        else:
            # keep a given row numbering: rows are ordered by row number, entries by region (siibra's files
            # come in that order already, and skip the sort)
            row_voxel = np.asarray(row_voxel, dtype=np.int64)
            voxels_flat = np.asarray(voxels).ravel()
            row_of_entry = voxels_flat[voxel]
            if (row_of_entry < 0).any():
                raise OptionError("an entry lies on a voxel that the voxels volume does not map")
            entry_order = (np.arange(len(voxel)) if _sorted_pairs(row_of_entry, region)
                           else np.lexsort((region, row_of_entry)))
            counts = np.bincount(row_of_entry, minlength=len(row_voxel))
            del row_of_entry
            row_ptr = np.r_[0, np.cumsum(counts)].astype(np.int64)
        if voxels is None:
            voxels = np.full(int(np.prod(self.shape)), -1, dtype=np.int32)
            voxels[row_voxel] = np.arange(len(row_voxel), dtype=np.int32)
            voxels = voxels.reshape(self.shape)
        else:
            voxels = np.asarray(voxels, dtype=np.int32).reshape(self.shape)
        # region-major: sort by (region, voxel): one key, region * voxels + voxel (below 2**63 for any real grid)
        if by_region:
            rorder = None
        elif presorted:  # a stable sort of small integers is NumPy's radix sort (3x faster than on int64)
            rorder = np.argsort(region.astype(np.uint16) if self._n_regions <= 1 << 16 else region, kind="stable")
        else:
            rorder = np.argsort(region * int(np.prod(self.shape)) + voxel, kind="stable")
        counts = np.bincount(region, minlength=self._n_regions)
        entry_region = region[entry_order].astype(np.int32)
        entry_value = value[entry_order]
        del entry_order
        self._arrays = dict(
            voxels=voxels,
            row_ptr=row_ptr,
            row_voxel=row_voxel,
            entry_region=entry_region,
            entry_value=entry_value,
            region_ptr=np.r_[0, np.cumsum(counts)].astype(np.int64),
            region_voxel=voxel.copy() if rorder is None else voxel[rorder],  # never the caller's arrays
            region_value=value.copy() if rorder is None else value[rorder],
        )
        self._bboxes = None
        self._device = None
        self._stats = {}

    def scaled(self, factor: float) -> "SparseIndex":
        """A new index with every value multiplied by ``factor`` (float32), the rest shared."""
        a = self._ensure()
        new = SparseIndex()
        new.shape, new.affine, new._n_regions = self.shape, self.affine.copy(), self._n_regions
        new._arrays = dict(a, entry_value=(a["entry_value"] * np.float32(factor)).astype(np.float32),
                           region_value=(a["region_value"] * np.float32(factor)).astype(np.float32))
        return new

    def _ensure(self):
        if self._arrays is None:
            if self.shape is None:
                raise OptionError("the sparse index is empty: add a region map first")
            if self._pending:
                region = np.concatenate([p[0] for p in self._pending])
                voxel = np.concatenate([p[1] for p in self._pending])
                value = np.concatenate([p[2] for p in self._pending])
            else:
                region = voxel = np.zeros(0, np.int64)
                value = np.zeros(0, np.float32)
            self._build(region, voxel, value)
        return self._arrays

    # ------------------------------------------------------------ CSR access
    def __getattr__(self, name):
        # the CSR arrays, built on first access
        if name in ("voxels", "row_ptr", "row_voxel", "entry_region", "entry_value",
                    "region_ptr", "region_voxel", "region_value"):
            return self._ensure()[name]
        raise AttributeError(name)

    @property
    def num_volumes(self) -> int:
        """Number of region maps (siibra's ``num_volumes``)."""
        return self._n_regions

    @property
    def n_rows(self) -> int:
        """Number of mapped voxels (rows of the voxel-major CSR)."""
        return len(self.row_voxel)

    @property
    def n_entries(self) -> int:
        """Number of stored (voxel, region) values."""
        return len(self.entry_value)

    def max(self) -> int:
        """Largest row number in ``voxels`` (siibra's ``max()``); -1 when empty."""
        return int(self.n_rows) - 1

    @property
    def bboxes(self) -> np.ndarray:
        """Per-region bounding boxes, shape (R, 2, 3): min and max voxel index, both inclusive.

        A region without voxels has the box ``[[0, 0, 0], [-1, -1, -1]]``.
        """
        if self._bboxes is None:
            a = self._ensure()
            n = self.num_volumes
            boxes = np.zeros((n, 2, 3), np.int64)
            boxes[:, 1, :] = -1
            if len(a["region_voxel"]):
                counts = np.diff(a["region_ptr"])
                nonempty = np.flatnonzero(counts > 0)
                starts = a["region_ptr"][nonempty]
                for axis, c in enumerate(_unravel(a["region_voxel"], self.shape)):
                    # one axis at a time: 1-D reductions (10x faster than along axis 0 of an (N, 3) array)
                    boxes[nonempty, 0, axis] = np.minimum.reduceat(c, starts)
                    boxes[nonempty, 1, axis] = np.maximum.reduceat(c, starts)
            self._bboxes = boxes
        return self._bboxes

    def csr_matrices(self, lower_threshold=0.0):
        """The atlas as two SciPy CSR matrices (voxel rows x regions), cached per threshold like
        :meth:`region_stats`: the values (below ``lower_threshold``: 0, and no entry) and their indicator."""
        import scipy.sparse as sps

        key = ("csr", float(lower_threshold))
        if key not in self._stats:
            v = self.entry_value.astype(np.float64)
            if key[1] > 0:
                v = np.where(v < key[1], 0.0, v)
            shape = (self.n_rows, self.num_volumes)
            values = sps.csr_matrix((v, self.entry_region.astype(np.int32), self.row_ptr), shape=shape)
            values.eliminate_zeros()  # no entry where the value counts as 0: both matrices share one structure
            ones = values.copy()
            ones.data = np.ones_like(ones.data)
            self._stats[key] = (values, ones)
        return self._stats[key]

    def region_stats(self, lower_threshold=0.0) -> dict:
        """Per-region sums of the maps with values below ``lower_threshold`` taken as 0 (cached per threshold).

        Returns
        -------
        dict of host arrays
            ``Sp``, ``Spp`` (sum of p and p^2, float64), ``nr`` (voxels with p > 0, int64), ``max``
            (float64), ``lo``, ``hi`` ((R, 3) int64, the inclusive box before thresholding).
        """
        key = float(lower_threshold)
        if key not in self._stats:
            R = self.num_volumes
            reg = self.value_regions()
            v = self.region_value.astype(np.float64)
            if key > 0:
                v = np.where(v < key, 0.0, v)
            mx = np.zeros(R)
            nonempty = np.diff(self.region_ptr) > 0
            if v.size:
                mx[nonempty] = np.maximum.reduceat(v, self.region_ptr[:-1][nonempty])
            self._stats[key] = dict(
                Sp=np.bincount(reg, v, minlength=R),
                Spp=np.bincount(reg, v * v, minlength=R),
                nr=np.bincount(reg, (v > 0).astype(np.float64), minlength=R).astype(np.int64),
                max=mx,
                lo=self.bboxes[:, 0, :].copy(),
                hi=self.bboxes[:, 1, :].copy(),
            )
        return self._stats[key]

    def entry_rows(self) -> np.ndarray:
        """The voxel row of each voxel-major entry (the row pointers expanded by their counts)."""
        return np.repeat(np.arange(self.n_rows, dtype=np.int64), np.diff(self.row_ptr))

    def value_regions(self) -> np.ndarray:
        """The region of each region-major value (``region_ptr`` expanded by its counts)."""
        return np.repeat(np.arange(self.num_volumes, dtype=np.int64), np.diff(self.region_ptr))

    def row_max_entries(self) -> np.ndarray:
        """For each voxel row that holds entries, its first entry of the highest value (the maximum
        probability region of the voxel; ties to the first, as ``argmax``)."""
        counts = np.diff(self.row_ptr)
        rows = np.flatnonzero(counts > 0)
        if not len(rows):
            return np.zeros(0, np.int64)
        row_max = np.maximum.reduceat(self.entry_value, self.row_ptr[:-1][rows])
        first = np.flatnonzero(self.entry_value == np.repeat(row_max, counts[rows]))
        row_of = self.entry_rows()[first]
        return first[np.r_[True, row_of[1:] != row_of[:-1]]]

    def region_slice(self, volume: int) -> slice:
        """The entries of region ``volume`` in the region-major arrays."""
        self._check_volume(volume)
        p = self.region_ptr
        return slice(int(p[volume]), int(p[volume + 1]))

    def _check_volume(self, volume):
        if not 0 <= int(volume) < self.num_volumes:
            raise IndexError(f"volume {volume} is not in 0..{self.num_volumes - 1}")

    def coords(self, volume: int) -> np.ndarray:
        """Voxel indices of the region's nonzero voxels, shape (3, N), raster order (siibra's ``coords``)."""
        lin = self.region_voxel[self.region_slice(volume)]
        return np.stack(np.unravel_index(lin, self.shape)).astype(np.int64)

    def mapped_voxels(self, volume: int):
        """``(x, y, z, values)`` of the region's nonzero voxels (siibra's ``mapped_voxels``)."""
        s = self.region_slice(volume)
        x, y, z = np.unravel_index(self.region_voxel[s], self.shape)
        return x, y, z, self.region_value[s]

    def dense(self, volume: int) -> np.ndarray:
        """The region's map as a dense float32 array on the grid."""
        out = np.zeros(int(np.prod(self.shape)), np.float32)
        s = self.region_slice(volume)
        out[self.region_voxel[s]] = self.region_value[s]
        return out.reshape(self.shape)

    def row(self, row: int) -> dict:
        """siibra's ``probs[row]``: ``{region: value}`` of one mapped voxel."""
        a, b = int(self.row_ptr[row]), int(self.row_ptr[row + 1])
        return {int(r): float(v) for r, v in zip(self.entry_region[a:b], self.entry_value[a:b])}

    @cached_property
    def probs(self):
        """siibra's ``probs`` list (one dict per row), built on demand: slow, for interoperability only."""
        return [self.row(n) for n in range(self.n_rows)]

    def nbytes(self) -> int:
        """Bytes held by the CSR arrays and the voxels volume."""
        return int(sum(a.nbytes for a in self._ensure().values()))

    def device_arrays(self) -> dict:
        """The voxel-major arrays on the backend in force (cached on the GPU, per device)."""
        a = self._ensure()
        if backend.get_backend() != "gpu":
            return a
        device = backend.device_id()
        if self._device is None:
            self._device = {}
        if device not in self._device:  # one copy per CUDA device (a copy lives on the device it was made on)
            keys = ("voxels", "row_ptr", "entry_region", "entry_value")
            self._device = dict(self._device, **{device: {k: backend.to_device(a[k]) for k in keys}})
        return self._device[device]

    def unit_arrays(self, build=True) -> dict | None:
        """The voxel-major entries in units of a fixed width, for the accumulation's gather (cached, and on the GPU
        copied once per device).

        Each row's entries, in their order, fill ``ceil(count / width)`` consecutive units of ``width`` slots; a
        slot past a row's last entry holds the region ``num_volumes`` (no region) and the value 0. The width is
        chosen per atlas (:func:`unit_width`). A voxel is then a gather of its units, with no expansion of its
        entries one by one, and the entries keep the CSR's order.

        Returns
        -------
        dict
            ``width`` (int); per grid voxel (flat), ``voxel_unit`` (its first unit) and ``voxel_units`` (how many:
            0 outside the atlas); ``unit_region`` (int32) and ``unit_value`` (float32), shape (units, width);
            ``min_value`` (float: the smallest entry value). None when they are not made yet and ``build`` is
            False.
        """
        device = backend.device_id() if backend.get_backend() == "gpu" else -1
        key = ("units", device)
        if key not in self._stats:
            host = self._stats.get(("units", -1))
            if host is None and not build:
                return None
            if host is None:
                host = _unit_arrays(self._ensure(), self.num_volumes)
                self._stats[("units", -1)] = host
            if device != -1:
                self._stats[key] = {k: backend.to_device(v) if isinstance(v, np.ndarray) else v
                                    for k, v in host.items()}
        return self._stats[key]

    def __repr__(self):
        if self.shape is None:
            return "SparseIndex(empty)"
        return (
            f"SparseIndex({self.num_volumes} regions, grid {self.shape}, "
            f"{self.n_entries} entries over {self.n_rows} voxels)"
        )


def _unravel(flat, shape):
    """``np.unravel_index(flat, shape)`` of a 3-D grid; in 32-bit integers where the grid allows (NumPy divides them
    by a constant 6x faster: an atlas's boxes at its first use, a one-map command's 0.1 s)."""
    if int(np.prod(shape)) >= 2 ** 31:
        return np.unravel_index(flat, shape)
    v = np.asarray(flat).astype(np.int32)
    ny, nz = np.int32(shape[1]), np.int32(shape[2])
    q = v // nz
    k = v - q * nz
    i = q // ny
    return i, q - i * ny, k


def unit_width(counts) -> int:
    """The width of :meth:`SparseIndex.unit_arrays`'s units for rows of these entry counts: the power of two that
    makes the fewest slots plus units (a unit costs about two slots' work: its gather and its row's expansion)."""
    counts = np.asarray(counts, np.int64)
    if counts.size == 0:
        return 1
    best = None
    for width in (1 << k for k in range(int(counts.max() - 1).bit_length() + 1)):
        units = int(((counts + width - 1) // width).sum())
        cost = units * (width + 2)
        if best is None or cost < best[0]:
            best = (cost, width)
    return best[1]


def _unit_arrays(a, n_regions) -> dict:
    row_ptr = a["row_ptr"]
    cnt = np.diff(row_ptr)
    width = unit_width(cnt)
    units = (cnt + width - 1) // width
    first = np.cumsum(units) - units
    n_units = int(units.sum())
    from ._kernels import expand_ranges

    slot = expand_ranges(np, first * width, cnt)[0]  # entry -> unit * width + slot: ascending, in the CSR's order
    region = np.full(n_units * width, n_regions, np.int32)
    value = np.zeros(n_units * width, np.float32)
    region[slot] = a["entry_region"]
    value[slot] = a["entry_value"]
    rows = a["voxels"].ravel()
    inside = rows >= 0
    voxel_unit = np.zeros(rows.size, np.int32 if n_units < 2 ** 31 else np.int64)
    voxel_unit[inside] = first[rows[inside]]
    most = int(units.max()) if units.size else 0
    voxel_units = np.zeros(rows.size, np.uint8 if most < 256 else np.int32)
    voxel_units[inside] = units[rows[inside]]
    return dict(width=width, voxel_unit=voxel_unit, voxel_units=voxel_units, unit_region=region.reshape(-1, width),
                unit_value=value.reshape(-1, width),
                min_value=float(a["entry_value"].min()) if a["entry_value"].size else 0.0)


def _sorted_pairs(major, minor) -> bool:
    """True when (major, minor) pairs are strictly ascending, major first."""
    if len(major) < 2:
        return True
    dm = np.diff(major)
    return bool(np.all((dm > 0) | ((dm == 0) & (np.diff(minor) > 0))))


def _above_one_hint(v, hi, value_scale) -> str:
    """What a map with values above 1 likely is: whole numbers, few of them, are a label volume's labels;
    other values up to 100, percent."""
    if value_scale is not None:
        return ""
    whole = bool(np.all(v == np.round(v)))
    distinct = np.unique(v).size if whole else 0
    if whole and (distinct <= 1000 and (hi > 100 or distinct < 100)):
        return (f"; whole numbers ({distinct} distinct): a label volume (one label per voxel)? Open it as one: "
                "load_map(path, labelled=True, labels=<lookup table>)" +
                ("; or, for probabilities in percent, load_map(..., value_scale=0.01)" if hi <= 100 and distinct > 20 else ""))
    return "; for maps in percent use load_map(..., value_scale=0.01)" if hi <= 100 + 1e-6 else ""


def checked_probabilities(index: "SparseIndex", where, names, value_scale=None, upper=1.0) -> "SparseIndex":
    """The index with values scaled by ``value_scale``; an :class:`AtlasFileError` naming ``where`` and the
    region when they are not probabilities in [0, 1] (``upper=None``: only negative values are refused)."""
    if value_scale is not None:
        value_scale = float(value_scale)
        if not (np.isfinite(value_scale) and value_scale > 0):
            raise OptionError(f"value_scale must be a finite number > 0, got {value_scale!r}")
        index = index.scaled(value_scale)
    v = index.region_value
    if v.size == 0 or not np.any(v):
        raise AtlasFileError(where, f"every region map is empty (only zeros, in {len(names)} region maps): nothing to "
                                    "assign to")
    counts = np.diff(np.asarray(index.region_ptr))
    if (counts == 0).any() and len(names) == len(counts):
        empty = np.flatnonzero(counts == 0)
        shown = ", ".join(repr(names[i]) for i in empty[:3]) + (f" and {len(empty) - 3} more" if len(empty) > 3
                                                                else "")
        warnings.warn(f"{where or 'the atlas'}: {len(empty)} of its {len(names)} region maps are empty (only "
                      f"zeros): {shown}; they can never be assigned", RuntimeWarning, stacklevel=3)
    finite = np.isfinite(v)
    if not finite.all():
        bad = int(np.flatnonzero(~finite)[0])
        region = names[int(np.searchsorted(index.region_ptr, bad, side="right")) - 1]
        raise AtlasFileError(where, f"holds non-finite values (NaN or infinite, in {region!r}): region maps must be "
                                    "probabilities in [0, 1]")
    lo, hi = float(v.min()), float(v.max())
    if lo < 0 or (upper is not None and hi > upper + 1e-6):
        bad = int(np.argmin(v)) if lo < 0 else int(np.argmax(v))
        region = names[int(np.searchsorted(index.region_ptr, bad, side="right")) - 1]
        if lo < 0:
            raise AtlasFileError(where, f"holds negative values (down to {lo:g}, in {region!r}): region maps must "
                                        "be probabilities in [0, 1]; is this a statistical map rather than an atlas?")
        raise AtlasFileError(where, f"holds values above 1 (up to {hi:g}, in {region!r}): region maps must be "
                                    "probabilities in [0, 1]" + _above_one_hint(v, hi, value_scale))
    return index
