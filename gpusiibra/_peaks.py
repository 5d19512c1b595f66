"""Local maxima of a volume, as scikit-image's ``peak_local_max`` finds them (the batch's ``--peaks`` and
:meth:`gpusiibra.volumes.Volume.find_peaks`), on the backend in force."""
from __future__ import annotations

import numpy as np

from . import backend
from .errors import OptionError

__all__ = ["peak_local_max"]


def peak_local_max(data, min_distance=5):
    """Voxel indices of local maxima, as ``skimage.feature.peak_local_max(data, min_distance=...)``.

    A voxel is a peak when it equals the maximum of the cube of side
    ``2 min_distance + 1`` around it (edges repeated), exceeds the volume's
    minimum and lies at least ``min_distance`` voxels from the border; a volume
    where every voxel is such a maximum has none. Candidates are taken
    strongest first (ties in C order), and one closer than ``min_distance``
    (Chebyshev distance, in voxels) to a stronger accepted peak is dropped.
    The filtering runs on the backend in force; the greedy spacing pass runs
    on the (few) candidates on the host.

    Parameters
    ----------
    data : array_like (3D)
    min_distance : int

    Returns
    -------
    numpy.ndarray (n, 3) of int64
    """
    xp, ndi = backend.xp(), backend.ndi()
    a = xp.asarray(data)
    md = int(min_distance)
    if md < 0:
        raise OptionError(f"min_distance must be >= 0, got {min_distance}")
    if a.size == 0:
        return np.zeros((0, a.ndim), np.int64)
    if md == 0 or a.size == 1:
        mask = a > a.min()
    else:
        mask = a == ndi.maximum_filter(a, size=2 * md + 1, mode="nearest")
        if bool(mask.all()):
            return np.zeros((0, a.ndim), np.int64)
        mask &= a > a.min()
        for axis in range(a.ndim):
            edge = [slice(None)] * a.ndim
            edge[axis] = slice(None, md)
            mask[tuple(edge)] = False
            edge[axis] = slice(-md, None)
            mask[tuple(edge)] = False
    coords = xp.nonzero(mask)
    values = backend.to_host(a[coords])
    coords = backend.to_host(xp.stack(coords, axis=1)).astype(np.int64)
    coords = coords[np.argsort(-values, kind="stable")]
    if md <= 1 or len(coords) < 2:
        return coords
    # greedy spacing: a candidate survives unless a stronger survivor lies within
    # Chebyshev distance md - 1; survivors block their cube of that half-width
    blocked = np.zeros(a.shape, bool)
    r = md - 1
    keep = np.zeros(len(coords), bool)
    for k, c in enumerate(coords.tolist()):
        if not blocked[tuple(c)]:
            keep[k] = True
            blocked[tuple(slice(max(x - r, 0), x + r + 1) for x in c)] = True
    return coords[keep]
