"""A query image as the engine takes it: its nonzero voxels (or, when most voxels are nonzero, its array), its
type, siibra's interpolation order and nilearn's clip range."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["SparseImage", "sparse_image", "sparse_entries", "interpolation_order", "DENSE_FRACTION"]


#: a map with more nonzero voxels than this fraction is handed over and resampled dense
DENSE_FRACTION = 0.25


@dataclass
class SparseImage:
    """A query image as its nonzero voxels (or, when most voxels are nonzero, as its array): what a reader
    hands to the engine.

    Attributes
    ----------
    shape : tuple of 3 int
    affine : ndarray (4, 4)
        Voxel -> mm.
    dtype : numpy.dtype
        The image's type: resampled values are cast to it (integers rounded), as scipy writes them.
    index : ndarray of int64, or None
        Flat (C order) indices of the nonzero voxels, ascending (None when ``data`` holds the image).
    value : ndarray, or None
        Their values.
    order : int
        0 (nearest) for an image whose distinct values are exactly {0, 1}, else 1 (trilinear).
    vmin, vmax : float
        nilearn's clip range: ``min(min q, 0)``, ``max(max q, 0)``.
    nnz : int
        The number of nonzero voxels.
    data : ndarray (3D, C order), or None
        The image itself, for a map whose nonzero fraction exceeds :data:`DENSE_FRACTION`.
    space : str, or None
        The template space the user declared for it (:mod:`gpusiibra.spaces`), when it is to be warped into an
        atlas's space; None: taken as it is (siibra's behaviour).
    """

    shape: tuple
    affine: np.ndarray
    dtype: np.dtype
    index: np.ndarray
    value: np.ndarray
    order: int
    vmin: float
    vmax: float
    nnz: int
    data: np.ndarray = None
    space: str = None

    def entries(self):
        """``(index, value)`` of the nonzero voxels."""
        if self.index is None:
            flat = self.data.reshape(-1)
            index = np.flatnonzero(flat != 0)
            return index, flat[index]
        return self.index, self.value

    def dense(self) -> np.ndarray:
        """The image as a dense array."""
        if self.data is not None:
            return self.data
        out = np.zeros(int(np.prod(self.shape)), self.dtype)
        out[self.index] = self.value
        return out.reshape(self.shape)


def _summary(nonzero, size):
    """(order, vmin, vmax) of an image from its nonzero values and its number of voxels."""
    nnz = int(nonzero.size)
    ones = nnz and bool(np.all(nonzero == 1))
    order = 0 if ones and nnz < size else 1
    vmin = min(float(nonzero.min()), 0.0) if nnz else 0.0
    vmax = max(float(nonzero.max()), 0.0) if nnz else 0.0
    return order, vmin, vmax


def sparse_image(data, affine, dense_fraction=None) -> SparseImage:
    """The :class:`SparseImage` of a 3D array (host) and its affine (kept dense when mostly nonzero)."""
    data = np.asarray(data)
    if data.dtype == bool:
        data = data.astype(np.uint8)
    data = np.ascontiguousarray(data)
    flat = data.reshape(-1)
    mask = flat != 0
    nnz = int(np.count_nonzero(mask))
    limit = DENSE_FRACTION if dense_fraction is None else dense_fraction
    if nnz > limit * flat.size:
        index = value = None
        nonzero = flat[mask]
    else:
        index = np.flatnonzero(mask)  # through a mask: many times faster than on the values
        value = nonzero = flat[index]
    order, vmin, vmax = _summary(nonzero, flat.size)
    return SparseImage(tuple(int(s) for s in data.shape), np.asarray(affine, np.float64), data.dtype, index, value,
                       order, vmin, vmax, nnz, data if index is None else None)


def sparse_entries(shape, affine, dtype, index, value) -> SparseImage:
    """The :class:`SparseImage` of an image given as its nonzero voxels (C-order ``index`` ascending, ``value``
    of type ``dtype``): what :func:`sparse_image` gives for the dense image, without making it."""
    order, vmin, vmax = _summary(value, int(np.prod(shape)))
    return SparseImage(tuple(int(s) for s in shape), np.asarray(affine, np.float64), np.dtype(dtype), index, value,
                       order, vmin, vmax, int(index.size))


def interpolation_order(data) -> int:
    """0 (nearest) when the image's distinct values are exactly {0, 1}, else 1 (trilinear)."""
    if data.dtype == bool:
        return 0
    zero, one = data == 0, data == 1
    # the distinct values are exactly {0, 1} (np.unique's answer, without its sort)
    return 0 if (zero | one).all() and zero.any() and one.any() else 1
