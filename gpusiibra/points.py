"""Points and point clouds in mm, with per-point uncertainty (siibra's ``Point`` / ``PointCloud``)."""
from __future__ import annotations

import numpy as np

__all__ = ["Point", "PointCloud"]


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
            raise ValueError(f"a point has three coordinates, got {c.shape[0]}")
        self.coordinate = c
        self.space = space
        self.sigma = float(sigma_mm)

    def __iter__(self):
        return iter(self.coordinate.tolist())

    def __repr__(self):
        return f"Point({tuple(self.coordinate.tolist())} mm, sigma={self.sigma} mm)"


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
            raise ValueError(f"coordinates must have shape (N, 3), got {c.shape}")
        self.coordinates = c
        self.space = space
        self.sigma = np.broadcast_to(np.asarray(sigma_mm, dtype=np.float64), (len(c),)).copy()
        self.labels = None if labels is None else np.asarray(labels, dtype=np.int64)

    def __len__(self):
        return len(self.coordinates)

    def __getitem__(self, i):
        return Point(self.coordinates[i], self.space, self.sigma[i])

    def __iter__(self):
        return (self[i] for i in range(len(self)))

    @property
    def has_constant_sigma(self) -> bool:
        return len(self) == 0 or bool(np.all(self.sigma == self.sigma[0]))

    def as_list(self):
        """The coordinates as a list of (x, y, z) tuples in mm."""
        return [tuple(p) for p in self.coordinates.tolist()]

    def transform(self, affine, space=None):
        """The points mapped by a 4x4 affine (e.g. mm -> another space's mm)."""
        A = np.asarray(affine, dtype=np.float64)
        h = np.c_[self.coordinates, np.ones(len(self))]
        return PointCloud((A @ h.T)[:3].T, space if space is not None else self.space, self.sigma, self.labels)

    def __repr__(self):
        return f"PointCloud({len(self)} points, space={self.space!r})"
