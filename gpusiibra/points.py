"""Points and point clouds in mm, with per-point uncertainty (siibra's ``Point`` / ``PointCloud``)."""
from __future__ import annotations

import numpy as np

from .errors import OptionError

__all__ = ["Point", "PointCloud"]


def _sigma(value, n):
    """Per-point uncertainties (mm) as a float array of length n: finite and >= 0, else an OptionError."""
    try:
        s = np.broadcast_to(np.asarray(value, dtype=np.float64), (n,)).copy()
    except (TypeError, ValueError):
        raise OptionError(f"sigma_mm must be a number or one number per point, got {value!r}") from None
    if not (np.isfinite(s) & (s >= 0)).all():
        bad = s[~(np.isfinite(s) & (s >= 0))][0]
        raise OptionError(f"sigma_mm must be finite and >= 0 (mm), got {float(bad)}")
    return s


class Point:
    """One coordinate in mm with an uncertainty ``sigma_mm`` (siibra's ``Point``).

    Parameters
    ----------
    coordinate : sequence of 3 float
        Position in mm (the atlas space, e.g. MNI152).
    space : str, optional
        Name of the reference space.
    sigma_mm : float
        Standard deviation of the position, in mm.
    """

    def __init__(self, coordinate, space=None, sigma_mm=0.0):
        c = np.asarray(coordinate, dtype=np.float64).ravel()
        if c.shape != (3,):
            raise OptionError(f"a point has three coordinates, got {c.shape[0]}")
        _check_finite(c[None])
        self.coordinate = c
        self.space = space
        self.sigma = float(_sigma(sigma_mm, 1)[0])

    @property
    def sigma_mm(self) -> float:
        """The uncertainty in mm (siibra's name)."""
        return self.sigma

    def __iter__(self):
        return iter(self.coordinate.tolist())

    def __repr__(self):
        return f"Point({tuple(self.coordinate.tolist())} mm, sigma={self.sigma} mm)"


def _check_finite(c):
    """Coordinates that are not numbers (NaN, infinite) are an error naming the first, not a point "outside the
    grid"."""
    bad = ~np.isfinite(c).all(axis=1)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise OptionError(f"coordinates must be finite numbers in mm: point {i} is {tuple(c[i].tolist())}"
                          + (f" (and {int(bad.sum()) - 1} more)" if bad.sum() > 1 else ""))


class PointCloud:
    """A set of points in mm with per-point ``sigma_mm`` and optional cluster labels.

    Parameters
    ----------
    coordinates : array_like (N, 3)
        Positions in mm.
    space : str, optional
        Name of the reference space.
    sigma_mm : float or array_like (N,)
        Uncertainty of each point, in mm.
    labels : array_like (N,) of int, optional
        A label per point (-1 = none), e.g. from :meth:`find_clusters`.
    """

    def __init__(self, coordinates, space=None, sigma_mm=0.0, labels=None):
        c = np.asarray(coordinates, dtype=np.float64)
        if c.size == 0:
            c = c.reshape(0, 3)
        if c.ndim != 2 or c.shape[1] != 3:
            raise OptionError(f"coordinates must have shape (N, 3), got {c.shape}")
        _check_finite(c)
        self.coordinates = c
        self.space = space
        self.sigma = _sigma(sigma_mm, len(c))
        self.labels = None if labels is None else np.asarray(labels, dtype=np.int64)

    def __len__(self):
        return len(self.coordinates)

    def __getitem__(self, i):
        return Point(self.coordinates[i], self.space, self.sigma[i])

    def __iter__(self):
        return (self[i] for i in range(len(self)))

    @property
    def sigma_mm(self) -> np.ndarray:
        """Per-point uncertainty in mm (siibra's name)."""
        return self.sigma

    @sigma_mm.setter
    def sigma_mm(self, value):
        self.sigma = _sigma(value, len(self))

    @property
    def has_constant_sigma(self) -> bool:
        return len(self) == 0 or bool(np.all(self.sigma == self.sigma[0]))

    def as_list(self):
        """The coordinates as a list of (x, y, z) tuples in mm."""
        return [tuple(p) for p in self.coordinates.tolist()]

    def transform(self, affine, space=None):
        """The points mapped by a 4x4 affine (e.g. mm -> another space's mm)."""
        A = np.asarray(affine, dtype=np.float64)
        from nibabel.affines import apply_affine

        return PointCloud(apply_affine(A, self.coordinates), space if space is not None else self.space, self.sigma,
                          self.labels)

    def find_clusters(self, min_fraction=1 / 200, max_fraction=1 / 8, method="hdbscan", eps=None, min_samples=None):
        """Cluster the points and store the labels in :attr:`labels` (siibra's ``find_clusters``).

        Parameters
        ----------
        min_fraction, max_fraction : float
            HDBSCAN's smallest and largest cluster, as fractions of the number
            of points (``min_cluster_size = int(N min_fraction)``,
            ``max_cluster_size = int(N max_fraction)``, as siibra). For
            DBSCAN, ``min_fraction`` gives ``min_samples`` when that is None.
        method : {"hdbscan", "dbscan"}
            HDBSCAN (siibra's method) or DBSCAN; see :mod:`gpusiibra._clustering`
            for where each runs (scikit-learn, cuML, or gpusiibra's own GPU DBSCAN).
        eps : float
            DBSCAN's neighbourhood radius in mm (required for DBSCAN).
        min_samples : int, optional
            DBSCAN's core-point neighbour count (the point included).

        Returns
        -------
        numpy.ndarray (N,) of int64
            The labels, -1 for noise.
        """
        from ._clustering import cluster_labels

        self.labels = cluster_labels(self.coordinates, min_fraction, max_fraction, method, eps, min_samples)
        return self.labels

    @property
    def label_colors(self):
        """RGBA colours, one per label 0..max(labels) (matplotlib's rainbow, as siibra); None without labels."""
        if self.labels is None:
            return None
        from matplotlib import colormaps

        n = int(self.labels.max()) + 1 if len(self.labels) else 0
        return colormaps["rainbow"](np.linspace(0, 1, n))

    def __repr__(self):
        return f"PointCloud({len(self)} points, space={self.space!r})"
