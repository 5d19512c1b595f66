"""Clustering of point clouds in mm: HDBSCAN (siibra's method) and DBSCAN.

Where each method runs:

=========  ======================  ===========================================
method     CPU backend             GPU backend
=========  ======================  ===========================================
hdbscan    scikit-learn            cuML where installed, else scikit-learn
dbscan     scikit-learn            cuML where installed, else :func:`dbscan`
=========  ======================  ===========================================

:func:`dbscan` is gpusiibra's own DBSCAN, written once for NumPy and CuPy: a
grid-hashed radius search (cells of side ``eps``, 27 neighbour cells), core
points by neighbour count, connected components of the core graph by
min-label propagation with pointer jumping, and border points given to the
cluster of lowest label among their core neighbours. That is exactly
scikit-learn's labelling (clusters numbered by their lowest core point, border
points to the first cluster that reaches them), so both give the same labels.
"""
from __future__ import annotations

import inspect
import warnings

import numpy as np

from . import backend
from .errors import OptionError

__all__ = ["dbscan", "hdbscan", "cluster_labels", "METHODS"]

METHODS = ("hdbscan", "dbscan")

# pairs examined per step of the radius search (bounds memory on either backend)
_PAIR_BUDGET = 1 << 24


def _scatter_min(target, index, values):
    """``target[index] = min(target[index], values)`` with repeated indices (in place)."""
    if backend.is_device_array(target):
        import cupyx

        cupyx.scatter_min(target, index, values)
    else:
        np.minimum.at(target, index, values)


def radius_pairs(X, eps):
    """All ordered pairs (i, j) with ``|X_i - X_j| <= eps``, self-pairs included.

    Parameters
    ----------
    X : (N, 3) array on the backend in force
    eps : float

    Returns
    -------
    i, j : int64 arrays on the backend in force
    """
    xp = backend.xp()
    n = len(X)
    cell = xp.floor((X - X.min(axis=0)) / eps).astype(xp.int64) + 1  # +1: neighbours of cell 0 stay >= 0
    dims = cell.max(axis=0) + 2
    strides = xp.stack([dims[1] * dims[2], dims[2], xp.ones_like(dims[2])])
    key = (cell * strides).sum(axis=1)
    order = xp.argsort(key)
    sorted_key = key[order]
    eps2 = float(eps) * float(eps)
    found_i, found_j = [], []
    for dx in (-1, 0, 1):
        for dy in (-1, 0, 1):
            for dz in (-1, 0, 1):
                nkey = key + (dx * strides[0] + dy * strides[1] + dz * strides[2])
                start = xp.searchsorted(sorted_key, nkey, side="left")
                count = xp.searchsorted(sorted_key, nkey, side="right") - start
                ends = xp.cumsum(count)
                total = int(ends[-1]) if n else 0
                if total == 0:
                    continue
                # split the query points so that each step expands at most _PAIR_BUDGET pairs
                cuts = [0] + backend.to_host(
                    xp.searchsorted(ends, xp.arange(_PAIR_BUDGET, total, _PAIR_BUDGET), side="right")
                ).tolist() + [n]
                for a, b in zip(cuts[:-1], cuts[1:]):
                    if b <= a:
                        continue
                    cnt = count[a:b]
                    m = int(cnt.sum())
                    if m == 0:
                        continue
                    # expand: pair k belongs to query point a + owner[k] (CuPy's repeat takes no array counts)
                    cum = xp.cumsum(cnt)
                    k = xp.arange(m, dtype=xp.int64)
                    owner = xp.searchsorted(cum, k, side="right")
                    qi = owner + a
                    qj = order[start[a:b][owner] + k - (cum - cnt)[owner]]
                    d = X[qi] - X[qj]
                    keep = (d * d).sum(axis=1) <= eps2
                    found_i.append(qi[keep])
                    found_j.append(qj[keep])
    if not found_i:
        return xp.zeros(0, xp.int64), xp.zeros(0, xp.int64)
    return xp.concatenate(found_i), xp.concatenate(found_j)


def dbscan(X, eps, min_samples=5):
    """DBSCAN on the backend in force, with scikit-learn's labels.

    Parameters
    ----------
    X : array_like (N, 3)
        Coordinates (mm).
    eps : float
        Neighbourhood radius (a point's neighbours are at distance ``<= eps``).
    min_samples : int
        Neighbours (the point itself included) that make a core point.

    Returns
    -------
    numpy.ndarray (N,) of int64
        Cluster labels 0..k-1 numbered by their lowest core point; -1 = noise.
    """
    if eps <= 0:
        raise OptionError(f"eps must be positive, got {eps}")
    xp = backend.xp()
    X = xp.asarray(X, dtype=xp.float64)
    n = len(X)
    if n == 0:
        return np.zeros(0, np.int64)
    i, j = radius_pairs(X, eps)
    core = xp.bincount(i, minlength=n) >= int(min_samples)

    # connected components of the core graph: min-label propagation with pointer jumping
    edge = core[i] & core[j]
    ci, cj = i[edge], j[edge]
    comp = xp.arange(n, dtype=xp.int32)  # int32: the type every scatter-min (CUDA atomicMin) supports
    while True:
        new = comp.copy()
        _scatter_min(new, ci, comp[cj])
        new = new[new]
        if bool((new == comp).all()):
            break
        comp = new
    labels = xp.full(n, -1, dtype=xp.int32)
    roots = xp.unique(comp[core])
    labels[core] = xp.searchsorted(roots, comp[core]).astype(xp.int32)

    # border points: the lowest label among their core neighbours
    border = ~core[i] & core[j]
    none = n  # above every label
    best = xp.full(n, none, dtype=xp.int32)
    _scatter_min(best, i[border], labels[j[border]])
    labels = xp.where(~core & (best != none), best, labels)
    return backend.to_host(labels).astype(np.int64)


def _min_cluster_size(n, min_fraction):
    size = int(n * min_fraction)
    if size < 2:
        import math

        need = math.ceil(2 / min_fraction) if min_fraction > 0 else None
        raise OptionError(
            f"min_fraction={min_fraction:g} of {n} point{'' if n == 1 else 's'} is a minimum cluster size of "
            f"{size}; HDBSCAN needs at least 2" + (f": draw at least {need} points (the demo's --samples)"
                                                   if need else ": raise min_fraction")
        )
    return size


def hdbscan(X, min_cluster_size, max_cluster_size=None):
    """HDBSCAN labels (cuML on the GPU backend where installed, else scikit-learn)."""
    X = np.asarray(backend.to_host(X), dtype=np.float64)
    if backend.get_backend() == "gpu":
        try:
            from cuml.cluster import HDBSCAN as CumlHDBSCAN
        except ImportError:
            pass
        else:
            model = CumlHDBSCAN(min_cluster_size=min_cluster_size, max_cluster_size=max_cluster_size or 0)
            return np.asarray(backend.to_host(model.fit_predict(backend.to_device(X))), dtype=np.int64)
    from sklearn.cluster import HDBSCAN

    kwargs = dict(min_cluster_size=min_cluster_size, max_cluster_size=max_cluster_size)
    if "copy" in inspect.signature(HDBSCAN).parameters:
        kwargs["copy"] = True  # we never want X modified; also silences scikit-learn's FutureWarning
    return HDBSCAN(**kwargs).fit_predict(X).astype(np.int64)


def _dbscan_dispatch(X, eps, min_samples):
    if backend.get_backend() == "gpu":
        try:
            from cuml.cluster import DBSCAN as CumlDBSCAN
        except ImportError:
            return dbscan(X, eps, min_samples)
        model = CumlDBSCAN(eps=eps, min_samples=min_samples)
        return np.asarray(backend.to_host(model.fit_predict(backend.to_device(X))), dtype=np.int64)
    from sklearn.cluster import DBSCAN

    return DBSCAN(eps=eps, min_samples=min_samples).fit_predict(np.asarray(X, np.float64)).astype(np.int64)


def cluster_labels(X, min_fraction=1 / 200, max_fraction=1 / 8, method="hdbscan", eps=None, min_samples=None):
    """Cluster labels of points in mm (see :meth:`gpusiibra.PointCloud.find_clusters`)."""
    X = np.asarray(X, dtype=np.float64)
    n = len(X)
    method = str(method).lower()
    if method not in METHODS:
        raise OptionError(f"unknown clustering method {method!r}: choose one of {', '.join(METHODS)}")
    if n == 0:
        return np.zeros(0, np.int64)
    if method == "hdbscan":
        if eps is not None or min_samples is not None:
            warnings.warn("eps and min_samples apply to method='dbscan' only; ignored", UserWarning, stacklevel=3)
        return hdbscan(X, _min_cluster_size(n, min_fraction), max(int(n * max_fraction), 1))
    if eps is None:
        raise OptionError("method='dbscan' needs eps, the neighbourhood radius in mm")
    if min_samples is None:
        min_samples = max(int(n * min_fraction), 1)
    return _dbscan_dispatch(X, float(eps), int(min_samples))
